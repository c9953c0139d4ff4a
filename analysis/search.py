"""Search a saved run by meaning, from words the user types.

A query has to land in the same space as the run's comments. Every backend here is deterministic
given the comments and the seed, so :class:`QueryEncoder` rebuilds what the run's embedder fitted
on them — the TF-IDF/LSA model of the ``sudachi`` part and the mean the dense part subtracts
("centring") — and encodes the query with it exactly as a comment was encoded. Building it loads
the dense model and encodes the comments once (the ``hybrid`` default: 2.3 s for the 108 seed
comments; the dense model encodes about 350 comments a second), so callers keep the encoder (the
dashboard caches one per run); a query then takes about 10 ms.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .config import EmbeddingConfig, config_from_dict
from .embedding import EmbeddingError, HybridEmbedder, SudachiEmbedder, get_embedder, l2_normalize
from .quotes import nearest_to
from .runs import Run

__all__ = ["QueryEncoder", "search_by_meaning"]


class QueryEncoder:
    """Encodes new texts into the embedding space of ``texts`` (a run's comments, in order).

    ``encode(run comments)`` reproduces the run's stored embeddings (tested to a cosine of 0.9999),
    so similarities to a query compare like similarities between comments.
    """

    def __init__(self, texts: Sequence[str], config: EmbeddingConfig, seed: int, embedder=None) -> None:
        texts = list(texts)
        emb = embedder or get_embedder(config, seed)
        if isinstance(emb, HybridEmbedder):
            parts, self._combine = [(emb.lexical, emb.lexical_weight), (emb.dense, emb.dense_weight)], True
        else:
            parts, self._combine = [(emb, 1.0)], False
        self._parts: list[tuple[float, object, np.ndarray | None]] = []
        for part, weight in parts:
            if isinstance(part, SudachiEmbedder):
                model, _ = part.fit(texts)
                self._parts.append((weight, model, None))
            elif hasattr(part, "raw"):
                raw = part.raw(texts)
                # ``center`` leaves a single text uncentred; do the same.
                mean = raw.mean(axis=0) if len(raw) >= 2 else np.zeros(raw.shape[1], dtype=np.float32)
                self._parts.append((weight, part, mean.astype(np.float32)))
            else:
                raise EmbeddingError(f"埋め込み方式「{getattr(emb, 'name', emb)}」では、入力した文で探すことはできません。")

    @classmethod
    def for_run(cls, run: Run, embedder=None) -> "QueryEncoder":
        cfg = config_from_dict(run.manifest["config"])
        return cls(run.comments["text_norm"].tolist(), cfg.embedding, cfg.seed, embedder)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 vectors in the run's space (rows with no signal stay zero)."""
        texts = list(texts)
        blocks = []
        for weight, part, mean in self._parts:
            if mean is None:
                v = part.transform(texts)
            else:
                v = l2_normalize(part.raw(texts) - mean)
            blocks.append(np.float32(weight) * v)
        out = np.hstack(blocks)
        return l2_normalize(out) if self._combine else out.astype(np.float32)


def search_by_meaning(
    run: Run,
    encoder: QueryEncoder,
    query: str,
    k: int = 10,
    ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The ``k`` comments (among ``ids``, default all) nearest to ``query`` by cosine.

    Returns the run's comment rows (``run.table()`` columns) plus ``similarity``, most similar
    first (ties by position); empty when the query is blank or carries nothing the model knows.
    """
    table = run.table()
    if not query or not query.strip():
        return table.iloc[0:0].assign(similarity=[])
    q = encoder.encode([query.strip()])[0]
    if not np.any(q):
        return table.iloc[0:0].assign(similarity=[])
    rows = None
    if ids is not None:
        rows = np.flatnonzero(table["comment_id"].astype(str).isin(set(map(str, ids))).to_numpy())
    hits = nearest_to(run.embeddings, q, k, rows)
    out = table.iloc[[h[0] for h in hits]].copy()
    out["similarity"] = [h[1] for h in hits]
    return out
