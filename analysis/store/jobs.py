"""Background analyses that outlive the browser: one job folder and one worker process per analysis.

The dashboard never runs the pipeline inside a browser session: :func:`submit` writes the comments
and settings to ``models/jobs/<job id>/`` and starts ``python -m analysis job <folder>`` as a
process of its own. Closing the tab, switching pages or a second visitor changes nothing for it;
the finished run is saved like any other and the job says where.

Files of a job folder (all written atomically)::

    job.json       what to run: owner, settings, data set description, stability seeds, previous run
    comments.csv   the comment table to analyse
    status.json    state, stage, detail (Japanese), fraction done, times, pid, run path or error
    cancel         present when the owner asked to stop
    log.txt        the worker's own output (for an administrator; never shown to users)

States: ``queued`` (waiting for a free slot: at most :data:`MAX_RUNNING` analyses run at once on
the 2-core machines we target), ``running``, ``done``, ``failed``, ``cancelled``, and ``lost`` (the
worker disappeared: machine restarted or process killed).

The worker process gets the pinned numerics environment (:mod:`analysis.themes.numerics`), so an
analysis started from the dashboard gives the same themes as the same analysis on another machine.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .. import progress
from ..errors import UserError
from ..schema import DatasetInfo
from ..storage import atomic_write_json, pid_alive, read_json, staging_dir
from ..themes import numerics
from .runs import PROJECT_DIR, models_dir

#: Analyses running at the same time; more wait in the queue (2 cores, and each loads a model).
MAX_RUNNING = 2
#: A running job whose worker is gone and whose status has not moved for this long is ``lost``.
LOST_AFTER_S = 15.0
FINISHED = ("done", "failed", "cancelled", "lost")
STATE_JA = {"queued": "順番待ち", "running": "分析中", "done": "完了", "failed": "失敗", "cancelled": "中止",
            "lost": "中断"}

__all__ = ["Job", "submit", "get", "list_jobs", "cancel", "wait", "jobs_dir", "prune", "write_status", "acquire_slot",
           "MAX_RUNNING", "STATE_JA", "FINISHED"]


def jobs_dir() -> Path:
    return models_dir() / "jobs"


@dataclass
class Job:
    """A job as the dashboard shows it (read from its folder)."""

    job_id: str
    owner: str
    kind: str
    name: str
    n_comments: int
    created: str
    state: str
    stage: str
    detail: str
    fraction: float
    started: float | None
    updated: float | None
    finished: float | None
    run_path: str | None
    error: str | None
    pid: int | None
    cancel_requested: bool

    @property
    def active(self) -> bool:
        return self.state not in FINISHED

    @property
    def elapsed_s(self) -> float:
        if self.started is None:
            return 0.0
        end = self.finished if self.finished is not None else time.time()
        return max(0.0, end - self.started)

    @property
    def eta_s(self) -> float | None:
        """Seconds left, estimated from the fraction done (None until there is enough to go on)."""
        if self.state != "running" or self.fraction < 0.03 or self.fraction >= 1.0:
            return None
        return self.elapsed_s * (1.0 - self.fraction) / self.fraction

    @property
    def state_ja(self) -> str:
        return STATE_JA.get(self.state, self.state)


def _now() -> float:
    return time.time()


def write_status(folder: Path, **fields: Any) -> dict:
    """Merge ``fields`` into the job's status.json (atomically), stamping ``updated``."""
    current = read_json(folder / "status.json", {}) or {}
    current.update(fields, updated=_now())
    atomic_write_json(folder / "status.json", current)
    return current


def submit(
    comments: pd.DataFrame,
    config,
    input_info: DatasetInfo,
    owner: str = "",
    stability_seeds: int = 0,
    previous_path: str | None = None,
    kind: str = "analysis",
    spawn: bool = True,
) -> str:
    """Queue an analysis and start its worker process; returns the job id at once."""
    info = DatasetInfo.coerce(input_info)
    from ..ingest.comments import comments_to_csv_frame
    from .cells import store_frame

    job_id = f"{_dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    base = jobs_dir()
    spec = {
        "id": job_id,
        "owner": owner,
        "kind": kind,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "input_info": info.to_dict(),
        "stability_seeds": int(stability_seeds),
        "previous": previous_path,
        "n_comments": int(len(comments)),
        "attributes": list(info.attributes or []),
    }
    with staging_dir(base, job_id) as tmp:
        store_frame(comments_to_csv_frame(comments)).to_csv(tmp / "comments.csv", index=False, encoding="utf-8-sig",
                                                            errors="replace")
        (tmp / "job.json").write_text(json.dumps(spec, ensure_ascii=False, indent=2), encoding="utf-8")
        (tmp / "status.json").write_text(json.dumps({"state": "queued", "stage": "prepare", "fraction": 0.0,
                                                     "detail": "順番を待っています", "updated": _now()}), encoding="utf-8")
        os.replace(tmp, base / job_id)
    if spawn:
        start_worker(base / job_id)
    return job_id


def start_worker(folder: Path) -> int:
    """Start ``python -m analysis job <folder>`` detached from this process; returns its pid."""
    env = dict(os.environ)
    numerics.pin_environment(env)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    log = open(folder / "log.txt", "ab")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "analysis", "job", str(folder)],
            cwd=str(PROJECT_DIR), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl+C or restart of the dashboard does not stop the analysis
        )
    finally:
        log.close()
    write_status(folder, pid=proc.pid)
    return proc.pid


def _read(folder: Path) -> Job | None:
    try:
        spec = read_json(folder / "job.json", None)
        st = read_json(folder / "status.json", {}) or {}
    except (OSError, ValueError):
        return None
    if not isinstance(spec, dict) or not isinstance(st, dict):
        return None
    state = str(st.get("state", "queued"))
    pid = st.get("pid")
    updated = st.get("updated")
    if state not in FINISHED and not pid_alive(pid) and (updated is None or _now() - float(updated) > LOST_AFTER_S):
        state = "lost"
    info = DatasetInfo.from_dict(spec.get("input_info") if isinstance(spec.get("input_info"), dict) else None)
    return Job(
        job_id=str(spec.get("id", folder.name)), owner=str(spec.get("owner", "")), kind=str(spec.get("kind", "")),
        name=info.name, n_comments=int(spec.get("n_comments") or 0),
        created=str(spec.get("created", "")), state=state, stage=str(st.get("stage", "")),
        detail=str(st.get("detail", "")), fraction=float(st.get("fraction") or 0.0), started=st.get("started"),
        updated=updated, finished=st.get("finished"), run_path=st.get("run_path"), error=st.get("error"),
        pid=pid, cancel_requested=(folder / "cancel").exists(),
    )


def get(job_id: str) -> Job | None:
    return _read(jobs_dir() / job_id)


def list_jobs(owner: str | None = None, limit: int = 20, kind: str | None = None) -> list[Job]:
    """Jobs newest first (``owner=None``: everybody's)."""
    d = jobs_dir()
    if not d.is_dir():
        return []
    out = []
    for folder in sorted((p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True):
        job = _read(folder)
        if job is None or (owner is not None and job.owner != owner) or (kind is not None and job.kind != kind):
            continue
        out.append(job)
        if len(out) >= limit:
            break
    return out


def cancel(job_id: str) -> None:
    """Ask a job to stop: it stops at its next progress point (seconds) and saves nothing."""
    folder = jobs_dir() / job_id
    if not (folder / "job.json").exists():
        raise UserError("その分析の受付記録が見つかりません。")
    (folder / "cancel").write_bytes(b"")
    job = _read(folder)
    if job is not None and job.state == "queued" and job.pid and pid_alive(job.pid):
        try:  # a queued worker may be waiting for a slot; it also checks the flag, this is faster
            os.kill(job.pid, signal.SIGTERM)
        except OSError:
            pass


def wait(job_id: str, timeout: float = 600.0, poll: float = 0.2) -> Job:
    """Block until the job has finished (tests, scripts); returns its last state."""
    deadline = time.monotonic() + timeout
    while True:
        job = get(job_id)
        if job is None or not job.active:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job.state} after {timeout} s")
        time.sleep(poll)


def prune(max_age_days: float = 7.0) -> int:
    """Remove finished job folders older than ``max_age_days`` (only this program's files)."""
    d = jobs_dir()
    removed = 0
    if not d.is_dir():
        return 0
    cutoff = _now() - max_age_days * 86400
    for folder in d.iterdir():
        job = _read(folder) if folder.is_dir() and not folder.name.startswith(".") else None
        if job is None or job.active or (job.finished or job.updated or _now()) > cutoff:
            continue
        for name in ("job.json", "comments.csv", "status.json", "cancel", "log.txt"):
            (folder / name).unlink(missing_ok=True)
        try:
            folder.rmdir()
            removed += 1
        except OSError:
            pass
    return removed


# --------------------------------------------------------------------------- the worker


def acquire_slot(folder: Path) -> int:
    """Wait for one of :data:`MAX_RUNNING` slots (a lock file each); returns the open lock fd."""
    slots = jobs_dir() / ".slots"
    slots.mkdir(parents=True, exist_ok=True)
    shown = None
    while True:
        for i in range(MAX_RUNNING):
            fd = os.open(slots / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                os.close(fd)
        if (folder / "cancel").exists():
            raise progress.Cancelled()
        ahead = sum(1 for j in list_jobs(limit=50) if j.state == "running")
        detail = f"ほかの分析が終わるのを待っています（実行中 {ahead} 件）"
        if detail != shown:
            write_status(folder, state="queued", detail=detail)
            shown = detail
        else:
            write_status(folder)
        time.sleep(1.0)
