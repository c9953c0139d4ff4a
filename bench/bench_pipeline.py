"""Benchmark the pipeline stages at several corpus sizes and embedding backends (a script, not a test).

    .venv/bin/python -m bench.bench_pipeline                       # 108, 1k, 10k, 100k; hybrid and sudachi
    .venv/bin/python -m bench.bench_pipeline --sizes 108,1000 --backends sudachi

Each (backend, size) runs in its own subprocess, so its peak memory (``ru_maxrss`` of that process,
which, unlike tracemalloc, sees numpy's and numba's C allocations) belongs to that size alone. In the
subprocess a warm-up run on the seed pays the one-off costs first (imports, numba compilation of
UMAP, loading the sentence model); the timed run then reuses that embedder, with empty caches, through
``run_and_save`` exactly as the CLI runs it. Sub-steps of the stages are timed by wrapping the stage
modules' functions, to show where the time goes. Results: a markdown table on stdout and in
``bench/results/`` (gitignored).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
STAGES = ("embed", "reduce", "cluster", "describe", "stability", "save")
TARGETS = {10_000: 60.0, 100_000: 600.0}  # seconds end to end on 2 cores after warm-up
MEMORY_TARGET_MB = 4096


# --------------------------------------------------------------------------- worker (one size)


def _wrap(module, name: str, times: dict[str, float], label: str | None = None) -> None:
    fn = getattr(module, name)

    @functools.wraps(fn)
    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[label or name] += time.perf_counter() - t

    setattr(module, name, timed)


def worker(size: int, backend: str, mem_limit_gb: float, prototype: str = "", stability: int = 0) -> dict:
    if mem_limit_gb > 0:  # fail with MemoryError rather than push a shared machine into the OOM killer
        limit = int(mem_limit_gb * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    tmp = Path(tempfile.mkdtemp(prefix="moyamoya-bench-"))
    os.environ["MOYAMOYA_MODELS_DIR"] = str(tmp / "models")

    from analysis import pipeline
    from analysis.config import PipelineConfig
    from analysis.ingest.seed import load_seed
    from analysis.pipeline import run_and_save, run_pipeline
    from analysis.themes import (
        clustering,
        describe,
        embedding,
        keywords,
        naming,
        numerics,
        reduce,
        summaries,
    )
    from analysis.themes.embedding import get_embedder
    from bench.synthetic import synthetic_comments

    config = PipelineConfig().replace(**{"embedding.backend": backend})
    t = time.perf_counter()
    emb = get_embedder(config.embedding, config.seed)
    warm = run_pipeline(load_seed(), config, cache_dir=tmp / "warm", embedder=emb)
    warmup = time.perf_counter() - t
    # Above 4,096 comments reduce.py builds the kNN graph with pynndescent, whose numba compilation
    # (about 25 s, once per process) the seed run never reaches: compile it here too.
    t = time.perf_counter()
    if size > 4096:
        import numpy as np

        rng = np.random.default_rng(0)
        x = np.repeat(warm.embeddings, 48, axis=0)
        x = x + rng.normal(scale=0.01, size=x.shape).astype(np.float32)
        # pynndescent, and UMAP's fuzzy-graph functions for pynndescent's array types
        reduce.umap_embed(x, 2, config.umap.n_neighbors, config.umap.min_dist, config.umap.metric, config.seed)
    warmup_knn = time.perf_counter() - t
    if prototype:
        from bench import prototypes

        prototypes.install(prototype)

    t = time.perf_counter()
    comments = synthetic_comments(size)
    make_data = time.perf_counter() - t
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    detail: dict[str, float] = defaultdict(float)
    _wrap(reduce, "nearest_neighbors", detail, "reduce: shared kNN")
    umap_embed = reduce.umap_embed

    def timed_umap(x, n_components, *args, **kwargs):
        t = time.perf_counter()
        try:
            return umap_embed(x, n_components, *args, **kwargs)
        finally:
            detail["reduce: UMAP clustering space" if n_components != 2 else "reduce: UMAP 2-D map"] += time.perf_counter() - t

    reduce.umap_embed = timed_umap
    _wrap(clustering, "cluster_points", detail, "cluster: HDBSCAN + soft membership")
    _wrap(clustering, "quality", detail, "cluster: quality (silhouette)")
    _wrap(clustering, "broad_themes", detail, "cluster: broad themes")
    _wrap(keywords, "cluster_keywords", detail, "describe: c-TF-IDF keywords")
    _wrap(pipeline, "tokenize_all", detail, "describe: tokenising")
    # describe.py imports these inside the function, so patching the modules reaches it; names are
    # made twice (themes, then broad themes)
    _wrap(naming, "name_themes", detail, "describe: phrase names")
    _wrap(summaries, "summarize_themes", detail, "describe: summaries")
    # The dense model, one text at a time: the corpus in the embed stage, name and summary candidates
    # (up to describe.FULL_SPACE_NAMING_MAX comments) inside describe (already in the two rows above).
    in_describe = [False]
    describe_clusters = describe.describe_clusters

    def flagged(*args, **kwargs):
        in_describe[0] = True
        try:
            return describe_clusters(*args, **kwargs)
        finally:
            in_describe[0] = False

    describe.describe_clusters = flagged
    raw = embedding.DenseEmbedder.raw

    def timed_raw(self, texts):
        t = time.perf_counter()
        try:
            return raw(self, texts)
        finally:
            key = "(in names/summaries: dense model)" if in_describe[0] else "embed: dense model, per text"
            detail[key] += time.perf_counter() - t

    embedding.DenseEmbedder.raw = timed_raw
    _wrap(embedding.SudachiEmbedder, "fit", detail, "embed: lexical fit (TF-IDF + LSA)")

    last = [""]

    def progress(stage: str, frac: float, detail: str = "") -> None:  # the driver reports the last stage on a timeout
        if stage != last[0]:
            last[0] = stage
            print(f"[stage] {stage} {time.perf_counter() - t:.1f}", file=sys.stderr, flush=True)

    from bench.report import wait_quiet

    quiet = wait_quiet(label=f"pipeline {backend} {size}")
    t = time.perf_counter()
    run = run_and_save(comments, config, {"name": f"bench {size}"}, progress, out_dir=tmp / "run", cache_dir=tmp / "cache",
                       embedder=emb, stability_seeds=stability)
    total = time.perf_counter() - t
    timings = run.manifest["timings"]
    detail["describe: rest"] = timings["describe"] - sum(
        v for k, v in detail.items() if k.startswith("describe:"))
    return {
        "backend": backend,
        "size": size,
        "stages": {s: timings.get(s) for s in STAGES},
        "total": total,
        "warmup": warmup,
        "warmup_knn": warmup_knn,
        "prototype": prototype,
        "make_data": make_data,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_warmup_mb": rss_before,
        "n_clusters": run.manifest["quality"]["n_clusters"],
        "noise_share": run.manifest["quality"]["noise_share"],
        "detail": dict(detail),
        "numerics": numerics.state(),
        "stability_seeds": stability,
        "quiet": quiet,
        "names": run.clusters["label"].head(8).tolist(),
    }


# --------------------------------------------------------------------------- driver


def machine_info() -> dict:
    return {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }


def fmt(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def markdown(results: list[dict], info_start: dict, info_end: dict) -> str:
    lines = [
        f"# Pipeline benchmark ({info_start['date']})",
        "",
        f"Python {info_start['python']}, {info_start['cpus']} CPUs. Load average (1/5/15 min) at start "
        f"{'/'.join(f'{x:.1f}' for x in info_start['load_avg'])}, at end {'/'.join(f'{x:.1f}' for x in info_end['load_avg'])} "
        "(a load above the 2 cores means other processes shared the CPUs and the times are inflated).",
        "Seconds per stage after a warm-up in the same process; peak RSS of the whole process (warm-up included).",
        "",
        "| backend | comments | embed | reduce | cluster | describe | stability | save | total | peak RSS (MB) | clusters | noise | target | busy / load before |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['backend']} | {r['size']:,} | failed: {r['error']} ||||||||||| |")
            continue
        s = r["stages"]
        target = TARGETS.get(r["size"])
        verdict = ""
        if target:
            ok = r["total"] <= target and (r["size"] < 100_000 or r["peak_rss_mb"] <= MEMORY_TARGET_MB)
            verdict = f"{'met' if ok else 'MISSED'} (≤ {target:.0f} s{', ≤ 4 GB' if r['size'] >= 100_000 else ''})"
        lines.append(
            f"| {r['backend']} | {r['size']:,} | {fmt(s['embed'])} | {fmt(s['reduce'])} | {fmt(s['cluster'])} | "
            f"{fmt(s['describe'])} | {fmt(s.get('stability'))} | {fmt(s['save'])} | {fmt(r['total'])} | {r['peak_rss_mb']:.0f} | {r['n_clusters']} | "
            f"{r['noise_share']:.2f} | {verdict} | {r.get('quiet', {}).get('busy', -1):.2f} / {r.get('quiet', {}).get('load', '')} |"
        )
    lines += ["", "Where the time goes (seconds):", "", "| backend | comments | " + " | ".join(_detail_keys(results)) + " |",
              "| --- | ---: |" + " ---: |" * len(_detail_keys(results))]
    for r in results:
        if "error" not in r:
            lines.append(f"| {r['backend']} | {r['size']:,} | " + " | ".join(fmt(r["detail"].get(k)) for k in _detail_keys(results)) + " |")
    lines += ["", "Theme names (first five per run):", ""]
    for r in results:
        if "error" not in r:
            lines.append(f"* {r['backend']}/{r['size']:,}: " + "、".join(r.get("names", [])[:5]))
    lines += ["", "Numerics: " + ", ".join(sorted({json.dumps(r.get('numerics'), ensure_ascii=False) for r in results if 'error' not in r}))]
    lines += ["", "Warm-up per process (imports, numba JIT, model load, seed run; + pynndescent JIT above 4,096): " + ", ".join(
        f"{r['backend']}/{r['size']:,}: {r['warmup']:.1f} s" + (f" + {r['warmup_knn']:.1f} s" if r.get("warmup_knn", 0) > 0.05 else "")
        for r in results if "error" not in r)]
    return "\n".join(lines) + "\n"


def _detail_keys(results: list[dict]) -> list[str]:
    keys: dict[str, None] = {}
    for r in results:
        for k in r.get("detail", {}):
            keys[k] = None
    return list(keys)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="108,1000,10000,100000", help="comma-separated corpus sizes")
    p.add_argument("--backends", default="hybrid,sudachi", help="comma-separated embedding backends")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per (backend, size) before giving up")
    p.add_argument("--mem-limit-gb", type=float, default=16, help="address-space limit per worker (0: none)")
    p.add_argument("--prototype", default="", help="install a prototype from bench/prototypes.py (e.g. fast-noise)")
    p.add_argument("--stability", type=int, default=0, help="also measure theme stability over N more seeds")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.size, args.backend, args.mem_limit_gb, args.prototype, args.stability)))
        return 0

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    start = machine_info()
    results = []
    for backend in backends:
        for size in sizes:
            cmd = [sys.executable, "-m", "bench.bench_pipeline", "--worker", "--size", str(size), "--backend", backend,
                   "--mem-limit-gb", str(args.mem_limit_gb), "--prototype", args.prototype, "--stability", str(args.stability)]
            label = backend + (f" + {args.prototype}" if args.prototype else "")
            print(f"[bench] {label} {size:,} ...", file=sys.stderr, flush=True)
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT)
                if out.returncode != 0:
                    err = out.stderr.strip().splitlines()
                    stage = [l for l in err if l.startswith("[stage]")][-1:] or ["[stage] ?"]
                    tail = err[-1:] or ["?"]
                    results.append({"backend": label, "size": size, "error": f"{tail[0][:160]} during {stage[0][8:]}"})
                else:
                    results.append(json.loads(out.stdout.strip().splitlines()[-1]))
                    results[-1]["backend"] = label
            except subprocess.TimeoutExpired as exc:
                err = (exc.stderr or b"").decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
                stage = [l for l in err.splitlines() if l.startswith("[stage]")][-1:] or ["[stage] ?"]
                results.append({"backend": label, "size": size,
                                "error": f"timeout after {args.timeout:.0f} s, in stage: {stage[0][8:]}"})
            r = results[-1]
            print(f"[bench] {backend} {size:,}: " + (r.get("error") or f"{r['total']:.1f} s, {r['peak_rss_mb']:.0f} MB"),
                  file=sys.stderr, flush=True)
    text = markdown(results, start, machine_info())
    from bench.report import save

    save("pipeline", results, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
