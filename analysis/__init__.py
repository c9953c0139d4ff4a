"""連携もやもやマップ: the analysis package (no Streamlit here).

The small public API below is what notebooks and scripts use; every name is imported lazily on
first use, so ``import analysis`` stays cheap and never pulls in UMAP, torch or Streamlit.

Example::

    import analysis as mm

    comments = mm.load_seed()                              # or mm.load_file("my.csv").comments
    run = mm.run_and_save(comments, mm.PipelineConfig().replace(**{"hdbscan.min_cluster_size": 5}))
    table = run.table()                                     # one row per comment, with its theme
    diff = mm.compare_runs(mm.ensure_default_run(), run)    # kept / split / merged / new / gone
    grid = mm.sweep(comments, {"hdbscan.min_samples": [1, 2, 3]})
"""

from __future__ import annotations

import importlib
from typing import Any

from .themes import numerics as _numerics

# Before numpy, scipy or numba load: machine code that gives the same results on every x86-64 CPU
# of the supported kind (see analysis/themes/numerics.py and README "Reproducibility").
_numerics.pin_environment()

# name -> module (relative to this package) that defines it
_EXPORTS: dict[str, str] = {
    # input
    "load_seed": "ingest.seed",
    "load_file": "ingest.importing",
    "CorpusError": "errors",
    "LoadResult": "ingest.comments",
    "CATEGORIES": "schema",
    "NOISE": "schema",
    "NOISE_LABEL": "schema",
    "UserError": "errors",
    # configuration and pipeline
    "PipelineConfig": "config",
    "load_config": "config",
    "run_pipeline": "pipeline",
    "run_and_save": "pipeline",
    "ensure_default_run": "pipeline",
    "available_backends": "themes.embedding",
    # saved runs
    "Run": "store.run_object",
    "save_run": "store.run_saving",
    "load_run": "store.runs",
    "list_runs": "store.runs",
    "delete_run": "store.runs",
    "rename_cluster": "store.side_files",
    "models_dir": "store.run_object",
    "get_published": "store.side_files",
    "set_published": "store.side_files",
    "RunError": "store.run_object",
    # tables
    "crosstab": "explore.overlaps",
    "shares": "explore.overlaps",
    "standardized_residuals": "explore.overlaps",
    "category_reach": "explore.overlaps",
    "cross_category_pairs": "explore.overlaps",
    "compare_groups": "explore.overlaps",
    "cell_tests": "explore.overlaps",
    "representative_quotes": "explore.quotes",
    "search_by_meaning": "explore.search",
    "encode_texts": "explore.search",
    "fit_comments": "explore.assign",
    "compare_with_new": "explore.assign",
    "load_bytes": "ingest.importing",
    "mask_comments": "ingest.masking",
    "name_themes": "themes.naming",
    "summarize_themes": "themes.summaries",
    "TextIndex": "text.textsearch",
    # figures (plotly)
    "theme_map": "report.charts",
    "keyword_bar": "report.charts",
    "category_mix_bar": "report.charts",
    "category_theme_heatmap": "report.charts",
    "attribute_bar": "report.charts",
    "plotly_config": "report.charts",
    "comparison_sankey": "explore.compare",
    # analyst workflow
    "sweep": "explore.tuning",
    "row_config": "explore.tuning",
    "seed_stability": "explore.stability",
    "add_stability": "explore.stability",
    "StabilityResult": "explore.stability",
    "compare_runs": "explore.compare",
    "carry_over_labels": "explore.compare",
    "apply_labels": "explore.compare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
