"""連携もやもやマップ: the Streamlit entry point (page config, sign-in, navigation, shared frame).

Run with ``streamlit run app.py`` (``make run``). Pages live in ``app_pages/`` (not ``pages/``, see
``ui/frame.py``); shared helpers in ``ui/``; all analysis in ``analysis/``. Browsing only reads
saved runs; analyses run as background jobs (``analysis/store/jobs.py``).
"""

import streamlit as st

from ui.frame import PAGE_CONFIG, render_frame

st.set_page_config(**PAGE_CONFIG)

PAGES = [
    st.Page("app_pages/1_overview.py", title="概要", default=True),
    st.Page("app_pages/2_themes.py", title="テーマ", url_path="themes"),
    st.Page("app_pages/3_overlaps.py", title="分野横断", url_path="overlaps"),
    st.Page("app_pages/4_groups.py", title="グループ・年度でくらべる", url_path="groups"),
    st.Page("app_pages/5_trainer.py", title="研修用の事例選び", url_path="trainer"),
    st.Page("app_pages/6_data.py", title="データと再分析", url_path="data"),
]

page = st.navigation(PAGES)
st.session_state["_page_url"] = page.url_path
render_frame()
page.run()
