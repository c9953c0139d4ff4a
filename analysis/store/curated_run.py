"""A curated run: the edit log (:mod:`analysis.store.edit_log`) replayed on a run's computed themes.

:func:`apply_edits` runs whenever a run is loaded (:func:`analysis.store.runs.load_run`), so every page,
export and :meth:`Run.table` shows the curated themes; the computed assignments and clusters stay in
``Run.base``.

Replay recomputes sizes, keywords of changed themes (c-TF-IDF over the curated themes, same
settings as the run), ``n_categories``, ``broad``, and membership strength of every comment an
edit touched: the cosine to its new theme's centre in the run's embedding space, mapped onto the
computed strengths by quantiles (the cosines and strengths of all computed members, sorted), so a
curated comment as close to its centre as a typical member gets a typical member's strength.
``curated`` (bool) marks those comments; stability is cleared for merged and new themes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from ..schema import NOISE
from .edit_log import (
    KIND_JA,
    EditState,
    computed_frames,
    initial_state,
    read_edits,
    replay,
)
from .run_object import Run
from .side_files import read_label_overrides

_TOKENS: OrderedDict[str, list] = OrderedDict()
_TOKENS_LOCK = threading.Lock()


def _token_docs(texts: list[str]) -> list:
    """Content words of every text (SudachiPy), kept for the last few runs: every edit replays the log."""
    from ..text.tokens import default_tokenizer, tokenize_all

    key = hashlib.sha256("\n\x00".join(texts).encode("utf-8")).hexdigest()
    with _TOKENS_LOCK:
        if key in _TOKENS:
            _TOKENS.move_to_end(key)
            return _TOKENS[key]
    docs = tokenize_all(default_tokenizer(), texts)
    with _TOKENS_LOCK:
        _TOKENS[key] = docs
        while len(_TOKENS) > 4:
            _TOKENS.popitem(last=False)
    return docs


def _describe_settings(run: Run) -> tuple[int, float]:
    cfg = run.manifest.get("config", {}) if isinstance(run.manifest.get("config"), dict) else {}
    d = cfg.get("describe", {}) if isinstance(cfg.get("describe"), dict) else {}
    return int(d.get("n_keywords") or 10), float(d.get("mmr_diversity") if d.get("mmr_diversity") is not None else 0.3)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def _strength_scale(emb: np.ndarray, base_a: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (cosine to own centre, strength) of every computed member: the quantile map for new strengths."""
    labels = base_a["cluster"].to_numpy(int)
    strength = base_a["strength"].to_numpy(float)
    cos, st = [], []
    for c in sorted(set(labels.tolist()) - {NOISE}):
        rows = np.flatnonzero(labels == c)
        cos.append(emb[rows].astype(np.float64) @ _unit(emb[rows].astype(np.float64).mean(axis=0)))
        st.append(strength[rows])
    if not cos:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    return np.sort(np.concatenate(cos)), np.sort(np.concatenate(st))


def theme_keywords(run: Run, labels: np.ndarray, themes: set[int]) -> dict[int, list[str]]:
    """Keywords of ``themes`` under theme ``labels`` (n,), with the run's describe settings."""
    from ..themes.keywords import cluster_keywords

    if not themes:
        return {}
    n_kw, diversity = _describe_settings(run)
    docs = _token_docs(run.comments["text_norm"].astype(str).tolist())
    kw = cluster_keywords(docs, labels, n_keywords=n_kw, diversity=diversity)
    return {c: [w for w, _ in kw.get(c, [])] for c in themes}


def _new_assignments(run: Run, base_a: pd.DataFrame, s: EditState) -> pd.DataFrame:
    emb = run.embeddings
    a = base_a.copy()
    labels = s.labels
    strength = a["strength"].to_numpy(float).copy()
    nearest_strength = a["nearest_strength"].to_numpy(float).copy()
    nearest = np.where(labels != NOISE, labels, s.nearest)
    touched = np.flatnonzero(s.touched)
    if len(touched):
        scale = _strength_scale(emb, base_a)
        for c in sorted(set(nearest[touched].tolist()) - {NOISE}):
            rows = touched[nearest[touched] == c]
            centre = _unit(emb[labels == c].astype(np.float64).mean(axis=0)) if (labels == c).any() else None
            value = np.interp(emb[rows].astype(np.float64) @ centre, *scale) if centre is not None else np.zeros(len(rows))
            value = np.round(np.clip(value, 0.0, 1.0), 4)
            nearest_strength[rows] = value
            strength[rows] = np.where(labels[rows] != NOISE, value, 0.0)
    a["cluster"] = labels
    a["strength"] = strength
    a["nearest_cluster"] = nearest
    a["nearest_strength"] = nearest_strength
    a["broad"] = [s.parent.get(int(c), NOISE) for c in nearest]
    a["curated"] = s.touched.copy()
    return a


def _new_clusters(run: Run, base_c: pd.DataFrame, s: EditState, user_names: dict[int, str]) -> pd.DataFrame:
    labels = s.labels
    ids = run.comments["comment_id"].astype(str).to_numpy()
    base = {int(r["cluster"]): r for r in base_c.to_dict("records")}
    broad_base = {int(p): str(n) for p, n in zip(base_c["parent"], base_c["parent_label"])}
    keywords = theme_keywords(run, labels, s.changed)
    attr = run.primary_attribute
    rows = []
    for c in sorted(s.parent):
        members = labels == c
        if c in base:
            row = dict(base[c])
        else:
            row = {col: np.nan for col in base_c.columns}
            name = user_names.get(c) or s.auto[c]
            row.update(cluster=c, label=name, auto_label=s.auto[c], keywords=[], persistence=np.nan,
                       summary="", summary_id="", name_evidence="")
        p = s.parent[c]
        row.update(size=int(members.sum()), parent=p,
                   parent_label=s.broad_names.get(p) or broad_base.get(p) or f"大きなテーマ{p + 1}")
        if c in s.changed:
            row["keywords"] = keywords.get(c, [])
            if "n_categories" in base_c and attr in run.comments.columns:
                row["n_categories"] = int(run.comments.loc[members, attr].nunique())
            if str(row.get("summary_id") or "") not in set(ids[members]):
                row["summary"], row["summary_id"] = "", ""
        if c in s.rebuilt and "stability" in base_c:
            row["stability"] = np.nan
        rows.append(row)
    out = pd.DataFrame(rows, columns=base_c.columns)
    for col in ("cluster", "parent", "size"):
        out[col] = out[col].astype(int)
    return out


def apply_edits(run: Run, edits: list[dict] | None = None) -> Run:
    """``run`` with its edit log replayed: a new :class:`Run` (the given one is not changed).

    Parameters
    ----------
    run : a run, as computed or already curated (the log is always replayed on the computed
        assignments and clusters, kept in ``run.base``)
    edits : the log; default: edits.json of a saved run, else ``run.edits``

    Returns
    -------
    Run whose ``assignments`` (n rows, plus ``curated`` bool) and ``clusters`` show the curated
    themes, ``edits`` holds the log and ``base`` the computed (assignments, clusters), which
    :func:`analysis.store.runs.save_run` writes. Without edits the run is returned as computed (no
    ``curated`` column, ``base`` None: a run loads exactly as saved). Entries that do not fit (a log edited by hand) are
    skipped with a Japanese note in ``warnings``. Raises :class:`RunError` for a damaged edits.json.
    """
    if edits is None:
        edits = read_edits(run.path) if run.path is not None else list(run.edits)
    base_a, base_c = computed_frames(run)
    if not edits:
        return dataclasses.replace(run, assignments=base_a, clusters=base_c, edits=[], base=None)
    s = initial_state(base_a, base_c)
    skipped = replay(s, edits)
    user_names = {}
    if run.path is not None and set(s.auto):
        user_names = read_label_overrides(run.path)
    warnings = [f"テーマの整理のうち「{e.get('text') or KIND_JA[e['kind']]}」は当てはめられないため、飛ばしました（{why}）"
                for e, why in skipped]
    return dataclasses.replace(
        run, assignments=_new_assignments(run, base_a, s), clusters=_new_clusters(run, base_c, s, user_names),
        edits=list(edits), base=(base_a, base_c), warnings=[*run.warnings, *warnings])
