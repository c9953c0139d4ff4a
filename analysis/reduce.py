"""UMAP: a low-dimensional space for clustering and a 2-D space for the map.

Both reductions share one k-nearest-neighbour graph (the expensive part of UMAP on larger sets).
Results are cached on disk under a key chained from the embedding key, so changing only a
clustering parameter reuses them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .config import UmapConfig, config_json

CACHE_VERSION = "1"


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


def nearest_neighbors(x: np.ndarray, n_neighbors: int, metric: str, seed: int):
    """The kNN graph UMAP would compute, to share between the two reductions."""
    from umap.umap_ import nearest_neighbors as _nn

    rng = np.random.RandomState(seed)
    return _nn(x, n_neighbors, metric, {}, False, rng, low_memory=True, n_jobs=1, verbose=False)


def umap_embed(
    x: np.ndarray,
    n_components: int,
    n_neighbors: int = 10,
    min_dist: float = 0.0,
    metric: str = "cosine",
    seed: int = 42,
    knn=None,
) -> np.ndarray:
    """Reduce ``x`` (n, d) to (n, n_components) float32 with UMAP; deterministic for a seed.

    ``knn`` is an optional (indices, distances, search_index) triple from :func:`nearest_neighbors`.
    """
    n = len(x)
    if n < 5:
        return _fallback(x, n_components)
    import umap

    k = effective_neighbors(n, n_neighbors)
    # Spectral init needs n_components < n - 1; tiny sets use random init instead.
    init = "spectral" if n_components < n - 2 and n > 10 else "random"
    model = umap.UMAP(
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
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs.*")
        warnings.filterwarnings("ignore", message=".*precomputed_knn.*")
        warnings.filterwarnings("ignore", message=".*spectral.*")
        return np.asarray(model.fit_transform(x), dtype=np.float32)


def reduction_key(embedding_key: str, cfg: UmapConfig, seed: int) -> str:
    return hashlib.sha256(f"{CACHE_VERSION}\n{embedding_key}\n{config_json(cfg)}\n{seed}".encode()).hexdigest()


def reduce_both(
    x: np.ndarray, cfg: UmapConfig, seed: int, embedding_key: str | None = None, cache_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return (clustering space (n, cfg.n_components), map (n, 2), from_cache)."""
    path = None
    if cache_dir is not None and embedding_key is not None:
        path = Path(cache_dir) / "umap" / f"{reduction_key(embedding_key, cfg, seed)}.npz"
        if path.exists():
            try:
                with np.load(path) as z:
                    if z["cluster_space"].shape[0] == len(x):
                        return z["cluster_space"], z["map"], True
            except (OSError, ValueError, KeyError):
                pass
    knn = None
    # Below UMAP's own threshold (4096) it computes exact neighbours quickly; share the graph above.
    if len(x) > 4096:
        k = effective_neighbors(len(x), cfg.n_neighbors)
        knn = nearest_neighbors(x, k, cfg.metric, seed)
    space = umap_embed(x, cfg.n_components, cfg.n_neighbors, cfg.min_dist, cfg.metric, seed, knn)
    xy = umap_embed(x, 2, cfg.n_neighbors, cfg.map_min_dist, cfg.metric, seed, knn)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, cluster_space=space, map=xy)
        os.replace(tmp, path)
    return space, xy, False
