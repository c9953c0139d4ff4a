"""Where a theme's centre is, and how close a text is to it.

Naming and summaries compare short texts (phrases, clauses) with the centre of a theme. In the
run's own embedding space this needs an ``encode`` function that puts new texts in that space;
without one, a lexical centre stands in: the members' idf-weighted content-word vectors, each
member weighted by its closeness to the centre in the embedding space (so core members count more).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["Encode", "NOISE", "check_inputs", "centre", "member_weights", "idf_weights", "lexical_centre", "lexical_cos", "encode_cos"]

from ..schema import NOISE  # noqa: E402  (the one definition: analysis.schema)

Encode = Callable[[list[str]], np.ndarray]


def check_inputs(texts: Sequence[str], labels: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``labels`` as (n,) int and ``embeddings`` as (n, d), or ``ValueError``."""
    labels = np.asarray(labels).astype(int)
    embeddings = np.asarray(embeddings)
    if labels.shape != (len(texts),):
        raise ValueError(f"labels must have shape ({len(texts)},), got {labels.shape}")
    if embeddings.ndim != 2 or embeddings.shape[0] != len(texts):
        raise ValueError(f"embeddings must have shape ({len(texts)}, d), got {embeddings.shape}")
    return labels, embeddings


def centre(embeddings: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Unit mean of ``embeddings[rows]`` (embeddings (n, d), rows (m,) ints): shape (d,), float64."""
    c = embeddings[rows].astype(np.float64).mean(axis=0)
    norm = np.linalg.norm(c)
    return c / norm if norm > 0 else c


def member_weights(embeddings: np.ndarray, rows: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Closeness of each member to the centre, floored at 0.05 and scaled to mean 1: (len(rows),)."""
    w = np.clip(embeddings[rows].astype(np.float64) @ centre, 0.05, None)
    return w / w.mean()


def idf_weights(word_sets: Sequence[frozenset[str]]) -> dict[str, float]:
    """Smoothed idf of every word over the documents' word sets."""
    df = Counter(w for ws in word_sets for w in ws)
    n = len(word_sets)
    return {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}


def lexical_centre(word_sets: Sequence[frozenset[str]], rows: np.ndarray, weights: np.ndarray, idf: Mapping[str, float]) -> dict[str, float]:
    """Weighted mean of the members' unit idf vectors, unit length: ``{word: weight}``."""
    acc: dict[str, float] = {}
    for r, w in zip(rows.tolist(), weights.tolist()):
        ws = word_sets[r]
        if not ws:
            continue
        norm = math.sqrt(sum(idf[x] ** 2 for x in ws))
        for x in sorted(ws):  # fixed order: float sums do not depend on set iteration order
            acc[x] = acc.get(x, 0.0) + w * idf[x] / norm
    norm = math.sqrt(sum(v * v for v in acc.values()))
    return {k: v / norm for k, v in acc.items()} if norm > 0 else acc


def lexical_cos(words: Iterable[str], centre: Mapping[str, float], idf: Mapping[str, float]) -> float:
    """Cosine between the idf vector of ``words`` and a :func:`lexical_centre`."""
    ws = sorted(set(words))
    if not ws:
        return 0.0
    vals = [idf.get(w, 1.0) for w in ws]
    norm = math.sqrt(sum(v * v for v in vals))
    return sum(v * centre.get(w, 0.0) for w, v in zip(ws, vals)) / norm


def encode_cos(encode: Encode, texts: list[str], centres: list[np.ndarray]) -> list[float]:
    """Cosine of each text with its centre; ``encode`` is called once, on the unique texts sorted."""
    uniq = sorted(set(texts))
    if not uniq:
        return []
    vecs = np.asarray(encode(uniq), dtype=np.float64)
    at = {t: i for i, t in enumerate(uniq)}
    return [float(vecs[at[t]] @ c) for t, c in zip(texts, centres)]
