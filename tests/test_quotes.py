"""Tests for analysis.explore.quotes (representative quotes, varied handout sets, similar comments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.explore.quotes import (
    quote_columns,
    representative_quotes,
    similar_comments,
    suggest_varied_set,
)
from analysis.schema import CATEGORIES, SEED_CATEGORY
from tests.conftest import char_embeddings


def fake_assignments(seed: pd.DataFrame) -> pd.DataFrame:
    """Cluster 10: comments mentioning 情報 (all 4 categories); 11: 会議 (3 categories);
    otherwise the category index, with every 9th comment as noise (-1)."""
    clusters = []
    for i, (text, cat) in enumerate(zip(seed["text_norm"], seed[SEED_CATEGORY])):
        if "情報" in text:
            clusters.append(10)
        elif "会議" in text:
            clusters.append(11)
        elif i % 9 == 0:
            clusters.append(-1)
        else:
            clusters.append(CATEGORIES.index(cat))
    strength = [0.0 if c == -1 else 0.6 + 0.4 * ((i * 7) % 5) / 4 for i, c in enumerate(clusters)]
    return pd.DataFrame({"comment_id": seed["comment_id"], "cluster": clusters, "strength": strength})


@pytest.fixture(scope="module")
def assign(seed):
    return fake_assignments(seed)


def test_quotes_cover_all_categories_of_mixed_cluster(seed, assign, emb):
    members = seed[assign["cluster"] == 10]
    present = set(members[SEED_CATEGORY])
    assert len(present) == 4
    q = representative_quotes(seed, assign, emb, 10, k=5)
    assert list(q.columns) == quote_columns(seed)
    assert list(q["rank"]) == [1, 2, 3, 4, 5]
    assert set(q[SEED_CATEGORY].iloc[:4]) == present
    assert set(q["comment_id"]) <= set(members["comment_id"])
    assert q["comment_id"].is_unique
    # The first pick is the best-scoring member overall.
    full = representative_quotes(seed, assign, emb, 10, k=None)
    assert q["comment_id"].iloc[0] == full.loc[full["score"].idxmax(), "comment_id"]


def test_category_guarantee_overrides_score():
    comments = pd.DataFrame(
        {
            "comment_id": ["a1", "a2", "a3", "b1"],
            "text": ["地域の会議が形だけ", "地域の会議に出ても発言しにくい", "地域会議の目的が不明", "学校との情報共有が難しい"],
            "category": ["行政・専門機関×地域"] * 3 + ["専門機関×専門機関"],
            "role": ["行政職員", "専門機関職員", "行政職員", "専門機関職員"],
            "emphasis": [[], [], [], []],
        }
    )
    emb = np.array([[1.0, 0.0], [0.99, 0.14], [0.98, 0.2], [0.3, 0.95]])
    assign = pd.DataFrame({"comment_id": ["a1", "a2", "a3", "b1"], "cluster": [0] * 4, "strength": [1.0] * 4})
    q = representative_quotes(comments, assign, emb, 0, k=2, diversity=0.0)
    # By score alone a1, a2 would come first; the lone 専門機関×専門機関 quote must be in the top 2.
    full = representative_quotes(comments, assign, emb, 0, k=None, diversity=0.0)
    top2_by_score = full.sort_values("score", ascending=False)["category"].iloc[:2]
    assert (top2_by_score == "行政・専門機関×地域").all()
    assert set(q["category"]) == {"行政・専門機関×地域", "専門機関×専門機関"}
    assert "b1" in set(q["comment_id"])


def test_centrality_strength_and_mmr_on_handcrafted_vectors():
    comments = pd.DataFrame(
        {
            "comment_id": ["x1", "x2", "x3", "x4"],
            "text": ["会議が多すぎる", "会議が多すぎる。", "会議の進め方に不満", "会議の資料が遅い"],
            "category": ["行政×行政"] * 4,
            "role": ["行政職員"] * 4,
            "emphasis": [[], [], [], []],
        }
    )
    emb = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.6, 0.0, 0.8]])
    assign = pd.DataFrame(
        {"comment_id": ["x1", "x2", "x3", "x4"], "cluster": [3] * 4, "strength": [1.0, 1.0, 0.5, 1.0]}
    )
    plain = representative_quotes(comments, assign, emb, 3, k=None, diversity=0.0)
    centroid = emb.mean(axis=0) / np.linalg.norm(emb.mean(axis=0))
    by_id = plain.set_index("comment_id")
    for i, cid in enumerate(comments["comment_id"]):
        assert by_id.loc[cid, "centrality"] == pytest.approx(emb[i] @ centroid)
        assert by_id.loc[cid, "score"] == pytest.approx(0.7 * (emb[i] @ centroid) + 0.3 * assign["strength"][i])
    assert list(plain["comment_id"]) == ["x1", "x2", "x4", "x3"]  # lower strength puts x3 last
    diverse = representative_quotes(comments, assign, emb, 3, k=2, diversity=0.5)
    # x2 duplicates x1 (cosine 1), so MMR takes a different comment second.
    assert list(diverse["comment_id"]) == ["x1", "x4"]


def test_k_none_returns_all_members_ranked(seed, assign, emb):
    q = representative_quotes(seed, assign, emb, 11, k=None)
    members = set(seed.loc[assign["cluster"] == 11, "comment_id"])
    assert len(q) == len(members) and set(q["comment_id"]) == members
    assert list(q["rank"]) == list(range(1, len(members) + 1))
    assert q["centrality"].between(-1, 1).all()


def test_large_cluster_ranks_everyone(seed, emb):
    one = pd.DataFrame({"comment_id": seed["comment_id"], "cluster": 0, "strength": 1.0})
    q = representative_quotes(seed, one, emb, 0, k=None, diversity=0.3)
    assert len(q) == len(seed) > 100 and q["comment_id"].is_unique
    assert set(q[SEED_CATEGORY].iloc[:4]) == set(CATEGORIES)
    tail = q["score"].iloc[100:]
    assert tail.is_monotonic_decreasing  # beyond the MMR picks, plain score order


def test_assignment_order_does_not_matter(seed, assign, emb):
    shuffled = assign.sample(frac=1.0, random_state=0)
    a = representative_quotes(seed, assign, emb, 10, k=5)
    b = representative_quotes(seed, shuffled, emb, 10, k=5)
    assert list(a["comment_id"]) == list(b["comment_id"])


def test_noise_and_unknown_cluster(seed, assign, emb):
    noise = representative_quotes(seed, assign, emb, -1, k=None)
    assert len(noise) == int((assign["cluster"] == -1).sum())
    assert noise["centrality"].isna().all()
    assert (noise["score"] == 0).all()
    empty = representative_quotes(seed, assign, emb, 99)
    assert empty.empty and list(empty.columns) == quote_columns(seed)


def test_suggest_varied_set_covers_clusters_and_categories(seed, assign, emb):
    n_clusters = assign.loc[assign["cluster"] != -1, "cluster"].nunique()
    for n in (3, 6, 10):
        s = suggest_varied_set(seed, assign, emb, n, seed=0)
        assert len(s) == n
        assert list(s.columns) == quote_columns(seed) + ["cluster"]
        assert s["comment_id"].is_unique
        assert s["cluster"].nunique() >= min(n, n_clusters)
        assert -1 not in set(s["cluster"])
        assert s[SEED_CATEGORY].nunique() >= min(n, 4)
    again = suggest_varied_set(seed, assign, emb, 6, seed=0)
    assert list(again["comment_id"]) == list(suggest_varied_set(seed, assign, emb, 6, seed=0)["comment_id"])
    # Themes take turns largest first.
    sizes = assign.loc[assign["cluster"] != -1, "cluster"].value_counts()
    first = list(again["cluster"].iloc[:n_clusters])
    assert [sizes[c] for c in first] == sorted(sizes, reverse=True)


def test_suggest_varied_set_respects_candidates(seed, assign, emb):
    ids = list(seed.loc[seed[SEED_CATEGORY] == "行政×行政", "comment_id"])
    s = suggest_varied_set(seed, assign, emb, 5, candidate_ids=ids)
    assert set(s["comment_id"]) <= set(ids)
    assert (s[SEED_CATEGORY] == "行政×行政").all()
    # Asking for more than exists returns every candidate, noise last.
    allset = suggest_varied_set(seed, assign, emb, 500, candidate_ids=ids)
    assert set(allset["comment_id"]) == set(ids)
    noise_ranks = allset.loc[allset["cluster"] == -1, "rank"]
    assert noise_ranks.min() > allset.loc[allset["cluster"] != -1, "rank"].max()


def test_similar_comments(seed, emb):
    extra = pd.concat(
        [seed[["text_norm"]], pd.DataFrame({"text_norm": [seed["text_norm"][5] + "。"]})], ignore_index=True
    )
    e = char_embeddings(extra["text_norm"])
    res = similar_comments(e, 5, k=5)
    assert len(res) == 5
    assert res[0][0] == len(seed)  # the near-copy is the nearest neighbour
    assert all(i != 5 for i, _ in res)
    sims = [s for _, s in res]
    assert sims == sorted(sims, reverse=True)
    assert sims[0] > 0.9
    mask = np.zeros(len(e), dtype=bool)
    mask[[1, 2, 3, 5]] = True
    restricted = similar_comments(e, 5, k=10, candidates=mask)
    assert sorted(i for i, _ in restricted) == [1, 2, 3]
    by_index = similar_comments(e, 5, k=10, candidates=np.array([3, 2, 1, 5]))
    assert by_index == restricted
    with pytest.raises(IndexError):
        similar_comments(e, len(e))
