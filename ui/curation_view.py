"""「テーマを整える」 on the テーマ page (analysts only): merge, split, move, assign 未分類, broad names, undo.

Every change is one entry of the run's edit log (:mod:`analysis.store.curation`), saved beside the run and
replayed whenever the run is loaded, so it shows on every page and in every export. Button
callbacks read the widgets from ``st.session_state`` (their ``args`` were bound when the page
rendered, before the user's last change), save, clear the cached tables and leave a one-line
message for the next run.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from analysis.errors import UserError
from analysis.schema import NOISE, NOISE_LABEL
from analysis.store import curation
from ui import auth, data, state
from ui.sidebar import PageContext
from ui.text import one_line

PREVIEW_CHARS = 40


def _do(path: str, fn: Callable[..., dict], *args, **kwargs) -> None:
    """Save one edit (or undo one) and say what happened; a refusal becomes a warning."""
    if auth.refused("テーマを整える操作"):
        return
    try:
        entry = fn(data.get_run(path), *args, **kwargs)
    except UserError as exc:
        state.warn_once(str(exc))
        return
    data.clear_caches()
    if fn is curation.undo:
        state.flash(f"元に戻しました: {entry.get('text', '')}。")
    else:
        state.flash(f"{entry.get('text', '')}。「テーマを整える」の履歴から元に戻せます。")


def _by() -> str:
    return auth.viewer().user


def _preview(table: pd.DataFrame) -> Callable[[str], str]:
    texts = dict(zip(table["comment_id"].astype(str), table["text"].astype(str)))

    def fmt(cid: str) -> str:
        t = texts.get(cid, "").replace("\n", " ")
        return one_line(f"{cid}: {t[:PREVIEW_CHARS]}{'…' if len(t) > PREVIEW_CHARS else ''}")

    return fmt


def _theme_names(ctx: PageContext) -> dict[int, str]:
    c = ctx.run.clusters.sort_values(["size", "cluster"], ascending=[False, True])
    return {int(k): f"{lab}（{int(n)}件）" for k, lab, n in zip(c["cluster"], c["label"], c["size"])}


# --------------------------------------------------------------------------- callbacks


def _merge(path: str, cluster: int, key: str) -> None:
    other = st.session_state.get(key)
    if other is not None:
        _do(path, curation.merge, [cluster, int(other)], by=_by())


def _split(path: str, cluster: int, pick_key: str, name_key: str) -> None:
    _do(path, curation.split, cluster, list(st.session_state.get(pick_key) or []),
        name=str(st.session_state.get(name_key) or ""), by=_by())
    st.session_state.pop(pick_key, None)
    st.session_state.pop(name_key, None)


def _move(path: str, pick_key: str, to_key: str) -> None:
    to = st.session_state.get(to_key)
    if to is not None:
        _do(path, curation.move, list(st.session_state.get(pick_key) or []), int(to), by=_by())
        st.session_state.pop(pick_key, None)


def _assign(path: str, pick_key: str | None = None, min_key: str | None = None) -> None:
    ids = list(st.session_state.get(pick_key) or []) if pick_key else None
    if ids is not None and not ids:
        state.warn_once("割り当てるコメントを選んでください。")
        return
    threshold = float(st.session_state.get(min_key)) if min_key else None
    _do(path, curation.assign_unclassified, ids, min_strength=threshold, by=_by())
    if pick_key:
        st.session_state.pop(pick_key, None)


def _rename_broad(path: str, parent: int, key: str) -> None:
    _do(path, curation.rename_broad, parent, str(st.session_state.get(key) or ""), by=_by())


def _undo(path: str, key: str) -> None:
    edit_id = st.session_state.get(key)
    _do(path, curation.undo, None if edit_id is None else int(edit_id))


# --------------------------------------------------------------------------- sections


def _merge_section(ctx: PageContext, cluster: int) -> None:
    names = _theme_names(ctx)
    others = [c for c in names if c != cluster]
    if not others:
        return
    st.markdown("**ほかのテーマとまとめる**")
    key = f"cur_merge_with_{cluster}"
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    a.selectbox("まとめるテーマ", others, format_func=lambda c: one_line(names[c]), key=key,
                help="選んだテーマのコメントがこのテーマに入ります。このテーマの名前と番号が残ります。")
    b.button("まとめる", key="cur_merge", on_click=_merge, args=(ctx.path, cluster, key))


def _pick_section(ctx: PageContext, cluster: int) -> None:
    """Pick comments of this theme: make them a new theme, or move them elsewhere."""
    members = ctx.table[ctx.table["cluster"] == cluster].sort_values("strength", ascending=True, kind="stable")
    names = _theme_names(ctx)
    st.markdown("**コメントを選んで分ける・移す**")
    pick = f"cur_pick_{cluster}"
    st.multiselect("コメント（所属の弱い順）", members["comment_id"].astype(str).tolist(), key=pick,
                   format_func=_preview(members), placeholder="コメントを選んでください")
    if cluster != NOISE:
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        name_key = f"cur_split_name_{cluster}"
        a.text_input("新しいテーマの名前（空なら自動で付けます）", key=name_key, max_chars=60)
        b.button("新しいテーマにする", key="cur_split", on_click=_split, args=(ctx.path, cluster, pick, name_key))
    targets = [c for c in names if c != cluster] + ([NOISE] if cluster != NOISE else [])
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    to_key = f"cur_move_to_{cluster}"
    a.selectbox("移す先", targets, key=to_key,
                format_func=lambda c: NOISE_LABEL if c == NOISE else one_line(names[c]))
    b.button("移す", key="cur_move", on_click=_move, args=(ctx.path, pick, to_key))


def _unclassified_section(ctx: PageContext) -> None:
    noise = ctx.table[ctx.table["cluster"] == NOISE].sort_values("nearest_strength", ascending=False, kind="stable")
    if noise.empty:
        return
    st.markdown("**未分類のコメントを、いちばん近いテーマに入れる**")
    st.dataframe(noise[["comment_id", "text", "nearest_label", "nearest_strength"]], hide_index=True,
                 key="cur_noise_table", height=min(35 * (len(noise) + 1) + 3, 320), column_config={
                     "comment_id": st.column_config.TextColumn("ID", width="small"),
                     "text": st.column_config.TextColumn("コメント", width="large"),
                     "nearest_label": st.column_config.TextColumn("近いテーマ", width="medium"),
                     "nearest_strength": st.column_config.NumberColumn("近さ", format="%.2f",
                                                                      help="0〜1。大きいほどそのテーマに近いコメントです。"),
                 })
    suggest = dict(zip(noise["comment_id"].astype(str), noise["nearest_label"].astype(str)))
    preview = _preview(noise)
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    pick = "cur_assign_pick"
    a.multiselect("1件ずつ選ぶ", list(suggest), key=pick, placeholder="コメントを選んでください",
                  format_func=lambda c: f"{preview(c)} → {one_line(suggest[c])}")
    b.button("近いテーマに入れる", key="cur_assign_one", on_click=_assign, args=(ctx.path, pick))
    top = float(noise["nearest_strength"].max())
    hi = max(0.01, min(1.0, round(top + 0.005, 2)))
    default = min(hi, round(float(noise["nearest_strength"].quantile(0.75)), 2))
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    threshold = a.slider("近さがこの値以上のものをまとめて", 0.0, hi, default, 0.01, key="cur_assign_min")
    n = int((noise["nearest_strength"] >= threshold).sum())
    b.button(f"{n}件を入れる", key="cur_assign_all", on_click=_assign, args=(ctx.path, None, "cur_assign_min"),
             disabled=n == 0)


def _broad_section(ctx: PageContext, cluster: int) -> None:
    info = ctx.run.clusters.set_index("cluster").loc[cluster]
    parent = int(info["parent"])
    st.markdown("**大きなテーマの名前を変える**")
    key = f"cur_broad_name_{ctx.run_id}_{parent}"
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    a.text_input("大きなテーマの名前（空にすると自動で付いた名前に戻ります）", value=str(info["parent_label"]),
                 key=key, max_chars=60)
    b.button("名前を保存", key="cur_broad_save", on_click=_rename_broad, args=(ctx.path, parent, key))


def _log_section(ctx: PageContext) -> None:
    entries = ctx.run.edits
    st.markdown("**整えた履歴**")
    if not entries:
        st.caption("まだ整えていません。整えた内容は分析結果と一緒に保存され、すべてのページと書き出しに反映されます。")
        return
    st.dataframe(curation.log_table(entries), hide_index=True, key="cur_log", column_config={
        "内容": st.column_config.TextColumn("内容", width="large")})
    texts = {int(e["id"]): f"{e['id']}: {e.get('text', '')}" for e in reversed(entries)}
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    key = f"cur_undo_pick_{max(texts)}"  # a new edit (or undo) offers the newest edit again
    if st.session_state.get(key, max(texts)) not in texts:  # undone meanwhile (here or by someone else)
        del st.session_state[key]
    a.selectbox("元に戻す操作", list(texts), key=key, format_func=lambda i: one_line(texts[i]),
                help="あとの操作がこの操作を前提にしているときは、先にそちらを元に戻してください。")
    b.button("元に戻す", key="cur_undo", on_click=_undo, args=(ctx.path, key))


def panel(ctx: PageContext, cluster: int) -> None:
    """The 「テーマを整える」 expander for analysts (閲覧 users see nothing)."""
    if not auth.viewer().can_analyse:
        return
    with st.expander("テーマを整える", icon=":material/tune:"):
        st.caption("自動のテーマ分けを手で直せます。直した内容は履歴として分析結果と一緒に保存され、ほかの利用者にも"
                   "表示されます。計算した結果そのものは消えないので、いつでも元に戻せます。")
        if cluster == NOISE:
            _unclassified_section(ctx)
        else:
            _merge_section(ctx, cluster)
        _pick_section(ctx, cluster)
        if cluster != NOISE:
            _broad_section(ctx, cluster)
        _log_section(ctx)
