"""Tests for analysis.explore.tuning (sweeps): one row per setting, figures equal to full runs, caches reused."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.config import PipelineConfig
from analysis.errors import CorpusError
from analysis.explore.stability import seed_stability
from analysis.explore.tuning import row_config, sweep
from analysis.pipeline import run_pipeline

HDB_GRID = {"hdbscan.min_cluster_size": [3, 4, 6], "hdbscan.min_samples": [None, 2]}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("sweep-cache")


@pytest.fixture(scope="module")
def hdb_table(seed_comments, cache):
    from conftest import FakeEmbedder

    fake = FakeEmbedder()
    table = sweep(seed_comments, HDB_GRID, cache_dir=cache, embedder=fake)
    return table, fake


def test_one_row_per_setting_with_quality_columns(hdb_table):
    table, _ = hdb_table
    assert len(table) == 6
    assert list(table.columns[:2]) == ["hdbscan.min_cluster_size", "hdbscan.min_samples"]
    for col in ("n_clusters", "noise_share", "silhouette", "relative_validity", "seconds"):
        assert col in table
    assert sorted(zip(table["hdbscan.min_cluster_size"], table["hdbscan.min_samples"].fillna(-1))) == sorted(
        (m, -1 if s is None else s) for m in (3, 4, 6) for s in (None, 2)
    )
    assert table["noise_share"].between(0, 1).all()
    assert (table["n_clusters"] >= 1).all()
    # the settings matter: larger minimum cluster sizes never give more clusters here
    by_size = table[table["hdbscan.min_samples"] == 2].set_index("hdbscan.min_cluster_size")["n_clusters"]
    assert by_size[3] >= by_size[4] >= by_size[6]
    assert table["n_clusters"].nunique() > 1


def test_embeds_once_and_reduces_once_for_hdbscan_grid(hdb_table, cache):
    _, fake = hdb_table
    assert fake.calls == 1
    assert len(list((cache / "umap").glob("*.npz"))) == 1
    assert len(list((cache / "embeddings").glob("*.npz"))) == 1


def test_rows_equal_full_pipeline_runs(hdb_table, seed_comments, cache):
    from conftest import FakeEmbedder

    table, _ = hdb_table
    fake = FakeEmbedder()
    for i in range(len(table)):
        cfg = row_config(table.iloc[i])
        run = run_pipeline(seed_comments, cfg, cache_dir=cache, embedder=fake)
        q = run.manifest["quality"]
        assert run.manifest["cache"] == {"embedding": True, "umap": True}
        assert q["n_clusters"] == table["n_clusters"].iloc[i]
        assert q["noise_share"] == pytest.approx(table["noise_share"].iloc[i])
        assert q["silhouette"] == pytest.approx(table["silhouette"].iloc[i], nan_ok=True)
    assert row_config(table.iloc[0]).hdbscan.min_samples in (None, 2)
    assert fake.calls == 0  # everything came from the sweep's cache


def test_umap_grid_reduces_once_per_umap_setting_and_second_sweep_is_cached(seed_comments, tmp_path):
    from conftest import FakeEmbedder

    fake = FakeEmbedder()
    grid = {"umap.n_neighbors": [6, 12], "hdbscan.min_cluster_size": [4, 5]}
    first = sweep(seed_comments, grid, cache_dir=tmp_path, embedder=fake)
    assert len(first) == 4 and fake.calls == 1
    assert len(list((tmp_path / "umap").glob("*.npz"))) == 2
    assert not first["umap_cached"].any()
    second = sweep(seed_comments, grid, cache_dir=tmp_path, embedder=fake)
    assert fake.calls == 1
    assert second["embedding_cached"].all() and second["umap_cached"].all()
    assert second["n_clusters"].tolist() == first["n_clusters"].tolist()
    assert second["seconds"].sum() < 5.0


def test_stability_column_matches_seed_stability(seed_comments, cache):
    from conftest import FakeEmbedder

    fake = FakeEmbedder()
    table = sweep(seed_comments, {"hdbscan.min_cluster_size": [4]}, cache_dir=cache, embedder=fake, stability_seeds=2)
    assert "stability_ari" in table
    cfg = row_config(table.iloc[0])
    st = seed_stability(seed_comments, cfg, seeds=[cfg.seed, cfg.seed + 1, cfg.seed + 2], cache_dir=cache, embedder=fake)
    assert table["stability_ari"].iloc[0] == pytest.approx(st.mean_ari)
    assert 0.0 < st.mean_ari < 1.0  # different seeds do move some comments on this corpus


def test_real_sudachi_backend_in_grid(seed_comments, tmp_path):
    table = sweep(
        seed_comments,
        {"embedding.backend": ["sudachi"], "hdbscan.min_cluster_size": [4, 8]},
        cache_dir=tmp_path,
    )
    assert table["embedding.backend"].tolist() == ["sudachi", "sudachi"]
    assert table["embedding_cached"].tolist() == [False, False]  # computed once, used by both rows
    assert len(list((tmp_path / "embeddings").glob("*.npz"))) == 1
    assert table["n_clusters"].iloc[0] >= table["n_clusters"].iloc[1] >= 1


def test_bad_grids_are_rejected_in_japanese(seed_comments, fake_embedder):
    with pytest.raises(CorpusError, match="min_size"):
        sweep(seed_comments, {"hdbscan.min_size": [3]}, embedder=fake_embedder)
    with pytest.raises(CorpusError, match="比較できません"):
        sweep(seed_comments, {"describe.n_keywords": [5]}, embedder=fake_embedder)
    with pytest.raises(CorpusError, match="embedding"):
        sweep(seed_comments, {"embedding.backend": ["sudachi"]}, embedder=fake_embedder)
    with pytest.raises(CorpusError, match="比較できません"):
        sweep(seed_comments, {"umap": [8]}, embedder=fake_embedder)
    with pytest.raises(CorpusError, match="空"):
        sweep(seed_comments, {}, embedder=fake_embedder)
    assert fake_embedder.calls == 0


def test_row_config_restores_plain_values():
    import pandas as pd

    table = pd.DataFrame({"hdbscan.min_samples": [None, 2], "umap.n_neighbors": [8, 12], "n_clusters": [3, 4]})
    assert table["hdbscan.min_samples"].dtype == np.float64  # pandas turned None / 2 into NaN / 2.0
    a, b = row_config(table.iloc[0]), row_config(table.iloc[1], PipelineConfig(seed=7))
    assert a.hdbscan.min_samples is None and a.umap.n_neighbors == 8
    assert b.hdbscan.min_samples == 2 and isinstance(b.hdbscan.min_samples, int) and b.seed == 7
