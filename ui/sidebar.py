"""The shared sidebar (run picker + a filter per attribute + words) and the page context built from it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.schema import attribute_color_maps, ordered_values
from analysis.store.runs import Run, RunError
from ui import data, state
from ui.state import Filters
from ui.text import md_escape, one_line

#: An attribute with at most this many values gets pills; more get a multiselect.
PILLS_MAX = 8


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
    def attributes(self) -> list[str]:
        return self.run.attributes

    @property
    def primary(self) -> str | None:
        return self.run.primary_attribute

    @cached_property
    def value_colors(self) -> dict[str, dict[str, str]]:
        """Colour per value of each attribute, from the whole run (same on every chart and card);
        computed once per page run, not once per card."""
        return attribute_color_maps(self.table, self.attributes)

    @property
    def filtered_ids(self) -> list[str]:
        return self.filtered["comment_id"].astype(str).tolist()


def run_label(row: pd.Series) -> str:
    """「12/01 15:05 #9aaa ・ テーマ13 ・ 連携の“もやもや”集（2022）」: what tells runs apart comes
    first, so a label cut short in the narrow sidebar still differs from its neighbours."""
    created = str(row.get("created", ""))[5:16].replace("T", " ").replace("-", "/")
    name = str(row.get("input") or "（名前なし）")
    n = row.get("n_clusters")
    themes = f"テーマ{int(n)}" if pd.notna(n) else ""
    tag = "#" + str(row.get("run_id", ""))[-4:]
    return " ・ ".join(x for x in (f"{created} {tag}".strip(), themes, name) if x)


def _sanitize_multi(key: str, options: list[str]) -> None:
    """Drop stored selections that the current run does not have (e.g. after switching runs)."""
    cur = st.session_state.get(key)
    if cur:
        kept = [v for v in cur if v in options]
        if kept != list(cur):
            st.session_state[key] = kept


def _pick_run(runs: pd.DataFrame, opening: str | None) -> tuple[str, Run, pd.DataFrame] | None:
    """Load the chosen run (falling back over runs that cannot be read), then draw the run picker.

    A run that fails to load is reported once and marked broken (the data page lists it with the
    reason); the picker only offers runs that can be read.
    """
    ok = runs[runs["ok"]]
    paths = ok["path"].astype(str).tolist()
    chosen = st.session_state.get(state.KEY_RUN)
    if chosen not in paths:
        chosen = opening if opening in paths else (paths[0] if paths else None)
    while chosen is not None:
        try:
            run, table = data.get_run(chosen), data.run_table(chosen)
            break
        except RunError as exc:
            state.warn_once(f"分析結果「{Path(chosen).name}」は読み込めません（{exc}）。ほかの分析結果を表示しています。"
                            "「データと再分析」ページで確認・削除できます。")
            paths.remove(chosen)
            chosen = opening if opening in paths else (paths[0] if paths else None)
    if chosen is None:
        return None
    st.session_state[state.KEY_RUN] = chosen
    labels = dict(zip(ok["path"].astype(str), (run_label(r) for _, r in ok.iterrows())))
    st.sidebar.selectbox(
        "表示する分析結果", paths, key=state.KEY_RUN, format_func=lambda p: labels.get(p, Path(p).name),
        help="保存されている分析結果から選びます。新しい分析は「データと再分析」ページで作れます。",
    )
    return chosen, run, table


def _filters(table: pd.DataFrame, attributes: list[str]) -> Filters:
    sb = st.sidebar
    sb.markdown("**絞り込み**（すべてのページに効きます）")
    for attr in attributes:
        values = [str(v) for v in ordered_values(table[attr], attr)]
        key = state.filter_key(attr)
        _sanitize_multi(key, values)
        # option labels of pills / multiselect render Markdown; values come from the user's file
        if len(values) <= PILLS_MAX:
            sb.pills(md_escape(attr), values, selection_mode="multi", key=key, format_func=md_escape,
                     help="何も選ばないと、すべてが対象になります。")
        else:
            sb.multiselect(md_escape(attr), values, key=key, format_func=one_line, placeholder="すべて",
                           help="何も選ばないと、すべてが対象になります。")
    sb.text_input("語句で探す", key=state.KEY_QUERY, placeholder="例: 縦割り　たらいまわし",
                  help="空白で区切ると、すべての語句を含むコメントに絞り込みます。送りがなやひらがな書きの違い"
                       "（たらいまわし／たらい回し）も同じ語として探します。")
    return state.current_filters(attributes)


def render_sidebar(runs: pd.DataFrame, opening: str | None) -> PageContext | None:
    """Draw the run picker and the filters; store the page context in session state.

    A run that cannot be read is reported once, marked as broken (the data page lists it with the
    reason) and another run is shown instead.
    """
    state.apply_pending_run_switch()
    picked = _pick_run(runs, opening)
    if picked is None:
        st.session_state[state.KEY_CTX] = None
        return None
    path, run, table = picked
    filters = _filters(table, run.attributes)
    index = data.text_index(path) if filters.words else None
    filtered = state.apply_filters(table, filters, index)
    st.sidebar.caption(f"表示中のコメント: **{len(filtered):,}** / {len(table):,} 件")
    if filters.active:
        st.sidebar.button("絞り込みを解除", on_click=state.clear_filters, args=(run.attributes,),
                          icon=":material/filter_alt_off:")
    ctx = PageContext(path=path, run=run, table=table, filtered=filtered, filters=filters)
    st.session_state[state.KEY_CTX] = ctx
    return ctx


def page_context() -> PageContext:
    """The context the sidebar built in this script run, after a line naming the active filters.

    Without a run there is nothing to show: the page says so and stops here.
    """
    ctx = st.session_state.get(state.KEY_CTX)
    if ctx is None:
        st.info("表示できる分析結果がありません。「データと再分析」ページで分析を作成してください。")
        st.stop()
    filter_note(ctx)
    return ctx


def current_context() -> PageContext | None:
    """The context if there is a run (pages that also work without one, e.g. the data page)."""
    return st.session_state.get(state.KEY_CTX)


def filter_note(ctx: PageContext) -> None:
    """One line saying which filters apply on this page."""
    if ctx.filters.active:
        st.caption(f"絞り込み中: {md_escape(ctx.filters.describe_ja())}（{len(ctx.filtered):,} / {len(ctx.table):,} 件）")
