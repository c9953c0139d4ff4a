"""Saved runs: one folder per run under ``models/runs/<run id>/``.

Files (CSVs are UTF-8 with BOM so Excel shows the Japanese):

``comments.csv``     the comment table (``emphasis`` joined with `` | ``)
``assignments.csv``  comment_id, cluster (-1 = noise / 未分類), strength (0-1 membership in
                     ``cluster``), nearest_cluster (best cluster even for noise points),
                     nearest_strength, x, y (2-D map), broad (broad theme of nearest_cluster)
``clusters.csv``     cluster, label, auto_label, keywords (``、``-joined), size, parent (broad theme
                     id), parent_label, n_categories, persistence
``embeddings.npy``   float32 (n_comments, d): the vectors clustering used, rows in comments order
``manifest.json``    run id, created, config, input description, package versions, per-stage
                     timings (s), quality figures
``labels.json``      user overrides of cluster labels ({"3": "name"}); applied on load

Runs are written to a temporary folder next to the target and renamed into place, so a crash
never leaves a half-written run that the dashboard would try to open.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .corpus import comments_from_csv_frame, comments_to_csv_frame

PROJECT_DIR = Path(__file__).resolve().parent.parent
KEYWORD_SEP = "、"
NOISE = -1


@dataclass
class Run:
    """Everything the dashboard and notebooks need from one pipeline run (no recomputation)."""

    run_id: str
    comments: pd.DataFrame
    assignments: pd.DataFrame
    clusters: pd.DataFrame
    embeddings: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def n_clusters(self) -> int:
        return int((self.clusters["cluster"] != NOISE).sum())

    def table(self) -> pd.DataFrame:
        """Comments joined with their assignment and cluster label (one row per comment)."""
        labels = self.clusters.set_index("cluster")["label"]
        out = self.comments.merge(self.assignments, on="comment_id", how="left")
        out["label"] = out["cluster"].map(labels).fillna("未分類")
        out["nearest_label"] = out["nearest_cluster"].map(labels)
        return out

    def label_of(self, cluster: int) -> str:
        if cluster == NOISE:
            return "未分類"
        row = self.clusters.loc[self.clusters["cluster"] == cluster, "label"]
        return str(row.iloc[0]) if len(row) else f"テーマ{cluster}"


def models_dir() -> Path:
    """``models/`` of the project, or ``$MOYAMOYA_MODELS_DIR`` (tests point it at a temporary folder)."""
    return Path(os.environ.get("MOYAMOYA_MODELS_DIR", PROJECT_DIR / "models"))


def runs_dir(base: str | Path | None = None) -> Path:
    """Folder holding saved runs: ``base`` if given, else ``models_dir()/runs``."""
    return Path(base) if base is not None else models_dir() / "runs"


def run_fingerprint(config_json: str, texts_digest: str) -> str:
    """8 hex digits naming a config + the comment texts: the last part of a run id."""
    return hashlib.sha256(f"{config_json}\n{texts_digest}".encode()).hexdigest()[:8]


def make_run_id(config_json: str, texts_digest: str, when: _dt.datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-<8 hex>``: sortable by time, and the hex part names config + data."""
    when = when or _dt.datetime.now()
    return f"{when:%Y%m%d-%H%M%S}-{run_fingerprint(config_json, texts_digest)}"


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, encoding="utf-8-sig")


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""])


def _clusters_to_csv(clusters: pd.DataFrame) -> pd.DataFrame:
    out = clusters.copy()
    out["keywords"] = [KEYWORD_SEP.join(k) for k in out["keywords"]]
    return out


def _clusters_from_csv(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["keywords"] = [[w for w in str(k).split(KEYWORD_SEP) if w] if isinstance(k, str) else [] for k in out["keywords"]]
    for col in ("label", "auto_label", "parent_label"):
        if col in out:
            out[col] = out[col].fillna("").astype(str)
    return out


def save_run(run: Run, base: str | Path | None = None, out_dir: str | Path | None = None) -> Path:
    """Write ``run`` atomically to ``out_dir`` (default ``<base>/<run_id>``) and return the folder."""
    target = Path(out_dir) if out_dir is not None else runs_dir(base) / run.run_id
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _write_csv(comments_to_csv_frame(run.comments), tmp / "comments.csv")
        _write_csv(run.assignments, tmp / "assignments.csv")
        _write_csv(_clusters_to_csv(run.clusters), tmp / "clusters.csv")
        np.save(tmp / "embeddings.npy", np.ascontiguousarray(run.embeddings, dtype=np.float32))
        _write_manifest(run, tmp)
        if (target / "labels.json").exists():  # re-saving a run keeps the names the user gave its themes
            shutil.copy2(target / "labels.json", tmp / "labels.json")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    run.path = target
    return target


def _write_manifest(run: Run, folder: Path) -> None:
    manifest = dict(run.manifest, run_id=run.run_id)
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, folder / "manifest.json")


def update_manifest(run: Run) -> None:
    """Rewrite only ``manifest.json`` of a saved run (e.g. to add timings or stability figures)."""
    if run.path is None:
        raise ValueError("run has not been saved")
    _write_manifest(run, run.path)


def load_run(path_or_id: str | Path, base: str | Path | None = None) -> Run:
    """Load a saved run by folder path or run id, applying saved label overrides."""
    p = Path(path_or_id)
    if not (p / "manifest.json").exists():
        p = runs_dir(base) / str(path_or_id)
    if not (p / "manifest.json").exists():
        raise FileNotFoundError(f"保存された分析結果が見つかりません: {path_or_id}")
    manifest = json.loads((p / "manifest.json").read_text(encoding="utf-8"))
    comments = comments_from_csv_frame(_read_csv(p / "comments.csv"))
    assignments = _read_csv(p / "assignments.csv")
    assignments["comment_id"] = assignments["comment_id"].astype(str)
    clusters = _clusters_from_csv(_read_csv(p / "clusters.csv"))
    embeddings = np.load(p / "embeddings.npy")
    # The names people see are the automatic label unless labels.json overrides it; the label
    # column of clusters.csv is only a snapshot for Excel readers.
    if "auto_label" in clusters:
        clusters["label"] = clusters["auto_label"].where(clusters["auto_label"] != "", clusters["label"])
    overrides = read_label_overrides(p)
    for cid, name in overrides.items():
        clusters.loc[clusters["cluster"] == cid, "label"] = name
    return Run(
        run_id=manifest.get("run_id", p.name),
        comments=comments,
        assignments=assignments,
        clusters=clusters,
        embeddings=embeddings,
        manifest=manifest,
        path=p,
    )


def read_label_overrides(run_path: str | Path) -> dict[int, str]:
    f = Path(run_path) / "labels.json"
    if not f.exists():
        return {}
    return {int(k): v for k, v in json.loads(f.read_text(encoding="utf-8")).items()}


def rename_cluster(run: Run, cluster: int, name: str) -> None:
    """Override a cluster's label; saved to ``labels.json`` beside the run (an empty name resets it)."""
    if run.path is None:
        raise ValueError("run has not been saved")
    overrides = read_label_overrides(run.path)
    name = name.strip()
    mask = run.clusters["cluster"] == cluster
    if not mask.any():
        raise KeyError(cluster)
    if name:
        overrides[int(cluster)] = name
        run.clusters.loc[mask, "label"] = name
    else:
        overrides.pop(int(cluster), None)
        run.clusters.loc[mask, "label"] = run.clusters.loc[mask, "auto_label"]
    tmp = run.path / "labels.json.tmp"
    tmp.write_text(json.dumps({str(k): v for k, v in overrides.items()}, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, run.path / "labels.json")


def list_runs(base: str | Path | None = None) -> pd.DataFrame:
    """One row per saved run, newest first: run_id, created, input, backend, n_comments,
    n_clusters, noise_share, silhouette, relative_validity, path."""
    rows = []
    d = runs_dir(base)
    if d.exists():
        for p in d.iterdir():
            mf = p / "manifest.json"
            if p.name.startswith(".") or not mf.exists():
                continue
            try:
                m = json.loads(mf.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            q = m.get("quality", {})
            rows.append(
                {
                    "run_id": m.get("run_id", p.name),
                    "created": m.get("created", ""),
                    "input": m.get("input", {}).get("name", ""),
                    "backend": m.get("config", {}).get("embedding", {}).get("backend", ""),
                    "n_comments": q.get("n_comments"),
                    "n_clusters": q.get("n_clusters"),
                    "noise_share": q.get("noise_share"),
                    "silhouette": q.get("silhouette"),
                    "relative_validity": q.get("relative_validity"),
                    "path": str(p),
                }
            )
    cols = ["run_id", "created", "input", "backend", "n_comments", "n_clusters", "noise_share",
            "silhouette", "relative_validity", "path"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values("created", ascending=False, kind="stable").reset_index(drop=True)


def delete_run(run_id: str, base: str | Path | None = None) -> None:
    p = runs_dir(base) / run_id
    if not (p / "manifest.json").exists():
        raise FileNotFoundError(run_id)
    shutil.rmtree(p)
