"""Theme names and summaries side by side with today's keyword labels, plus timings.

    python -m bench.naming_demo                  # seed themes (hand-made + KMeans) and timings
    python -m bench.naming_demo --run RUN_DIR    # also a saved run: its names then and now, with three
                                                 # member comments per theme (the run's own embedder)
    python -m bench.naming_demo --no-timings     # names only

Themes here use a model-free stand-in embedding (character 2-3-gram TF-IDF, as in the tests) unless
``--run`` is given. Timings: naming + summaries on synthetic corpora of 1,000 and 10,000
comments with 100 themes (cold tokenizer, so SudachiPy analysis is included), and word search, with
the load average at the start of each measurement (2 shared cores: read timings against it).
Results go to ``bench/results/naming-<time>.md``.
"""

from __future__ import annotations

import gc
import re
import sys
import time
from pathlib import Path

import numpy as np

from analysis.ingest.seed import load_seed
from analysis.text.textsearch import TextIndex
from analysis.text.tokens import NO_TERMS, SudachiTokenizer
from analysis.themes.keywords import cluster_keywords, label_from_keywords
from analysis.themes.naming import name_themes
from analysis.themes.summaries import summarize_themes

GROUPS = {
    0: r"たらい回し|丸投げ|押し付け|押しつけ|なすりつけ",
    1: r"個人情報|守秘|情報共有|情報提供",
    2: r"民生委員|地域住民|住民",
    3: r"庁内|縦割り|部局|部署",
}


def char_space(texts, dims: int | None = None):
    """Stand-in embedding space: (embeddings (n, d), encode). ``dims``: reduce with SVD (large corpora)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), min_df=1 if dims is None else 2).fit(texts)
    if dims is None:
        def encode(xs):
            return normalize(vec.transform(list(xs))).toarray().astype(np.float32)
    else:
        svd = TruncatedSVD(dims, random_state=0).fit(vec.transform(texts))

        def encode(xs):
            return normalize(svd.transform(vec.transform(list(xs)))).astype(np.float32)
    return encode(texts), encode


def old_labels(texts, labels) -> dict[int, str]:
    """Today's labels: c-TF-IDF keywords without the terms list, nouns first, three joined with ・."""
    tok = SudachiTokenizer(terms=NO_TERMS)
    docs = [tok.content_words(t) for t in texts]
    nouns = {t.surface for d in docs for t in d if t.pos == "名詞"}
    out = {}
    for c, kw in cluster_keywords(docs, labels, n_keywords=10).items():
        words = [w for w, _ in kw]
        out[c] = label_from_keywords([w for w in words if w in nouns] + [w for w in words if w not in nouns])
    return out


def keywords(texts, labels, tok) -> dict[int, list[str]]:
    docs = [tok.content_words(t) for t in texts]
    return {c: [w for w, _ in v] for c, v in cluster_keywords(docs, labels, n_keywords=10).items()}


def show(title: str, texts, labels, emb, encode, lines: list[str], ids=None) -> None:
    tok = SudachiTokenizer()
    kw = keywords(texts, labels, tok)
    old = old_labels(texts, labels)
    lines.append(f"\n### {title}\n")
    lines.append("| theme | n | old label | new name (encode) | new name (lexical) | summary (encode) |")
    lines.append("|---|---|---|---|---|---|")
    named = {}
    for mode, enc in (("encode", encode), ("lexical", None)):
        named[mode] = name_themes(texts, labels, emb, kw, tokenizer=tok, encode=enc)
    sums = summarize_themes(texts, labels, emb, tokenizer=tok, encode=encode, names=named["encode"])
    for c in sorted(named["encode"]):
        s = sums[c]
        quote = f"「{s.text}」({ids[s.row] if ids is not None else s.row})"
        lines.append(f"| {c} | {named['encode'][c].n_comments} | {old.get(c, '')} | {named['encode'][c].name or '(テーマ' + str(c + 1) + ')'} "
                     f"| {named['lexical'][c].name or '(テーマ' + str(c + 1) + ')'} | {quote} |")


def saved_run(path: str, lines: list[str]) -> None:
    """A saved run's themes: the name it was saved with, today's name, and three member comments
    (those carrying the name first, then the closest to the theme's centre), as the pipeline names
    them (:func:`analysis.themes.describe.naming_space`)."""
    from analysis.store.runs import load_run
    from analysis.themes.describe import naming_space

    run = load_run(path)
    table = run.table()
    texts = table["text"].astype(str).tolist()
    labels = table["cluster"].to_numpy()
    kw = {int(r.cluster): list(r.keywords) for r in run.clusters.itertuples()}
    saved = {int(r.cluster): str(r.label) for r in run.clusters.itertuples()}
    summary = {int(r.cluster): (str(r.summary), str(r.summary_id)) for r in run.clusters.itertuples()}
    old = old_labels(texts, labels)
    space, encode = naming_space(run.embedder(), texts, np.asarray(run.embeddings))
    space = np.asarray(space, dtype=np.float32)
    names = name_themes(texts, labels, space, kw, encode=encode)
    lines.append(f"\n### Saved run {Path(path).name} (the run's own embedder)\n")
    lines.append("| theme | n | old keyword label | saved name | name now | topic / problem | summary quote | "
                 "members (first 50 characters) |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for c in sorted(names):
        nm = names[c]
        rows = np.flatnonzero(labels == c)
        mid = space[rows].astype(np.float64).mean(axis=0)
        close = space[rows].astype(np.float64) @ mid
        order = sorted(range(len(rows)), key=lambda i: (int(rows[i]) not in nm.rows, -round(float(close[i]), 9), int(rows[i])))
        quotes = " ／ ".join("「" + texts[rows[i]][:50].replace("|", "｜") + "」" for i in order[:3])
        shown = (nm.name or f"(テーマ{c + 1})") + (" †" if nm.fallback else "")
        quote, qid = summary.get(c, ("", ""))
        lines.append(f"| {c} | {nm.n_comments} | {old.get(c, '')} | {saved.get(c, '')} | {shown} "
                     f"| {nm.topic or '–'} / {nm.problem or '–'} | 「{quote.replace('|', '｜')}」({qid}) | {quotes} |")
    lines.append("\n† last resort: no phrase is shared by two members; named from single comments.")


def timings(lines: list[str]) -> list[dict]:
    import os

    from sklearn.cluster import MiniBatchKMeans

    from bench.synthetic import synthetic_comments

    rows = []
    lines.append("\n### Timings (synthetic corpora, 100 themes, new tokenizer per call so SudachiPy analysis is included)\n")
    lines.append("| comments | encode | names s | summaries s | total s | load avg 1 / 5 min | index build s "
                 "| matches() ms median / p95 / max (11 queries x 5) | mask() ms median / max |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    queries = ["たらいまわし", "守秘義務", "取組", "ケアマネ", "支援", "情報共有 民生委員", "社協", "ｿｰｼｬﾙ", "機関", "地域", "会議"]
    # Warm-up: the SudachiPy dictionary and the word lists load once per process (as in the app).
    warm = load_seed()["text_norm"].tolist()[:20]
    name_themes(warm, np.arange(20) % 2, np.eye(20), tokenizer=SudachiTokenizer())
    for n in (1000, 10000):
        texts = synthetic_comments(n, seed=0)["text_norm"].tolist()
        emb, encode = char_space(texts, dims=128)
        labels = MiniBatchKMeans(100, random_state=0, n_init=3).fit_predict(emb)
        kw = keywords(texts, labels, SudachiTokenizer())
        t = time.perf_counter()
        index = TextIndex(texts, SudachiTokenizer())
        t_index = time.perf_counter() - t
        per_query = []
        gc.collect()
        for _ in range(5):
            for q in queries:
                t = time.perf_counter()
                index.matches(q)
                per_query.append((time.perf_counter() - t) * 1000)
        per_mask = []
        for q in queries:
            t = time.perf_counter()
            index.mask(q)
            per_mask.append((time.perf_counter() - t) * 1000)
        for mode, enc in (("lexical", None), ("stand-in", encode)):
            tok = SudachiTokenizer()
            load = os.getloadavg()
            t = time.perf_counter()
            names = name_themes(texts, labels, emb, kw, tokenizer=tok, encode=enc)
            t_names = time.perf_counter() - t
            t = time.perf_counter()
            summarize_themes(texts, labels, emb, tokenizer=tok, encode=enc, names=names)
            t_sum = time.perf_counter() - t
            rows.append({"n": n, "encode": mode, "names_s": t_names, "summaries_s": t_sum, "index_s": t_index,
                         "query_ms": per_query, "mask_ms": per_mask, "load": load[:2],
                         "with_problem": sum(x.problem is not None for x in names.values()), "themes": len(names)})
            lines.append(f"| {n:,} | {mode} | {t_names:.2f} | {t_sum:.2f} | {t_names + t_sum:.2f} | {load[0]:.2f} / {load[1]:.2f} | {t_index:.2f} "
                         f"| {np.median(per_query):.1f} / {np.percentile(per_query, 95):.1f} / {max(per_query):.1f} "
                         f"| {np.median(per_mask):.1f} / {max(per_mask):.1f} |")
    return rows


def main() -> None:
    seed = load_seed()
    texts = seed["text_norm"].tolist()
    ids = seed["comment_id"].tolist()
    emb, encode = char_space(texts)
    lines = ["## Theme names: old keyword labels vs phrase names"]
    hand = np.array([next((g for g, pat in GROUPS.items() if re.search(pat, t)), -1) for t in texts])
    show("Seed, hand-made themes (たらい回し/丸投げ, 個人情報/情報共有, 民生委員/住民, 庁内/縦割り), stand-in embedding",
         texts, hand, emb, encode, lines, ids)
    from sklearn.cluster import KMeans

    km = KMeans(8, random_state=0, n_init=10).fit_predict(emb)
    show("Seed, KMeans k=8 on the stand-in embedding", texts, km, emb, encode, lines, ids)
    if "--run" in sys.argv:
        saved_run(sys.argv[sys.argv.index("--run") + 1], lines)
    rows = timings(lines) if "--no-timings" not in sys.argv else []
    from bench.report import save

    save("naming", rows, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
