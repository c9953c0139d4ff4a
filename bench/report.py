"""Where the benchmark scripts leave their results: ``bench/results/<kind>-<time>.md`` and
``.json`` (gitignored), with the markdown also printed."""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def save(kind: str, rows: list[dict], text: str) -> Path:
    """Write ``text`` (markdown) and ``rows`` (JSON) under a shared time stamp, print ``text``;
    returns the markdown file."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    md = RESULTS / f"{kind}-{stamp}.md"
    md.write_text(text, encoding="utf-8")
    (RESULTS / f"{kind}-{stamp}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    print(text)
    return md


def load_text() -> str:
    """The 1/5/15-minute load averages as ``a/b/c`` (2 cores: above 2 the CPUs were shared)."""
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def busy_share(seconds: float = 1.0) -> float:
    """Share (0-1) of all CPUs busy during the next ``seconds`` (from /proc/stat; -1 if unreadable).

    Unlike the load average, which decays over a minute, this says whether someone else is computing
    *now*, so a benchmark can wait for a quiet moment without waiting out its own previous step.
    """

    def ticks() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as fh:
            parts = [int(v) for v in fh.readline().split()[1:]]
        idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
        return sum(parts), idle

    try:
        total0, idle0 = ticks()
        time.sleep(seconds)
        total1, idle1 = ticks()
    except (OSError, ValueError):
        return -1.0
    total = max(1, total1 - total0)
    return 1.0 - (idle1 - idle0) / total


def wait_quiet(max_busy: float = 0.15, max_wait: float | None = None, label: str = "") -> dict:
    """Wait until other processes use at most ``max_busy`` of the CPUs (1 s samples), at most
    ``max_wait`` seconds (default ``$MOYAMOYA_BENCH_MAX_WAIT`` or 300); returns what was seen
    (``busy``, ``waited``, ``load``) to report next to the time measured after it."""
    if max_wait is None:
        max_wait = float(os.environ.get("MOYAMOYA_BENCH_MAX_WAIT", "300"))
    t0 = time.perf_counter()
    busy = busy_share()
    while busy > max_busy and time.perf_counter() - t0 < max_wait:
        busy = busy_share(2.0)
    waited = time.perf_counter() - t0
    if waited > 5 and label:
        print(f"[quiet] waited {waited:.0f} s for {label} (busy {busy:.2f})", file=sys.stderr, flush=True)
    return {"busy": round(busy, 3), "waited": round(waited, 1), "load": load_text()}
