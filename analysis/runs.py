"""Saved runs: one folder per run under ``models/runs/<run id>/``, written once, read defensively.

Files the pipeline writes (CSVs are UTF-8 with BOM so Excel shows the Japanese):

``comments.csv``     the comment table (core columns + attributes; ``emphasis`` joined with `` | ``)
``assignments.csv``  comment_id, cluster (-1 = 未分類), strength (0-1 membership in ``cluster``),
                     nearest_cluster (best theme even for 未分類), nearest_strength, x, y (2-D map),
                     broad (broad theme of nearest_cluster)
``clusters.csv``     cluster, label, auto_label, keywords (``、``-joined), size, parent (broad theme
                     id), parent_label, n_categories, persistence, [stability]
``embeddings.npy``   float32 (n_comments, d): the vectors clustering used, rows in comments order
``embedder.npz``     the fitted embedder's state (places a query in this run's space)
``manifest.json``    run id, format, created, data set name/description, attributes, config, input,
                     package versions, numerics, per-stage timings (s), quality figures

Files users' edits write beside a run (read-modify-written under the run's lock, merged):

``labels.json``      theme names given by users ({"3": "name"}), applied on load
``edits.json``       the curation log (merge, split, move, …), replayed on load (:mod:`analysis.curation`)

Safety rules (see :mod:`analysis.storage`):

* a run is built in a temporary folder and renamed into place, so nobody sees half a run;
* saving never deletes what this program did not write: a target folder that exists and is not a
  run is refused; replacing a run needs ``replace=True`` and keeps any foreign file;
* a damaged run raises :class:`RunError` with a Japanese reason when loaded, and
  :func:`list_runs` lists it with ``ok=False`` and the reason instead of failing.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cells import load_frame, store_frame
from .corpus import attributes_of, comments_from_csv_frame, comments_to_csv_frame
from .errors import UserError
from .schema import (
    ASSIGNMENT_COLUMNS,
    KEYWORD_SEP,
    NOISE,
    NOISE_LABEL,
    SEED_CATEGORY,
    SEED_ROLE,
)
from .storage import StorageError, atomic_write_json, file_lock, read_json, staging_dir, temp_name, update_json

PROJECT_DIR = Path(__file__).resolve().parent.parent
FORMAT_VERSION = 2

#: Files a run consists of (all required).
RUN_FILES: tuple[str, ...] = ("manifest.json", "comments.csv", "assignments.csv", "clusters.csv", "embeddings.npy")
#: Files the pipeline may add (a run without them still opens).
OPTIONAL_FILES: tuple[str, ...] = ("embedder.npz",)
#: Files users' edits write beside a run.
SIDE_FILES: tuple[str, ...] = ("labels.json", "edits.json", "shortlists.json")
OWN_FILES: frozenset[str] = frozenset(RUN_FILES + OPTIONAL_FILES + SIDE_FILES)

__all__ = [
    "Run", "RunError", "FORMAT_VERSION", "models_dir", "runs_dir", "cache_dir", "save_run", "load_run",
    "check_run", "list_runs", "delete_run", "rename_cluster", "read_label_overrides", "make_run_id",
    "run_fingerprint", "get_published", "set_published", "NOISE",
]


class RunError(UserError):
    """A saved run cannot be used (missing, damaged, or a folder that is not a run); message in Japanese."""


# --------------------------------------------------------------------------- the run object


@dataclass
class Run:
    """Everything the dashboard and notebooks need from one pipeline run (no recomputation)."""

    run_id: str
    comments: pd.DataFrame
    assignments: pd.DataFrame
    clusters: pd.DataFrame
    embeddings: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    embedder_state: tuple[dict, dict] | None = None
    #: non-fatal problems found when loading (Japanese), e.g. a damaged embedder.npz
    warnings: list[str] = field(default_factory=list)
    _embedder: Any = field(default=None, repr=False)
    #: curation (analysis.curation): the edit log, and the computed (assignments, clusters) when the
    #: log was applied to the frames above (``save_run`` writes these and the log, never curated frames)
    edits: list[dict] = field(default_factory=list)
    base: tuple[pd.DataFrame, pd.DataFrame] | None = field(default=None, repr=False)

    @property
    def n_clusters(self) -> int:
        return int((self.clusters["cluster"] != NOISE).sum())

    @property
    def attributes(self) -> list[str]:
        """The run's attribute columns (grouping values such as 連携の分類, 年代), in display order."""
        attrs = self.manifest.get("attributes")
        if isinstance(attrs, list):
            return [a for a in attrs if a in self.comments.columns]
        return attributes_of(self.comments)

    @property
    def primary_attribute(self) -> str | None:
        """The attribute pages use first (分野横断 defaults to it): 連携の分類 for the seed."""
        p = self.manifest.get("primary_attribute")
        attrs = self.attributes
        return p if p in attrs else (attrs[0] if attrs else None)

    @property
    def dataset(self) -> dict[str, str]:
        """{"name", "description", "kind"} of the data set this run analysed."""
        info = self.manifest.get("input", {}) if isinstance(self.manifest.get("input"), dict) else {}
        return {"name": str(info.get("name") or ""), "description": str(info.get("description") or ""),
                "kind": str(info.get("kind") or "")}

    def table(self) -> pd.DataFrame:
        """Comments joined with their assignment, theme label and broad-theme label (one row per comment).

        ``_row`` is the comment's row in :attr:`embeddings`.
        """
        labels = self.clusters.set_index("cluster")["label"]
        out = self.comments.merge(self.assignments, on="comment_id", how="left")
        out["label"] = out["cluster"].map(labels).fillna(NOISE_LABEL)
        out["nearest_label"] = out["nearest_cluster"].map(labels)
        parents = self.clusters.drop_duplicates("parent").set_index("parent")["parent_label"]
        out["broad_label"] = out["broad"].map(parents).fillna(NOISE_LABEL) if "broad" in out else NOISE_LABEL
        out["_row"] = np.arange(len(out))
        return out

    def label_of(self, cluster: int) -> str:
        if cluster == NOISE:
            return NOISE_LABEL
        row = self.clusters.loc[self.clusters["cluster"] == cluster, "label"]
        return str(row.iloc[0]) if len(row) else f"テーマ{cluster}"

    def embedder(self):
        """The fitted embedder of this run (``transform`` places new texts in its space).

        Raises :class:`analysis.embedding.EmbeddingError` when the run has no saved state.
        """
        if self._embedder is None:
            from .embedding import EmbeddingError, embedder_from_state

            if self.embedder_state is None:
                raise EmbeddingError(
                    "この分析結果には、入力した文を同じ基準で読み取るための情報が保存されていません"
                    "（古い形式か、ファイルが壊れています）。もう一度分析すると使えるようになります。"
                )
            self._embedder = embedder_from_state(*self.embedder_state)
        return self._embedder


# --------------------------------------------------------------------------- places


def models_dir() -> Path:
    """``models/`` of the project, or ``$MOYAMOYA_MODELS_DIR`` (tests point it at a temporary folder)."""
    return Path(os.environ.get("MOYAMOYA_MODELS_DIR", PROJECT_DIR / "models"))


def runs_dir(base: str | Path | None = None) -> Path:
    """Folder holding saved runs: ``base`` if given, else ``models_dir()/runs``."""
    return Path(base) if base is not None else models_dir() / "runs"


def cache_dir() -> Path:
    """Embedding and UMAP caches: ``models_dir()/cache``."""
    return models_dir() / "cache"


def _lock_path(folder: Path) -> Path:
    """The lock of a run folder lives beside it (it must survive the folder being replaced)."""
    return folder.parent / ".locks" / f"{folder.name}.lock"


def run_fingerprint(config_json: str, data_digest: str) -> str:
    """8 hex digits naming a config + the comment data: the last part of a run id."""
    return hashlib.sha256(f"{config_json}\n{data_digest}".encode()).hexdigest()[:8]


def make_run_id(config_json: str, data_digest: str, when: _dt.datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-<8 hex>``: sortable by time, and the hex part names config + data."""
    when = when or _dt.datetime.now()
    return f"{when:%Y%m%d-%H%M%S}-{run_fingerprint(config_json, data_digest)}"


# --------------------------------------------------------------------------- writing


def _clusters_to_csv(clusters: pd.DataFrame) -> pd.DataFrame:
    out = clusters.copy()
    out["keywords"] = [KEYWORD_SEP.join(k) for k in out["keywords"]]
    return out


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM for Excel; a cell Excel would run as a formula is stored with an apostrophe
    (and read back exactly, see :func:`analysis.cells.store_cell`)."""
    store_frame(df).to_csv(path, index=False, encoding="utf-8-sig", errors="replace")


def _user_names(clusters: pd.DataFrame) -> dict[str, str]:
    """Theme names that differ from the automatic label (what labels.json holds)."""
    if "auto_label" not in clusters:
        return {}
    return {str(int(c)): str(lab) for c, lab, auto in zip(clusters["cluster"], clusters["label"], clusters["auto_label"])
            if str(lab) != str(auto) and str(lab)}


def _is_run_folder(p: Path) -> bool:
    """A folder this program wrote as a run: its manifest names a run id."""
    try:
        m = json.loads((p / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and isinstance(m.get("run_id"), str)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange)
    return rc == 0


def _remove_own_files(folder: Path) -> list[str]:
    """Delete this program's files in ``folder``; remove it if empty. Returns what was kept."""
    kept = []
    for entry in sorted(folder.iterdir()) if folder.exists() else []:
        if entry.name in OWN_FILES and entry.is_file():
            entry.unlink()
        elif entry.name.startswith(".") and ".tmp-" in entry.name:
            entry.unlink() if entry.is_file() else None
        else:
            kept.append(entry.name)
    if not kept and folder.exists():
        folder.rmdir()
    return kept


def _check_target(target: Path, replace: bool) -> bool:
    """Whether ``target`` holds a run to be replaced; raises :class:`RunError` where saving must stop."""
    if not target.exists():
        return False
    if not target.is_dir():
        raise RunError(f"保存先「{target}」はフォルダではなくファイルです。別の保存先を指定してください。")
    if _is_run_folder(target):
        if not replace:
            raise RunError(
                f"保存先「{target}」にはすでに分析結果があります。置き換えるときは --force を付けてください"
                "（元の分析結果は新しいものと入れ替わります）。"
            )
        return True
    if any(target.iterdir()):
        raise RunError(
            f"保存先「{target}」は分析結果のフォルダではなく、ほかのファイルが入っています。"
            "中のファイルを消さないよう、保存をやめました。空のフォルダか、まだないフォルダ名を指定してください。"
        )
    return False


def save_run(run: Run, base: str | Path | None = None, out_dir: str | Path | None = None, replace: bool = False) -> Path:
    """Write ``run`` to ``out_dir`` (default ``<base>/<run_id>``) in one atomic step; returns the folder.

    The run is built in a temporary folder next to the target and renamed into place. An existing
    target must be an empty folder, or a run when ``replace`` is true; then the old run is swapped
    out, its edits (theme names, shortlists) are kept when it is the same run id, and any file this
    program did not write stays in the folder. Raises :class:`RunError` / :class:`StorageError`.
    """
    target = Path(out_dir) if out_dir is not None else runs_dir(base) / run.run_id
    target = target.absolute()
    with file_lock(_lock_path(target)):
        replacing = _check_target(target, replace)
        computed_a, computed_c = run.base if run.base is not None else (run.assignments, run.clusters)
        with staging_dir(target.parent, target.name) as tmp:
            _write_csv(comments_to_csv_frame(run.comments), tmp / "comments.csv")
            _write_csv(computed_a.drop(columns=["curated"], errors="ignore"), tmp / "assignments.csv")
            _write_csv(_clusters_to_csv(computed_c), tmp / "clusters.csv")
            np.save(tmp / "embeddings.npy", np.ascontiguousarray(run.embeddings, dtype=np.float32))
            if run.embedder_state is not None:
                from .embedding import pack_state

                np.savez(tmp / "embedder.npz", **pack_state(run.embedder_state))
            manifest = dict(run.manifest, run_id=run.run_id, format=FORMAT_VERSION)
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
            user_names = _user_names(run.clusters)
            if user_names:  # names carried over from a previous run, or given before saving
                (tmp / "labels.json").write_text(json.dumps(user_names, ensure_ascii=False, indent=2), encoding="utf-8")
            if run.edits:  # curation carried over from a previous run (analysis.curation)
                from .curation import document

                (tmp / "edits.json").write_text(json.dumps(document(run.edits), ensure_ascii=False, indent=2), encoding="utf-8")
            if replacing:
                old_id = (read_json(target / "manifest.json", {}) or {}).get("run_id")
                if old_id == run.run_id:
                    for name in SIDE_FILES:
                        if (target / name).is_file():
                            (tmp / name).write_bytes((target / name).read_bytes())
                if _exchange(tmp, target):
                    old = tmp  # after the swap the temporary name holds the old run
                else:
                    old = temp_name(target)
                    os.replace(target, old)
                    os.replace(tmp, target)
                for leftover in _remove_own_files(old):
                    os.replace(old / leftover, target / leftover)
                if old.exists():
                    old.rmdir()
            else:
                if target.exists():
                    target.rmdir()  # an empty folder the user made for the run
                os.replace(tmp, target)
    run.path = target
    run.manifest = manifest
    return target


# --------------------------------------------------------------------------- reading and checking


def _problem_in_manifest(m: Any) -> str | None:
    if not isinstance(m, dict):
        return "manifest.json の形式が正しくありません（表になっていません）"
    if not isinstance(m.get("run_id"), str) or not m.get("run_id"):
        return "manifest.json に run_id がありません"
    fmt = m.get("format", 1)
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        return "manifest.json がこのプログラムより新しい形式です（プログラムを更新してください）"
    for key in ("config", "input", "quality"):
        if not isinstance(m.get(key), dict):
            return f"manifest.json の {key} が正しくありません"
    q = m["quality"]
    if not isinstance(q.get("n_comments"), int) or not isinstance(q.get("n_clusters"), int):
        return "manifest.json の quality（件数）が正しくありません"
    if "attributes" in m and not (isinstance(m["attributes"], list) and all(isinstance(a, str) for a in m["attributes"])):
        return "manifest.json の attributes が正しくありません"
    if not isinstance(m.get("created", ""), str):
        return "manifest.json の created が正しくありません"
    return None


def _read_manifest(p: Path) -> dict:
    try:
        m = json.loads((p / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RunError("manifest.json がありません") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError("manifest.json が壊れています（JSON として読めません）") from exc
    problem = _problem_in_manifest(m)
    if problem:
        raise RunError(problem)
    return m


def read_label_overrides(run_path: str | Path) -> dict[int, str]:
    """User-given theme names of a run folder; :class:`RunError` when labels.json is damaged."""
    f = Path(run_path) / "labels.json"
    try:
        data = read_json(f, {})
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError("labels.json（テーマ名の変更）が壊れています（JSON として読めません）") from exc
    if not isinstance(data, dict):
        raise RunError("labels.json（テーマ名の変更）の形式が正しくありません")
    out = {}
    for k, v in data.items():
        try:
            out[int(k)] = str(v)
        except (TypeError, ValueError):
            raise RunError("labels.json（テーマ名の変更）の形式が正しくありません") from None
        if not isinstance(v, str):
            raise RunError("labels.json（テーマ名の変更）の形式が正しくありません")
    return out


def check_run(path: str | Path) -> str | None:
    """A quick check for listing: the reason (Japanese) a run folder cannot be opened, or None.

    Reads the manifest, labels.json, edits.json and the header of embeddings.npy; CSV contents are checked
    when the run is loaded (:func:`load_run`).
    """
    p = Path(path)
    try:
        m = _read_manifest(p)
        for name in RUN_FILES:
            f = p / name
            if not f.is_file():
                return f"{name} がありません"
            if f.stat().st_size == 0:
                return f"{name} が空です"
        try:
            emb = np.load(p / "embeddings.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return "embeddings.npy が壊れています（途中で切れているか、形式が違います）"
        if emb.ndim != 2 or emb.shape[0] != m["quality"]["n_comments"]:
            return "embeddings.npy の行数がコメント数と合いません"
        read_label_overrides(p)
        from .curation import read_edits

        read_edits(p)
    except RunError as exc:
        return str(exc)
    except OSError as exc:
        return f"読み込めません（{exc.strerror or type(exc).__name__}）"
    return None


def _read_csv(path: Path, name: str) -> pd.DataFrame:
    try:
        return load_frame(pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""],
                                      dtype={"comment_id": str}))
    except FileNotFoundError as exc:
        raise RunError(f"{name} がありません") from exc
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RunError(f"{name} が壊れています（表として読めません）") from exc


def _need(frame: pd.DataFrame, cols, name: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise RunError(f"{name} に必要な列がありません: {'、'.join(missing)}")


def _legacy_attributes(comments: pd.DataFrame, manifest: dict) -> tuple[pd.DataFrame, list[str]]:
    """Runs saved before attributes existed had fixed ``category`` / ``role`` columns."""
    if "attributes" in manifest:
        return comments, list(manifest["attributes"])
    rename = {c: n for c, n in (("category", SEED_CATEGORY), ("role", SEED_ROLE)) if c in comments.columns}
    comments = comments.rename(columns=rename)
    return comments, list(rename.values())


def load_run(path_or_id: str | Path, base: str | Path | None = None) -> Run:
    """Load and check a saved run by folder path or run id, applying saved theme names and the
    curation log (edits.json, :func:`analysis.curation.apply_edits`).

    Raises :class:`RunError` (Japanese reason) for a missing or damaged run.
    """
    p = Path(path_or_id)
    if not (p / "manifest.json").exists() and not p.is_absolute() and len(p.parts) == 1:
        p = runs_dir(base) / str(path_or_id)
    if not p.is_dir():
        raise RunError(f"保存された分析結果が見つかりません: {path_or_id}")
    manifest = _read_manifest(p)
    n = manifest["quality"]["n_comments"]
    raw = _read_csv(p / "comments.csv", "comments.csv")
    raw, attrs = _legacy_attributes(raw, manifest)
    try:
        comments = comments_from_csv_frame(raw, attrs)
    except UserError as exc:
        raise RunError(f"comments.csv: {exc}") from exc
    if len(comments) != n:
        raise RunError(f"comments.csv の行数（{len(comments)}）が記録（{n}）と合いません")
    if not comments["comment_id"].is_unique:
        raise RunError("comments.csv のコメントIDが重複しています")
    assignments = _read_csv(p / "assignments.csv", "assignments.csv")
    _need(assignments, [c for c in ASSIGNMENT_COLUMNS if c != "broad"], "assignments.csv")
    assignments["comment_id"] = assignments["comment_id"].astype(str)
    if assignments["comment_id"].tolist() != comments["comment_id"].tolist():
        raise RunError("assignments.csv のコメントが comments.csv と一致しません")
    clusters = _read_csv(p / "clusters.csv", "clusters.csv")
    _need(clusters, ["cluster", "label", "keywords", "size", "parent", "parent_label"], "clusters.csv")
    try:
        for col in ("cluster", "nearest_cluster"):
            assignments[col] = assignments[col].astype(int)
        for col in ("strength", "nearest_strength", "x", "y"):
            assignments[col] = assignments[col].astype(float)
        clusters["cluster"] = clusters["cluster"].astype(int)
        clusters["parent"] = clusters["parent"].astype(int)
        clusters["size"] = clusters["size"].astype(int)
    except (TypeError, ValueError) as exc:
        raise RunError("assignments.csv か clusters.csv に数値でない値があります") from exc
    known = set(clusters["cluster"]) | {NOISE}
    if not set(assignments["cluster"]) <= known:
        raise RunError("assignments.csv に clusters.csv にないテーマ番号があります")
    clusters["keywords"] = [[w for w in str(k).split(KEYWORD_SEP) if w] if isinstance(k, str) else [] for k in clusters["keywords"]]
    for col in ("label", "auto_label", "parent_label"):
        if col in clusters:
            clusters[col] = clusters[col].fillna("").astype(str)
    try:
        embeddings = np.load(p / "embeddings.npy", allow_pickle=False)
    except FileNotFoundError as exc:
        raise RunError("embeddings.npy がありません") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise RunError("embeddings.npy が壊れています（途中で切れているか、形式が違います）") from exc
    if embeddings.ndim != 2 or embeddings.shape[0] != n:
        raise RunError("embeddings.npy の行数がコメント数と合いません")
    if not np.isfinite(embeddings).all():
        raise RunError("embeddings.npy に数値でない値があります")
    # The names people see are the automatic label unless labels.json overrides it; the label
    # column of clusters.csv is only a snapshot for Excel readers.
    if "auto_label" in clusters:
        clusters["label"] = clusters["auto_label"].where(clusters["auto_label"] != "", clusters["label"])
    for cid, name in read_label_overrides(p).items():
        clusters.loc[clusters["cluster"] == cid, "label"] = name
    state, warnings = None, []
    if (p / "embedder.npz").exists():
        from .embedding import unpack_state

        try:
            with np.load(p / "embedder.npz", allow_pickle=False) as z:
                state = unpack_state(z)
                state = (state[0], {k: np.array(v) for k, v in state[1].items()})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            warnings.append("embedder.npz が壊れているため、入力した文で探す機能はこの分析では使えません。")
    manifest.setdefault("attributes", attrs)
    run = Run(run_id=manifest["run_id"], comments=comments, assignments=assignments, clusters=clusters,
              embeddings=embeddings, manifest=manifest, path=p, embedder_state=state, warnings=warnings)
    from .curation import apply_edits  # curation: replay edits.json (RunError when it is damaged)

    return apply_edits(run)


LIST_COLUMNS = ["run_id", "created", "input", "description", "kind", "digest", "backend", "n_comments", "n_clusters",
                "noise_share", "silhouette", "relative_validity", "attributes", "ok", "problem", "path"]


def list_runs(base: str | Path | None = None) -> pd.DataFrame:
    """One row per run folder, newest first (broken ones too, with ``ok=False`` and ``problem``).

    Columns: :data:`LIST_COLUMNS`. Hidden folders (temporaries, locks) are skipped; a folder with
    none of a run's files (a user's own folder) is not listed.
    """
    rows = []
    d = runs_dir(base)
    try:
        entries = sorted(d.iterdir()) if d.is_dir() else []
    except OSError:
        entries = []
    for p in entries:
        if p.name.startswith(".") or not p.is_dir():
            continue
        try:
            names = {e.name for e in p.iterdir()}
        except OSError:
            continue
        if not names & OWN_FILES:
            continue
        problem = check_run(p)
        m: dict = {}
        if problem is None or "manifest" not in problem:
            try:
                m = json.loads((p / "manifest.json").read_text(encoding="utf-8"))
                m = m if isinstance(m, dict) else {}
            except (OSError, ValueError):
                m = {}
        q = m.get("quality") if isinstance(m.get("quality"), dict) else {}
        inp = m.get("input") if isinstance(m.get("input"), dict) else {}
        cfg = m.get("config") if isinstance(m.get("config"), dict) else {}
        emb = cfg.get("embedding") if isinstance(cfg.get("embedding"), dict) else {}
        created = m.get("created") if isinstance(m.get("created"), str) else ""
        if not created:
            try:
                created = _dt.datetime.fromtimestamp(p.stat().st_mtime).isoformat(timespec="seconds")
            except OSError:
                created = ""
        rows.append({
            "run_id": m.get("run_id") if isinstance(m.get("run_id"), str) else p.name,
            "created": created,
            "input": str(inp.get("name") or ""),
            "description": str(inp.get("description") or ""),
            "kind": str(inp.get("kind") or ""),
            "digest": str(inp.get("digest") or ""),
            "backend": str(emb.get("backend") or ""),
            "n_comments": q.get("n_comments"),
            "n_clusters": q.get("n_clusters"),
            "noise_share": q.get("noise_share"),
            "silhouette": q.get("silhouette"),
            "relative_validity": q.get("relative_validity"),
            "attributes": m.get("attributes") if isinstance(m.get("attributes"), list) else [],
            "ok": problem is None,
            "problem": problem or "",
            "path": str(p),
        })
    df = pd.DataFrame(rows, columns=LIST_COLUMNS)
    return df.sort_values("created", ascending=False, kind="stable").reset_index(drop=True)


def _resolve(ref: str | Path, base: str | Path | None) -> Path:
    p = Path(ref)
    if p.is_dir() and (p.is_absolute() or len(p.parts) > 1):
        return p
    return runs_dir(base) / str(ref)


def delete_run(ref: str | Path, base: str | Path | None = None) -> list[str]:
    """Delete a saved run (by id or folder): this program's files only.

    Returns the names of files that were not ours and therefore stayed (the folder stays with
    them). Raises :class:`RunError` when there is no such run.
    """
    p = _resolve(ref, base)
    if not p.is_dir() or not ({e.name for e in p.iterdir()} & OWN_FILES):
        raise RunError(f"削除する分析結果が見つかりません: {ref}")
    with file_lock(_lock_path(p)):
        try:
            return _remove_own_files(p)
        except OSError as exc:
            from .storage import translate_os_error

            raise translate_os_error(exc, p) from exc


# --------------------------------------------------------------------------- edits beside a run


def rename_cluster(run: Run, cluster: int, name: str) -> None:
    """Override a theme's name, saved to ``labels.json`` beside the run (an empty name resets it).

    The file is read, changed and written under the run's lock, so names given at the same time
    by several users are all kept.
    """
    if run.path is None:
        raise ValueError("run has not been saved")
    name = name.strip()
    mask = run.clusters["cluster"] == cluster
    if not mask.any():
        raise KeyError(cluster)

    def change(current: Any) -> dict:
        if not isinstance(current, dict):
            current = {}
        if name:
            current[str(int(cluster))] = name
        else:
            current.pop(str(int(cluster)), None)
        return current

    path = Path(run.path)
    try:
        with file_lock(_lock_path(path)):
            data = update_json_unlocked(path / "labels.json", change)
    except ValueError as exc:
        if isinstance(exc, UserError):
            raise
        raise RunError("labels.json（テーマ名の変更）が壊れているため保存できません") from exc
    for cid, label in ((int(k), v) for k, v in data.items()):
        run.clusters.loc[run.clusters["cluster"] == cid, "label"] = label
    if not name:
        run.clusters.loc[mask, "label"] = run.clusters.loc[mask, "auto_label"] if "auto_label" in run.clusters else ""


def update_json_unlocked(path: Path, change) -> Any:
    """Read-modify-write a JSON file; the caller holds the lock that covers it."""
    current = read_json(path, None)
    new = change(current)
    atomic_write_json(path, new)
    return new


def edit_side_file(run_path: str | Path, name: str, change, default: Any = None) -> Any:
    """Read-modify-write the side file ``name`` of a run under the run's lock (see :data:`SIDE_FILES`)."""
    if name not in SIDE_FILES:
        raise ValueError(f"not a side file: {name}")
    path = Path(run_path)
    with file_lock(_lock_path(path)):
        return update_json_unlocked(path / name, lambda cur: change(default if cur is None else cur))


# --------------------------------------------------------------------------- the run everyone opens with


def _published_path(base: str | Path | None) -> Path:
    return (runs_dir(base).parent if base is not None else models_dir()) / "published.json"


def get_published(base: str | Path | None = None) -> str | None:
    """Run id an analyst marked 公開中 (what a new visitor sees first), or None."""
    try:
        data = read_json(_published_path(base), None)
    except (OSError, ValueError):
        return None
    return data.get("run_id") if isinstance(data, dict) and isinstance(data.get("run_id"), str) else None


def set_published(run_id: str, by: str = "", base: str | Path | None = None) -> None:
    """Mark ``run_id`` as the run new visitors open with."""
    update_json(_published_path(base), lambda _cur: {
        "run_id": run_id, "by": by, "at": _dt.datetime.now().isoformat(timespec="seconds")})


def storage_problem(base: str | Path | None = None) -> str | None:
    """Why runs cannot be saved here (read-only or missing folder), or None."""
    d = runs_dir(base)
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = temp_name(d / "probe")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        from .storage import translate_os_error

        return str(translate_os_error(exc, d))
    return None


__all__ += ["StorageError", "edit_side_file", "storage_problem", "LIST_COLUMNS"]
