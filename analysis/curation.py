"""Curating themes: merge, split, move, assign 未分類, rename broad themes — an edit log beside a run.

Clustering is never perfect (on the seed, 縦割り is spread over about six themes), so analysts can
shape the themes. The computed files of a run (assignments.csv, clusters.csv) are never changed:
every change is one entry of an *edit log* in ``edits.json`` beside the run, and
:func:`apply_edits` replays the log whenever the run is loaded (:func:`analysis.runs.load_run`), so
every page, export and :meth:`Run.table` shows the curated themes.

edits.json::

    {"format": 1, "next_id": 4, "edits": [
      {"id": 1, "kind": "merge", "args": {"clusters": [2, 8]}, "text": "「縦割りの意識」に「会議」をまとめました",
       "by": "tanaka", "at": "2025-06-01T10:00:00"},
      {"id": 2, "kind": "split", "args": {"cluster": 1, "comment_ids": ["c032", "c040"], "new_cluster": 13,
       "auto_label": "制度：不満"}, ...},
      {"id": 3, "kind": "move", "args": {"comment_ids": ["c005"], "to": 3}, ...}]}

Kinds and their ``args``:

``merge``         ``clusters`` [keep, other, ...]: the others' comments join ``keep``, which keeps its id
                  and name; the others disappear.
``split``         ``cluster``, ``comment_ids``, ``new_cluster`` (above every id the run ever had),
                  ``auto_label`` (named at edit time with :mod:`analysis.naming`). A name the user
                  gives is kept in labels.json like any other theme name.
``move``          ``comment_ids``, ``to`` (a theme, or -1 = 未分類).
``assign``        ``targets`` {comment id: theme}: 未分類 comments to their nearest theme;
                  ``min_strength`` records the threshold used (or null).
``rename_broad``  ``parent``, ``name`` (empty = back to the computed name).

Each entry is checked against the state the earlier entries leave (:func:`_apply`), under the run's
lock, so several people editing at once all land and never overwrite each other. ``next_id`` never
goes down, so an id names one edit for the life of the run.

Undo rule: any edit can be undone; its entry is dropped and the rest of the log replayed. When a
later edit no longer applies without it (e.g. a move into a theme that the undone split created),
the undo is refused with a Japanese message naming that later edit.

Replay recomputes sizes, keywords of changed themes (c-TF-IDF over the curated themes, same
settings as the run), ``n_categories``, ``broad``, and membership strength of every comment an
edit touched: the cosine to its new theme's centre in the run's embedding space, mapped onto the
computed strengths by quantiles (the cosines and strengths of all computed members, sorted), so a
curated comment as close to its centre as a typical member gets a typical member's strength.
``curated`` (bool) marks those comments; stability is cleared for merged and new themes.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .errors import UserError
from .runs import Run, RunError, _lock_path, update_json_unlocked
from .schema import NOISE, NOISE_LABEL
from .storage import file_lock, read_json

__all__ = [
    "CurationError", "EDITS_FILE", "KINDS", "KIND_JA", "apply_edits", "read_edits", "edit_log", "log_table",
    "merge", "split", "move", "assign_unclassified", "rename_broad", "undo", "carry_over_edits", "document",
]

EDITS_FILE = "edits.json"
FORMAT = 1
KINDS = ("merge", "split", "move", "assign", "rename_broad")
KIND_JA = {"merge": "まとめる", "split": "分ける", "move": "移す", "assign": "未分類の割り当て",
           "rename_broad": "大きなテーマの名前"}
_BROKEN = "edits.json（テーマの整理）が壊れています（JSON として読めません）"
_BAD = "edits.json（テーマの整理）の形式が正しくありません"


class CurationError(UserError):
    """An edit that cannot be made (or undone) in the current state; the message is Japanese."""


# --------------------------------------------------------------------------- the file


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _ids_ok(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v)


_ARGS_OK: dict[str, Callable[[dict], bool]] = {
    "merge": lambda a: isinstance(a.get("clusters"), list) and len(a["clusters"]) >= 2
    and all(_is_int(c) for c in a["clusters"]),
    "split": lambda a: _is_int(a.get("cluster")) and _is_int(a.get("new_cluster")) and _ids_ok(a.get("comment_ids"))
    and isinstance(a.get("auto_label", ""), str),
    "move": lambda a: _is_int(a.get("to")) and _ids_ok(a.get("comment_ids")),
    "assign": lambda a: isinstance(a.get("targets"), dict) and bool(a["targets"])
    and all(isinstance(k, str) and _is_int(v) for k, v in a["targets"].items()),
    "rename_broad": lambda a: _is_int(a.get("parent")) and isinstance(a.get("name"), str),
}


def _entries(doc: Any) -> list[dict]:
    """The edit entries of an edits.json document; :class:`RunError` when its shape is wrong."""
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("edits"), list):
        raise RunError(_BAD)
    fmt = doc.get("format", FORMAT)
    if not _is_int(fmt) or fmt > FORMAT:
        raise RunError("edits.json（テーマの整理）がこのプログラムより新しい形式です（プログラムを更新してください）")
    seen: set[int] = set()
    for e in doc["edits"]:
        ok = (isinstance(e, dict) and _is_int(e.get("id")) and e["id"] not in seen and e.get("kind") in KINDS
              and isinstance(e.get("args"), dict) and _ARGS_OK[e["kind"]](e["args"])
              and all(isinstance(e.get(k, ""), str) for k in ("text", "by", "at")))
        if not ok:
            raise RunError(_BAD)
        seen.add(e["id"])
    return [dict(e) for e in doc["edits"]]


def read_edits(run_path: str | Path) -> list[dict]:
    """The edit log of a run folder (oldest first); :class:`RunError` when edits.json is damaged."""
    try:
        doc = read_json(Path(run_path) / EDITS_FILE, None)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(_BROKEN) from exc
    return _entries(doc)


def document(entries: list[dict], next_id: int | None = None) -> dict:
    """The edits.json document holding ``entries``."""
    top = max((int(e["id"]) for e in entries), default=0)
    return {"format": FORMAT, "next_id": max(next_id or 1, top + 1), "edits": entries}


def edit_log(run: Run) -> list[dict]:
    """The run's edit log as saved now (a saved run: read from disk), oldest first."""
    return read_edits(run.path) if run.path is not None else list(run.edits)


def log_table(entries: list[dict]) -> pd.DataFrame:
    """The log for people: 番号, 操作, 内容, 操作した人, 日時 (newest first)."""
    rows = [{"番号": int(e["id"]), "操作": KIND_JA[e["kind"]], "内容": e.get("text", ""),
             "操作した人": e.get("by") or "（この端末）", "日時": str(e.get("at", "")).replace("T", " ")}
            for e in reversed(entries)]
    return pd.DataFrame(rows, columns=["番号", "操作", "内容", "操作した人", "日時"])


# --------------------------------------------------------------------------- replaying the log


@dataclass
class _State:
    """Theme membership after some edits (cheap: no keywords, no strengths)."""

    ids: np.ndarray  # (n,) comment ids
    row: dict[str, int]
    labels: np.ndarray  # (n,) current theme, -1 = 未分類
    nearest: np.ndarray  # (n,) nearest theme (remapped through merges)
    touched: np.ndarray  # (n,) bool
    parent: dict[int, int]  # theme -> broad theme
    names: dict[int, str]  # theme -> name (for messages)
    auto: dict[int, str]  # created theme -> automatic name
    broad_names: dict[int, str]  # renamed broad themes
    changed: set[int]
    rebuilt: set[int]  # merged or created: stability no longer describes them
    ever: frozenset[int]  # every theme id of the computed run (never given to a new theme)

    def copy(self) -> "_State":
        return dataclasses.replace(self, labels=self.labels.copy(), nearest=self.nearest.copy(),
                                   touched=self.touched.copy(), parent=dict(self.parent), names=dict(self.names),
                                   auto=dict(self.auto), broad_names=dict(self.broad_names),
                                   changed=set(self.changed), rebuilt=set(self.rebuilt))

    def name(self, c: int) -> str:
        return NOISE_LABEL if c == NOISE else self.names.get(c, f"テーマ{c + 1}")

    def need(self, c: int) -> None:
        if c not in self.parent:
            raise CurationError(f"テーマ（番号 {c}）はもうありません。ほかの人が先に整えた可能性があります。")

    def rows_of(self, ids: list[str]) -> np.ndarray:
        missing = [i for i in ids if i not in self.row]
        if missing:
            raise CurationError(f"コメント {'、'.join(missing[:5])} はこの分析にありません。")
        return np.array([self.row[i] for i in dict.fromkeys(ids)], dtype=int)

    def size(self, c: int) -> int:
        return int((self.labels == c).sum())

    def next_cluster(self) -> int:
        return max([*self.ever, *self.parent, -1]) + 1


def _split_base(run: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The computed (assignments, clusters) of ``run``, whether or not edits were applied to it."""
    a, c = run.base if run.base is not None else (run.assignments, run.clusters)
    return a.drop(columns=["curated"], errors="ignore"), c


def _initial(a: pd.DataFrame, c: pd.DataFrame) -> _State:
    ids = a["comment_id"].astype(str).to_numpy()
    return _State(ids=ids, row={x: i for i, x in enumerate(ids)}, labels=a["cluster"].to_numpy(int).copy(),
                  nearest=a["nearest_cluster"].to_numpy(int).copy(), touched=np.zeros(len(a), dtype=bool),
                  parent={int(k): int(p) for k, p in zip(c["cluster"], c["parent"])},
                  names={int(k): str(n) for k, n in zip(c["cluster"], c["label"])}, auto={}, broad_names={},
                  changed=set(), rebuilt=set(), ever=frozenset(int(k) for k in c["cluster"]))


def _apply(s: _State, e: dict) -> None:
    """Apply one entry to ``s``; :class:`CurationError` (and ``s`` unchanged) when it does not fit."""
    kind, a = e["kind"], e["args"]
    if kind == "merge":
        keep, *rest = [int(c) for c in a["clusters"]]
        if len({keep, *rest}) != len(rest) + 1:
            raise CurationError("同じテーマどうしはまとめられません。")
        for c in (keep, *rest):
            s.need(c)
        for c in rest:
            moved = s.labels == c
            s.labels[moved], s.touched[moved] = keep, True
            s.nearest[s.nearest == c] = keep
            del s.parent[c]
            s.changed.discard(c)
            s.rebuilt.discard(c)
        s.changed.add(keep)
        s.rebuilt.add(keep)
    elif kind == "split":
        c, k = int(a["cluster"]), int(a["new_cluster"])
        s.need(c)
        if k < 0 or k in s.parent or k in s.ever:
            raise CurationError(f"新しいテーマの番号 {k} はすでに使われています。")
        rows = s.rows_of(a["comment_ids"])
        if not (s.labels[rows] == c).all():
            raise CurationError(f"選んだコメントの一部が、もう「{s.name(c)}」にありません。")
        if len(rows) >= s.size(c):
            raise CurationError("テーマのコメントをすべて選ぶと分けられません。一部だけを選んでください。")
        s.labels[rows], s.touched[rows] = k, True
        s.parent[k] = s.parent[c]
        s.auto[k] = s.names[k] = str(a.get("auto_label") or f"テーマ{k + 1}")
        s.changed |= {c, k}
        s.rebuilt.add(k)
    elif kind == "move":
        to = int(a["to"])
        if to != NOISE:
            s.need(to)
        rows = s.rows_of(a["comment_ids"])
        old = s.labels[rows].copy()
        for c in sorted(set(old.tolist()) - {NOISE, to}):
            if s.size(c) <= int((old == c).sum()):
                raise CurationError(f"「{s.name(c)}」のコメントがなくなってしまいます。テーマごと移すときは「まとめる」を"
                                    "使ってください。")
        if to == NOISE:
            left = old != NOISE
            s.nearest[rows[left]] = old[left]
        s.labels[rows], s.touched[rows] = to, True
        s.changed |= (set(old.tolist()) | {to}) - {NOISE}
    elif kind == "assign":
        targets = {str(k): int(v) for k, v in a["targets"].items()}
        rows = s.rows_of(list(targets))
        for cid, r in zip(targets, rows):
            s.need(targets[cid])
            if s.labels[r] != NOISE:
                raise CurationError(f"コメント {cid} はもう未分類ではありません。")
        to = np.array([targets[cid] for cid in targets], dtype=int)
        s.labels[rows], s.touched[rows] = to, True
        s.changed |= set(to.tolist())
    elif kind == "rename_broad":
        p = int(a["parent"])
        if p not in set(s.parent.values()):
            raise CurationError("その大きなテーマはもうありません。")
        name = a["name"].strip()
        if name:
            s.broad_names[p] = name
        else:
            s.broad_names.pop(p, None)
    else:  # pragma: no cover - _entries checks kinds
        raise CurationError(f"知らない操作です: {kind}")


def _replay(s: _State, entries: list[dict]) -> list[tuple[dict, str]]:
    """Apply ``entries`` in order; returns the ones that did not fit (entry, reason), which are skipped."""
    skipped = []
    for e in entries:
        try:
            _apply(s, e)
        except CurationError as exc:
            skipped.append((e, str(exc)))
    return skipped


# --------------------------------------------------------------------------- derived columns

_TOKENS: OrderedDict[str, list] = OrderedDict()
_TOKENS_LOCK = threading.Lock()


def _token_docs(texts: list[str]) -> list:
    """Content words of every text (SudachiPy), kept for the last few runs: every edit replays the log."""
    from .tokens import default_tokenizer, tokenize_all

    key = hashlib.sha256("\n\x00".join(texts).encode("utf-8")).hexdigest()
    with _TOKENS_LOCK:
        if key in _TOKENS:
            _TOKENS.move_to_end(key)
            return _TOKENS[key]
    docs = tokenize_all(default_tokenizer(), texts)
    with _TOKENS_LOCK:
        _TOKENS[key] = docs
        while len(_TOKENS) > 4:
            _TOKENS.popitem(last=False)
    return docs


def _describe_settings(run: Run) -> tuple[int, float]:
    cfg = run.manifest.get("config", {}) if isinstance(run.manifest.get("config"), dict) else {}
    d = cfg.get("describe", {}) if isinstance(cfg.get("describe"), dict) else {}
    return int(d.get("n_keywords") or 10), float(d.get("mmr_diversity") if d.get("mmr_diversity") is not None else 0.3)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def _strength_scale(emb: np.ndarray, base_a: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (cosine to own centre, strength) of every computed member: the quantile map for new strengths."""
    labels = base_a["cluster"].to_numpy(int)
    strength = base_a["strength"].to_numpy(float)
    cos, st = [], []
    for c in sorted(set(labels.tolist()) - {NOISE}):
        rows = np.flatnonzero(labels == c)
        cos.append(emb[rows].astype(np.float64) @ _unit(emb[rows].astype(np.float64).mean(axis=0)))
        st.append(strength[rows])
    if not cos:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    return np.sort(np.concatenate(cos)), np.sort(np.concatenate(st))


def _keywords(run: Run, labels: np.ndarray, themes: set[int]) -> dict[int, list[str]]:
    from .keywords import cluster_keywords

    if not themes:
        return {}
    n_kw, diversity = _describe_settings(run)
    docs = _token_docs(run.comments["text_norm"].astype(str).tolist())
    kw = cluster_keywords(docs, labels, n_keywords=n_kw, diversity=diversity)
    return {c: [w for w, _ in kw.get(c, [])] for c in themes}


def _new_assignments(run: Run, base_a: pd.DataFrame, s: _State) -> pd.DataFrame:
    emb = run.embeddings
    a = base_a.copy()
    labels = s.labels
    strength = a["strength"].to_numpy(float).copy()
    nearest_strength = a["nearest_strength"].to_numpy(float).copy()
    nearest = np.where(labels != NOISE, labels, s.nearest)
    touched = np.flatnonzero(s.touched)
    if len(touched):
        scale = _strength_scale(emb, base_a)
        for c in sorted(set(nearest[touched].tolist()) - {NOISE}):
            rows = touched[nearest[touched] == c]
            centre = _unit(emb[labels == c].astype(np.float64).mean(axis=0)) if (labels == c).any() else None
            value = np.interp(emb[rows].astype(np.float64) @ centre, *scale) if centre is not None else np.zeros(len(rows))
            value = np.round(np.clip(value, 0.0, 1.0), 4)
            nearest_strength[rows] = value
            strength[rows] = np.where(labels[rows] != NOISE, value, 0.0)
    a["cluster"] = labels
    a["strength"] = strength
    a["nearest_cluster"] = nearest
    a["nearest_strength"] = nearest_strength
    a["broad"] = [s.parent.get(int(c), NOISE) for c in nearest]
    a["curated"] = s.touched.copy()
    return a


def _new_clusters(run: Run, base_c: pd.DataFrame, s: _State, user_names: dict[int, str]) -> pd.DataFrame:
    labels = s.labels
    ids = run.comments["comment_id"].astype(str).to_numpy()
    base = {int(r["cluster"]): r for r in base_c.to_dict("records")}
    broad_base = {int(p): str(n) for p, n in zip(base_c["parent"], base_c["parent_label"])}
    keywords = _keywords(run, labels, s.changed)
    attr = run.primary_attribute
    rows = []
    for c in sorted(s.parent):
        members = labels == c
        if c in base:
            row = dict(base[c])
        else:
            row = {col: np.nan for col in base_c.columns}
            name = user_names.get(c) or s.auto[c]
            row.update(cluster=c, label=name, auto_label=s.auto[c], keywords=[], persistence=np.nan,
                       summary="", summary_id="", name_evidence="")
        p = s.parent[c]
        row.update(size=int(members.sum()), parent=p,
                   parent_label=s.broad_names.get(p) or broad_base.get(p) or f"大きなテーマ{p + 1}")
        if c in s.changed:
            row["keywords"] = keywords.get(c, [])
            if "n_categories" in base_c and attr in run.comments.columns:
                row["n_categories"] = int(run.comments.loc[members, attr].nunique())
            if str(row.get("summary_id") or "") not in set(ids[members]):
                row["summary"], row["summary_id"] = "", ""
        if c in s.rebuilt and "stability" in base_c:
            row["stability"] = np.nan
        rows.append(row)
    out = pd.DataFrame(rows, columns=base_c.columns)
    for col in ("cluster", "parent", "size"):
        out[col] = out[col].astype(int)
    return out


def apply_edits(run: Run, edits: list[dict] | None = None) -> Run:
    """``run`` with its edit log replayed: a new :class:`Run` (the given one is not changed).

    Parameters
    ----------
    run : a run, as computed or already curated (the log is always replayed on the computed
        assignments and clusters, kept in ``run.base``)
    edits : the log; default: edits.json of a saved run, else ``run.edits``

    Returns
    -------
    Run whose ``assignments`` (n rows, plus ``curated`` bool) and ``clusters`` show the curated
    themes, ``edits`` holds the log and ``base`` the computed (assignments, clusters), which
    :func:`analysis.runs.save_run` writes. Without edits the run is returned as computed (no
    ``curated`` column, ``base`` None: a run loads exactly as saved). Entries that do not fit (a log edited by hand) are
    skipped with a Japanese note in ``warnings``. Raises :class:`RunError` for a damaged edits.json.
    """
    if edits is None:
        edits = read_edits(run.path) if run.path is not None else list(run.edits)
    base_a, base_c = _split_base(run)
    if not edits:
        return dataclasses.replace(run, assignments=base_a, clusters=base_c, edits=[], base=None)
    s = _initial(base_a, base_c)
    skipped = _replay(s, edits)
    user_names = {}
    if run.path is not None and set(s.auto):
        from .runs import read_label_overrides

        user_names = read_label_overrides(run.path)
    warnings = [f"テーマの整理のうち「{e.get('text') or KIND_JA[e['kind']]}」は当てはめられないため、飛ばしました（{why}）"
                for e, why in skipped]
    return dataclasses.replace(
        run, assignments=_new_assignments(run, base_a, s), clusters=_new_clusters(run, base_c, s, user_names),
        edits=list(edits), base=(base_a, base_c), warnings=[*run.warnings, *warnings])


# --------------------------------------------------------------------------- making edits


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def _saved_path(run: Run) -> Path:
    if run.path is None:
        raise ValueError("run has not been saved")
    return Path(run.path)


def _locked(path: Path, change_edits: Callable[[Any], Any], change_labels: Callable[[Any], Any] | None = None) -> None:
    """Read-modify-write edits.json (and labels.json) under the run's lock."""
    try:
        with file_lock(_lock_path(path)):
            try:
                update_json_unlocked(path / EDITS_FILE, change_edits)
            except UserError:
                raise
            except (UnicodeDecodeError, ValueError) as exc:
                raise RunError(_BROKEN + "。保存できません") from exc
            if change_labels is not None:
                try:
                    update_json_unlocked(path / "labels.json", lambda cur: change_labels(cur if isinstance(cur, dict) else {}))
                except UserError:
                    raise
                except (UnicodeDecodeError, ValueError) as exc:
                    raise RunError("labels.json（テーマ名の変更）が壊れているため保存できません") from exc
    except OSError as exc:
        from .storage import translate_os_error

        raise translate_os_error(exc, path / EDITS_FILE) from exc


def _commit(run: Run, build: Callable[[_State], tuple[str, dict, str]], by: str,
            change_labels: Callable[[dict, dict], dict] | None = None) -> dict:
    """Check and append one edit; ``build(state)`` returns (kind, args, text) for the current state."""
    path = _saved_path(run)
    base_a, base_c = _split_base(run)
    made: dict = {}

    def change(doc: Any) -> dict:
        entries = _entries(doc)
        s = _initial(base_a, base_c)
        _replay(s, entries)
        kind, args, text = build(s)
        next_id = doc.get("next_id") if isinstance(doc, dict) and _is_int(doc.get("next_id")) else 1
        entry = {"id": max(next_id, max((e["id"] for e in entries), default=0) + 1), "kind": kind, "args": args,
                 "text": text, "by": str(by or ""), "at": _now()}
        _apply(s, entry)
        made["entry"] = entry
        return document([*entries, entry], entry["id"] + 1)

    labels = (lambda cur: change_labels(cur, made["entry"])) if change_labels is not None else None
    _locked(path, change, labels)
    return made["entry"]


def _quote(names: list[str]) -> str:
    return "".join(f"「{n}」" for n in names)


def merge(run: Run, clusters: list[int], by: str = "") -> dict:
    """Merge themes into the first one (it keeps its id and name); returns the new log entry.

    Raises :class:`CurationError` (Japanese) when a theme no longer exists.
    """
    ids = [int(c) for c in clusters]

    def build(s: _State):
        if len(ids) < 2:
            raise CurationError("まとめるテーマを2つ以上選んでください。")
        for c in ids:
            s.need(c)
        return "merge", {"clusters": ids}, f"{_quote([s.name(ids[0])])}に{_quote([s.name(c) for c in ids[1:]])}をまとめました"

    return _commit(run, build, by)


def _auto_name(run: Run, s: _State, labels: np.ndarray, k: int) -> str:
    """A phrase name for new theme ``k`` from its own comments (lexical centre: no model is loaded)."""
    from .naming import name_themes
    from .tokens import default_tokenizer

    kw = _keywords(run, labels, {k})
    texts = tuple(run.comments["text"].astype(str))
    avoid = [s.name(c) for c in s.parent]
    try:
        names = name_themes(texts, labels, np.asarray(run.embeddings, dtype=np.float32), kw, tokenizer=default_tokenizer(),
                            avoid=avoid)
    except ValueError:
        names = {}
    nm = names.get(k)
    return (nm.name if nm is not None and nm.name else "") or f"テーマ{k + 1}"


def split(run: Run, cluster: int, comment_ids: list[str], name: str | None = None, by: str = "") -> dict:
    """Make the picked comments of ``cluster`` a new theme (id above every id the run had).

    ``name``: the new theme's name (kept in labels.json like any user name); default: a phrase
    name made with :mod:`analysis.naming` from its comments. Returns the new log entry.
    """
    cluster, picked = int(cluster), [str(i) for i in dict.fromkeys(comment_ids)]
    name = (name or "").strip()

    def build(s: _State):
        if not picked:
            raise CurationError("新しいテーマにするコメントを選んでください。")
        s.need(cluster)
        k = s.next_cluster()
        trial = s.labels.copy()
        trial[s.rows_of(picked)] = k
        auto = _auto_name(run, s, trial, k)
        text = f"{_quote([s.name(cluster)])}から{len(picked)}件を新しいテーマ{_quote([name or auto])}に分けました"
        return "split", {"cluster": cluster, "comment_ids": picked, "new_cluster": k, "auto_label": auto}, text

    def labels(cur: dict, entry: dict) -> dict:
        cur[str(entry["args"]["new_cluster"])] = name
        return cur

    return _commit(run, build, by, labels if name else None)


def move(run: Run, comment_ids: list[str], to_cluster: int, by: str = "") -> dict:
    """Move comments to theme ``to_cluster`` (-1 = 未分類); returns the new log entry."""
    to, picked = int(to_cluster), [str(i) for i in dict.fromkeys(comment_ids)]

    def build(s: _State):
        if to != NOISE:
            s.need(to)
        rows = s.rows_of(picked)
        moving = [cid for cid, r in zip(picked, rows) if s.labels[r] != to]
        if not moving:
            raise CurationError(f"選んだコメントはすでに{_quote([s.name(to)])}にあります。")
        where = "未分類に戻しました" if to == NOISE else f"{_quote([s.name(to)])}に移しました"
        return "move", {"comment_ids": moving, "to": to}, f"{len(moving)}件（{'、'.join(moving[:3])}{' など' if len(moving) > 3 else ''}）を{where}"

    return _commit(run, build, by)


def assign_unclassified(run: Run, comment_ids: list[str] | None = None, min_strength: float | None = None,
                        by: str = "") -> dict:
    """Give 未分類 comments to their nearest theme: ``comment_ids`` (default: all), those with
    ``nearest_strength >= min_strength`` when given. Returns the new log entry."""
    base_a, _ = _split_base(run)
    ns = dict(zip(base_a["comment_id"].astype(str), base_a["nearest_strength"].astype(float)))
    wanted = None if comment_ids is None else [str(i) for i in dict.fromkeys(comment_ids)]

    def build(s: _State):
        rows = np.flatnonzero(s.labels == NOISE) if wanted is None else s.rows_of(wanted)
        targets = {}
        for r in rows:
            cid = str(s.ids[r])
            if s.labels[r] != NOISE or int(s.nearest[r]) not in s.parent:
                continue
            if min_strength is not None and ns.get(cid, 0.0) < float(min_strength):
                continue
            targets[cid] = int(s.nearest[r])
        if not targets:
            raise CurationError("条件に合う未分類のコメントがありません。")
        text = (f"未分類の{len(targets)}件をいちばん近いテーマに入れました"
                + (f"（近さ {float(min_strength):.2f} 以上）" if min_strength is not None else ""))
        return "assign", {"targets": targets, "min_strength": None if min_strength is None else float(min_strength)}, text

    return _commit(run, build, by)


def rename_broad(run: Run, parent: int, name: str, by: str = "") -> dict:
    """Name broad theme ``parent`` (an empty name goes back to the computed one); returns the log entry."""
    p, name = int(parent), str(name).strip()

    def build(s: _State):
        if p not in set(s.parent.values()):
            raise CurationError("その大きなテーマはもうありません。")
        text = f"大きなテーマの名前を{_quote([name])}にしました" if name else "大きなテーマの名前を自動で付いた名前に戻しました"
        return "rename_broad", {"parent": p, "name": name}, text

    return _commit(run, build, by)


def undo(run: Run, edit_id: int | None = None) -> dict:
    """Undo edit ``edit_id`` (default: the last one); returns the removed entry.

    Raises :class:`CurationError` when there is nothing to undo, or when a later edit depends on
    this one (undo that one first).
    """
    path = _saved_path(run)
    base_a, base_c = _split_base(run)
    made: dict = {}

    def change(doc: Any) -> dict:
        entries = _entries(doc)
        if not entries:
            raise CurationError("元に戻す操作がありません。")
        at = len(entries) - 1 if edit_id is None else next((i for i, e in enumerate(entries) if e["id"] == int(edit_id)), None)
        if at is None:
            raise CurationError("その操作はもう元に戻されています。")
        before = {e["id"] for e, _ in _replay(_initial(base_a, base_c), entries)}
        s = _initial(base_a, base_c)
        _replay(s, entries[:at])
        for e in entries[at + 1:]:
            try:
                _apply(s, e)
            except CurationError as exc:
                if e["id"] in before:
                    continue
                raise CurationError(f"あとの操作「{e.get('text') or KIND_JA[e['kind']]}」（番号 {e['id']}）がこの操作を前提に"
                                    f"しています。先にそちらを元に戻してください。（{exc}）") from None
        made["entry"] = entries[at]
        return document(entries[:at] + entries[at + 1:], doc.get("next_id") if _is_int(doc.get("next_id")) else None)

    def labels(cur: dict) -> dict:
        e = made["entry"]
        if e["kind"] == "split":  # the new theme's name goes with it (its id may be given again)
            cur.pop(str(e["args"]["new_cluster"]), None)
        return cur

    _locked(path, change, labels)
    return made["entry"]


# --------------------------------------------------------------------------- a rerun keeps what survives


def _broad_map(prev_c: pd.DataFrame, s: _State, themes: dict[int, int]) -> dict[int, int]:
    """Broad theme of the previous run -> the new run's, when all its surviving themes sit under one."""
    out = {}
    for p, group in prev_c.groupby("parent"):
        now = {s.parent.get(themes[int(c)]) for c in group["cluster"] if int(c) in themes}
        now.discard(None)
        if len(now) == 1:
            out[int(p)] = now.pop()
    return out


def carry_over_edits(previous: Run, new: Run, min_jaccard: float = 0.6) -> Run:
    """``new`` with the edits of ``previous`` that still make sense (a rerun of the same comments).

    Themes that clearly survive (:func:`analysis.compare.compare_runs` status kept / renamed with
    Jaccard >= ``min_jaccard``, computed themes of both runs) are matched; an edit is carried when
    every theme it names survives (or was made by a carried split), translated to the new ids:
    merges, splits and moves by comment id (comments still where the edit expects them), 未分類
    assignments of comments still 未分類, broad-theme names whose themes stay under one broad theme.
    The rest is dropped. ``new.manifest["edits_carried_over"]`` records
    ``{"carried": [{"id", "new_id", "kind", "text"}], "dropped": [{"id", "kind", "text", "reason"}]}``.
    Returns the curated new run (its ``edits`` are written by :func:`analysis.runs.save_run`).
    """
    from .compare import compare_runs

    entries = list(previous.edits)
    if not entries:
        return new
    prev_a, prev_c = _split_base(previous)
    table = compare_runs(dataclasses.replace(previous, assignments=prev_a, clusters=prev_c), new)
    themes = {int(r["clusters_a"][0]): int(r["clusters_b"][0]) for _, r in table.iterrows()
              if r["status"] in ("kept", "renamed") and r["jaccard"] >= min_jaccard}
    new_a, new_c = _split_base(new)
    s = _initial(new_a, new_c)
    prev_names = dict(zip(previous.clusters["cluster"].astype(int), previous.clusters["label"].astype(str)))
    prev_auto = dict(zip(previous.clusters["cluster"].astype(int), previous.clusters["auto_label"].astype(str))) \
        if "auto_label" in previous.clusters else {}
    broad = _broad_map(prev_c, s, themes)
    out, carried, dropped, names = [], [], [], {}

    def theme(c: int) -> int:
        if c == NOISE:
            return NOISE
        if c not in themes:
            raise CurationError(f"テーマ「{prev_names.get(c, c)}」は新しい分析では同じ形で残っていません。")
        return themes[c]

    def here(ids: list[str]) -> list[str]:
        return [i for i in ids if i in s.row]

    for e in entries:
        kind, a = e["kind"], e["args"]
        try:
            if kind == "merge":
                args = {"clusters": [theme(int(c)) for c in a["clusters"]]}
            elif kind == "split":
                c = theme(int(a["cluster"]))
                ids = [i for i in here(a["comment_ids"]) if s.labels[s.row[i]] == c]
                if not ids:
                    raise CurationError("分けたコメントが、新しい分析では同じテーマにありません。")
                args = {"cluster": c, "comment_ids": ids, "new_cluster": s.next_cluster(),
                        "auto_label": a.get("auto_label", "")}
            elif kind == "move":
                to = theme(int(a["to"]))
                ids = [i for i in here(a["comment_ids"]) if s.labels[s.row[i]] != to]
                if not ids:
                    raise CurationError("移したコメントは、新しい分析ではすでに移し先にあります。")
                args = {"comment_ids": ids, "to": to}
            elif kind == "assign":
                targets = {cid: theme(int(t)) for cid, t in a["targets"].items()
                           if cid in s.row and s.labels[s.row[cid]] == NOISE and int(t) in themes}
                if not targets:
                    raise CurationError("割り当てたコメントは、新しい分析ではもう未分類でないか、行き先のテーマが残っていません。")
                args = {"targets": targets, "min_strength": a.get("min_strength")}
            else:
                p = int(a["parent"])
                if p not in broad:
                    raise CurationError("この大きなテーマは、新しい分析では同じ形で残っていません。")
                args = {"parent": broad[p], "name": a["name"]}
            entry = {**e, "id": len(out) + 1, "args": args, "carried_from": {"run_id": previous.run_id, "id": e["id"]}}
            _apply(s, entry)
        except CurationError as exc:
            dropped.append({"id": e["id"], "kind": kind, "text": e.get("text", ""), "reason": str(exc)})
            continue
        if kind == "split":
            old_k, new_k = int(a["new_cluster"]), args["new_cluster"]
            themes[old_k] = new_k
            if prev_names.get(old_k) and prev_names.get(old_k) != prev_auto.get(old_k):
                names[new_k] = prev_names[old_k]
        out.append(entry)
        carried.append({"id": e["id"], "new_id": entry["id"], "kind": kind, "text": e.get("text", "")})
    new.manifest["edits_carried_over"] = {"carried": carried, "dropped": dropped}
    if not out:
        return new
    curated = apply_edits(dataclasses.replace(new, path=None), out)
    for c, name in names.items():  # names users gave split themes: save_run writes them to labels.json
        curated.clusters.loc[curated.clusters["cluster"] == c, "label"] = name
    return dataclasses.replace(curated, path=new.path)
