"""Session state shared across pages: the active run, the global filters and the shortlist.

Keys live here so pages never spell them out. Widget-backed keys (run picker, filters) are
rendered by the sidebar in ``app.py`` on every page, so Streamlit keeps them across page
switches; the shortlist is plain session state (not a widget) and is never cleaned up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ui.text import matches_query, query_words

KEY_RUN = "run_picker"
KEY_PENDING_RUN = "_pending_run"
KEY_FLASH = "_flash"
KEY_CATEGORIES = "flt_categories"
KEY_ROLES = "flt_roles"
KEY_QUERY = "flt_query"
KEY_SHORTLIST = "shortlist"

SHORTLIST_COLUMNS = ["comment_id", "text", "category", "role", "label", "note"]


# --------------------------------------------------------------------------- active run


def active_run_path() -> str | None:
    return st.session_state.get(KEY_RUN)


def set_active_run(path: str) -> None:
    """Switch the run picker (call from a widget callback, i.e. before the sidebar renders)."""
    st.session_state[KEY_RUN] = str(path)


def request_run_switch(path: str, message: str | None = None) -> None:
    """Ask the next script run to select ``path`` (usable after the sidebar has rendered)."""
    st.session_state[KEY_PENDING_RUN] = str(path)
    if message:
        flash(message)


def apply_pending_run_switch() -> None:
    """Called by ``app.py`` before the run picker renders."""
    pending = st.session_state.pop(KEY_PENDING_RUN, None)
    if pending:
        st.session_state[KEY_RUN] = pending


def flash(message: str) -> None:
    """A success message shown once on the next run."""
    st.session_state[KEY_FLASH] = message


def pop_flash() -> str | None:
    return st.session_state.pop(KEY_FLASH, None)


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """Global filters; an empty tuple means "all"."""

    categories: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    query: str = ""

    @property
    def words(self) -> list[str]:
        return query_words(self.query)

    @property
    def active(self) -> bool:
        return bool(self.categories or self.roles or self.words)

    def describe_ja(self) -> str:
        parts = []
        if self.categories:
            parts.append("分類: " + "、".join(self.categories))
        if self.roles:
            parts.append("回答者: " + "、".join(self.roles))
        if self.words:
            parts.append("語句: " + " ".join(self.words))
        return " ／ ".join(parts) if parts else "絞り込みなし（すべてのコメント）"


def current_filters() -> Filters:
    s = st.session_state
    return Filters(
        categories=tuple(s.get(KEY_CATEGORIES) or ()),
        roles=tuple(s.get(KEY_ROLES) or ()),
        query=str(s.get(KEY_QUERY) or ""),
    )


def apply_filters(table: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Rows of ``table`` (``Run.table()``) passing the filters."""
    mask = pd.Series(True, index=table.index)
    if f.categories:
        mask &= table["category"].isin(f.categories)
    if f.roles:
        mask &= table["role"].isin(f.roles)
    words = f.words
    if words:
        mask &= table["text"].map(lambda t: matches_query(t, words))
    return table[mask]


# --------------------------------------------------------------------------- shortlist


def shortlist() -> list[dict]:
    """The trainer's shortlist: dicts with run_id + :data:`SHORTLIST_COLUMNS`, in added order."""
    return st.session_state.setdefault(KEY_SHORTLIST, [])


def _find(run_id: str, comment_id: str) -> dict | None:
    for item in shortlist():
        if item["run_id"] == run_id and item["comment_id"] == str(comment_id):
            return item
    return None


def in_shortlist(run_id: str, comment_id: str) -> bool:
    return _find(run_id, comment_id) is not None


def add_to_shortlist(run_id: str, row: Mapping) -> bool:
    """Add a comment (a mapping with comment_id, text, category, role, label); False if present."""
    cid = str(row["comment_id"])
    if in_shortlist(run_id, cid):
        return False
    shortlist().append(
        {
            "run_id": run_id,
            "comment_id": cid,
            "text": str(row["text"]),
            "category": str(row.get("category", "")),
            "role": str(row.get("role", "")),
            "label": str(row.get("label", "")),
            "note": str(row.get("note", "") or ""),
        }
    )
    return True


def remove_from_shortlist(run_id: str, comment_id: str) -> None:
    st.session_state[KEY_SHORTLIST] = [
        it for it in shortlist() if not (it["run_id"] == run_id and it["comment_id"] == str(comment_id))
    ]


def clear_shortlist() -> None:
    st.session_state[KEY_SHORTLIST] = []


def set_note(run_id: str, comment_id: str, note: str) -> None:
    item = _find(run_id, comment_id)
    if item is not None:
        item["note"] = note


def note_widget_key(run_id: str, comment_id: str) -> str:
    return f"note::{run_id}::{comment_id}"


def sync_note(run_id: str, comment_id: str) -> None:
    """Widget callback: copy the note text area into the shortlist entry."""
    set_note(run_id, comment_id, st.session_state.get(note_widget_key(run_id, comment_id), ""))


def shortlist_frame() -> pd.DataFrame:
    """The shortlist as the DataFrame ``analysis.export`` expects (:data:`SHORTLIST_COLUMNS`)."""
    return pd.DataFrame([{c: it.get(c, "") for c in SHORTLIST_COLUMNS} for it in shortlist()], columns=SHORTLIST_COLUMNS)
