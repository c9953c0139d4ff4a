"""Class-based TF-IDF keywords for Japanese comment clusters.

Each cluster label becomes one "class document" (the concatenation of its comments' content
words) and terms are weighted as in BERTopic's c-TF-IDF::

    W(t, c) = tf(t, c) / |c|  *  log(1 + A / f(t))

where ``tf(t, c)`` counts term ``t`` in class ``c``, ``|c|`` is the number of words of the class,
``A`` the average number of words per class and ``f(t)`` the frequency of ``t`` over all classes.

Terms are grouped by :attr:`analysis.text.tokens.Token.key` (the normalised form, so 取り組み and 取組
count as one word) and reported in their most frequent surface form, because the normalised
form is sometimes unreadable (ゴミ屋敷 -> 塵屋敷).  The top candidates are then re-ranked with
maximal marginal relevance (MMR) so that a theme is not described by five words that always
appear together.  Term-term similarity is the cosine between term columns of the comment x term
matrix, i.e. how often two words co-occur in the same comments.

Label ``-1`` (noise, 未分類) is its own class, so words of unclustered comments do not leak into
the themes; callers may ignore its entry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import sparse

from ..text.tokens import Token, Tokenizer, default_tokenizer, surface_map

__all__ = [
    "TermMatrix",
    "term_matrix",
    "cluster_keywords",
    "label_from_keywords",
    "keywords_for_texts",
    "top_terms",
    "LABEL_SEP",
]

LABEL_SEP = "・"


def _vocabulary(token_docs: Sequence[Sequence[Token]]) -> tuple[list[str], dict[str, int]]:
    """Sorted vocabulary of token keys, so column order (and tie-breaking) never depends on input order."""
    keys = sorted({tok.key for doc in token_docs for tok in doc})
    return keys, {k: i for i, k in enumerate(keys)}


def _doc_term_matrix(token_docs: Sequence[Sequence[Token]], index: dict[str, int]) -> sparse.csr_matrix:
    """Counts, shape (n_docs, n_terms)."""
    lengths = np.fromiter((len(doc) for doc in token_docs), dtype=np.int64, count=len(token_docs))
    cols = np.fromiter((index[tok.key] for doc in token_docs for tok in doc), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(token_docs)), lengths)
    # COO -> CSR sums the repeated (doc, term) pairs into counts.
    return sparse.coo_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(token_docs), len(index))).tocsr()


@dataclass
class TermMatrix:
    """Vocabulary, display forms and the comment x term counts of one corpus, built once and shared
    by every keyword computation on it (themes, broad themes).

    keys : sorted normalised forms (column order); surfaces : key -> most frequent surface;
    dtm : (n_docs, n_terms) counts; unit_cols : the same as CSC with unit-length columns (for
    term-term cosine).
    """

    keys: list[str]
    surfaces: dict[str, str]
    dtm: sparse.csr_matrix
    unit_cols: sparse.csc_matrix


def term_matrix(token_docs: Sequence[Sequence[Token]]) -> TermMatrix:
    keys, index = _vocabulary(token_docs)
    dtm = _doc_term_matrix(token_docs, index)
    norms = np.sqrt(np.asarray(dtm.multiply(dtm).sum(axis=0)).ravel())
    unit = sparse.csc_matrix(dtm @ sparse.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)))
    return TermMatrix(keys, surface_map(token_docs), dtm, unit)


def _ctfidf(class_term: np.ndarray) -> np.ndarray:
    """c-TF-IDF weights of a dense (n_classes, n_terms) count matrix; same shape, >= 0."""
    class_sizes = class_term.sum(axis=1, keepdims=True)
    tf = np.divide(class_term, class_sizes, out=np.zeros_like(class_term), where=class_sizes > 0)
    avg_words = float(class_sizes.mean()) if class_sizes.size else 0.0
    freq = class_term.sum(axis=0)
    idf = np.log1p(np.divide(avg_words, freq, out=np.zeros_like(freq), where=freq > 0))
    return tf * idf


def _term_similarity(unit_cols: sparse.csc_matrix, cols: np.ndarray) -> np.ndarray:
    """Cosine between the given (unit-length) term columns; shape (len(cols), len(cols))."""
    sub = unit_cols[:, cols]
    return (sub.T @ sub).toarray()


def _mmr(relevance: np.ndarray, similarity: np.ndarray, k: int, diversity: float) -> list[int]:
    """Greedy maximal marginal relevance.

    Parameters
    ----------
    relevance : (n,) scores, already in the preferred order for ties (earlier wins).
    similarity : (n, n) pairwise similarity.
    k : number of items to pick.
    diversity : 0 = pure relevance, 1 = pure novelty.

    Returns
    -------
    Indices into ``relevance`` in pick order.
    """
    n = len(relevance)
    if n == 0 or k <= 0:
        return []
    picked = [int(np.argmax(relevance))]
    remaining = [i for i in range(n) if i != picked[0]]
    while remaining and len(picked) < k:
        rem = np.array(remaining)
        max_sim = similarity[np.ix_(rem, picked)].max(axis=1)
        value = (1.0 - diversity) * relevance[rem] - diversity * max_sim
        best = int(rem[int(np.argmax(value))])  # argmax: first of equals, i.e. the more relevant
        picked.append(best)
        remaining.remove(best)
    return picked


def cluster_keywords(
    token_docs: Sequence[Sequence[Token]],
    labels: np.ndarray,
    n_keywords: int = 10,
    diversity: float = 0.3,
    n_candidates: int | None = None,
    terms: TermMatrix | None = None,
) -> dict[int, list[tuple[str, float]]]:
    """c-TF-IDF keywords per cluster, diversified with MMR.

    Parameters
    ----------
    token_docs : one list of :class:`~analysis.text.tokens.Token` per comment (n_docs lists).
    labels : (n_docs,) integer cluster labels; ``-1`` means noise (未分類) and is treated as a
        class of its own.
    n_keywords : keywords per cluster.
    diversity : MMR trade-off in [0, 1]; 0 keeps the plain c-TF-IDF order.
    n_candidates : how many top c-TF-IDF terms MMR chooses from (default ``max(3 * n_keywords, 20)``).
    terms : :func:`term_matrix` of ``token_docs``, when the caller already has it.

    Returns
    -------
    ``{label: [(surface form, c-TF-IDF score), ...]}`` for every label present, keywords in MMR
    pick order. Ties are broken by the normalised form (code-point order), so the result does not
    depend on input order. A label whose comments have no content words maps to ``[]``.
    """
    labels = np.asarray(labels)
    if labels.shape != (len(token_docs),):
        raise ValueError(f"labels must have shape ({len(token_docs)},), got {labels.shape}")
    if not 0.0 <= diversity <= 1.0:
        raise ValueError("diversity must be in [0, 1]")
    classes = sorted({int(x) for x in labels})
    if not classes:
        return {}
    terms = terms if terms is not None else term_matrix(token_docs)
    keys, surfaces, dtm = terms.keys, terms.surfaces, terms.dtm
    if not keys:
        return {c: [] for c in classes}
    class_row = {c: i for i, c in enumerate(classes)}
    onehot = sparse.csr_matrix(
        (np.ones(len(labels)), ([class_row[int(x)] for x in labels], np.arange(len(labels)))),
        shape=(len(classes), len(labels)),
    )
    weights = _ctfidf((onehot @ dtm).toarray())
    n_cand = n_candidates if n_candidates is not None else max(3 * n_keywords, 20)

    out: dict[int, list[tuple[str, float]]] = {}
    for ci, label in enumerate(classes):
        row = weights[ci]
        positive = np.flatnonzero(row > 0)
        # Stable sort on -score keeps the (sorted) key order among equal scores.
        order = positive[np.argsort(-row[positive], kind="stable")][:n_cand]
        if order.size == 0:
            out[label] = []
            continue
        rel = row[order] / row[order[0]]
        sim = _term_similarity(terms.unit_cols, order)
        picks = _mmr(rel, sim, len(order), diversity)
        result: list[tuple[str, float]] = []
        seen: set[str] = set()
        for p in picks:
            surface = surfaces[keys[order[p]]]
            if surface in seen:  # two keys sharing one surface would read as a duplicate
                continue
            seen.add(surface)
            result.append((surface, float(row[order[p]])))
            if len(result) == n_keywords:
                break
        out[label] = result
    return out


def label_from_keywords(keywords: Iterable[str], n: int = 3) -> str:
    """A short theme label: the first ``n`` keywords joined with ``・`` (e.g. ``地域・民生委員・住民``)."""
    words = [w for w in keywords if w][:n]
    return LABEL_SEP.join(words)


def keywords_for_texts(
    texts: Sequence[str],
    labels: np.ndarray,
    tokenizer: Tokenizer | None = None,
    n_keywords: int = 10,
    diversity: float = 0.3,
) -> dict[int, list[tuple[str, float]]]:
    """Tokenise ``texts`` (n_docs strings) and call :func:`cluster_keywords`.

    ``tokenizer`` is any object with ``content_words(text) -> list[Token]``; by default the shared
    SudachiPy tokenizer. ``labels`` is (n_docs,), ``-1`` = noise (未分類).
    """
    tok = tokenizer if tokenizer is not None else default_tokenizer()
    docs = [tok.content_words(t) for t in texts]
    return cluster_keywords(docs, labels, n_keywords=n_keywords, diversity=diversity)


def top_terms(token_docs: Sequence[Sequence[Token]], n: int = 20) -> list[tuple[str, int]]:
    """The ``n`` most frequent terms over all documents as ``(surface, count)``.

    Counts are grouped by normalised form; ties are broken by the normalised form.
    """
    counts = Counter(tok.key for doc in token_docs for tok in doc)
    surfaces = surface_map(token_docs)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(surfaces[k], int(c)) for k, c in ranked]


class KeywordIndex:
    """Which comments contain which words (normalised forms), to count a theme's keywords.

    Built with a tokenizer without stopwords, so every saved keyword can be found again even if
    the stopword list changed after the run was made. ``comments`` needs comment_id and text.
    """

    def __init__(self, comments, tokenizer=None) -> None:
        from ..text.tokens import SudachiTokenizer

        tok = tokenizer if tokenizer is not None else SudachiTokenizer(stopwords=())
        self.keys: dict[str, frozenset[str]] = {}
        self.surface_to_key: dict[str, str] = {}
        for cid, text in zip(comments["comment_id"].astype(str), comments["text"]):
            words = tok.content_words(str(text))
            self.keys[cid] = frozenset(w.key for w in words)
            for w in words:
                self.surface_to_key.setdefault(w.surface, w.key)

    def counts(self, words: Sequence[str], ids: Iterable[str]):
        """DataFrame word, count: how many of the comments ``ids`` contain each word (any inflection)."""
        import pandas as pd

        ids = [str(i) for i in ids]
        rows = []
        for w in words:
            k = self.surface_to_key.get(w, w)
            rows.append({"word": w, "count": sum(1 for i in ids if k in self.keys.get(i, frozenset()))})
        return pd.DataFrame(rows, columns=["word", "count"])
