"""Command line: ``python -m analysis run|report|job|password …`` (``--help`` on each explains every option).

Every problem a user can fix ends in one Japanese sentence on stderr and exit status 2, never a
traceback; an interrupted run (Ctrl+C) saves nothing and leaves nothing behind (exit status 130).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import UserError

_STAGE_ORDER = ["embed", "reduce", "cluster", "describe", "stability", "save"]
MAX_STABILITY_SEEDS = 20


class _Parser(argparse.ArgumentParser):
    """argparse with its error line in Japanese (the detail stays as argparse words it)."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised through main()
        self.print_usage(sys.stderr)
        self.exit(2, f"エラー: 指定のしかたが正しくありません（{message}）。"
                     f"使い方は「{self.prog} --help」で確かめられます。\n")


def _seed(value: str) -> int:
    try:
        v = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"乱数の種は整数で指定してください: {value!r}") from None
    if not 0 <= v <= 2**32 - 1:
        raise argparse.ArgumentTypeError(f"乱数の種は 0 以上 {2**32 - 1} 以下にしてください: {v}")
    return v


def _stability(value: str) -> int:
    try:
        v = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"回数は整数で指定してください: {value!r}") from None
    if not 0 <= v <= MAX_STABILITY_SEEDS:
        raise argparse.ArgumentTypeError(f"回数は 0 以上 {MAX_STABILITY_SEEDS} 以下にしてください: {v}")
    return v


def _out_dir(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("保存先が空です")
    if "\x00" in value:
        raise argparse.ArgumentTypeError("保存先に使えない文字が含まれています")
    return Path(value)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m analysis",
        description="連携もやもやマップ: cluster comments by meaning and save a run for the dashboard.",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser(
        "run",
        help="run the pipeline (embed → UMAP → HDBSCAN → keywords) and save the run",
        description="Run the pipeline on the seed document or a CSV/TSV/Excel file and save the run "
        "under models/runs/<run id>/ (or --out). Prints the column mapping, progress per stage and a summary.",
    )
    r.add_argument("--input", type=Path, help="CSV, TSV, .xlsx or .md file of comments (default: the seed document in data/)")
    r.add_argument("--text-column", help="column holding the comment text (default: guessed from content and headers)")
    r.add_argument("--attribute", action="append", dest="attributes", metavar="COLUMN",
                   help="a grouping column to keep (年度, 地区, 年代, 所属 …); repeat for several (default: guessed)")
    r.add_argument("--no-attributes", action="store_true", help="keep no attribute columns")
    r.add_argument("--id-column", help="column with unique comment ids (default: guessed, else c001, c002, … in row order)")
    r.add_argument("--name", help="name of the data set, shown in the dashboard (default: the file name)")
    r.add_argument("--description", help="one or two sentences describing the data set, shown in the dashboard")
    r.add_argument("--mask", action=argparse.BooleanOptionalAction, default=None,
                   help="replace names, phone numbers, e-mail and street addresses, postal codes with tokens such as "
                        "〔人名〕 before anything is analysed or saved (default: on for --input files, off for the seed)")
    r.add_argument("--mask-allow", action="append", default=[], metavar="TERM",
                   help="a term masking must keep (e.g. a public body or place name); repeat for several")
    r.add_argument("--config", type=Path, help="TOML file with pipeline settings (see README); unknown keys are errors")
    r.add_argument("--backend", help="embedding backend: hybrid (default), sudachi, use, e5, e5-hybrid or st:<local model path>")
    r.add_argument("--seed", type=_seed, help="random seed for every random step (default 42)")
    r.add_argument("--stability", type=_stability, default=0, metavar="N",
                   help=f"also rerun UMAP + HDBSCAN with N other seeds (0-{MAX_STABILITY_SEEDS}) and store each theme's stability")
    r.add_argument("--out", type=_out_dir, help="folder to write the run to (default: models/runs/<run id>); "
                   "must not exist, be empty, or hold a run (then --force is needed)")
    r.add_argument("--force", action="store_true", help="replace the run already saved in --out")
    r.add_argument("--quiet", action="store_true", help="print only the summary")

    rp = sub.add_parser(
        "report", help="write the meeting pack of a saved run: HTML, PDF or Excel",
        description="Write a report of a saved run (the themes, their quotes, the theme × attribute table and the "
        "method) to FILE; the format follows its extension: .html (one self-contained file), .pdf (printed by "
        "chromium) or .xlsx. --filter and --words report on a subset, as the dashboard's sidebar does.",
    )
    rp.add_argument("--run", help="run id or run folder (default: the run the dashboard opens with)")
    rp.add_argument("--out", required=True, type=_out_dir, metavar="FILE", help="file to write: .html, .pdf or .xlsx")
    rp.add_argument("--filter", action="append", default=[], dest="filters", metavar="ATTRIBUTE=VALUE",
                    help="keep comments with this attribute value (e.g. 連携の分類=行政×行政); repeat for several "
                         "(values of one attribute: either; different attributes: both)")
    rp.add_argument("--words", default="", help="keep comments containing every word (space-separated; forgiving like the dashboard)")
    rp.add_argument("--force", action="store_true", help="overwrite FILE if it exists")

    j = sub.add_parser("job", help="(internal) run one background analysis job of the dashboard")
    j.add_argument("job_dir", type=Path)

    pw = sub.add_parser("password", help="print a password entry for .streamlit/secrets.toml (see README)",
                        description="Ask for a password twice and print the line to put under [passwords] in "
                        ".streamlit/secrets.toml. Only the salted hash is printed; the password is never stored.")
    pw.add_argument("user", help="user name")
    pw.add_argument("--role", choices=["閲覧", "分析"], default="閲覧", help="閲覧 (browse) or 分析 (analyse: upload, rerun, delete, publish)")
    return p


def _config(args: argparse.Namespace):
    from .config import PipelineConfig, load_config

    cfg = load_config(args.config) if args.config else PipelineConfig()
    changes = {}
    if args.backend:
        changes["embedding.backend"] = args.backend
    if args.seed is not None:
        changes["seed"] = args.seed
    return cfg.replace(**changes) if changes else cfg


def cmd_run(args: argparse.Namespace) -> int:
    from .ingest.importing import load_file
    from .ingest.seed import load_seed
    from .pipeline import SEED_INPUT, run_and_save
    from .progress import STAGE_JA
    from .schema import DatasetInfo
    from .storage import cleanup_stale_temps
    from .store.runs import models_dir

    cleanup_stale_temps(models_dir())
    cfg = _config(args)
    if args.input is None:
        comments = load_seed()
        info = SEED_INPUT
    else:
        attrs = [] if args.no_attributes else args.attributes
        res = load_file(args.input, args.text_column, attrs, args.id_column)
        comments = res.comments
        m = res.report.mapping
        info = DatasetInfo(name=args.input.name, kind="file", source=str(args.input.resolve()),
                           encoding=res.report.encoding, sheet=res.report.sheet,
                           columns={"text": m.get("text"), "id": m.get("id"), "attributes": list(m.get("attributes", {}))},
                           ids="user" if m.get("id") else "generated")
        attr_names = list(m.get("attributes", {}).values())
        print(f"本文の列: 「{m.get('text')}」 ／ ID の列: {('「' + str(m['id']) + '」') if m.get('id') else 'なし（c001 から自動で付けます）'}"
              f" ／ 属性の列: {'、'.join('「' + a + '」' for a in attr_names) or 'なし'}", flush=True)
        ignored = m.get("ignored") or {}
        if ignored:
            print("使わない列: " + "、".join(f"「{c}」（{why}）" for c, why in ignored.items()), flush=True)
        print(res.report.summary_ja(), flush=True)
    if args.mask or (args.mask is None and args.input is not None):
        from .ingest.masking import mask_comments, mask_summary

        comments, review = mask_comments(comments, allow=args.mask_allow)
        counts = mask_summary(review)
        info = info.replace(masked={"on": True, "counts": counts, "allow": list(args.mask_allow)})
        shown = "、".join(f"{k} {v}" for k, v in counts.items())
        print(f"個人情報の可能性がある {len(review)} か所を伏せ字にしました{('（' + shown + '）') if shown else ''}。"
              "伏せ字にした本文だけを分析・保存します。", flush=True)
    else:
        info = info.replace(masked={"on": False})
    if args.name:
        info = info.replace(name=args.name)
    if args.description:
        info = info.replace(description=args.description)
    start = time.perf_counter()
    last = {"stage": None}

    def progress(stage: str, frac: float, detail: str) -> None:
        if args.quiet or stage == last["stage"]:
            return
        last["stage"] = stage
        print(f"[{time.perf_counter() - start:6.1f}s] {detail or STAGE_JA.get(stage, stage)}", flush=True)

    run = run_and_save(comments, cfg, info, progress, out_dir=args.out, replace=args.force,
                       stability_seeds=args.stability)
    q, tm = run.manifest["quality"], run.manifest["timings"]
    sil = "—" if q["silhouette"] is None else f"{q['silhouette']:.3f}"
    print(f"run: {run.run_id}")
    print(f"saved to: {run.path}")
    print(f"comments: {q['n_comments']}  clusters: {q['n_clusters']}  noise share: {q['noise_share']:.1%}  silhouette: {sil}")
    if "stability" in run.manifest:
        st = run.manifest["stability"]
        print(f"stability over seeds {st['seeds']}: mean ARI {st['mean_ari']}, mean theme stability {st['mean_cluster_stability']}")
    for notice in run.manifest.get("notices", []):
        print(f"お知らせ: {notice}")
    print("seconds per stage: " + "  ".join(f"{k} {tm[k]:.2f}" for k in _STAGE_ORDER if k in tm) + f"  total {sum(tm.values()):.2f}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from . import report
    from .pipeline import opening_run
    from .store.runs import load_run

    report.report_format(args.out)  # a wrong extension is reported before any work
    if args.out.exists() and not args.force:
        raise report.ReportError(f"「{args.out}」はすでにあります。上書きするときは --force を付けてください。")
    selected: dict[str, list[str]] = {}
    for item in args.filters:
        attr, sep, value = item.partition("=")
        if not sep or not attr.strip() or not value.strip():
            raise report.ReportError(f"--filter は「属性=値」の形で指定してください（例: 連携の分類=行政×行政。指定: {item}）。")
        selected.setdefault(attr.strip(), []).append(value.strip())
    ref = args.run or opening_run()
    if ref is None:
        raise report.ReportError("報告書にする分析結果がありません。先に「python -m analysis run」で分析してください。")
    start = time.perf_counter()
    run = load_run(ref)
    table, described = report.filter_table(run, selected, args.words)
    if table.empty:
        raise report.ReportError(f"絞り込みの条件（{described}）に合うコメントがありません。")
    data = report.build_report(run, table, described if (selected or args.words.strip()) else None)
    path = report.write_report(data, args.out, force=args.force)
    print(f"報告書を書き出しました: {path}（コメント {data.n_comments} 件・テーマ {len(data.themes)} 個、"
          f"{time.perf_counter() - start:.1f} 秒）")
    return 0


def cmd_job(args: argparse.Namespace) -> int:
    from .pipeline import run_job

    return run_job(args.job_dir)


def cmd_password(args: argparse.Namespace) -> int:
    import getpass

    from .store.accounts import hash_password, secrets_line

    first = getpass.getpass("パスワード: ")
    again = getpass.getpass("もう一度: ")
    if first != again:
        print("エラー: 2回の入力が一致しません。", file=sys.stderr)
        return 2
    if len(first) < 8:
        print("エラー: パスワードは8文字以上にしてください。", file=sys.stderr)
        return 2
    print(secrets_line(args.user, hash_password(first), args.role))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "report": cmd_report, "job": cmd_job, "password": cmd_password}[args.command](args)
    except UserError as exc:
        print(f"エラー: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("中断しました。途中の結果は保存していません。", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
