"""グループ・年度でくらべる: theme shares between two groups of an attribute, or this year against the run's themes."""

import streamlit as st

from ui import groups_view as view
from ui.sidebar import page_context

st.title("グループ・年度でくらべる")
ctx = page_context()
st.caption("「北部と南部で違うのか」「昨年と今年で違うのか」を、テーマの割合で比べます。差が偶然とは言いにくいかどうかも示します。")
by_attr, by_file = st.tabs(["属性の2つのグループ", "別の年度・別のファイルと"])
with by_attr:
    view.by_attribute(ctx)
with by_file:
    view.fit_new(ctx)
