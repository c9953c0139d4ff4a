"""分野横断: which frustrations are shared across partnership categories and which are particular."""

import streamlit as st

from analysis import charts, overlaps
from analysis.corpus import ROLE_AGENCY, ROLE_GOV
from analysis.runs import NOISE
from ui import cards, data, terms
from ui.sidebar import page_context
from ui.text import md_escape

st.title("分野を越えて共通するもやもや")
ctx = page_context()
run, t, f, path = ctx.run, ctx.table, ctx.filtered, ctx.path
terms.explain("分野横断", "特有", "標準化残差")
ids = ctx.filtered_ids
labels = dict(zip(run.clusters["cluster"].astype(int), run.clusters["label"]))
labels[NOISE] = "未分類"

if f.empty:
    st.warning("絞り込みの条件に合うコメントがありません。")
    st.stop()

# ------------------------------------------------------------------ heatmap
st.subheader("テーマ × 連携の分類", anchor=False)
h1, h2 = st.columns([3, 1])
mode = h1.radio(
    "表示する値",
    ["counts", "shares", "residuals"],
    format_func={"counts": "件数", "shares": "テーマ内の割合", "residuals": "標準化残差（多い・少ない）"}.get,
    horizontal=True,
    key="heat_mode",
)
with_noise = h2.toggle("未分類も含める", value=False, key="heat_noise")
counts = overlaps.crosstab(f, by="category", include_noise=with_noise)
if counts.empty:
    st.info("テーマに分類されたコメントがありません。")
else:
    matrix = {"counts": counts, "shares": overlaps.shares(counts, "index"),
              "residuals": overlaps.standardized_residuals(counts)}[mode]
    matrix = matrix.rename(index=lambda c: labels.get(int(c), str(c)))
    st.plotly_chart(charts.category_theme_heatmap(matrix, mode), key="heatmap", config={"displayModeBar": False})
    if mode == "residuals":
        st.caption("赤いほど「その分類で特に多い」、青いほど「特に少ない」テーマです。±1.96 を超えると偶然とは言いにくい差です。")
    elif mode == "shares":
        st.caption("各テーマ（行）のコメントが、どの分類から来ているかの割合です。行ごとに合計 100% になります。")

# ------------------------------------------------------------------ reach ranking
st.subheader("分類をまたぐテーマ・特有のテーマ", anchor=False)
clustered = f[f["cluster"] != NOISE]
reach = overlaps.category_reach(clustered) if len(clustered) else None
if reach is None or reach.empty:
    st.info("テーマに分類されたコメントがありません。")
else:
    reach["label"] = reach["cluster"].map(labels)
    reach["categories"] = reach["categories"].map("、".join)
    st.dataframe(
        reach[["label", "kind", "n_categories", "categories", "top_category", "top_residual", "size"]],
        hide_index=True,
        key="reach_table",
        height=35 * (len(reach) + 1) + 3,
        column_config={
            "label": st.column_config.TextColumn("テーマ", width="medium"),
            "kind": st.column_config.TextColumn("種類", help="分野横断: 3分類以上に現れる ／ 特有: ある分類で特に多い ／ 一部共通: それ以外"),
            "n_categories": st.column_config.NumberColumn("現れる分類の数"),
            "categories": st.column_config.TextColumn("現れる分類", width="medium"),
            "top_category": st.column_config.TextColumn("いちばん多い分類"),
            "top_residual": st.column_config.NumberColumn("標準化残差", format="%+.1f", help=terms.help_for("標準化残差")),
            "size": st.column_config.NumberColumn("件数"),
        },
    )

# ------------------------------------------------------------------ side by side
st.subheader("同じテーマを、分類ごと・立場ごとに読み比べる", anchor=False)
options = [int(c) for c in (reach["cluster"] if reach is not None and not reach.empty else [])]
if options:
    cluster = st.selectbox("テーマ", options, format_func=lambda c: f"{labels.get(c, c)}（{int((f['cluster'] == c).sum())}件）",
                           key="overlap_theme")
    tab_cat, tab_role = st.tabs(["連携の分類ごと", "行政職員と専門機関職員"])
    with tab_cat:
        st.caption("それぞれの分類から、このテーマをいちばんよく表すコメントを1つずつ選んでいます。")
        per = data.quote_per_group(path, cluster, "category", ids=ids)
        for start in range(0, len(per), 4):
            cols = st.columns(4)
            for col, (_, row) in zip(cols, per.iloc[start:start + 4].iterrows()):
                with col:
                    st.markdown(f"**{md_escape(row['category'])}**")
                    cards.quote_card(row)
    with tab_role:
        st.caption("同じもやもやを、行政の側と専門機関の側がそれぞれどう語っているかを並べます。")
        per_role = data.quote_per_group(path, cluster, "role", ids=ids).set_index("role", drop=False)
        cols = st.columns(2)
        for col, role in zip(cols, (ROLE_GOV, ROLE_AGENCY)):
            with col:
                st.markdown(f"**{role}**")
                if role in per_role.index:
                    cards.quote_card(per_role.loc[role])
                else:
                    st.caption(f"このテーマには{role}の回答がありません。")

# ------------------------------------------------------------------ pairs
st.subheader("2つの分類で似ているコメントの組", anchor=False)
st.caption("別々の分類から寄せられたのに内容が近いコメントの組です。" + terms.TERMS["類似度"])
cats = [str(c) for c in overlaps.ordered_values(f["category"], "category")]
if len(cats) < 2:
    st.info("比べるには2つ以上の分類が必要です（サイドバーの絞り込みを確認してください）。")
else:
    p1, p2, p3 = st.columns([2, 2, 1])
    cat_a = p1.selectbox("分類A", cats, index=0, key="pair_a")
    cat_b = p2.selectbox("分類B", cats, index=min(1, len(cats) - 1), key="pair_b")
    k = p3.number_input("組の数", 1, 30, 5, key="pair_k")
    pairs = data.cross_pairs(path, cat_a, cat_b, k=int(k), ids=ids)
    byid = t.set_index(t["comment_id"].astype(str))
    for _, p in pairs.iterrows():
        st.markdown(f"類似度 **{p['similarity']:.2f}**")
        ca, cb = st.columns(2)
        with ca:
            cards.quote_card(byid.loc[str(p["a_id"])], theme=labels.get(int(byid.at[str(p["a_id"]), "cluster"])))
        with cb:
            cards.quote_card(byid.loc[str(p["b_id"])], theme=labels.get(int(byid.at[str(p["b_id"]), "cluster"])))
