"""Background analyses in the dashboard: start them, watch them, cancel them, open what they made.

The pipeline never runs inside a browser session (see :mod:`analysis.store.jobs`): a page submits a job
and returns at once. A small fragment polls the job's status file every second or two, so progress
moves without the page being rerun; when a job this session started finishes, the session switches
to the new run. A closed tab loses nothing: the job goes on, and its run appears in every run list.
"""

from __future__ import annotations

import streamlit as st

from analysis.config import PipelineConfig
from analysis.errors import UserError
from analysis.schema import DatasetInfo
from analysis.storage import file_lock
from analysis.store import jobs
from analysis.store.runs import models_dir
from ui import auth, data, state
from ui.text import md_escape

POLL_S = 1.5


def submit(comments, config: PipelineConfig, input_info: DatasetInfo, stability_seeds: int = 0,
           previous_path: str | None = None) -> str:
    """Start an analysis for this session's viewer; it runs on after the tab closes."""
    if not auth.may_analyse("分析の実行"):
        raise UserError(auth.analyst_only("分析の実行"))
    job_id = jobs.submit(comments, config, input_info, owner=auth.viewer().user, stability_seeds=stability_seeds,
                         previous_path=previous_path)
    state.remember_job(job_id)
    return job_id


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    return f"{seconds // 60}分{seconds % 60:02d}秒" if seconds >= 60 else f"{seconds}秒"


def _job_line(job: jobs.Job) -> str:
    parts = [f"**{md_escape(job.name or '分析')}**（{job.n_comments:,}件）", job.state_ja]
    if job.active:
        parts.append(f"経過 {_minutes(job.elapsed_s)}")
        if job.eta_s is not None:
            parts.append(f"残り約 {_minutes(job.eta_s)}")
    elif job.finished:
        parts.append(f"所要 {_minutes(job.elapsed_s)}")
    return " ・ ".join(parts)


def _open(run_path: str, job_id: str) -> None:
    """Show a finished job's run. The card may sit in a polling fragment, whose reruns leave the
    sidebar's run picker as it was: switch through the pending-run slot and rerun the whole app."""
    state.request_run_switch(run_path)
    state.forget_job(job_id)
    data.clear_caches()
    st.rerun(scope="app")


def _cancel(job_id: str) -> None:
    job = jobs.get(job_id)
    if job is not None and auth.refused("分析の中止", owner=job.owner):
        return
    try:
        jobs.cancel(job_id)
    except Exception as exc:  # a job folder removed meanwhile: say so, never a traceback
        state.warn_once(str(exc))


def job_card(job: jobs.Job, key: str) -> None:
    """One job: what, state, progress inside long stages, time left, cancel / open."""
    with st.container(border=True):
        st.markdown(_job_line(job))
        if job.active:
            st.progress(min(max(job.fraction, 0.0), 1.0), text=md_escape(job.detail or job.state_ja))
            mine = auth.viewer().local or job.owner == auth.viewer().user or auth.viewer().can_analyse
            if mine and not job.cancel_requested:
                st.button("中止する", key=f"cancel_{key}_{job.job_id}", on_click=_cancel, args=(job.job_id,),
                          icon=":material/stop_circle:")
            elif job.cancel_requested:
                st.caption("中止を受け付けました。まもなく止まります。")
        elif job.state == "done" and job.run_path:
            if st.button("この分析を表示する", key=f"open_{key}_{job.job_id}", icon=":material/visibility:",
                         disabled=job.run_path == state.active_run_path()):
                _open(job.run_path, job.job_id)
        elif job.state in ("failed", "lost"):
            st.error(md_escape(job.error or "分析が途中で止まりました（サーバーの再起動などで中断されました）。もう一度お試しください。"))
        elif job.state == "cancelled":
            st.caption("中止しました。結果は保存していません。")


def _finished_mine() -> jobs.Job | None:
    """A job this session started that has finished since the last look."""
    for job_id in state.my_jobs():
        job = jobs.get(job_id)
        if job is None:
            state.forget_job(job_id)
        elif not job.active:
            return job
    return None


def _announce(job: jobs.Job) -> None:
    state.forget_job(job.job_id)
    if job.state == "done" and job.run_path:
        st.session_state[state.KEY_PENDING_RUN] = job.run_path
        state.flash(f"分析「{job.name}」が終わり、表示を切り替えました。")
    elif job.state == "failed":
        state.warn_once(f"分析「{job.name}」はできませんでした: {job.error}")
    data.clear_caches()


def watch_my_jobs() -> None:
    """Sidebar: this session's running analyses with their progress (polled), and the switch when done."""
    if not state.my_jobs():
        return

    @st.fragment(run_every=POLL_S)
    def _watch() -> None:
        done = _finished_mine()
        if done is not None:
            _announce(done)
            st.rerun(scope="app")
        for job_id in state.my_jobs():
            job = jobs.get(job_id)
            if job is not None and job.active:
                st.caption(f"分析中: {md_escape(job.name)} — {md_escape(job.detail)}")
                st.progress(min(max(job.fraction, 0.0), 1.0))

    with st.sidebar:
        _watch()


def job_list(owner: str | None) -> None:
    """The data page's list of analyses (this viewer's, or everybody's for the local analyst)."""
    listed = jobs.list_jobs(owner=owner, limit=8)
    if not listed:
        st.caption("受け付けた分析はまだありません。")
        return

    @st.fragment(run_every=POLL_S if any(j.active for j in listed) else None)
    def _list() -> None:
        current = jobs.list_jobs(owner=owner, limit=8)
        if any(j.job_id in state.my_jobs() and not j.active for j in current):
            st.rerun(scope="app")
        for job in current:
            job_card(job, "list")

    _list()


def ensure_default_job() -> jobs.Job | None:
    """First launch: the analysis of the seed with default settings, started once for everybody."""
    from analysis.ingest.seed import load_seed
    from analysis.pipeline import DEFAULT_STABILITY_SEEDS, SEED_INPUT

    with file_lock(models_dir() / "jobs" / ".default.lock", timeout=30):
        running = [j for j in jobs.list_jobs(kind="default", limit=5) if j.active]
        if running:
            return running[0]
        comments = load_seed()
        job_id = jobs.submit(comments, PipelineConfig(), SEED_INPUT, owner="", kind="default",
                             stability_seeds=DEFAULT_STABILITY_SEEDS)
    return jobs.get(job_id)


def first_launch() -> None:
    """No readable run yet: start (or join) the default analysis and show its progress."""
    st.title("連携もやもやマップ")
    try:
        job = ensure_default_job()
    except Exception as exc:  # e.g. a read-only models folder: one sentence, never a traceback
        st.error(f"最初の分析を始められませんでした: {exc}")
        st.stop()
    st.info("はじめての起動なので、同梱の「連携の“もやもや”集」（108件）を分析しています。"
            "1分ほどで終わり、自動で表示が切り替わります。このページを閉じても分析は続きます。")

    @st.fragment(run_every=1.0)
    def _progress() -> None:
        current = jobs.get(job.job_id) if job is not None else None
        if current is None or not current.active:
            data.clear_caches()
            if current is not None and current.state != "done":
                st.error(md_escape(current.error or "最初の分析ができませんでした。ページを読み込み直すと、もう一度始めます。"))
                return
            st.rerun(scope="app")
        st.progress(min(max(current.fraction, 0.0), 1.0), text=md_escape(current.detail or current.state_ja))

    _progress()
    st.stop()
