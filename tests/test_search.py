"""Search by meaning from typed words (analysis.search) on the real default run of the seed."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.config import EmbeddingConfig
from analysis.embedding import SudachiEmbedder
from analysis.search import QueryEncoder, search_by_meaning


@pytest.fixture(scope="module")
def encoder(seed_run):
    return QueryEncoder.for_run(seed_run)


def test_encoder_reproduces_the_runs_own_embeddings(seed_run, encoder):
    v = encoder.encode(seed_run.comments["text_norm"].tolist())
    e = seed_run.embeddings
    cos = (v * e).sum(axis=1) / np.linalg.norm(v, axis=1) / np.linalg.norm(e, axis=1)
    assert v.shape == e.shape and cos.min() > 0.9999


def test_a_comments_own_words_find_it_first(seed_run, encoder):
    row = seed_run.comments.iloc[41]
    hits = search_by_meaning(seed_run, encoder, row["text"], k=3)
    assert hits["comment_id"].iloc[0] == row["comment_id"] and hits["similarity"].iloc[0] > 0.99
    assert list(hits["similarity"]) == sorted(hits["similarity"], reverse=True)
    assert {"comment_id", "text", "category", "cluster"} <= set(hits.columns)


def test_search_finds_related_comments_and_respects_filters(seed_run, encoder):
    hits = search_by_meaning(seed_run, encoder, "個人情報をどこまで共有してよいか分からない", k=3)
    assert hits["text"].str.contains("個人情報").sum() >= 2
    only = seed_run.comments.loc[seed_run.comments["category"] == "行政×行政", "comment_id"].astype(str).tolist()
    limited = search_by_meaning(seed_run, encoder, "個人情報", k=50, ids=only)
    assert 0 < len(limited) <= len(only) and set(limited["comment_id"].astype(str)) <= set(only)
    assert search_by_meaning(seed_run, encoder, "   ", k=5).empty


def test_lexical_backend_places_queries_like_its_corpus(seed_comments):
    texts = seed_comments["text_norm"].tolist()
    enc = QueryEncoder(texts, EmbeddingConfig(backend="sudachi"), seed=42)
    stored = SudachiEmbedder(seed=42).encode(texts)
    assert np.allclose(enc.encode(texts[:10]), stored[:10], atol=1e-5)
    # Nothing the vocabulary knows: a zero vector, so no search hit rather than a random one.
    assert not enc.encode(["ｘｙｚｚｙ"]).any()
