"""Sections of the テーマ page: one theme at a time — name, keywords, quotes, members, words in context."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from analysis.report import charts
from analysis.schema import NOISE, NOISE_LABEL, ordered_values, stability_word
from analysis.store.runs import RunError, rename_cluster
from ui import auth, cards, data, state, terms
from ui.sidebar import PageContext
from ui.text import md_escape, one_line


@dataclass
class Theme:
    cluster: int
    info: pd.Series | None  # the clusters-table row (None for 未分類)
    members: pd.DataFrame  # filtered rows of the theme

    @property
    def member_ids(self) -> list[str]:
        return self.members["comment_id"].astype(str).tolist()


def _forget_missing(key: str, options: list[int]) -> None:
    """Drop a remembered choice that is no longer offered (curation changes the themes)."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def pick(ctx: PageContext) -> Theme:
    """Broad theme, then theme (sizes count the filtered comments)."""
    clusters = ctx.run.clusters.sort_values(["size", "cluster"], ascending=[False, True])
    sizes = ctx.filtered["cluster"].value_counts()
    broad_sizes = clusters.groupby("parent", sort=False)["size"].sum().sort_values(ascending=False)
    broad_options = [int(b) for b in broad_sizes.index] + ([NOISE] if (ctx.table["cluster"] == NOISE).any() else [])
    broad_names = dict(zip(clusters["parent"].astype(int), clusters["parent_label"]))
    labels = dict(zip(clusters["cluster"].astype(int), clusters["label"]))

    def broad_label(b: int) -> str:
        if b == NOISE:
            return f"{NOISE_LABEL}（{int(sizes.get(NOISE, 0))}件）"
        n = int(sizes[sizes.index.isin(clusters.loc[clusters["parent"] == b, "cluster"])].sum())
        return f"{one_line(broad_names.get(b, b))}（{n}件）"

    def theme_label(c: int) -> str:
        name = NOISE_LABEL if c == NOISE else labels.get(c, f"テーマ{c}")
        return f"{one_line(name)}（{int(sizes.get(c, 0))}件）"

    a, b = st.columns(2)
    _forget_missing("theme_broad", broad_options)  # a theme merged away or a split undone by someone
    broad = a.selectbox("大きなテーマ", broad_options, format_func=broad_label, key="theme_broad",
                        help=terms.help_for("大きなテーマ"))
    options = [NOISE] if broad == NOISE else [int(c) for c in clusters.loc[clusters["parent"] == broad, "cluster"]]
    _forget_missing(f"theme_pick_{broad}", options)
    cluster = int(b.selectbox("テーマ", options, format_func=theme_label, key=f"theme_pick_{broad}",
                              help=terms.help_for("テーマ")))
    info = clusters.set_index("cluster").loc[cluster] if cluster != NOISE else None
    return Theme(cluster, info, ctx.filtered[ctx.filtered["cluster"] == cluster])


def _rename(ctx: PageContext, cluster: int, name: str | None = None, key: str | None = None) -> None:
    """Save a theme name (callback): the typed value is read when the button is pressed."""
    if auth.refused("テーマの名前の変更"):
        return
    if name is None:
        name = str(st.session_state.get(key, ""))
    try:
        rename_cluster(data.get_run(ctx.path), cluster, name)
    except RunError as exc:
        state.warn_once(str(exc))
        return
    data.clear_caches()
    state.flash("テーマの名前を保存しました。" if name.strip() else "自動で付いた名前に戻しました。")


def heading(ctx: PageContext, theme: Theme) -> None:
    """The theme's name, its keywords and (for analysts) renaming."""
    st.header(md_escape(ctx.run.label_of(theme.cluster)), anchor=False)
    if theme.info is None:
        st.info(terms.TERMS["未分類"])
        return
    st.caption("キーワード: " + md_escape("、".join(theme.info["keywords"])))
    if not auth.viewer().can_analyse:
        return
    with st.expander("テーマの名前を変える", icon=":material/edit:"):
        key = f"rename_{ctx.run_id}_{theme.cluster}"
        st.text_input("新しい名前", value=str(theme.info["label"]), key=key, max_chars=60)
        b1, b2 = st.columns(2)
        b1.button("名前を保存", key="rename_save", type="primary", on_click=_rename, args=(ctx, theme.cluster, None, key))
        b2.button("自動で付いた名前に戻す", key="rename_reset", on_click=_rename, args=(ctx, theme.cluster, ""))
        st.caption(f"自動で付いた名前: {md_escape(theme.info['auto_label'])}。名前は分析結果と一緒に保存され、"
                   "ほかの利用者にも表示されます。")


def figures(ctx: PageContext, theme: Theme) -> None:
    """Counts, stability and how the theme spreads over the attributes."""
    m = theme.members
    cols = st.columns([1, 1, 1, 2])
    cols[0].metric("コメント", f"{len(m):,} 件", help="絞り込み後の件数です。" if ctx.filters.active else None)
    if ctx.primary:
        cols[1].metric(f"現れる{ctx.primary}", f"{m[ctx.primary].nunique()} / {ctx.table[ctx.primary].nunique()}")
    value = None if theme.info is None else theme.info.get("stability")
    missing = value is None or value != value
    cols[2].metric("安定性", "—" if missing else f"{value:.2f}", help=terms.help_for("安定性"))
    cols[2].caption("未計算（「データと再分析」で測れます）" if missing else stability_word(value))
    second = next((a for a in ctx.attributes if a != ctx.primary), None)
    if second:
        with cols[3]:
            st.caption(f"{md_escape(second)}の内訳")
            st.markdown("　".join(f"{md_escape(r)} **{n}**件" for r, n in m[second].value_counts().items()) or "—")


def keywords_and_mix(ctx: PageContext, theme: Theme) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("キーワード", anchor=False)
        if theme.info is not None and theme.info["keywords"]:
            counts = data.keyword_counts(ctx.path, list(theme.info["keywords"]), theme.member_ids)
            st.plotly_chart(charts.keyword_bar(counts["word"], counts["count"], "このテーマで含むコメントの件数"),
                            key="kw_bar", config=charts.plotly_config(displayModeBar=False))
        else:
            st.caption("未分類にはキーワードがありません。")
    if ctx.primary:
        with right:
            st.subheader(f"{md_escape(ctx.primary)}の内訳", anchor=False)
            mix = theme.members[ctx.primary].value_counts().reindex(
                ordered_values(ctx.table[ctx.primary], ctx.primary), fill_value=0)
            st.plotly_chart(charts.category_mix_bar(mix, colors=ctx.value_colors.get(ctx.primary)), key="mix_bar", config=charts.plotly_config(displayModeBar=False))


def quotes(ctx: PageContext, theme: Theme) -> None:
    st.subheader("代表的な声", anchor=False)
    note = " 黄色の部分は、元の資料で強調されていた箇所です。" if ctx.run.dataset["kind"] == "seed" else ""
    st.caption(terms.TERMS["代表的な声"] + note)
    n_key = f"n_quotes::{ctx.run_id}::{theme.cluster}"
    n_show = st.session_state.get(n_key, 5)
    rows = data.representative(ctx.path, theme.cluster, k=n_show, ids=theme.member_ids)
    cards.quote_cards(rows, attributes=ctx.attributes, query_words=ctx.filters.words, colors=ctx.value_colors)
    if n_show < len(theme.members):
        if st.button(f"もっと見る（あと {len(theme.members) - n_show} 件）", key="more_quotes"):
            st.session_state[n_key] = n_show + 5
            st.rerun()


def members(ctx: PageContext, theme: Theme) -> None:
    with st.expander(f"このテーマのコメントすべて（{len(theme.members)} 件・列名をクリックで並べ替え）",
                     icon=":material/table:"):
        cards.comments_table(theme.members.sort_values("strength", ascending=False),
                             ["comment_id", "text", *ctx.attributes, "strength"], key="members_table")
        st.caption("当てはまりの強さ: そのコメントがどれだけはっきりこのテーマに属しているか（0〜1）。")


def words_in_context(ctx: PageContext, theme: Theme) -> None:
    """Where a word appears in the theme's comments, with its neighbours (a concordance)."""
    st.subheader("言葉の使われ方", anchor=False)
    st.caption("選んだ言葉が、このテーマのコメントの中でどんな前後の文脈で使われているかを一覧にします。")
    k1, k2 = st.columns([1, 2])
    choices = (list(theme.info["keywords"]) if theme.info is not None else []) + ["（自分で入力）"]
    pick = k1.selectbox("言葉", choices, key=f"kwic_pick_{theme.cluster}", format_func=one_line)
    word = k2.text_input("言葉を入力", key="kwic_word", placeholder="例: 会議") if pick == "（自分で入力）" else pick
    if not word:
        return
    conc = data.kwic(ctx.path, word, ids=theme.member_ids)
    if conc.empty:
        st.caption(f"このテーマのコメントには「{md_escape(word)}」が出てきません。")
        return
    config = {
        "left": st.column_config.TextColumn("前の文脈", alignment="right", width="medium"),
        "word": st.column_config.TextColumn("語", alignment="center", width="small"),
        "right": st.column_config.TextColumn("後の文脈", width="medium"),
        "comment_id": st.column_config.TextColumn("ID", width="small"),
    }
    st.dataframe(conc[["left", "word", "right", *ctx.attributes[:1], "comment_id"]], hide_index=True,
                 key="kwic_table", column_config=config)


def similar_themes(ctx: PageContext, theme: Theme) -> None:
    if theme.cluster == NOISE:
        return
    st.subheader("内容の近いテーマ", anchor=False)
    sim = data.similar_clusters(ctx.path, theme.cluster, k=3)
    if sim.empty:
        st.caption("ほかにテーマがありません。")
        return
    info = ctx.run.clusters.set_index("cluster")
    sim = sim.assign(label=sim["cluster"].map(info["label"]), size=sim["cluster"].map(info["size"]))
    st.dataframe(sim[["label", "similarity", "size"]], hide_index=True, key="similar_themes", column_config={
        "label": st.column_config.TextColumn("テーマ", width="large"),
        "similarity": st.column_config.ProgressColumn("類似度", min_value=0.0, max_value=1.0, format="%.2f",
                                                      help=terms.help_for("類似度")),
        "size": st.column_config.NumberColumn("件数", format="%d"),
    })
