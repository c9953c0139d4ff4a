"""Describe themes: keywords, names, one-line summaries and the clusters table.

Everything a person reads about a theme is made here from the theme's own comments: c-TF-IDF
keywords (:mod:`analysis.themes.keywords`), a name made of phrases its comments share that says what goes
wrong (:mod:`analysis.themes.naming`: 「相談者：たらい回し」, 「支援方針が決まらない」), a one-line summary
quoted verbatim from its most central clause (:mod:`analysis.themes.summaries`), and the broad themes'
names. The pipeline calls :func:`describe_clusters` once per run.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..config import DescribeConfig
from ..schema import CLUSTER_COLUMNS, NOISE
from ..text.tokens import Token
from . import keywords
from .clustering import ClusterResult

__all__ = ["describe_clusters", "theme_label"]


def theme_label(words: Sequence[str], nouns: set[str], n: int) -> str:
    """A short name from keywords: nouns first (世帯・ゴミ屋敷 reads better than 抱える・世帯)."""
    ranked = [w for w in words if w in nouns] + [w for w in words if w not in nouns]
    return keywords.label_from_keywords(ranked, n)


#: Up to this many comments the run's own embedder (dense model included) places name and summary
#: candidates; above it its lexical part does (the dense model would cost seconds per thousand).
FULL_SPACE_NAMING_MAX = 500
DESCRIBE_COLUMNS = list(CLUSTER_COLUMNS) + ["summary", "summary_id", "name_evidence"]


def naming_space(embedder, texts: Sequence[str], vectors: np.ndarray):
    """(member vectors, encode) for naming: the run's own space, or its lexical part on large runs."""
    if embedder is None or not hasattr(embedder, "transform"):
        return vectors, None
    lexical = getattr(embedder, "lexical", None)
    if len(texts) > FULL_SPACE_NAMING_MAX and lexical is not None and hasattr(lexical, "transform"):
        return lexical.transform(list(texts)), lexical.transform
    if len(texts) > FULL_SPACE_NAMING_MAX:
        return vectors, None
    return vectors, embedder.transform


def describe_clusters(
    comments: pd.DataFrame,
    token_docs: Sequence[Sequence[Token]],
    result: ClusterResult,
    parents: np.ndarray,
    config: DescribeConfig,
    attribute: str | None = None,
    vectors: np.ndarray | None = None,
    embedder=None,
    tokenizer=None,
) -> pd.DataFrame:
    """The clusters table (:data:`DESCRIBE_COLUMNS`), one row per theme 0..k-1.

    Parameters
    ----------
    comments : comment table, n rows (``token_docs`` and ``result`` follow its rows)
    token_docs : content words per comment
    result : HDBSCAN result; label -1 = 未分類 (gets no row)
    parents : int (k,), broad theme of each theme
    config : keyword / label settings
    attribute : the attribute whose distinct values ``n_categories`` counts (the run's primary one)
    vectors : float (n, d) the run's embeddings; with ``embedder`` (fitted) names and summaries are
        chosen by closeness in the run's own space (see :func:`naming_space`)
    tokenizer : SudachiPy tokenizer for phrases (default: the shared one)

    ``label`` / ``auto_label`` is the phrase name (テーマN when no phrase qualifies), ``keywords``
    stay underneath; ``summary`` is a clause quoted verbatim from comment ``summary_id``.
    """
    from .naming import name_themes
    from .summaries import summarize_themes

    terms = keywords.term_matrix(token_docs)
    kw = keywords.cluster_keywords(token_docs, result.labels, n_keywords=config.n_keywords,
                                   diversity=config.mmr_diversity, terms=terms)
    member_parent = np.array([parents[c] if c >= 0 else NOISE for c in result.labels], dtype=int)
    broad_kw = keywords.cluster_keywords(token_docs, member_parent, n_keywords=config.n_keywords,
                                         diversity=config.mmr_diversity, terms=terms)
    texts = comments["text"].astype(str).tolist()
    words_of = {c: [w for w, _ in kw.get(c, [])] for c in range(result.n_clusters)}
    names, summaries, broad_names = {}, {}, {}
    if result.n_clusters:
        space, encode = naming_space(embedder, texts, vectors if vectors is not None else np.zeros((len(texts), 1)))
        space = np.asarray(space, dtype=np.float32)
        names = name_themes(texts, result.labels, space, words_of, tokenizer=tokenizer, encode=encode)
        summaries = summarize_themes(texts, result.labels, space, tokenizer=tokenizer, encode=encode,
                                     names=names)
        broad_words = {p: [w for w, _ in broad_kw.get(p, [])] for p in set(int(x) for x in parents)}
        broad_names = name_themes(texts, member_parent, space, broad_words, tokenizer=tokenizer, encode=encode,
                                  avoid=[n.name for n in names.values() if n.name])
    ids = comments["comment_id"].astype(str).tolist()
    rows = []
    for c in range(result.n_clusters):
        words = words_of[c]
        nm = names.get(c)
        # A fallback name rests on single comments: such a name never wins, so the theme keeps its
        # number; but a bare テーマN says nothing, so what its comments say follows in brackets
        # (テーマ7（担当以外に消極的 など）), from the fallback name or else the keywords.
        label = nm.name if nm is not None and nm.name and not nm.fallback else _numbered(c, nm, words)
        members = result.labels == c
        p = int(parents[c])
        bn = broad_names.get(p)
        parent_label = (bn.name if bn is not None and bn.name and not bn.fallback else "") or f"大きなテーマ{p + 1}"
        reached = int(comments.loc[members, attribute].nunique()) if attribute in comments.columns else 0
        sm = summaries.get(c)
        rows.append({
            "cluster": c,
            "label": label,
            "auto_label": label,
            "keywords": words,
            "size": int(members.sum()),
            "parent": p,
            "parent_label": parent_label,
            "n_categories": reached,
            "persistence": round(float(result.persistence[c]), 4) if c < len(result.persistence) else 0.0,
            "summary": sm.text if sm is not None else "",
            "summary_id": ids[sm.row] if sm is not None else "",
            "name_evidence": " ／ ".join(nm.evidence) if nm is not None and not nm.fallback else "",
        })
    return pd.DataFrame(rows, columns=DESCRIBE_COLUMNS)


#: Longest hint after a theme number (テーマ7（… など）).
HINT_MAX_CHARS = 14


def _numbered(c: int, nm, words) -> str:
    """テーマN with a hint of what its comments say: the name from single comments, else two keywords."""
    hint = nm.name if nm is not None and nm.name else "・".join(list(words)[:2])
    hint = hint[:HINT_MAX_CHARS]
    return f"テーマ{c + 1}（{hint} など）" if hint else f"テーマ{c + 1}"
