"""研修用の事例選び: find quotes, build a shortlist with notes, export it as a handout."""

import streamlit as st

from analysis.runs import NOISE
from ui import cards, data, state, terms
from ui.sidebar import page_context
from ui.state import add_to_shortlist, in_shortlist
from ui.text import matches_query, md_escape, query_words

st.title("研修用の事例選び")
st.caption(
    "研修で話し合いの材料にするコメントを選び、メモを付けて、配布資料（Word）や CSV・Markdown に"
    "書き出せます。選んだコメント（候補リスト）はページを移動しても残ります。"
)
ctx = page_context()
run, t, f, path, run_id = ctx.run, ctx.table, ctx.filtered, ctx.path, ctx.run_id
labels = dict(zip(run.clusters["cluster"].astype(int), run.clusters["label"]))
labels[NOISE] = "未分類"
KEY_MORE = "trainer_more_like"
KEY_LIMIT = "trainer_limit"
KEY_SUGGESTED = "trainer_suggested"
KEY_TAB = "trainer_tab"
KEY_LIKE_MODE = "trainer_like_mode"
KEY_MEANING = "trainer_meaning_query"


def _record(row) -> dict:
    return {k: row[k] for k in ("comment_id", "text", "category", "role", "label")}


def _more_like(cid: str) -> None:
    st.session_state[KEY_MORE] = cid
    st.session_state[KEY_LIKE_MODE] = "comment"
    st.session_state[KEY_TAB] = "似たコメント"


def card_row(row, key: str, extra: str | None = None) -> None:
    """A quote card with "add" and "more like this" buttons."""
    c_card, c_btn = st.columns([6, 1], vertical_alignment="center")
    with c_card:
        cards.quote_card(row, theme=row.get("label"), extra=extra, query_words=ctx.filters.words)
    with c_btn:
        cid = str(row["comment_id"])
        added = in_shortlist(run_id, cid)
        st.button("追加済み" if added else "候補に追加", key=f"add_{key}_{cid}", disabled=added,
                  on_click=add_to_shortlist, args=(run_id, _record(row)), icon=":material/playlist_add:",
                  width="stretch")
        st.button("似たもの", key=f"like_{key}_{cid}", on_click=_more_like, args=(cid,),
                  help="このコメントと内容の近いコメントを「似たコメント」タブに出します。",
                  icon=":material/manage_search:", width="stretch")


TABS = ["探す", "似たコメント", "バランスよく選ぶ", "候補リストと書き出し"]
st.caption(f"候補リスト: **{len(state.shortlist())}** 件")

# ------------------------------------------------------------------ search by words
def find_tab() -> None:
    s1, s2 = st.columns([2, 3])
    local_q = s1.text_input("語句で探す", key="trainer_query", placeholder="例: たらい回し")
    theme_ids = [int(c) for c in run.clusters.sort_values("size", ascending=False)["cluster"]] + [NOISE]
    pick_themes = s2.multiselect("テーマで絞る", theme_ids, format_func=lambda c: labels.get(c, str(c)),
                                 key="trainer_themes", placeholder="すべてのテーマ")
    hits = f
    words = query_words(local_q)
    if words:
        hits = hits[hits["text"].map(lambda x: matches_query(x, words))]
    if pick_themes:
        hits = hits[hits["cluster"].isin(pick_themes)]
    limit = st.session_state.get(KEY_LIMIT, 10)
    st.caption(f"{len(hits)} 件見つかりました。")
    for _, row in hits.head(limit).iterrows():
        card_row(row, "find")
    if len(hits) > limit:
        if st.button(f"さらに表示（残り {len(hits) - limit} 件）", key="trainer_more"):
            st.session_state[KEY_LIMIT] = limit + 10
            st.rerun()

# ------------------------------------------------------------------ more like this (by meaning)
def like_tab() -> None:
    st.caption("意味の近いコメントを探します（言葉が違っていても内容が近ければ見つかります）。" + terms.TERMS["類似度"])
    mode = st.radio("もとにするもの", ["comment", "words"], horizontal=True, key=KEY_LIKE_MODE,
                    format_func={"comment": "コメントを選ぶ", "words": "自分の言葉で書く"}.get)
    n_like = st.slider("表示する件数", 3, 20, 5, key="trainer_like_n")
    if mode == "words":
        words_like(n_like)
        return
    all_ids = t["comment_id"].astype(str).tolist()
    preview = dict(zip(all_ids, t["text"].astype(str).str.replace("\n", " ").str.slice(0, 40)))
    if st.session_state.get(KEY_MORE) not in all_ids:
        st.session_state[KEY_MORE] = all_ids[0]
    base_id = st.selectbox("もとにするコメント", all_ids, format_func=lambda c: f"{c}: {preview[c]}…", key=KEY_MORE)
    base = t[t["comment_id"].astype(str) == base_id].iloc[0]
    cards.quote_card(base, theme=base["label"])
    similar = data.similar_to(path, base_id, k=n_like, ids=ctx.filtered_ids)
    st.markdown("**似たコメント**")
    for _, row in similar.iterrows():
        card_row(row, "like", extra=f"類似度 {row['similarity']:.2f}")


def words_like(n_like: int) -> None:
    """Search by meaning from typed words: loads the run's embedding model on the first search only."""
    from analysis.embedding import EmbeddingError

    with st.form("trainer_meaning_form", border=False):
        query = st.text_area("探したい内容", key="trainer_meaning_input", height=80,
                             placeholder="例: 個人情報を共有できず、支援が進まない")
        submitted = st.form_submit_button("意味の近いコメントを探す", type="primary", icon=":material/manage_search:",
                                          key="trainer_meaning_go")
    if submitted:
        st.session_state[KEY_MEANING] = (run_id, query.strip())
    saved = st.session_state.get(KEY_MEANING)
    if not saved or saved[0] != run_id or not saved[1]:
        st.caption("文を入力して「意味の近いコメントを探す」を押してください。"
                   "はじめての検索では文の意味を読み取るモデルを準備するため、数秒かかります。")
        return
    try:
        with st.spinner("文の意味を読み取っています（はじめての検索では数秒かかります）…"):
            hits = data.search_meaning(path, saved[1], k=n_like, ids=ctx.filtered_ids)
    except EmbeddingError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.markdown(f"**「{md_escape(saved[1][:40])}」に意味の近いコメント**")
    if hits.empty:
        st.info("近いコメントが見つかりませんでした。別の言い方で試すか、サイドバーの絞り込みを外してください。")
    for _, row in hits.iterrows():
        card_row(row, "meaning", extra=f"類似度 {row['similarity']:.2f}")

# ------------------------------------------------------------------ varied set
def mix_tab() -> None:
    st.caption("いろいろなテーマと連携の分類からまんべんなくコメントを選びます。サイドバーの絞り込みが効きます。")
    v1, v2, v3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    n_mix = v1.number_input("件数", 2, 30, 6, key="trainer_mix_n")
    mix_seed = v2.number_input("別の組み合わせ（番号）", 0, 999, 0, key="trainer_mix_seed",
                               help="番号を変えると、同じ大きさのテーマの順番が入れ替わります。")
    if v3.button("バランスよく選ぶ", type="primary", key="trainer_suggest", icon=":material/shuffle:"):
        sug = data.varied_set(path, int(n_mix), ids=ctx.filtered_ids, seed=int(mix_seed))
        st.session_state[KEY_SUGGESTED] = (run_id, sug["comment_id"].astype(str).tolist())
    saved = st.session_state.get(KEY_SUGGESTED)
    if saved and saved[0] == run_id:
        rows = t.set_index(t["comment_id"].astype(str)).loc[[c for c in saved[1] if c in set(t["comment_id"].astype(str))]]
        rows = rows.reset_index(drop=True)
        covered_t = rows["cluster"].map(labels).nunique()
        covered_c = rows["category"].nunique()
        st.markdown(f"**提案: {len(rows)} 件**（テーマ {covered_t} 種類・分類 {covered_c} 種類）")

        def _add_all(records: list[dict]) -> None:
            for r in records:
                add_to_shortlist(run_id, r)

        st.button("すべて候補に追加", key="trainer_add_all", on_click=_add_all,
                  args=([_record(r) for _, r in rows.iterrows()],), icon=":material/done_all:")
        for _, row in rows.iterrows():
            card_row(row, "mix")

# ------------------------------------------------------------------ shortlist + export
def list_tab() -> None:
    items = state.shortlist()
    if not items:
        st.info("まだ候補がありません。「探す」「似たコメント」「バランスよく選ぶ」から「候補に追加」してください。")
    else:
        st.caption("各コメントに、研修で使うときのメモ（問いかけ・ねらいなど）を書けます。メモは書き出す資料に入ります。")
        for i, it in enumerate(items, start=1):
            with st.container(border=True):
                h1, h2 = st.columns([6, 1], vertical_alignment="top")
                with h1:
                    st.markdown(f"**{i}.** テーマ: {md_escape(it['label'])}")
                    cards.quote_card(it)
                    nk = state.note_widget_key(it["run_id"], it["comment_id"])
                    st.text_area("メモ", value=it.get("note", ""), key=nk, height=68,
                                 on_change=state.sync_note, args=(it["run_id"], it["comment_id"]),
                                 placeholder="例: 自分の職場ではどうか話し合う")
                with h2:
                    st.button("外す", key=f"remove_{it['run_id']}_{it['comment_id']}", icon=":material/delete:",
                              on_click=state.remove_from_shortlist, args=(it["run_id"], it["comment_id"]))
        st.button("候補リストを空にする", key="shortlist_clear", on_click=state.clear_shortlist)

        st.subheader("書き出す", anchor=False)
        title = st.text_input("資料のタイトル", value="連携の“もやもや”を話し合う", key="export_title")
        frame = state.shortlist_frame()
        try:
            from analysis import export
        except ImportError:
            st.info("書き出し機能（analysis/export.py）がまだありません。")
        else:
            e1, e2, e3 = st.columns(3)
            e1.download_button("Word（配布資料）", data=export.shortlist_to_docx_bytes(frame, title),
                               file_name="moyamoya_handout.docx", icon=":material/description:",
                               mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                               key="dl_docx")
            e2.download_button("CSV（Excel 用）", data=export.shortlist_to_csv_bytes(frame),
                               file_name="moyamoya_shortlist.csv", mime="text/csv", key="dl_csv",
                               icon=":material/table:")
            e3.download_button("Markdown", data=export.shortlist_to_markdown(frame).encode("utf-8"),
                               file_name="moyamoya_shortlist.md", mime="text/markdown", key="dl_md",
                               icon=":material/article:")


# Only the open tab runs (tabs track state), so switching tabs stays quick.
for tab, render in zip(st.tabs(TABS, key=KEY_TAB, on_change="rerun"), (find_tab, like_tab, mix_tab, list_tab)):
    if tab.open is not False:
        with tab:
            render()
