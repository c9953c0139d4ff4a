"""umap-learn as shipped (seeded, so its layout runs on one thread) against our block-parallel layout
(``analysis.themes.layout`` through ``analysis.themes.reduce._parallel_umap_class``): time and agreement, and where
the block layout starts to pay (``reduce.BLOCK_LAYOUT_FROM``). A script, not a test.

    .venv/bin/python -m bench.bench_layout                                  # 300 ... 2,000: the threshold
    .venv/bin/python -m bench.bench_layout --sizes 1000,4000,10000 --depths default

Same embeddings (cached ``hybrid`` vectors of the synthetic corpora, see ``bench.synthetic``), same
UMAP settings (the default config's 5-d clustering space, epochs as ``reduce.umap_embed`` sets them),
and the same precomputed kNN graph handed to both sides (``reduce.nearest_neighbors``), so the
timings compare what differs: the fuzzy graph, the spectral start and the layout. For each size:

* seconds (median of ``--repeats`` runs after a warm-up that compiles every kernel) for
  ``umap.UMAP(random_state=seed)`` and for the block layout at each tree depth of ``--depths``
  (``default`` = ``layout.default_depth(n)``: 0 below 500 points, i.e. one block, 1 up to 999,
  2 from 1,000); depth 0 runs our serial kernel, the same work as umap-learn's;
* trustworthiness (k = 10, cosine, sklearn) of umap-learn's and the default block layout's spaces;
* ARI (noise as singletons) of the HDBSCAN clusterings (our default settings): block layout vs
  umap-learn, next to umap-learn seed 42 vs seed 43, the spread a change of seed alone causes, i.e.
  the yardstick for "the same result".

Each timed run waits for the other processes on the machine to be quiet (``bench.report.wait_quiet``);
the load averages are reported with the table. Results: markdown on stdout and in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path


def umap_kwargs(n: int, cfg, seed: int, knn) -> dict:
    """The keyword arguments ``analysis.themes.reduce.umap_embed`` gives UMAP for the 5-d space."""
    from analysis.themes.reduce import effective_neighbors

    return dict(n_components=cfg.n_components, n_neighbors=effective_neighbors(n, cfg.n_neighbors),
                min_dist=cfg.min_dist, metric=cfg.metric, random_state=seed, init="spectral",
                precomputed_knn=knn, n_epochs=200 if n > 2000 else None, low_memory=True, verbose=False)


def fit(x, cfg, seed: int, knn, depth: int | str | None, threads: int | None = None):
    """``depth`` None: umap.UMAP itself; an int or "default": the block layout at that depth, on
    ``threads`` threads (default all; the result never depends on it)."""
    import functools

    import numpy as np
    import umap

    from analysis.themes import layout
    from analysis.themes.reduce import _parallel_umap_class

    kwargs = umap_kwargs(len(x), cfg, seed, knn)
    if depth is None:
        model = umap.UMAP(**kwargs)
    else:
        model = _parallel_umap_class()(layout_depth=None if depth == "default" else int(depth), **kwargs)
    original = layout.optimize_layout
    if threads is not None:
        layout.optimize_layout = functools.partial(original, n_threads=threads)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(model.fit_transform(x), dtype=np.float32)
    finally:
        layout.optimize_layout = original


def main(argv: list[str] | None = None) -> int:
    import analysis  # noqa: F401, I001  (first: pinned numerics, as the pipeline runs)
    import numpy as np

    from analysis.themes import reduce
    from analysis.config import EmbeddingConfig, PipelineConfig
    from analysis.ingest.seed import load_seed
    from analysis.themes.embedding import embed_cached, get_embedder
    from bench.report import load_text, save

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="300,500,750,1000,2000")
    p.add_argument("--depths", default="default,0,1,2", help="block-layout depths to time ('default' = default_depth(n))")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "moyamoya-bench-cache"))
    p.add_argument("--contend", type=int, default=0,
                   help="keep N busy-looping processes running during the timed runs (a browser, a test run, "
                        "another analysis on the same 2 cores); the quiet-machine wait is skipped then")
    p.add_argument("--one-thread", action="store_true",
                   help="also time the default block layout on one thread (same result; what a busy machine could fall back to)")
    args = p.parse_args(argv)
    cfg = PipelineConfig()
    u = cfg.umap
    depths = [d.strip() for d in args.depths.split(",") if d.strip()]
    emb = get_embedder(EmbeddingConfig(), cfg.seed)
    seed_x = embed_cached(emb, load_seed()["text_norm"].tolist(), Path(args.cache)).vectors
    # Warm-up: compile (or load from numba's disk cache) umap-learn's kernels, ours (serial and
    # parallel), and pynndescent's, used above 4,096 points.
    big = np.repeat(seed_x, 48, axis=0) + np.float32(1e-3) * np.random.default_rng(0).standard_normal(
        (len(seed_x) * 48, seed_x.shape[1]), dtype=np.float32)
    warm = big[:1200]
    warm_knn = reduce.nearest_neighbors(warm, u.n_neighbors, u.metric, cfg.seed)
    for d in (None, 0, 1, 2):
        fit(warm, u, cfg.seed, warm_knn, d)
    reduce.nearest_neighbors(big, u.n_neighbors, u.metric, cfg.seed)
    rows = []
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.contend)]
    start = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "load": load_text()}
    try:
        rows = _measure(args, depths, emb, u, cfg, seed_x)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    end = {"load": load_text()}
    names = ["umap-learn"] + [f"depth {d}" for d in depths] + (["default, 1 thread"] if args.one_thread else [])
    lines = [
        f"# umap-learn vs the block-parallel layout ({start['date']})", "",
        f"{os.cpu_count()} CPUs; load average (1/5/15 min) at start {start['load']}, at end {end['load']}. "
        + (f"{args.contend} busy-looping process(es) running throughout (contended). " if args.contend else "")
        + f"Median of {args.repeats} interleaved runs after a warm-up, each started when the CPUs were quiet; "
        "5-d clustering space with the default settings, kNN precomputed (its time is shown apart). "
        "Ratio = default block layout / umap-learn.", "",
        "| comments | kNN (s) | " + " | ".join(f"{n} (s)" for n in names) + " | default depth | ratio | "
        "trustworthiness umap-learn / ours | ARI ours vs umap-learn | ARI umap-learn seed 42 vs 43 | clusters ours / umap-learn | loads seen |",
        "| ---: | ---: |" + " ---: |" * len(names) + " ---: | ---: | --- | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        m = r["median_s"]
        ours = m.get("depth default", m.get(names[1]))
        lines.append(
            f"| {r['size']:,} | {r['knn_s']:.2f} | " + " | ".join(f"{m[n]:.2f}" for n in names) + f" | {r['default_depth']} | "
            f"{ours / m['umap-learn']:.2f} | {r['trust_ref']:.3f} / {r['trust_ours']:.3f} | {r['ari_ours_ref']:.3f} | "
            f"{r['ari_seed']:.3f} | {r['clusters']} | {r['loads'][0]} … {r['loads'][-1]} |")
    text = "\n".join(lines) + "\n"
    save("layout" + (f"-contend{args.contend}" if args.contend else ""), rows, text)
    return 0


def _measure(args, depths, emb, u, cfg, seed_x) -> list[dict]:
    import numpy as np
    from sklearn.manifold import trustworthiness

    from analysis.explore.stability import adjusted_rand
    from analysis.ingest.seed import load_seed
    from analysis.themes import clustering, layout, reduce
    from analysis.themes.embedding import embed_cached
    from bench.report import wait_quiet
    from bench.synthetic import synthetic_comments

    rows = []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        comments = load_seed() if size == len(seed_x) else synthetic_comments(size)
        x = embed_cached(emb, comments["text_norm"].tolist(), Path(args.cache)).vectors
        t = time.perf_counter()
        knn = reduce.nearest_neighbors(x, reduce.effective_neighbors(size, u.n_neighbors), u.metric, cfg.seed)
        t_knn = time.perf_counter() - t
        runs: dict[str, list[float]] = {}
        loads: list[str] = []
        spaces: dict[str, np.ndarray] = {}
        # Interleaved (umap-learn, then each depth, repeat), so a busy spell hits all sides alike.
        for _ in range(args.repeats):
            variants = [("umap-learn", None, None)] + [(f"depth {d}", d, None) for d in depths]
            if args.one_thread:
                variants.append(("default, 1 thread", "default", 1))
            # one wait per round of variants (a wait before each would make the script take ages on a shared machine)
            q = wait_quiet(label=f"layout {size}", max_wait=0 if args.contend else None)
            loads.append(q["load"])
            for name, depth, threads in variants:
                t = time.perf_counter()
                spaces[name] = fit(x, u, cfg.seed, knn, depth, threads)
                runs.setdefault(name, []).append(time.perf_counter() - t)
        med = {k: float(np.median(v)) for k, v in runs.items()}
        ours = spaces["depth default"] if "depth default" in spaces else spaces[f"depth {depths[0]}"]
        ref43 = fit(x, u, cfg.seed + 1, knn, None)
        labels = {name: clustering.cluster_points(space, cfg.hdbscan).labels
                  for name, space in (("ref", spaces["umap-learn"]), ("ours", ours), ("ref43", ref43))}
        trust = {name: float(trustworthiness(x, space, n_neighbors=10, metric="cosine"))
                 for name, space in (("ref", spaces["umap-learn"]), ("ours", ours))}
        rows.append({
            "size": size, "knn_s": t_knn, "median_s": med, "runs_s": runs, "loads": loads,
            "default_depth": layout.default_depth(size),
            "trust_ref": trust["ref"], "trust_ours": trust["ours"],
            "ari_ours_ref": adjusted_rand(labels["ours"], labels["ref"], "singleton"),
            "ari_seed": adjusted_rand(labels["ref43"], labels["ref"], "singleton"),
            "clusters": f"{int(labels['ours'].max() + 1)} / {int(labels['ref'].max() + 1)}",
        })
        print(f"[layout] {size}: {med} {rows[-1]['ari_ours_ref']:.3f}", file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
