"""Search a saved run by meaning, from words the user types.

A query has to land in the same space as the run's comments: the run keeps its fitted embedder
(:meth:`analysis.store.runs.Run.embedder`), and ``transform`` places the query exactly as it placed the
comments (the same code path, see :mod:`analysis.themes.embedding`). The first call for a run loads the
dense model (the ``hybrid`` default: about 1 s); a query then takes about 10 ms.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..store.runs import Run
from .quotes import nearest_to

__all__ = ["search_by_meaning", "encode_texts", "MAX_QUERY_CHARS"]

#: Typed queries are cut here (a paragraph is plenty; the tokenizer refuses ~49 KB inputs).
MAX_QUERY_CHARS = 1000


def encode_texts(run: Run, texts: Sequence[str]) -> np.ndarray:
    """Vectors of new ``texts`` in ``run``'s embedding space, float32 (len(texts), d)."""
    from ..schema import normalize_text

    return run.embedder().transform([normalize_text(t)[:MAX_QUERY_CHARS] for t in texts])


def search_by_meaning(run: Run, query: str, k: int = 10, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``k`` comments (among ``ids``, default all) nearest to ``query`` by cosine.

    Returns the run's comment rows (``run.table()`` columns) plus ``similarity``, most similar
    first (ties by position); empty when the query is blank or carries nothing the model knows.
    """
    table = run.table()
    if not query or not query.strip():
        return table.iloc[0:0].assign(similarity=[])
    q = encode_texts(run, [query.strip()])[0]
    if not np.any(q):
        return table.iloc[0:0].assign(similarity=[])
    rows = None
    if ids is not None:
        rows = np.flatnonzero(table["comment_id"].astype(str).isin(set(map(str, ids))).to_numpy())
    hits = nearest_to(run.embeddings, q, k, rows)
    out = table.iloc[[h[0] for h in hits]].copy()
    out["similarity"] = [h[1] for h in hits]
    return out
