"""A spectral start for UMAP that gives the same layout every time for the same graph.

UMAP starts its layout from the eigenvectors of the graph's normalised Laplacian. umap-learn
(0.5.12) computes them per connected component with ARPACK (``scipy.sparse.linalg.eigsh``), and
for small components — a dozen or two comments, common in survey data where near-identical answers
form their own little islands — ARPACK returns different vectors on different calls for the same
matrix (measured on the seed with ``dim=5``: components of 12 and 18 points changed between calls
in one process, so the 5-d space, and with it the themes, changed from run to run: 13 themes and
18 % 未分類 in one run, 12 and 35 % in the next).

:func:`deterministic_start` replaces umap-learn's ``_spectral_layout`` (for the duration of one reduction) with a version that, for a connected
graph of at most :data:`DENSE_MAX` points, solves the same eigenproblem densely with LAPACK
(``scipy.linalg.eigh``, exact and deterministic) and fixes each vector's sign; larger graphs go
to umap-learn's own code, where ARPACK is stable. The random draws umap-learn makes are made in
the same order, so everything after the start is umap-learn's. Used around the fit in
:func:`analysis.themes.reduce.umap_embed` (umap-learn is restored afterwards, so other code in the
process, a notebook's own UMAP say, runs umap-learn unchanged); guarded by the umap-learn version the hook was written for.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import numpy as np

__all__ = ["deterministic_start", "supported", "DENSE_MAX", "SUPPORTED_UMAP"]

#: umap-learn version whose private hooks this module and :mod:`analysis.themes.reduce` / :mod:`analysis.themes.layout` use.
SUPPORTED_UMAP = ("0.5.12",)

#: Connected graphs up to this many points are solved densely (0.1 s at 1,000 points).
DENSE_MAX = 1000


def _sign_fixed(vectors: np.ndarray) -> np.ndarray:
    """Each column multiplied by the sign of its largest-magnitude entry (first on ties)."""
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs


_lock = threading.Lock()
_active = 0          # nesting depth of deterministic_start() across threads
_original = None     # umap-learn's own _spectral_layout while patched


def _patched(original):
    import scipy.linalg
    import scipy.sparse

    def _spectral_layout(data, graph, dim, random_state, metric="euclidean", metric_kwds={}, init="random",
                         method=None, tol=0.0, maxiter=0):
        n = graph.shape[0]
        n_components, _ = scipy.sparse.csgraph.connected_components(graph)
        if n_components > 1 or n > DENSE_MAX or init != "random" or n <= dim + 1:
            return original(data, graph, dim, random_state, metric=metric, metric_kwds=metric_kwds, init=init,
                            method=method, tol=tol, maxiter=maxiter)
        k = dim + 1
        gen = (random_state if isinstance(random_state, (np.random.Generator, np.random.RandomState))
               else np.random.default_rng(seed=random_state))
        gen.normal(size=(n, k))  # umap-learn draws its (unused by eigsh) start here: keep the stream in step
        sqrt_deg = np.sqrt(np.asarray(graph.sum(axis=0)).squeeze())
        d = scipy.sparse.spdiags(1.0 / sqrt_deg, 0, n, n)
        lap = (scipy.sparse.identity(n, dtype=np.float64) - d * graph * d).toarray()
        lap = (lap + lap.T) / 2.0
        values, vectors = scipy.linalg.eigh(lap, subset_by_index=[0, k - 1])
        order = np.argsort(values, kind="stable")[1:k]
        return _sign_fixed(vectors[:, order])

    return _spectral_layout


def supported() -> bool:
    """Whether the installed umap-learn is the version the hook was written for."""
    import umap
    import umap.spectral as sp

    return getattr(umap, "__version__", "") in SUPPORTED_UMAP and hasattr(sp, "_spectral_layout")


@contextlib.contextmanager
def deterministic_start() -> Iterator[bool]:
    """umap-learn's spectral start replaced by the deterministic one for the duration of the block
    (nested and concurrent blocks share one patch; the last to leave restores umap-learn's own code).
    Yields False when the umap-learn version is not the one this was written for (nothing is patched)."""
    global _active, _original
    import umap.spectral as sp

    if not supported():
        yield False
        return
    with _lock:
        if _active == 0:
            _original = sp._spectral_layout
            sp._spectral_layout = _patched(_original)
        _active += 1
    try:
        yield True
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                sp._spectral_layout = _original
                _original = None
