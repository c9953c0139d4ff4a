"""Plain-Japanese explanations of the terms the dashboard uses, shown where they first appear."""

from __future__ import annotations

import streamlit as st

TERMS: dict[str, str] = {
    "テーマ": "似た内容のコメントを自動でまとめたグループです。名前はよく出てくる言葉から自動で付けていますが、"
    "「テーマ」ページで分かりやすい名前に変えられます。",
    "大きなテーマ": "近いテーマどうしをさらにまとめた、ひとつ上の分類です。",
    "代表的な声": "そのテーマの中心に近く、互いに内容が重ならないように選んだコメントです。",
    "未分類": "どのテーマにもはっきりとは当てはまらなかったコメントです。間違いではなく、"
    "ほかと違う独自の声であることが多いので、読み飛ばさないでください。",
    "類似度": "2つのコメント（またはテーマ）の内容がどれだけ近いかを 0〜1 で表した値です。1 に近いほど似ています。",
    "分野横断": "4つの連携の分類のうち3つ以上に現れるテーマです。分野を越えて共通するもやもやを表します。",
    "特有": "ある分類で、ほかと比べて特に多く現れるテーマです（標準化残差が 1.96 以上）。",
    "安定性": "乱数の種を変えて分析をやり直したとき、このテーマのコメントどうしが同じテーマに入り続けた割合です"
    "（0〜1）。0.8 以上なら安定したテーマ、0.5 未満なら分け方しだいで変わりやすいテーマです。",
    "標準化残差": "「どの分類でも同じ割合で現れる」と仮定したときより多いか少ないかを表す値です。"
    "+2 前後より大きければ「その分類で特に多い」、-2 前後より小さければ「特に少ない」と読めます。",
}


def explain(*terms: str, expanded: bool = False) -> None:
    """A small 「用語の説明」 expander with the given terms."""
    with st.expander("用語の説明: " + "・".join(terms), expanded=expanded, icon=":material/help:"):
        for t in terms:
            st.markdown(f"**{t}**: {TERMS[t]}")


def help_for(term: str) -> str:
    """Tooltip text for widgets (``help=``)."""
    return f"{term}: {TERMS[term]}"
