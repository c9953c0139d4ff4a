"""Reports and exports: the meeting pack (HTML / PDF / Excel), trainer handouts, plotly figures.

May import anything in analysis/ but the pipeline and the CLI (it is the last layer before the dashboard).

The meeting pack: a report of a saved run (or of the comments a filter keeps) as HTML, PDF or Excel.

:func:`build_report` gathers everything once (:mod:`analysis.report.data`); :func:`report_html`,
:func:`report_pdf` (:mod:`analysis.report.html`: one self-contained page, printed to PDF by
chromium) and :func:`report_xlsx` (:mod:`analysis.report.workbook`: no cell is ever a formula)
render that one :class:`ReportData`, so the three files always agree. This package names the
formats and writes the files (:func:`report_bytes`, :func:`write_report`); callers import all of
the above from here.

A report made from the dashboard honours its filters: pass the filtered rows of ``Run.table()``
and the filters' Japanese description; the report only shows those comments and says which
filters were on. No Streamlit here: the dashboard, notebooks and the CLI share these functions.
"""

from __future__ import annotations

from pathlib import Path

from ..storage import atomic_write_bytes
from .data import (
    NO_FILTER,
    ReportData,
    ReportError,
    ThemeInfo,
    build_report,
    describe_filters,
    filter_table,
)
from .html import html_to_pdf, report_html, report_pdf
from .workbook import MARK_HEADER, SHEETS, report_xlsx

__all__ = [
    "FORMATS", "NO_FILTER", "ReportError", "ReportData", "ThemeInfo", "build_report", "filter_table",
    "describe_filters", "report_html", "report_xlsx", "report_pdf", "html_to_pdf", "report_bytes",
    "write_report", "SHEETS", "MARK_HEADER",
]

FORMATS: tuple[str, ...] = (".html", ".pdf", ".xlsx")
MIME: dict[str, str] = {
    ".html": "text/html",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# --------------------------------------------------------------------------- files


def report_format(path: str | Path) -> str:
    """``.html``, ``.pdf`` or ``.xlsx`` from a file name; :class:`ReportError` for anything else."""
    ext = Path(str(path)).suffix.lower()
    if ext not in FORMATS:
        raise ReportError(f"報告書のファイル名は .html、.pdf、.xlsx のどれかで終わるようにしてください（指定: {Path(str(path)).name}）。")
    return ext


def report_bytes(data: ReportData, fmt: str) -> bytes:
    """The report in format ``fmt`` (``.html`` / ``.pdf`` / ``.xlsx``, with or without the dot)."""
    fmt = fmt if fmt.startswith(".") else "." + fmt
    fmt = fmt.lower()
    if fmt == ".html":
        return report_html(data).encode("utf-8")
    if fmt == ".pdf":
        return report_pdf(data)
    if fmt == ".xlsx":
        return report_xlsx(data)
    raise ReportError(f"報告書の形式は html、pdf、xlsx のどれかです（指定: {fmt}）。")


def write_report(data: ReportData, out: str | Path, force: bool = False) -> Path:
    """Write the report to ``out`` (format from its extension) atomically; an existing file needs ``force``."""
    path = Path(out)
    fmt = report_format(path)
    if path.exists() and not force:
        raise ReportError(f"「{path}」はすでにあります。上書きするときは --force を付けてください。")
    if path.is_dir():
        raise ReportError(f"「{path}」はフォルダです。ファイル名を指定してください。")
    if not path.parent.is_dir():
        raise ReportError(f"保存先のフォルダ「{path.parent}」がありません。")
    atomic_write_bytes(path, report_bytes(data, fmt))
    return path
