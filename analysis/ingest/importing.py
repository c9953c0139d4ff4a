"""Reading an office's own survey export so that it can never silently go wrong.

:func:`read_table` turns the bytes of a CSV / TSV / text / Excel (.xlsx) export into a table of
strings and accounts for every record of the file: each one is either a row of the table or a
:class:`SkippedRow` with a Japanese reason and the line (CSV) or Excel row it came from, so that
``len(table) + len(skipped) == n_records`` always holds. :func:`guess_roles` then decides from
content as well as headers which column holds the free text, which is an id, which are grouping
attributes and which are ignored (dates, numbers, personal data ...). :func:`check_text_column`
refuses a text column that is numbers, ids, dates or empty. :func:`load_bytes` and
:func:`load_file` do all of it and return the comment table.

Decisions that matter to a user are written, in Japanese, to ``notes``. Every failure raises
:class:`~analysis.errors.CorpusError` with a Japanese message that can be shown as is.

The content decides the format, not the file name (an .xlsx saved as .csv is read as Excel). The
steps live beside this module:

* :mod:`analysis.ingest.text_tables`: decoding, delimiter sniffing, splitting records (CSV / TSV / text);
* :mod:`analysis.ingest.workbooks`: Excel sheets, the choice of the comment sheet, combining sheets;
* :mod:`analysis.ingest.table_assembly`: title rows, the header, column names, the account of every record;
* :mod:`analysis.ingest.file_records`: one record, and repairing a record cut by an unquoted delimiter.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.errors import CorpusError
from analysis.ingest.column_roles import ColumnRoles, check_text_column, guess_roles
from analysis.ingest.comments import (
    BLANK_REASON,
    FORMULA_REASON,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    LoadReport,
    LoadResult,
    SkippedRow,
    comments_from_table,
    require_column,
)
from analysis.ingest.seed import load_seed
from analysis.ingest.table_assembly import TableRead
from analysis.ingest.text_tables import decode_bytes, read_text
from analysis.ingest.workbooks import ALL_SHEETS, read_xlsx

# The reading steps' public names are imported from here too (the dashboard, tests).
__all__ = [
    "ALL_SHEETS",
    "ColumnRoles",
    "SkippedRow",
    "TableRead",
    "check_text_column",
    "decode_bytes",
    "guess_roles",
    "read_table",
]


def _refuse_binary(data: bytes, suffix: str, known_only: bool = False) -> None:
    """Raise a clear error for a file that is not a text table.

    ``known_only``: only for formats recognised by their first bytes (old Excel, PDF, zip);
    otherwise also for a .xls name (called once the bytes failed to decode as text).
    """
    head = data[:8]
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise CorpusError(
            "古い Excel 形式（.xls）などのファイルには対応していません。Excel で開き、「名前を付けて"
            "保存」で .xlsx または CSV（UTF-8）として保存し直してください。"
        )
    if head.startswith(b"%PDF"):
        raise CorpusError("PDF ファイルは読み込めません。CSV または Excel（.xlsx）のファイルを指定してください。")
    if head.startswith(b"PK"):
        raise CorpusError(
            "Excel（.xlsx）ではない圧縮ファイル（Word・PowerPoint・zip など）のようです。アンケートの"
            "表を CSV または .xlsx で保存して指定してください。"
        )
    if suffix == ".xls" and not known_only:
        raise CorpusError(
            "古い Excel 形式（.xls）には対応していません。Excel で .xlsx または CSV として"
            "保存し直してください。"
        )


def _is_xlsx(data: bytes) -> bool:
    if not data.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except zipfile.BadZipFile:
        return False


def refuse_oversized(data: bytes) -> None:
    """One Japanese sentence for a file over ``MAX_UPLOAD_BYTES`` (before anything is parsed)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise CorpusError(
            f"ファイルが大きすぎます（{len(data) / 1024 / 1024:.1f} MB）。"
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB 以下のファイルにしてください。大きな表は、コメントの列と"
            "必要な列だけを残すか、いくつかのファイルに分けて保存してください。"
        )


def read_table(data: bytes, filename: str, sheet: str | None = None) -> TableRead:
    """Read the bytes of a CSV / TSV / text / Excel (.xlsx) export into a :class:`TableRead`.

    Parameters
    ----------
    data : bytes
        The file's content (at most ``MAX_UPLOAD_BYTES``).
    filename : str
        Used for its extension only; the content decides the format (an .xlsx saved as .csv is
        read as Excel, a tab-separated .csv as tab-separated).
    sheet : str, optional
        Excel only: the sheet to read. ``None`` picks the sheet holding the comments. ``"*"``
        reads every sheet whose header is identical to that sheet's, one after another, and adds
        a column シート; ``line_numbers`` then stay each sheet's own row numbers and ``row_sheets``
        (and ``SkippedRow.sheet``) say which sheet.

    Raises
    ------
    CorpusError
        Too large, too many rows, old .xls / PDF / other binary, undecodable text, an unclosed
        quote running to the end of the file, no data, an unknown sheet.
    """
    refuse_oversized(data)
    suffix = Path(filename).suffix.lower()
    if not data.strip():
        raise CorpusError("ファイルが空です。コメントを含むファイルを指定してください。")
    notes: list[str] = []
    if _is_xlsx(data):
        if suffix != ".xlsx":
            notes.append(f"拡張子は {suffix or 'なし'} ですが、中身が Excel（.xlsx）のため Excel として読み込みました。")
        return read_xlsx(data, sheet, notes, MAX_ROWS)
    broken_xlsx = CorpusError("Excel（.xlsx）ファイルとして読み込めませんでした。ファイルが壊れている可能性があります。")
    if suffix == ".xlsx" and data.startswith(b"PK"):
        raise broken_xlsx
    _refuse_binary(data, suffix, known_only=True)
    try:
        text, encoding = decode_bytes(data)
    except CorpusError:
        if suffix == ".xlsx":
            raise broken_xlsx from None
        _refuse_binary(data, suffix)
        raise
    n_nul = text.count("\x00")
    if 0 < n_nul <= max(8, len(text) // 10_000):
        # a few NUL characters (a broken export, a stray keystroke): dropped, not a reason to refuse
        text = text.replace("\x00", "")
        notes.append(f"ファイルに NUL 文字（コード 0 の見えない文字）が{n_nul}個あったため、取り除いて読み込みました。")
    if "\x00" in text or sum(c < " " and c not in "\t\r\n" for c in text[:4096]) > 8:
        if suffix == ".xlsx":
            raise broken_xlsx
        _refuse_binary(data, suffix)
        raise CorpusError(
            "表のデータではないファイル（画像や圧縮ファイルなど）のようです。CSV または Excel（.xlsx）"
            "のファイルを指定してください。"
        )
    if suffix in (".xls", ".xlsx"):
        # Some systems write a text table and name it .xls; the content decides.
        notes.append(f"拡張子は {suffix} ですが、中身がテキストの表のため、そのまま読み込みました。")
    return read_text(text, encoding, suffix, notes, MAX_ROWS)


# --------------------------------------------------------------------------- files -> comment tables


@dataclass(frozen=True)
class ColumnGuess:
    """Best guesses for which columns of a user table hold what (``None``: no guess)."""

    text: str | None
    attributes: tuple[str, ...] = ()
    id: str | None = None


def guess_columns(table: pd.DataFrame) -> ColumnGuess:
    """Guess the text, attribute and id columns from content and headers (see :mod:`analysis.ingest.column_roles`)."""
    roles = guess_roles(table)
    return ColumnGuess(text=roles.text, attributes=tuple(roles.attributes), id=roles.id)


def load_bytes(
    data: bytes,
    filename: str,
    text_column: str | None = None,
    attributes: list[str] | tuple[str, ...] | None = None,
    id_column: str | None = None,
    sheet: str | None = None,
) -> LoadResult:
    """Read an office's export (CSV / TSV / text / Excel bytes) into a comment table, safely.

    Column roles are decided from content as well as headers (:func:`analysis.ingest.column_roles.guess_roles`)
    unless given: an id or date column is never the text, and a text column of numbers, ids or
    dates is refused with a Japanese message naming the columns. Every data record of the file is
    either a comment or in ``report.skipped`` with its line and reason.
    """
    return comments_from_read(read_table(data, filename, sheet), text_column, attributes, id_column)


def comments_from_read(
    tr: TableRead,
    text_column: str | None = None,
    attributes: list[str] | tuple[str, ...] | None = None,
    id_column: str | None = None,
) -> LoadResult:
    """The comment table of a file already read (:func:`read_table`, or
    :func:`analysis.ingest.isolated.read_table_isolated` in the dashboard); see :func:`load_bytes`."""
    roles = guess_roles(tr.table)
    if text_column is None:
        text_column = roles.text
        if id_column is None:
            id_column = roles.id
    if attributes is None:
        attributes = [a for a in roles.attributes if a not in (text_column, id_column)]
    if text_column is None:
        check_text_column(tr.table, roles.text or str(tr.table.columns[0]))
        raise CorpusError("本文（コメント）の列が見つかりません。列名を指定してください。")
    require_column(tr.table, text_column, "本文（コメント）")
    check_text_column(tr.table, text_column)
    res = comments_from_table(tr.table, text_column, list(attributes), id_column, tr.encoding,
                              line_numbers=tr.line_numbers, skipped=tr.skipped, notes=tr.notes + roles.notes)
    if tr.formula_blank:
        col = list(tr.table.columns).index(text_column)
        res.report.skipped = [
            dataclasses.replace(sk, reason=FORMULA_REASON)
            if sk.reason == BLANK_REASON and col in tr.formula_blank.get(sk.line, ()) else sk
            for sk in res.report.skipped
        ]
    res.report.repaired = list(tr.repaired)
    res.report.sheet, res.report.sheets = tr.sheet, list(tr.sheets)
    res.report.mapping["ignored"] = dict(roles.ignored)
    assert res.report.n_rows == tr.n_records, "every record is read or reported"
    return res


def load_file(
    path: str | Path,
    text_column: str | None = None,
    attributes: list[str] | tuple[str, ...] | None = None,
    id_column: str | None = None,
    sheet: str | None = None,
) -> LoadResult:
    """Load a CSV/TSV/text/Excel file of comments (see :func:`load_bytes`), or the seed if ``.md``."""
    p = Path(path)
    if not p.exists():
        raise CorpusError(f"ファイルが見つかりません: {p}")
    if p.suffix.lower() == ".md":
        comments = load_seed(p)
        return LoadResult(comments, LoadReport(n_rows=len(comments), n_comments=len(comments)))
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CorpusError(f"ファイルを読み込めませんでした: {p}（{exc.strerror}）") from exc
    return load_bytes(data, p.name, text_column, attributes, id_column, sheet)
