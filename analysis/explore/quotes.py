"""Representative and diverse quotes for a theme, a workshop handout, or "more like this".

All functions take the comment table (``analysis.ingest.comments``), the assignment table (comment_id,
cluster, strength, ...; cluster ``-1`` means noise / 未分類) and the embeddings, a float array of
shape (n_comments, d) whose rows follow the order of the comment table. Assignments are matched to
comments by ``comment_id``, so their row order does not matter.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "QUOTE_COLUMNS",
    "representative_quotes",
    "suggest_varied_set",
    "similar_comments",
    "nearest_to",
    "normalize_rows",
]

from ..schema import NOISE, attributes_of

#: Columns of every quote table; the comments' attribute columns follow ``text``.
QUOTE_COLUMNS: tuple[str, ...] = (
    "rank",
    "comment_id",
    "text",
    "emphasis",
    "strength",
    "centrality",
    "score",
)
#: Weight of the HDBSCAN membership strength in a quote's score (the rest is centrality).
STRENGTH_WEIGHT = 0.3
#: Picks ordered by MMR; later ones (only reached with large ``k``) simply follow the score.
MMR_LIMIT = 100


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise the rows of ``x`` (n, d) as float64; zero rows stay zero."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n, d), got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _members(comments: pd.DataFrame, assignments: pd.DataFrame, cluster: int) -> pd.DataFrame:
    """Comments of ``cluster`` with their strength and their row in the embeddings (``_row``)."""
    cols = ["comment_id", "cluster"] + (["strength"] if "strength" in assignments else [])
    a = assignments[cols].copy()
    a["comment_id"] = a["comment_id"].astype(str)
    a = a[a["cluster"].astype(int) == int(cluster)]
    c = comments.reset_index(drop=True).copy()
    c["comment_id"] = c["comment_id"].astype(str)
    c["_row"] = np.arange(len(c))
    m = c.merge(a, on="comment_id", how="inner", sort=False).sort_values("_row", kind="stable")
    if "strength" not in m:
        m["strength"] = 1.0
    m["strength"] = m["strength"].astype(float).fillna(0.0)
    return m.reset_index(drop=True)


def _scores(m: pd.DataFrame, emb: np.ndarray, cluster: int) -> tuple[np.ndarray, np.ndarray]:
    """(centrality, score) arrays of shape (n_members,)."""
    vecs = emb[m["_row"].to_numpy()]
    if int(cluster) == NOISE or len(m) == 0:
        return np.full(len(m), np.nan), np.zeros(len(m))
    centroid = vecs.mean(axis=0)
    norm = np.linalg.norm(centroid)
    centrality = vecs @ (centroid / norm) if norm > 0 else np.zeros(len(m))
    score = (1.0 - STRENGTH_WEIGHT) * centrality + STRENGTH_WEIGHT * m["strength"].to_numpy()
    return centrality, score


def _mmr_order(
    score: np.ndarray,
    vecs: np.ndarray,
    groups: Sequence[object],
    k: int,
    diversity: float,
) -> list[int]:
    """MMR pick order with group coverage first.

    Parameters
    ----------
    score : (n,) relevance.
    vecs : (n, d) unit vectors; similarity is their dot product.
    groups : n group labels (categories).
    k : number of picks.
    diversity : weight of the max similarity to already picked items.

    The first ``min(k, n_groups)`` picks are restricted to groups not yet covered, so every group
    gets one item before any group gets a second; then MMR up to :data:`MMR_LIMIT` picks and plain
    score order after that (MMR is quadratic and nobody reads quote 300 for its novelty).
    Ties go to the lower index. Memory is O(n): similarities are computed one pick at a time.
    """
    n = len(score)
    k = min(k, n)
    codes, uniques = pd.factorize(pd.Series(list(groups), dtype=object), use_na_sentinel=False)
    n_groups = len(uniques)
    covered = np.zeros(n_groups, dtype=bool)
    available = np.ones(n, dtype=bool)
    max_sim = np.full(n, -np.inf)
    picked: list[int] = []
    while len(picked) < min(k, max(MMR_LIMIT, n_groups)):
        pool = available.copy()
        if len(picked) < min(k, n_groups):
            pool &= ~covered[codes]
        idx = np.flatnonzero(pool)
        if len(idx) == 0:
            break
        penalty = np.where(np.isfinite(max_sim[idx]), max_sim[idx], 0.0)
        value = (1.0 - diversity) * score[idx] - diversity * penalty
        best = int(idx[int(np.argmax(value))])
        picked.append(best)
        covered[codes[best]] = True
        available[best] = False
        if diversity > 0:
            max_sim = np.maximum(max_sim, vecs @ vecs[best])
    if len(picked) < k:
        rest = np.flatnonzero(available)
        rest = rest[np.argsort(-score[rest], kind="stable")]
        picked.extend(int(i) for i in rest[: k - len(picked)])
    return picked


def quote_columns(comments: pd.DataFrame) -> list[str]:
    """:data:`QUOTE_COLUMNS` with the comment table's attribute columns after ``text``."""
    base = list(QUOTE_COLUMNS)
    return base[:3] + [a for a in attributes_of(comments) if a not in base] + base[3:]


def _frame(m: pd.DataFrame, order: list[int], centrality: np.ndarray, score: np.ndarray,
           attrs: list[str]) -> pd.DataFrame:
    sel = m.iloc[order]
    data = {
        "rank": np.arange(1, len(order) + 1),
        "comment_id": sel["comment_id"].to_numpy(),
        "text": sel["text"].to_numpy(),
    }
    for a in attrs:
        data[a] = sel[a].to_numpy()
    data.update({
        "emphasis": list(sel["emphasis"]) if "emphasis" in sel else [[] for _ in order],
        "strength": sel["strength"].to_numpy(dtype=float),
        "centrality": centrality[order].astype(float),
        "score": score[order].astype(float),
    })
    return pd.DataFrame(data, columns=list(QUOTE_COLUMNS[:3]) + attrs + list(QUOTE_COLUMNS[3:]))


def representative_quotes(
    comments: pd.DataFrame,
    assignments: pd.DataFrame,
    embeddings: np.ndarray,
    cluster: int,
    k: int | None = 5,
    diversity: float = 0.3,
    group_by: str | None = None,
) -> pd.DataFrame:
    """Quotes that represent a theme well without repeating each other.

    Parameters
    ----------
    comments : comment table, rows in the order of ``embeddings``.
    assignments : comment_id, cluster (``-1`` = noise / 未分類) and optionally strength (0-1;
        taken as 1 when the column is absent).
    embeddings : (n_comments, d) vectors; rows need not be normalised.
    cluster : the theme.
    k : how many quotes; ``None`` ranks all members.
    diversity : MMR trade-off in [0, 1] between score and dissimilarity to quotes already picked.
    group_by : attribute whose values the first picks spread over (default: the first attribute
        of ``comments``; none if it has no attributes).

    Returns
    -------
    DataFrame with :func:`quote_columns`: ``centrality`` is the cosine to the normalised mean of the
    members, ``score = 0.7 * centrality + 0.3 * strength``. Rows are in pick order: the first
    ``min(k, number of groups present)`` quotes come from different groups, then MMR
    (beyond :data:`MMR_LIMIT` picks, plain score order).

    Notes
    -----
    Noise (``cluster=-1``) has no centre: ``centrality`` is NaN and ``score`` 0, so the order is
    the comment-table order after one quote per category; with ``diversity > 0`` later picks are
    the comments least similar to those already picked (a spread-out sample of the leftovers).
    """
    attrs = [a for a in attributes_of(comments) if a not in QUOTE_COLUMNS]
    m = _members(comments, assignments, cluster)
    if len(m) == 0:
        return pd.DataFrame(columns=list(QUOTE_COLUMNS[:3]) + attrs + list(QUOTE_COLUMNS[3:]))
    emb = normalize_rows(embeddings)
    centrality, score = _scores(m, emb, cluster)
    vecs = emb[m["_row"].to_numpy()]
    n_pick = len(m) if k is None else max(0, int(k))
    group_by = group_by if group_by in m.columns else (attrs[0] if attrs else None)
    groups = list(m[group_by]) if group_by else [0] * len(m)
    order = _mmr_order(score, vecs, groups, n_pick, diversity)
    return _frame(m, order, centrality, score, attrs)


def suggest_varied_set(
    comments: pd.DataFrame,
    assignments: pd.DataFrame,
    embeddings: np.ndarray,
    n: int,
    candidate_ids: Sequence[str] | None = None,
    seed: int = 0,
    group_by: str | None = None,
) -> pd.DataFrame:
    """``n`` quotes spread over as many themes and groups as possible (for a workshop handout).

    Themes take turns, largest first (equal sizes in an order drawn from ``seed``); each turn takes
    the theme's most representative unused comment, preferring a value of ``group_by`` (default:
    the first attribute) not yet in the set.
    Noise comments (cluster ``-1``) are used only once every theme is exhausted.

    Parameters
    ----------
    comments, assignments, embeddings : as in :func:`representative_quotes`; embeddings (n_comments, d).
    n : number of quotes wanted (fewer are returned if there are not enough candidates).
    candidate_ids : restrict to these comment ids (e.g. the dashboard's current filter).
    seed : breaks ties between equally large themes; the same seed gives the same set.

    Representativeness is measured against each whole theme, so restricting ``candidate_ids``
    does not move a theme's centre; themes are ordered by their number of candidates.

    Returns
    -------
    DataFrame with :func:`quote_columns` plus ``cluster``, in pick order.
    """
    attrs = [a for a in attributes_of(comments) if a not in QUOTE_COLUMNS]
    group_by = group_by if group_by in attrs else (attrs[0] if attrs else None)
    rng = np.random.default_rng(seed)
    full = assignments.copy()
    full["comment_id"] = full["comment_id"].astype(str)
    a = full
    if candidate_ids is not None:
        a = full[full["comment_id"].isin({str(c) for c in candidate_ids})]
    sizes = a.loc[a["cluster"].astype(int) != NOISE, "cluster"].astype(int).value_counts()
    clusters = sorted(sizes.index, key=lambda c: (-sizes[c], c))
    tie = dict(zip(clusters, rng.permutation(len(clusters))))
    clusters = sorted(clusters, key=lambda c: (-sizes[c], tie[c]))
    if (a["cluster"].astype(int) == NOISE).any():
        clusters.append(NOISE)

    queues: dict[int, pd.DataFrame] = {}
    for c in clusters:
        # Scored against the whole theme (not just the candidates), then restricted.
        q = representative_quotes(comments, full, embeddings, c, k=None, diversity=0.0)
        q = q[q["comment_id"].isin(set(a["comment_id"]))]
        if c == NOISE:  # keep the comment-table order rather than the category-first order
            q = q.sort_values("comment_id", kind="stable", key=lambda s: s.map(_position(comments)))
        q = q.assign(cluster=c)
        queues[c] = q.reset_index(drop=True)

    picked: list[pd.Series] = []
    covered: set[str] = set()
    while len(picked) < n:
        moved = False
        themes_left = any(len(queues[c]) for c in clusters if c != NOISE)
        for c in clusters:
            if len(picked) >= n:
                break
            if c == NOISE and themes_left:
                continue
            q = queues[c]
            if not len(q):
                continue
            fresh = q[~q[group_by].isin(covered)] if group_by else q
            row = (fresh if len(fresh) else q).iloc[0]
            queues[c] = q[q["comment_id"] != row["comment_id"]]
            picked.append(row)
            if group_by:
                covered.add(row[group_by])
            moved = True
        if not moved:
            break
    cols = list(QUOTE_COLUMNS[:3]) + attrs + list(QUOTE_COLUMNS[3:]) + ["cluster"]
    if not picked:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(picked).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out["cluster"] = out["cluster"].astype(int)
    return out[cols]


def _position(comments: pd.DataFrame) -> dict[str, int]:
    return {str(cid): i for i, cid in enumerate(comments["comment_id"])}


def similar_comments(
    embeddings: np.ndarray,
    index: int,
    k: int = 10,
    candidates: np.ndarray | Sequence[int] | None = None,
) -> list[tuple[int, float]]:
    """"More like this comment": the ``k`` nearest rows by cosine, excluding ``index`` itself.

    Parameters
    ----------
    embeddings : (n, d) vectors (normalised here).
    index : row of the query comment.
    k : number of neighbours.
    candidates : optional restriction, either a boolean mask of shape (n,) or an array of row
        indices (e.g. the rows passing the dashboard filters).

    Returns
    -------
    ``[(row index, cosine similarity), ...]`` most similar first; ties by lower index.
    """
    emb = normalize_rows(embeddings)
    n = emb.shape[0]
    if not 0 <= index < n:
        raise IndexError(f"index {index} out of range for {n} rows")
    if candidates is None:
        rows = np.arange(n)
    else:
        cand = np.asarray(candidates)
        if cand.dtype == bool:
            if cand.shape != (n,):
                raise ValueError(f"boolean candidates must have shape ({n},)")
            rows = np.flatnonzero(cand)
        else:
            rows = np.unique(cand.astype(int))
    return nearest_to(emb, emb[index], k, rows[rows != index])


def nearest_to(embeddings: np.ndarray, vector: np.ndarray, k: int = 10, rows: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The ``k`` rows of ``embeddings`` (among ``rows``, default all) nearest to ``vector`` by cosine.

    Returns ``[(row index, cosine similarity), ...]``, most similar first; ties by lower index.
    """
    emb = normalize_rows(embeddings)
    rows = np.arange(emb.shape[0]) if rows is None else np.asarray(rows, dtype=int)
    sims = emb[rows] @ normalize_rows(np.asarray(vector)[None, :])[0]
    order = np.lexsort((rows, -sims))[: max(0, int(k))]
    return [(int(rows[i]), float(sims[i])) for i in order]
