"""The curation edit log: the edits.json file beside a run, and what each of its entries does.

Every change analysts make to a run's themes is one entry of the log (:mod:`analysis.store.curation`
makes them); the computed files of the run are never changed.

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
                  ``auto_label`` (named at edit time with :mod:`analysis.themes.naming`). A name the user
                  gives is kept in labels.json like any other theme name.
``move``          ``comment_ids``, ``to`` (a theme, or -1 = 未分類).
``assign``        ``targets`` {comment id: theme}: 未分類 comments to their nearest theme;
                  ``min_strength`` records the threshold used (or null).
``rename_broad``  ``parent``, ``name`` (empty = back to the computed name).

Each entry is checked against the state the earlier entries leave (:func:`apply_entry` on an
:class:`EditState`: theme membership only, cheap); :func:`replay` applies a whole log, skipping
the entries that no longer fit. ``next_id`` never goes down, so an id names one edit for the life
of the run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import UserError
from ..schema import NOISE, NOISE_LABEL
from ..storage import read_json
from .run_object import Run, RunError

EDITS_FILE = "edits.json"
FORMAT = 1
KINDS = ("merge", "split", "move", "assign", "rename_broad")
KIND_JA = {"merge": "まとめる", "split": "分ける", "move": "移す", "assign": "未分類の割り当て",
           "rename_broad": "大きなテーマの名前"}
EDITS_BROKEN = "edits.json（テーマの整理）が壊れています（JSON として読めません）"
_BAD = "edits.json（テーマの整理）の形式が正しくありません"


class CurationError(UserError):
    """An edit that cannot be made (or undone) in the current state; the message is Japanese."""



# --------------------------------------------------------------------------- the file


def is_int(v: Any) -> bool:
    """An int that is not a bool (JSON true is no theme id)."""
    return isinstance(v, int) and not isinstance(v, bool)


def _ids_ok(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v)


_ARGS_OK: dict[str, Callable[[dict], bool]] = {
    "merge": lambda a: isinstance(a.get("clusters"), list) and len(a["clusters"]) >= 2
    and all(is_int(c) for c in a["clusters"]),
    "split": lambda a: is_int(a.get("cluster")) and is_int(a.get("new_cluster")) and _ids_ok(a.get("comment_ids"))
    and isinstance(a.get("auto_label", ""), str),
    "move": lambda a: is_int(a.get("to")) and _ids_ok(a.get("comment_ids")),
    "assign": lambda a: isinstance(a.get("targets"), dict) and bool(a["targets"])
    and all(isinstance(k, str) and is_int(v) for k, v in a["targets"].items()),
    "rename_broad": lambda a: is_int(a.get("parent")) and isinstance(a.get("name"), str),
}


def log_entries(doc: Any) -> list[dict]:
    """The edit entries of an edits.json document; :class:`RunError` when its shape is wrong."""
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("edits"), list):
        raise RunError(_BAD)
    fmt = doc.get("format", FORMAT)
    if not is_int(fmt) or fmt > FORMAT:
        raise RunError("edits.json（テーマの整理）がこのプログラムより新しい形式です（プログラムを更新してください）")
    seen: set[int] = set()
    for e in doc["edits"]:
        ok = (isinstance(e, dict) and is_int(e.get("id")) and e["id"] not in seen and e.get("kind") in KINDS
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
        raise RunError(EDITS_BROKEN) from exc
    return log_entries(doc)


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
class EditState:
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

    def copy(self) -> "EditState":
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


def computed_frames(run: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The computed (assignments, clusters) of ``run``, whether or not edits were applied to it."""
    a, c = run.base if run.base is not None else (run.assignments, run.clusters)
    return a.drop(columns=["curated"], errors="ignore"), c


def initial_state(a: pd.DataFrame, c: pd.DataFrame) -> EditState:
    """The state before any edit, from computed assignments ``a`` and clusters ``c``."""
    ids = a["comment_id"].astype(str).to_numpy()
    return EditState(ids=ids, row={x: i for i, x in enumerate(ids)}, labels=a["cluster"].to_numpy(int).copy(),
                  nearest=a["nearest_cluster"].to_numpy(int).copy(), touched=np.zeros(len(a), dtype=bool),
                  parent={int(k): int(p) for k, p in zip(c["cluster"], c["parent"])},
                  names={int(k): str(n) for k, n in zip(c["cluster"], c["label"])}, auto={}, broad_names={},
                  changed=set(), rebuilt=set(), ever=frozenset(int(k) for k in c["cluster"]))


def apply_entry(s: EditState, e: dict) -> None:
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
    else:  # pragma: no cover - log_entries checks kinds
        raise CurationError(f"知らない操作です: {kind}")


def replay(s: EditState, entries: list[dict]) -> list[tuple[dict, str]]:
    """Apply ``entries`` in order; returns the ones that did not fit (entry, reason), which are skipped."""
    skipped = []
    for e in entries:
        try:
            apply_entry(s, e)
        except CurationError as exc:
            skipped.append((e, str(exc)))
    return skipped
