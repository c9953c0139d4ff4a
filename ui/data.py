"""Cached access to saved runs and to the (cheap) derived tables the pages show.

Streamlit caches are process-wide; every cached function here is keyed by the run folder and a
*stamp* made of the manifest's and ``labels.json``'s modification times, so a renamed theme or a
re-saved run is picked up on the next rerun while browsing a saved run never recomputes the
embedding or UMAP. ``st.cache_data`` hands out copies, so a page may modify what it gets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from analysis import kwic as kwic_mod
from analysis import overlaps, quotes
from analysis.runs import NOISE, Run, list_runs, load_run, runs_dir

Stamp = tuple[int, int]


def run_stamp(path: str | Path) -> Stamp:
    """(manifest mtime, labels.json mtime or 0) in ns: changes whenever the run changes on disk."""
    p = Path(path)
    labels = p / "labels.json"
    return (
        (p / "manifest.json").stat().st_mtime_ns,
        labels.stat().st_mtime_ns if labels.exists() else 0,
    )


def _dir_stamp() -> tuple[str, int]:
    d = runs_dir()
    return str(d), (d.stat().st_mtime_ns if d.exists() else 0)


@st.cache_data(show_spinner=False, max_entries=4)
def _list_runs(_key: tuple[str, int]) -> pd.DataFrame:
    return list_runs()


def saved_runs() -> pd.DataFrame:
    """:func:`analysis.runs.list_runs`, cached until a run is added or removed."""
    return _list_runs(_dir_stamp())


@st.cache_data(show_spinner=False, max_entries=8)
def _load(path: str, stamp: Stamp) -> Run:
    return load_run(path)


def get_run(path: str | Path) -> Run:
    """The saved run in ``path`` (a cached copy)."""
    return _load(str(path), run_stamp(path))


def clear_caches() -> None:
    """Forget every cached run and derived table (after a rename, a delete or a new run)."""
    st.cache_data.clear()


# --------------------------------------------------------------------------- derived tables


@st.cache_data(show_spinner=False, max_entries=8)
def _table(path: str, stamp: Stamp) -> pd.DataFrame:
    run = _load(path, stamp)
    t = run.table()
    parents = run.clusters.drop_duplicates("parent").set_index("parent")["parent_label"]
    t["broad_label"] = t["broad"].map(parents).fillna("未分類")
    t["_row"] = np.arange(len(t))
    return t


def run_table(path: str | Path) -> pd.DataFrame:
    """``Run.table()`` plus ``broad_label`` and ``_row`` (the comment's row in the embeddings)."""
    return _table(str(path), run_stamp(path))


@st.cache_data(show_spinner=False, max_entries=64)
def _quotes(path: str, stamp: Stamp, cluster: int, k: int | None, ids: tuple[str, ...] | None) -> pd.DataFrame:
    run = _load(path, stamp)
    a = run.assignments
    if ids is not None:
        a = a[a["comment_id"].astype(str).isin(set(ids))]
    return quotes.representative_quotes(run.comments, a, run.embeddings, cluster, k=k)


def representative(path: str | Path, cluster: int, k: int | None = 5, ids: list[str] | None = None) -> pd.DataFrame:
    """Representative quotes of ``cluster`` among ``ids`` (all comments when ``None``)."""
    return _quotes(str(path), run_stamp(path), int(cluster), k, tuple(ids) if ids is not None else None)


@st.cache_data(show_spinner=False, max_entries=32)
def _per_group(path: str, stamp: Stamp, cluster: int, by: str, ids: tuple[str, ...] | None) -> pd.DataFrame:
    run = _load(path, stamp)
    a = run.assignments
    if ids is not None:
        a = a[a["comment_id"].astype(str).isin(set(ids))]
    return overlaps.quote_per_group(run.comments, a, run.embeddings, cluster, by=by)


def quote_per_group(path: str | Path, cluster: int, by: str, ids: list[str] | None = None) -> pd.DataFrame:
    return _per_group(str(path), run_stamp(path), int(cluster), by, tuple(ids) if ids is not None else None)


@st.cache_data(show_spinner=False, max_entries=32)
def _similar_clusters(path: str, stamp: Stamp, cluster: int, k: int) -> pd.DataFrame:
    run = _load(path, stamp)
    return overlaps.similar_clusters(run.assignments, run.embeddings, cluster, k=k)


def similar_clusters(path: str | Path, cluster: int, k: int = 3) -> pd.DataFrame:
    return _similar_clusters(str(path), run_stamp(path), int(cluster), k)


@st.cache_data(show_spinner=False, max_entries=32)
def _pairs(path: str, stamp: Stamp, a: str, b: str, k: int, by: str, ids: tuple[str, ...] | None) -> pd.DataFrame:
    run = _load(path, stamp)
    comments, emb = run.comments, run.embeddings
    if ids is not None:
        mask = comments["comment_id"].astype(str).isin(set(ids)).to_numpy()
        comments, emb = comments[mask].reset_index(drop=True), emb[mask]
    return overlaps.cross_category_pairs(comments, emb, a, b, k=k, by=by)


def cross_pairs(path: str | Path, a: str, b: str, k: int = 10, by: str = "category", ids: list[str] | None = None) -> pd.DataFrame:
    return _pairs(str(path), run_stamp(path), a, b, k, by, tuple(ids) if ids is not None else None)


def similar_to(path: str | Path, comment_id: str, k: int = 10, ids: list[str] | None = None) -> pd.DataFrame:
    """"More like this": the ``k`` comments nearest to ``comment_id`` (among ``ids``), with 類似度."""
    run = get_run(path)
    table = run_table(path)
    pos = {c: i for i, c in enumerate(table["comment_id"].astype(str))}
    if comment_id not in pos:
        return table.iloc[0:0].assign(similarity=[])
    cand = None
    if ids is not None:
        cand = np.array([pos[i] for i in ids if i in pos], dtype=int)
    hits = quotes.similar_comments(run.embeddings, pos[comment_id], k=k, candidates=cand)
    rows = table.iloc[[h[0] for h in hits]].copy()
    rows["similarity"] = [h[1] for h in hits]
    return rows


@st.cache_resource(show_spinner=False, max_entries=2)
def _query_encoder(path: str, stamp: Stamp):
    """The run's query encoder: loads the embedding model and encodes the comments once per run."""
    from analysis.search import QueryEncoder

    return QueryEncoder.for_run(_load(path, stamp))


def search_meaning(path: str | Path, query: str, k: int = 10, ids: list[str] | None = None) -> pd.DataFrame:
    """Comments nearest in meaning to the typed ``query`` (among ``ids``), with 類似度.

    The first call for a run loads the embedding model (seconds); :class:`analysis.embedding.EmbeddingError`
    carries a Japanese message when the run's backend cannot be used here.
    """
    from analysis.search import search_by_meaning

    encoder = _query_encoder(str(path), run_stamp(path))
    rows = search_by_meaning(get_run(path), encoder, query, k=k, ids=ids)
    table = run_table(path)
    table = table.set_index(table["comment_id"].astype(str))
    out = table.loc[rows["comment_id"].astype(str)].reset_index(drop=True)
    out["similarity"] = rows["similarity"].to_numpy()
    return out


def varied_set(path: str | Path, n: int, ids: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
    run = get_run(path)
    return quotes.suggest_varied_set(run.comments, run.assignments, run.embeddings, n, candidate_ids=ids, seed=seed)


def kwic(path: str | Path, word: str, ids: list[str] | None = None, width: int = 20) -> pd.DataFrame:
    return kwic_mod.kwic(get_run(path).comments, word, width=width, ids=ids)


@st.cache_resource(show_spinner=False)
def _plain_tokenizer():
    """A tokenizer without stopwords, so every saved keyword can be found again even if the
    stopword list changed after the run was made (it keeps one SudachiPy tokenizer per thread)."""
    from analysis.tokens import SudachiTokenizer

    return SudachiTokenizer(stopwords=())


@st.cache_data(show_spinner=False, max_entries=8)
def _token_keys(path: str, stamp: Stamp) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """Per comment, the set of normalised word keys; and surface -> key for every surface seen."""
    run = _load(path, stamp)
    tok = _plain_tokenizer()
    keys: dict[str, frozenset[str]] = {}
    surface_to_key: dict[str, str] = {}
    for cid, text in zip(run.comments["comment_id"].astype(str), run.comments["text"]):
        words = tok.content_words(text)
        keys[cid] = frozenset(w.key for w in words)
        for w in words:
            surface_to_key.setdefault(w.surface, w.key)
    return keys, surface_to_key


def keyword_counts(path: str | Path, keywords: list[str], ids: list[str]) -> pd.DataFrame:
    """For each keyword, how many of the comments ``ids`` contain it (as a word, any inflection)."""
    keys, s2k = _token_keys(str(path), run_stamp(path))
    rows = []
    for w in keywords:
        k = s2k.get(w, w)
        rows.append({"word": w, "count": sum(1 for i in ids if k in keys.get(str(i), frozenset()))})
    return pd.DataFrame(rows, columns=["word", "count"])


def theme_options(run: Run, table: pd.DataFrame) -> list[int]:
    """Cluster ids ordered by size (largest first), 未分類 last if present."""
    ids = [int(c) for c in run.clusters.sort_values(["size", "cluster"], ascending=[False, True])["cluster"]]
    if (table["cluster"] == NOISE).any():
        ids.append(NOISE)
    return ids


@st.cache_data(show_spinner=False, max_entries=8)
def _comparison(a: str, b: str, stamp_a: Stamp, stamp_b: Stamp):
    from analysis.compare import compare_runs, comparison_sankey

    ra, rb = get_run(a), get_run(b)
    common = set(ra.comments["comment_id"].astype(str)) & set(rb.comments["comment_id"].astype(str))
    if not common:
        return None, None
    return compare_runs(ra, rb), comparison_sankey(ra, rb)


def comparison(a: str | Path, b: str | Path):
    """(table of theme changes, Sankey figure) between two saved runs, or (None, None) if they share no comment."""
    return _comparison(str(a), str(b), run_stamp(a), run_stamp(b))
