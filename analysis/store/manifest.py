"""manifest.json of a saved run: its declared shape, its format version, and the one way to read it.

Every reader of a manifest (loading a run, listing runs, telling a run folder from someone else's
folder, finding the default run) comes through :func:`read_manifest` or :func:`peek_manifest`, so a
huge, deeply nested or malformed manifest is refused the same way everywhere, never a crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..storage import read_json

#: The ``format`` of a saved run's manifest; a run of a newer format is refused when read.
#: 1: the first saved runs; 2: ``input`` carries the data set's own column roles (DatasetInfo).
FORMAT_VERSION = 2

MANIFEST_FILE = "manifest.json"

#: A manifest holds a few kilobytes; anything near this is not one this program wrote.
MANIFEST_MAX_BYTES = 4 * 1024 * 1024

#: The declared shape: key -> (type it must have, whether it is required). Other keys are kept as they are.
MANIFEST_KEYS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "run_id": (str, True),             # folder-independent id of the run (config + data digest)
    "format": (int, False),            # FORMAT_VERSION when written (missing: 1)
    "created": (str, False),           # ISO time, local
    "config": (dict, True),            # PipelineConfig.to_dict()
    "input": (dict, True),             # digest, n_rows, DatasetInfo.manifest_input() (kind, name, columns ...)
    "quality": (dict, True),           # n_comments, n_clusters, noise_share, stability_ari ...
    "attributes": (list, False),       # attribute column names, in order
    "primary_attribute": ((str, type(None)), False),
    "embedding": (dict, False),        # name, version, dim, cache key
    "cache": (dict, False),            # which stages came from the cache
    "effective": (dict, False),        # n_neighbors / min_cluster_size actually used
    "notices": (list, False),          # Japanese sentences shown with the run
    "numerics": (dict, False),         # pinned numeric environment
    "versions": (dict, False),         # package versions
    "timings": (dict, False),          # stage -> seconds
    "labels_carried_over": (dict, False),
    "edits_carried_over": (dict, False),  # {"carried": n, "dropped": [...]}
    "stability": (dict, False),
}


class ManifestError(ValueError):
    """A manifest that cannot be used; ``str(exc)`` is one Japanese sentence for the user."""


def problem_in_manifest(m: Any) -> str | None:
    """Why ``m`` is not a usable manifest (Japanese), or None."""
    if not isinstance(m, dict):
        return "manifest.json の形式が正しくありません（表になっていません）"
    if not isinstance(m.get("run_id"), str) or not m.get("run_id"):
        return "manifest.json に run_id がありません"
    fmt = m.get("format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt > FORMAT_VERSION:
        return "manifest.json がこのプログラムより新しい形式です（プログラムを更新してください）"
    for key, (kind, required) in MANIFEST_KEYS.items():
        if key not in m:
            if required:
                return f"manifest.json の {key} が正しくありません"
            continue
        if not isinstance(m[key], kind):
            return f"manifest.json の {key} が正しくありません"
    q = m["quality"]
    if not isinstance(q.get("n_comments"), int) or not isinstance(q.get("n_clusters"), int):
        return "manifest.json の quality（件数）が正しくありません"
    if not all(isinstance(a, str) for a in m.get("attributes", [])):
        return "manifest.json の attributes が正しくありません"
    return None


def _load(folder: Path) -> Any:
    try:
        return read_json(folder / MANIFEST_FILE, None, max_bytes=MANIFEST_MAX_BYTES)
    except (OSError, ValueError) as exc:
        raise ManifestError("manifest.json が壊れています（JSON として読めません）") from exc


def read_manifest(folder: str | Path) -> dict:
    """The checked manifest of the run in ``folder``; :class:`ManifestError` says what is wrong."""
    m = _load(Path(folder))
    if m is None:
        raise ManifestError("manifest.json がありません")
    problem = problem_in_manifest(m)
    if problem:
        raise ManifestError(problem)
    return m


def peek_manifest(folder: str | Path) -> dict:
    """Whatever dict the manifest holds, unchecked ({} when missing or unreadable): for listing."""
    try:
        m = _load(Path(folder))
    except ManifestError:
        return {}
    return m if isinstance(m, dict) else {}


def names_a_run(folder: str | Path) -> bool:
    """Whether ``folder`` holds a manifest this program wrote (it names a run id)."""
    return isinstance(peek_manifest(folder).get("run_id"), str)
