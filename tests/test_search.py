"""Search by meaning from typed words (analysis.explore.search) on the real default run of the seed."""

from __future__ import annotations

import numpy as np

from analysis.explore.search import encode_texts, search_by_meaning
from analysis.schema import SEED_CATEGORY


def test_queries_are_encoded_exactly_like_the_runs_comments(seed_run):
    texts = seed_run.comments["text_norm"].tolist()
    assert np.array_equal(encode_texts(seed_run, texts), seed_run.embeddings)
    assert np.array_equal(encode_texts(seed_run, [texts[41]])[0], seed_run.embeddings[41])


def test_a_comments_own_words_find_it_first(seed_run):
    row = seed_run.comments.iloc[41]
    hits = search_by_meaning(seed_run, row["text"], k=3)
    assert hits["comment_id"].iloc[0] == row["comment_id"] and hits["similarity"].iloc[0] > 0.99
    assert list(hits["similarity"]) == sorted(hits["similarity"], reverse=True)
    assert {"comment_id", "text", SEED_CATEGORY, "cluster"} <= set(hits.columns)


def test_search_finds_related_comments_and_respects_filters(seed_run):
    hits = search_by_meaning(seed_run, "個人情報をどこまで共有してよいか分からない", k=3)
    assert hits["text"].str.contains("個人情報").sum() >= 2
    only = seed_run.comments.loc[seed_run.comments[SEED_CATEGORY] == "行政×行政", "comment_id"].astype(str).tolist()
    limited = search_by_meaning(seed_run, "個人情報", k=50, ids=only)
    assert 0 < len(limited) <= len(only) and set(limited["comment_id"].astype(str)) <= set(only)
    assert search_by_meaning(seed_run, "   ", k=5).empty


def test_very_long_query_is_cut_not_an_error(seed_run):
    hits = search_by_meaning(seed_run, "たらい回し。" * 20000, k=3)
    assert len(hits) == 3
