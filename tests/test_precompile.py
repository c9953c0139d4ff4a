"""`python -m analysis.themes.precompile` (run by `make venv`) leaves UMAP's kernels in numba's disk cache."""

from __future__ import annotations

from pathlib import Path


def _compiled_on_disk(dispatcher) -> bool:
    cache = dispatcher._cache
    if type(cache).__name__ == "NullCache":
        return False
    index = Path(cache._cache_file._index_path)  # <module>.<function>-<line>.py311.nbi
    stem = index.name[: -len(".nbi")]
    return index.exists() and any(index.parent.glob(stem + "*.nbc"))


def test_warmup_leaves_the_layout_kernels_on_disk():
    import umap.layouts
    from numba.core.dispatcher import Dispatcher

    from analysis.themes import layout
    from analysis.themes.precompile import compile_kernels

    assert compile_kernels() > 0
    # umap-learn's epoch kernel (the seed's path, below 500 comments) and ours (the block layout)
    epoch = umap.layouts._nb_optimize_layout_euclidean_single_epoch
    assert isinstance(epoch, Dispatcher) and _compiled_on_disk(epoch)
    assert _compiled_on_disk(layout._epoch)
