"""UMAP: a low-dimensional space for clustering and a 2-D space for the map.

Both reductions share one k-nearest-neighbour graph (the expensive part of UMAP on larger sets).
Results are cached on disk under a key chained from the embedding key, so changing only a
clustering parameter reuses them.
"""

from __future__ import annotations

import functools
import hashlib
import zipfile
from pathlib import Path

import numpy as np

from .. import progress
from ..config import UmapConfig, config_json
from ..storage import StorageError, atomic_save_npz, file_lock

# 2: exact kNN by matrix products, layout on all cores (analysis.themes.layout).
# 3: umap-learn's own estimator below BLOCK_LAYOUT_FROM points; embeddings of cache version 3.
CACHE_VERSION = "3"


def effective_neighbors(n_samples: int, n_neighbors: int) -> int:
    """UMAP needs 2 <= n_neighbors < n_samples."""
    return int(max(2, min(n_neighbors, n_samples - 1)))


def _fallback(x: np.ndarray, n_components: int) -> np.ndarray:
    """Tiny inputs (< 5 rows) where UMAP cannot run: PCA coordinates, zero-padded."""
    out = np.zeros((len(x), n_components), dtype=np.float32)
    if len(x) >= 2:
        xc = x - x.mean(axis=0)
        u, s, _ = np.linalg.svd(xc, full_matrices=False)
        k = min(n_components, u.shape[1])
        out[:, :k] = u[:, :k] * s[:k]
    return out


# umap-learn finds exact neighbours below 4,096 points and approximate ones (NN-descent) above.
EXACT_KNN_BELOW = 4096
_EXACT_METRICS = ("cosine", "euclidean")


def _umap_distances(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, metric: str) -> np.ndarray:
    """Distances of the pairs (rows[i], cols[i, j]) computed as umap-learn's numba metrics do
    (float32 products summed in float64, result rounded to float32), so the graph matches its own."""
    out = np.empty(cols.shape, dtype=np.float64)
    a = x[rows]
    for j in range(cols.shape[1]):
        b = x[cols[:, j]]
        if metric == "cosine":
            dot = (a * b).sum(axis=1, dtype=np.float64)
            na = (a * a).sum(axis=1, dtype=np.float64)
            nb = (b * b).sum(axis=1, dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                d = 1.0 - dot / np.sqrt(na * nb)
            d = np.where((na == 0) & (nb == 0), 0.0, np.where((na == 0) | (nb == 0), 1.0, d))
        else:
            diff = a - b
            d = np.sqrt((diff * diff).sum(axis=1, dtype=np.float64))
        out[:, j] = d
    return out.astype(np.float32)


def exact_neighbors(x: np.ndarray, n_neighbors: int, metric: str = "cosine", chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours, the same as umap-learn's below 4,096 points, by matrix products.

    umap-learn computes all pairwise distances there by calling a Python-level distance function
    once per pair (1.2 s at 1,000 comments, 20 s at 4,000); here a matrix product shortlists
    candidates and only those are measured the way umap-learn measures them, then ordered by
    (distance, index) like its stable argsort. Returns (indices int (n, k), distances float32 (n, k)).
    """
    if metric not in _EXACT_METRICS:
        raise ValueError(f"exact neighbours support {_EXACT_METRICS}, not {metric!r}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    k = min(n_neighbors, n)
    shortlist = min(n, k + 8)  # a margin for candidates whose rounded product misorders them
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        z = x / np.where(norms > 0, norms, 1.0)
    else:
        z, sq = x, (x.astype(np.float64) ** 2).sum(axis=1)
    indices = np.empty((n, k), dtype=np.int64)
    dists = np.empty((n, k), dtype=np.float32)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        prod = (z[lo:hi] @ z.T).astype(np.float64)
        approx = -prod if metric == "cosine" else sq[None, :] - 2 * prod
        if shortlist < n:
            cand = np.argpartition(approx, shortlist - 1, axis=1)[:, :shortlist]
        else:
            cand = np.tile(np.arange(n), (hi - lo, 1))
        d = _umap_distances(x, np.arange(lo, hi), cand, metric)
        order = np.lexsort((cand, d), axis=1)[:, :k]
        indices[lo:hi] = np.take_along_axis(cand, order, axis=1)
        dists[lo:hi] = np.take_along_axis(d, order, axis=1)
    return indices, dists


def nearest_neighbors(x: np.ndarray, n_neighbors: int, metric: str, seed: int):
    """The kNN graph UMAP would compute, to share between the two reductions.

    Exact below ``EXACT_KNN_BELOW`` points (as umap-learn does, but with matrix products);
    umap-learn's seeded NN-descent above. Returns (indices, distances, search index or None), or
    None where neither applies (UMAP then finds the neighbours itself).
    """
    if len(x) < EXACT_KNN_BELOW:
        if metric not in _EXACT_METRICS:
            return None
        idx, dist = exact_neighbors(x, n_neighbors, metric)
        return idx, dist, None
    from umap.umap_ import nearest_neighbors as _nn

    from .layout import parallel_section
    from .warmup import enable_disk_cache

    enable_disk_cache()

    # pynndescent gives the same graph for a seed on any number of threads (checked on 6,000-20,000
    # points, 1 vs 2 threads: identical indices and distances), so it may use all of them
    # (10,000 comments: 0.48 s -> 0.31 s).
    rng = np.random.RandomState(seed)
    with parallel_section() as threads:
        return _nn(x, n_neighbors, metric, {}, False, rng, low_memory=True, n_jobs=threads, verbose=False)


from .spectral import SUPPORTED_UMAP  # noqa: E402  (the version the private hooks were written for)

#: Below this many points the block layout has a single block (no parallelism to gain, see
#: ``layout.default_depth``), so umap-learn's own estimator runs, unmodified.
BLOCK_LAYOUT_FROM = 500


@functools.lru_cache(maxsize=1)
def block_layout_problem() -> str | None:
    """Why the block-parallel layout cannot be used with the installed umap-learn (Japanese), or None."""
    import umap

    version = getattr(umap, "__version__", "?")
    if version not in SUPPORTED_UMAP:
        return (f"umap-learn {version} は想定の版（{'、'.join(SUPPORTED_UMAP)}）と違うため、配置の計算を並列化せず、"
                "umap-learn の標準の方法で計算しました（結果は正しく、時間が少し長くかかります）。")
    try:
        from umap.spectral import spectral_layout  # noqa: F401
        from umap.umap_ import (  # noqa: F401
            INT32_MAX,
            INT32_MIN,
            make_epochs_per_sample,
            noisy_scale_coords,
        )

        if not hasattr(umap.UMAP, "_fit_embed_data"):
            raise AttributeError("_fit_embed_data")
    except (ImportError, AttributeError) as exc:
        return f"umap-learn の内部が想定と違うため（{exc}）、配置の計算を並列化しませんでした。"
    return None


@functools.lru_cache(maxsize=1)
def _parallel_umap_class():
    """``umap.UMAP`` whose layout step runs on all cores via :mod:`analysis.themes.layout` (same seed, same result).

    Overrides ``_fit_embed_data``, the hook umap-learn provides for subclasses; everything before it
    (kNN, fuzzy graph, a/b) is umap-learn's. The body follows ``umap_.simplicial_set_embedding``
    for euclidean output with spectral or random initialisation, drawing from the random state in
    the same order, so the initial layout is umap-learn's exactly. Written for umap-learn
    :data:`SUPPORTED_UMAP`; :func:`block_layout_problem` guards other versions.
    """
    import inspect

    import umap
    from umap.spectral import spectral_layout
    from umap.umap_ import (
        INT32_MAX,
        INT32_MIN,
        make_epochs_per_sample,
        noisy_scale_coords,
    )

    from . import layout

    class ParallelLayoutUMAP(umap.UMAP):
        def __init__(self, layout_depth: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.layout_depth = layout_depth

        def _fit_embed_data(self, X, n_epochs, init, random_state, **kwargs):
            graph = self.graph_.tocoo(copy=True)
            graph.sum_duplicates()
            default_epochs = 500 if graph.shape[0] <= 10000 else 200
            n_epochs = default_epochs if n_epochs is None else int(n_epochs)
            floor_epochs = n_epochs if n_epochs > 10 else default_epochs
            graph.data[graph.data < (graph.data.max() / float(floor_epochs))] = 0.0
            graph.eliminate_zeros()
            if isinstance(init, str) and init == "spectral":
                emb = spectral_layout(X, graph, self.n_components, random_state, metric=self._input_distance_func,
                                      metric_kwds=self._metric_kwds)
                emb = noisy_scale_coords(emb, random_state, max_coord=10, noise=0.0001)
            else:
                emb = random_state.uniform(low=-10.0, high=10.0, size=(graph.shape[0], self.n_components)).astype(np.float32)
            epochs_per_sample = make_epochs_per_sample(graph.data, n_epochs)
            rng_state = random_state.randint(INT32_MIN, INT32_MAX, 3).astype(np.int64)
            span = np.max(emb, 0) - np.min(emb, 0)
            emb = (10.0 * (emb - np.min(emb, 0)) / span).astype(np.float32, order="C")
            emb = layout.optimize_layout(emb, graph.row, graph.col, n_epochs, epochs_per_sample, self._a, self._b,
                                         rng_state, self.repulsion_strength, self._initial_alpha,
                                         self.negative_sample_rate, depth=self.layout_depth)
            return emb, {}

    # scikit-learn reads an estimator's parameters from its __init__ signature (get_params, repr)
    base = inspect.signature(umap.UMAP.__init__)
    params = list(base.parameters.values()) + [
        inspect.Parameter("layout_depth", inspect.Parameter.KEYWORD_ONLY, default=None)]
    ParallelLayoutUMAP.__init__.__signature__ = base.replace(parameters=params)
    return ParallelLayoutUMAP


class _EpochProgress:
    """A file for umap-learn's tqdm bar (``bar_format="{n}/{total}"``) that forwards epochs to
    :func:`analysis.progress.advance`, so its own layout also shows progress and can be cancelled."""

    def write(self, s: str) -> int:
        parts = s.strip().split("/")
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            progress.advance(int(parts[0]), int(parts[1]))
        return len(s)

    def flush(self) -> None:
        pass


def umap_embed(
    x: np.ndarray,
    n_components: int,
    n_neighbors: int = 10,
    min_dist: float = 0.0,
    metric: str = "cosine",
    seed: int = 42,
    knn=None,
    parallel_layout: bool = True,
) -> np.ndarray:
    """Reduce ``x`` (n, d) to (n, n_components) float32 with UMAP; deterministic for a seed.

    ``knn`` is an optional (indices, distances, search_index) triple from :func:`nearest_neighbors`.
    From :data:`BLOCK_LAYOUT_FROM` points on (and ``parallel_layout``) the layout runs on all cores
    (:mod:`analysis.themes.layout`); otherwise this is ``umap.UMAP`` itself.
    """
    import umap

    from .spectral import deterministic_start
    from .warmup import enable_disk_cache

    enable_disk_cache()
    n = len(x)
    if n < 5:
        return _fallback(x, n_components)
    k = effective_neighbors(n, n_neighbors)
    if knn is None:
        knn = nearest_neighbors(x, k, metric, seed)
    # Spectral init needs n_components < n - 1; tiny sets use random init instead.
    init = "spectral" if n_components < n - 2 and n > 10 else "random"
    kwargs = dict(
        n_components=n_components,
        n_neighbors=k,
        min_dist=min_dist,
        metric=metric,
        random_state=seed,
        init=init,
        precomputed_knn=knn if knn is not None else (None, None, None),
        # UMAP runs 500 epochs up to 10,000 points and 200 above; 200 from 2,000 points on halves
        # the time of mid-sized runs with no visible change in the layout.
        n_epochs=200 if n > 2000 else None,
        low_memory=True,
        verbose=False,
    )
    if parallel_layout and n >= BLOCK_LAYOUT_FROM and block_layout_problem() is None:
        model = _parallel_umap_class()(layout_depth=None, **kwargs)
    else:
        if progress.active() is not None:
            kwargs["tqdm_kwds"] = {"disable": False, "file": _EpochProgress(), "bar_format": "{n}/{total}",
                                   "mininterval": 0.5, "ascii": True}
        model = umap.UMAP(**kwargs)
    import warnings

    with warnings.catch_warnings(), deterministic_start():
        warnings.filterwarnings("ignore", message=".*n_jobs.*")
        warnings.filterwarnings("ignore", message=".*precomputed_knn.*")
        warnings.filterwarnings("ignore", message=".*spectral.*")
        return np.asarray(model.fit_transform(x), dtype=np.float32)


def reduction_key(embedding_key: str, cfg: UmapConfig, seed: int) -> str:
    return hashlib.sha256(f"{CACHE_VERSION}\n{embedding_key}\n{config_json(cfg)}\n{seed}".encode()).hexdigest()


def reduce_both(
    x: np.ndarray, cfg: UmapConfig, seed: int, embedding_key: str | None = None, cache_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return (clustering space (n, cfg.n_components), map (n, 2), from_cache).

    With a cache, concurrent callers with the same key wait for each other (a lock per key), so an
    identical analysis started twice computes once and both get the same arrays.
    """
    if cache_dir is None or embedding_key is None:
        space, xy = _reduce(x, cfg, seed)
        return space, xy, False
    key = reduction_key(embedding_key, cfg, seed)
    path = Path(cache_dir) / "umap" / f"{key}.npz"
    with file_lock(Path(cache_dir) / "locks" / f"umap-{key}.lock"):
        if path.exists():
            try:
                with np.load(path, allow_pickle=False) as z:
                    if z["cluster_space"].shape[0] == len(x):
                        return z["cluster_space"], z["map"], True
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                pass  # a damaged entry is recomputed and replaced
        space, xy = _reduce(x, cfg, seed)
        try:
            atomic_save_npz(path, cluster_space=space, map=xy)
        except StorageError:
            pass  # a cache that cannot be written costs time next run, nothing else
    return space, xy, False


def _reduce(x: np.ndarray, cfg: UmapConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    with progress.stage("neighbors"):
        knn = nearest_neighbors(x, effective_neighbors(len(x), cfg.n_neighbors), cfg.metric, seed) if len(x) >= 5 else None
    with progress.stage("space"):
        space = umap_embed(x, cfg.n_components, cfg.n_neighbors, cfg.min_dist, cfg.metric, seed, knn, cfg.parallel_layout)
    with progress.stage("map"):
        xy = umap_embed(x, 2, cfg.n_neighbors, cfg.map_min_dist, cfg.metric, seed, knn, cfg.parallel_layout)
    return space, xy
