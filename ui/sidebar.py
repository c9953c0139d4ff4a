"""The shared sidebar (run picker + global filters) and the per-page context built from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.overlaps import ordered_values
from analysis.runs import Run
from ui import data, state
from ui.state import Filters
from ui.text import md_escape


@dataclass
class PageContext:
    """What every page needs: the active run, its full table and the filtered rows."""

    path: str
    run: Run
    table: pd.DataFrame
    filtered: pd.DataFrame
    filters: Filters

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def filtered_ids(self) -> list[str]:
        return self.filtered["comment_id"].astype(str).tolist()


def _run_label(row: pd.Series) -> str:
    created = str(row.get("created", ""))[:16].replace("T", " ")
    name = str(row.get("input") or "（入力名なし）")
    n = row.get("n_clusters")
    themes = f"テーマ{int(n)}" if pd.notna(n) else ""
    return " ・ ".join(x for x in (name, themes, created[5:], str(row.get("backend") or "")) if x)


def _sanitize_multi(key: str, options: list[str]) -> None:
    """Drop stored selections that the current run does not have (e.g. after switching runs)."""
    cur = st.session_state.get(key)
    if cur:
        kept = [v for v in cur if v in options]
        if kept != list(cur):
            st.session_state[key] = kept


def _clear_filters() -> None:
    st.session_state[state.KEY_CATEGORIES] = []
    st.session_state[state.KEY_ROLES] = []
    st.session_state[state.KEY_QUERY] = ""


def render_sidebar(runs: pd.DataFrame) -> PageContext | None:
    """Draw the run picker and the filters; store the page context in session state."""
    state.apply_pending_run_switch()
    paths = runs["path"].astype(str).tolist()
    if not paths:
        st.session_state["_ctx"] = None
        return None
    if st.session_state.get(state.KEY_RUN) not in paths:
        st.session_state[state.KEY_RUN] = paths[0]
    labels = dict(zip(paths, (_run_label(r) for _, r in runs.iterrows())))
    sb = st.sidebar
    sb.selectbox(
        "表示する分析結果",
        paths,
        key=state.KEY_RUN,
        format_func=lambda p: labels.get(p, Path(p).name),
        help="保存されている分析結果から選びます。新しい分析は「データと再分析」ページで作れます。",
    )
    path = st.session_state[state.KEY_RUN]
    run = data.get_run(path)
    table = data.run_table(path)

    sb.markdown("**絞り込み**（すべてのページに効きます）")
    cats = [str(c) for c in ordered_values(table["category"], "category")]
    roles = [str(r) for r in ordered_values(table["role"], "role")]
    _sanitize_multi(state.KEY_CATEGORIES, cats)
    _sanitize_multi(state.KEY_ROLES, roles)
    # pills render their option labels as Markdown; categories of uploaded files are user text
    sb.pills("連携の分類", cats, selection_mode="multi", key=state.KEY_CATEGORIES, format_func=md_escape,
             help="何も選ばないと、すべての分類が対象になります。")
    sb.pills("回答者", roles, selection_mode="multi", key=state.KEY_ROLES, format_func=md_escape,
             help="何も選ばないと、すべての回答者が対象になります。")
    sb.text_input("語句で探す", key=state.KEY_QUERY, placeholder="例: 縦割り　民生委員",
                  help="空白で区切ると、すべての語句を含むコメントに絞り込みます。")
    filters = state.current_filters()
    filtered = state.apply_filters(table, filters)
    sb.caption(f"表示中のコメント: **{len(filtered)}** / {len(table)} 件")
    if filters.active:
        sb.button("絞り込みを解除", on_click=_clear_filters, icon=":material/filter_alt_off:")
    ctx = PageContext(path=path, run=run, table=table, filtered=filtered, filters=filters)
    st.session_state["_ctx"] = ctx
    return ctx


def page_context() -> PageContext:
    """The context the sidebar built in this script run, after a line naming the active filters.

    Without a run there is nothing to show: the page says so and stops here.
    """
    ctx = st.session_state.get("_ctx")
    if ctx is None:
        st.info("表示できる分析結果がありません。「データと再分析」ページで分析を作成してください。")
        st.stop()
    filter_note(ctx)
    return ctx


def filter_note(ctx: PageContext) -> None:
    """One line saying which filters apply on this page."""
    if ctx.filters.active:
        st.caption(f"絞り込み中: {md_escape(ctx.filters.describe_ja())}（{len(ctx.filtered)} / {len(ctx.table)} 件）")
