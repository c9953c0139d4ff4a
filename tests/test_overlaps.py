"""Tests for analysis.explore.overlaps (theme x category tables, residuals, reach, cross-category pairs)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from analysis.explore.overlaps import (
    _candidate_pairs,
    category_reach,
    cluster_centroids,
    compare_groups,
    cross_category_pairs,
    crosstab,
    ordered_values,
    quote_per_group,
    shares,
    similar_clusters,
    standardized_residuals,
)
from analysis.explore.quotes import representative_quotes
from analysis.schema import CATEGORIES, ROLES, SEED_CATEGORY, SEED_ROLE
from tests.conftest import char_embeddings

GG, GA, AA, GC = CATEGORIES  # 行政×行政, 行政×専門機関, 専門機関×専門機関, 行政・専門機関×地域


def make_table(spec: dict[int, dict[str, int]], role: str = "行政職員") -> pd.DataFrame:
    rows = []
    for cluster, per_cat in spec.items():
        for cat, n in per_cat.items():
            rows += [{SEED_CATEGORY: cat, SEED_ROLE: role, "cluster": cluster}] * n
    t = pd.DataFrame(rows)
    t.insert(0, "comment_id", [f"t{i:03d}" for i in range(len(t))])
    return t


def test_crosstab_orders_rows_and_columns():
    # First appearance is 地域 then 行政×行政, but the canonical order must win.
    t = make_table({-1: {GC: 1}, 2: {GC: 2, GG: 1}, 0: {AA: 3}})
    c = crosstab(t, SEED_CATEGORY)
    assert list(c.index) == [0, 2, -1]
    assert list(c.columns) == [GG, AA, GC]
    assert c.loc[2, GC] == 2 and c.loc[0, AA] == 3 and c.loc[-1, GG] == 0
    assert list(crosstab(t, SEED_CATEGORY, include_noise=False).index) == [0, 2]
    t[SEED_ROLE] = ["専門機関職員", "未記載", "行政職員"] * 2 + ["行政職員"]
    assert list(crosstab(t, by=SEED_ROLE).columns) == list(ROLES)
    # Values of other attributes sort naturally (numbers inside compared as numbers), 未記載 last.
    u = t.assign(年代=["30代", "未記載", "20代", "60代以上", "30代", "100歳", "40代"])
    assert list(crosstab(u, "年代").columns) == ["20代", "30代", "40代", "60代以上", "100歳", "未記載"]
    assert ordered_values([GC, "高齢"], SEED_CATEGORY) == [GC, "高齢"]


def test_shares_and_zero_rows():
    counts = pd.DataFrame([[1, 3], [0, 0], [2, 2]], index=[0, 1, 2], columns=[GG, GA])
    r = shares(counts, "index")
    assert r.loc[0].tolist() == [0.25, 0.75]
    assert r.loc[1].tolist() == [0.0, 0.0]
    c = shares(counts, "columns")
    assert c[GG].tolist() == pytest.approx([1 / 3, 0, 2 / 3])
    with pytest.raises(ValueError):
        shares(counts, "rows")


def test_adjusted_residuals_hand_computed_2x2():
    counts = pd.DataFrame([[10, 20], [30, 40]], index=[0, 1], columns=[GG, GA])
    res = standardized_residuals(counts)
    # N=100, rows 30/70, cols 40/60: E11 = 12, var = 12 * 0.7 * 0.6 = 5.04.
    v = 2 / math.sqrt(5.04)
    assert res.to_numpy() == pytest.approx(np.array([[-v, v], [v, -v]]))
    # For a 2x2 table the squared adjusted residual equals Pearson's chi-square.
    chi2 = chi2_contingency(counts.to_numpy(), correction=False)[0]
    assert res.iloc[0, 0] ** 2 == pytest.approx(chi2)


def test_residuals_guard_zero_rows_and_columns():
    counts = pd.DataFrame([[5, 0, 3], [0, 0, 0], [2, 0, 6]], index=[0, 1, -1], columns=[GG, GA, AA])
    res = standardized_residuals(counts)
    assert np.isfinite(res.to_numpy()).all()
    assert (res.loc[1] == 0).all() and (res[GA] == 0).all()
    assert res.loc[0, GG] > 0 and res.loc[0, AA] < 0
    assert (standardized_residuals(counts * 0).to_numpy() == 0).all()


def test_category_reach_kinds():
    t = make_table(
        {
            0: {GG: 3, GA: 3, AA: 3, GC: 3},  # everywhere, evenly
            1: {GG: 10, GA: 1},  # concentrated in 行政×行政
            2: {GA: 2, AA: 2},  # two fields, nothing significant
            -1: {GA: 4, AA: 4, GC: 6},
        }
    )
    reach = category_reach(t, SEED_CATEGORY)
    assert -1 not in set(reach["cluster"])
    assert list(reach["cluster"]) == [0, 1, 2]  # n_categories 4, 2 (size 11), 2 (size 4)
    r = reach.set_index("cluster")
    assert r.loc[0, "kind"] == "分野横断"
    assert r.loc[0, "categories"] == [GG, GA, AA, GC]
    assert r.loc[1, "kind"] == "特有"
    assert r.loc[1, "top_category"] == GG and r.loc[1, "top_residual"] >= 1.96 and r.loc[1, "top_q"] < 0.05
    assert r.loc[2, "kind"] == "一部共通"
    assert r.loc[2, "categories"] == [GA, AA]
    assert r.loc[1, "size"] == 11
    res = standardized_residuals(crosstab(t, SEED_CATEGORY))
    assert r.loc[1, "top_residual"] == pytest.approx(res.loc[1].max())
    # min_count=2 drops the single 行政×専門機関 comment of cluster 1.
    assert category_reach(t, SEED_CATEGORY, min_count=2).set_index("cluster").loc[1, "n_categories"] == 1


def test_cross_category_pairs_on_seed(seed, emb):
    pairs = cross_category_pairs(seed, emb, GG, GC, k=8, by=SEED_CATEGORY)
    assert list(pairs.columns) == ["a_id", "a_text", "b_id", "b_text", "similarity"]
    assert len(pairs) == 8
    cat = seed.set_index("comment_id")[SEED_CATEGORY]
    assert (pairs["a_id"].map(cat) == GG).all() and (pairs["b_id"].map(cat) == GC).all()
    assert pairs["similarity"].is_monotonic_decreasing
    assert pairs["a_id"].is_unique and pairs["b_id"].is_unique
    text = seed.set_index("comment_id")["text"]
    assert (pairs["a_text"] == pairs["a_id"].map(text)).all()
    ia = np.flatnonzero(seed[SEED_CATEGORY] == GG)
    ib = np.flatnonzero(seed[SEED_CATEGORY] == GC)
    best = (emb[ia] @ emb[ib].T).max()
    assert pairs["similarity"].iloc[0] == pytest.approx(best, abs=1e-6)
    # Same result as a brute-force greedy over the full similarity matrix.
    sim = emb[ia] @ emb[ib].T
    used_a, used_b, expected = set(), set(), []
    for flat in np.argsort(-sim, axis=None, kind="stable"):
        i, j = divmod(int(flat), sim.shape[1])
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            expected.append((seed["comment_id"][ia[i]], seed["comment_id"][ib[j]]))
        if len(expected) == 8:
            break
    assert list(zip(pairs["a_id"], pairs["b_id"])) == expected


def test_candidate_pairs_chunking_keeps_each_rows_best(emb):
    ia, ib = np.arange(0, 30), np.arange(30, 60)
    pa, pb, ps = _candidate_pairs(emb, ia, ib, k=3, same=False, chunk=7)
    sim = emb[ia] @ emb[ib].T
    for i in ia:
        got = sorted(ps[pa == i], reverse=True)
        assert got == pytest.approx(sorted(sim[i], reverse=True)[:3])
    same_a, same_b, _ = _candidate_pairs(emb, ia, ia, k=3, same=True, chunk=4)
    assert (same_a < same_b).all()


def test_cross_role_pairs_and_near_duplicate():
    comments = pd.DataFrame(
        {
            "comment_id": ["g1", "g2", "s1", "s2"],
            "text": [
                "会議で決まったことが現場に伝わらない",
                "予算の執行ルールが厳しい",
                "会議で決まった事が現場に伝わらない。",
                "夜間の緊急対応を引き受ける機関がない",
            ],
            SEED_CATEGORY: [GA] * 4,
            SEED_ROLE: ["行政職員", "行政職員", "専門機関職員", "専門機関職員"],
        }
    )
    e = char_embeddings(comments["text"])
    pairs = cross_category_pairs(comments, e, "行政職員", "専門機関職員", k=2, by=SEED_ROLE)
    assert (pairs["a_id"].iloc[0], pairs["b_id"].iloc[0]) == ("g1", "s1")
    assert set(pairs["a_id"]) == {"g1", "g2"} and set(pairs["b_id"]) == {"s1", "s2"}
    # k above the number of disjoint pairs reuses comments rather than stopping.
    assert len(cross_category_pairs(comments, e, "行政職員", "専門機関職員", k=4, by=SEED_ROLE)) == 4
    same = cross_category_pairs(comments, e, GA, GA, k=10, by=SEED_CATEGORY)
    assert len(same) == 6  # 4 choose 2, no self pairs
    assert not (same["a_id"] == same["b_id"]).any()
    assert cross_category_pairs(comments, e, "行政職員", "未記載", by=SEED_ROLE).empty


def test_cluster_centroids_and_similar_clusters():
    emb = np.array([[1, 0, 0], [1, 0.2, 0], [0, 1, 0], [0.1, 1, 0], [0.9, 0.1, 0.1], [0, 0, 5.0]])
    assign = pd.DataFrame({"comment_id": list("abcdef"), "cluster": [0, 0, 1, 1, 2, -1]})
    ids, cents = cluster_centroids(assign, emb)
    assert ids.tolist() == [0, 1, 2]
    assert cents.shape == (3, 3)
    assert np.linalg.norm(cents, axis=1) == pytest.approx([1, 1, 1])
    n = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    m = n[:2].mean(axis=0)
    assert cents[0] == pytest.approx(m / np.linalg.norm(m))
    sim = similar_clusters(assign, emb, 0, k=2)
    assert sim["cluster"].tolist() == [2, 1]
    assert sim["similarity"].is_monotonic_decreasing
    assert similar_clusters(assign, emb, -1).empty


def test_quote_per_group(seed, emb):
    clusters = [10 if "情報" in t else ci for t, ci in zip(seed["text_norm"], seed[SEED_CATEGORY].map(CATEGORIES.index))]
    assign = pd.DataFrame({"comment_id": seed["comment_id"], "cluster": clusters, "strength": 1.0})
    side = quote_per_group(seed, assign, emb, 10, by=SEED_CATEGORY)
    assert list(side[SEED_CATEGORY]) == list(CATEGORIES)  # all four present, canonical order
    ranked = representative_quotes(seed, assign, emb, 10, k=None, diversity=0.0)
    for _, row in side.iterrows():
        best = ranked[ranked[SEED_CATEGORY] == row[SEED_CATEGORY]]["score"].max()
        assert row["score"] == pytest.approx(best)
    by_role = quote_per_group(seed, assign, emb, 10, by=SEED_ROLE)
    present_roles = set(seed.loc[assign["cluster"] == 10, SEED_ROLE])
    assert set(by_role[SEED_ROLE]) == present_roles and by_role[SEED_ROLE].is_unique


# --------------------------------------------------------------------------- honest statistics


def test_cell_tests_match_scipy_on_a_hand_made_table():
    from scipy.stats import false_discovery_control, fisher_exact

    from analysis.explore.overlaps import cell_tests

    counts = pd.DataFrame([[12, 2, 1], [3, 9, 2], [1, 1, 8], [2, 2, 2]], index=[0, 1, 2, 3], columns=["北部", "中部", "南部"])
    t = cell_tests(counts)
    n = counts.to_numpy().sum()
    ps = []
    for _, r in t.iterrows():
        i, v = r["cluster"], r["value"]
        a = counts.loc[i, v]
        row, col = counts.loc[i].sum(), counts[v].sum()
        p = fisher_exact([[a, row - a], [col - a, n - row - col + a]], alternative="greater")[1]
        ps.append(p)
        assert r["p"] == pytest.approx(p, rel=1e-12)
        assert r["expected"] == pytest.approx(row * col / n)
    assert t["q"].to_numpy() == pytest.approx(false_discovery_control(np.array(ps), method="bh"), rel=1e-12)
    sig = t[t["significant"]]
    assert set(zip(sig["cluster"], sig["value"])) == {(0, "北部"), (1, "中部"), (2, "南部")}
    assert (t.loc[t["expected"] < 5, "small"]).all() and not t.loc[t["expected"] >= 5, "small"].any()


def test_a_theme_in_three_values_without_a_real_concentration_is_cross_not_specific():
    # 4 / 3 / 2 comments in three values: reaches 3, and no cell is beyond chance.
    t = make_table({0: {GG: 4, GA: 3, AA: 2}, 1: {GG: 6, GA: 6, AA: 6, GC: 6}})
    r = category_reach(t, SEED_CATEGORY).set_index("cluster")
    assert r.loc[0, "kind"] == "分野横断" and r.loc[0, "top_q"] >= 0.05


def test_compare_groups_matches_scipy():
    from scipy.stats import false_discovery_control, fisher_exact

    rows = ([{"地区": "北部", "cluster": 0}] * 20 + [{"地区": "北部", "cluster": 1}] * 5 + [{"地区": "北部", "cluster": 2}] * 5
            + [{"地区": "南部", "cluster": 0}] * 4 + [{"地区": "南部", "cluster": 1}] * 21 + [{"地区": "南部", "cluster": 2}] * 5
            + [{"地区": "南部", "cluster": -1}] * 7 + [{"地区": "西部", "cluster": 0}] * 9)
    t = pd.DataFrame(rows)
    out = compare_groups(t, "地区", "北部", "南部")
    assert out.attrs == {"n_a": 30, "n_b": 30}  # 未分類 and 西部 left out
    by = out.set_index("cluster")
    assert by.loc[0, "share_a"] == pytest.approx(20 / 30) and by.loc[0, "share_b"] == pytest.approx(4 / 30)
    assert by.loc[1, "diff"] == pytest.approx((21 - 5) / 30 * 100)
    ps = []
    for c in (0, 1, 2):
        a, b = by.loc[c, "count_a"], by.loc[c, "count_b"]
        p = fisher_exact([[a, b], [30 - a, 30 - b]])[1]
        assert by.loc[c, "p"] == pytest.approx(p, rel=1e-12)
        ps.append(p)
    assert by.loc[[0, 1, 2], "q"].to_numpy() == pytest.approx(false_discovery_control(np.array(ps), method="bh"))
    assert bool(by.loc[0, "significant"]) and bool(by.loc[1, "significant"]) and not bool(by.loc[2, "significant"])
    assert list(out["cluster"])[:2] == [0, 1] or list(out["cluster"])[:2] == [1, 0]  # largest |diff| first
