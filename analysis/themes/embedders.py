"""Embedders: the protocol every backend follows, their shared base, and the lexical (LSA) backend.

An embedder is *fitted* on the comments of a run (``fit(texts)`` returns the embedder, its learned state
in attributes ending in ``_``) and then places any text in that run's space with ``transform(texts)``.
Every ``transform`` result is float32 (n_texts, d) with L2-normalised rows (rows with no signal stay zero).
Dense sentence models are in :mod:`analysis.themes.dense`; choosing a backend by name, the hybrid,
saved state and the cache are :mod:`analysis.themes.embedding`'s.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import CorpusError

__all__ = ["EmbeddingError", "State", "Embedder", "EmbedderBase", "l2_normalize", "SudachiEmbedder", "Stateless",
           "as_embedder", "DENSE_MAX_CHARS"]

#: Dense models see at most this many characters of a comment (the whole text is kept, shown and
#: used by the lexical part; the pipeline reports how many comments were cut).
DENSE_MAX_CHARS = 2000


class EmbeddingError(CorpusError):
    """A backend cannot be used here; the message (Japanese) says why and what to use instead."""


State = tuple[dict[str, Any], dict[str, np.ndarray]]
"""(JSON-able metadata, named arrays): what ``transform`` needs after ``fit``."""


@runtime_checkable
class Embedder(Protocol):
    """Anything that is fitted on texts and then turns texts into vectors.

    ``name`` is the backend, ``version`` names the model and its settings for cache keys.
    """

    name: str
    version: str

    def fit(self, texts: Sequence[str]) -> "Embedder":
        """Learn what ``transform`` needs from ``texts``; returns ``self``."""
        ...

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (len(texts), d), L2-normalised rows, in the space learned by ``fit``."""
        ...




def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation; all-zero rows stay zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class EmbedderBase:
    """Shared ``fit_transform`` and the fitted check."""

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        return self.fit(texts).transform(texts)

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(texts) first")



# --------------------------------------------------------------------------- lexical: LSA


class SudachiEmbedder(EmbedderBase):
    """LSA over SudachiPy content words.

    Texts with no content word fall back to their character bigrams so no row is all zero.
    Fitted attributes: ``vocabulary_`` (sorted term keys), ``idf_`` (float64, (V,)),
    ``components_`` (float32, (k, V)) or None for tiny corpora (then the TF-IDF itself is the vector).
    """

    name = "sudachi"

    def __init__(self, svd_dims: int = 100, seed: int = 0, tokenizer=None) -> None:
        self.svd_dims = svd_dims
        self.seed = seed
        self.tokenizer = tokenizer
        # The words depend on the tokenizer's stopwords and term list: a changed list is a new model.
        tok = tokenizer
        if tok is None:
            from ..text.tokens import default_tokenizer

            tok = default_tokenizer()
        self.version = f"sudachi-lsa-{svd_dims}-{seed}-{getattr(tok, 'fingerprint', 'custom')}"

    @staticmethod
    def _words(tokens, text: str) -> list[str]:
        words = [t.key for t in tokens]
        if words:
            return words
        chars = [c for c in text if not c.isspace()]
        return ["".join(p) for p in zip(chars, chars[1:])] or chars or ["<empty>"]

    def _analyzed(self, texts: list[str]) -> list[list[str]]:
        from ..text.tokens import default_tokenizer, tokenize_all

        docs = tokenize_all(self.tokenizer or default_tokenizer(), texts)
        return [self._words(doc, text) for doc, text in zip(docs, texts)]

    def _tfidf(self, docs: list[list[str]]):
        """Sublinear tf × smooth idf, L2-normalised rows (what scikit-learn's TfidfVectorizer computes)."""
        from scipy import sparse

        index = self._index
        rows, cols, vals = [], [], []
        for i, words in enumerate(docs):
            counts = Counter(index[w] for w in words if w in index)
            for j, c in sorted(counts.items()):
                rows.append(i)
                cols.append(j)
                vals.append((1.0 + math.log(c)) * self.idf_[j])
        m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(self.vocabulary_)), dtype=np.float64)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        return sparse.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ m

    def fit(self, texts: Sequence[str]) -> "SudachiEmbedder":
        texts = list(texts)
        docs = self._analyzed(texts)
        self.vocabulary_ = sorted({w for d in docs for w in d})
        self._index = {w: i for i, w in enumerate(self.vocabulary_)}
        df = np.zeros(len(self.vocabulary_))
        for d in docs:
            for w in set(d):
                df[self._index[w]] += 1
        n = len(docs)
        self.idf_ = np.log((1.0 + n) / (1.0 + df)) + 1.0
        tfidf = self._tfidf(docs)
        k = min(self.svd_dims, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
        self.components_ = None
        if k >= 2:
            from sklearn.decomposition import TruncatedSVD

            svd = TruncatedSVD(n_components=k, random_state=self.seed, algorithm="randomized", n_iter=7)
            svd.fit(tfidf)
            self.components_ = np.ascontiguousarray(svd.components_, dtype=np.float64)
        self.fitted_ = True
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tfidf = self._tfidf(self._analyzed(texts))
        # Each row is computed on its own (sparse row times a fixed matrix), so a text's vector
        # does not depend on which other texts are transformed with it.
        dense = tfidf @ self.components_.T if self.components_ is not None else tfidf.toarray()
        return l2_normalize(np.asarray(dense))

    @property
    def dim(self) -> int:
        return len(self.components_) if self.components_ is not None else len(self.vocabulary_)

    def get_state(self) -> State:
        self._check_fitted()
        arrays = {"vocabulary": np.array(self.vocabulary_, dtype=str), "idf": self.idf_}
        if self.components_ is not None:
            arrays["components"] = self.components_
        return {"backend": "sudachi", "svd_dims": self.svd_dims, "seed": self.seed}, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "SudachiEmbedder":
        self = cls(int(meta.get("svd_dims", 100)), int(meta.get("seed", 0)))
        self.vocabulary_ = [str(w) for w in arrays["vocabulary"]]
        self._index = {w: i for i, w in enumerate(self.vocabulary_)}
        self.idf_ = np.asarray(arrays["idf"], dtype=np.float64)
        comp = arrays.get("components")
        self.components_ = None if comp is None else np.asarray(comp, dtype=np.float64)
        self.fitted_ = True
        return self



class Stateless(EmbedderBase):
    """Adapter for an object with only ``encode(texts)`` (a fixed model, e.g. a test stand-in)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self.version = getattr(inner, "version", self.name)

    def fit(self, texts: Sequence[str]) -> "Stateless":
        self.fitted_ = True
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.inner.encode(list(texts)), dtype=np.float32)

    def get_state(self) -> State:
        return {"backend": self.name, "stateless": True}, {}


def as_embedder(obj) -> Embedder:
    """``obj`` itself if it has ``fit``/``transform``; an adapter if it only has ``encode``."""
    if hasattr(obj, "fit") and hasattr(obj, "transform"):
        return obj
    if hasattr(obj, "encode"):
        return Stateless(obj)
    raise TypeError(f"not an embedder: {obj!r}")
