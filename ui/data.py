"""Cached access to saved runs and the (cheap) derived tables pages show.

Streamlit caches are process-wide. Every cached function here is keyed by the run folder and a
*stamp* of what is on disk (the manifest's and the edit files' modification times), passed as a
normal argument so Streamlit hashes it: a run renamed, made or deleted by another session, the
CLI or a notebook shows up on the next rerun, while browsing never recomputes an embedding or
UMAP. Runs are shared read-only between sessions (``st.cache_resource``): pages copy before they
change a table (``apply_filters`` returns a new frame).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.explore import overlaps, quotes
from analysis.schema import NOISE
from analysis.store.runs import Run, RunError, list_runs, load_run, runs_dir
from analysis.text import kwic as kwic_mod

Stamp = tuple[int, ...]
_EDIT_FILES = ("labels.json", "edits.json")


def run_stamp(path: str | Path) -> Stamp:
    """Modification times (ns) of the manifest and the edit files: changes whenever the run does."""
    p = Path(path)
    out = []
    for name in ("manifest.json",) + _EDIT_FILES:
        try:
            out.append((p / name).stat().st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)


def runs_stamp() -> tuple:
    """Changes when a run folder is added, removed or changed (its manifest or edits)."""
    d = runs_dir()
    try:
        entries = [e for e in os.scandir(d) if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return (str(d),)
    return (str(d),) + tuple((e.name,) + run_stamp(e.path) for e in sorted(entries, key=lambda e: e.name))


@st.cache_data(show_spinner=False, max_entries=4, ttl=3600)
def _list_runs(stamp: tuple) -> pd.DataFrame:
    return list_runs()


def _broken() -> dict[str, tuple[Stamp, str]]:
    return _registry()["broken"]


@st.cache_resource(show_spinner=False)
def _registry() -> dict:
    """Process-wide: runs that failed to load (path -> (stamp, reason)), and a lock."""
    return {"broken": {}, "lock": threading.Lock()}


def saved_runs() -> pd.DataFrame:
    """:func:`analysis.store.runs.list_runs`, plus runs that failed to load in full marked ``ok=False``."""
    runs = _list_runs(runs_stamp()).copy()
    broken = _broken()
    for i, row in runs.iterrows():
        hit = broken.get(row["path"])
        if hit is not None and hit[0] == run_stamp(row["path"]):
            runs.at[i, "ok"] = False
            runs.at[i, "problem"] = hit[1]
    return runs


@st.cache_resource(show_spinner=False, max_entries=6)
def _load(path: str, stamp: Stamp) -> Run:
    return load_run(path)


def get_run(path: str | Path) -> Run:
    """The saved run in ``path``, shared read-only between sessions.

    Raises :class:`analysis.store.runs.RunError` when it cannot be read; the run is then listed as broken.
    """
    stamp = run_stamp(path)
    try:
        return _load(str(path), stamp)
    except RunError as exc:
        with _registry()["lock"]:
            _broken()[str(path)] = (stamp, str(exc))
        raise


def clear_caches() -> None:
    """Forget every cached table (after a rename, a delete or a new run); runs stay keyed by stamp."""
    st.cache_data.clear()


# --------------------------------------------------------------------------- derived tables


@st.cache_resource(show_spinner=False, max_entries=6)
def _table(path: str, stamp: Stamp) -> pd.DataFrame:
    return _load(path, stamp).table()


def run_table(path: str | Path) -> pd.DataFrame:
    """``Run.table()`` (shared, read-only: copy before changing it)."""
    return _table(str(path), run_stamp(path))


@st.cache_resource(show_spinner=False, max_entries=6)
def _text_index(path: str, stamp: Stamp):
    from analysis.text.textsearch import TextIndex

    return TextIndex(_load(path, stamp).comments["text"].tolist())


def text_index(path: str | Path):
    """The run's forgiving word index (surface, normalised form and reading)."""
    return _text_index(str(path), run_stamp(path))


def _ids_key(ids: list[str] | None) -> tuple[str, ...] | None:
    return tuple(ids) if ids is not None else None


@st.cache_data(show_spinner=False, max_entries=64)
def _quotes(path: str, stamp: Stamp, cluster: int, k: int | None, ids: tuple[str, ...] | None) -> pd.DataFrame:
    run = _load(path, stamp)
    a = run.assignments
    if ids is not None:
        a = a[a["comment_id"].astype(str).isin(set(ids))]
    return quotes.representative_quotes(run.comments, a, run.embeddings, cluster, k=k, group_by=run.primary_attribute)


def representative(path: str | Path, cluster: int, k: int | None = 5, ids: list[str] | None = None) -> pd.DataFrame:
    """Representative quotes of ``cluster`` among ``ids`` (all comments when ``None``)."""
    return _quotes(str(path), run_stamp(path), int(cluster), k, _ids_key(ids))


@st.cache_data(show_spinner=False, max_entries=32)
def _per_group(path: str, stamp: Stamp, cluster: int, by: str, ids: tuple[str, ...] | None) -> pd.DataFrame:
    run = _load(path, stamp)
    a = run.assignments
    if ids is not None:
        a = a[a["comment_id"].astype(str).isin(set(ids))]
    return overlaps.quote_per_group(run.comments, a, run.embeddings, cluster, by=by)


def quote_per_group(path: str | Path, cluster: int, by: str, ids: list[str] | None = None) -> pd.DataFrame:
    return _per_group(str(path), run_stamp(path), int(cluster), by, _ids_key(ids))


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


def cross_pairs(path: str | Path, a: str, b: str, by: str, k: int = 10, ids: list[str] | None = None) -> pd.DataFrame:
    return _pairs(str(path), run_stamp(path), a, b, k, by, _ids_key(ids))


def similar_to(path: str | Path, comment_id: str, k: int = 10, ids: list[str] | None = None) -> pd.DataFrame:
    """"More like this": the ``k`` comments nearest to ``comment_id`` (among ``ids``), with 類似度."""
    import numpy as np

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


_ENCODE_LOCK = threading.Lock()


def search_meaning(path: str | Path, query: str, k: int = 10, ids: list[str] | None = None) -> pd.DataFrame:
    """Comments nearest in meaning to the typed ``query`` (among ``ids``), with 類似度.

    The first call for a run loads the embedding model (seconds); :class:`analysis.themes.embedding.EmbeddingError`
    carries a Japanese message when the run's backend cannot be used here.
    """
    from analysis.explore.search import search_by_meaning

    run = get_run(path)
    with _ENCODE_LOCK:  # the model loads once; sessions share the run object
        run.embedder()
    rows = search_by_meaning(run, query, k=k, ids=ids)
    table = run_table(path)
    table = table.set_index(table["comment_id"].astype(str))
    out = table.loc[rows["comment_id"].astype(str)].reset_index(drop=True)
    out["similarity"] = rows["similarity"].to_numpy()
    return out


def varied_set(path: str | Path, n: int, ids: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
    run = get_run(path)
    return quotes.suggest_varied_set(run.comments, run.assignments, run.embeddings, n, candidate_ids=ids, seed=seed,
                                     group_by=run.primary_attribute)


def kwic(path: str | Path, word: str, ids: list[str] | None = None, width: int = 20) -> pd.DataFrame:
    """Words in context, matched as forgivingly as every other search box (the run's word index)."""
    return kwic_mod.kwic(get_run(path).comments, word, width=width, ids=ids, index=text_index(path))


@st.cache_resource(show_spinner=False, max_entries=6)
def _keyword_index(path: str, stamp: Stamp):
    from analysis.themes.keywords import KeywordIndex

    return KeywordIndex(_load(path, stamp).comments)


def keyword_counts(path: str | Path, words: list[str], ids: list[str]) -> pd.DataFrame:
    """For each keyword, how many of the comments ``ids`` contain it (as a word, any inflection)."""
    return _keyword_index(str(path), run_stamp(path)).counts(words, ids)


def theme_options(run: Run, table: pd.DataFrame) -> list[int]:
    """Cluster ids ordered by size (largest first), 未分類 last if present."""
    ids = [int(c) for c in run.clusters.sort_values(["size", "cluster"], ascending=[False, True])["cluster"]]
    if (table["cluster"] == NOISE).any():
        ids.append(NOISE)
    return ids


@st.cache_data(show_spinner=False, max_entries=8)
def _comparison(a: str, b: str, stamp_a: Stamp, stamp_b: Stamp):
    from analysis.explore.compare import compare_runs, comparison_sankey, matched_count

    ra, rb = _load(a, stamp_a), _load(b, stamp_b)
    n, key = matched_count(ra, rb)
    if not n:
        return None, None, 0, key
    return compare_runs(ra, rb), comparison_sankey(ra, rb), n, key


def comparison(a: str | Path, b: str | Path):
    """(table of theme changes, Sankey figure, comments matched, matching key) between two saved runs;
    (None, None, 0, key) when they share no comment."""
    return _comparison(str(a), str(b), run_stamp(a), run_stamp(b))
