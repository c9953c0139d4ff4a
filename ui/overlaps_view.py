"""Sections of the 分野横断 page: themes × an attribute, shared versus particular, with honest statistics."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.explore import overlaps
from analysis.report import charts
from analysis.schema import NOISE, NOISE_LABEL
from ui import cards, data, terms
from ui.sidebar import PageContext
from ui.text import md_escape, one_line

MODES = {"counts": "件数", "shares": "テーマ内の割合", "residuals": "偏り（多い・少ない）"}


def pick_attribute(ctx: PageContext, label: str = "くらべる属性", key: str = "overlap_attr",
                   exclude: str | None = None) -> str | None:
    """The attribute to cross with themes (the run's primary one first); None, with a sentence, if none."""
    options = [a for a in ctx.attributes if a != exclude]
    if not options:
        st.info("この分析結果には属性（分類・回答者・地区など）の列がないため、テーマを属性ごとにくらべることはできません。"
                "属性の列があるファイルを「データと再分析」で読み込むと使えます。")
        return None
    if st.session_state.get(key) not in options:
        st.session_state[key] = ctx.primary if ctx.primary in options else options[0]
    return st.selectbox(label, options, key=key, format_func=one_line)


def _labels(ctx: PageContext) -> dict[int, str]:
    out = dict(zip(ctx.run.clusters["cluster"].astype(int), ctx.run.clusters["label"]))
    out[NOISE] = NOISE_LABEL
    return out


def heatmap(ctx: PageContext, by: str, key: str = "heatmap") -> None:
    """Theme × value of ``by``: counts, shares or deviation; ★ = not chance, △ = 参考値 (small counts)."""
    f, labels = ctx.filtered, _labels(ctx)
    h1, h2 = st.columns([3, 1])
    mode = h1.radio("表示する値", list(MODES), format_func=MODES.get, horizontal=True, key=f"{key}_mode")
    with_noise = h2.toggle("未分類も含める", value=False, key=f"{key}_noise")
    counts = overlaps.crosstab(f, by=by, include_noise=with_noise)
    if counts.empty or counts.to_numpy().sum() == 0:
        st.info("テーマに分類されたコメントがありません。")
        return
    matrix = {"counts": counts, "shares": overlaps.shares(counts, "index"),
              "residuals": overlaps.standardized_residuals(counts)}[mode]
    tests = overlaps.cell_tests(overlaps.crosstab(f, by=by, include_noise=True))
    marks = pd.DataFrame("", index=counts.index, columns=counts.columns)
    for _, t in tests.iterrows():
        if t["cluster"] in marks.index and t["value"] in marks.columns:
            marks.at[t["cluster"], t["value"]] = ("★" if t["significant"] else "") + ("△" if t["small"] and t["count"] else "")
    names = lambda c: labels.get(int(c), str(c))  # noqa: E731
    fig = charts.category_theme_heatmap(matrix.rename(index=names), mode, attribute=by, marks=marks.rename(index=names))
    st.plotly_chart(fig, key=key, config=charts.plotly_config(displayModeBar=False))
    st.caption("★: その値で特に多く、偶然とは言いにくい組み合わせ（多重比較の補正後）。△: 期待される件数が5件未満の参考値。"
               + (" 赤いほどその値で多め、青いほど少なめです。" if mode == "residuals" else ""))


def reach_table(ctx: PageContext, by: str) -> pd.DataFrame | None:
    """Shared (分野横断), particular (特有) or partly shared (一部共通), one consistent rule."""
    clustered = ctx.filtered[ctx.filtered["cluster"] != NOISE]
    if clustered.empty:
        st.info("テーマに分類されたコメントがありません。")
        return None
    reach = overlaps.category_reach(ctx.filtered, by)
    labels = _labels(ctx)
    view = reach.assign(
        label=reach["cluster"].map(labels),
        categories=reach["categories"].map(lambda v: "、".join(map(str, v))),
        certainty=[("参考値 " if small else "") + (f"{q:.3f}" if q == q else "—")
                   for q, small in zip(reach["top_q"], reach["top_small"])],
    )
    st.dataframe(view[["label", "kind", "n_categories", "categories", "top_category", "certainty", "size"]],
                 hide_index=True, key="reach_table", height=min(35 * (len(view) + 1) + 3, 600), column_config={
                     "label": st.column_config.TextColumn("テーマ", width="medium"),
                     "kind": st.column_config.TextColumn("種類", help="分野横断・特有・一部共通の決め方は「用語の説明」にあります。"),
                     "n_categories": st.column_config.NumberColumn(f"現れる{by}の数", format="%d"),
                     "categories": st.column_config.TextColumn(f"現れる{by}", width="medium"),
                     "top_category": st.column_config.TextColumn("いちばん多い値"),
                     "certainty": st.column_config.TextColumn("偶然の見込み", help=terms.help_for("差の確かさ")),
                     "size": st.column_config.NumberColumn("件数", format="%d"),
                 })
    n_small = int(reach["top_small"].sum())
    if n_small:
        st.caption(f"{n_small} 個のテーマでは、いちばん多い値の期待件数が5件未満です（参考値）。割合の差は大きく揺れるので、"
                   "コメントを読んで確かめてください。")
    return reach


def side_by_side(ctx: PageContext, by: str, reach: pd.DataFrame | None) -> None:
    """One theme, its most representative comment in each value of ``by``."""
    st.subheader("同じテーマを、値ごとに読み比べる", anchor=False)
    if reach is None or reach.empty:
        return
    labels = _labels(ctx)
    options = [int(c) for c in reach["cluster"]]
    f = ctx.filtered
    cluster = st.selectbox("テーマ", options, key="overlap_theme",
                           format_func=lambda c: f"{one_line(labels.get(c, c))}（{int((f['cluster'] == c).sum())}件）")
    st.caption(f"それぞれの{md_escape(by)}から、このテーマをいちばんよく表すコメントを1つずつ選んでいます。")
    per = data.quote_per_group(ctx.path, cluster, by, ids=ctx.filtered_ids)
    for start in range(0, len(per), 3):
        cols = st.columns(3)
        for col, (_, row) in zip(cols, per.iloc[start:start + 3].iterrows()):
            with col:
                st.markdown(f"**{md_escape(row[by])}**")
                cards.quote_card(row, attributes=[a for a in ctx.attributes if a != by], colors=ctx.value_colors)


def pairs(ctx: PageContext, by: str) -> None:
    """The most similar comment pairs coming from two different values."""
    st.subheader("2つの値で似ているコメントの組", anchor=False)
    st.caption(f"別々の{md_escape(by)}から寄せられたのに内容が近いコメントの組です。" + terms.TERMS["類似度"])
    values = [str(v) for v in overlaps.ordered_values(ctx.filtered[by], by)]
    if len(values) < 2:
        st.info("比べるには2つ以上の値が必要です（サイドバーの絞り込みを確認してください）。")
        return
    p1, p2, p3 = st.columns([2, 2, 1])
    a = p1.selectbox("値A", values, index=0, key="pair_a", format_func=one_line)
    b = p2.selectbox("値B", values, index=min(1, len(values) - 1), key="pair_b", format_func=one_line)
    k = p3.number_input("組の数", 1, 30, 5, key="pair_k")
    found = data.cross_pairs(ctx.path, a, b, by=by, k=int(k), ids=ctx.filtered_ids)
    by_id = ctx.table.set_index(ctx.table["comment_id"].astype(str))
    labels = _labels(ctx)
    for _, p in found.iterrows():
        st.markdown(f"類似度 **{p['similarity']:.2f}**")
        ca, cb = st.columns(2)
        for col, cid in ((ca, str(p["a_id"])), (cb, str(p["b_id"]))):
            with col:
                row = by_id.loc[cid]
                cards.quote_card(row, attributes=ctx.attributes, theme=labels.get(int(row["cluster"])), colors=ctx.value_colors)
