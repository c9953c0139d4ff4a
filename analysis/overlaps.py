"""Theme x category / role tables: which frustrations are shared across partnership fields and
which are particular to one.

``table`` arguments are comment tables joined with their assignment (``Run.table()``): at least
comment_id, category, role and cluster, where cluster ``-1`` means noise (未分類).
Embeddings are float arrays of shape (n_comments, d), rows in the order of the comment table
(or, for :func:`cluster_centroids`, in the order of the assignment table, which is the same in a
saved run).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from .corpus import CATEGORIES, ROLES
from .quotes import QUOTE_COLUMNS, normalize_rows, representative_quotes

__all__ = [
    "ordered_values",
    "crosstab",
    "shares",
    "standardized_residuals",
    "category_reach",
    "cross_category_pairs",
    "cluster_centroids",
    "similar_clusters",
    "quote_per_group",
    "KIND_CROSS",
    "KIND_SPECIFIC",
    "KIND_PARTIAL",
]

NOISE = -1
KIND_CROSS = "分野横断"
KIND_SPECIFIC = "特有"
KIND_PARTIAL = "一部共通"
_CANONICAL = {"category": CATEGORIES, "role": ROLES}


def ordered_values(values: Iterable[object], by: str = "category") -> list[object]:
    """Distinct values in display order.

    The canonical order (``corpus.CATEGORIES`` for ``by="category"``, ``corpus.ROLES`` for
    ``by="role"``) when every value belongs to it, else the order of first appearance.
    """
    seen = list(dict.fromkeys(values))
    canon = _CANONICAL.get(by)
    if canon is not None and all(v in canon for v in seen):
        return [v for v in canon if v in seen]
    return seen


def _sorted_clusters(ids: Iterable[int]) -> list[int]:
    ids = sorted({int(i) for i in ids})
    return [i for i in ids if i != NOISE] + ([NOISE] if NOISE in ids else [])


def crosstab(table: pd.DataFrame, by: str = "category", include_noise: bool = True) -> pd.DataFrame:
    """Counts of comments per cluster (rows) and value of ``by`` (columns).

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
    column sums to 1 (how each category spreads over themes). All-zero rows/columns give 0.
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
    Values above about 1.96 mean "more than expected" at the 5 % level.
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


def category_reach(
    table: pd.DataFrame,
    by: str = "category",
    min_count: int = 1,
    residual_threshold: float = 1.96,
) -> pd.DataFrame:
    """How far each theme reaches across categories (or roles).

    Residuals are computed on the full table including noise, so the baseline is the whole corpus.

    Returns
    -------
    One row per cluster (``-1`` excluded): cluster, size, n_categories (values with
    >= ``min_count`` members), categories (list, display order), top_category (largest residual;
    ties: display order), top_residual, kind — ``特有`` if some residual >= ``residual_threshold``,
    else ``分野横断`` if it reaches >= 3 values, else ``一部共通``. Sorted by n_categories then size,
    both descending (ties by cluster id).
    """
    counts = crosstab(table, by=by, include_noise=True)
    res = standardized_residuals(counts)
    cols = list(counts.columns)
    rows = []
    for c in counts.index:
        if c == NOISE:
            continue
        cnt = counts.loc[c]
        reached = [v for v in cols if cnt[v] >= min_count]
        r = res.loc[c]
        top = cols[int(np.argmax(r.to_numpy()))] if cols else None
        top_res = float(r[top]) if top is not None else 0.0
        if top_res >= residual_threshold:
            kind = KIND_SPECIFIC
        elif len(reached) >= 3:
            kind = KIND_CROSS
        else:
            kind = KIND_PARTIAL
        rows.append(
            {
                "cluster": int(c),
                "size": int(cnt.sum()),
                "n_categories": len(reached),
                "categories": reached,
                "top_category": top,
                "top_residual": top_res,
                "kind": kind,
            }
        )
    cols_out = ["cluster", "size", "n_categories", "categories", "top_category", "top_residual", "kind"]
    out = pd.DataFrame(rows, columns=cols_out)
    out = out.sort_values(["n_categories", "size", "cluster"], ascending=[False, False, True], kind="stable")
    return out.reset_index(drop=True)


def cross_category_pairs(
    comments: pd.DataFrame,
    embeddings: np.ndarray,
    cat_a: str,
    cat_b: str,
    k: int = 10,
    by: str = "category",
) -> pd.DataFrame:
    """The ``k`` most similar comment pairs with one side in ``cat_a`` and the other in ``cat_b``.

    Works for any column ``by`` (e.g. ``by="role"`` with 行政職員 vs 専門機関職員). Pairs are taken
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
    by: str = "category",
) -> pd.DataFrame:
    """For one theme, its most representative quote in each value of ``by`` (side-by-side view).

    Representativeness is the ``score`` of :func:`analysis.quotes.representative_quotes`
    (centrality and strength). Embeddings (n_comments, d) follow the comment table's rows.

    Returns
    -------
    One row per value of ``by`` present in the theme, in display order: ``by`` then the quote
    columns (``rank`` is the quote's overall rank by score within the theme).
    """
    ranked = representative_quotes(comments, assignments, embeddings, cluster, k=None, diversity=0.0)
    cols = [by] + [c for c in QUOTE_COLUMNS if c != by]
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
