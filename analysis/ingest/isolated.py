"""Reading an uploaded file in a child process, under a memory and a time limit.

The dashboard server is shared by every user of an office; a file that needs gigabytes or minutes
to read (a crafted workbook, a file no limit foresaw) must cost the person who uploaded it one
Japanese sentence, not everyone their dashboard. :func:`read_table_isolated` runs
:func:`analysis.ingest.importing.read_table` in ``python -m analysis.ingest.isolated``, watches the
child's resident memory (``/proc``) and time, and kills it past :data:`READ_MAX_RSS` or
:data:`READ_TIMEOUT`. The result comes back pickled through a private temporary folder (the child
is our own program, so its pickle is trusted). The CLI and notebooks read in their own process.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analysis.errors import CorpusError

#: Resident memory the reading child may use (the 20 MB upload limit needs well under half of it).
READ_MAX_RSS = 1024 * 1024 * 1024
#: Seconds the reading child may take (200,000 rows read in about 10 s on 2 cores).
READ_TIMEOUT = 120.0

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def read_table_isolated(data: bytes, filename: str, sheet: str | None = None, *,
                        max_rss: int = READ_MAX_RSS, timeout: float = READ_TIMEOUT):
    """:func:`~analysis.ingest.importing.read_table` in a child process; the same result or the same
    :class:`~analysis.errors.CorpusError`, plus one when the child needs too much memory or time."""
    with tempfile.TemporaryDirectory(prefix="moyamoya-read-") as tmp:
        src, out = Path(tmp) / "input", Path(tmp) / "result.pickle"
        src.write_bytes(data)
        cmd = [sys.executable, "-m", "analysis.ingest.isolated", str(src), str(out), filename, sheet or ""]
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env)
        start, peak, why = time.monotonic(), 0, None
        try:
            while proc.poll() is None:
                peak = max(peak, _rss(proc.pid))
                if peak > max_rss:
                    why = "memory"
                elif time.monotonic() - start > timeout:
                    why = "time"
                if why:
                    proc.kill()
                    proc.wait()
                    break
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
            if proc.stderr:
                proc.stderr.close()
        if why == "memory":
            raise CorpusError(
                f"このファイルを読み込むには {max_rss // 1024 // 1024:,} MB を超えるメモリが必要なため、読み込みを"
                "中止しました。コメントの列と必要な列だけを残した表にするか、CSV（UTF-8）で保存し直してください。"
            )
        if why == "time":
            raise CorpusError(
                f"このファイルの読み込みが {timeout:.0f} 秒を超えたため中止しました。コメントの列と必要な列だけを"
                "残した表にするか、CSV（UTF-8）で保存し直してください。"
            )
        try:
            status, value = pickle.loads(out.read_bytes())
        except (OSError, EOFError, pickle.UnpicklingError, ValueError):
            detail = err.strip().splitlines()[-1][:200] if err.strip() else f"終了コード {proc.returncode}"
            raise CorpusError(f"ファイルを読み込む処理が途中で止まりました。（詳細: {detail}）") from None
    if status == "error":
        raise CorpusError(value)
    return value


def _child(src: str, out: str, filename: str, sheet: str) -> int:
    from analysis.ingest.importing import read_table

    try:
        result = ("ok", read_table(Path(src).read_bytes(), filename, sheet or None))
    except CorpusError as exc:
        result = ("error", str(exc))
    tmp = out + ".part"
    with open(tmp, "wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:5]))
