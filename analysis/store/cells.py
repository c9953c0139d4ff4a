"""Cells for every CSV and XLSX the project writes: no formula ever runs, the text stays readable.

Excel (and LibreOffice) evaluate a CSV cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula (OWASP "CSV injection"): ``=HYPERLINK("http://x","y")`` becomes a
live link, ``-連携`` shows ``#NAME?``. openpyxl stores any string starting with ``=`` as a formula.

* CSV: such a string gets a leading apostrophe (``'=1+1``), the usual guard; Excel shows the text.
  The full-width forms (＝ ＋ － ＠) count too, because Japanese Excel turns a typed ＝ into =.
* XLSX: every string is written as a string cell (``data_type == "s"``, never ``"f"``), exactly as
  written; those that start with a formula character also get Excel's own quote prefix (the
  hidden apostrophe), so editing the cell in Excel does not turn it into a formula either.

Numbers stay numbers: ``-2`` (an int) is untouched, the string ``"-2+3"`` is neutralised.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import re
import unicodedata
from pathlib import Path
from typing import IO, Mapping

import pandas as pd

#: First characters that make Excel read a cell as a formula (OWASP), plus their full-width forms.
FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")

#: Excel's limit on the characters of one cell.
EXCEL_CELL_MAX = 32_767

MIN_WIDTH = 6.0
MAX_WIDTH = 60.0

# XML 1.0 (and so openpyxl) rejects these control characters; tab, LF and CR are allowed.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SHEET_ILLEGAL = re.compile(r"[\[\]:*?/\\]")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` for a formula."""
    return text.startswith(FORMULA_START)


def safe_cell(value: object) -> object:
    """``value`` with a leading apostrophe if it is a string a spreadsheet would run as a formula.

    Non-strings (numbers, dates, None, NaN) are returned unchanged, so ``-2`` stays a number.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with :func:`safe_cell` applied to every string cell and column name.

    Columns of other types are not touched (a negative number stays a number); object columns
    mixing numbers and strings neutralise only the strings.
    """
    out = df.copy()
    for i, col in enumerate(out.columns):
        s = out.iloc[:, i]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        elif not (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)):
            continue  # numbers, booleans, dates: nothing a spreadsheet would run
        # Same dtype as before: Series.map would let pandas re-infer it (object -> str).
        out.isetitem(i, pd.Series([safe_cell(v) for v in s], index=s.index, dtype=s.dtype, name=s.name))
    out.columns = _safe_labels(out.columns)
    return out


def store_cell(value: object) -> object:
    """Like :func:`safe_cell`, but reversible with :func:`load_cell`: a string that already starts
    with an apostrophe gets one more, so files this program reads back (a run's CSVs) round-trip."""
    if isinstance(value, str) and (value.startswith(FORMULA_START) or value.startswith("'")):
        return "'" + value
    return value


def load_cell(value: object) -> object:
    """Inverse of :func:`store_cell`."""
    if isinstance(value, str) and value.startswith("'") and len(value) > 1 and (
            value[1] == "'" or value[1:].startswith(FORMULA_START)):
        return value[1:]
    return value


def _map_strings(df: pd.DataFrame, fn) -> pd.DataFrame:
    out = df.copy()
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
            out.isetitem(i, pd.Series([fn(v) for v in s], index=s.index, dtype=s.dtype, name=s.name))
    return out


def store_frame(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`store_cell` on every string cell: safe to open in Excel, exact when read back."""
    return _map_strings(df, store_cell)


def load_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Inverse of :func:`store_frame`."""
    return _map_strings(df, load_cell)


def _safe_labels(columns: pd.Index) -> pd.Index:
    if isinstance(columns, pd.MultiIndex):
        columns = [" / ".join(str(x) for x in col) for col in columns]
    return pd.Index([safe_cell(c) for c in columns])


def write_csv_bytes(df: pd.DataFrame, index: bool = False) -> bytes:
    """``df`` as CSV bytes for Excel: UTF-8 with BOM, CRLF line ends, formula cells neutralised.

    Column names are written as they are (Japanese headers welcome), neutralised like cells.
    With ``index=True`` the index is written as the first column(s).
    """
    frame = df.reset_index() if index else df
    buf = io.StringIO()
    safe_frame(frame).to_csv(buf, index=False, lineterminator="\r\n")
    # A lone surrogate (broken input) cannot be UTF-8: it becomes "?" instead of failing the download.
    return buf.getvalue().encode("utf-8-sig", errors="replace")


# --------------------------------------------------------------------------- XLSX


def display_width(text: str) -> int:
    """Columns ``text`` takes in a monospace view: 2 for full-width / wide characters, else 1.

    East-Asian "ambiguous" characters (○, ※, Greek) count 2: Japanese fonts draw them wide.
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in text)


def _missing(value: object) -> bool:
    """None, NaN, NaT or pd.NA (a list or array is never "missing", whatever it holds)."""
    if value is None:
        return True
    if not pd.api.types.is_scalar(value):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _xlsx_value(value: object) -> object:
    """A value openpyxl can store: numbers, booleans and dates as they are, everything else as text."""
    if _missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value if not (isinstance(value, float) and math.isinf(value)) else str(value)
    if hasattr(value, "dtype") and hasattr(value, "item"):  # numpy scalars
        return _xlsx_value(value.item())
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ") if value.tzinfo is not None else value
    if isinstance(value, (_dt.date, _dt.time)):
        return value
    if isinstance(value, pd.Timedelta):
        return str(value)
    text = _XML_ILLEGAL.sub("", value if isinstance(value, str) else str(value))
    if len(text) > EXCEL_CELL_MAX:
        text = text[: EXCEL_CELL_MAX - 1] + "…"
    return text


def _sheet_titles(names: list[object]) -> list[str]:
    """Valid, unique Excel sheet names (≤ 31 characters, none of []:*?/\\, not quoted at an end)."""
    titles: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = _SHEET_ILLEGAL.sub("_", _XML_ILLEGAL.sub("", str(name))).strip().strip("'") or "Sheet"
        title, n = base[:31], 1
        while title.casefold() in seen:
            n += 1
            suffix = f"({n})"
            title = base[: 31 - len(suffix)] + suffix
        seen.add(title.casefold())
        titles.append(title)
    return titles


def _width_of(value: object) -> int:
    if value is None:
        return 0
    text = value.isoformat() if isinstance(value, (_dt.date, _dt.time)) else str(value)
    return max((display_width(line) for line in text.splitlines() or [""]), default=0)


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    path_or_buffer: str | Path | IO[bytes],
    col_widths: Mapping[str, float] | None = None,
    freeze_header: bool = True,
    index: bool = False,
) -> None:
    """Write DataFrames to an Excel workbook, one sheet each, with no formula cell anywhere.

    Parameters
    ----------
    sheets : sheet name -> table, in order. Names are made valid for Excel (≤ 31 characters,
        no ``[]:*?/\\``, unique); Japanese names and headers are fine.
    path_or_buffer : a file path or a binary file object (e.g. ``io.BytesIO`` for a download).
    col_widths : widths (in Excel character units) by column header, overriding the automatic
        width: the largest display width of the header and the cells (full-width characters
        count 2), plus padding, between :data:`MIN_WIDTH` and :data:`MAX_WIDTH`. Text wider than
        its column wraps.
    freeze_header : keep the header row visible while scrolling.
    index : write the index as the first column(s).

    Every string cell is stored as a string (``data_type "s"``); strings a spreadsheet would
    run as a formula also get Excel's quote prefix. Missing values are empty cells; numbers and
    dates keep their type; lists and other objects are written as their text. Characters that
    XML forbids are dropped and a cell longer than Excel's 32,767 characters is shortened.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    if not sheets:
        raise ValueError("書き出す表がありません（シートが0枚です）")
    widths = dict(col_widths or {})
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")

    wb = Workbook()
    wb.remove(wb.active)
    for title, df in zip(_sheet_titles(list(sheets)), sheets.values()):
        ws = wb.create_sheet(title)
        frame = df.reset_index() if index else df
        headers = [
            " / ".join(map(str, c)) if isinstance(c, tuple) else ("" if _missing(c) else str(c))
            for c in frame.columns
        ]
        rows = frame.itertuples(index=False, name=None)
        col_max = [display_width(h) for h in headers]
        for c, header in enumerate(headers, start=1):
            _put(ws.cell(row=1, column=c), _xlsx_value(header)).font = bold
        for r, row in enumerate(rows, start=2):
            for c, raw in enumerate(row, start=1):
                value = _xlsx_value(raw)
                cell = _put(ws.cell(row=r, column=c), value)
                w = _width_of(value)
                if w > col_max[c - 1]:
                    col_max[c - 1] = w
                if isinstance(value, str) and (w > MAX_WIDTH or "\n" in value):
                    cell.alignment = wrap
                elif isinstance(value, str):
                    cell.alignment = top
        for c, header in enumerate(headers, start=1):
            auto = min(max(col_max[c - 1] + 2, MIN_WIDTH), MAX_WIDTH)
            ws.column_dimensions[get_column_letter(c)].width = float(widths.get(header, auto))
        if freeze_header:
            ws.freeze_panes = "A2"
    wb.save(path_or_buffer)


def _put(cell, value: object):
    """Store ``value`` in an openpyxl cell; strings always as strings, never as formulas."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would otherwise store "=…" as a formula
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True
    return cell


def xlsx_bytes(
    sheets: Mapping[str, pd.DataFrame],
    col_widths: Mapping[str, float] | None = None,
    freeze_header: bool = True,
    index: bool = False,
) -> bytes:
    """:func:`write_xlsx` into memory, for a download button."""
    buf = io.BytesIO()
    write_xlsx(sheets, buf, col_widths=col_widths, freeze_header=freeze_header, index=index)
    return buf.getvalue()
