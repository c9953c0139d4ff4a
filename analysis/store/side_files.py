"""What users write beside the computed runs: theme names, other side files, the published run.

``labels.json``      theme names given by users ({"3": "name"}) beside a run, applied on load
                     (:func:`read_label_overrides`, :func:`rename_cluster`)
``edits.json``       the curation log (:mod:`analysis.store.curation`)
``shortlists.json``  saved sets of comments (:mod:`analysis.store.shortlists`)
``published.json``   beside the runs folder: the run new visitors open with (:func:`get_published`)

A side file is read, changed and written under the run's lock (:func:`edit_side_file`), so edits
made at the same time by several users are all kept.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..storage import atomic_write_json, file_lock, read_json, update_json
from .run_object import Run, RunError, lock_path, models_dir, runs_dir

#: Files users' edits write beside a run.
SIDE_FILES: tuple[str, ...] = ("labels.json", "edits.json", "shortlists.json")


# --------------------------------------------------------------------------- edits beside a run


def read_label_overrides(run_path: str | Path) -> dict[int, str]:
    """User-given theme names of a run folder; :class:`RunError` when labels.json is damaged."""
    f = Path(run_path) / "labels.json"
    try:
        data = read_json(f, {})
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError("labels.json（テーマ名の変更）が壊れています（JSON として読めません）") from exc
    if not isinstance(data, dict):
        raise RunError("labels.json（テーマ名の変更）の形式が正しくありません")
    out = {}
    for k, v in data.items():
        try:
            out[int(k)] = str(v)
        except (TypeError, ValueError):
            raise RunError("labels.json（テーマ名の変更）の形式が正しくありません") from None
        if not isinstance(v, str):
            raise RunError("labels.json（テーマ名の変更）の形式が正しくありません")
    return out


def rename_cluster(run: Run, cluster: int, name: str) -> None:
    """Override a theme's name, saved to ``labels.json`` beside the run (an empty name resets it).

    The file is read, changed and written under the run's lock, so names given at the same time
    by several users are all kept.
    """
    if run.path is None:
        raise ValueError("run has not been saved")
    name = name.strip()
    mask = run.clusters["cluster"] == cluster
    if not mask.any():
        raise KeyError(cluster)

    def change(current: Any) -> dict:
        if not isinstance(current, dict):
            current = {}
        if name:
            current[str(int(cluster))] = name
        else:
            current.pop(str(int(cluster)), None)
        return current

    path = Path(run.path)
    try:
        with file_lock(lock_path(path)):
            data = update_json_unlocked(path / "labels.json", change)
    except ValueError as exc:
        if isinstance(exc, UserError):
            raise
        raise RunError("labels.json（テーマ名の変更）が壊れているため保存できません") from exc
    for cid, label in ((int(k), v) for k, v in data.items()):
        run.clusters.loc[run.clusters["cluster"] == cid, "label"] = label
    if not name:
        run.clusters.loc[mask, "label"] = run.clusters.loc[mask, "auto_label"] if "auto_label" in run.clusters else ""


def update_json_unlocked(path: Path, change) -> Any:
    """Read-modify-write a JSON file; the caller holds the lock that covers it."""
    current = read_json(path, None)
    new = change(current)
    atomic_write_json(path, new)
    return new


def edit_side_file(run_path: str | Path, name: str, change, default: Any = None) -> Any:
    """Read-modify-write the side file ``name`` of a run under the run's lock (see :data:`SIDE_FILES`)."""
    if name not in SIDE_FILES:
        raise ValueError(f"not a side file: {name}")
    path = Path(run_path)
    with file_lock(lock_path(path)):
        return update_json_unlocked(path / name, lambda cur: change(default if cur is None else cur))


# --------------------------------------------------------------------------- the run everyone opens with


def _published_path(base: str | Path | None) -> Path:
    return (runs_dir(base).parent if base is not None else models_dir()) / "published.json"


def get_published(base: str | Path | None = None) -> str | None:
    """Run id an analyst marked 公開中 (what a new visitor sees first), or None."""
    try:
        data = read_json(_published_path(base), None)
    except (OSError, ValueError):
        return None
    return data.get("run_id") if isinstance(data, dict) and isinstance(data.get("run_id"), str) else None


def set_published(run_id: str, by: str = "", base: str | Path | None = None) -> None:
    """Mark ``run_id`` as the run new visitors open with."""
    update_json(_published_path(base), lambda _cur: {
        "run_id": run_id, "by": by, "at": _dt.datetime.now().isoformat(timespec="seconds")})

