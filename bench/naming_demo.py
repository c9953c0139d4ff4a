"""Theme names and summaries side by side with today's keyword labels, plus timings.

    python -m bench.naming_demo              # seed themes (hand-made + KMeans) and timings
    python -m bench.naming_demo --pipeline   # also the default pipeline run on the seed, named with
                                             # the run's own encoder (needs the embedding model; ~15 s)

Themes here use a model-free stand-in embedding (character 2-3-gram TF-IDF, as in the tests) unless
``--pipeline`` is given. Timings: naming + summaries on synthetic corpora of 1,000 and 10,000
comments with 100 themes (cold tokenizer, so SudachiPy analysis is included), and word search.
Results go to ``bench/results/naming-<time>.md``.
"""

from __future__ import annotations

import gc
import re
import sys
import time

import numpy as np

from analysis.corpus import load_seed
from analysis.keywords import cluster_keywords, label_from_keywords
from analysis.naming import name_themes, summarize_themes
from analysis.textsearch import TextIndex
from analysis.tokens import NO_TERMS, SudachiTokenizer

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


def timings(lines: list[str]) -> list[dict]:
    from sklearn.cluster import MiniBatchKMeans
    from bench.synthetic import synthetic_comments

    rows = []
    lines.append("\n### Timings (synthetic corpora, 100 themes, new tokenizer per call so SudachiPy analysis is included)\n")
    lines.append("| comments | encode | names s | summaries s | total s | index build s "
                 "| matches() ms median / p95 / max (11 queries x 5) | mask() ms median / max |")
    lines.append("|---|---|---|---|---|---|---|---|")
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
            t = time.perf_counter()
            names = name_themes(texts, labels, emb, kw, tokenizer=tok, encode=enc)
            t_names = time.perf_counter() - t
            t = time.perf_counter()
            summarize_themes(texts, labels, emb, tokenizer=tok, encode=enc, names=names)
            t_sum = time.perf_counter() - t
            rows.append({"n": n, "encode": mode, "names_s": t_names, "summaries_s": t_sum, "index_s": t_index,
                         "query_ms": per_query, "mask_ms": per_mask})
            lines.append(f"| {n:,} | {mode} | {t_names:.2f} | {t_sum:.2f} | {t_names + t_sum:.2f} | {t_index:.2f} "
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
    if "--pipeline" in sys.argv:
        from analysis.config import PipelineConfig
        from analysis.pipeline import run_pipeline
        from analysis.search import QueryEncoder

        cfg = PipelineConfig()
        run = run_pipeline(seed, cfg)
        enc = QueryEncoder(texts, cfg.embedding, cfg.seed).encode
        labels = run.assignments["cluster"].to_numpy()
        show("Seed, default pipeline run (HDBSCAN themes; encode = the run's QueryEncoder)", texts, labels, run.embeddings, enc, lines, ids)
        broad = run.assignments["broad"].to_numpy()
        fine = name_themes(texts, labels, run.embeddings, encode=enc)
        bn = name_themes(texts, broad, run.embeddings, encode=enc, avoid=[x.name for x in fine.values()])
        lines.append("\nBroad themes: " + " / ".join(f"{c}: {bn[c].name}" for c in sorted(bn)))
    rows = timings(lines)
    from bench.report import save

    save("naming", rows, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
