"""Pay numba's compilation once per install, not once per process.

umap-learn and pynndescent compile their kernels (about 10 s, and 25 s more for NN-descent above
4,096 comments) in every new process, because their functions are not marked for numba's on-disk
cache. Every background analysis is a new process, so this cost would land in every job.
:func:`enable_disk_cache` switches the cache on for the already-created dispatchers of those
packages (``Dispatcher.enable_caching``, what ``cache=True`` does), so the second process loads
machine code from ``__pycache__`` instead of compiling. A function numba cannot cache (it says so
with a warning) simply compiles as before.

The cache is keyed by numba with the target CPU name and features, so the pinned generic target
(:mod:`analysis.themes.numerics`) and a host-specific one never share entries.
"""

from __future__ import annotations

import functools
import importlib
import warnings

__all__ = ["enable_disk_cache"]

_MODULES = (
    "umap.umap_", "umap.layouts", "umap.spectral", "umap.utils", "umap.distances", "umap.sparse",
    "pynndescent.pynndescent_", "pynndescent.distances", "pynndescent.sparse", "pynndescent.utils",
    "pynndescent.rp_trees", "pynndescent.graph_utils",
)


@functools.lru_cache(maxsize=1)
def enable_disk_cache() -> int:
    """Turn on numba's disk cache for umap-learn's and pynndescent's kernels; returns how many."""
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - numba is a dependency
        return 0
    n = 0
    for name in _MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        for value in list(vars(mod).values()):
            if isinstance(value, Dispatcher) and getattr(value, "_cache", None) is not None:
                cache = value._cache
                if type(cache).__name__ == "NullCache":
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            value.enable_caching()
                        n += 1
                    except Exception:  # no writable cache location: compile in memory as before
                        pass
    return n

