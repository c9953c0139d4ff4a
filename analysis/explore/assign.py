"""Fit new comments onto an existing run's themes, and compare theme shares between two sets.

This year's answers read against last year's themes: the new comments are placed in the run's own
embedding space with the run's fitted embedder (:meth:`analysis.store.runs.Run.embedder`, the same code
that placed the run's comments), and each goes to the theme whose centre it is closest to.
Its *strength* compares that closeness with how close the theme's own members are to their centre
(1.0 = as close as a typical member); a comment far from every theme is a 新しい話題の候補 (a
candidate for a topic the old run did not have) rather than being forced into a theme.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import NOISE
from ..store.runs import Run
from .overlaps import cluster_centroids, compare_groups
from .quotes import normalize_rows

__all__ = ["fit_comments", "compare_with_new", "WEAK_FIT", "GROUP_COLUMN"]

#: Below this strength a fitted comment is listed as a 新しい話題の候補.
WEAK_FIT = 0.6
#: Column naming which set a row comes from in :func:`compare_with_new`.
GROUP_COLUMN = "_set"


def _typical_closeness(run: Run, ids: np.ndarray, cents: np.ndarray) -> np.ndarray:
    """Median cosine of each theme's members to their own centre, shape (k,)."""
    emb = normalize_rows(run.embeddings)
    labels = run.assignments["cluster"].astype(int).to_numpy()
    out = np.ones(len(ids))
    for i, c in enumerate(ids):
        m = labels == c
        if m.any():
            out[i] = float(np.median(emb[m] @ cents[i]))
    return np.maximum(out, 1e-6)


def fit_comments(run: Run, comments: pd.DataFrame, weak_below: float = WEAK_FIT) -> pd.DataFrame:
    """Nearest theme of each new comment in ``run``'s space.

    Parameters
    ----------
    run : a saved run with its fitted embedder (runs made before embedders were saved cannot fit)
    comments : comment table (``comment_id``, ``text``, ``text_norm``, attributes), m rows
    weak_below : strength under which a comment is a new-topic candidate

    Returns
    -------
    DataFrame, m rows in ``comments`` order: comment_id, cluster (nearest theme; -1 when the run has
    no theme), similarity (cosine to the theme centre), strength (similarity / the theme's typical
    member similarity, capped at 1), new_topic (bool: strength < ``weak_below``).
    """
    texts = comments["text_norm"].astype(str).tolist()
    ids, cents = cluster_centroids(run.assignments, run.embeddings)
    out = pd.DataFrame({"comment_id": comments["comment_id"].astype(str).to_numpy()})
    if len(ids) == 0 or not texts:
        return out.assign(cluster=NOISE, similarity=0.0, strength=0.0, new_topic=True)
    vecs = normalize_rows(run.embedder().transform(texts))
    sims = vecs @ cents.T
    best = sims.argmax(axis=1)
    sim = sims[np.arange(len(best)), best]
    strength = np.clip(sim / _typical_closeness(run, ids, cents)[best], 0.0, 1.0)
    return out.assign(cluster=ids[best].astype(int), similarity=sim.astype(float), strength=strength.astype(float),
                      new_topic=strength < weak_below)


def compare_with_new(run: Run, comments: pd.DataFrame, name_old: str, name_new: str,
                     weak_below: float = WEAK_FIT) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Theme shares of the run's comments versus new comments fitted onto its themes.

    New-topic candidates count as 未分類 in the shares (they are not last year's themes). Returns
    (the fitted new comments, :func:`analysis.explore.overlaps.compare_groups` of ``name_old`` vs
    ``name_new``: shares, difference, Fisher exact test per theme, BH-adjusted, 参考値 flags).
    """
    fitted = fit_comments(run, comments, weak_below)
    old = pd.DataFrame({"cluster": run.assignments["cluster"].astype(int).to_numpy(), GROUP_COLUMN: name_old})
    new_clusters = np.where(fitted["new_topic"], NOISE, fitted["cluster"])
    new = pd.DataFrame({"cluster": new_clusters.astype(int), GROUP_COLUMN: name_new})
    table = pd.concat([old, new], ignore_index=True)
    return fitted, compare_groups(table, GROUP_COLUMN, name_old, name_new)
