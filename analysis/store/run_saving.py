"""Writing a run folder (:func:`save_run`) so that nobody sees half a run and no file is lost.

Safety rules (see :mod:`analysis.storage`):

* a run is built in a temporary folder and renamed into place, so nobody sees half a run;
* saving never deletes what this program did not write: a target folder that exists and is not a
  run is refused; replacing a run needs ``replace=True`` and keeps any foreign file, and the users'
  edits beside it when it is the same run id.

The files of a run are listed in :mod:`analysis.store.runs`, which reads them back.
"""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..ingest.comments import comments_to_csv_frame
from ..schema import KEYWORD_SEP
from ..storage import file_lock, staging_dir, temp_name
from .cells import store_frame
from .edit_log import document
from .manifest import FORMAT_VERSION, MANIFEST_FILE, names_a_run, peek_manifest
from .run_object import Run, RunError, lock_path, runs_dir
from .side_files import SIDE_FILES

#: Files a run consists of (all required).
RUN_FILES: tuple[str, ...] = (MANIFEST_FILE, "comments.csv", "assignments.csv", "clusters.csv", "embeddings.npy")
#: Files the pipeline may add (a run without them still opens).
OPTIONAL_FILES: tuple[str, ...] = ("embedder.npz",)
#: Every file this program writes in a run folder (anything else there is someone else's).
OWN_FILES: frozenset[str] = frozenset(RUN_FILES + OPTIONAL_FILES + SIDE_FILES)


def _clusters_to_csv(clusters: pd.DataFrame) -> pd.DataFrame:
    out = clusters.copy()
    out["keywords"] = [KEYWORD_SEP.join(k) for k in out["keywords"]]
    return out


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM for Excel; a cell Excel would run as a formula is stored with an apostrophe
    (and read back exactly, see :func:`analysis.store.cells.store_cell`)."""
    store_frame(df).to_csv(path, index=False, encoding="utf-8-sig", errors="replace")


def _user_names(clusters: pd.DataFrame) -> dict[str, str]:
    """Theme names that differ from the automatic label (what labels.json holds)."""
    if "auto_label" not in clusters:
        return {}
    return {str(int(c)): str(lab) for c, lab, auto in zip(clusters["cluster"], clusters["label"], clusters["auto_label"])
            if str(lab) != str(auto) and str(lab)}


def _is_run_folder(p: Path) -> bool:
    """A folder this program wrote as a run: its manifest names a run id."""
    return names_a_run(p)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange)
    return rc == 0


def remove_own_files(folder: Path) -> list[str]:
    """Delete this program's files in ``folder``; remove it if empty. Returns what was kept."""
    kept = []
    for entry in sorted(folder.iterdir()) if folder.exists() else []:
        if entry.name in OWN_FILES and entry.is_file():
            entry.unlink()
        elif entry.name.startswith(".") and ".tmp-" in entry.name:
            entry.unlink() if entry.is_file() else None
        else:
            kept.append(entry.name)
    if not kept and folder.exists():
        folder.rmdir()
    return kept


def _check_target(target: Path, replace: bool) -> bool:
    """Whether ``target`` holds a run to be replaced; raises :class:`RunError` where saving must stop."""
    if not target.exists():
        return False
    if not target.is_dir():
        raise RunError(f"保存先「{target}」はフォルダではなくファイルです。別の保存先を指定してください。")
    if _is_run_folder(target):
        if not replace:
            raise RunError(
                f"保存先「{target}」にはすでに分析結果があります。置き換えるときは --force を付けてください"
                "（元の分析結果は新しいものと入れ替わります）。"
            )
        return True
    if any(target.iterdir()):
        raise RunError(
            f"保存先「{target}」は分析結果のフォルダではなく、ほかのファイルが入っています。"
            "中のファイルを消さないよう、保存をやめました。空のフォルダか、まだないフォルダ名を指定してください。"
        )
    return False


def save_run(run: Run, base: str | Path | None = None, out_dir: str | Path | None = None, replace: bool = False) -> Path:
    """Write ``run`` to ``out_dir`` (default ``<base>/<run_id>``) in one atomic step; returns the folder.

    The run is built in a temporary folder next to the target and renamed into place. An existing
    target must be an empty folder, or a run when ``replace`` is true; then the old run is swapped
    out, its edits (theme names, shortlists) are kept when it is the same run id, and any file this
    program did not write stays in the folder. Raises :class:`RunError` / :class:`StorageError`.
    """
    target = Path(out_dir) if out_dir is not None else runs_dir(base) / run.run_id
    target = target.absolute()
    with file_lock(lock_path(target)):
        replacing = _check_target(target, replace)
        computed_a, computed_c = run.base if run.base is not None else (run.assignments, run.clusters)
        with staging_dir(target.parent, target.name) as tmp:
            _write_csv(comments_to_csv_frame(run.comments), tmp / "comments.csv")
            _write_csv(computed_a.drop(columns=["curated"], errors="ignore"), tmp / "assignments.csv")
            _write_csv(_clusters_to_csv(computed_c), tmp / "clusters.csv")
            np.save(tmp / "embeddings.npy", np.ascontiguousarray(run.embeddings, dtype=np.float32))
            if run.embedder_state is not None:
                from ..themes.embedding import pack_state

                np.savez(tmp / "embedder.npz", **pack_state(run.embedder_state))
            manifest = dict(run.manifest, run_id=run.run_id, format=FORMAT_VERSION)
            (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
            user_names = _user_names(run.clusters)
            if user_names:  # names carried over from a previous run, or given before saving
                (tmp / "labels.json").write_text(json.dumps(user_names, ensure_ascii=False, indent=2), encoding="utf-8")
            if run.edits:  # curation carried over from a previous run (analysis.store.curation)
                (tmp / "edits.json").write_text(json.dumps(document(run.edits), ensure_ascii=False, indent=2), encoding="utf-8")
            if replacing:
                old_id = peek_manifest(target).get("run_id")
                if old_id == run.run_id:
                    for name in SIDE_FILES:
                        if (target / name).is_file():
                            (tmp / name).write_bytes((target / name).read_bytes())
                if _exchange(tmp, target):
                    old = tmp  # after the swap the temporary name holds the old run
                else:
                    old = temp_name(target)
                    os.replace(target, old)
                    os.replace(tmp, target)
                for leftover in remove_own_files(old):
                    os.replace(old / leftover, target / leftover)
                if old.exists():
                    old.rmdir()
            else:
                if target.exists():
                    target.rmdir()  # an empty folder the user made for the run
                os.replace(tmp, target)
    run.path = target
    run.manifest = manifest
    return target


def storage_problem(base: str | Path | None = None) -> str | None:
    """Why runs cannot be saved here (read-only or missing folder), or None."""
    d = runs_dir(base)
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = temp_name(d / "probe")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        from ..storage import translate_os_error

        return str(translate_os_error(exc, d))
    return None
