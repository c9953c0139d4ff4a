"""Command line: ``python -m analysis run [--input FILE] [--text-column ...] [--config FILE] [--out DIR]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import PipelineConfig, load_config
from .corpus import CorpusError, load_file, load_seed
from .pipeline import SEED_INPUT, STAGE_NAMES_JA, run_and_save

_STAGE_ORDER = ["embed", "reduce", "cluster", "describe", "save", "stability"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analysis",
        description="連携もやもやマップ: cluster comments by meaning and save a run for the dashboard.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser(
        "run",
        help="run the pipeline (embed → UMAP → HDBSCAN → keywords) and save the run",
        description="Run the pipeline on the seed document or a CSV/TSV/Excel file and save the run "
        "under models/runs/<run id>/ (or --out). Prints progress per stage and a summary.",
    )
    r.add_argument("--input", type=Path, help="CSV, TSV, .xlsx or .md file of comments (default: the seed document in data/)")
    r.add_argument("--text-column", help="column holding the comment text (default: guessed from headers such as 意見, 回答, 自由記述)")
    r.add_argument("--category-column", help="column with the partnership category or any grouping (default: guessed, e.g. 分類)")
    r.add_argument("--role-column", help="column with the respondent role (default: guessed, e.g. 属性)")
    r.add_argument("--id-column", help="column with unique comment ids (default: c001, c002, ... in row order)")
    r.add_argument("--config", type=Path, help="TOML file with pipeline settings (see README); unknown keys are errors")
    r.add_argument("--backend", help="embedding backend: hybrid (default), sudachi, use, e5, e5-hybrid or st:<local model path>")
    r.add_argument("--seed", type=int, help="random seed for every random step (default 42)")
    r.add_argument("--stability", type=int, default=0, metavar="N",
                   help="also rerun UMAP + HDBSCAN with N other seeds and store each theme's stability (0-1) and the mean ARI (default 0: off)")
    r.add_argument("--out", type=Path, help="folder to write the run to (default: models/runs/<run id>)")
    r.add_argument("--quiet", action="store_true", help="print only the summary")
    return p


def _config(args: argparse.Namespace) -> PipelineConfig:
    cfg = load_config(args.config) if args.config else PipelineConfig()
    changes = {}
    if args.backend:
        changes["embedding.backend"] = args.backend
    if args.seed is not None:
        changes["seed"] = args.seed
    return cfg.replace(**changes) if changes else cfg


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if args.input is None:
        comments = load_seed()
        info = dict(SEED_INPUT)
    else:
        res = load_file(args.input, args.text_column, args.category_column, args.role_column, args.id_column)
        comments = res.comments
        info = {"name": args.input.name, "kind": "file", "path": str(args.input.resolve())}
        print(res.report.summary_ja(), flush=True)
    start = time.perf_counter()

    def progress(stage: str, frac: float) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - start:6.1f}s] {stage}", flush=True)

    run = run_and_save(comments, cfg, info, progress, out_dir=args.out, stability_seeds=args.stability)
    q, tm = run.manifest["quality"], run.manifest["timings"]
    sil = "—" if q["silhouette"] is None else f"{q['silhouette']:.3f}"
    print(f"run: {run.run_id}")
    print(f"saved to: {run.path}")
    print(f"comments: {q['n_comments']}  clusters: {q['n_clusters']}  noise share: {q['noise_share']:.1%}  silhouette: {sil}")
    if "stability" in run.manifest:
        st = run.manifest["stability"]
        print(f"stability over seeds {st['seeds']}: mean ARI {st['mean_ari']}, mean theme stability {st['mean_cluster_stability']}")
    print("seconds per stage: " + "  ".join(f"{k} {tm[k]:.2f}" for k in _STAGE_ORDER if k in tm) + f"  total {sum(tm.values()):.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return cmd_run(args)
    except CorpusError as exc:
        print(f"エラー: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
