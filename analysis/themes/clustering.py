"""HDBSCAN clustering, soft membership, noise handling, the two-level hierarchy and quality figures.

Label convention everywhere: clusters are numbered 0..k-1 by decreasing size; -1 means noise
(未分類: the comment sits between themes). Every comment, noise included, also gets a
``nearest_cluster`` with its membership strength, so none is left without a suggested theme.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..config import HdbscanConfig
from ..schema import NOISE  # noqa: E402  (the one definition: analysis.schema)

# HDBSCAN's all_points_membership_vectors costs O(n · k · tree depth) time and n · k memory
# (89 s at 10,000 comments and ~700 clusters); above this many cells the nearest centroid is used.
SOFT_MEMBERSHIP_MAX_CELLS = 500_000
SILHOUETTE_SAMPLE = 10_000


@dataclass
class ClusterResult:
    """Per-comment arrays of length n, plus per-cluster persistence.

    labels : int (n,), -1 = noise
    strength : float (n,), membership in ``labels`` (0 for noise)
    nearest : int (n,), best cluster for every point (= labels for members; -1 only if no cluster)
    nearest_strength : float (n,)
    persistence : float (k,), HDBSCAN cluster persistence (stability proxy), index = cluster id
    relative_validity : float | None, HDBSCAN's DBCV approximation
    min_cluster_size_ : int, the min_cluster_size HDBSCAN actually ran with (see :func:`effective_min_cluster_size`)
    """

    labels: np.ndarray
    strength: np.ndarray
    nearest: np.ndarray
    nearest_strength: np.ndarray
    persistence: np.ndarray
    relative_validity: float | None
    min_cluster_size_: int = 0

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max() + 1) if len(self.labels) else 0


def _relabel_by_size(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber clusters 0..k-1 by decreasing size (ties: old id); returns (new labels, old ids in new order)."""
    ids = np.array(sorted(set(labels.tolist()) - {NOISE}), dtype=int)
    if len(ids) == 0:
        return labels.copy(), ids
    sizes = np.array([(labels == i).sum() for i in ids])
    order = ids[np.lexsort((ids, -sizes))]
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping.get(int(l), NOISE) for l in labels], dtype=int), order


def _all_noise(n: int, min_cluster_size: int) -> ClusterResult:
    z = np.zeros(n)
    return ClusterResult(np.full(n, NOISE), z, np.full(n, NOISE), z.copy(), np.zeros(0), None, min_cluster_size)


def effective_min_cluster_size(n: int, cfg: HdbscanConfig) -> int:
    """``max(min_cluster_size, ceil(min_cluster_share · n))``, kept within [2, n // 2]."""
    size = max(cfg.min_cluster_size, int(np.ceil(cfg.min_cluster_share * n)))
    return int(max(2, min(size, n // 2)))


def cluster_points(space: np.ndarray, cfg: HdbscanConfig) -> ClusterResult:
    """Run HDBSCAN on ``space`` (n, d) and derive membership for every point.

    Noise points get their nearest cluster from HDBSCAN's soft membership vectors on small runs,
    and from the nearest cluster centroid in the clustering space on large ones (see
    ``SOFT_MEMBERSHIP_MAX_CELLS``) or where the soft vectors are degenerate.
    """
    import hdbscan

    n = len(space)
    mcs = effective_min_cluster_size(n, cfg)
    if n < 4 or n < mcs:
        return _all_noise(n, mcs)
    ms = None if cfg.min_samples is None else int(max(1, min(cfg.min_samples, n - 1)))
    model = hdbscan.HDBSCAN(
        min_cluster_size=mcs,
        min_samples=ms,
        cluster_selection_method=cfg.cluster_selection_method,
        cluster_selection_epsilon=cfg.cluster_selection_epsilon,
        prediction_data=n <= 20_000,  # only small runs use soft membership (see above)
        gen_min_span_tree=True,
        core_dist_n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(np.asarray(space, dtype=np.float64))
    raw = np.asarray(model.labels_, dtype=int)
    labels, order = _relabel_by_size(raw)
    k = len(order)
    if k == 0:
        return _all_noise(n, mcs)
    strength = np.where(labels >= 0, np.asarray(model.probabilities_, dtype=float), 0.0)
    persistence = np.asarray(model.cluster_persistence_, dtype=float)[order] if len(model.cluster_persistence_) else np.zeros(k)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rv = float(model.relative_validity_)
        rv = rv if np.isfinite(rv) else None
    except Exception:  # relative_validity_ fails on some degenerate trees
        rv = None
    nearest = labels.copy()
    nearest_strength = strength.copy()
    noise = np.flatnonzero(labels == NOISE)
    if len(noise):
        soft = _soft_membership(model, labels, order) if n * k <= SOFT_MEMBERSHIP_MAX_CELLS else None
        if soft is not None:
            nearest[noise] = soft[noise].argmax(axis=1)
            nearest_strength[noise] = soft[noise].max(axis=1)
        else:
            nearest[noise], nearest_strength[noise] = nearest_centroid(np.asarray(space, dtype=np.float64), labels, noise, k)
    return ClusterResult(labels, strength, nearest, nearest_strength, persistence, rv, mcs)


def nearest_centroid(space: np.ndarray, labels: np.ndarray, rows: np.ndarray, k: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Nearest cluster centroid for ``rows`` of ``space`` and a strength in (0, 1].

    Strength is ``1 / (1 + d / s)`` with ``d`` the distance to the centroid and ``s`` that
    cluster's mean member-to-centroid distance, so a point as close as a typical member gets 0.5.
    Works in chunks so memory stays O(chunk · k).
    """
    members = labels >= 0
    counts = np.bincount(labels[members], minlength=k).astype(float)
    cents = np.zeros((k, space.shape[1]))
    np.add.at(cents, labels[members], space[members])
    cents /= np.maximum(counts, 1)[:, None]
    spread = np.zeros(k)
    np.add.at(spread, labels[members], np.linalg.norm(space[members] - cents[labels[members]], axis=1))
    spread = np.maximum(spread / np.maximum(counts, 1), 1e-9)
    c_sq = (cents**2).sum(axis=1)
    nearest = np.empty(len(rows), dtype=int)
    dist = np.empty(len(rows))
    for i in range(0, len(rows), chunk):
        p = space[rows[i : i + chunk]]
        d2 = (p**2).sum(axis=1)[:, None] - 2 * p @ cents.T + c_sq[None, :]
        j = d2.argmin(axis=1)
        nearest[i : i + chunk] = j
        dist[i : i + chunk] = np.sqrt(np.maximum(d2[np.arange(len(j)), j], 0))
    return nearest, 1.0 / (1.0 + dist / spread[nearest])


def _soft_membership(model, labels: np.ndarray, order: np.ndarray) -> np.ndarray | None:
    """(n, k) HDBSCAN soft membership in clusters numbered as ``labels``, or None if degenerate."""
    import hdbscan

    k = len(order)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soft = np.asarray(hdbscan.all_points_membership_vectors(model), dtype=float)
        if soft.ndim == 1:
            soft = soft.reshape(-1, 1)
        soft = soft[:, order]
        if soft.shape == (len(labels), k) and np.isfinite(soft).all() and soft.sum() > 0:
            return soft
    except Exception:  # hdbscan raises on some degenerate trees; the centroid rule then applies
        pass
    return None


def centroids(vectors: np.ndarray, labels: np.ndarray, k: int | None = None) -> np.ndarray:
    """L2-normalised mean vector per cluster 0..k-1, shape (k, d); noise rows are ignored."""
    k = int(labels.max() + 1) if k is None else k
    out = np.zeros((k, vectors.shape[1]), dtype=np.float64)
    for c in range(k):
        m = labels == c
        if m.any():
            out[c] = vectors[m].mean(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def broad_themes(vectors: np.ndarray, labels: np.ndarray, n_broad: int | None = None) -> np.ndarray:
    """Group clusters into broad themes by Ward linkage on the L2-normalised cluster centroids.

    (Ward on unit vectors behaves like cosine distance and, unlike average linkage, does not
    sweep most clusters into one broad theme.)

    Returns int (k,) parent id per cluster (0..m-1, numbered by total size). ``n_broad`` defaults to
    about sqrt(k), so 9 clusters give 3 broad themes.
    """
    k = int(labels.max() + 1) if len(labels) else 0
    if k == 0:
        return np.zeros(0, dtype=int)
    m = int(n_broad) if n_broad else int(round(np.sqrt(k)))
    m = max(1, min(m, k))
    if m == k or k < 3:
        parents = np.arange(k) if m == k else np.zeros(k, dtype=int)
    else:
        from scipy.cluster.hierarchy import fcluster, linkage

        z = linkage(centroids(vectors, labels, k), method="ward")
        parents = fcluster(z, t=m, criterion="maxclust") - 1
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    totals = {p: sizes[parents == p].sum() for p in set(parents.tolist())}
    order = sorted(totals, key=lambda p: (-totals[p], p))
    remap = {old: new for new, old in enumerate(order)}
    return np.array([remap[p] for p in parents], dtype=int)


def quality(space: np.ndarray, result: ClusterResult) -> dict[str, float | int | None]:
    """Run-quality figures: n_comments, n_clusters, noise_share, silhouette (clustering space,
    members only; None with < 2 clusters), relative_validity (HDBSCAN's DBCV approximation)."""
    from sklearn.metrics import silhouette_score

    labels = result.labels
    members = labels >= 0
    sil = None
    if result.n_clusters >= 2 and members.sum() > result.n_clusters:
        # Exact silhouette is O(n²); above SILHOUETTE_SAMPLE members a fixed-seed sample estimates it.
        sample = SILHOUETTE_SAMPLE if members.sum() > SILHOUETTE_SAMPLE else None
        sil = float(silhouette_score(space[members], labels[members], sample_size=sample, random_state=0))
    n = len(labels)
    return {
        "n_comments": int(n),
        "n_clusters": result.n_clusters,
        "noise_share": float((labels == NOISE).mean()) if n else 0.0,
        "silhouette": sil,
        "relative_validity": result.relative_validity,
    }
