"""Shared fixtures.

The whole suite runs against a temporary ``models/`` folder (``MOYAMOYA_MODELS_DIR``), so a
developer's own saved runs are never touched and every test session starts from nothing.
"""

from __future__ import annotations

import analysis  # noqa: F401  first: pins the numeric libraries before numpy loads (analysis/themes/numerics.py)
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_SESSION_MODELS = Path(tempfile.mkdtemp(prefix="moyamoya-test-models-"))
os.environ["MOYAMOYA_MODELS_DIR"] = str(_SESSION_MODELS)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: needs the real embedding model or UMAP's JIT (a few seconds)")
    config.addinivalue_line("markers", "browser: drives a real headless chromium against streamlit run")
    config.addinivalue_line("markers", "numeric: results depend on floating point (UMAP, BLAS, models); "
                                       "`make test` runs these again with numba compiled for another CPU target")


#: Test modules whose results go through UMAP, BLAS or a model: run on a second CPU target too.
NUMERIC_MODULES = {"test_stability", "test_layout", "test_reproducibility", "test_clustering", "test_tuning", "test_pipeline", "test_search",
                   "test_compare", "test_embedding", "test_curation", "test_naming"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in NUMERIC_MODULES:
            item.add_marker(pytest.mark.numeric)


class FakeEmbedder:
    """Deterministic stand-in for a sentence model: character-bigram counts hashed into 64 dims.

    Texts sharing many character bigrams get similar vectors, which is enough for unit tests of
    everything downstream of the embedding. ``calls`` counts encode() calls (cache tests).
    """

    name = "fake"
    version = "fake-1"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for a, b in zip(t, t[1:]):
                h = int.from_bytes(hashlib.sha256((a + b).encode()).digest()[:4], "little")
                out[i, h % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


def char_embeddings(texts) -> np.ndarray:
    """Character 2-3-gram TF-IDF vectors, L2-normalised: a model-free stand-in that still puts
    comments sharing phrases (たらい回し, 個人情報) close together. float32 (len(texts), n_ngrams)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    x = TfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit_transform(list(texts))
    return normalize(x).toarray().astype(np.float32)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="module")
def seed() -> pd.DataFrame:
    """The seed comments, one copy per test module."""
    from analysis.ingest.seed import load_seed

    return load_seed()


@pytest.fixture(scope="module")
def emb(seed) -> np.ndarray:
    """Model-free stand-in embeddings of the seed (:func:`char_embeddings`)."""
    return char_embeddings(seed["text_norm"])


@pytest.fixture(scope="session")
def seed_comments() -> pd.DataFrame:
    from analysis.ingest.seed import load_seed

    return load_seed()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The session's temporary models folder (also in $MOYAMOYA_MODELS_DIR)."""
    return _SESSION_MODELS


@pytest.fixture(scope="session")
def seed_run(models_dir):
    """The default run on the seed with the real default backend, built once per test session."""
    from analysis.pipeline import ensure_default_run

    return ensure_default_run()


# --------------------------------------------------------------------------- dashboard tests


@pytest.fixture
def clear_streamlit_caches():
    """Streamlit's caches are process-global: start and end a dashboard test with empty ones."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def models(tmp_path, monkeypatch, seed_run, clear_streamlit_caches) -> Path:
    """A private models folder with a copy of the seed run (and the embedding cache), so runs
    created, renamed or deleted by a dashboard test never leak into other tests."""
    import shutil

    d = tmp_path / "models"
    (d / "runs").mkdir(parents=True)
    shutil.copytree(seed_run.path, d / "runs" / seed_run.path.name)
    cache = Path(seed_run.path).parent.parent / "cache"
    if cache.exists():
        shutil.copytree(cache, d / "cache", ignore=shutil.ignore_patterns("locks"))
    monkeypatch.setenv("MOYAMOYA_MODELS_DIR", str(d))
    return d
