"""Our pipeline side by side with BERTopic on the same embeddings (a script, not a test).

    python -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install -r requirements-bench.txt
    .venv/bin/python -m bench.bench_bertopic --sizes 1000,10000 [--bench-python /tmp/benchvenv/bin/python]

BERTopic lives in its own virtual environment (it pulls sentence-transformers and torch), installed
from ``requirements-bench.txt`` with the same umap-learn / hdbscan / numpy versions as the app.

For each size the driver makes a synthetic corpus (see ``synthetic.py``), embeds it once with our
backend (default ``hybrid``; cached), and hands texts + embeddings to two subprocesses that each warm
up on the seed first (imports, numba compilation) and then time the same work:

* **BERTopic** ``fit_transform(texts, embeddings)`` with our UMAP settings (5-d, cosine,
  n_neighbors, min_dist, random_state), our HDBSCAN settings, ``language="multilingual"`` and a
  ``CountVectorizer`` whose analyzer is our SudachiPy content-word tokenizer; no embedding model is
  loaded. (Its default ``language="english"`` deletes every non-ASCII character before the keyword
  step, so on Japanese it computed no keywords at all and looked faster than it is;
  ``--also-english`` times that too. The report counts the topics whose words are Japanese.)
* **ours, like for like**: the kNN graph and 5-d UMAP as ``reduce.py`` makes them (exact neighbours
  by matrix products below 4,096 comments, the layout on all cores, see ``analysis/themes/layout.py``),
  HDBSCAN with soft membership and noise → nearest theme, tokenising (a fresh tokenizer, so nothing
  is reused from the warm-up) and c-TF-IDF keywords with MMR per theme.
* **ours, full**: additionally the 2-D map UMAP, quality figures (silhouette, DBCV), broad themes
  and ``describe_clusters`` (broad themes' keywords, phrase names, summaries; named in the lexical
  space), i.e. what ``run_pipeline`` does after the embedding.

Both processes get the pinned numerics of ``analysis.themes.numerics`` (the BERTopic process loads numpy
before it imports anything of ours, so the driver sets the variables for it), i.e. the same machine
code for UMAP, OpenBLAS and numpy on both sides.

Reported: seconds, the ratio ours / BERTopic (target ≤ 0.8), ARI between the two clusterings (noise
as singletons and noise as one label, see ``analysis.explore.stability``), cluster counts, noise shares and
peak RSS per process. Tables go to stdout and ``bench/results/`` (gitignored).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = Path(tempfile.gettempdir()) / "moyamoya-bench-bertopic"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load(work: Path, name: str):
    import numpy as np

    texts = json.loads((work / f"{name}.json").read_text(encoding="utf-8"))
    return texts, np.load(work / f"{name}.npy")


def _settings() -> dict:
    from analysis.config import PipelineConfig

    c = PipelineConfig()
    return {"seed": c.seed, "umap": c.umap, "hdbscan": c.hdbscan, "config": c}


# --------------------------------------------------------------------------- workers


def umap_epochs(n: int) -> int | None:
    """The epochs ``analysis.themes.reduce.umap_embed`` uses (keep in step with it), for BERTopic's UMAP."""
    return 200 if n > 2000 else None


def worker_ours(work: Path, size: int, prototype: str = "") -> dict:
    import numpy as np

    from analysis.schema import SEED_CATEGORY
    from analysis.text.tokens import SudachiTokenizer, tokenize_all
    from analysis.themes import clustering, keywords, reduce
    from analysis.themes.describe import describe_clusters
    from bench.synthetic import synthetic_comments

    s = _settings()
    cfg, u = s["config"], s["umap"]
    if prototype:
        from bench import prototypes

        prototypes.install(prototype)

    def run(comments, x) -> tuple[dict, np.ndarray]:
        t: dict[str, float] = {}
        t0 = time.perf_counter()
        knn = reduce.nearest_neighbors(x, reduce.effective_neighbors(len(x), u.n_neighbors), u.metric, cfg.seed)
        t["knn"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        space = reduce.umap_embed(x, u.n_components, u.n_neighbors, u.min_dist, u.metric, cfg.seed, knn)
        t["umap_5d"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        reduce.umap_embed(x, 2, u.n_neighbors, u.map_min_dist, u.metric, cfg.seed, knn)
        t["umap_2d_map"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cr = clustering.cluster_points(space, cfg.hdbscan)
        t["hdbscan"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        clustering.quality(space, cr)
        parents = clustering.broad_themes(x, cr.labels, cfg.describe.n_broad)
        t["quality_broad"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # A fresh tokenizer: nothing remembered from an earlier corpus or from the warm-up.
        tok = SudachiTokenizer()
        docs = tokenize_all(tok, comments["text_norm"].tolist())
        # What BERTopic does: c-TF-IDF keywords per theme (ours with MMR).
        keywords.cluster_keywords(docs, cr.labels, n_keywords=cfg.describe.n_keywords,
                                  diversity=cfg.describe.mmr_diversity, terms=keywords.term_matrix(docs))
        t["keywords"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # Beyond BERTopic: keywords of broad themes, phrase names and one-line summaries (named in the
        # lexical space here: the worker has the vectors, not the fitted embedder).
        describe_clusters(comments, docs, cr, parents, cfg.describe, SEED_CATEGORY, vectors=x, embedder=None,
                          tokenizer=tok)
        t["names_summaries"] = time.perf_counter() - t0
        return t, cr.labels

    from analysis.ingest.seed import load_seed

    _, seed_x = _load(work, "seed")
    t0 = time.perf_counter()
    run(load_seed(), seed_x)
    if size > 4096:
        # Compile what the seed run never reaches: pynndescent, and UMAP's fuzzy-graph functions for
        # pynndescent's array types (BERTopic's warm-up below does the same with n_epochs=1).
        big = np.repeat(seed_x, 48, axis=0) + np.float32(1e-3) * np.random.default_rng(0).standard_normal(
            (len(seed_x) * 48, seed_x.shape[1]), dtype=np.float32)
        reduce.umap_embed(big, u.n_components, u.n_neighbors, u.min_dist, u.metric, cfg.seed)
    warmup = time.perf_counter() - t0
    comments = synthetic_comments(size)
    _, x = _load(work, "data")
    from bench.report import wait_quiet

    quiet = wait_quiet(label=f"ours {size}")
    t, labels = run(comments, x)
    np.save(work / "labels_ours.npy", labels)
    like = t["knn"] + t["umap_5d"] + t["hdbscan"] + t["keywords"]
    return {"times": t, "like_for_like": like, "full": sum(t.values()), "warmup": warmup, "peak_rss_mb": _peak_mb(), "quiet": quiet,
            "n_clusters": int(labels.max() + 1), "noise_share": float((labels == -1).mean())}


def _japanese(word: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" for ch in word)


def worker_bertopic(work: Path, size: int, language: str = "multilingual") -> dict:
    import numpy as np

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    from analysis.text.tokens import SudachiTokenizer
    from analysis.themes.clustering import effective_min_cluster_size
    from analysis.themes.reduce import effective_neighbors

    s = _settings()
    u, h, seed = s["umap"], s["hdbscan"], s["seed"]

    def model(n: int) -> BERTopic:
        tok = SudachiTokenizer()  # fresh, like our side: nothing remembered from the warm-up

        def analyzer(text: str) -> list[str]:
            return [t.key for t in tok.content_words(text)]

        return BERTopic(
            umap_model=UMAP(n_neighbors=effective_neighbors(n, u.n_neighbors), n_components=u.n_components,
                            min_dist=u.min_dist, metric=u.metric, random_state=seed, low_memory=True,
                            n_epochs=umap_epochs(n)),
            hdbscan_model=HDBSCAN(min_cluster_size=effective_min_cluster_size(n, h), min_samples=h.min_samples,
                                  cluster_selection_method=h.cluster_selection_method,
                                  cluster_selection_epsilon=h.cluster_selection_epsilon,
                                  metric="euclidean", prediction_data=True, core_dist_n_jobs=1),
            vectorizer_model=CountVectorizer(analyzer=analyzer),
            # The default "english" deletes every non-ASCII character before the keyword step (its
            # _preprocess_text), so Japanese reached the vectorizer as "emptydoc": no keywords, and
            # less work than ours. "multilingual" keeps the text; no embedding model is loaded
            # because embeddings are given.
            language=language,
            calculate_probabilities=False,
            verbose=False,
        )

    seed_texts, seed_x = _load(work, "seed")
    t0 = time.perf_counter()
    model(len(seed_texts)).fit_transform(seed_texts, seed_x)
    if size > 4096:  # UMAP switches to pynndescent above 4,096 points: compile it before timing
        big = np.repeat(seed_x, 48, axis=0)
        big = big + np.float32(1e-3) * np.random.default_rng(0).standard_normal(big.shape, dtype=np.float32)
        UMAP(n_neighbors=u.n_neighbors, n_components=u.n_components, metric=u.metric, random_state=seed,
             low_memory=True, n_epochs=1).fit(big)
    warmup = time.perf_counter() - t0
    texts, x = _load(work, "data")
    from bench.report import wait_quiet

    quiet = wait_quiet(label=f"BERTopic {size}")
    t0 = time.perf_counter()
    m = model(len(texts))
    topics, _ = m.fit_transform(texts, x)
    elapsed = time.perf_counter() - t0
    labels = np.asarray(topics, dtype=int)
    np.save(work / f"labels_bertopic{'' if language == 'multilingual' else '_' + language}.npy", labels)
    import bertopic

    # Did the keyword step see Japanese? Topics whose top words include a Japanese word.
    words = {k: [w for w, _ in v] for k, v in m.get_topics().items() if k != -1 and v}
    with_ja = sum(1 for ws in words.values() if any(_japanese(w) for w in ws if w))
    return {"seconds": elapsed, "warmup": warmup, "peak_rss_mb": _peak_mb(), "version": bertopic.__version__,
            "language": language, "quiet": quiet,
            "n_clusters": int(len(set(labels.tolist()) - {-1})), "noise_share": float((labels == -1).mean()),
            "topics_with_japanese": with_ja, "topics_with_words": len(words),
            "example_words": {str(k): ws[:5] for k, ws in sorted(words.items())[:3]}}


# --------------------------------------------------------------------------- driver


def prepare(work: Path, size: int, backend: str, cache: Path) -> float:
    """Write texts and embeddings (seed and synthetic) for the workers; returns embedding seconds."""
    import numpy as np

    from analysis.config import EmbeddingConfig
    from analysis.ingest.seed import load_seed
    from analysis.themes.embedding import embed_cached, get_embedder
    from bench.synthetic import synthetic_comments

    work.mkdir(parents=True, exist_ok=True)
    emb = get_embedder(EmbeddingConfig(backend=backend), _settings()["seed"])
    t0 = time.perf_counter()
    for name, comments in (("seed", load_seed()), ("data", synthetic_comments(size))):
        texts = comments["text_norm"].tolist()
        vecs = embed_cached(emb, texts, cache).vectors
        (work / f"{name}.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        np.save(work / f"{name}.npy", vecs)
    return time.perf_counter() - t0


def _run_worker(python: str, kind: str, work: Path, size: int, timeout: float, prototype: str = "",
                language: str = "multilingual") -> dict:
    # ``-m`` from the project root: the BERTopic venv finds ``analysis`` and ``bench`` there without
    # installing the project.
    cmd = [python, "-m", "bench.bench_bertopic", "--worker", kind, "--work", str(work), "--size", str(size),
           "--prototype", prototype, "--language", language]
    # Both sides compute with the same pinned machine code (analysis.themes.numerics), BERTopic's process too,
    # which loads numpy before it imports anything of ours.
    from analysis.themes import numerics

    env = {k: v for k, v in os.environ.items() if k not in numerics.PINNED_ENV}
    numerics.pin_environment(env)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict], backend: str, start: dict, end: dict, prototype: str = "") -> str:
    load = lambda d: "/".join(f"{x:.1f}" for x in d["load_avg"])  # noqa: E731
    lines = [
        f"# Ours vs BERTopic ({start['date']})",
        "",
        f"{os.cpu_count()} CPUs; load average (1/5/15 min) at start {load(start)}, at end {load(end)}. "
        f"Same precomputed `{backend}` embeddings and the same UMAP / HDBSCAN settings on both sides; "
        "seconds after a warm-up in each process; embedding time excluded."
        + (f" Our side with prototype `{prototype}` (bench/prototypes.py)." if prototype else " Our side as the code is."),
        "",
        "| comments | BERTopic (s) | ours like-for-like (s) | ratio | ours full (s) | ratio full | ARI (noise singleton) | ARI (noise as label) | clusters ours / BERTopic | noise ours / BERTopic | peak RSS ours / BERTopic (MB) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['size']:,} | failed: {r['error']} |||||||||| ")
            continue
        o, b = r["ours"], r["bertopic"]
        lines.append(
            f"| {r['size']:,} | {b['seconds']:.1f} | {o['like_for_like']:.1f} | {o['like_for_like'] / b['seconds']:.2f} | "
            f"{o['full']:.1f} | {o['full'] / b['seconds']:.2f} | {r['ari_singleton']:.3f} | {r['ari_label']:.3f} | "
            f"{o['n_clusters']} / {b['n_clusters']} | {o['noise_share']:.2f} / {b['noise_share']:.2f} | "
            f"{o['peak_rss_mb']:.0f} / {b['peak_rss_mb']:.0f} |"
        )
    lines += ["", "BERTopic's keywords (language='multilingual', our SudachiPy analyzer in its CountVectorizer): topics "
              "whose top words include Japanese, and the first topics' words:", ""]
    for r in rows:
        if "bertopic" in r:
            b = r["bertopic"]
            ex = "; ".join(f"{k}: {'・'.join(v)}" for k, v in b.get("example_words", {}).items())
            lines.append(f"* {r['size']:,}: {b.get('topics_with_japanese')}/{b.get('topics_with_words')} topics — {ex}")
            e = r.get("bertopic_english")
            if e:
                ex = "; ".join(f"{k}: {'・'.join(v)}" for k, v in e.get("example_words", {}).items())
                lines.append(f"  * with the default language='english': {e['seconds']:.1f} s (vs {b['seconds']:.1f} s), "
                             f"{e.get('topics_with_japanese')}/{e.get('topics_with_words')} topics with Japanese words — {ex}")
    lines += ["", "Load before each timed run: " + "; ".join(
        f"{r['size']:,}: ours {r['ours'].get('quiet', {}).get('load')}, BERTopic {r['bertopic'].get('quiet', {}).get('load')}"
        for r in rows if "ours" in r)]
    keys = list(next((r["ours"]["times"] for r in rows if "ours" in r), {}))
    if keys:
        lines += ["", "Our side in detail (seconds):", "", "| comments | " + " | ".join(keys) + " |",
                  "| ---: |" + " ---: |" * len(keys)]
        for r in rows:
            if "ours" in r:
                lines.append(f"| {r['size']:,} | " + " | ".join(f"{r['ours']['times'][k]:.1f}" for k in keys) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1000,10000", help="comma-separated corpus sizes")
    p.add_argument("--backend", default="hybrid", help="embedding backend for the shared embeddings")
    p.add_argument("--bench-python", default="/tmp/benchvenv/bin/python", help="python of the venv with BERTopic")
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "moyamoya-bench-cache"), help="embedding cache")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--prototype", default="", help="prototype(s) from bench/prototypes.py for our side, e.g. fast-noise")
    p.add_argument("--language", default="multilingual", help=argparse.SUPPRESS)
    p.add_argument("--also-english", action="store_true",
                   help="also time BERTopic with its default language='english' (which erases Japanese) to show the difference")
    p.add_argument("--worker", choices=["ours", "bertopic"], help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker == "ours":
        print(json.dumps(worker_ours(Path(args.work), args.size, args.prototype)))
        return 0
    if args.worker == "bertopic":
        print(json.dumps(worker_bertopic(Path(args.work), args.size, args.language)))
        return 0
    if not Path(args.bench_python).exists():
        print(f"BERTopic environment not found at {args.bench_python}. Create it with:\n"
              f"  python -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install -r {ROOT / 'requirements-bench.txt'}",
              file=sys.stderr)
        return 2

    import numpy as np

    from analysis.explore.stability import adjusted_rand

    info = lambda: {"date": _dt.datetime.now().isoformat(timespec="seconds"), "load_avg": os.getloadavg()}  # noqa: E731
    start = info()
    rows = []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        work = WORK / f"{args.backend}-{size}"
        print(f"[bench] {size:,}: embedding ({args.backend}) ...", file=sys.stderr, flush=True)
        try:
            embed_s = prepare(work, size, args.backend, Path(args.cache))
            print(f"[bench] {size:,}: embeddings ready in {embed_s:.0f} s; ours ...", file=sys.stderr, flush=True)
            ours = _run_worker(sys.executable, "ours", work, size, args.timeout, args.prototype)
            print(f"[bench] {size:,}: ours {ours['like_for_like']:.1f} s (full {ours['full']:.1f} s); BERTopic ...", file=sys.stderr, flush=True)
            bt = _run_worker(args.bench_python, "bertopic", work, size, args.timeout)
            print(f"[bench] {size:,}: BERTopic {bt['seconds']:.1f} s, {bt['topics_with_japanese']}/{bt['topics_with_words']} "
                  f"topics with Japanese words", file=sys.stderr, flush=True)
            english = _run_worker(args.bench_python, "bertopic", work, size, args.timeout, language="english") \
                if args.also_english else None
            a, b = np.load(work / "labels_ours.npy"), np.load(work / "labels_bertopic.npy")
            rows.append({"size": size, "ours": ours, "bertopic": bt, "bertopic_english": english, "embed_seconds": embed_s,
                         "ari_singleton": adjusted_rand(a, b, "singleton"), "ari_label": adjusted_rand(a, b, "label")})
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            rows.append({"size": size, "error": str(exc).strip().splitlines()[-1][:200]})
            print(f"[bench] {size:,}: {exc}", file=sys.stderr, flush=True)
    text = markdown(rows, args.backend, start, info(), args.prototype)
    from bench.report import save

    save("bertopic", rows, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
