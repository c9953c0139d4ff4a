"""Prototypes of speed fixes for stage modules, installed into a benchmark process by name.

They patch module attributes of ``analysis`` (or of umap) in the running process only (the pipeline
calls stages through their modules), so the benchmark can show what a change to a stage module would
buy before it is made there. (The earlier ``fast-noise`` and ``sample-silhouette`` prototypes are now
in ``clustering.py``, and ``fast-keywords`` is ``keywords.TermMatrix``.) Names (comma-separated in
``--prototype``):

``fast-map``     the 2-D map (only the map, not the clustering space) with 100 optimisation epochs
                 instead of 200 (``reduce.py`` above 2,000 comments) / 500, starting from the first two
                 principal components of the input (the layout needs fewer epochs from a sensible start).
"""

from __future__ import annotations

import numpy as np


def _install_fast_map(epochs: int = 100) -> None:
    import umap

    base = umap.UMAP

    class MapUMAP(base):
        def fit(self, X, y=None, *args, **kwargs):
            if self.n_components == 2 and (self.n_epochs is None or self.n_epochs > epochs):
                from sklearn.decomposition import PCA

                self.n_epochs = epochs
                if len(X) > 10:
                    init = PCA(n_components=2, random_state=0).fit_transform(np.asarray(X, dtype=np.float32))
                    self.init = (10.0 * init / np.abs(init).max()).astype(np.float32)
            return super().fit(X, y, *args, **kwargs)

    umap.UMAP = MapUMAP


PROTOTYPES = {"fast-map": _install_fast_map}


def install(names: str) -> None:
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        PROTOTYPES[name]()
