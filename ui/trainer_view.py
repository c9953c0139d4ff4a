"""Sections of the 研修用の事例選び page: find quotes, keep them in named sets with notes, export them.

Sets are saved beside the run at every change (:mod:`analysis.store.shortlists`), so a reload, another
browser or a server restart loses nothing. Exports are prepared by a button press, which commits
a note still being typed first, so the file always holds what is on screen.
"""

from __future__ import annotations

import datetime as _dt

import streamlit as st

from analysis.errors import UserError
from analysis.schema import NOISE, NOISE_LABEL
from analysis.store import shortlists
from ui import auth, cards, data, state, terms
from ui.sidebar import PageContext
from ui.text import md_escape, one_line

KEY_MORE = "trainer_more_like"
KEY_LIMIT = "trainer_limit"
KEY_SUGGESTED = "trainer_suggested"
KEY_LIKE_MODE = "trainer_like_mode"
KEY_MEANING = "trainer_meaning_query"
KEY_EXPORT = "trainer_export"
KEY_CONFIRM_DELETE = "trainer_confirm_delete"
TABS = ["探す", "似たコメント", "バランスよく選ぶ", "候補リストと書き出し"]


def _labels(ctx: PageContext) -> dict[int, str]:
    out = dict(zip(ctx.run.clusters["cluster"].astype(int), ctx.run.clusters["label"]))
    out[NOISE] = NOISE_LABEL
    return out


# --------------------------------------------------------------------------- the active set


def _sets(ctx: PageContext) -> list[shortlists.ShortlistSet]:
    return shortlists.list_sets(ctx.path)


def active_set(ctx: PageContext) -> shortlists.ShortlistSet | None:
    sets = _sets(ctx)
    chosen = st.session_state.get(state.KEY_SHORTLIST_SET)
    return next((s for s in sets if s.set_id == chosen), sets[0] if sets else None)


def _set_id_for_adding(ctx: PageContext) -> str:
    current = active_set(ctx)
    who = auth.actor()  # a 閲覧 user adds to a set of their own (another's would refuse the change)
    if current is not None and (who is None or shortlists.may_change(current.owner, *who)):
        return current.set_id
    sid = shortlists.create_set(ctx.path, shortlists.DEFAULT_NAME, owner=auth.viewer().user)
    st.session_state[state.KEY_SHORTLIST_SET] = sid
    return sid


def _guard(fn, *args) -> None:
    """Run a set edit as this viewer (checked inside the edit: 閲覧 changes only their own sets); a problem
    (another user deleted the set, a damaged file, someone else's set) becomes a message."""
    try:
        fn(*args, actor=auth.actor())
    except UserError as exc:
        state.warn_once(str(exc))
    st.session_state.pop(KEY_EXPORT, None)  # any change makes a prepared export stale


def _add(ctx: PageContext, comment_id: str) -> None:
    _guard(lambda actor: shortlists.add_item(ctx.path, _set_id_for_adding(ctx), comment_id, actor=actor))


def shortlist_line(ctx: PageContext) -> None:
    s = active_set(ctx)
    n = len(s.items) if s else 0
    st.caption(f"候補リスト「{md_escape(s.name if s else shortlists.DEFAULT_NAME)}」: **{n}** 件"
               "（自動で保存され、ページを読み込み直しても残ります）")


def card_row(ctx: PageContext, row, key: str, extra: str | None = None, spans=()) -> None:
    """A quote card with "add" and "more like this" buttons."""
    c_card, c_btn = st.columns([6, 1], vertical_alignment="center")
    cid = str(row["comment_id"])
    with c_card:
        cards.quote_card(row, attributes=ctx.attributes, theme=row.get("label"), extra=extra,
                         query_words=ctx.filters.words, spans=spans, colors=ctx.value_colors)
    with c_btn:
        current = active_set(ctx)
        added = current is not None and cid in current.comment_ids
        st.button("追加済み" if added else "候補に追加", key=f"add_{key}_{cid}", disabled=added, on_click=_add,
                  args=(ctx, cid), icon=":material/playlist_add:", width="stretch")
        st.button("似たもの", key=f"like_{key}_{cid}", on_click=_more_like, args=(cid,),
                  help="このコメントと内容の近いコメントを「似たコメント」タブに出します。",
                  icon=":material/manage_search:", width="stretch")


def _to_meaning(run_id: str, query: str) -> None:
    """Nothing matched the words: search the same words by meaning instead."""
    st.session_state[KEY_LIKE_MODE] = "words"
    st.session_state[KEY_MEANING] = (run_id, query)
    st.session_state["trainer_meaning_input"] = query
    st.session_state["trainer_tab"] = "似たコメント"


def _more_like(cid: str) -> None:
    st.session_state[KEY_MORE] = cid
    st.session_state[KEY_LIKE_MODE] = "comment"
    st.session_state["trainer_tab"] = "似たコメント"


# --------------------------------------------------------------------------- finding


def find_tab(ctx: PageContext) -> None:
    labels = _labels(ctx)
    s1, s2 = st.columns([2, 3])
    local_q = s1.text_input("語句で探す", key="trainer_query", placeholder="例: たらいまわし",
                            help="送りがなやひらがな書きの違いも同じ語として探します。")
    theme_ids = [int(c) for c in ctx.run.clusters.sort_values("size", ascending=False)["cluster"]] + [NOISE]
    pick = s2.multiselect("テーマで絞る", theme_ids, format_func=lambda c: one_line(labels.get(c, str(c))),
                          key="trainer_themes", placeholder="すべてのテーマ")
    hits = ctx.filtered
    spans_of: dict[int, list] = {}
    if local_q.strip():
        found = data.text_index(ctx.path).matches(local_q)
        rows = ctx.table.index[[i for i in sorted(found)]] if found else []
        hits = hits[hits.index.isin(rows)]
        spans_of = {int(ctx.table.index[i]): sp for i, sp in found.items()}
    if pick:
        hits = hits[hits["cluster"].isin(pick)]
    limit = st.session_state.get(KEY_LIMIT, 10)
    st.caption(f"{len(hits)} 件見つかりました。")
    if local_q.strip() and hits.empty:
        st.info("この言葉を含むコメントは見つかりませんでした。言い方が違うだけかもしれません。")
        st.button(f"「{md_escape(local_q.strip()[:30])}」に意味の近いコメントを探す", key="trainer_to_meaning",
                  icon=":material/manage_search:", on_click=_to_meaning, args=(ctx.run_id, local_q.strip()))
    for idx, row in hits.head(limit).iterrows():
        card_row(ctx, row, "find", spans=spans_of.get(int(idx), ()))
    if len(hits) > limit and st.button(f"さらに表示（残り {len(hits) - limit} 件）", key="trainer_more"):
        st.session_state[KEY_LIMIT] = limit + 10
        st.rerun()


def like_tab(ctx: PageContext) -> None:
    st.caption("意味の近いコメントを探します（言葉が違っていても内容が近ければ見つかります）。" + terms.TERMS["類似度"])
    mode = st.radio("もとにするもの", ["comment", "words"], horizontal=True, key=KEY_LIKE_MODE,
                    format_func={"comment": "コメントを選ぶ", "words": "自分の言葉で書く"}.get)
    n_like = st.slider("表示する件数", 3, 20, 5, key="trainer_like_n")
    if mode == "words":
        _words_like(ctx, n_like)
        return
    t = ctx.table
    all_ids = t["comment_id"].astype(str).tolist()
    preview = dict(zip(all_ids, t["text"].astype(str).str.replace("\n", " ").str.slice(0, 40)))
    if st.session_state.get(KEY_MORE) not in all_ids:
        st.session_state[KEY_MORE] = all_ids[0]
    base_id = st.selectbox("もとにするコメント", all_ids, format_func=lambda c: one_line(f"{c}: {preview[c]}…"),
                           key=KEY_MORE)
    base = t[t["comment_id"].astype(str) == base_id].iloc[0]
    cards.quote_card(base, attributes=ctx.attributes, theme=base["label"], colors=ctx.value_colors)
    st.markdown("**似たコメント**")
    for _, row in data.similar_to(ctx.path, base_id, k=n_like, ids=ctx.filtered_ids).iterrows():
        card_row(ctx, row, "like", extra=f"類似度 {row['similarity']:.2f}")


def _words_like(ctx: PageContext, n_like: int) -> None:
    """Search by meaning from typed words: loads the run's model on the first search only."""
    from analysis.themes.embedding import EmbeddingError

    with st.form("trainer_meaning_form", border=False):
        query = st.text_area("探したい内容", key="trainer_meaning_input", height=80,
                             placeholder="例: 個人情報を共有できず、支援が進まない")
        submitted = st.form_submit_button("意味の近いコメントを探す", type="primary", icon=":material/manage_search:",
                                          key="trainer_meaning_go")
    if submitted:
        st.session_state[KEY_MEANING] = (ctx.run_id, query.strip())
    saved = st.session_state.get(KEY_MEANING)
    if not saved or saved[0] != ctx.run_id or not saved[1]:
        st.caption("文を入力して「意味の近いコメントを探す」を押してください。"
                   "はじめての検索では文の意味を読み取るモデルを準備するため、数秒かかります。")
        return
    try:
        with st.spinner("文の意味を読み取っています（はじめての検索では数秒かかります）…"):
            hits = data.search_meaning(ctx.path, saved[1], k=n_like, ids=ctx.filtered_ids)
    except EmbeddingError as exc:
        st.error(md_escape(str(exc)), icon=":material/error:")
        return
    st.markdown(f"**「{md_escape(saved[1][:40])}」に意味の近いコメント**")
    if hits.empty:
        st.info("近いコメントが見つかりませんでした。別の言い方で試すか、サイドバーの絞り込みを外してください。")
    for _, row in hits.iterrows():
        card_row(ctx, row, "meaning", extra=f"類似度 {row['similarity']:.2f}")


def mix_tab(ctx: PageContext) -> None:
    st.caption("いろいろなテーマと属性からまんべんなくコメントを選びます。サイドバーの絞り込みが効きます。")
    v1, v2, v3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    n_mix = v1.number_input("件数", 2, 30, 6, key="trainer_mix_n")
    mix_seed = v2.number_input("別の組み合わせ（番号）", 0, 999, 0, key="trainer_mix_seed",
                               help="番号を変えると、同じ大きさのテーマの順番が入れ替わります。")
    if v3.button("バランスよく選ぶ", type="primary", key="trainer_suggest", icon=":material/shuffle:"):
        sug = data.varied_set(ctx.path, int(n_mix), ids=ctx.filtered_ids, seed=int(mix_seed))
        st.session_state[KEY_SUGGESTED] = (ctx.run_id, sug["comment_id"].astype(str).tolist())
    saved = st.session_state.get(KEY_SUGGESTED)
    if not saved or saved[0] != ctx.run_id:
        return
    t = ctx.table.set_index(ctx.table["comment_id"].astype(str))
    rows = t.loc[[c for c in saved[1] if c in t.index]].reset_index(drop=True)
    covered = rows[ctx.primary].nunique() if ctx.primary else 0
    st.markdown(f"**提案: {len(rows)} 件**（テーマ {rows['cluster'].nunique()} 種類" +
                (f"・{md_escape(ctx.primary)} {covered} 種類）" if ctx.primary else "）"))

    def _add_all(ids: list[str]) -> None:
        sid = _set_id_for_adding(ctx)
        for cid in ids:
            _guard(shortlists.add_item, ctx.path, sid, cid)

    st.button("すべて候補に追加", key="trainer_add_all", on_click=_add_all,
              args=(rows["comment_id"].astype(str).tolist(),), icon=":material/done_all:")
    for _, row in rows.iterrows():
        card_row(ctx, row, "mix")


# --------------------------------------------------------------------------- sets and export


def _note_key(sid: str, cid: str) -> str:
    return f"note::{sid}::{cid}"


def _save_note(ctx: PageContext, sid: str, cid: str) -> None:
    _guard(shortlists.set_note, ctx.path, sid, cid, st.session_state.get(_note_key(sid, cid), ""))


def set_manager(ctx: PageContext) -> shortlists.ShortlistSet | None:
    """Choose, create, rename and delete (after a confirmation) the run's named sets."""
    sets = _sets(ctx)
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    if sets:
        ids = [s.set_id for s in sets]
        names = {s.set_id: f"{s.name}（{len(s.items)}件）" for s in sets}
        if st.session_state.get(state.KEY_SHORTLIST_SET) not in ids:
            st.session_state[state.KEY_SHORTLIST_SET] = ids[0]
        c1.selectbox("候補リスト", ids, key=state.KEY_SHORTLIST_SET, format_func=lambda i: one_line(names[i]))
    with c2.popover("新しいリスト", icon=":material/add:"):
        name = st.text_input("名前", key="new_set_name", placeholder="例: 12月の研修・前半")
        if st.button("作成", key="new_set_go", type="primary"):
            st.session_state[state.KEY_SHORTLIST_SET] = shortlists.create_set(ctx.path, name or shortlists.DEFAULT_NAME,
                                                                              owner=auth.viewer().user)
            st.rerun()
    current = active_set(ctx)
    if current is None:
        return None
    r1, r2 = st.columns(2)
    with r1.popover("名前を変える", icon=":material/edit:"):
        new = st.text_input("新しい名前", value=current.name, key=f"rename_set_{current.set_id}")
        if st.button("保存", key="rename_set_go"):
            _guard(shortlists.rename_set, ctx.path, current.set_id, new)
            st.rerun()
    with r2.popover("このリストを削除", icon=":material/delete:"):
        st.caption(f"「{md_escape(current.name)}」（{len(current.items)}件、メモを含む）を削除します。元に戻せません。")
        if st.button("削除する", key="delete_set_go", type="primary"):
            _guard(shortlists.delete_set, ctx.path, current.set_id)
            st.session_state.pop(state.KEY_SHORTLIST_SET, None)
            st.rerun()
    return current


def list_tab(ctx: PageContext) -> None:
    current = set_manager(ctx)
    if current is None or not current.items:
        st.info("まだ候補がありません。「探す」「似たコメント」「バランスよく選ぶ」から「候補に追加」してください。")
        return
    st.caption("各コメントに、研修で使うときのメモ（問いかけ・ねらいなど）を書けます。メモは自動で保存され、書き出す資料に入ります。")
    by_id = ctx.table.set_index(ctx.table["comment_id"].astype(str))
    labels = _labels(ctx)
    for i, it in enumerate(current.items, start=1):
        if it["comment_id"] not in by_id.index:
            continue
        row = by_id.loc[it["comment_id"]]
        with st.container(border=True):
            h1, h2 = st.columns([6, 1], vertical_alignment="top")
            with h1:
                st.markdown(f"**{i}.** テーマ: {md_escape(labels.get(int(row['cluster']), ''))}")
                cards.quote_card(row.to_dict() | {"comment_id": it["comment_id"]}, attributes=ctx.attributes,
                                 colors=ctx.value_colors)
                key = _note_key(current.set_id, it["comment_id"])
                if key not in st.session_state:
                    st.session_state[key] = it["note"]
                st.text_area("メモ", key=key, height=68, on_change=_save_note, args=(ctx, current.set_id, it["comment_id"]),
                             placeholder="例: 自分の職場ではどうか話し合う")
            with h2:
                st.button("外す", key=f"remove_{current.set_id}_{it['comment_id']}", icon=":material/remove:",
                          on_click=_guard, args=(shortlists.remove_item, ctx.path, current.set_id, it["comment_id"]))
    export_section(ctx, current)


def export_section(ctx: PageContext, current: shortlists.ShortlistSet) -> None:
    """Prepare the files (committing any note still being typed), then offer the downloads."""
    from analysis.report import export

    st.subheader("書き出す", anchor=False)
    title = st.text_input("資料のタイトル", value=current.name, key=f"export_title_{current.set_id}")
    st.caption("Word と Markdown の資料には、各コメントの下に「話し合いの問い（このツールが付け加えた例）」を添えます。"
               "テーマや分類のちがいから作った例で、回答者の言葉ではありません。")
    if st.button("書き出す資料を用意する", key="export_prepare", type="primary", icon=":material/description:"):
        fresh = next((s for s in _sets(ctx) if s.set_id == current.set_id), current)
        frame = shortlists.items_frame(ctx.run, fresh)
        st.session_state[KEY_EXPORT] = {
            "set": current.set_id, "title": title, "at": _dt.datetime.now().strftime("%H:%M:%S"),
            "docx": export.shortlist_to_docx_bytes(frame, title),
            "csv": export.shortlist_to_csv_bytes(frame),
            "md": export.shortlist_to_markdown(frame, title).encode("utf-8"),
        }
    ready = st.session_state.get(KEY_EXPORT)
    if not ready or ready["set"] != current.set_id:
        st.caption("「書き出す資料を用意する」を押すと、いま画面にある内容（入力中のメモも含む）で資料を作ります。")
        return
    st.caption(f"{ready['at']} の内容で用意しました。候補やメモを変えたら、もう一度用意してください。")
    e1, e2, e3 = st.columns(3)
    e1.download_button("Word（配布資料・A4）", data=ready["docx"], file_name="moyamoya_handout.docx",
                       icon=":material/description:", key="dl_docx",
                       mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    e2.download_button("CSV（Excel 用）", data=ready["csv"], file_name="moyamoya_shortlist.csv", mime="text/csv",
                       key="dl_csv", icon=":material/table:")
    e3.download_button("Markdown", data=ready["md"], file_name="moyamoya_shortlist.md", mime="text/markdown",
                       key="dl_md", icon=":material/article:")


def tabs(ctx: PageContext) -> None:
    """Only the open tab runs (tabs track state), so switching tabs stays quick."""
    for tab, render in zip(st.tabs(TABS, key="trainer_tab", on_change="rerun"), (find_tab, like_tab, mix_tab, list_tab)):
        if tab.open is not False:
            with tab:
                render(ctx)
