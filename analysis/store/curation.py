"""Curating themes: merge, split, move, assign 未分類, rename broad themes — an edit log beside a run.

Clustering is never perfect (on the seed, 縦割り is spread over about six themes), so analysts can
shape the themes. The computed files of a run (assignments.csv, clusters.csv) are never changed:
every change is one entry of an *edit log* in ``edits.json`` beside the run, and
:func:`apply_edits` replays the log whenever the run is loaded (:func:`analysis.store.runs.load_run`), so
every page, export and :meth:`Run.table` shows the curated themes.

Making and undoing edits is here (:func:`merge`, :func:`split`, :func:`move`,
:func:`assign_unclassified`, :func:`rename_broad`, :func:`undo`); the log's format and what each
kind of edit does are in :mod:`analysis.store.edit_log`, the replay that recomputes the curated themes in
:mod:`analysis.store.curated_run`. Callers import all of them from here
(carrying edits over to a rerun is :mod:`analysis.explore.edit_carryover`).

Each new entry is checked against the state the earlier entries leave and appended under the run's
lock, so several people editing at once all land and never overwrite each other.

Undo rule: any edit can be undone; its entry is dropped and the rest of the log replayed. When a
later edit no longer applies without it (e.g. a move into a theme that the undone split created),
the undo is refused with a Japanese message naming that later edit.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import UserError
from ..schema import NOISE
from ..storage import file_lock
from .curated_run import apply_edits, theme_keywords
from .edit_log import (
    EDITS_BROKEN,
    EDITS_FILE,
    KIND_JA,
    KINDS,
    CurationError,
    EditState,
    apply_entry,
    computed_frames,
    document,
    edit_log,
    initial_state,
    is_int,
    log_entries,
    log_table,
    read_edits,
    replay,
)
from .run_object import Run, RunError, lock_path
from .side_files import update_json_unlocked

__all__ = [
    "CurationError", "EDITS_FILE", "KINDS", "KIND_JA", "apply_edits", "read_edits", "edit_log", "log_table",
    "merge", "split", "move", "assign_unclassified", "rename_broad", "undo", "document",
]


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
        with file_lock(lock_path(path)):
            try:
                update_json_unlocked(path / EDITS_FILE, change_edits)
            except UserError:
                raise
            except (UnicodeDecodeError, ValueError) as exc:
                raise RunError(EDITS_BROKEN + "。保存できません") from exc
            if change_labels is not None:
                try:
                    update_json_unlocked(path / "labels.json", lambda cur: change_labels(cur if isinstance(cur, dict) else {}))
                except UserError:
                    raise
                except (UnicodeDecodeError, ValueError) as exc:
                    raise RunError("labels.json（テーマ名の変更）が壊れているため保存できません") from exc
    except OSError as exc:
        from ..storage import translate_os_error

        raise translate_os_error(exc, path / EDITS_FILE) from exc


def _commit(run: Run, build: Callable[[EditState], tuple[str, dict, str]], by: str,
            change_labels: Callable[[dict, dict], dict] | None = None) -> dict:
    """Check and append one edit; ``build(state)`` returns (kind, args, text) for the current state."""
    path = _saved_path(run)
    base_a, base_c = computed_frames(run)
    made: dict = {}

    def change(doc: Any) -> dict:
        entries = log_entries(doc)
        s = initial_state(base_a, base_c)
        replay(s, entries)
        kind, args, text = build(s)
        next_id = doc.get("next_id") if isinstance(doc, dict) and is_int(doc.get("next_id")) else 1
        entry = {"id": max(next_id, max((e["id"] for e in entries), default=0) + 1), "kind": kind, "args": args,
                 "text": text, "by": str(by or ""), "at": _now()}
        apply_entry(s, entry)
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

    def build(s: EditState):
        if len(ids) < 2:
            raise CurationError("まとめるテーマを2つ以上選んでください。")
        for c in ids:
            s.need(c)
        return "merge", {"clusters": ids}, f"{_quote([s.name(ids[0])])}に{_quote([s.name(c) for c in ids[1:]])}をまとめました"

    return _commit(run, build, by)


def _auto_name(run: Run, s: EditState, labels: np.ndarray, k: int) -> str:
    """A phrase name for new theme ``k`` from its own comments (lexical centre: no model is loaded)."""
    from ..text.tokens import default_tokenizer
    from ..themes.naming import name_themes

    kw = theme_keywords(run, labels, {k})
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
    name made with :mod:`analysis.themes.naming` from its comments. Returns the new log entry.
    """
    cluster, picked = int(cluster), [str(i) for i in dict.fromkeys(comment_ids)]
    name = (name or "").strip()

    def build(s: EditState):
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

    def build(s: EditState):
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
    base_a, _ = computed_frames(run)
    ns = dict(zip(base_a["comment_id"].astype(str), base_a["nearest_strength"].astype(float)))
    wanted = None if comment_ids is None else [str(i) for i in dict.fromkeys(comment_ids)]

    def build(s: EditState):
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

    def build(s: EditState):
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
    base_a, base_c = computed_frames(run)
    made: dict = {}

    def change(doc: Any) -> dict:
        entries = log_entries(doc)
        if not entries:
            raise CurationError("元に戻す操作がありません。")
        at = len(entries) - 1 if edit_id is None else next((i for i, e in enumerate(entries) if e["id"] == int(edit_id)), None)
        if at is None:
            raise CurationError("その操作はもう元に戻されています。")
        before = {e["id"] for e, _ in replay(initial_state(base_a, base_c), entries)}
        s = initial_state(base_a, base_c)
        replay(s, entries[:at])
        for e in entries[at + 1:]:
            try:
                apply_entry(s, e)
            except CurationError as exc:
                if e["id"] in before:
                    continue
                raise CurationError(f"あとの操作「{e.get('text') or KIND_JA[e['kind']]}」（番号 {e['id']}）がこの操作を前提に"
                                    f"しています。先にそちらを元に戻してください。（{exc}）") from None
        made["entry"] = entries[at]
        return document(entries[:at] + entries[at + 1:], doc.get("next_id") if is_int(doc.get("next_id")) else None)

    def labels(cur: dict) -> dict:
        e = made["entry"]
        if e["kind"] == "split":  # the new theme's name goes with it (its id may be given again)
            cur.pop(str(e["args"]["new_cluster"]), None)
        return cur

    _locked(path, change, labels)
    return made["entry"]
