"""Seed stability: are the themes a property of the comments or an accident of one random seed?

A config is rerun with several UMAP seeds and the resulting clusterings are compared. The embedding
is computed once, with the config's own seed: UMAP's stochastic layout is where runs differ (HDBSCAN
is deterministic, and the only random step of the embeddings, the LSA's randomized SVD with 7 power
iterations, is effectively deterministic), while re-encoding with a sentence model for every seed
would multiply the cost by the number of seeds. Measures:

* **pairwise ARI** (adjusted Rand index) between every two seeds, 1.0 = identical partitions;
* **per-cluster stability** of a reference clustering: for each of its clusters, the share of its
  member pairs that are again in one (non-noise) cluster under each other seed, averaged over the
  other seeds (0-1; 1 = the theme comes back whole every time).

Noise (label -1, 未分類) needs a decision because ARI knows nothing about it. The default,
``noise="singleton"``, treats every noise comment as a cluster of its own: two noise comments are
*not* "together", so a theme dissolving into noise lowers the score, while two runs that both leave
the same comments unassigned still agree perfectly. ``noise="label"`` treats noise as one more
cluster (lenient: agreeing on "no theme" counts as agreeing on a theme); ``noise="drop"`` scores only
the comments assigned to a cluster in both runs (ignores noise entirely; can look too good).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import progress
from ..config import PipelineConfig, config_from_dict
from ..schema import NOISE

NoiseMode = Literal["singleton", "label", "drop"]


# --------------------------------------------------------------------------- scores


def _prepare(a: np.ndarray, b: np.ndarray, noise: NoiseMode) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.shape != b.shape:
        raise ValueError(f"label arrays differ in length: {a.shape} vs {b.shape}")
    if noise == "label":
        return a, b
    if noise == "drop":
        keep = (a != NOISE) & (b != NOISE)
        return a[keep], b[keep]
    if noise == "singleton":
        # Give every noise point its own id, above any real cluster id.
        def single(x: np.ndarray) -> np.ndarray:
            out = x.copy()
            m = out == NOISE
            out[m] = (out.max(initial=0) + 1) + np.arange(int(m.sum()))
            return out

        return single(a), single(b)
    raise ValueError(f"noise must be 'singleton', 'label' or 'drop', not {noise!r}")


def adjusted_rand(a: np.ndarray, b: np.ndarray, noise: NoiseMode = "singleton") -> float:
    """Adjusted Rand index between two labelings of the same n items (-1 = noise, see module doc).

    Returns a float <= 1.0 (1.0: identical partitions; about 0: chance agreement). With
    ``noise="drop"`` and fewer than two commonly assigned items, returns NaN.
    """
    from sklearn.metrics import adjusted_rand_score

    x, y = _prepare(a, b, noise)
    if len(x) < 2:
        return float("nan") if noise == "drop" else 1.0
    return float(adjusted_rand_score(x, y))


def pairwise_ari(labels: Mapping[object, np.ndarray], noise: NoiseMode = "singleton") -> pd.DataFrame:
    """Symmetric (k, k) DataFrame of :func:`adjusted_rand` between every two labelings (diagonal 1.0)."""
    keys = list(labels)
    out = pd.DataFrame(np.eye(len(keys)), index=keys, columns=keys)
    for i, j in itertools.combinations(range(len(keys)), 2):
        v = adjusted_rand(labels[keys[i]], labels[keys[j]], noise)
        out.iloc[i, j] = out.iloc[j, i] = v
    return out


def mean_offdiagonal(matrix: pd.DataFrame) -> float | None:
    """Mean of the off-diagonal entries of a square matrix (None when there are none)."""
    m = matrix.to_numpy(dtype=float)
    if len(m) < 2:
        return None
    vals = m[~np.eye(len(m), dtype=bool)]
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if len(vals) else None


def cluster_stability(reference: np.ndarray, others: Sequence[np.ndarray]) -> pd.DataFrame:
    """How often each reference cluster's member pairs stay together in the other labelings.

    Parameters
    ----------
    reference : int (n,), -1 = noise
    others : labelings int (n,) of the same items

    Returns
    -------
    DataFrame with one row per reference cluster (ascending id, noise excluded):
    ``cluster``, ``size``, ``stability`` (mean over ``others`` of the share of member pairs that
    share one non-noise cluster, 0-1; NaN when ``others`` is empty), ``to_noise`` (mean share of
    members that became noise).
    """
    ref = np.asarray(reference, dtype=np.int64)
    rows = []
    for c in sorted(set(ref.tolist()) - {NOISE}):
        members = np.flatnonzero(ref == c)
        m = len(members)
        together, noise_share = [], []
        for other in others:
            lab = np.asarray(other, dtype=np.int64)[members]
            noise_share.append(float((lab == NOISE).mean()))
            if m < 2:
                together.append(1.0 if lab[0] != NOISE else 0.0)
                continue
            _, counts = np.unique(lab[lab != NOISE], return_counts=True)
            together.append(float((counts * (counts - 1) / 2).sum() / (m * (m - 1) / 2)))
        rows.append(
            {
                "cluster": int(c),
                "size": m,
                "stability": float(np.mean(together)) if together else float("nan"),
                "to_noise": float(np.mean(noise_share)) if noise_share else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["cluster", "size", "stability", "to_noise"])


# --------------------------------------------------------------------------- reruns


def labels_for_vectors(
    vectors: np.ndarray,
    config: PipelineConfig,
    seeds: Sequence[int],
    embedding_key: str | None = None,
    cache_dir: str | Path | None = None,
) -> dict[int, np.ndarray]:
    """Cluster labels int (n,) of the embedded comments ``vectors`` (n, d) for each UMAP seed.

    Each seed runs both UMAP reductions (as the pipeline does, so the cache serves a later full
    run with that seed) and HDBSCAN. ``embedding_key`` + ``cache_dir`` enable the UMAP cache.
    """
    from ..themes import clustering, reduce

    out: dict[int, np.ndarray] = {}
    todo = list(dict.fromkeys(int(x) for x in seeds))
    for i, s in enumerate(todo):
        progress.advance(i, len(todo), f"テーマの安定性を確かめています（{i + 1}/{len(todo)} 回目）")
        space, _, _ = reduce.reduce_both(vectors, config.umap, s, embedding_key, cache_dir)
        out[s] = clustering.cluster_points(space, config.hdbscan).labels
    progress.advance(len(todo), len(todo))
    return out


def labels_for_seeds(
    comments: pd.DataFrame,
    config: PipelineConfig,
    seeds: Sequence[int],
    cache_dir: str | Path | None = None,
    embedder=None,
) -> dict[int, np.ndarray]:
    """Cluster labels int (n,) of ``comments`` for each UMAP seed, with the pipeline's caches.

    The embedding is computed (or read from the cache) once with ``config.seed``; for
    ``config.seed`` itself the labels equal the ``cluster`` column of
    :func:`analysis.pipeline.run_pipeline` with ``config``. ``embedder`` (tests) replaces the
    configured backend.
    """
    from ..themes import embedding

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    texts = comments["text_norm"].tolist()
    er = embedding.embed_cached(embedder or embedding.get_embedder(config.embedding, config.seed), texts, cache)
    return labels_for_vectors(er.vectors, config, seeds, er.key, cache)


@dataclass
class StabilityResult:
    """Outcome of :func:`seed_stability`.

    seeds : the seeds, reference first
    labels : DataFrame (n_comments, n_seeds) of cluster ids (-1 = noise), index comment_id
    ari : DataFrame (n_seeds, n_seeds) pairwise ARI, see the module doc for noise
    clusters : per-cluster stability of the reference labeling (see :func:`cluster_stability`)
    noise : the noise mode used for ARI
    """

    seeds: list[int]
    labels: pd.DataFrame
    ari: pd.DataFrame
    clusters: pd.DataFrame
    noise: str = "singleton"
    extra: dict = field(default_factory=dict)

    @property
    def reference_seed(self) -> int:
        return self.seeds[0]

    @property
    def mean_ari(self) -> float | None:
        """Mean ARI over all pairs of different seeds (None with a single seed)."""
        return mean_offdiagonal(self.ari)

    def summary(self) -> dict:
        """Plain figures for a manifest: seeds, noise mode, mean/min ARI, mean cluster stability."""
        m = self.ari.to_numpy(dtype=float)
        off = m[~np.eye(len(m), dtype=bool)] if len(m) > 1 else np.array([])
        st = self.clusters["stability"].dropna()
        return {
            "seeds": [int(s) for s in self.seeds],
            "noise": self.noise,
            "mean_ari": None if not len(off) else round(float(np.nanmean(off)), 4),
            "min_ari": None if not len(off) else round(float(np.nanmin(off)), 4),
            "mean_cluster_stability": round(float(st.mean()), 4) if len(st) else None,
        }


def _default_seeds(base: int, n: int) -> list[int]:
    return [base + i for i in range(n)]


def seed_stability(
    comments: pd.DataFrame,
    config: PipelineConfig | None = None,
    seeds: Sequence[int] | None = None,
    cache_dir: str | Path | None = None,
    embedder=None,
    noise: NoiseMode = "singleton",
    reference_labels: np.ndarray | None = None,
) -> StabilityResult:
    """Rerun ``config`` with several seeds and measure how much the clustering changes.

    Parameters
    ----------
    comments : comment table (``analysis.ingest.comments`` schema), n rows
    config : pipeline config; ``config.seed`` is the reference seed (added first if missing)
    seeds : seeds to run; default ``config.seed`` .. ``config.seed + 4`` (5 runs)
    cache_dir : embedding/UMAP cache (default ``models/cache``)
    embedder : optional embedder replacing the configured backend (tests)
    noise : how ARI treats label -1, see the module doc
    reference_labels : int (n,) labels of the reference seed if already known (e.g. a saved run);
        skips recomputing it

    Returns
    -------
    StabilityResult; ``result.ari`` between the same seed is exactly 1.0 because every step is
    deterministic for a seed.
    """
    config = config or PipelineConfig()
    order = list(dict.fromkeys([int(config.seed), *(int(s) for s in (seeds if seeds is not None else _default_seeds(config.seed, 5)))]))
    todo = order[1:] if reference_labels is not None else order
    labels = labels_for_seeds(comments, config, todo, cache_dir, embedder)
    if reference_labels is not None:
        labels = {order[0]: np.asarray(reference_labels, dtype=np.int64), **labels}
    labels = {s: labels[s] for s in order}
    ari = pairwise_ari(labels, noise)
    per_cluster = cluster_stability(labels[order[0]], [labels[s] for s in order[1:]])
    table = pd.DataFrame({s: labels[s] for s in order}, index=comments["comment_id"].astype(str).values)
    table.index.name = "comment_id"
    return StabilityResult(seeds=order, labels=table, ari=ari, clusters=per_cluster, noise=noise)


def stability_seeds_after(seed: int, n_seeds: int) -> list[int]:
    """The seeds a run's stability is measured with: the ``n_seeds`` seeds after its own."""
    return _default_seeds(int(seed) + 1, n_seeds)


def add_stability(run, seeds: Sequence[int] | None = None, n_seeds: int = 4, cache_dir: str | Path | None = None,
                  embedding_key: str | None = None, noise: NoiseMode = "singleton") -> StabilityResult:
    """Measure per-theme stability of an in-memory run and store it in the run (nothing is written).

    The run's own labels are the reference; ``seeds`` (default: the ``n_seeds`` seeds after the
    run's seed) rerun UMAP + HDBSCAN on the run's embeddings. Adds a ``stability`` column (0-1,
    see :func:`cluster_stability`) to ``run.clusters`` and ``manifest["stability"]`` (see
    :meth:`StabilityResult.summary`). Save the run afterwards (:func:`analysis.store.runs.save_run`);
    :func:`analysis.pipeline.run_pipeline` does both when asked for stability.
    """
    config = config_from_dict(run.manifest["config"]) if run.manifest.get("config") else PipelineConfig()
    ref = run.assignments["cluster"].to_numpy(dtype=np.int64)
    if seeds is None:
        seeds = stability_seeds_after(config.seed, n_seeds)
    order = list(dict.fromkeys([int(config.seed), *(int(s) for s in seeds)]))
    if embedding_key is None:
        embedding_key = (run.manifest.get("embedding") or {}).get("key")
    labels = {order[0]: ref, **labels_for_vectors(run.embeddings, config, order[1:], embedding_key, cache_dir)}
    ari = pairwise_ari(labels, noise)
    per_cluster = cluster_stability(ref, [labels[s] for s in order[1:]])
    table = pd.DataFrame({s: labels[s] for s in order}, index=run.comments["comment_id"].astype(str).values)
    table.index.name = "comment_id"
    result = StabilityResult(seeds=order, labels=table, ari=ari, clusters=per_cluster, noise=noise)
    stab = per_cluster.set_index("cluster")["stability"].round(4)
    run.clusters["stability"] = run.clusters["cluster"].map(stab).astype(float)
    summary = result.summary()
    run.manifest["stability"] = summary
    run.manifest.setdefault("quality", {})["stability_ari"] = summary["mean_ari"]
    return result


def default_cache_dir() -> Path:
    from ..store.runs import cache_dir

    return cache_dir()
