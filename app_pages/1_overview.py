"""概要: what the data is, counts, the theme map with lasso selection, the ranked themes."""

import streamlit as st

from ui import overview, report_view
from ui.sidebar import page_context

ctx = page_context()
overview.header(ctx)
overview.metrics(ctx)
if ctx.filtered.empty:
    st.warning("絞り込みの条件に合うコメントがありません。サイドバーの条件をゆるめてください。")
    st.stop()
overview.theme_map(ctx)
overview.theme_list(ctx)
overview.attribute_counts(ctx)
report_view.report_section(ctx)
