"""UMAP's layout optimisation on every core, with results that depend on the seed alone.

umap-learn runs its stochastic gradient descent on one thread whenever ``random_state`` is set:
its parallel mode lets threads move the same point at the same time, so results change from run
to run. On the 2-core machines we target, that single thread is most of the pipeline's time
(5.0 of 5.5 s for the 5-d space at 10,000 comments).

This module keeps umap-learn's graph, initialisation, gradients, learning-rate schedule, edge
sampling and per-point random streams, and changes only *who* processes which edge:

* The points are split into a binary tree of blocks (2**depth leaves) by recursive weighted-median
  cuts of the layout, re-cut a few times as the layout settles (``REBLOCK_AT``). Every edge belongs
  to the deepest block holding both of its ends.
* Each epoch walks the levels from the leaves up. Blocks of one level share no point, so they run
  in parallel; inside a block, edges run in umap-learn's order, exactly as umap-learn runs them.
  Only the edges crossing the first split run in the last, single-block step.
* A negative sample that falls outside the current block reads that point's position from the
  start of the epoch (a copy), so no thread reads a point another thread is moving.

Nothing depends on the number of threads, so the layout is the same on 1 core or 16. With
``depth=0`` there is one block and the result is umap-learn's own (tested).

Because the thread count never changes the result, it is chosen while the layout runs
(:class:`ThreadGovernor`): each epoch ends at a barrier, so when another process keeps a core busy
a thread waits a scheduler slice at every barrier (measured on 2 cores with one busy process: 1,000
points 17.9 s on 2 threads against 4.0 s on 1). The governor looks at what other processes used
since its last look (``/proc/stat`` minus this process's own CPU time) and runs on the cores they
leave free, re-deciding every quarter of a second.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import types

import numba
import numpy as np
from umap.layouts import clip, rdist
from umap.utils import tau_rand_int

from .. import progress

# Leaves hold at least this many points (no split below 2 * 250). Two levels (4 blocks) keep 2-4
# cores busy; deeper trees were slower on 2 cores (10,000 points: 3.1 s at depth 1, 3.4 s at 6).
MIN_LEAF_POINTS = 250
MAX_DEPTH = 2
# Fractions of the epochs at which the blocks are cut again from the current layout. The initial
# (spectral) layout is a poor guide: at 10,000 comments its first cut crosses 41 % of the edges,
# the layout's after 200 epochs only 4 %; points settle near their neighbours within a few epochs.
REBLOCK_AT = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7)
# numba's fallback threading layer ("workqueue") must not be entered by two Python threads at once,
# and Streamlit serves each session on its own thread.
_PARALLEL_LOCK = threading.Lock()


@contextlib.contextmanager
def parallel_section(n_threads: int | None = None):
    """Run numba-parallel code on ``n_threads`` (default all) threads, one caller at a time.

    Yields the thread count; restores numba's previous setting afterwards.
    """
    threads = numba.config.NUMBA_NUM_THREADS if n_threads is None else max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    with _PARALLEL_LOCK:
        before = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            yield threads
        finally:
            numba.set_num_threads(before)


class ThreadGovernor:
    """How many threads the next epochs should use: the cores other processes leave free.

    ``threads()`` re-decides at most every ``interval`` seconds from the CPU time the whole machine
    spent busy (``/proc/stat``) minus this process's own, over the wall time since the last decision;
    between decisions it returns the last answer. Where ``/proc/stat`` cannot be read it always
    returns ``max_threads``. Only speed depends on the answer, never the layout.
    """

    def __init__(self, max_threads: int, interval: float = 0.25) -> None:
        self.max_threads = max(1, int(max_threads))
        self.interval = interval
        self.current = self.max_threads
        self.n_cpus = os.cpu_count() or 1
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._sample()

    @staticmethod
    def _busy_jiffies() -> int | None:
        try:
            with open("/proc/stat", encoding="ascii") as fh:
                parts = [int(v) for v in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
        return sum(parts[:8]) - idle  # user .. steal; guest time is already counted in user

    def _sample(self):
        busy = self._busy_jiffies()
        own = os.times()
        return None if busy is None else (time.monotonic(), busy, own.user + own.system)

    def threads(self) -> int:
        if self._last is None or self.max_threads == 1:
            return self.current
        now = time.monotonic()
        if now - self._last[0] < self.interval:
            return self.current
        s = self._sample()
        if s is None:
            return self.current
        wall = s[0] - self._last[0]
        others = max(0.0, (s[1] - self._last[1]) / self._tick - (s[2] - self._last[2])) / wall
        self._last = s
        self.current = int(min(self.max_threads, max(1, round(self.n_cpus - others))))
        return self.current


def default_depth(n_points: int) -> int:
    """Tree depth from the number of points only (never from the thread count)."""
    if n_points < 2 * MIN_LEAF_POINTS:
        return 0
    return int(min(MAX_DEPTH, np.floor(np.log2(n_points / MIN_LEAF_POINTS))))


def bisect_leaves(
    coords: np.ndarray,
    depth: int,
    vertex_work: np.ndarray | None = None,
    head: np.ndarray | None = None,
    tail: np.ndarray | None = None,
    edge_work: np.ndarray | None = None,
) -> np.ndarray:
    """Leaf id (0 .. 2**depth - 1) per point by recursive splits of ``coords``.

    Each block is cut at the weighted median (``vertex_work``, default 1 per point) of one
    coordinate, so both halves carry the same work. With edges (``head``, ``tail``, ``edge_work``)
    the coordinate whose cut crosses the least edge work is chosen, since crossing edges wait for a
    later, less parallel level; without them, the widest coordinate. The first split is the top bit
    of the leaf id: two points share a block at level L when their ids share the top L bits.
    Ties are broken by point index, so the result depends on the data alone.
    """
    n, dims = coords.shape
    leaf = np.zeros(n, dtype=np.int64)
    if depth <= 0 or n == 0:
        return leaf
    work = np.ones(n) if vertex_work is None else np.asarray(vertex_work, dtype=np.float64)
    use_edges = head is not None and tail is not None and edge_work is not None
    right = np.zeros(n, dtype=bool)
    for _ in range(depth):
        nxt = 2 * leaf
        for blk in np.unique(leaf):
            idx = np.flatnonzero(leaf == blk)
            if len(idx) < 2:
                continue
            if use_edges:
                inside = (leaf[head] == blk) & (leaf[tail] == blk)
                h, t, ew = head[inside], tail[inside], edge_work[inside]
            best, best_score = None, None
            for d in range(dims):
                srt = idx[np.argsort(coords[idx, d], kind="stable")]  # idx ascending: ties by index
                cw = np.cumsum(work[srt])
                m = int(np.clip(np.searchsorted(cw, cw[-1] / 2.0) + 1, 1, len(srt) - 1))
                if use_edges:
                    right[srt[:m]] = False
                    right[srt[m:]] = True
                    score = float(ew[right[h] != right[t]].sum())
                else:
                    score = -float(np.ptp(coords[idx, d]))
                if best_score is None or score < best_score:
                    best, best_score = srt[m:], score
            nxt[best] += 1
        leaf = nxt
    return leaf


def edge_blocks(head: np.ndarray, tail: np.ndarray, leaf: np.ndarray, depth: int):
    """Order the edges block by block, deepest level first.

    Returns (permutation of edges, block_ptr, level_start, level_shift): the edges of block ``b``
    are ``perm[block_ptr[b]:block_ptr[b + 1]]``; level ``L`` (processed L-th, leaves first) owns
    blocks ``level_start[L]:level_start[L + 1]`` and a point's block id there is ``leaf >> level_shift[L]``.
    """
    lh, lt = leaf[head], leaf[tail]
    diff = np.bitwise_xor(lh, lt)
    # Common-prefix length of the two leaf ids = the deepest level holding both ends.
    common = depth - np.where(diff > 0, np.floor(np.log2(np.maximum(diff, 1))).astype(np.int64) + 1, 0)
    levels = list(range(depth, -1, -1))  # processing order: leaves first, root last
    offsets = np.zeros(depth + 2, dtype=np.int64)  # block offset per processing slot
    for slot, lev in enumerate(levels):
        offsets[slot + 1] = offsets[slot] + 2**lev
    slot_of_level = np.array([depth - lev for lev in range(depth + 1)], dtype=np.int64)
    key = offsets[slot_of_level[common]] + (lh >> (depth - common))
    perm = np.argsort(key, kind="stable")
    counts = np.bincount(key, minlength=int(offsets[-1]))
    block_ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=block_ptr[1:])
    level_shift = np.array([depth - lev for lev in levels], dtype=np.int64)
    return perm.astype(np.int64), block_ptr, offsets, level_shift


def _epoch_py(y, snap, head, tail, leaf, pos, eps, next_s, eps_neg, next_neg, rng, a, b, gamma, alpha, n,
           block_ptr, level_start, level_shift, move_other):  # pragma: no cover - compiled
    n_vertices = y.shape[0]
    dim = y.shape[1]
    for i in numba.prange(n_vertices):
        for d in range(dim):
            snap[i, d] = y[i, d]
    for lev in range(len(level_shift)):
        b0 = level_start[lev]
        n_blocks = level_start[lev + 1] - b0
        shift = level_shift[lev]
        for bi in numba.prange(n_blocks):
            for i in range(block_ptr[b0 + bi], block_ptr[b0 + bi + 1]):
                if next_s[i] > n:
                    continue
                j = head[i]
                k = tail[i]
                current = y[j]
                other = y[k]
                dist_squared = rdist(current, other)
                if dist_squared > 0.0:
                    grad_coeff = -2.0 * a * b * pow(dist_squared, b - 1.0)
                    grad_coeff /= a * pow(dist_squared, b) + 1.0
                else:
                    grad_coeff = 0.0
                for d in range(dim):
                    grad_d = clip(grad_coeff * (current[d] - other[d]))
                    current[d] += grad_d * alpha
                    if move_other:
                        other[d] += -grad_d * alpha
                next_s[i] += eps[i]
                n_neg = int((n - next_neg[i]) / eps_neg[i])
                for p in range(n_neg):
                    # The same random point umap-learn would pick, wherever it is stored now.
                    k = pos[tau_rand_int(rng[j]) % n_vertices]
                    # Points of this block are moved only by this thread; others are read as they
                    # stood at the start of the epoch.
                    if (leaf[k] >> shift) == bi:
                        other = y[k]
                    else:
                        other = snap[k]
                    dist_squared = rdist(current, other)
                    if dist_squared > 0.0:
                        grad_coeff = 2.0 * gamma * b
                        grad_coeff /= (0.001 + dist_squared) * (a * pow(dist_squared, b) + 1)
                    elif j == k:
                        continue
                    else:
                        grad_coeff = 0.0
                    for d in range(dim):
                        if grad_coeff > 0.0:
                            grad_d = clip(grad_coeff * (current[d] - other[d]))
                        else:
                            grad_d = 0
                        current[d] += grad_d * alpha
                next_neg[i] += n_neg * eps_neg[i]


def _renamed(fn, name: str):
    """A copy of ``fn`` under another name: numba's on-disk cache is keyed by the function's name and
    line, not by its compile flags, so two compilations of one function would overwrite each other."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = name
    return copy


# One body, compiled twice: the parallel version for split layouts, and a plain loop for small inputs
# (one block), where starting threads every epoch would cost more than it saves.
_epoch = numba.njit(fastmath=True, parallel=True, cache=True)(_renamed(_epoch_py, "_epoch_parallel"))
_epoch_serial = numba.njit(fastmath=True, cache=True)(_renamed(_epoch_py, "_epoch_serial"))


def optimize_layout(
    embedding: np.ndarray,
    head: np.ndarray,
    tail: np.ndarray,
    n_epochs: int,
    epochs_per_sample: np.ndarray,
    a: float,
    b: float,
    rng_state: np.ndarray,
    gamma: float = 1.0,
    initial_alpha: float = 1.0,
    negative_sample_rate: float = 5.0,
    depth: int | None = None,
    n_threads: int | None = None,
) -> np.ndarray:
    """Drop-in for ``umap.layouts.optimize_layout_euclidean`` (head = tail embedding, move_other).

    ``embedding`` (n, d) float32 C-contiguous is optimised in place and returned. ``depth`` defaults
    to :func:`default_depth`; ``n_threads`` fixes the thread count (it changes speed, never the
    result); by default a :class:`ThreadGovernor` picks between 1 and all of numba's threads.
    """
    y = embedding
    n = y.shape[0]
    depth = default_depth(n) if depth is None else int(depth)
    head = np.ascontiguousarray(head, dtype=np.int32)
    tail = np.ascontiguousarray(tail, dtype=np.int32)
    eps = np.ascontiguousarray(epochs_per_sample, dtype=np.float64)
    eps_neg = eps / negative_sample_rate
    next_neg = eps_neg.copy()
    next_s = eps.copy()
    # umap-learn seeds one random stream per point from the seed and the point's first coordinate.
    rng = np.full((n, len(rng_state)), rng_state, dtype=np.int64) + y[:, 0].astype(np.float64).view(np.int64).reshape(-1, 1)
    snap = np.empty_like(y)
    reblock = {int(f * n_epochs) for f in REBLOCK_AT} if depth > 0 else {0}
    # Rows are stored block by block so that two threads never write to one cache line;
    # ``pos[i]`` is the row of original point i.
    pos = np.arange(n, dtype=np.int64)
    step = _epoch if depth > 0 else _epoch_serial
    with parallel_section(n_threads) as max_threads:
        governor = ThreadGovernor(max_threads) if n_threads is None and depth > 0 else None
        # Blocks differ in size: hand them out one at a time (order of work never changes results).
        chunk_before = numba.set_parallel_chunksize(1)
        try:
            alpha = initial_alpha
            for epoch in range(n_epochs):
                if epoch in reblock:
                    leaf = np.zeros(n, dtype=np.int64)
                    if depth > 0:
                        samples = np.where(eps > 0, 1.0 / np.maximum(eps, 1e-12), 0.0)  # times an edge runs per epoch
                        edge_work = samples * (1.0 + negative_sample_rate)
                        vertex_work = np.bincount(head, edge_work, minlength=n) + np.bincount(tail, samples, minlength=n)
                        leaf = bisect_leaves(y, depth, vertex_work, head, tail, edge_work)
                        order = np.argsort(leaf, kind="stable")
                        inv = np.empty(n, dtype=np.int64)
                        inv[order] = np.arange(n)
                        y, rng, leaf = np.ascontiguousarray(y[order]), np.ascontiguousarray(rng[order]), leaf[order]
                        head, tail, pos = inv[head].astype(np.int32), inv[tail].astype(np.int32), inv[pos]
                    perm, block_ptr, level_start, level_shift = edge_blocks(head, tail, leaf, depth)
                    head, tail, eps, eps_neg, next_s, next_neg = (
                        np.ascontiguousarray(arr[perm]) for arr in (head, tail, eps, eps_neg, next_s, next_neg))
                if governor is not None:
                    numba.set_num_threads(governor.threads())
                step(y, snap, head, tail, leaf, pos, eps, next_s, eps_neg, next_neg, rng, a, b, gamma, alpha, epoch,
                     block_ptr, level_start, level_shift, True)
                alpha = initial_alpha * (1.0 - float(epoch) / float(n_epochs))
                progress.advance(epoch + 1, n_epochs)
        finally:
            numba.set_parallel_chunksize(chunk_before)
    embedding[:] = y[pos]
    return embedding
