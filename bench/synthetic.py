"""Synthetic comment corpora of any size, made from the seed document (for benchmarks only).

Each synthetic comment joins two or three clauses of seed comments of one partnership category
(so themes keep some structure), with an optional lead-in and a sentence ending drawn from short
lists, so the texts read like the seed and are all distinct. At n = 108 the seed itself is used.

    python -m bench.synthetic 10        # print ten synthetic comments
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analysis.ingest.comments import comments_from_table
from analysis.ingest.seed import load_seed
from analysis.schema import SEED_CATEGORY, SEED_ROLE

LEADS = ("", "", "", "正直なところ、", "現場では", "以前から", "最近は", "私の地域では", "担当として", "率直に言うと、")
ENDINGS = ("。", "。", "と感じる。", "ことがある。", "のが悩みです。", "場面が多い。", "と思います。", "のが現状です。",
           "気がします。", "と聞きます。", "ので困っています。", "のではないか。")


def clauses(text: str) -> list[str]:
    """Clauses of a comment: split at sentence ends and commas, trailing punctuation removed."""
    parts = re.split(r"[。！？!?]|、|，", text)
    return [p.strip(" 　「」") for p in parts if len(p.strip()) >= 6]


def synthetic_comments(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` distinct comments in the ``analysis.ingest.comments`` schema (ids ``c000001``...)."""
    base = load_seed()
    if n == len(base):
        return base
    rng = np.random.default_rng(seed)
    by_cat: dict[str, list[tuple[str, str]]] = {}
    for text, cat, role in zip(base["text_norm"], base[SEED_CATEGORY], base[SEED_ROLE]):
        for c in clauses(text):
            by_cat.setdefault(cat, []).append((c, role))
    cats = list(by_cat)
    seen: set[str] = set()
    rows = []
    while len(rows) < n:
        cat = cats[rng.integers(len(cats))]
        pool = by_cat[cat]
        k = 2 if rng.random() < 0.7 else 3
        picks = [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]
        text = LEADS[rng.integers(len(LEADS))] + "、".join(p[0] for p in picks) + ENDINGS[rng.integers(len(ENDINGS))]
        if text in seen:
            continue
        seen.add(text)
        rows.append((text, cat, picks[0][1]))
    table = pd.DataFrame(rows, columns=["本文", SEED_CATEGORY, SEED_ROLE])
    return comments_from_table(table, "本文", [SEED_CATEGORY, SEED_ROLE]).comments


if __name__ == "__main__":  # python -m bench.synthetic [n]
    import sys

    df = synthetic_comments(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    for t in df["text"].head(10):
        print(t)
