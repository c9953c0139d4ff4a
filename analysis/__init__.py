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

from . import numerics as _numerics

# Before numpy, scipy or numba load: machine code that gives the same results on every x86-64 CPU
# of the supported kind (see analysis/numerics.py and README "Reproducibility").
_numerics.pin_environment()

# name -> module (relative to this package) that defines it
_EXPORTS: dict[str, str] = {
    # input
    "load_seed": "corpus",
    "load_file": "importing",
    "CorpusError": "corpus",
    "LoadResult": "corpus",
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
    "available_backends": "embedding",
    # saved runs
    "Run": "run_object",
    "save_run": "run_saving",
    "load_run": "runs",
    "list_runs": "runs",
    "delete_run": "runs",
    "rename_cluster": "side_files",
    "models_dir": "run_object",
    "get_published": "side_files",
    "set_published": "side_files",
    "RunError": "run_object",
    # tables
    "crosstab": "overlaps",
    "shares": "overlaps",
    "standardized_residuals": "overlaps",
    "category_reach": "overlaps",
    "cross_category_pairs": "overlaps",
    "compare_groups": "overlaps",
    "cell_tests": "overlaps",
    "representative_quotes": "quotes",
    "search_by_meaning": "search",
    "encode_texts": "search",
    "fit_comments": "assign",
    "compare_with_new": "assign",
    "load_bytes": "importing",
    "mask_comments": "masking",
    "name_themes": "naming",
    "summarize_themes": "summaries",
    "TextIndex": "textsearch",
    # figures (plotly)
    "theme_map": "charts",
    "keyword_bar": "charts",
    "category_mix_bar": "charts",
    "category_theme_heatmap": "charts",
    "attribute_bar": "charts",
    "plotly_config": "charts",
    "comparison_sankey": "compare",
    # analyst workflow
    "sweep": "tuning",
    "row_config": "tuning",
    "seed_stability": "stability",
    "add_stability": "stability",
    "StabilityResult": "stability",
    "compare_runs": "compare",
    "carry_over_labels": "compare",
    "apply_labels": "compare",
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
