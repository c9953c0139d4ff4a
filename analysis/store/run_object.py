"""The :class:`Run` object (one pipeline run in memory), what names a run, and where runs live.

:class:`RunError` is what a run that cannot be used raises; :func:`make_run_id` names a run;
:func:`models_dir`, :func:`runs_dir` and :func:`cache_dir` are the folders of runs and caches, and
:func:`lock_path` the lock of a run folder. Reading and writing run folders is :mod:`analysis.store.runs`'s.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError
from ..schema import NOISE, NOISE_LABEL, attributes_of

PROJECT_DIR = Path(__file__).resolve().parents[2]  # analysis/store/run_object.py -> the project


class RunError(UserError):
    """A saved run cannot be used (missing, damaged, or a folder that is not a run); message in Japanese."""


# --------------------------------------------------------------------------- the run object


@dataclass
class Run:
    """Everything the dashboard and notebooks need from one pipeline run (no recomputation)."""

    run_id: str
    comments: pd.DataFrame
    assignments: pd.DataFrame
    clusters: pd.DataFrame
    embeddings: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    embedder_state: tuple[dict, dict] | None = None
    #: non-fatal problems found when loading (Japanese), e.g. a damaged embedder.npz
    warnings: list[str] = field(default_factory=list)
    _embedder: Any = field(default=None, repr=False)
    #: curation (analysis.store.curation): the edit log, and the computed (assignments, clusters) when the
    #: log was applied to the frames above (``save_run`` writes these and the log, never curated frames)
    edits: list[dict] = field(default_factory=list)
    base: tuple[pd.DataFrame, pd.DataFrame] | None = field(default=None, repr=False)

    @property
    def n_clusters(self) -> int:
        return int((self.clusters["cluster"] != NOISE).sum())

    @property
    def attributes(self) -> list[str]:
        """The run's attribute columns (grouping values such as 連携の分類, 年代), in display order."""
        attrs = self.manifest.get("attributes")
        if isinstance(attrs, list):
            return [a for a in attrs if a in self.comments.columns]
        return attributes_of(self.comments)

    @property
    def primary_attribute(self) -> str | None:
        """The attribute pages use first (分野横断 defaults to it): 連携の分類 for the seed."""
        p = self.manifest.get("primary_attribute")
        attrs = self.attributes
        return p if p in attrs else (attrs[0] if attrs else None)

    @property
    def dataset(self) -> dict[str, str]:
        """{"name", "description", "kind"} of the data set this run analysed."""
        info = self.manifest.get("input", {}) if isinstance(self.manifest.get("input"), dict) else {}
        return {"name": str(info.get("name") or ""), "description": str(info.get("description") or ""),
                "kind": str(info.get("kind") or "")}

    def table(self) -> pd.DataFrame:
        """Comments joined with their assignment, theme label and broad-theme label (one row per comment).

        ``_row`` is the comment's row in :attr:`embeddings`.
        """
        labels = self.clusters.set_index("cluster")["label"]
        out = self.comments.merge(self.assignments, on="comment_id", how="left")
        out["label"] = out["cluster"].map(labels).fillna(NOISE_LABEL)
        out["nearest_label"] = out["nearest_cluster"].map(labels)
        parents = self.clusters.drop_duplicates("parent").set_index("parent")["parent_label"]
        out["broad_label"] = out["broad"].map(parents).fillna(NOISE_LABEL) if "broad" in out else NOISE_LABEL
        out["_row"] = np.arange(len(out))
        return out

    def label_of(self, cluster: int) -> str:
        if cluster == NOISE:
            return NOISE_LABEL
        row = self.clusters.loc[self.clusters["cluster"] == cluster, "label"]
        return str(row.iloc[0]) if len(row) else f"テーマ{cluster}"

    def embedder(self):
        """The fitted embedder of this run (``transform`` places new texts in its space).

        Raises :class:`analysis.themes.embedding.EmbeddingError` when the run has no saved state.
        """
        if self._embedder is None:
            from ..themes.embedding import EmbeddingError, embedder_from_state

            if self.embedder_state is None:
                raise EmbeddingError(
                    "この分析結果には、入力した文を同じ基準で読み取るための情報が保存されていません"
                    "（古い形式か、ファイルが壊れています）。もう一度分析すると使えるようになります。"
                )
            self._embedder = embedder_from_state(*self.embedder_state)
        return self._embedder


# --------------------------------------------------------------------------- places


def models_dir() -> Path:
    """``models/`` of the project, or ``$MOYAMOYA_MODELS_DIR`` (tests point it at a temporary folder)."""
    return Path(os.environ.get("MOYAMOYA_MODELS_DIR", PROJECT_DIR / "models"))


def runs_dir(base: str | Path | None = None) -> Path:
    """Folder holding saved runs: ``base`` if given, else ``models_dir()/runs``."""
    return Path(base) if base is not None else models_dir() / "runs"


def cache_dir() -> Path:
    """Embedding and UMAP caches: ``models_dir()/cache``."""
    return models_dir() / "cache"


def lock_path(folder: Path) -> Path:
    """The lock of a run folder lives beside it (it must survive the folder being replaced)."""
    return folder.parent / ".locks" / f"{folder.name}.lock"


def run_fingerprint(config_json: str, data_digest: str) -> str:
    """8 hex digits naming a config + the comment data: the last part of a run id."""
    return hashlib.sha256(f"{config_json}\n{data_digest}".encode()).hexdigest()[:8]


def make_run_id(config_json: str, data_digest: str, when: _dt.datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-<8 hex>``: sortable by time, and the hex part names config + data."""
    when = when or _dt.datetime.now()
    return f"{when:%Y%m%d-%H%M%S}-{run_fingerprint(config_json, data_digest)}"
