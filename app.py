"""連携もやもやマップ: the Streamlit entry point (page config, navigation, shared sidebar).

Run with ``streamlit run app.py``. Pages live in ``app_pages/`` (not ``pages/``, see ``ui/frame.py``); shared helpers in ``ui/``; all
analysis in ``analysis/``. Browsing only reads saved runs; the first launch builds the default
run on the seed once.
"""

import streamlit as st

from ui.frame import PAGE_CONFIG, render_frame

st.set_page_config(**PAGE_CONFIG)

PAGES = [
    st.Page("app_pages/1_overview.py", title="概要", icon=":material/map:", default=True),
    st.Page("app_pages/2_themes.py", title="テーマ", icon=":material/topic:", url_path="themes"),
    st.Page("app_pages/3_overlaps.py", title="分野横断", icon=":material/join_inner:", url_path="overlaps"),
    st.Page("app_pages/4_trainer.py", title="研修用の事例選び", icon=":material/school:", url_path="trainer"),
    st.Page("app_pages/5_data.py", title="データと再分析", icon=":material/upload_file:", url_path="data"),
]

page = st.navigation(PAGES)

render_frame()
page.run()
