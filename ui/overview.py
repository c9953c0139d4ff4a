"""Sections of the 概要 page: what the data is, counts, the map, the ranked themes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.explore import overlaps
from analysis.report import charts
from analysis.schema import NOISE
from ui import cards, terms
from ui.sidebar import PageContext
from ui.text import md_escape, narrow_cards_html


def header(ctx: PageContext) -> None:
    """Title, the data set's own name and description (the seed's wording only on the seed)."""
    st.title("連携もやもやマップ")
    ds = ctx.run.dataset
    if ds["name"]:
        st.subheader(md_escape(ds["name"]), anchor=False)
    desc = ds["description"] or "自由記述のコメントを、内容の近さで自動的にテーマに分けて地図にしたものです。"
    st.caption(md_escape(desc) + " 左のサイドバーで属性や語句で絞り込めます（スマートフォンでは左上の » から）。")
    for notice in ctx.run.manifest.get("notices", []) + ctx.run.warnings:
        st.caption("ℹ️ " + md_escape(notice))


def metrics(ctx: PageContext) -> None:
    f = ctx.filtered
    cols = st.columns(4)
    cols[0].metric("コメント", f"{len(f):,} 件", help="絞り込み後の件数です。")
    cols[1].metric("テーマ", f"{f.loc[f['cluster'] != NOISE, 'cluster'].nunique()} 個", help=terms.help_for("テーマ"))
    noise = (f["cluster"] == NOISE).mean() if len(f) else 0.0
    cols[2].metric("未分類", f"{noise:.0%}", help=terms.help_for("未分類"))
    if ctx.primary:
        cols[3].metric(ctx.primary, f"{f[ctx.primary].nunique()} 種類")
    terms.explain("テーマ", "未分類")


def theme_map(ctx: PageContext) -> None:
    """The map of comments; box or lasso selection lists the selected comments below."""
    f = ctx.filtered
    st.subheader("テーマの地図", anchor=False)
    st.caption("点の1つひとつがコメントです。内容が近いコメントほど近くに置かれます。点にマウスを乗せる（スマートフォンでは"
               "タップする）と本文が読めます。囲んで選ぶと、下に選んだコメントが並びます。灰色の白抜きの点は未分類です。")
    options = ["theme", "broad"] + ctx.attributes
    names = {"theme": "テーマ", "broad": "大きなテーマ"}
    c1, c2 = st.columns([3, 1])
    color_by = c1.radio("色分け", options, format_func=lambda o: names.get(o, md_escape(o)), horizontal=True, key="map_color")
    legend_right = c2.toggle("凡例を地図の右に", key="map_legend_right",
                             help="広い画面では凡例を右に出せます。狭い画面（スマートフォン）では下のままが見やすくなります。")
    fig = charts.theme_map(f, color_by=color_by if color_by in options else "theme", attributes=ctx.attributes,
                           legend="right" if legend_right else "bottom", height=560 if legend_right else 700,
                           value_colors=ctx.value_colors)
    if len(f) > charts.MAP_MAX_POINTS:
        st.caption(f"コメントが多いため、地図には {len(f):,} 件から無作為に選んだ {charts.MAP_MAX_POINTS:,} 件を描いています"
                   "（テーマごとの割合はほぼ保たれます）。囲んで選べるのも描いた点だけです。テーマ別の件数や一覧はすべてのコメントで数えています。")
    event = st.plotly_chart(fig, key="theme_map", on_select="rerun", selection_mode=("box", "lasso"),
                            config=charts.plotly_config(modeBarButtonsToRemove=["toImage"]))
    selected = charts.selected_comment_ids(event)
    if selected:
        ids = set(f["comment_id"].astype(str))
        sel = f.set_index(f["comment_id"].astype(str)).loc[[i for i in selected if i in ids]]
        st.markdown(f"**選んだコメント: {len(sel)} 件**")
        cards.comments_table(sel.reset_index(drop=True), ["comment_id", "text", *ctx.attributes, "label"],
                             key="selected_table")
    else:
        st.caption("地図上で点を囲むと、ここに選んだコメントの一覧が出ます。")


def theme_list(ctx: PageContext) -> None:
    """Themes by size, with stability and how far each reaches across the primary attribute."""
    f, info = ctx.filtered, ctx.run.clusters.set_index("cluster")
    st.subheader("テーマの一覧", anchor=False)
    members = f[f["cluster"] != NOISE]
    if members.empty:
        st.info("絞り込み後のコメントにはテーマに分類されたものがありません。")
        return
    by = ctx.primary
    if by:
        st.caption(f"件数の多い順です。「現れる{md_escape(by)}の数」が多いテーマほど、分野を越えて共通するもやもやです。")
        rows = overlaps.category_reach(members, by)
        rows["categories"] = rows["categories"].map(lambda v: "、".join(map(str, v)))
    else:
        rows = members["cluster"].value_counts().rename_axis("cluster").reset_index(name="size")
    rows["label"] = rows["cluster"].map(info["label"])
    rows["keywords"] = rows["cluster"].map(lambda c: "、".join(info.at[c, "keywords"][:6]))
    rows = rows.sort_values("size", ascending=False, kind="stable")
    cols = ["label", "size"] + (["n_categories", "categories"] if by else []) + ["keywords"]
    if "stability" in info:
        rows["stability"] = rows["cluster"].map(info["stability"])
        cols.insert(2, "stability")
    config = {
        "label": st.column_config.TextColumn("テーマ", width="medium"),
        "size": st.column_config.NumberColumn("件数", format="%d"),
        "stability": st.column_config.NumberColumn("安定性", format="%.2f", help=terms.help_for("安定性")),
        "keywords": st.column_config.TextColumn("キーワード", width="large"),
    }
    if by:
        config["n_categories"] = st.column_config.ProgressColumn(
            f"現れる{by}の数", min_value=0, max_value=max(1, ctx.table[by].nunique()), format="%d")
        config["categories"] = st.column_config.TextColumn(f"現れる{by}", width="medium")
    with st.container(key="wide_table"):
        st.dataframe(rows[cols], hide_index=True, key="theme_list", height=min(35 * (len(rows) + 1) + 3, 720),
                     column_config=config)
    st.html(_theme_cards(rows, info, by))  # shown instead of the table on narrow screens (ui/look.py)
    n_noise = int((f["cluster"] == NOISE).sum())
    if n_noise:
        st.caption(f"このほか、未分類のコメントが {n_noise:,} 件あります（「テーマ」ページで読めます）。")


def _theme_cards(rows: pd.DataFrame, info: pd.DataFrame, by: str | None) -> str:
    """The theme list as cards for phones: name, size, where it appears, the summary quote."""
    cards = []
    for r in rows.itertuples():
        summary = info.at[r.cluster, "summary"] if "summary" in info.columns else ""
        where = f"・{by}: {r.categories}" if by else ""
        lines = [(f"{int(r.size)}件{where}", "font-size:0.8rem;color:#555")]
        if summary:
            lines.append((f"「{summary}」", "font-size:0.85rem;margin-top:2px"))
        cards.append((r.label, lines))
    return narrow_cards_html(cards)


def attribute_counts(ctx: PageContext) -> None:
    """Comments per value of the first attribute, split by the second (when the run has them)."""
    if not ctx.attributes:
        return
    f = ctx.filtered
    first = ctx.primary
    second = next((a for a in ctx.attributes if a != first), None)
    st.subheader(f"{md_escape(first)}ごとの件数", anchor=False)
    left, right = st.columns([1, 1])
    with left:
        st.plotly_chart(charts.attribute_bar(f, first, second, value_colors=ctx.value_colors), key="attr_bar", config=charts.plotly_config(displayModeBar=False))
    with right:
        if second:
            counts = pd.crosstab(f[first], f[second], margins=True, margins_name="合計")
            counts = counts.reindex(index=overlaps.ordered_values(f[first], first) + ["合計"],
                                    columns=overlaps.ordered_values(f[second], second) + ["合計"], fill_value=0)
        else:
            counts = f[first].value_counts().reindex(overlaps.ordered_values(f[first], first)).to_frame("件数")
        counts.index.name = first
        counts.columns.name = None
        st.dataframe(counts, key="counts_table")
