"""Tests for analysis.explore.stability: ARI between seeds, noise handling, per-theme stability in runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.config import PipelineConfig
from analysis.explore.stability import (
    add_stability,
    adjusted_rand,
    cluster_stability,
    labels_for_seeds,
    pairwise_ari,
    seed_stability,
)
from analysis.ingest.comments import comments_from_table
from analysis.pipeline import run_and_save, run_pipeline
from analysis.store.runs import list_runs, load_run, rename_cluster

SMALL = PipelineConfig().replace(**{"hdbscan.min_cluster_size": 5, "umap.n_neighbors": 8})
# Three 12-comment themes cannot split with a smallest theme of 7 (two parts of >= 7 need 14), so
# a theme is found whole or not at all, whatever layout a seed or a CPU type gives.
UNAMBIGUOUS = PipelineConfig().replace(**{"hdbscan.min_cluster_size": 7, "umap.n_neighbors": 8})


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("stability-cache")


@pytest.fixture(scope="module")
def three_themes() -> pd.DataFrame:
    """36 comments on three clearly different situations, 12 wordings each."""
    bases = [
        "介護保険の窓口で相談を受けたが担当課が分からずたらい回しになった",
        "地域の自治会長と民生委員の情報共有がうまくいかず見守りが途切れた",
        "病院の退院調整会議に行政職員が参加せず在宅支援の準備が遅れた",
    ]
    ends = ["。", "と感じた。", "ことがある。", "のが悩みだ。", "場面が多い。", "と聞いた。",
            "のが現状。", "ことも。", "気がする。", "と思う。", "ようだ。", "らしい。"]
    table = pd.DataFrame({"意見": [b + e for b in bases for e in ends]})
    return comments_from_table(table, "意見").comments


def test_noise_modes_of_adjusted_rand():
    a = np.array([0, 0, 0, -1, -1, -1])
    b = np.array([0, 0, 0, 1, 1, 1])
    # "label": noise is one more cluster, so the noise group equals cluster 1 of b
    assert adjusted_rand(a, b, noise="label") == pytest.approx(1.0)
    # "singleton" (default): noise comments are not together, so b's cluster 1 is a disagreement
    assert adjusted_rand(a, b) < 0.7
    # "drop": only comments assigned in both runs count (the first three: identical)
    assert adjusted_rand(a, b, noise="drop") == pytest.approx(1.0)
    # both runs leaving the same comments unassigned agree perfectly
    assert adjusted_rand(a, a.copy()) == pytest.approx(1.0)
    # relabelling does not matter
    assert adjusted_rand(np.array([0, 0, 1, 1, -1]), np.array([5, 5, 2, 2, -1])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        adjusted_rand(a, b, noise="ignore")


def test_pairwise_ari_is_symmetric_with_unit_diagonal():
    labels = {1: np.array([0, 0, 1, 1, 2, 2]), 2: np.array([0, 0, 1, 1, 1, 1]), 3: np.array([0, 1, 0, 1, 0, 1])}
    m = pairwise_ari(labels)
    assert list(m.index) == [1, 2, 3]
    assert np.allclose(np.diag(m), 1.0) and np.allclose(m, m.T)
    assert m.loc[1, 2] == pytest.approx(adjusted_rand(labels[1], labels[2]))
    assert m.loc[1, 3] < 0.1


def test_cluster_stability_counts_member_pairs():
    ref = np.array([0, 0, 0, 0, 1, 1, 1, 1, -1])
    other = np.array([0, 0, 1, 1, 2, 2, 2, 2, 2])
    gone = np.array([-1, -1, -1, -1, 3, 3, 3, 3, 3])
    t = cluster_stability(ref, [other]).set_index("cluster")
    # cluster 0's four members fall in two pairs: 2 of its 6 pairs stay together
    assert t.loc[0, "stability"] == pytest.approx(2 / 6)
    assert t.loc[1, "stability"] == pytest.approx(1.0)
    assert t.loc[0, "size"] == 4 and -1 not in t.index
    t2 = cluster_stability(ref, [other, gone]).set_index("cluster")
    # pairs that both became noise are not "together"
    assert t2.loc[0, "stability"] == pytest.approx((2 / 6 + 0.0) / 2)
    assert t2.loc[0, "to_noise"] == pytest.approx(0.5)
    assert np.isnan(cluster_stability(ref, []).loc[0, "stability"])


def test_same_seed_gives_identical_clusterings(seed_comments, tmp_path):
    from conftest import FakeEmbedder

    # separate caches, so the second run really recomputes embeddings and UMAP
    cfg = SMALL.replace(seed=5)
    first = labels_for_seeds(seed_comments, cfg, [5], tmp_path / "one", FakeEmbedder())[5]
    second = labels_for_seeds(seed_comments, cfg, [5], tmp_path / "two", FakeEmbedder())[5]
    assert np.array_equal(first, second)
    assert adjusted_rand(first, second) == 1.0
    # and they are the labels a full pipeline run with that seed produces
    run = run_pipeline(seed_comments, cfg, cache_dir=tmp_path / "one", embedder=FakeEmbedder())
    assert np.array_equal(run.assignments["cluster"].to_numpy(), first)


def test_seed_stability_on_the_seed_corpus(seed_comments, cache):
    from conftest import FakeEmbedder

    fake = FakeEmbedder()
    st = seed_stability(seed_comments, SMALL, seeds=[1, 2, 3], cache_dir=cache, embedder=fake)
    assert fake.calls <= 1  # one embedding for all seeds; only UMAP varies
    assert st.seeds == [42, 1, 2, 3]  # the config's own seed is the reference, first
    assert st.ari.shape == (4, 4) and np.allclose(np.diag(st.ari), 1.0)
    assert 0.0 < st.mean_ari < 1.0
    assert st.labels.shape == (108, 4) and st.labels.index[0] == "c001"
    ref = run_pipeline(seed_comments, SMALL, cache_dir=cache, embedder=FakeEmbedder())
    assert np.array_equal(st.labels[42].to_numpy(), ref.assignments["cluster"].to_numpy())
    assert st.clusters["cluster"].tolist() == list(range(ref.n_clusters))
    assert st.clusters["stability"].between(0, 1).all()
    assert st.clusters["stability"].nunique() > 1  # some themes hold together better than others
    s = st.summary()
    assert s["seeds"] == [42, 1, 2, 3] and s["noise"] == "singleton"
    assert s["min_ari"] <= s["mean_ari"] <= 1.0


@pytest.mark.parametrize("seeds", [[0, 1, 2], [3, 4, 5, 6, 7, 8]])
def test_clearly_separated_themes_are_perfectly_stable(three_themes, cache, seeds):
    from conftest import FakeEmbedder

    st = seed_stability(three_themes, UNAMBIGUOUS, seeds=seeds, cache_dir=cache, embedder=FakeEmbedder())
    assert len(st.clusters) == 3
    assert st.mean_ari == pytest.approx(1.0)
    assert st.clusters["stability"].tolist() == [1.0, 1.0, 1.0]
    assert st.clusters["to_noise"].tolist() == [0.0, 0.0, 0.0]


def test_stability_is_computed_before_the_single_save(seed_comments, cache, tmp_path):
    from conftest import FakeEmbedder

    fake = FakeEmbedder()
    run = run_and_save(seed_comments, SMALL, {"name": "安定性テスト"}, base=tmp_path, cache_dir=cache, embedder=fake,
                       stability_seeds=2)
    loaded = load_run(run.path)
    assert "stability" in loaded.clusters and loaded.clusters["stability"].between(0, 1).all()
    assert loaded.manifest["stability"]["seeds"] == [42, 43, 44]
    assert loaded.manifest["quality"]["stability_ari"] == run.manifest["stability"]["mean_ari"]
    assert list_runs(tmp_path)["run_id"].tolist() == [run.run_id]
    # the same figures as measuring the in-memory run again with the same seeds
    again = run_pipeline(seed_comments, SMALL, cache_dir=cache, embedder=fake)
    result = add_stability(again, seeds=[43, 44], cache_dir=cache)
    assert np.allclose(again.clusters["stability"].to_numpy(), loaded.clusters["stability"].to_numpy())
    assert np.array_equal(result.labels[42].to_numpy(), run.assignments["cluster"].to_numpy())


def test_add_stability_writes_nothing(seed_comments, cache, tmp_path):
    from conftest import FakeEmbedder

    run = run_and_save(seed_comments, SMALL, {"name": "安定性テスト"}, base=tmp_path, cache_dir=cache, embedder=FakeEmbedder())
    rename_cluster(run, 0, "窓口のたらい回し")
    before = {f.name: f.read_bytes() for f in run.path.iterdir()}
    add_stability(run, seeds=[7], cache_dir=cache)
    assert {f.name: f.read_bytes() for f in run.path.iterdir()} == before
    assert run.label_of(0) == "窓口のたらい回し"
    assert json.loads((run.path / "labels.json").read_text(encoding="utf-8")) == {"0": "窓口のたらい回し"}
