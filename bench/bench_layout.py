"""Our UMAP (exact kNN by matrix products below 4,096 points, layout on all cores) against umap-learn
as shipped (seeded, so single-threaded): time and agreement (a script, not a test).

    .venv/bin/python -m bench.bench_layout [--sizes 108,1000,4000,10000] [--repeats 3]

Same embeddings (cached ``hybrid`` vectors of the synthetic corpora, see ``synthetic.py``), same
UMAP settings (the default config's 5-d clustering space). For each size:

* seconds for umap-learn and for ours (median of ``--repeats`` runs after a warm-up; the kNN
  search is included on both sides);
* trustworthiness (k = 10, sklearn) of both 5-d spaces: how well local neighbourhoods survive;
* agreement of the HDBSCAN clusterings (our default settings) as ARI: ours vs umap-learn, next to
  umap-learn seed 42 vs umap-learn seed 43 — the spread a change of seed alone causes, i.e. the
  yardstick for "the same result".

Results: a markdown table on stdout and in ``bench/results/`` (gitignored).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path



def reference_umap(x, cfg, seed: int):
    """umap-learn exactly as a user would call it with our settings."""
    import umap

    from analysis.reduce import effective_neighbors

    n = len(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return umap.UMAP(n_components=cfg.n_components, n_neighbors=effective_neighbors(n, cfg.n_neighbors),
                         min_dist=cfg.min_dist, metric=cfg.metric, random_state=seed, low_memory=True,
                         n_epochs=200 if n > 2000 else None).fit_transform(x)


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    from sklearn.manifold import trustworthiness

    from analysis import clustering, reduce
    from analysis.config import EmbeddingConfig, PipelineConfig
    from analysis.corpus import load_seed
    from analysis.embedding import embed_cached, get_embedder
    from analysis.stability import adjusted_rand
    from bench.synthetic import synthetic_comments

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="108,1000,4000,10000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "moyamoya-bench-cache"))
    args = p.parse_args(argv)
    cfg = PipelineConfig()
    u = cfg.umap
    emb = get_embedder(EmbeddingConfig(), cfg.seed)
    seed_x = embed_cached(emb, load_seed()["text_norm"].tolist(), Path(args.cache)).vectors
    # Warm-up: numba compilation on both sides (and pynndescent's, used above 4,096 points).
    reference_umap(seed_x, u, cfg.seed)
    reduce.umap_embed(seed_x, u.n_components, u.n_neighbors, u.min_dist, u.metric, cfg.seed)
    big = np.repeat(seed_x, 48, axis=0) + np.float32(1e-3) * np.random.default_rng(0).standard_normal((len(seed_x) * 48, seed_x.shape[1]), dtype=np.float32)
    reduce.nearest_neighbors(big, u.n_neighbors, u.metric, cfg.seed)
    rows = []
    start = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "load_avg": os.getloadavg()}
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        comments = load_seed() if size == 108 else synthetic_comments(size)
        x = embed_cached(emb, comments["text_norm"].tolist(), Path(args.cache)).vectors

        def timed(fn):
            ts, out = [], None
            for _ in range(args.repeats):
                t = time.perf_counter()
                out = fn()
                ts.append(time.perf_counter() - t)
            return float(np.median(ts)), out

        t_ref, ref = timed(lambda: reference_umap(x, u, cfg.seed))
        t_ours, ours = timed(lambda: reduce.umap_embed(x, u.n_components, u.n_neighbors, u.min_dist, u.metric, cfg.seed))
        ref43 = reference_umap(x, u, cfg.seed + 1)
        labels = {name: clustering.cluster_points(space, cfg.hdbscan).labels for name, space in
                  (("ref", ref), ("ours", ours), ("ref43", ref43))}
        trust = {name: float(trustworthiness(x, space, n_neighbors=10, metric="cosine")) for name, space in
                 (("ref", ref), ("ours", ours))}
        rows.append({
            "size": size, "umap_learn_s": t_ref, "ours_s": t_ours, "ratio": t_ours / t_ref,
            "trust_ref": trust["ref"], "trust_ours": trust["ours"],
            "ari_ours_ref": adjusted_rand(labels["ours"], labels["ref"], "singleton"),
            "ari_seed": adjusted_rand(labels["ref43"], labels["ref"], "singleton"),
            "clusters": f"{int(labels['ours'].max() + 1)} / {int(labels['ref'].max() + 1)}",
        })
        print(f"[layout] {rows[-1]}", file=sys.stderr, flush=True)
    end = {"load_avg": os.getloadavg()}
    load = lambda d: "/".join(f"{v:.1f}" for v in d["load_avg"])  # noqa: E731
    lines = [
        f"# Our UMAP vs umap-learn ({start['date']})", "",
        f"{os.cpu_count()} CPUs; load average at start {load(start)}, at end {load(end)}. Median of {args.repeats} "
        "runs after warm-up, kNN included; 5-d clustering space with the default settings.", "",
        "| comments | umap-learn (s) | ours (s) | ratio | trustworthiness umap-learn / ours | ARI ours vs umap-learn | ARI umap-learn seed 42 vs 43 | clusters ours / umap-learn |",
        "| ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['size']:,} | {r['umap_learn_s']:.2f} | {r['ours_s']:.2f} | {r['ratio']:.2f} | "
                     f"{r['trust_ref']:.3f} / {r['trust_ours']:.3f} | {r['ari_ours_ref']:.3f} | {r['ari_seed']:.3f} | {r['clusters']} |")
    text = "\n".join(lines) + "\n"
    from bench.report import save

    save("layout", rows, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
