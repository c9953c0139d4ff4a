"""Files the program writes: atomic replacement, cross-process locks, crash leftovers, disk errors.

Everything the project writes goes through here, so that

* a reader never sees a half-written file: data goes to a unique temporary name next to the
  target (``.<name>.tmp-<pid>-<random>``) and is renamed into place (``os.replace`` is atomic on
  one file system);
* two writers never interleave: edits beside a run (names, curation, shortlists) and cache entries
  are read-modify-written under an exclusive ``flock`` on a ``.lock`` file. ``flock`` locks belong
  to an open file description, so they exclude other threads of the same process (Streamlit
  sessions) as well as other processes (the CLI, a notebook, a background job);
* a crash leaves nothing that looks like data: temporary names start with a dot and carry the
  writer's pid, and :func:`cleanup_stale_temps` removes those whose writer is gone;
* a full or read-only disk is one Japanese sentence (:class:`StorageError`), not a traceback, and
  leaves no partial file behind.

Nothing here deletes a file it cannot recognise as its own temporary.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import CorpusError

__all__ = [
    "StorageError",
    "temp_name",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_save_npy",
    "atomic_save_npz",
    "staging_dir",
    "file_lock",
    "update_json",
    "read_json",
    "parse_json",
    "JsonTooLarge",
    "cleanup_stale_temps",
    "translate_os_error",
    "pid_alive",
]

_TEMP_RE = re.compile(r"^\..+\.tmp-(\d+)-[0-9a-f]{8}(\.[A-Za-z0-9]+)?$")
#: A temporary whose writer still runs is never removed; one whose writer is gone is removed after
#: this many seconds (a second process on another host sharing the folder keeps its files a while).
STALE_AFTER_S = 60.0


class StorageError(CorpusError):
    """Writing failed (read-only folder, full disk, no permission); the message is Japanese."""


def translate_os_error(exc: OSError, path: str | Path) -> StorageError:
    """One Japanese sentence for an ``OSError`` met while writing ``path``."""
    where = str(path)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        msg = f"保存先に書き込めません（読み取り専用か、書き込みの権限がありません）: {where}"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        msg = f"保存先の空き容量が足りません。不要なファイルを消してからやり直してください: {where}"
    elif exc.errno == errno.ENAMETOOLONG:
        msg = f"保存先の名前が長すぎます: {where}"
    elif exc.errno in (errno.ENOTDIR, errno.ENOENT):
        msg = f"保存先のフォルダがありません: {where}"
    else:
        msg = f"保存できませんでした（{exc.strerror or type(exc).__name__}）: {where}"
    return StorageError(msg)


def temp_name(target: str | Path, suffix: str = "") -> Path:
    """A unique temporary path next to ``target`` (same folder, so the final rename is atomic)."""
    t = Path(target)
    return t.with_name(f".{t.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}{suffix}")


@contextlib.contextmanager
def _writing(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path; rename it onto ``target`` on success, remove it on any failure."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise translate_os_error(exc, target.parent) from exc
    tmp = temp_name(target, suffix)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        _remove_quietly(tmp)
        raise translate_os_error(exc, target) from exc
    except BaseException:
        _remove_quietly(tmp)
        raise


def _remove_quietly(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new content, never a mix."""
    target = Path(path)
    with _writing(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, ensure_ascii=False, indent=2))


def atomic_save_npy(path: str | Path, array) -> None:
    """``np.save`` through a temporary (numpy would otherwise append ``.npy`` to a temp name)."""
    import numpy as np

    with _writing(Path(path), ".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_save_npz(path: str | Path, **arrays) -> None:
    import numpy as np

    with _writing(Path(path), ".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())


@contextlib.contextmanager
def staging_dir(parent: str | Path, name: str) -> Iterator[Path]:
    """A fresh temporary folder in ``parent`` for building a folder ``name``; removed on failure.

    The caller renames it into place (see :func:`analysis.store.runs.save_run`); if the caller does not,
    it is removed when the block ends.
    """
    p = Path(parent)
    try:
        p.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(p / name)
        tmp.mkdir()
    except OSError as exc:
        raise translate_os_error(exc, p) from exc
    try:
        yield tmp
    except OSError as exc:
        _remove_quietly(tmp)
        raise translate_os_error(exc, p / name) from exc
    except BaseException:
        _remove_quietly(tmp)
        raise
    else:
        if tmp.exists():
            _remove_quietly(tmp)


class LockTimeout(StorageError):
    """Another user held the lock for too long."""


@contextlib.contextmanager
def file_lock(path: str | Path, timeout: float = 600.0, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive (or shared) ``flock`` on ``path`` (created if needed) for the block.

    Works between threads of one process and between processes. ``timeout`` seconds without
    getting the lock raise :class:`LockTimeout`. If the folder cannot be written (a read-only
    models folder that is only browsed), no lock is taken: there is nobody to exclude.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            yield
            return
        raise translate_os_error(exc, p) from exc
    try:
        op = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, op | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        "ほかの人が同じデータを更新中のため、待ちきれませんでした。少し待ってからやり直してください。"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


#: JSON files this program reads (manifests, side files, job records) are small; a bigger one is damaged
#: or hostile and is refused before it is parsed (a 100 MB file would cost seconds and gigabytes).
JSON_MAX_BYTES = 32 * 1024 * 1024
#: Deeper nesting than any file of ours has: ``[[[[…]]]]`` 100,000 deep makes the parser recurse until
#: Python gives up, so such a file is refused as damaged instead.
JSON_MAX_DEPTH = 64


class JsonTooLarge(ValueError):
    """A JSON file over :data:`JSON_MAX_BYTES` (or nested deeper than :data:`JSON_MAX_DEPTH`)."""


def _depth_ok(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            return False
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return True


def parse_json(text: str, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """``json.loads`` that turns runaway nesting into :class:`ValueError`, never a ``RecursionError``."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooLarge("JSON nested too deeply") from None
    if not _depth_ok(value, max_depth):
        raise JsonTooLarge("JSON nested too deeply")
    return value


def read_json(path: str | Path, default: Any = None, max_bytes: int = JSON_MAX_BYTES) -> Any:
    """The JSON in ``path``, or ``default`` when the file does not exist.

    Invalid, oversized (> ``max_bytes``) or too deeply nested JSON raises :class:`ValueError`, and
    undecodable bytes :class:`UnicodeDecodeError` (also a ValueError): callers report a damaged file.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        return default
    if len(data) > max_bytes:
        raise JsonTooLarge(f"{p.name} is larger than {max_bytes} bytes")
    return parse_json(data.decode("utf-8"))


def update_json(path: str | Path, change: Callable[[Any], Any], default: Any = None) -> Any:
    """Read-modify-write the JSON file ``path`` under its lock; returns the value written.

    ``change`` receives the current value (``default`` if the file is missing) and returns the new
    one. Concurrent callers are serialised, so no update is lost.
    """
    p = Path(path)
    with file_lock(p.with_name(p.name + ".lock")):
        current = read_json(p, default)
        new = change(current)
        atomic_write_json(p, new)
        return new


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists (a zombie child of this process counts as gone)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child of this process stays a zombie until reaped
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def cleanup_stale_temps(folder: str | Path, recursive: bool = True, now: float | None = None) -> list[Path]:
    """Remove this program's leftover temporaries (``.<name>.tmp-<pid>-<hex>``) in ``folder``.

    Only names of that exact shape are touched, only when their writer process is gone and they
    are older than :data:`STALE_AFTER_S`. Returns what was removed.
    """
    root = Path(folder)
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    now = time.time() if now is None else now
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            m = _TEMP_RE.match(e.name)
            if m:
                try:
                    age = now - e.stat(follow_symlinks=False).st_mtime
                except OSError:
                    continue
                if not pid_alive(int(m.group(1))) and age > STALE_AFTER_S:
                    _remove_quietly(Path(e.path))
                    removed.append(Path(e.path))
            elif recursive and e.is_dir(follow_symlinks=False) and not e.name.startswith("."):
                stack.append(Path(e.path))
    return removed
