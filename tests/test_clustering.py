"""UMAP reduction and HDBSCAN clustering on small, structured data."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.config import HdbscanConfig, UmapConfig
from analysis.themes.clustering import (
    NOISE,
    broad_themes,
    centroids,
    cluster_points,
    quality,
)
from analysis.themes.reduce import effective_neighbors, reduce_both, umap_embed


def _blobs(seed=0, per=15, k=3, d=8):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 6
    x = np.vstack([c + rng.normal(scale=0.4, size=(per, d)) for c in centers])
    return x, np.repeat(np.arange(k), per)


def test_cluster_points_finds_blobs_and_orders_by_size():
    x, truth = _blobs()
    x = np.vstack([x, x[:5] + 0.01])  # make blob 0 the largest
    res = cluster_points(x, HdbscanConfig(min_cluster_size=5, min_samples=2, cluster_selection_method="eom"))
    assert res.n_clusters == 3
    sizes = [int((res.labels == c).sum()) for c in range(3)]
    assert sizes == sorted(sizes, reverse=True)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(np.concatenate([truth, np.zeros(5, int)]), res.labels) > 0.95
    assert ((res.strength >= 0) & (res.strength <= 1)).all()


def test_noise_points_get_a_nearest_cluster():
    x, _ = _blobs()
    outliers = np.array([[30.0] * 8, [-30.0] * 8])
    res = cluster_points(np.vstack([x, outliers]), HdbscanConfig(min_cluster_size=5, min_samples=3))
    assert (res.labels[-2:] == NOISE).all()
    assert (res.nearest >= 0).all()
    members = res.labels >= 0
    assert np.array_equal(res.nearest[members], res.labels[members])
    assert (res.strength[~members] == 0).all()


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_inputs_do_not_crash(n):
    x = np.random.default_rng(0).normal(size=(n, 4))
    res = cluster_points(x, HdbscanConfig())
    assert len(res.labels) == n and (res.labels == NOISE).all()
    space, xy, _ = reduce_both(x, UmapConfig(), seed=1)
    assert space.shape == (n, 5) and xy.shape == (n, 2)


def test_effective_neighbors():
    assert effective_neighbors(6, 15) == 5
    assert effective_neighbors(100, 10) == 10
    assert effective_neighbors(2, 10) == 2


def test_quality_figures():
    x, _ = _blobs()
    res = cluster_points(x, HdbscanConfig(min_cluster_size=5, min_samples=2, cluster_selection_method="eom"))
    q = quality(x, res)
    assert q["n_comments"] == 45 and q["n_clusters"] == 3
    assert 0 <= q["noise_share"] < 0.2
    assert q["silhouette"] > 0.7


def test_broad_themes_groups_near_clusters():
    rng = np.random.default_rng(0)
    # Four clusters: two near +e0, two near +e1 (cosine space).
    base = np.array([[1, 0.2, 0, 0], [1, -0.2, 0, 0], [0, 0, 1, 0.2], [0, 0, 1, -0.2]], float)
    vecs = np.vstack([b + rng.normal(scale=0.01, size=(5, 4)) for b in base])
    labels = np.repeat(np.arange(4), 5)
    parents = broad_themes(vecs, labels, n_broad=2)
    assert parents[0] == parents[1] and parents[2] == parents[3] and parents[0] != parents[2]
    c = centroids(vecs, labels)
    assert c.shape == (4, 4) and np.allclose(np.linalg.norm(c, axis=1), 1)


@pytest.mark.slow
def test_umap_is_deterministic_for_a_seed_and_cached(tmp_path):
    x, _ = _blobs(per=12)
    a = umap_embed(x, 2, n_neighbors=8, seed=7)
    b = umap_embed(x, 2, n_neighbors=8, seed=7)
    assert np.array_equal(a, b)
    s1, m1, c1 = reduce_both(x, UmapConfig(n_neighbors=8), 7, "k" * 64, tmp_path)
    s2, m2, c2 = reduce_both(x, UmapConfig(n_neighbors=8), 7, "k" * 64, tmp_path)
    assert (c1, c2) == (False, True)
    assert np.array_equal(s1, s2) and np.array_equal(m1, m2)
    assert s1.shape == (36, 5) and m1.shape == (36, 2)


def test_min_cluster_size_scales_with_corpus_size():
    from analysis.themes.clustering import effective_min_cluster_size

    cfg = HdbscanConfig()
    assert effective_min_cluster_size(108, cfg) == 4  # the seed keeps the configured size
    assert effective_min_cluster_size(10_000, cfg) == 50
    assert effective_min_cluster_size(10_000, HdbscanConfig(min_cluster_share=0.0)) == 4
    assert effective_min_cluster_size(6, HdbscanConfig(min_cluster_size=10)) == 3


def test_large_runs_use_nearest_centroid_for_noise(monkeypatch):
    from analysis.themes import clustering

    x, _ = _blobs()
    outliers = np.array([[30.0] * 8, [-30.0] * 8])
    data = np.vstack([x, outliers])
    cfg = HdbscanConfig(min_cluster_size=5, min_samples=3)
    soft = cluster_points(data, cfg)
    monkeypatch.setattr(clustering, "SOFT_MEMBERSHIP_MAX_CELLS", 0)
    hard = cluster_points(data, cfg)
    assert np.array_equal(soft.labels, hard.labels)
    noise = hard.labels == NOISE
    assert (hard.nearest[noise] >= 0).all()
    assert ((hard.nearest_strength[noise] > 0) & (hard.nearest_strength[noise] <= 1)).all()
    # Each outlier goes to the cluster whose centroid is closest.
    cents = np.vstack([data[hard.labels == c].mean(axis=0) for c in range(hard.n_clusters)])
    expect = np.linalg.norm(data[noise][:, None] - cents[None], axis=2).argmin(axis=1)
    assert np.array_equal(hard.nearest[noise], expect)


def test_cluster_result_carries_the_min_cluster_size_hdbscan_used():
    from analysis.config import HdbscanConfig
    from analysis.themes.clustering import cluster_points, effective_min_cluster_size

    rng = np.random.default_rng(0)
    space = np.vstack([rng.normal(c, 0.05, size=(40, 3)) for c in (0.0, 3.0, 6.0)])
    cfg = HdbscanConfig(min_cluster_size=3, min_cluster_share=0.1)
    r = cluster_points(space, cfg)
    assert r.min_cluster_size_ == effective_min_cluster_size(len(space), cfg) == 12
    assert r.n_clusters >= 3 and all((r.labels == c).sum() >= 12 for c in range(r.n_clusters))
    tiny = cluster_points(space[:3], cfg)
    assert tiny.n_clusters == 0 and tiny.min_cluster_size_ == 2


def test_the_deterministic_spectral_start_is_scoped_to_one_fit():
    import umap.spectral as sp

    from analysis.themes.reduce import umap_embed
    from analysis.themes.spectral import deterministic_start

    own = sp._spectral_layout
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    with deterministic_start() as patched:
        assert patched and sp._spectral_layout is not own
        with deterministic_start():  # nested: still patched, restored only by the outer block
            pass
        assert sp._spectral_layout is not own
    assert sp._spectral_layout is own
    out = umap_embed(x, 2, 10, 0.1, "cosine", 0, None, False)
    assert out.shape == (60, 2) and np.isfinite(out).all()
    assert sp._spectral_layout is own  # umap-learn's own code again for anyone else in the process
