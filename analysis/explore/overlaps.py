"""Theme x attribute tables: which frustrations are shared across groups and which are particular.

``table`` arguments are comment tables joined with their assignment (``Run.table()``): at least
comment_id, cluster and the attribute column named by ``by``, where cluster ``-1`` means noise
(未分類). Embeddings are float arrays of shape (n_comments, d), rows in the order of the comment
table (or, for :func:`cluster_centroids`, in the order of the assignment table, which is the same
in a saved run).

Statistics are honest about small counts: a "this is not chance" claim (特有, a difference between
two groups) rests on Fisher's exact test with Benjamini–Hochberg correction over the whole table,
and cells whose expected count is below :data:`analysis.schema.MIN_EXPECTED` are marked as
参考値 (for reference only). Adjusted residuals stay available as a description of direction.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ..schema import ALPHA, CROSS_MIN_VALUES, MIN_EXPECTED, NOISE
from ..schema import ordered_values as _ordered
from .quotes import normalize_rows, quote_columns, representative_quotes

__all__ = [
    "ordered_values",
    "crosstab",
    "shares",
    "standardized_residuals",
    "cell_tests",
    "bh_adjust",
    "category_reach",
    "compare_groups",
    "cross_category_pairs",
    "cluster_centroids",
    "similar_clusters",
    "quote_per_group",
    "KIND_CROSS",
    "KIND_SPECIFIC",
    "KIND_PARTIAL",
]

KIND_CROSS = "分野横断"
KIND_SPECIFIC = "特有"
KIND_PARTIAL = "一部共通"


def ordered_values(values: Iterable[object], by: str | None = None) -> list[object]:
    """Distinct values of attribute ``by`` in display order (see :func:`analysis.schema.ordered_values`)."""
    return _ordered(values, by)


def _sorted_clusters(ids: Iterable[int]) -> list[int]:
    ids = sorted({int(i) for i in ids})
    return [i for i in ids if i != NOISE] + ([NOISE] if NOISE in ids else [])


def crosstab(table: pd.DataFrame, by: str, include_noise: bool = True) -> pd.DataFrame:
    """Counts of comments per cluster (rows) and value of attribute ``by`` (columns).

    Rows are cluster ids sorted ascending with ``-1`` (未分類) last (dropped when
    ``include_noise`` is false); columns follow :func:`ordered_values`. Shape (n_clusters, n_values).
    """
    t = table[["cluster", by]].copy()
    t["cluster"] = t["cluster"].astype(int)
    if not include_noise:
        t = t[t["cluster"] != NOISE]
    rows = _sorted_clusters(t["cluster"])
    cols = ordered_values(table[by], by)
    counts = pd.crosstab(t["cluster"], t[by]) if len(t) else pd.DataFrame()
    counts = counts.reindex(index=rows, columns=cols, fill_value=0).fillna(0).astype(int)
    counts.index.name = "cluster"
    counts.columns.name = by
    return counts


def shares(counts: pd.DataFrame, axis: str = "index") -> pd.DataFrame:
    """Proportions of a count table.

    ``axis="index"``: each row sums to 1 (the make-up of each theme); ``axis="columns"``: each
    column sums to 1 (how each value spreads over themes). All-zero rows/columns give 0.
    """
    values = counts.to_numpy(dtype=float)
    if axis == "index":
        totals = values.sum(axis=1, keepdims=True)
    elif axis == "columns":
        totals = values.sum(axis=0, keepdims=True)
    else:
        raise ValueError('axis must be "index" or "columns"')
    out = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    return pd.DataFrame(out, index=counts.index, columns=counts.columns)


def standardized_residuals(counts: pd.DataFrame) -> pd.DataFrame:
    """Adjusted standardized residuals (Haberman), as KH Coder's cross tabulation shows them.

    ``(O - E) / sqrt(E * (1 - row/N) * (1 - col/N))`` with ``E = row * col / N``. Cells whose
    denominator is zero (empty row or column, a single row or column) get 0, never NaN or inf.
    A description of direction; :func:`cell_tests` decides what is "not chance".
    """
    o = counts.to_numpy(dtype=float)
    n = o.sum()
    if n <= 0:
        return pd.DataFrame(np.zeros_like(o), index=counts.index, columns=counts.columns)
    row = o.sum(axis=1, keepdims=True)
    col = o.sum(axis=0, keepdims=True)
    e = row * col / n
    var = e * (1.0 - row / n) * (1.0 - col / n)
    res = np.divide(o - e, np.sqrt(np.clip(var, 0.0, None)), out=np.zeros_like(o), where=var > 1e-12)
    return pd.DataFrame(res, index=counts.index, columns=counts.columns)


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), same shape as ``p``; NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    flat = p.ravel()
    ok = np.isfinite(flat)
    m = int(ok.sum())
    if m:
        v = flat[ok]
        order = np.argsort(v, kind="stable")
        ranked = v[order] * m / np.arange(1, m + 1)
        q = np.minimum.accumulate(ranked[::-1])[::-1]
        res = np.empty(m)
        res[order] = np.minimum(q, 1.0)
        tmp = out.ravel()
        tmp[ok] = res
        out = tmp.reshape(p.shape)
    return out


def cell_tests(counts: pd.DataFrame) -> pd.DataFrame:
    """Per cell: is the theme (row) over-represented in this value (column)?

    For each cell a one-sided Fisher exact test on the 2×2 table (this theme / other themes) ×
    (this value / other values), alternative "more than expected"; p-values are adjusted with
    Benjamini–Hochberg over every cell of the table.

    Returns a long DataFrame: cluster, value, count, expected, residual, p, q, small (expected <
    :data:`MIN_EXPECTED`: shown as 参考値, since so few comments make any share unsteady),
    significant (q < :data:`ALPHA`; Fisher's test is exact, so it stays valid for small counts).
    """
    from scipy.stats import fisher_exact

    o = counts.to_numpy(dtype=np.int64)
    n = int(o.sum())
    rows = o.sum(axis=1)
    cols = o.sum(axis=0)
    res = standardized_residuals(counts).to_numpy()
    recs = []
    for i, c in enumerate(counts.index):
        for j, v in enumerate(counts.columns):
            a = int(o[i, j])
            b = int(rows[i] - a)
            cc = int(cols[j] - a)
            d = int(n - rows[i] - cols[j] + a)
            p = float(fisher_exact([[a, b], [cc, d]], alternative="greater")[1]) if n and rows[i] and cols[j] else np.nan
            expected = rows[i] * cols[j] / n if n else 0.0
            recs.append({"cluster": c, "value": v, "count": a, "expected": float(expected),
                         "residual": float(res[i, j]), "p": p})
    out = pd.DataFrame(recs, columns=["cluster", "value", "count", "expected", "residual", "p"])
    out["q"] = bh_adjust(out["p"].to_numpy())
    out["small"] = out["expected"] < MIN_EXPECTED
    out["significant"] = out["q"] < ALPHA
    return out


def category_reach(table: pd.DataFrame, by: str, min_count: int = 1) -> pd.DataFrame:
    """How far each theme reaches across the values of attribute ``by``, and what kind it is.

    The baseline is the whole table including 未分類. One consistent rule, the one the glossary
    states:

    * 特有 — the theme is over-represented in one value, and that is not chance: one-sided Fisher
      exact test with Benjamini–Hochberg correction over the table, q < 0.05 (``top_small`` says
      when the expected count is below 5: a 参考値 to read with care);
    * 分野横断 — otherwise, when it reaches at least ``min(3, number of values)`` values;
    * 一部共通 — otherwise.

    Returns one row per cluster (``-1`` excluded): cluster, size, n_categories (values with >=
    ``min_count`` members), categories (list, display order), top_category (largest residual;
    ties: display order), top_residual, top_q (BH-adjusted p of that cell), top_expected,
    top_small (expected < 5: 参考値), kind. Sorted by n_categories then size, descending.
    """
    counts = crosstab(table, by=by, include_noise=True)
    tests = cell_tests(counts)
    res = standardized_residuals(counts)
    cols = list(counts.columns)
    cross_at = max(2, min(CROSS_MIN_VALUES, len(cols)))
    rows = []
    for c in counts.index:
        if c == NOISE:
            continue
        cnt = counts.loc[c]
        reached = [v for v in cols if cnt[v] >= min_count]
        r = res.loc[c]
        top = cols[int(np.argmax(r.to_numpy()))] if cols else None
        cell = tests[(tests["cluster"] == c) & (tests["value"] == top)].iloc[0] if top is not None else None
        specific = bool(tests[(tests["cluster"] == c)]["significant"].any())
        if specific:
            kind = KIND_SPECIFIC
            sig = tests[(tests["cluster"] == c) & tests["significant"]].sort_values("q").iloc[0]
            top, cell = sig["value"], sig
        elif len(reached) >= cross_at:
            kind = KIND_CROSS
        else:
            kind = KIND_PARTIAL
        rows.append({
            "cluster": int(c),
            "size": int(cnt.sum()),
            "n_categories": len(reached),
            "categories": reached,
            "top_category": top,
            "top_residual": float(r[top]) if top is not None else 0.0,
            "top_q": float(cell["q"]) if cell is not None else float("nan"),
            "top_expected": float(cell["expected"]) if cell is not None else 0.0,
            "top_small": bool(cell["small"]) if cell is not None else True,
            "kind": kind,
        })
    cols_out = ["cluster", "size", "n_categories", "categories", "top_category", "top_residual", "top_q",
                "top_expected", "top_small", "kind"]
    out = pd.DataFrame(rows, columns=cols_out)
    out = out.sort_values(["n_categories", "size", "cluster"], ascending=[False, False, True], kind="stable")
    return out.reset_index(drop=True)


def compare_groups(table: pd.DataFrame, by: str, a: object, b: object, include_noise: bool = False) -> pd.DataFrame:
    """Theme shares in group ``a`` vs group ``b`` of attribute ``by`` (e.g. 北部 vs 南部, 2024 vs 2025).

    For each theme: counts and shares in both groups, the difference in percentage points, and a
    two-sided Fisher exact test on (this theme / other themes) × (a / b), Benjamini–Hochberg
    adjusted over the themes. ``small`` marks themes whose smallest expected count is below 5
    (参考値). 未分類 is left out of the shares unless ``include_noise``.

    Returns cluster, count_a, count_b, share_a, share_b, diff (share_b - share_a, points), p, q,
    small, significant; sorted by |diff| descending. ``attrs``: n_a, n_b.
    """
    from scipy.stats import fisher_exact

    t = table[table[by].isin([a, b])]
    if not include_noise:
        t = t[t["cluster"].astype(int) != NOISE]
    n_a = int((t[by] == a).sum())
    n_b = int((t[by] == b).sum())
    recs = []
    for c in _sorted_clusters(t["cluster"]):
        in_c = t["cluster"].astype(int) == c
        ca = int((in_c & (t[by] == a)).sum())
        cb = int((in_c & (t[by] == b)).sum())
        tab = [[ca, cb], [n_a - ca, n_b - cb]]
        p = float(fisher_exact(tab, alternative="two-sided")[1]) if n_a and n_b else np.nan
        n = n_a + n_b
        row_c = ca + cb
        expected = min(row_c * n_a / n, row_c * n_b / n, (n - row_c) * n_a / n, (n - row_c) * n_b / n) if n else 0.0
        recs.append({"cluster": c, "count_a": ca, "count_b": cb,
                     "share_a": ca / n_a if n_a else 0.0, "share_b": cb / n_b if n_b else 0.0, "p": p,
                     "min_expected": expected})
    out = pd.DataFrame(recs, columns=["cluster", "count_a", "count_b", "share_a", "share_b", "p", "min_expected"])
    out["diff"] = (out["share_b"] - out["share_a"]) * 100.0
    out["q"] = bh_adjust(out["p"].to_numpy())
    out["small"] = out["min_expected"] < MIN_EXPECTED
    out["significant"] = out["q"] < ALPHA
    out = out.reindex(out["diff"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)
    out.attrs.update(n_a=n_a, n_b=n_b)
    return out[["cluster", "count_a", "count_b", "share_a", "share_b", "diff", "p", "q", "min_expected", "small",
                "significant"]]


def cross_category_pairs(
    comments: pd.DataFrame,
    embeddings: np.ndarray,
    cat_a: str,
    cat_b: str,
    k: int = 10,
    by: str = "連携の分類",
) -> pd.DataFrame:
    """The ``k`` most similar comment pairs with one side in ``cat_a`` and the other in ``cat_b``.

    Works for any attribute column ``by`` (e.g. 回答者 with 行政職員 vs 専門機関職員). Pairs are taken
    greedily by cosine similarity so that each comment appears at most once; only if that yields
    fewer than ``k`` pairs are the best remaining pairs added, reusing comments. When
    ``cat_a == cat_b`` a comment is never paired with itself and each pair appears once.

    Parameters
    ----------
    comments : comment table, rows in the order of ``embeddings``.
    embeddings : (n_comments, d).

    Returns
    -------
    DataFrame a_id, a_text, b_id, b_text, similarity, most similar first.
    """
    cols = ["a_id", "a_text", "b_id", "b_text", "similarity"]
    emb = normalize_rows(embeddings)
    values = comments[by].to_numpy()
    ia = np.flatnonzero(values == cat_a)
    ib = np.flatnonzero(values == cat_b)
    if len(ia) == 0 or len(ib) == 0 or k <= 0:
        return pd.DataFrame(columns=cols)
    pa, pb, ps = _candidate_pairs(emb, ia, ib, k, same=cat_a == cat_b)
    order = np.lexsort((pb, pa, -ps))
    chosen: list[int] = []
    used: set[int] = set()
    for p in order:
        a, b = int(pa[p]), int(pb[p])
        if a in used or b in used:
            continue
        chosen.append(int(p))
        used.update((a, b))
        if len(chosen) == k:
            break
    if len(chosen) < k:
        taken = set(chosen)
        chosen += [int(p) for p in order if int(p) not in taken][: k - len(chosen)]
    chosen.sort(key=lambda p: (-ps[p], pa[p], pb[p]))
    ids = comments["comment_id"].astype(str).to_numpy()
    texts = comments["text"].to_numpy()
    ra, rb = pa[chosen], pb[chosen]
    return pd.DataFrame(
        {
            "a_id": ids[ra],
            "a_text": texts[ra],
            "b_id": ids[rb],
            "b_text": texts[rb],
            "similarity": ps[chosen].astype(float),
        },
        columns=cols,
    )


def _candidate_pairs(
    emb: np.ndarray, ia: np.ndarray, ib: np.ndarray, k: int, same: bool, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each a-row's best ``m`` partners as flat arrays (a rows, b rows, similarities).

    Keeping ``m = k`` per row (``2k`` when both sides are one group, where a comment may be used
    on either side) is exact for the greedy selection: before the k-th pick fewer than ``m``
    comments are used, so every row's best unused partner lies within its top ``m``. Working in
    row chunks keeps memory at O(chunk * |b|) instead of |a| * |b|.
    """
    m = min(len(ib), 2 * k if same else k)
    out_a, out_b, out_s = [], [], []
    for lo in range(0, len(ia), chunk):
        rows = ia[lo : lo + chunk]
        sim = emb[rows] @ emb[ib].T
        if same:  # each unordered pair once, never a comment with itself
            sim = np.where(rows[:, None] < ib[None, :], sim, -np.inf)
        if m < len(ib):
            top = np.argpartition(-sim, m - 1, axis=1)[:, :m]
        else:
            top = np.tile(np.arange(len(ib)), (len(rows), 1))
        s = np.take_along_axis(sim, top, axis=1)
        keep = np.isfinite(s)
        out_a.append(np.repeat(rows, m).reshape(len(rows), m)[keep])
        out_b.append(ib[top][keep])
        out_s.append(s[keep])
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_s)


def cluster_centroids(assignments: pd.DataFrame, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised mean vector of each cluster (noise ``-1`` excluded).

    ``assignments`` rows must follow the rows of ``embeddings`` (n_comments, d).

    Returns
    -------
    (cluster ids, shape (n_clusters,), ascending; centroids, shape (n_clusters, d), unit rows)
    """
    emb = normalize_rows(embeddings)
    labels = assignments["cluster"].astype(int).to_numpy()
    if len(labels) != emb.shape[0]:
        raise ValueError("assignments and embeddings must have the same number of rows")
    ids = np.array(sorted({int(c) for c in labels if c != NOISE}), dtype=int)
    cents = np.zeros((len(ids), emb.shape[1]))
    for i, c in enumerate(ids):
        cents[i] = emb[labels == c].mean(axis=0)
    return ids, normalize_rows(cents)


def similar_clusters(assignments: pd.DataFrame, embeddings: np.ndarray, cluster: int, k: int = 3) -> pd.DataFrame:
    """The ``k`` clusters whose centroids are most cosine-similar to ``cluster``'s.

    Returns DataFrame cluster, similarity (most similar first; ties by cluster id). Empty for
    noise or an unknown cluster.
    """
    ids, cents = cluster_centroids(assignments, embeddings)
    hit = np.flatnonzero(ids == int(cluster))
    if len(hit) == 0:
        return pd.DataFrame({"cluster": pd.Series(dtype=int), "similarity": pd.Series(dtype=float)})
    sims = cents @ cents[hit[0]]
    others = np.flatnonzero(ids != int(cluster))
    order = others[np.lexsort((ids[others], -sims[others]))][: max(0, int(k))]
    return pd.DataFrame({"cluster": ids[order].astype(int), "similarity": sims[order].astype(float)})


def quote_per_group(
    comments: pd.DataFrame,
    assignments: pd.DataFrame,
    embeddings: np.ndarray,
    cluster: int,
    by: str,
) -> pd.DataFrame:
    """For one theme, its most representative quote in each value of ``by`` (side-by-side view).

    Representativeness is the ``score`` of :func:`analysis.explore.quotes.representative_quotes`
    (centrality and strength). Embeddings (n_comments, d) follow the comment table's rows.

    Returns
    -------
    One row per value of ``by`` present in the theme, in display order: ``by`` then the quote
    columns (``rank`` is the quote's overall rank by score within the theme).
    """
    ranked = representative_quotes(comments, assignments, embeddings, cluster, k=None, diversity=0.0, group_by=by)
    cols = [by] + [c for c in quote_columns(comments) if c != by]
    if ranked.empty:
        return pd.DataFrame(columns=cols)
    if by not in ranked:
        extra = comments[["comment_id", by]].astype({"comment_id": str})
        ranked = ranked.merge(extra, on="comment_id", how="left")
    ranked = ranked.sort_values(["score", "rank"], ascending=[False, True], kind="stable")
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    best = ranked.drop_duplicates(by, keep="first").set_index(by, drop=False)
    order = ordered_values(ranked[by], by)
    return best.loc[order, cols].reset_index(drop=True)
