"""Plain-Japanese explanations of the terms the dashboard uses, shown where they first appear.

Screens use plain words; the technical name of a method appears here only, for readers who want
to look it up.
"""

from __future__ import annotations

import streamlit as st

from analysis.schema import SOMEWHAT_STABLE_AT, STABLE_AT

TERMS: dict[str, str] = {
    "テーマ": "似た内容のコメントを自動でまとめたグループです。名前は自動で付けていますが、「テーマ」ページで分かりやすい"
    "名前に変えられます。（方法: 文の意味を数値にして近いものを集める。技術名は文埋め込み・UMAP・HDBSCAN）",
    "大きなテーマ": "近いテーマどうしをさらにまとめた、ひとつ上のまとまりです。",
    "代表的な声": "そのテーマの中心に近く、互いに内容が重ならないように選んだコメントです。",
    "未分類": "どのテーマにもはっきりとは当てはまらなかったコメントです。間違いではなく、"
    "ほかと違う独自の声であることが多いので、読み飛ばさないでください。",
    "類似度": "2つのコメント（またはテーマ）の内容がどれだけ近いかを 0〜1 で表した値です。1 に近いほど似ています。",
    "分野横断": "3つ以上の値（連携の分類など）に現れ、どれか1つに偏っているとは言えないテーマです。分野を越えて共通する"
    "もやもやを表します。値が2つしかない属性では、両方に現れるテーマです。",
    "特有": "ある値（例: 行政×行政）で、ほかと比べて特に多く、その偏りが偶然とは言いにくいテーマです。"
    "ほかの値に現れることもあります。（判定: Fisher の正確検定、多重比較を Benjamini–Hochberg 法で補正して 5% 水準）",
    "一部共通": "分野横断にも特有にも当たらない、1〜2つの値に現れるテーマです。",
    "参考値": "期待される件数が 5 件未満の組み合わせです。件数が少ないため、割合や差は大きく揺れます。"
    "結論の根拠にはせず、実際のコメントを読んで確かめてください。",
    "安定性": "乱数の種を変えて分析をやり直したとき、このテーマのコメントどうしが同じテーマに入り続けた割合です"
    f"（0〜1）。{STABLE_AT} 以上なら安定したテーマ、{SOMEWHAT_STABLE_AT} 未満なら分け方しだいで変わりやすいテーマです。"
    "（技術名: シード安定性、調整ランド指数）",
    "偏り": "「どの値でも同じ割合で現れる」と仮定したときより多いか少ないかを表す値です（技術名: 調整済み標準化残差）。"
    "+2 前後より大きければ多め、-2 前後より小さければ少なめと読めますが、偶然かどうかは「特有」の判定で見てください。",
    "差の確かさ": "2つのグループの割合の差が偶然で生じる見込みです（技術名: 多重比較補正後の p 値、q 値）。"
    "0.05 未満なら「偶然とは言いにくい差」として ★ を付けています。",
    "まとまりの良さ": "テーマどうしがどれだけはっきり分かれているかの目安です（技術名: シルエット係数、DBCV）。"
    "大きいほどよく、分析の設定を比べるときに使います。",
}


def explain(*terms: str, expanded: bool = False) -> None:
    """A small 「用語の説明」 expander with the given terms."""
    with st.expander("用語の説明: " + "・".join(terms), expanded=expanded, icon=":material/help:"):
        for t in terms:
            st.markdown(f"**{t}**: {TERMS[t]}")


def help_for(term: str) -> str:
    """Tooltip text for widgets (``help=``)."""
    return f"{term}: {TERMS[term]}"
