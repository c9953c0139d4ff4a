"""概要: counts, the theme map with lasso selection, and the ranked list of themes."""

import pandas as pd
import streamlit as st

from analysis import charts, overlaps
from ui import cards, terms
from ui.sidebar import page_context

st.title("連携もやもやマップ")
st.caption(
    "重層的支援体制整備事業で寄せられた「連携のもやもや」の自由記述を、内容の近さで自動的に"
    "テーマに分けて地図にしたものです。左のサイドバーで連携の分類や回答者を絞り込めます。"
)

ctx = page_context()
t, f = ctx.table, ctx.filtered
q = ctx.run.manifest.get("quality", {})

c1, c2, c3, c4 = st.columns(4)
c1.metric("コメント", f"{len(f)} 件", help="絞り込み後の件数です。")
c2.metric("テーマ", f"{f.loc[f['cluster'] != -1, 'cluster'].nunique()} 個", help=terms.help_for("テーマ"))
noise = (f["cluster"] == -1).mean() if len(f) else 0.0
c3.metric("未分類", f"{noise:.0%}", help=terms.help_for("未分類"))
c4.metric("連携の分類", f"{f['category'].nunique()} 種類")
terms.explain("テーマ", "未分類")

if f.empty:
    st.warning("絞り込みの条件に合うコメントがありません。サイドバーの条件をゆるめてください。")
    st.stop()

# ------------------------------------------------------------------ map
st.subheader("テーマの地図")
st.caption(
    "点の1つひとつがコメントです。内容が近いコメントほど近くに置かれます。点にマウスを乗せると本文が"
    "読めます。囲んで（投げ縄・四角）選ぶと、下に選んだコメントが並びます。灰色の白抜きの点は未分類です。"
)
color_by = st.radio(
    "色分け",
    ["theme", "broad", "category", "role"],
    format_func={"theme": "テーマ", "broad": "大きなテーマ", "category": "連携の分類", "role": "回答者"}.get,
    horizontal=True,
    key="map_color",
)
fig = charts.theme_map(f, color_by=color_by)
event = st.plotly_chart(
    fig, key="theme_map", on_select="rerun", selection_mode=("box", "lasso"),
    config={"displaylogo": False, "modeBarButtonsToRemove": ["toImage"]},
)
selected = charts.selected_comment_ids(event)
if selected:
    sel = f.set_index(f["comment_id"].astype(str)).loc[[i for i in selected if i in set(f["comment_id"].astype(str))]]
    st.markdown(f"**選んだコメント: {len(sel)} 件**")
    cards.comments_table(sel.reset_index(drop=True), ["comment_id", "text", "category", "role", "label"], key="selected_table")
else:
    st.caption("地図上で点を囲むと、ここに選んだコメントの一覧が出ます。")

# ------------------------------------------------------------------ ranked themes
st.subheader("テーマの一覧")
st.caption("件数の多い順です。「現れる分類の数」が多いテーマほど、分野を越えて共通するもやもやです。")
reach = overlaps.category_reach(f[f["cluster"] != -1]) if (f["cluster"] != -1).any() else pd.DataFrame()
if reach.empty:
    st.info("絞り込み後のコメントにはテーマに分類されたものがありません。")
else:
    info = ctx.run.clusters.set_index("cluster")
    reach["label"] = reach["cluster"].map(info["label"])
    reach["keywords"] = reach["cluster"].map(lambda c: "、".join(info.at[c, "keywords"][:6]))
    reach["categories"] = reach["categories"].map(lambda v: "、".join(v))
    reach = reach.sort_values(["size", "n_categories"], ascending=False, kind="stable")
    cols = ["label", "size", "n_categories", "categories", "keywords"]
    if "stability" in info:  # measured for the default run and on request (データと再分析)
        reach["stability"] = reach["cluster"].map(info["stability"])
        cols.insert(2, "stability")
    st.dataframe(
        reach[cols],
        hide_index=True,
        key="theme_list",
        height=35 * (len(reach) + 1) + 3,
        column_config={
            "label": st.column_config.TextColumn("テーマ", width="medium"),
            "size": st.column_config.NumberColumn("件数"),
            "stability": st.column_config.NumberColumn("安定性", format="%.2f", help=terms.help_for("安定性")),
            "n_categories": st.column_config.ProgressColumn(
                "現れる分類の数", min_value=0, max_value=max(1, t["category"].nunique()), format="%d"
            ),
            "categories": st.column_config.TextColumn("現れる分類", width="medium"),
            "keywords": st.column_config.TextColumn("キーワード", width="large"),
        },
    )
n_noise = int((f["cluster"] == -1).sum())
if n_noise:
    st.caption(f"このほか、未分類のコメントが {n_noise} 件あります（「テーマ」ページで読めます）。")

# ------------------------------------------------------------------ counts
st.subheader("分類と回答者ごとの件数")
left, right = st.columns([1, 1])
with left:
    st.plotly_chart(charts.category_role_bar(f), key="cat_role_bar", config={"displayModeBar": False})
with right:
    counts = pd.crosstab(f["category"], f["role"], margins=True, margins_name="合計")
    cat_order = overlaps.ordered_values(f["category"], "category") + ["合計"]
    role_order = overlaps.ordered_values(f["role"], "role") + ["合計"]
    counts = counts.reindex(index=cat_order, columns=role_order, fill_value=0)
    counts.index.name = "連携の分類"
    counts.columns.name = None
    st.dataframe(counts, key="counts_table")
