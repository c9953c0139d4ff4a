"""Compile UMAP's kernels once at install time, so a fresh install's first analysis does not.

:mod:`analysis.themes.warmup` turns numba's disk cache on; this module fills it (``make venv`` runs
``python -m analysis.themes.precompile``). Kept apart from :mod:`analysis.themes.warmup` because it drives
:mod:`analysis.themes.reduce`, which itself imports the warm-up.
"""

from __future__ import annotations

__all__ = ["compile_kernels"]


def compile_kernels() -> float:
    """Compile and cache the UMAP kernels the pipeline uses, on random data; returns seconds.

    ``make venv`` runs this once after installing (``python -m analysis.themes.precompile``), so a fresh
    install's first analysis loads machine code instead of compiling it (about 20 s on 2 cores):
    108 points take umap-learn's own estimator (the seed's path), 600 the block-parallel layout.
    NN-descent (above 4,096 comments) cannot be cached by numba and still compiles per process.
    """
    import time

    import numpy as np

    from ..config import UmapConfig
    from .reduce import reduce_both

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    for n in (108, 600):
        reduce_both(rng.normal(size=(n, 32)).astype(np.float32), UmapConfig(), seed=0)
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"UMAP kernels compiled and cached in {compile_kernels():.1f} s")
