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
``edits.json``       the curation log (merge, split, move, …), replayed on load (:mod:`analysis.store.curation`)

:func:`save_run` (:mod:`analysis.store.run_saving`) writes a run once, atomically, and never deletes what
this program did not write (see :mod:`analysis.storage`). Here runs are read defensively: a damaged
run raises :class:`RunError` with a Japanese reason when loaded (:func:`load_run`), and
:func:`list_runs` lists it with ``ok=False`` and the reason instead of failing; :func:`delete_run`
removes this program's files only.

The :class:`Run` object, run ids and folders live in :mod:`analysis.store.run_object`; theme names, side
files and the published run in :mod:`analysis.store.side_files`. Callers import all of them from here.
"""

from __future__ import annotations

import datetime as _dt
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from ..ingest.comments import comments_from_csv_frame
from ..schema import ASSIGNMENT_COLUMNS, KEYWORD_SEP, NOISE, SEED_CATEGORY, SEED_ROLE
from ..storage import StorageError, file_lock
from .cells import load_frame
from .curated_run import apply_edits
from .edit_log import read_edits
from .manifest import FORMAT_VERSION, ManifestError, peek_manifest, read_manifest
from .run_object import (
    PROJECT_DIR,
    Run,
    RunError,
    cache_dir,
    lock_path,
    make_run_id,
    models_dir,
    run_fingerprint,
    runs_dir,
)
from .run_saving import (
    OWN_FILES,
    RUN_FILES,
    remove_own_files,
    save_run,
    storage_problem,
)
from .side_files import (
    edit_side_file,
    get_published,
    read_label_overrides,
    rename_cluster,
    set_published,
)

__all__ = [
    "Run", "RunError", "FORMAT_VERSION", "models_dir", "runs_dir", "cache_dir", "save_run", "load_run",
    "check_run", "list_runs", "delete_run", "rename_cluster", "read_label_overrides", "make_run_id",
    "run_fingerprint", "get_published", "set_published", "NOISE", "PROJECT_DIR", "StorageError",
    "edit_side_file", "storage_problem", "LIST_COLUMNS",
]


# --------------------------------------------------------------------------- reading and checking


def _read_manifest(p: Path) -> dict:
    try:
        return read_manifest(p)
    except ManifestError as exc:
        raise RunError(str(exc)) from exc


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
    curation log (edits.json, :func:`analysis.store.curated_run.apply_edits`).

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
        from ..themes.embedding import unpack_state

        try:
            with np.load(p / "embedder.npz", allow_pickle=False) as z:
                state = unpack_state(z)
                state = (state[0], {k: np.array(v) for k, v in state[1].items()})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            warnings.append("embedder.npz が壊れているため、入力した文で探す機能はこの分析では使えません。")
    manifest.setdefault("attributes", attrs)
    run = Run(run_id=manifest["run_id"], comments=comments, assignments=assignments, clusters=clusters,
              embeddings=embeddings, manifest=manifest, path=p, embedder_state=state, warnings=warnings)
    return apply_edits(run)  # replay edits.json (RunError when it is damaged)


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
            m = peek_manifest(p)
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
    df["ok"] = df["ok"].astype(bool)  # also when empty: runs[runs["ok"]] must select rows, not columns
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
    with file_lock(lock_path(p)):
        try:
            return remove_own_files(p)
        except OSError as exc:
            from ..storage import translate_os_error

            raise translate_os_error(exc, p) from exc
