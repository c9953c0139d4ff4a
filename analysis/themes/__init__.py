"""From texts to themes: embedders, UMAP (reduce, layout, spectral start, pinned numerics), HDBSCAN, names and summaries.

May import: the foundation (schema, errors, config, storage, progress) and analysis.text; never ingest, store, explore or report.
"""
