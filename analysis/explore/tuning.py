"""Parameter sweeps: one table row per setting, reusing cached embeddings and UMAP results.

The loops are nested by cost: embeddings once per embedding setting (backend, weights, seed), UMAP
once per UMAP setting under it, and HDBSCAN for every clustering setting under that. Both caches
are the pipeline's own (``models/cache`` by default), so a sweep over HDBSCAN settings only costs
HDBSCAN time, and running the chosen setting with :func:`analysis.pipeline.run_pipeline`
afterwards finds its embeddings and UMAP result already cached.

Example::

    from analysis import load_seed, sweep
    table = sweep(load_seed(), {"hdbscan.min_cluster_size": [3, 4, 6], "hdbscan.min_samples": [1, 2]})
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..config import PipelineConfig
from ..errors import CorpusError
from .stability import NoiseMode, mean_offdiagonal, pairwise_ari

SWEEP_STAGES = ("embedding", "umap", "hdbscan")
METRIC_COLUMNS = ("n_clusters", "noise_share", "silhouette", "relative_validity")


def _stage(key: str) -> str:
    return "embedding" if key == "seed" else key.split(".", 1)[0]


def _normalise_grid(grid: Mapping[str, Any], base: PipelineConfig) -> dict[str, list]:
    if not grid:
        raise CorpusError("比較する設定（grid）が空です。例: {\"hdbscan.min_cluster_size\": [3, 4, 6]}")
    out: dict[str, list] = {}
    for key, values in grid.items():
        if key != "seed" and ("." not in key or _stage(key) not in SWEEP_STAGES):
            raise CorpusError(
                f"設定「{key}」は比較できません。使える形: seed、embedding.*、umap.*、hdbscan.*（例: umap.n_neighbors）"
            )
        vals = list(values) if isinstance(values, (list, tuple, range, np.ndarray)) else [values]
        if not vals:
            raise CorpusError(f"設定「{key}」の候補が空です。")
        for v in vals:
            base.replace(**{key: v})  # rejects unknown keys with a Japanese message
        out[key] = vals
    return out


def _combos(grid: dict[str, list], stage: str) -> list[dict[str, Any]]:
    keys = [k for k in grid if _stage(k) == stage]
    return [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]


def _plain(key: str, value: Any, base: PipelineConfig) -> Any:
    """Undo what pandas does to grid values (numpy scalars, ints as floats, None as NaN)."""
    if isinstance(value, np.generic):
        value = value.item()
    if key == "seed":
        return int(value)
    stage, name = key.split(".", 1)
    kind = {f.name: str(f.type) for f in dataclasses.fields(getattr(base, stage))}.get(name, "")
    if isinstance(value, float) and kind.startswith("int"):
        return None if np.isnan(value) and "None" in kind else int(value)
    return value


def row_config(row: Mapping[str, Any] | pd.Series, base_config: PipelineConfig | None = None) -> PipelineConfig:
    """The config a sweep row stands for: ``base_config`` with the row's grid columns applied.

    Example: ``cfg = row_config(table.loc[table["relative_validity"].idxmax()])``.
    """
    base = base_config or PipelineConfig()
    changes = {
        k: _plain(k, v, base)
        for k, v in dict(row).items()
        if isinstance(k, str) and (k == "seed" or ("." in k and _stage(k) in SWEEP_STAGES))
    }
    return base.replace(**changes)


def sweep(
    comments: pd.DataFrame,
    grid: Mapping[str, Sequence[Any]],
    base_config: PipelineConfig | None = None,
    cache_dir: str | Path | None = None,
    embedder=None,
    stability_seeds: int = 0,
    noise: NoiseMode = "singleton",
    progress: Callable[[str, float], None] | None = None,
) -> pd.DataFrame:
    """Cluster ``comments`` under every combination of ``grid`` and tabulate run-quality figures.

    Parameters
    ----------
    comments : comment table (``analysis.ingest.comments`` schema), n rows
    grid : ``{"stage.key": [values, ...]}`` with stage ``embedding``, ``umap`` or ``hdbscan``
        (e.g. ``"umap.n_neighbors"``, ``"hdbscan.min_samples"``, ``"embedding.backend"``), or
        ``"seed"``. Unknown keys raise :class:`~analysis.errors.CorpusError`.
    base_config : settings not in the grid (default ``PipelineConfig()``)
    cache_dir : embedding/UMAP cache (default ``models/cache``, shared with the pipeline)
    embedder : replaces the configured backend (tests); then ``embedding.*`` cannot be in the grid
    stability_seeds : if > 0, every setting is also run with that many further UMAP seeds
        (``seed+1`` ...; same embedding) and ``stability_ari`` is the mean pairwise ARI over all
        its seeds (noise per ``noise``, see :mod:`analysis.explore.stability`)
    progress : optional ``progress(message, fraction)``

    Returns
    -------
    DataFrame, one row per setting: the grid columns, then ``n_clusters``, ``noise_share``
    (share of comments labelled -1), ``silhouette`` (clustering space, members only; NaN with < 2
    clusters), ``relative_validity`` (HDBSCAN's DBCV approximation), ``stability_ari`` (only with
    ``stability_seeds``), ``seconds`` (time the row added: its HDBSCAN, plus the embedding / UMAP
    it was the first to need, so the column sums to the sweep's time), ``embedding_cached`` and
    ``umap_cached`` (whether those came from the disk cache). Metrics are of the base seed.
    """
    from ..store.runs import cache_dir as default_cache_dir
    from ..themes import clustering, embedding, reduce

    base = base_config or PipelineConfig()
    g = _normalise_grid(grid, base)
    if embedder is not None and any(k.startswith("embedding.") for k in g):
        raise CorpusError("埋め込み（embedder）を直接渡したときは、embedding.* の設定は比較できません。")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    texts = comments["text_norm"].tolist()
    report = progress or (lambda msg, frac: None)
    emb_combos, umap_combos, hdb_combos = (_combos(g, s) for s in SWEEP_STAGES)
    total = len(emb_combos) * len(umap_combos) * len(hdb_combos)
    rows: list[dict[str, Any]] = []
    for emb_changes in emb_combos:
        t0 = time.perf_counter()
        cfg_e = base.replace(**emb_changes)
        seeds = [cfg_e.seed + i for i in range(int(stability_seeds) + 1)]
        # One embedding per setting; further seeds vary UMAP only (see analysis.explore.stability).
        er = embedding.embed_cached(embedder or embedding.get_embedder(cfg_e.embedding, cfg_e.seed), texts, cache)
        pending = time.perf_counter() - t0
        for umap_changes in umap_combos:
            t0 = time.perf_counter()
            cfg_u = cfg_e.replace(**umap_changes)
            spaces, umap_cached = {}, True
            for s in seeds:
                space, _, hit = reduce.reduce_both(er.vectors, cfg_u.umap, s, er.key, cache)
                spaces[s] = space
                umap_cached &= hit
            pending += time.perf_counter() - t0
            for hdb_changes in hdb_combos:
                t0 = time.perf_counter()
                cfg = cfg_u.replace(**hdb_changes)
                results = {s: clustering.cluster_points(spaces[s], cfg.hdbscan) for s in seeds}
                q = clustering.quality(spaces[seeds[0]], results[seeds[0]])
                row: dict[str, Any] = {**emb_changes, **umap_changes, **hdb_changes}
                row.update({k: q[k] for k in METRIC_COLUMNS})
                if stability_seeds:
                    row["stability_ari"] = mean_offdiagonal(pairwise_ari({s: r.labels for s, r in results.items()}, noise))
                row["seconds"] = round(time.perf_counter() - t0 + pending, 3)
                row["embedding_cached"] = bool(er.from_cache)
                row["umap_cached"] = bool(umap_cached)
                pending = 0.0
                rows.append(row)
                report(f"{len(rows)}/{total} 件目の設定を計算しました", len(rows) / total)
    grid_cols = [k for s in SWEEP_STAGES for k in g if _stage(k) == s]
    cols = grid_cols + list(METRIC_COLUMNS) + (["stability_ari"] if stability_seeds else []) + ["seconds", "embedding_cached", "umap_cached"]
    table = pd.DataFrame(rows, columns=cols)
    for c in ("silhouette", "relative_validity") + (("stability_ari",) if stability_seeds else ()):
        table[c] = pd.to_numeric(table[c], errors="coerce")
    return table
