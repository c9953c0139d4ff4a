"""Sections of the グループ・年度でくらべる page: is a theme more common in one group or year than another?

Two questions policy staff ask: "is this different between 北部 and 南部?" (two values of an
attribute of the run) and "is this year different from last year?" (new comments fitted onto the
run's themes). Both answer with shares side by side, the difference, and an exact test per theme
corrected for testing many themes at once; small counts are marked 参考値.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.errors import UserError
from analysis.explore import assign, overlaps
from analysis.ingest.comments import MAX_UPLOAD_BYTES
from analysis.schema import NOISE, NOISE_LABEL
from analysis.themes.embedding import EmbeddingError
from ui import cards, data, terms
from ui.sidebar import PageContext
from ui.text import md_escape, narrow_cards_html, one_line


def _labels(ctx: PageContext) -> dict[int, str]:
    out = dict(zip(ctx.run.clusters["cluster"].astype(int), ctx.run.clusters["label"]))
    out[NOISE] = NOISE_LABEL
    return out


def result_table(ctx: PageContext, res: pd.DataFrame, name_a: str, name_b: str, key: str) -> None:
    """Shares side by side, difference in points, 偶然の見込み (q), 参考値, ★ for differences beyond chance."""
    if res.empty:
        st.info("くらべられるテーマがありません。")
        return
    labels = _labels(ctx)
    view = res.assign(
        label=res["cluster"].map(labels),
        mark=["★" if s else "" for s in res["significant"]],
        note=["参考値" if s else "" for s in res["small"]],
    )
    with st.container(key=f"wide_table_{key}"):
        _table(view, name_a, name_b, key)
    st.html(_cards(view, name_a, name_b))  # shown instead of the table on narrow screens (ui/look.py)
    sig = view[view["significant"]]
    if sig.empty:
        st.caption("偶然とは言いにくい差のあるテーマはありませんでした（多重比較の補正後、5% 水準）。")
    else:
        st.caption("★ 偶然とは言いにくい差: " + "、".join(f"「{md_escape(r.label)}」（{r.diff:+.1f}ポイント）" for r in sig.itertuples()))
    terms.explain("差の確かさ", "参考値")


def _cards(view: pd.DataFrame, name_a: str, name_b: str) -> str:
    """The comparison as cards for phones: theme, both groups' counts and shares, difference, flags."""
    cards = []
    for r in view.itertuples():
        flags = "".join(f" ・ {f}" for f in (r.mark and "★ 偶然とは言いにくい差", r.note) if f)
        cards.append((r.label, [
            (f"{name_a} {int(r.count_a)}件（{r.share_a:.0%}） ／ {name_b} {int(r.count_b)}件（{r.share_b:.0%}）",
             "font-size:0.85rem"),
            (f"差 {r.diff:+.1f}ポイント ・ 偶然の見込み {r.q:.3f}{flags}", "font-size:0.8rem;color:#555"),
        ]))
    return narrow_cards_html(cards)


def _table(view: pd.DataFrame, name_a: str, name_b: str, key: str) -> None:
    st.dataframe(view[["mark", "label", "count_a", "share_a", "count_b", "share_b", "diff", "q", "note"]],
                 hide_index=True, key=key, column_config={
                     "mark": st.column_config.TextColumn("★", width="small", help="偶然とは言いにくい差（★）"),
                     "label": st.column_config.TextColumn("テーマ", width="medium"),
                     "count_a": st.column_config.NumberColumn(f"{name_a}（件）", format="%d"),
                     "share_a": st.column_config.NumberColumn(f"{name_a}（割合）", format="percent"),
                     "count_b": st.column_config.NumberColumn(f"{name_b}（件）", format="%d"),
                     "share_b": st.column_config.NumberColumn(f"{name_b}（割合）", format="percent"),
                     "diff": st.column_config.NumberColumn("差（ポイント）", format="%+.1f",
                                                           help=f"{name_b}の割合 − {name_a}の割合"),
                     "q": st.column_config.NumberColumn("偶然の見込み", format="%.3f", help=terms.help_for("差の確かさ")),
                     "note": st.column_config.TextColumn("注記", help=terms.help_for("参考値")),
                 })


def by_attribute(ctx: PageContext) -> None:
    """Two values of one attribute of the run."""
    if not ctx.attributes:
        st.info("この分析結果には属性の列がありません。属性の列があるファイルを読み込むと、グループどうしをくらべられます。")
        return
    c1, c2, c3 = st.columns(3)
    attr = c1.selectbox("属性", ctx.attributes, key="grp_attr", format_func=one_line)
    values = [str(v) for v in overlaps.ordered_values(ctx.filtered[attr], attr)]
    if len(values) < 2:
        st.info(f"「{md_escape(attr)}」には、絞り込み後の値が1つしかありません。")
        return
    a = c2.selectbox("グループA", values, index=0, key=f"grp_a::{attr}", format_func=one_line)
    b = c3.selectbox("グループB", values, index=min(1, len(values) - 1), key=f"grp_b::{attr}", format_func=one_line)
    if a == b:
        st.caption("別々のグループを選んでください。")
        return
    res = overlaps.compare_groups(ctx.filtered, attr, a, b)
    st.caption(f"{md_escape(a)}: {res.attrs['n_a']} 件 ／ {md_escape(b)}: {res.attrs['n_b']} 件（未分類を除く）")
    result_table(ctx, res, a, b, key="grp_table")


def _new_comments_from_run(ctx: PageContext) -> tuple[pd.DataFrame, str] | None:
    runs = data.saved_runs()
    others = runs[runs["ok"] & (runs["path"] != ctx.path)]
    if others.empty:
        st.caption("ほかに保存されている分析結果がありません。")
        return None
    labels = dict(zip(others["path"], others["input"] + " ・ " + others["created"].str.slice(0, 10)))
    path = st.selectbox("当てはめるコメント（保存されている分析結果）", list(others["path"]), key="fit_run",
                        format_func=lambda p: one_line(labels.get(p, p)))
    other = data.get_run(path)
    return other.comments, other.dataset["name"] or "新しいコメント"


def _new_comments_from_file() -> tuple[pd.DataFrame, str] | None:
    from analysis.ingest.importing import comments_from_read, refuse_oversized
    from analysis.ingest.isolated import read_table_isolated
    from analysis.ingest.masking import mask_comments

    up = st.file_uploader("当てはめるコメントのファイル（CSV・Excel）", key="fit_upload",
                          max_upload_size=MAX_UPLOAD_BYTES // 1024 // 1024)
    if up is None:
        return None
    try:
        refuse_oversized(up.getvalue())
        res = comments_from_read(read_table_isolated(up.getvalue(), up.name))
    except UserError as exc:
        st.error(md_escape(str(exc)), icon=":material/error:")
        return None
    st.caption(md_escape(res.report.summary_ja()))
    masked, review = mask_comments(res.comments)
    if len(review):
        st.caption(f"個人情報の可能性がある {len(review)} か所を伏せ字にしてから当てはめました。")
    return masked, up.name


def fit_new(ctx: PageContext) -> None:
    """This year's comments against this run's themes (e.g. 2025 against 2024)."""
    st.caption("別の年度などのコメントを、いま表示中の分析のテーマに当てはめて、テーマの割合をくらべます。"
               "どのテーマにも近くないコメントは「新しい話題の候補」として一覧にします。")
    source = st.radio("当てはめるコメント", ["file", "run"], horizontal=True, key="fit_source",
                      format_func={"file": "ファイルを読み込む", "run": "保存されている別の分析結果"}.get)
    got = _new_comments_from_file() if source == "file" else _new_comments_from_run(ctx)
    if got is None:
        return
    comments, name_new = got
    name_old = ctx.run.dataset["name"] or "表示中の分析"
    if name_new == name_old:
        name_new = name_new + "（当てはめ）"
    try:
        with st.spinner("コメントをテーマに当てはめています（はじめては文のモデルの準備に数秒かかります）…"):
            fitted, res = assign.compare_with_new(ctx.run, comments, name_old, name_new)
    except (EmbeddingError, UserError) as exc:
        st.error(md_escape(str(exc)), icon=":material/error:")
        return
    n_new = int(fitted["new_topic"].sum())
    st.markdown(f"**{len(fitted)} 件を当てはめました**（新しい話題の候補 {n_new} 件）")
    result_table(ctx, res, name_old, name_new, key="fit_table")
    if n_new:
        with st.expander(f"新しい話題の候補（{n_new} 件）", expanded=False, icon=":material/fiber_new:"):
            rows = comments.assign(comment_id=comments["comment_id"].astype(str)).merge(fitted, on="comment_id")
            rows = rows[rows["new_topic"]].sort_values("strength")
            labels = _labels(ctx)
            for _, r in rows.head(30).iterrows():
                cards.quote_card(r, attributes=[a for a in ctx.attributes if a in r],
                                 extra=f"いちばん近いテーマ「{labels.get(int(r['cluster']), '')}」・近さ {r['strength']:.2f}",
                                 colors=ctx.value_colors)
