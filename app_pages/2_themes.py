"""テーマ: one theme at a time — name, keywords, representative quotes, members, words in context."""

import streamlit as st

from ui import curation_view, terms, themes, unclassified_view
from ui.sidebar import page_context

st.title("テーマを読む")
ctx = page_context()
terms.explain("テーマ", "大きなテーマ", "代表的な声", "類似度", "安定性")
theme = themes.pick(ctx)
themes.heading(ctx, theme)
curation_view.panel(ctx, theme.cluster)
unclassified_view.explain(ctx, theme.cluster)
themes.figures(ctx, theme)
if theme.members.empty:
    st.warning("絞り込みの条件に合うコメントがこのテーマにはありません。")
    st.stop()
themes.keywords_and_mix(ctx, theme)
themes.quotes(ctx, theme)
themes.members(ctx, theme)
themes.words_in_context(ctx, theme)
themes.similar_themes(ctx, theme)
