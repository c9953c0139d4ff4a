"""Describe themes: keywords, names and the clusters table.

Everything a person reads about a theme is made here from the theme's own comments: c-TF-IDF
keywords (:mod:`analysis.keywords`), the theme's name (built from its keywords, nouns first) and
the broad themes' names. The pipeline calls :func:`describe_clusters` once per run.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import keywords
from .clustering import ClusterResult
from .config import DescribeConfig
from .schema import CLUSTER_COLUMNS, NOISE
from .tokens import Token

__all__ = ["describe_clusters", "theme_label"]


def theme_label(words: Sequence[str], nouns: set[str], n: int) -> str:
    """A short name from keywords: nouns first (世帯・ゴミ屋敷 reads better than 抱える・世帯)."""
    ranked = [w for w in words if w in nouns] + [w for w in words if w not in nouns]
    return keywords.label_from_keywords(ranked, n)


def describe_clusters(
    comments: pd.DataFrame,
    token_docs: Sequence[Sequence[Token]],
    result: ClusterResult,
    parents: np.ndarray,
    config: DescribeConfig,
    attribute: str | None = None,
) -> pd.DataFrame:
    """The clusters table (:data:`analysis.schema.CLUSTER_COLUMNS`), one row per theme 0..k-1.

    Parameters
    ----------
    comments : comment table, n rows (``token_docs`` and ``result`` follow its rows)
    token_docs : content words per comment
    result : HDBSCAN result; label -1 = 未分類 (gets no row)
    parents : int (k,), broad theme of each theme
    config : keyword / label settings
    attribute : the attribute whose distinct values ``n_categories`` counts (the run's primary one)
    """
    terms = keywords.term_matrix(token_docs)
    kw = keywords.cluster_keywords(token_docs, result.labels, n_keywords=config.n_keywords,
                                   diversity=config.mmr_diversity, terms=terms)
    nouns = {t.surface for doc in token_docs for t in doc if t.pos == "名詞"}
    member_parent = np.array([parents[c] if c >= 0 else NOISE for c in result.labels], dtype=int)
    broad_kw = keywords.cluster_keywords(token_docs, member_parent, n_keywords=config.n_keywords,
                                         diversity=config.mmr_diversity, terms=terms)
    rows = []
    for c in range(result.n_clusters):
        words = [w for w, _ in kw.get(c, [])]
        label = theme_label(words, nouns, config.label_keywords) or f"テーマ{c + 1}"
        members = result.labels == c
        p = int(parents[c])
        reached = int(comments.loc[members, attribute].nunique()) if attribute in comments.columns else 0
        rows.append({
            "cluster": c,
            "label": label,
            "auto_label": label,
            "keywords": words,
            "size": int(members.sum()),
            "parent": p,
            "parent_label": theme_label([w for w, _ in broad_kw.get(p, [])], nouns, config.label_keywords) or f"大テーマ{p + 1}",
            "n_categories": reached,
            "persistence": round(float(result.persistence[c]), 4) if c < len(result.persistence) else 0.0,
        })
    return pd.DataFrame(rows, columns=list(CLUSTER_COLUMNS))
