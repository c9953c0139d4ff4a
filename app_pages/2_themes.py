"""テーマ: one theme at a time — keywords, representative quotes, members, KWIC, similar themes."""

import streamlit as st

from analysis import charts
from analysis.overlaps import ordered_values
from analysis.runs import NOISE, rename_cluster
from ui import cards, data, state, terms
from ui.sidebar import page_context
from ui.text import md_escape

st.title("テーマを読む")
ctx = page_context()
run, t, f, path = ctx.run, ctx.table, ctx.filtered, ctx.path
terms.explain("テーマ", "大きなテーマ", "代表的な声", "類似度", "安定性")

clusters = run.clusters.sort_values(["size", "cluster"], ascending=[False, True])
sizes_f = f["cluster"].value_counts()

# ------------------------------------------------------------------ navigation: broad -> theme
broad_sizes = clusters.groupby("parent", sort=False)["size"].sum().sort_values(ascending=False)
broad_options = [int(b) for b in broad_sizes.index] + ([NOISE] if (t["cluster"] == NOISE).any() else [])
broad_names = dict(zip(clusters["parent"].astype(int), clusters["parent_label"]))


def broad_label(b: int) -> str:
    if b == NOISE:
        return f"未分類（{int(sizes_f.get(NOISE, 0))}件）"
    n = int(sizes_f[sizes_f.index.isin(clusters.loc[clusters['parent'] == b, 'cluster'])].sum())
    return f"{broad_names.get(b, b)}（{n}件）"


col_a, col_b = st.columns(2)
broad = col_a.selectbox("大きなテーマ", broad_options, format_func=broad_label, key="theme_broad",
                        help=terms.help_for("大きなテーマ"))
if broad == NOISE:
    theme_options = [NOISE]
else:
    theme_options = [int(c) for c in clusters.loc[clusters["parent"] == broad, "cluster"]]
labels = dict(zip(clusters["cluster"].astype(int), clusters["label"]))


def theme_label(c: int) -> str:
    name = "未分類" if c == NOISE else labels.get(c, f"テーマ{c}")
    return f"{name}（{int(sizes_f.get(c, 0))}件）"


cluster = col_b.selectbox("テーマ", theme_options, format_func=theme_label, key=f"theme_pick_{broad}",
                          help=terms.help_for("テーマ"))
cluster = int(cluster)
info = clusters.set_index("cluster").loc[cluster] if cluster != NOISE else None
members = f[f["cluster"] == cluster]
member_ids = members["comment_id"].astype(str).tolist()

def stability_text(row) -> tuple[str, str]:
    """(「0.82」, 「安定」), or a dash when the run has no stability figures (see データと再分析)."""
    value = None if row is None else row.get("stability")
    if value is None or value != value:  # missing or NaN
        return "—", "未計算（「データと再分析」で測れます）"
    word = "安定" if value >= 0.8 else ("やや安定" if value >= 0.5 else "変わりやすい")
    return f"{value:.2f}", word


# ------------------------------------------------------------------ header + rename
st.header(md_escape(run.label_of(cluster)), anchor=False)
if cluster == NOISE:
    st.info(terms.TERMS["未分類"])
else:
    kw = list(info["keywords"])
    st.caption("キーワード: " + md_escape("、".join(kw)))
    with st.expander("テーマの名前を変える", icon=":material/edit:"):
        new_name = st.text_input("新しい名前", value=str(info["label"]), key=f"rename_{run.run_id}_{cluster}",
                                 max_chars=60)
        b1, b2 = st.columns(2)
        if b1.button("名前を保存", key="rename_save", type="primary"):
            rename_cluster(data.get_run(path), cluster, new_name)
            data.clear_caches()
            state.flash("テーマの名前を保存しました。")
            st.rerun()
        if b2.button("自動で付いた名前に戻す", key="rename_reset"):
            rename_cluster(data.get_run(path), cluster, "")
            data.clear_caches()
            state.flash(f"名前を「{md_escape(info['auto_label'])}」に戻しました。")
            st.rerun()
        st.caption(f"自動で付いた名前: {md_escape(info['auto_label'])}。名前は分析結果と一緒に保存されます。")

m1, m2, m3, m4 = st.columns([1, 1, 1, 2])
m1.metric("コメント", f"{len(members)} 件", help="絞り込み後の件数です。" if ctx.filters.active else None)
m2.metric("現れる分類", f"{members['category'].nunique()} / {t['category'].nunique()}")
stab_value, stab_word = stability_text(info)
m3.metric("安定性", stab_value, help=terms.help_for("安定性"))
m3.caption(stab_word)
with m4:
    st.caption("回答者の内訳")
    st.markdown("　".join(f"{md_escape(r)} **{n}**件" for r, n in members["role"].value_counts().items()) or "—")

if members.empty:
    st.warning("絞り込みの条件に合うコメントがこのテーマにはありません。")
    st.stop()

# ------------------------------------------------------------------ keywords + category mix
left, right = st.columns(2)
with left:
    st.subheader("キーワード", anchor=False)
    if cluster != NOISE and kw:
        counts = data.keyword_counts(path, kw, member_ids)
        st.plotly_chart(charts.keyword_bar(counts["word"], counts["count"], "このテーマで含むコメントの件数"),
                        key="kw_bar", config={"displayModeBar": False})
    else:
        st.caption("未分類にはキーワードがありません。")
with right:
    st.subheader("連携の分類の内訳", anchor=False)
    mix = members["category"].value_counts().reindex(ordered_values(t["category"], "category"), fill_value=0)
    st.plotly_chart(charts.category_mix_bar(mix), key="mix_bar", config={"displayModeBar": False})

# ------------------------------------------------------------------ representative quotes
st.subheader("代表的な声", anchor=False)
st.caption(terms.TERMS["代表的な声"] + " 黄色の部分は、元の資料で強調されていた箇所です。")
n_key = f"n_quotes::{run.run_id}::{cluster}"
n_show = st.session_state.get(n_key, 5)
quotes = data.representative(path, cluster, k=n_show, ids=member_ids)
cards.quote_cards(quotes, query_words=ctx.filters.words)
if n_show < len(members):
    if st.button(f"もっと見る（あと {len(members) - min(n_show, len(members))} 件）", key="more_quotes"):
        st.session_state[n_key] = n_show + 5
        st.rerun()

# ------------------------------------------------------------------ all members
with st.expander(f"このテーマのコメントすべて（{len(members)} 件・列名をクリックで並べ替え）", icon=":material/table:"):
    cards.comments_table(members.sort_values("strength", ascending=False),
                         ["comment_id", "text", "category", "role", "strength"], key="members_table")
    st.caption("所属の強さ: そのコメントがどれだけはっきりこのテーマに属しているか（0〜1）。")

# ------------------------------------------------------------------ KWIC
st.subheader("言葉の使われ方（KWIC）", anchor=False)
st.caption("選んだ言葉が、このテーマのコメントの中でどんな前後の文脈で使われているかを一覧にします。")
k1, k2 = st.columns([1, 2])
word_choices = (kw if cluster != NOISE else []) + ["（自分で入力）"]
pick = k1.selectbox("言葉", word_choices, key=f"kwic_pick_{cluster}")
word = k2.text_input("言葉を入力", key="kwic_word", placeholder="例: 会議") if pick == "（自分で入力）" else pick
if word:
    conc = data.kwic(path, word, ids=member_ids)
    if conc.empty:
        st.caption(f"このテーマのコメントには「{md_escape(word)}」がそのままの形では出てきません"
                   "（活用した形で使われていることがあります）。")
    else:
        st.dataframe(
            conc[["left", "word", "right", "category", "comment_id"]],
            hide_index=True,
            key="kwic_table",
            column_config={
                "left": st.column_config.TextColumn("前の文脈", alignment="right", width="medium"),
                "word": st.column_config.TextColumn("語", alignment="center", width="small"),
                "right": st.column_config.TextColumn("後の文脈", width="medium"),
                "category": st.column_config.TextColumn("連携の分類"),
                "comment_id": st.column_config.TextColumn("ID", width="small"),
            },
        )

# ------------------------------------------------------------------ similar themes
if cluster != NOISE:
    st.subheader("内容の近いテーマ", anchor=False)
    sim = data.similar_clusters(path, cluster, k=3)
    if sim.empty:
        st.caption("ほかにテーマがありません。")
    else:
        sim["label"] = sim["cluster"].map(labels)
        sim["size"] = sim["cluster"].map(dict(zip(clusters["cluster"], clusters["size"])))
        st.dataframe(
            sim[["label", "similarity", "size"]],
            hide_index=True,
            key="similar_themes",
            column_config={
                "label": st.column_config.TextColumn("テーマ", width="large"),
                "similarity": st.column_config.ProgressColumn("類似度", min_value=0.0, max_value=1.0, format="%.2f",
                                                              help=terms.help_for("類似度")),
                "size": st.column_config.NumberColumn("件数"),
            },
        )
