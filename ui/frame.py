"""The frame around every page: first-launch run, shared sidebar, one-shot messages.

``app.py`` calls :func:`render_frame` after ``st.navigation`` and before running the page.

The page scripts live in ``app_pages/``, not ``pages/``: when a folder named ``pages/`` sits next
to the entry point, Streamlit starts every server (and every AppTest run) in its legacy
multipage mode, which runs a deep-linked page (``/themes`` as the first request) without
``app.py`` — no sidebar, no filters — and gives sidebar widgets page-specific ids under AppTest.
"""

from __future__ import annotations

import streamlit as st

from ui import data, rerun, state
from ui.sidebar import render_sidebar

PAGE_CONFIG = dict(page_title="連携もやもやマップ", page_icon=":material/hub:", layout="wide")


def render_frame() -> None:
    """Build the default run on first launch, draw the sidebar, show a pending message."""
    runs = data.saved_runs()
    if runs.empty:
        rerun.build_default_run()
        runs = data.saved_runs()
    ctx = render_sidebar(runs)
    if ctx is not None and ctx.run.manifest.get("input", {}).get("kind") == "seed":
        st.sidebar.caption("コメントの出典: 令和4年度 重層的支援体制構築推進人材養成研修 ワークシート回答（抜粋）")
    message = state.pop_flash()
    if message:
        st.success(message, icon=":material/check_circle:")
