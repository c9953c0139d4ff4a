"""Progress and cancellation for long pipeline runs, without threading a callback through every stage.

The pipeline opens a :class:`Tracker` for a run; stages mark where they are with
:func:`stage` and, inside long loops (embedding batches, UMAP epochs), call :func:`advance`.
Both find the current tracker through a context variable, so a stage function keeps its plain
array-in / array-out signature and reports nothing when no tracker is active (notebooks, tests).

:func:`advance` is also the cancellation point: when the tracker's ``cancelled()`` returns true it
raises :class:`Cancelled`, which unwinds the run without saving anything.

Fractions: each stage has a weight (its expected share of the run's time, from ``bench/``); the
overall fraction is the weighted sum of finished stages plus the current stage's share done.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

__all__ = ["Cancelled", "Tracker", "stage", "advance", "check_cancelled", "active"]

#: Japanese names of the stages, as users read them (no library names: those live in the glossary).
STAGE_JA: dict[str, str] = {
    "prepare": "準備しています",
    "embed": "文の意味を数値にしています",
    "neighbors": "近いコメントどうしを探しています",
    "space": "テーマ分けのための配置を計算しています",
    "map": "地図の配置を計算しています",
    "cluster": "テーマに分けています",
    "describe": "テーマの名前とキーワードを付けています",
    "stability": "テーマの安定性を確かめています（乱数を変えて再計算）",
    "save": "保存しています",
    "done": "完了",
}


class Cancelled(Exception):
    """The run was cancelled by its owner; nothing was saved."""


ProgressCallback = Callable[[str, float, str], None]
"""``callback(stage key, overall fraction 0-1, Japanese detail)``."""


@dataclass
class Tracker:
    """Collects progress of one run and forwards it to ``callback`` (throttled).

    ``weights`` maps stage keys to their expected share of the run; stages not listed get 0.
    ``cancelled`` is polled at every :func:`advance` (at most every ``poll_s`` seconds).
    """

    callback: ProgressCallback | None = None
    weights: dict[str, float] = field(default_factory=dict)
    cancelled: Callable[[], bool] | None = None
    min_interval_s: float = 0.25
    poll_s: float = 0.5
    stage_key: str = "prepare"
    done_weight: float = 0.0
    stage_fraction: float = 0.0
    detail: str = ""
    depth: int = 0
    _last_emit: float = 0.0
    _last_poll: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @property
    def fraction(self) -> float:
        total = sum(self.weights.values()) or 1.0
        w = self.weights.get(self.stage_key, 0.0)
        return min(1.0, (self.done_weight + w * self.stage_fraction) / total)

    def emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.callback is not None and (force or now - self._last_emit >= self.min_interval_s):
            self._last_emit = now
            self.callback(self.stage_key, self.fraction, self.detail)

    def poll(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.cancelled is not None and (force or now - self._last_poll >= self.poll_s):
            self._last_poll = now
            if self.cancelled():
                raise Cancelled()


_CURRENT: contextvars.ContextVar[Tracker | None] = contextvars.ContextVar("moyamoya_progress", default=None)


def active() -> Tracker | None:
    return _CURRENT.get()


@contextlib.contextmanager
def tracking(tracker: Tracker | None) -> Iterator[Tracker | None]:
    """Make ``tracker`` the current one for the block (``None``: report nothing)."""
    token = _CURRENT.set(tracker)
    try:
        yield tracker
    finally:
        _CURRENT.reset(token)


@contextlib.contextmanager
def stage(key: str, detail: str = "") -> Iterator[None]:
    """Mark the block as stage ``key``; its weight counts as done when the block ends.

    A stage opened inside another (UMAP reruns inside the stability stage) only changes the
    detail text: the outer stage owns the weight and the fraction.
    """
    t = _CURRENT.get()
    if t is None:
        yield
        return
    t.poll(force=True)
    if t.depth > 0:
        prev_detail = t.detail
        t.depth += 1
        try:
            yield
        finally:
            t.depth -= 1
            t.detail = prev_detail
        return
    t.depth = 1
    t.stage_key, t.stage_fraction, t.detail = key, 0.0, detail or STAGE_JA.get(key, key)
    t.emit(force=True)
    try:
        yield
    finally:
        t.depth = 0
        t.done_weight += t.weights.get(key, 0.0)
        t.stage_fraction = 0.0


def advance(done: float, total: float, detail: str | None = None) -> None:
    """Report ``done`` of ``total`` units of the current stage; raises :class:`Cancelled` if asked to stop."""
    t = _CURRENT.get()
    if t is None:
        return
    if t.depth <= 1:  # inner stages (see :func:`stage`) only poll for cancellation
        t.stage_fraction = 0.0 if total <= 0 else min(1.0, max(0.0, done / total))
        # the stage's name with how far it is (comments embedded, layout rounds done)
        t.detail = detail if detail is not None else f"{STAGE_JA.get(t.stage_key, t.stage_key)}（{int(done):,} / {int(total):,}）"
        t.emit()
    t.poll()


def check_cancelled() -> None:
    """A cancellation point without progress (raises :class:`Cancelled` if the owner stopped the run)."""
    t = _CURRENT.get()
    if t is not None:
        t.poll(force=True)


def default_weights(n: int, stability_seeds: int = 0, dense: bool = True) -> dict[str, float]:
    """Expected share of time per stage for ``n`` comments (from ``python -m bench.bench_pipeline``).

    At 10,000 comments with the default backend (dense model one text at a time, pinned numerics):
    embed 36 s, UMAP 6.7 s (map about 45 % of it), clustering 1.2 s, describe 8.8 s (phrase names);
    at 1,000: embed 4.0 s, describe 5.1 s (names placed with the dense model up to 1,500 comments).
    Lexical only (``sudachi``), 10,000: embed 1.7 s, describe 8.3 s. Earlier, batched: at 100,000
    embed 148 s, UMAP 283 s, clustering 5 s.
    """
    embed = 3.6 * n / 1000 if dense else 0.17 * n / 1000
    umap_total = 0.7 * n / 1000 + (0.00002 * n * n / 1000 if n > 20000 else 0.0) + 0.3
    w = {
        "prepare": 0.05,
        "embed": embed,
        "neighbors": 0.05 * umap_total,
        "space": 0.4 * umap_total,
        "map": 0.55 * umap_total,
        "cluster": 0.15 * n / 1000 + 0.05,
        # names and summaries; up to 1,500 comments their candidates go through the dense model too
        "describe": 0.85 * n / 1000 + (4.0 * n / 1000 if dense and n <= 1500 else 0.0) + 0.3,
        "save": 0.01 * n / 1000 + 0.05,
    }
    if stability_seeds:
        w["stability"] = stability_seeds * (0.4 * umap_total + w["cluster"])
    return w
