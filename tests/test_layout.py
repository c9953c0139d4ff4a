"""The UMAP graph and layout of ``reduce.py`` / ``layout.py`` against umap-learn itself."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from analysis.config import UmapConfig
from analysis.themes import layout
from analysis.themes.reduce import (
    exact_neighbors,
    nearest_neighbors,
    reduce_both,
    umap_embed,
)


def _blobs(n_per: int, k: int = 6, d: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 3
    x = np.vstack([c + rng.normal(size=(n_per, d)) for c in centers]).astype(np.float32)
    return x, np.repeat(np.arange(k), n_per)


def _umap_learn(x, n_components=5, seed=42):
    """umap-learn's own estimator, with the deterministic spectral start umap_embed uses."""
    import umap

    from analysis.themes.spectral import deterministic_start

    with warnings.catch_warnings(), deterministic_start():
        warnings.simplefilter("ignore")
        return umap.UMAP(n_components=n_components, n_neighbors=10, min_dist=0.0, metric="cosine",
                         random_state=seed, low_memory=True).fit_transform(x)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_neighbors_are_umap_learns_own(metric):
    from sklearn.metrics import pairwise_distances
    from umap import distances

    x, _ = _blobs(40, d=32)
    x[5] = x[6]  # a duplicate: equal distances must be ordered as umap-learn's stable argsort does
    dmat = pairwise_distances(x, metric=getattr(distances, metric))
    want_idx = np.argsort(dmat, axis=1, kind="stable")[:, :10]
    idx, dist = exact_neighbors(x, 10, metric)
    assert np.array_equal(idx, want_idx)
    assert np.array_equal(dist, np.take_along_axis(dmat, want_idx, axis=1))
    assert nearest_neighbors(x, 10, "correlation", 0) is None  # other metrics: UMAP finds them itself


def test_small_runs_are_umap_learns_own_estimator_and_depth_zero_reproduces_it(seed_comments):
    from conftest import char_embeddings

    from analysis.themes.reduce import BLOCK_LAYOUT_FROM, _parallel_umap_class
    from analysis.themes.spectral import deterministic_start

    x = char_embeddings(seed_comments["text_norm"].tolist())
    assert len(x) < BLOCK_LAYOUT_FROM
    reference = _umap_learn(x)
    assert np.array_equal(umap_embed(x, 5, n_neighbors=10, min_dist=0.0, metric="cosine", seed=42), reference)
    # the copied kernel with one block is umap-learn's layout, bit for bit
    with warnings.catch_warnings(), deterministic_start():
        warnings.simplefilter("ignore")
        copy = _parallel_umap_class()(layout_depth=0, n_components=5, n_neighbors=10, min_dist=0.0, metric="cosine",
                                      random_state=42, low_memory=True).fit_transform(x)
    assert np.array_equal(copy, reference)
    # constructor parameters are scikit-learn parameters (set at construction, visible to get_params)
    assert _parallel_umap_class()(layout_depth=1).get_params()["layout_depth"] == 1


def test_bisect_leaves_and_edge_blocks_partition_the_work():
    coords = np.array([[float(i), 0.0] for i in (7, 1, 6, 0, 3, 5, 2, 4)], dtype=np.float32)
    leaf = layout.bisect_leaves(coords, 2)
    # Median splits along x: {0,1}, {2,3}, {4,5}, {6,7} by coordinate value.
    assert leaf.tolist() == [3, 0, 3, 0, 1, 2, 1, 2]
    head = np.array([1, 1, 4, 0, 3, 2], dtype=np.int64)
    tail = np.array([3, 6, 5, 2, 4, 0], dtype=np.int64)
    perm, block_ptr, level_start, level_shift = layout.edge_blocks(head, tail, leaf, 2)
    assert sorted(perm.tolist()) == list(range(6))  # every edge exactly once
    blocks = {b: perm[block_ptr[b]:block_ptr[b + 1]].tolist() for b in range(len(block_ptr) - 1)}
    # Leaves first (blocks 0-3), then the two halves (4-5), then the root (6). An edge sits in the
    # deepest block holding both ends: 1-3 in leaf 0; 0-2 and 2-0 in leaf 3; 1-6 and 3-4 join
    # leaves 0 and 1, so the lower half; 4-5 joins leaves 1 and 2, which only the root holds.
    assert blocks == {0: [0], 1: [], 2: [], 3: [3, 5], 4: [1, 4], 5: [], 6: [2]}
    assert level_start.tolist() == [0, 4, 6, 7] and level_shift.tolist() == [0, 1, 2]


def test_layout_is_the_same_on_any_number_of_threads_and_keeps_the_structure():
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import adjusted_rand_score

    from analysis.config import HdbscanConfig
    from analysis.themes.clustering import cluster_points

    x, truth = _blobs(200)  # 1,200 points: two levels of blocks
    assert layout.default_depth(len(x)) == 2
    knn = nearest_neighbors(x, 10, "cosine", 42)
    original = layout.optimize_layout
    runs = {}
    used = []
    for threads in (1, 2):
        def pinned(*a, _t=threads, **k):
            used.append(_t)
            return original(*a, **{**k, "n_threads": _t})

        layout.optimize_layout = pinned
        try:
            runs[threads] = umap_embed(x, 5, 10, 0.0, "cosine", 42, knn)
        finally:
            layout.optimize_layout = original
    assert used == [1, 2]
    assert np.array_equal(runs[1], runs[2])
    assert np.array_equal(runs[2], umap_embed(x, 5, 10, 0.0, "cosine", 42, knn))
    # The split layout really differs from umap-learn's order of work, which parallel_layout=False keeps.
    serial = umap_embed(x, 5, 10, 0.0, "cosine", 42, knn, parallel_layout=False)
    assert not np.array_equal(serial, runs[2])
    space, _, _ = reduce_both(x, UmapConfig(parallel_layout=False), 42)
    assert np.array_equal(space, serial)
    reference = _umap_learn(x)
    t_ours = trustworthiness(x, runs[2], n_neighbors=10, metric="cosine")
    t_ref = trustworthiness(x, reference, n_neighbors=10, metric="cosine")
    assert t_ours > t_ref - 0.01
    cfg = HdbscanConfig(min_cluster_size=50, cluster_selection_method="eom", min_cluster_share=0)
    ari_ours = adjusted_rand_score(truth, cluster_points(runs[2], cfg).labels)
    ari_ref = adjusted_rand_score(truth, cluster_points(reference, cfg).labels)
    print(f"trustworthiness ours {t_ours:.3f} umap-learn {t_ref:.3f}; ARI with the blobs ours {ari_ours:.3f} umap-learn {ari_ref:.3f}")
    assert ari_ours > 0.9 and ari_ours > ari_ref - 0.05
