"""「なぜ未分類なのか」 on the テーマ page when 未分類 is open: a reason per comment, the share of 未分類
now and after the suggested moves, and (analysts) one click to put a comment in its nearest theme."""

from __future__ import annotations

import streamlit as st

from analysis.explore.unclassified import (
    CLOSE,
    REASON_SHORT,
    explain_unclassified,
    unclassified_share,
)
from analysis.schema import NOISE
from analysis.store import curation
from ui import auth, cards, curation_view
from ui.sidebar import PageContext

SHOWN = 30


def _assign(path: str, ids: list[str]) -> None:
    curation_view._do(path, curation.assign_unclassified, ids, by=auth.viewer().user)


def explain(ctx: PageContext, cluster: int) -> None:
    if cluster != NOISE:
        return
    table = ctx.table
    labels = table["cluster"].to_numpy()
    if not (labels == NOISE).any():
        return
    names = {int(c): ctx.run.label_of(int(c)) for c in set(labels.tolist()) - {NOISE}}
    emb = ctx.run.embeddings[table["_row"].to_numpy()]
    e = explain_unclassified(labels, emb, names, nearest=table["nearest_cluster"].to_numpy())
    now, after = unclassified_share(labels, e)
    e["comment_id"] = table["comment_id"].astype(str).to_numpy()[e["row"].to_numpy()]
    e["text"] = table["text"].to_numpy()[e["row"].to_numpy()]
    close = e[e["reason"].isin(CLOSE)]
    st.subheader("なぜ未分類なのか", anchor=False)
    st.markdown(
        f"未分類は **{len(e)}件（全体の{now:.0%}）** です。テーマの中心にどれだけ近いかを、そのテーマのコメントと"
        f"比べて理由を示します。近いテーマがある **{len(close)}件** をそれぞれのテーマに入れると、未分類は"
        f" **{after:.0%}** になります。"
    )
    counts = e["reason_short"].value_counts()
    st.caption("　".join(f"{REASON_SHORT[r]}: {int(counts.get(REASON_SHORT[r], 0))}件" for r in REASON_SHORT))
    can = auth.viewer().can_analyse
    if can and len(close):
        st.button(f"近いテーマがある{len(close)}件をまとめて入れる", key="unc_assign_close", type="primary",
                  on_click=_assign, args=(ctx.path, close["comment_id"].tolist()))
    keep = set(ctx.filtered["comment_id"].astype(str))
    shown = e[e["comment_id"].isin(keep)].head(SHOWN)
    for _, r in shown.iterrows():
        with st.container(border=False):
            cards.quote_card(table.iloc[int(r["row"])], ctx.attributes, extra=f"{REASON_SHORT[r['reason']]}：{r['reason_ja']}",
                             colors=ctx.value_colors)
            if can:
                st.button(f"「{r['nearest_label']}」に入れる", key=f"unc_one_{r['comment_id']}",
                          on_click=_assign, args=(ctx.path, [r["comment_id"]]))
    if len(e[e["comment_id"].isin(keep)]) > SHOWN:
        st.caption(f"近い順に{SHOWN}件を表示しています。残りは「テーマを整える」の一覧から選べます。")
