"""Session state shared across pages: keys, the active run, global filters, one-shot messages.

Every session-state key the app uses is spelled here, so pages never spell one out. Widget-backed
keys (run picker, filters) are rendered by the sidebar on every page, so Streamlit keeps them
across page switches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from ui.text import matches_query, query_words

KEY_RUN = "run_picker"
KEY_PENDING_RUN = "_pending_run"
KEY_FLASH = "_flash"
KEY_WARN = "_warn"
KEY_QUERY = "flt_query"
KEY_CTX = "_ctx"
KEY_USER = "_auth_user"
KEY_MY_JOBS = "_my_jobs"
KEY_SHORTLIST_SET = "shortlist_set"
FILTER_PREFIX = "flt::"


def filter_key(attribute: str) -> str:
    """Session key of the sidebar filter for one attribute."""
    return f"{FILTER_PREFIX}{attribute}"


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
    """Called before the run picker renders."""
    pending = st.session_state.pop(KEY_PENDING_RUN, None)
    if pending:
        st.session_state[KEY_RUN] = pending


def flash(message: str) -> None:
    """A success message shown once on the next run."""
    st.session_state[KEY_FLASH] = message


def pop_flash() -> str | None:
    return st.session_state.pop(KEY_FLASH, None)


def warn_once(message: str) -> None:
    """A warning shown once on the next run (e.g. a run that could not be opened)."""
    st.session_state[KEY_WARN] = message


def pop_warning() -> str | None:
    return st.session_state.pop(KEY_WARN, None)


def remember_job(job_id: str) -> None:
    """This session started ``job_id``: switch to its run when it finishes."""
    st.session_state.setdefault(KEY_MY_JOBS, []).append(job_id)


def my_jobs() -> list[str]:
    return list(st.session_state.get(KEY_MY_JOBS, []))


def forget_job(job_id: str) -> None:
    st.session_state[KEY_MY_JOBS] = [j for j in my_jobs() if j != job_id]


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """Global filters: selected values per attribute (empty = all) and search words."""

    values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    query: str = ""
    attributes: tuple[str, ...] = field(default=())

    @property
    def words(self) -> list[str]:
        return query_words(self.query)

    @property
    def selected(self) -> dict[str, tuple[str, ...]]:
        return {a: v for a, v in self.values if v}

    @property
    def active(self) -> bool:
        return bool(self.selected or self.words)

    def describe_ja(self) -> str:
        parts = [f"{a}: " + "、".join(v) for a, v in self.selected.items()]
        if self.words:
            parts.append("語句: " + " ".join(self.words))
        return " ／ ".join(parts) if parts else "絞り込みなし（すべてのコメント）"


def current_filters(attributes: list[str]) -> Filters:
    s = st.session_state
    values = tuple((a, tuple(s.get(filter_key(a)) or ())) for a in attributes)
    return Filters(values=values, query=str(s.get(KEY_QUERY) or ""), attributes=tuple(attributes))


def apply_filters(table: pd.DataFrame, f: Filters, index=None) -> pd.DataFrame:
    """Rows of ``table`` (``Run.table()``) passing the filters; ``index`` is a word index of the
    table's texts (:class:`analysis.text.textsearch.TextIndex`) for forgiving word matching."""
    mask = pd.Series(True, index=table.index)
    for attr, vals in f.selected.items():
        if attr in table.columns:
            mask &= table[attr].isin(vals)
    words = f.words
    if words:
        if index is not None:
            mask &= pd.Series(index.mask(" ".join(words)), index=table.index)
        else:
            mask &= table["text"].map(lambda t: matches_query(t, words))
    return table[mask]


def clear_filters(attributes: list[str]) -> None:
    for a in attributes:
        st.session_state[filter_key(a)] = []
    st.session_state[KEY_QUERY] = ""
