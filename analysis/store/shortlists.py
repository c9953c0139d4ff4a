"""Trainer shortlists that last: named sets of comments with notes, saved beside their run.

A set survives a browser reload and a server restart: every change is written at once to
``shortlists.json`` in the run's folder, read-modify-written under the run's lock
(:func:`analysis.store.runs.edit_side_file`), so two trainers editing sets of the same run at the same
time both keep their changes. Items keep the comment id and the note only; the text, attributes
and theme are looked up in the run when shown or exported, so they always match the run.

Everyone who may see the run sees its sets. Changing one (rename, delete, items, notes) is checked
inside the locked edit when the caller names an ``actor`` (user, role): 分析 may change every set,
閲覧 only the sets they created (:func:`may_change`); the dashboard always names one.

File shape::

    {"sets": {"<set id>": {"name": "…", "owner": "…", "created": "…", "updated": "…",
                           "items": [{"comment_id": "c012", "note": "…", "added": "…"}]}}}
"""

from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UserError
from ..storage import read_json
from .accounts import ROLE_ANALYST
from .runs import Run, edit_side_file

FILE = "shortlists.json"
DEFAULT_NAME = "研修用の候補"
MAX_NOTE = 2000

__all__ = ["ShortlistSet", "list_sets", "create_set", "rename_set", "delete_set", "add_item", "remove_item",
           "set_note", "items_frame", "may_change", "DEFAULT_NAME"]


@dataclass
class ShortlistSet:
    set_id: str
    name: str
    owner: str = ""
    created: str = ""
    updated: str = ""
    items: list[dict[str, str]] = field(default_factory=list)

    @property
    def comment_ids(self) -> list[str]:
        return [i["comment_id"] for i in self.items]


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def _clean(data: Any) -> dict:
    """The file's content with a valid shape (a damaged file is never silently overwritten: see _edit)."""
    if not isinstance(data, dict) or not isinstance(data.get("sets"), dict):
        return {"sets": {}}
    return data


def _read(run_path: str | Path) -> dict:
    try:
        return _clean(read_json(Path(run_path) / FILE, None))
    except (OSError, ValueError):
        return {"sets": {}}


def list_sets(run: Run | str | Path) -> list[ShortlistSet]:
    """The run's sets, most recently changed first."""
    path = run.path if isinstance(run, Run) else run
    if path is None:
        return []
    out = []
    for sid, s in _read(path)["sets"].items():
        if not isinstance(s, dict):
            continue
        items = [i for i in s.get("items", []) if isinstance(i, dict) and "comment_id" in i]
        out.append(ShortlistSet(sid, str(s.get("name", DEFAULT_NAME)), str(s.get("owner", "")), str(s.get("created", "")),
                                str(s.get("updated", "")), [{"comment_id": str(i["comment_id"]), "note": str(i.get("note", "")),
                                                             "added": str(i.get("added", ""))} for i in items]))
    return sorted(out, key=lambda s: s.updated, reverse=True)


def _edit(run: Run | str | Path, change) -> dict:
    path = run.path if isinstance(run, Run) else run
    if path is None:
        raise UserError("保存されていない分析結果には候補リストを保存できません。")
    file = Path(path) / FILE
    if file.exists():
        try:
            read_json(file, None)
        except ValueError as exc:  # keep the damaged file for a person to look at, start a fresh one
            file.rename(file.with_name(f"{FILE}.damaged-{_dt.datetime.now():%Y%m%d%H%M%S}"))
            raise UserError("候補リストのファイルが壊れていたため、別名で残しました。もう一度操作してください。") from exc
    return edit_side_file(path, FILE, lambda cur: change(_clean(cur)), default={"sets": {}})


def create_set(run: Run | str | Path, name: str = DEFAULT_NAME, owner: str = "") -> str:
    """A new empty set; returns its id."""
    sid = f"s{_dt.datetime.now():%Y%m%d%H%M%S}{secrets.token_hex(2)}"

    def change(data: dict) -> dict:
        data["sets"][sid] = {"name": (name or DEFAULT_NAME).strip()[:60], "owner": owner, "created": _now(),
                             "updated": _now(), "items": []}
        return data

    _edit(run, change)
    return sid


def may_change(owner: str, user: str | None, role: str | None) -> bool:
    """Whether ``user`` with ``role`` may change a set ``owner`` created: 分析 any set, 閲覧 their own."""
    return role == ROLE_ANALYST or (bool(user) and owner == user)


def _check(s: dict, actor: tuple[str, str] | None) -> None:
    if actor is not None and not may_change(str(s.get("owner", "")), *actor):
        raise UserError("この候補リストを変えられるのは、作った人と「分析」の権限がある利用者だけです。")


def _with_set(run, sid: str, fn, actor: tuple[str, str] | None = None) -> None:
    def change(data: dict) -> dict:
        s = data["sets"].get(sid)
        if not isinstance(s, dict):
            raise UserError("その候補リストは見つかりません（ほかの人が削除した可能性があります）。")
        _check(s, actor)
        fn(s)
        s["updated"] = _now()
        return data

    _edit(run, change)


def rename_set(run, sid: str, name: str, actor: tuple[str, str] | None = None) -> None:
    name = name.strip()[:60]
    if not name:
        raise UserError("候補リストの名前を入力してください。")
    _with_set(run, sid, lambda s: s.__setitem__("name", name), actor)


def delete_set(run, sid: str, actor: tuple[str, str] | None = None) -> None:
    def change(data: dict) -> dict:
        if isinstance(data["sets"].get(sid), dict):
            _check(data["sets"][sid], actor)
        data["sets"].pop(sid, None)
        return data

    _edit(run, change)


def add_item(run, sid: str, comment_id: str, note: str = "", actor: tuple[str, str] | None = None) -> bool:
    """Add a comment (False when it is already in the set)."""
    added = {"value": False}

    def fn(s: dict) -> None:
        items = s.setdefault("items", [])
        if any(str(i.get("comment_id")) == str(comment_id) for i in items):
            return
        items.append({"comment_id": str(comment_id), "note": note[:MAX_NOTE], "added": _now()})
        added["value"] = True

    _with_set(run, sid, fn, actor)
    return added["value"]


def remove_item(run, sid: str, comment_id: str, actor: tuple[str, str] | None = None) -> None:
    _with_set(run, sid, lambda s: s.__setitem__(
        "items", [i for i in s.get("items", []) if str(i.get("comment_id")) != str(comment_id)]), actor)


def set_note(run, sid: str, comment_id: str, note: str, actor: tuple[str, str] | None = None) -> None:
    def fn(s: dict) -> None:
        for i in s.get("items", []):
            if str(i.get("comment_id")) == str(comment_id):
                i["note"] = note[:MAX_NOTE]

    _with_set(run, sid, fn, actor)


def items_frame(run: Run, sset: ShortlistSet) -> pd.DataFrame:
    """The set as a table for exports: comment_id, text, label, note and the run's attribute columns,
    in the set's order (comments no longer in the run are left out)."""
    table = run.table().set_index(run.comments["comment_id"].astype(str))
    rows = []
    for it in sset.items:
        if it["comment_id"] not in table.index:
            continue
        r = table.loc[it["comment_id"]]
        rows.append({"comment_id": it["comment_id"], "text": r["text"], "label": r["label"], "note": it["note"],
                     **{a: r[a] for a in run.attributes}})
    return pd.DataFrame(rows, columns=["comment_id", "text", "label", "note", *run.attributes])
