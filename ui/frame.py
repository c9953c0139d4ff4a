"""The frame around every page: who is looking, the shared sidebar, messages, background analyses.

``app.py`` calls :func:`render_frame` after ``st.navigation`` and before running the page.

The page scripts live in ``app_pages/``, not ``pages/``: when a folder named ``pages/`` sits next
to the entry point, Streamlit starts every server (and every AppTest run) in its legacy
multipage mode, which runs a deep-linked page (``/themes`` as the first request) without
``app.py`` — no sidebar, no filters — and gives sidebar widgets page-specific ids under AppTest.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analysis.store.runs import models_dir
from ui import auth, data, jobs_view, look, state
from ui.sidebar import render_sidebar
from ui.text import md_escape

ICON = Path(__file__).with_name("icon.png")
# A local image: a ``:material/…:`` page icon makes every browser fetch the favicon from the internet.
PAGE_CONFIG = dict(page_title="連携もやもやマップ", page_icon=str(ICON), layout="wide", initial_sidebar_state="auto")


@st.cache_resource(show_spinner=False)
def _housekeeping(models: str) -> bool:
    """Once per server process and models folder: remove leftovers of crashed writes, old jobs."""
    from analysis.storage import cleanup_stale_temps
    from analysis.store import jobs

    try:
        cleanup_stale_temps(models)
        jobs.prune()
    except OSError:
        pass  # a read-only folder: nothing to clean, and browsing still works
    return True


def _opening_run(runs) -> str | None:
    """The run a new session opens with (公開中, else the seed's default run, else the newest)."""
    from analysis.pipeline import opening_run

    found = opening_run(runs=runs)
    return str(found) if found is not None else None


def render_frame() -> None:
    """Sign-in, first launch, sidebar, one-shot messages, this session's running analyses."""
    viewer = auth.require_viewer()
    st.session_state["_viewer"] = viewer
    look.inject()
    _housekeeping(str(models_dir()))
    runs = data.saved_runs()
    if not runs["ok"].any() and not _on_data_page():
        jobs_view.first_launch()
    opening = _opening_run(runs) if state.active_run_path() is None else None
    ctx = render_sidebar(runs, opening)
    auth.sign_out_button(viewer)
    jobs_view.watch_my_jobs()
    if ctx is not None and ctx.run.dataset["kind"] == "seed":
        st.sidebar.caption("コメントの出典: 令和4年度 重層的支援体制構築推進人材養成研修 ワークシート回答（抜粋）")
    warning = state.pop_warning()
    if warning:
        st.warning(md_escape(warning), icon=":material/warning:")
    message = state.pop_flash()
    if message:
        st.success(md_escape(message), icon=":material/check_circle:")


def _on_data_page() -> bool:
    """The data page works without any run (upload a file, see why a run is broken)."""
    page = st.session_state.get("_page_url", "")
    return page == "data"
