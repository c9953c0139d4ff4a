"""Reading an office's own survey export so that it can never silently go wrong.

:func:`read_table` turns the bytes of a CSV / TSV / text / Excel (.xlsx) export into a table of
strings and accounts for every record of the file: each one is either a row of the table or a
:class:`SkippedRow` with a Japanese reason and the line (CSV) or Excel row it came from, so that
``len(table) + len(skipped) == n_records`` always holds. :func:`guess_roles` then decides from
content as well as headers which column holds the free text, which is an id, which are grouping
attributes and which are ignored (dates, numbers, personal data ...). :func:`check_text_column`
refuses a text column that is numbers, ids, dates or empty.

Decisions that matter to a user are written, in Japanese, to ``notes``. Every failure raises
:class:`~analysis.corpus.CorpusError` with a Japanese message that can be shown as is.

How a CSV-like file is read
---------------------------
1. Decode strictly: UTF-16 with a BOM (Excel's 「Unicode テキスト」), UTF-8 (BOM or not), CP932.
   Never ``shift_jis``, which fails on ① and other NEC/IBM extensions that CP932 has.
2. Sniff the delimiter (comma, tab, semicolon) from the first lines, whatever the extension: the
   one whose parse gives most records the same number (>= 2) of fields. When none does, the file
   has one column and nothing is split (``delimiter`` is None); quotes are honoured only if the
   whole file is validly quoted, otherwise each line is one record as written.
3. Split records with :mod:`csv` (quotes respected, quoted fields may span lines), counting the
   physical lines each record takes, so line numbers are those a text editor shows.
4. Blank records are skipped and counted; one-cell rows above the table are title rows.
5. Decide whether the first record is a header (see :func:`_first_row_is_data`); without one the
   columns are named 列1, 列2, … and the first record is data.
6. The number of columns comes from the header (or, without one, the most common record width),
   never from one odd line; only when nearly all rows (90 %) have more fields than the header has
   names are the extra columns kept, as 列N. A record with more fields than that was usually cut by an unquoted
   delimiter inside the comment: the overflow is joined back into the comment column when every
   other cell then looks like its column (numbers where the column holds numbers, a known
   category where it holds categories); otherwise the record is skipped with its line number.
   A record with fewer fields is padded with empty cells only when it still reaches the comment
   column and its cells look like their columns; a one-field record (often the rest of a comment
   broken by an unquoted line break) is skipped. Every repaired row is listed in ``repaired``.

Excel files: every sheet is read (openpyxl, read-only, cached values); the sheet with most rows
holding sentence-like text is chosen, and a note names it and the others. Sheets with the same
header that all hold data are reported; ``sheet="*"`` reads them all as one table (see
:func:`read_table`).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.column_roles import (
    HEADER_WORDS,
    TEXT_HINTS,
    ColumnRoles,
    check_text_column,
    guess_roles,
    header_has,
    is_date,
    is_date_header,
    is_number,
    is_question,
    is_sentence,
    is_texty,
    looks_like_header_word,
    max_categories,
    norm,
)
from analysis.corpus import (
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    CorpusError,
    LoadReport,
    LoadResult,
    SkippedRow,
    _require_column,
    comments_from_table,
    load_seed,
)

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

ALL_SHEETS = "*"

_SNIFF_LINES = 400
_EVIDENCE_ROWS = 300
_MAX_TITLE_ROWS = 5
_RAW_CHARS = 200
_SHOWN_LINES = 10

_DELIMITER_NAMES = {",": "カンマ（,）", "\t": "タブ", ";": "セミコロン（;）"}
_ENCODING_NAMES = {
    "utf-16": "UTF-16（Excel の「Unicode テキスト」）",
    "utf-8-sig": "UTF-8（BOM 付き）",
    "utf-8": "UTF-8",
    "cp932": "Shift_JIS（CP932）",
}


# --------------------------------------------------------------------------- results


@dataclass
class TableRead:
    """A user file read into a table of strings, with an account of every record.

    Attributes
    ----------
    table : pandas.DataFrame
        Shape (n_kept, n_columns); every cell a ``str`` (``""`` when empty), cells not trimmed.
    line_numbers : list of int
        Length n_kept: the line (CSV; first line of a multi-line record) or Excel row of each row.
    skipped : list of SkippedRow
        Every data record not in ``table``, blank lines and title rows included, in file order.
    n_records : int
        Records in the file other than the header; always ``len(table) + len(skipped)``. Blank
        lines after the last record are not records.
    encoding, delimiter : str or None
        ``None`` for Excel files.
    has_header : bool
        False when the first record was data (columns are then 列1, 列2, …).
    header_line : int or None
        Line or Excel row of the header.
    sheet : str or None
        The sheet read (``"*"`` when sheets were combined).
    sheets : list of str
        All sheet names of a workbook, in order; ``sheet_rows`` gives each one's data rows.
    row_sheets : list of str or None
        With ``sheet="*"``: the sheet of each table row (also in the table's シート column).
    repaired : list of SkippedRow
        Rows that are in ``table`` but not exactly as the file split them (overflow joined back,
        missing cells padded); ``reason`` says what was done.
    notes : list of str
        Japanese sentences explaining the decisions taken.
    """

    table: pd.DataFrame
    line_numbers: list[int]
    skipped: list[SkippedRow]
    n_records: int
    encoding: str | None
    delimiter: str | None
    has_header: bool
    header_line: int | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    sheet_rows: dict[str, int] = field(default_factory=dict)
    row_sheets: list[str] | None = None
    repaired: list[SkippedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary_ja(self) -> str:
        """One Japanese sentence: records read, kept and skipped."""
        text = f"データ{self.n_records}行のうち{len(self.table)}行を読み込みました。"
        if self.skipped:
            counts = Counter(s.reason.split("（")[0] for s in self.skipped)
            parts = "、".join(f"{reason} {n}行" for reason, n in counts.items())
            text += f"{len(self.skipped)}行は読み飛ばしました（{parts}）。"
        return text


# --------------------------------------------------------------------------- decoding


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode strictly: UTF-16 with BOM, UTF-8 (BOM or not), then CP932.

    Returns
    -------
    (text, encoding) with encoding one of ``"utf-16"``, ``"utf-8-sig"``, ``"utf-8"``, ``"cp932"``.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise CorpusError(
                "UTF-16 のファイルとして読み込めませんでした。ファイルが途中で切れているか、壊れている"
                "可能性があります。"
            ) from exc
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ("utf-8-sig",)
    else:
        candidates = ("utf-8", "cp932")
    for enc in candidates:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise CorpusError(
        "ファイルの文字コードを判別できませんでした。UTF-8 または Shift_JIS（CP932）で保存した"
        "ファイルを指定してください。"
    )


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


# --------------------------------------------------------------------------- reading


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
    if len(data) > MAX_UPLOAD_BYTES:
        raise CorpusError(
            f"ファイルが大きすぎます（{len(data) / 1024 / 1024:.1f} MB）。"
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB 以下のファイルにしてください。"
        )
    suffix = Path(filename).suffix.lower()
    if not data.strip():
        raise CorpusError("ファイルが空です。コメントを含むファイルを指定してください。")
    notes: list[str] = []
    if _is_xlsx(data):
        if suffix != ".xlsx":
            notes.append(f"拡張子は {suffix or 'なし'} ですが、中身が Excel（.xlsx）のため Excel として読み込みました。")
        return _read_xlsx(data, sheet, notes)
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
    return _read_text(text, encoding, suffix, notes)


@dataclass
class _Rec:
    line: int
    end: int
    fields: list[str]

    @property
    def blank(self) -> bool:
        return all(not f.strip() for f in self.fields)


def _sniff_delimiter(lines: list[str]) -> str | None:
    """The delimiter giving most records one common width of >= 2 fields; None for one column."""
    sample = lines[:_SNIFF_LINES]
    best: tuple[float, str] | None = None
    # Ties go to tab: tabs almost never occur inside Japanese prose, commas and semicolons do.
    for delim in ("\t", ",", ";"):
        try:
            widths = [len(r) for r in csv.reader(sample, delimiter=delim) if any(f.strip() for f in r)]
        except csv.Error:
            continue
        if len(lines) > len(sample):
            widths = widths[:-1]  # the sample may have cut the last record
        if not widths or sum(w >= 2 for w in widths) / len(widths) < 0.8:
            continue
        _, count = Counter(widths).most_common(1)[0]
        share = count / len(widths)
        if best is None or share > best[0] + 1e-9:
            best = (share, delim)
    return best[1] if best else None


def _parse_records(lines: list[str], delim: str, *, strict: bool = False, quoting: int = csv.QUOTE_MINIMAL) -> list[_Rec]:
    """Records with the physical lines they span; ``strict`` lets a csv.Error through."""
    reader = csv.reader(lines, delimiter=delim, strict=strict, quoting=quoting)
    records: list[_Rec] = []
    prev = 0
    try:
        for fields in reader:
            records.append(_Rec(prev + 1, reader.line_num, fields))
            prev = reader.line_num
            if len(records) > MAX_ROWS + 1:
                _too_many_rows(len(records))
    except csv.Error as exc:
        if strict:
            raise
        raise CorpusError(
            f"{prev + 1}行目からの値を読み込めませんでした。引用符（\"）が閉じられていない可能性があります。"
            f"（詳細: {str(exc)[:120]}）"
        ) from exc
    if records and records[-1].end > records[-1].line:
        last = records[-1]
        try:
            list(csv.reader(lines[last.line - 1 : last.end], delimiter=delim, strict=True))
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise CorpusError(
                    f"{last.line}行目で始まる引用符（\"）が閉じられていないため、ファイルの最後までが"
                    f"1つの値になってしまいます。{last.line}行目の \" を確認してください。"
                ) from exc
    while records and records[-1].blank:
        records.pop()
    return records


def _too_many_rows(n: int) -> None:
    raise CorpusError(f"行数が多すぎます（{n:,}行以上）。{MAX_ROWS:,}行以下にしてください。")


def _read_text(text: str, encoding: str, suffix: str, notes: list[str]) -> TableRead:
    # newline="" splits on \n, \r\n and \r alike and keeps the endings for the csv module, so
    # the index of a line is the line number an editor shows.
    lines = list(io.StringIO(text, newline=""))
    delim = _sniff_delimiter(lines)
    one_column = delim is None
    if delim is not None:
        records = _parse_records(lines, delim)
    else:
        # One column: nothing to split (NUL never occurs in a decoded text we accept), but a
        # comment Excel wrote in quotes may span lines. A hand-made list of comments may start
        # a line with a quote it never closes; then every line is one record, quotes and all.
        try:
            records = _parse_records(lines, "\x00", strict=True)
        except csv.Error:
            records = _parse_records(lines, "\x00", quoting=csv.QUOTE_NONE)
            notes.append(
                "引用符（\"）の対応がとれない行があるため、引用符も本文の一部として、1行を1件として読みました。"
            )

    def raw_of(rec: _Rec) -> str:
        return _trim("".join(lines[rec.line - 1 : rec.end]).rstrip("\r\n"))

    built = _assemble(
        records, raw_of, ragged=True, delimiter=delim, sheet=None, lines=lines, width=1 if one_column else None
    )
    if built is None:
        raise CorpusError("ファイルにデータがありません。コメントを含むファイルを指定してください。")
    _require_data(built, "ファイル")
    enc_name = _ENCODING_NAMES[encoding]
    if one_column:
        notes.insert(0, f"文字コードは{enc_name}と判断しました。区切り文字のない、列が1つだけのファイルとして読みました。")
    else:
        notes.insert(0, f"文字コードは{enc_name}、区切り文字は{_DELIMITER_NAMES[delim]}と判断しました。")
        expected = {".csv": ",", ".tsv": "\t"}.get(suffix)
        if expected and expected != delim:
            notes.append(f"拡張子は {suffix} ですが、中身は{_DELIMITER_NAMES[delim]}区切りでした。")
    return built.to_result(encoding=encoding, delimiter=delim, notes=notes)


def _require_data(built: _Assembled, where: str) -> None:
    if built.n_records == 0:
        raise CorpusError(
            f"{where}には見出しの行しかなく、データの行がありません。コメントを含むファイルを指定してください。"
        )


def _trim(raw: str) -> str:
    return raw if len(raw) <= _RAW_CHARS else raw[: _RAW_CHARS - 1] + "…"


def _lines_ja(items: list[SkippedRow]) -> str:
    shown = "、".join(f"{s.line}行目" for s in items[:_SHOWN_LINES])
    return shown + (f" ほか{len(items) - _SHOWN_LINES}行" if len(items) > _SHOWN_LINES else "")


@dataclass
class _Assembled:
    columns: list[str]
    rows: list[list[str]]
    line_numbers: list[int]
    skipped: list[SkippedRow]
    repaired: list[SkippedRow]
    n_records: int
    has_header: bool
    header_line: int | None
    notes: list[str]

    def to_result(self, **kwargs) -> TableRead:
        notes = kwargs.pop("notes") + self.notes
        table = pd.DataFrame(self.rows, columns=self.columns, dtype=object)
        return TableRead(
            table=table,
            line_numbers=self.line_numbers,
            skipped=self.skipped,
            n_records=self.n_records,
            has_header=self.has_header,
            header_line=self.header_line,
            repaired=self.repaired,
            notes=notes,
            **kwargs,
        )


@dataclass
class _ColumnShape:
    """What the well-formed rows hold in one column; used to judge a repaired row's cells."""

    n: int
    numeric: bool
    date: bool
    values: set[str] | None  # the few values of a category-like column, else None
    max_len: int

    @classmethod
    def of(cls, cells: list[str]) -> _ColumnShape:
        vals = [norm(c) for c in cells if c.strip()]
        distinct = set(vals)
        few = len(distinct) <= max_categories(len(vals)) and len(distinct) < len(vals)
        return cls(
            n=len(vals),
            numeric=bool(vals) and sum(map(is_number, vals)) >= 0.9 * len(vals),
            date=bool(vals) and sum(map(is_date, vals)) >= 0.9 * len(vals),
            values=distinct if few else None,
            max_len=max((len(v) for v in vals), default=0),
        )

    def fits(self, cell: str) -> bool:
        v = norm(cell)
        if not v or self.n == 0:
            return True
        if self.numeric:
            return is_number(v)
        if self.date:
            return is_date(v)
        if self.values is not None:
            return v in self.values
        return len(v) <= max(2 * self.max_len, 10)


def _first_row_is_data(first: list[str], body: list[list[str]]) -> bool:
    """Whether the first record is data rather than column names.

    Evidence for data: a number or a date where the column holds numbers or dates, a value that
    repeats in the column below, a long sentence that is not a survey question. Evidence for a
    header: known column words (自由記述, 所属, comment-id …), a question (「…お書きください」),
    a short label above long texts or above numbers/dates. Without evidence: a header. A sentence
    (long, or ending in a predicate such as …なる / …ない) counts as data.
    """
    score = 0
    for j, cell in enumerate(first):
        h = norm(cell)
        if not h:
            continue
        col = [v for v in (norm(r[j]) for r in body if j < len(r)) if v]
        num = sum(map(is_number, col)) / len(col) if col else 0.0
        date = sum(map(is_date, col)) / len(col) if col else 0.0
        if is_number(h):
            score += 2
        elif num >= 0.8:
            score -= 2
        if is_date(h):
            score += 2
        elif date >= 0.8:
            score -= 2
        if h in col:
            score += 2
        if looks_like_header_word(h):
            score -= 2
        if is_question(h):
            score -= 2
        elif len(h) >= 20 or (is_sentence(h) and not looks_like_header_word(h)):
            score += 2
        elif col:
            median = sorted(map(len, col))[len(col) // 2]
            if len(h) <= 10 and median >= 20:
                score -= 1  # a short label above long texts
            elif len(h) >= 12 and len(h) * 2 >= median and not header_has(h, TEXT_HINTS + HEADER_WORDS):
                score += 1  # as long as the texts below it and no column word in it
    return score > 0


def _clean_name(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip()


def _unique_names(names: list[str]) -> tuple[list[str], list[str]]:
    out: list[str] = []
    notes: list[str] = []
    seen: Counter[str] = Counter()
    for j, name in enumerate(names):
        base = name or f"列{j + 1}"
        seen[base] += 1
        new = base if seen[base] == 1 else f"{base}_{seen[base]}"
        while new in out:
            seen[base] += 1
            new = f"{base}_{seen[base]}"
        if seen[base] > 1:
            notes.append(f"見出し『{base}』が重複しているため、{j + 1}列目を『{new}』としました。")
        out.append(new)
    return out, notes


def _text_column_index(names: list[str], aligned: list[list[str]], has_header: bool) -> int:
    """Column most likely holding the comments: the longest cells, a text-like header helping.

    Content decides first: a header hint alone would send overflow into 「回答者」 (a category
    whose name contains 回答) instead of the comment column next to it.
    """
    def hinted(j: int) -> bool:
        return has_header and header_has(names[j], TEXT_HINTS) and not is_date_header(names[j])

    if not aligned:
        return next((j for j in range(len(names)) if hinted(j)), len(names) - 1)
    lengths = [sum(len(norm(r[j])) for r in aligned) * (1.5 if hinted(j) else 1.0) for j in range(len(names))]
    return max(range(len(names)), key=lambda j: lengths[j])


def _swallows_records(
    rec: _Rec, lines: list[str], delimiter: str | None, width: int, shapes: list[_ColumnShape]
) -> bool:
    """Whether a quoted multi-line record contains lines that look like records of their own.

    A stray opening quote makes the csv module read on to the next quote, swallowing whole
    records. A line inside the record that starts with a value fitting the first column (a
    number, a date or a known category, not free text) and holds enough delimiters for a full
    record is taken as such a swallowed record; ordinary line breaks inside a comment are not.
    """
    first = shapes[0] if shapes else None
    if delimiter is None or width < 2 or first is None or first.n == 0:
        return False
    if not (first.numeric or first.date or first.values is not None):
        return False
    for line in lines[rec.line : rec.end]:
        parts = line.rstrip("\r\n").split(delimiter)
        if len(parts) >= width and parts[0].strip() and first.fits(parts[0]):
            return True
    return False


def _choose_width(widths: list[int], ragged: bool) -> int:
    """Most common record width (ties: the wider); Excel: the widest row."""
    if not ragged:
        return max(widths)
    counts = Counter(widths)
    return max(counts, key=lambda w: (counts[w], w))


def _title_rows(records: list[_Rec], nonblank: list[int], width: int) -> set[int]:
    """Leading one-cell rows (「令和6年度 連携アンケート」) above a table of two or more columns."""
    if width < 2:
        return set()
    for k, i in enumerate(nonblank[: _MAX_TITLE_ROWS + 1]):
        fields = records[i].fields
        if sum(bool(f.strip()) for f in fields) >= 2:
            return set(nonblank[:k])
        if not fields[0].strip() or is_number(norm(fields[0])):
            return set()
    return set()


def _header_names(
    first: _Rec, data_rows: list[_Rec], width: int, ragged: bool
) -> tuple[list[str], list[str]]:
    """Column names from the header record, and notes on what was added or renamed."""
    notes: list[str] = []
    names = [_clean_name(c) for c in first.fields]
    while len(names) > width and not names[-1]:
        names.pop()
    # More fields than names in nearly all rows (or any Excel cell right of the header): the
    # header lacks names, the rows are not broken; name those columns instead of joining every
    # row's last cells into one. A minority of wide rows is left to the row repair.
    wide = sum(len(r.fields) == width for r in data_rows)
    if len(names) < width and (not ragged or wide >= 0.9 * len(data_rows)):
        added = [f"列{j + 1}" for j in range(len(names), width)]
        notes.append(f"見出しのない列にも値があるため、その列を『{'』『'.join(added)}』として読み込みました。")
        names += [""] * (width - len(names))
    names, renamed = _unique_names(names)
    return names, notes + renamed + [f"{first.line}行目を見出し（列名）として読みました。"]


@dataclass
class _RowFitter:
    """Brings a CSV record to the table's width, or says why it cannot (see the module docstring)."""

    names: list[str]
    text_j: int  # the comment column, where overflow is joined back
    shapes: list[_ColumnShape]  # what the well-formed rows hold, per column
    delimiter: str | None
    has_header: bool

    def fit(self, rec: _Rec, after_kept_row: bool) -> tuple[list[str] | None, str | None]:
        """(fields, what was repaired or None) for a kept record, (None, reason) for a skipped one."""
        width, text_j = len(self.names), self.text_j
        fields = list(rec.fields)
        while len(fields) > width and not fields[-1].strip():
            fields.pop()  # trailing empty cells carry nothing
        if len(fields) == width:
            return fields, None
        where = "見出し" if self.has_header else "ほとんどの行"
        mismatch = f"列の数が{where}と合いません（{where} {width} 列、この行 {len(rec.fields)} 列）"
        if rec.end > rec.line:
            mismatch += f"。{rec.line}〜{rec.end}行目が引用符（\"）で1つにまとまっています"
        others_fit = lambda cells: all(  # noqa: E731
            self.shapes[j].fits(v) for j, v in enumerate(cells) if j != text_j
        )
        if len(fields) > width and self.delimiter is not None:
            extra = len(fields) - width
            joined = fields[:text_j] + [self.delimiter.join(fields[text_j : text_j + extra + 1])]
            joined += fields[text_j + extra + 1 :]
            if others_fit(joined):
                return joined, (
                    f"本文の列『{self.names[text_j]}』に区切り文字（{self.delimiter}）が含まれていたため、"
                    "はみ出した部分を本文に戻しました"
                )
            return None, mismatch
        if 2 <= len(fields) < width and len(fields) > text_j and others_fit(fields):
            return fields + [""] * (width - len(fields)), (
                f"列が足りないため、後ろの {width - len(fields)} 列を空欄としました"
            )
        if len(fields) == 1 and after_kept_row:
            mismatch += "。前の行の続き（本文の途中の改行）かもしれません"
        return None, mismatch


def _summary_notes(
    skipped: list[SkippedRow], repaired: list[SkippedRow], delimiter: str | None, text_name: str
) -> list[str]:
    notes: list[str] = []
    titles = [s for s in skipped if s.reason == "表の上のタイトル行"]
    if titles:
        notes.append(f"表の上のタイトル行（{_lines_ja(titles)}）は読み飛ばしました。")
    blanks = [s for s in skipped if s.reason.startswith("空行")]
    if blanks:
        notes.append(f"空行が{len(blanks)}行ありました（{_lines_ja(blanks)}）。読み飛ばして数えています。")
    joined = [r for r in repaired if r.reason.startswith("本文の列")]
    if joined:
        notes.append(
            f"本文に区切り文字（{delimiter}）が含まれ、列がずれていた{len(joined)}行（{_lines_ja(joined)}）は、"
            f"はみ出した部分を本文の列『{text_name}』に戻しました。ほかの列の値がそろうことを確かめています。"
        )
    padded = [r for r in repaired if r.reason.startswith("列が足りない")]
    if padded:
        notes.append(f"列が足りない{len(padded)}行（{_lines_ja(padded)}）は、足りない列を空欄として読みました。")
    broken = [s for s in skipped if s.reason.startswith(("列の数", "引用符"))]
    if broken:
        notes.append(
            f"列の数が合わない{len(broken)}行（{_lines_ja(broken)}）は読み飛ばしました。本文にカンマなどの"
            "区切り文字や改行が含まれている場合は、Excel で開いて CSV として保存し直すと、本文が \" で"
            "囲まれて正しく読めるようになります。"
        )
    return notes


def _assemble(
    records: list[_Rec],
    raw_of: Callable[[_Rec], str],
    *,
    ragged: bool,
    delimiter: str | None,
    sheet: str | None,
    lines: list[str] | None = None,
    width: int | None = None,
) -> _Assembled | None:
    """Turn records into header + rows, accounting for each record. None when all are blank.

    ``ragged``: CSV-like records whose field count is meaningful (Excel rows are never ragged:
    missing trailing cells are simply empty). ``lines``: the physical lines of a CSV-like file.
    ``width``: the number of columns when already known (1 when no delimiter was found).
    """
    nonblank = [i for i, r in enumerate(records) if not r.blank]
    if not nonblank:
        return None
    if width is None:
        width = _choose_width([len(records[i].fields) for i in nonblank], ragged)
    titles = _title_rows(records, nonblank, width)
    data_idx = [i for i in nonblank if i not in titles]
    first = records[data_idx[0]]
    body = [records[i].fields for i in data_idx[1 : _EVIDENCE_ROWS + 1]]
    has_header = not _first_row_is_data(first.fields, [f for f in body if not ragged or len(f) == width])

    if has_header:
        data_rows = [records[i] for i in data_idx[1:]]
        names, notes = _header_names(first, data_rows, width, ragged)
    else:
        names = [f"列{j + 1}" for j in range(width)]
        notes = [
            f"{first.line}行目が見出しではないため、列名を {', '.join(names[:3])}{'…' if width > 3 else ''} "
            f"とし、{first.line}行目もデータとして読み込みました。"
        ]
        data_rows = [records[i] for i in data_idx]
    width = len(names)
    aligned = [r.fields for r in data_rows if len(r.fields) == width]
    fitter = _RowFitter(
        names=names,
        text_j=_text_column_index(names, aligned, has_header),
        shapes=[_ColumnShape.of([r[j] for r in aligned]) for j in range(width)],
        delimiter=delimiter,
        has_header=has_header,
    )

    rows: list[list[str]] = []
    line_numbers: list[int] = []
    skipped: list[SkippedRow] = []
    repaired: list[SkippedRow] = []
    prev_kept = False
    for i, rec in enumerate(records):
        if has_header and rec is first:
            continue
        fields: list[str] | None = rec.fields
        reason = fix = None
        if rec.blank:
            reason = "空行" if len(rec.fields) <= 1 else "空行（区切り文字だけの行）"
        elif i in titles:
            reason = "表の上のタイトル行"
        elif lines is not None and rec.end > rec.line and _swallows_records(rec, lines, delimiter, width, fitter.shapes):
            reason = f"引用符（\"）が閉じられていないため、{rec.line}〜{rec.end}行目の複数の行が1つの値にまとまっています"
        elif not ragged:
            fields = rec.fields + [""] * (width - len(rec.fields))
        elif len(rec.fields) != width:
            fields, detail = fitter.fit(rec, after_kept_row=prev_kept)
            if fields is None:
                reason = detail
            else:
                fix = detail
        prev_kept = reason is None
        if reason is not None:
            skipped.append(SkippedRow(rec.line, reason, raw_of(rec), sheet))
            continue
        if fix is not None:
            repaired.append(SkippedRow(rec.line, fix, raw_of(rec), sheet))
        rows.append(fields)
        line_numbers.append(rec.line)

    notes += _summary_notes(skipped, repaired, delimiter, names[fitter.text_j])
    if sheet is not None:
        notes = [f"シート『{sheet}』: {n}" for n in notes]
    return _Assembled(
        columns=names,
        rows=rows,
        line_numbers=line_numbers,
        skipped=skipped,
        repaired=repaired,
        n_records=len(records) - (1 if has_header else 0),
        has_header=has_header,
        header_line=first.line if has_header else None,
        notes=notes,
    )


# --------------------------------------------------------------------------- Excel


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d" if value.time() == _dt.time(0) else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _read_xlsx(data: bytes, sheet: str | None, notes: list[str]) -> TableRead:
    import openpyxl  # imported here: CSV-only callers never pay for it

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise CorpusError(
            "Excel ファイルを読み込めませんでした。ファイルが壊れているか、パスワードで保護されている"
            f"可能性があります。（詳細: {type(exc).__name__}）"
        ) from exc
    names: list[str] = []
    built: dict[str, _Assembled] = {}
    try:
        for ws in wb.worksheets:
            names.append(ws.title)
            if sheet not in (None, ALL_SHEETS) and ws.title != sheet:
                continue
            # Some writers store a wrong <dimension>; read the rows that are really there.
            ws.reset_dimensions()
            records: list[_Rec] = []
            for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
                cells = [_cell_text(v) for v in values]
                while cells and not cells[-1]:
                    cells.pop()
                records.append(_Rec(r, r, cells))
                if r > MAX_ROWS + 1 + _MAX_TITLE_ROWS:
                    _too_many_rows(r)
            while records and records[-1].blank:
                records.pop()
            assembled = _assemble(
                records, lambda rec: _trim(" | ".join(rec.fields)), ragged=False, delimiter=None, sheet=ws.title
            )
            if assembled is not None:
                built[ws.title] = assembled
    finally:
        wb.close()
    if sheet not in (None, ALL_SHEETS) and sheet not in names:
        raise CorpusError(f"シート『{sheet}』が見つかりません。ファイルにあるシート: {'、'.join(f'『{n}』' for n in names)}")
    if not built:
        where = f"シート『{sheet}』" if sheet not in (None, ALL_SHEETS) else "Excel ファイル"
        raise CorpusError(f"{where}にデータがありません。コメントを含むシートを指定してください。")
    sheet_rows = {n: len(built[n].rows) if n in built else 0 for n in names}

    def texty_rows(a: _Assembled) -> int:
        return sum(any(is_texty(norm(c)) for c in row) for row in a.rows)

    if sheet in (None, ALL_SHEETS):
        chosen = max(built, key=lambda n: (texty_rows(built[n]), len(built[n].rows), -names.index(n)))
    else:
        chosen = sheet
    main = built[chosen]
    _require_data(main, f"シート『{chosen}』")
    same = [
        n for n in built
        if built[n].has_header and main.has_header and built[n].columns == main.columns and built[n].rows
    ]
    if sheet == ALL_SHEETS and len(same) > 1:
        return _combine(same, built, names, sheet_rows, notes)
    result = main.to_result(encoding=None, delimiter=None, notes=notes)
    result.sheet, result.sheets, result.sheet_rows = chosen, names, sheet_rows
    others = [n for n in names if n != chosen]
    if len(names) > 1:
        listed = "、".join(f"『{n}』（{sheet_rows[n]}行）" for n in others)
        how = "コメントの多いシートを選び、" if sheet in (None, ALL_SHEETS) else ""
        result.notes.insert(0, f"{how}シート『{chosen}』を読み込みました（ほかのシート: {listed}）。")
    if sheet != ALL_SHEETS and len(same) > 1:
        listed = "』『".join(same)
        result.notes.insert(
            1,
            f"シート『{listed}』は見出しが同じで、どれにもデータがあります。いまは『{chosen}』だけを"
            "読み込んでいます。データが複数のシートに分かれている場合は、同じ見出しのシートをすべて"
            "まとめて読み込んでください。",
        )
    return result


def _combine(
    same: list[str], built: dict[str, _Assembled], names: list[str], sheet_rows: dict[str, int], notes: list[str]
) -> TableRead:
    columns = built[same[0]].columns
    sheet_col, _ = _unique_names(columns + ["シート"])
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    row_sheets: list[str] = []
    skipped: list[SkippedRow] = []
    repaired: list[SkippedRow] = []
    n_records = 0
    for n in same:
        a = built[n]
        rows += [r + [n] for r in a.rows]
        line_numbers += a.line_numbers
        row_sheets += [n] * len(a.rows)
        skipped += a.skipped
        repaired += a.repaired
        n_records += a.n_records
    if n_records > MAX_ROWS:
        _too_many_rows(n_records)
    listed = "』『".join(same)
    notes = notes + [
        f"見出しが同じシート『{listed}』をまとめて読み込み、どのシートの行かを列『{sheet_col[-1]}』に"
        "入れました。行番号は各シートの中での行番号です。"
    ]
    notes += [note for n in same for note in built[n].notes]
    rest = [n for n in names if n not in same]
    if rest:
        notes.append(f"ほかのシート（{'、'.join(f'『{n}』' for n in rest)}）は見出しが違うため読み込んでいません。")
    return TableRead(
        table=pd.DataFrame(rows, columns=sheet_col, dtype=object),
        line_numbers=line_numbers,
        skipped=skipped,
        n_records=n_records,
        encoding=None,
        delimiter=None,
        has_header=True,
        header_line=built[same[0]].header_line,
        sheet=ALL_SHEETS,
        sheets=names,
        sheet_rows=sheet_rows,
        row_sheets=row_sheets,
        repaired=repaired,
        notes=notes,
    )


# --------------------------------------------------------------------------- files -> comment tables


@dataclass(frozen=True)
class ColumnGuess:
    """Best guesses for which columns of a user table hold what (``None``: no guess)."""

    text: str | None
    attributes: tuple[str, ...] = ()
    id: str | None = None


def guess_columns(table: pd.DataFrame) -> ColumnGuess:
    """Guess the text, attribute and id columns from content and headers (see :mod:`analysis.column_roles`)."""
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

    Column roles are decided from content as well as headers (:func:`analysis.column_roles.guess_roles`)
    unless given: an id or date column is never the text, and a text column of numbers, ids or
    dates is refused with a Japanese message naming the columns. Every data record of the file is
    either a comment or in ``report.skipped`` with its line and reason.
    """
    tr = read_table(data, filename, sheet)
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
    _require_column(tr.table, text_column, "本文（コメント）")
    check_text_column(tr.table, text_column)
    res = comments_from_table(tr.table, text_column, list(attributes), id_column, tr.encoding,
                              line_numbers=tr.line_numbers, skipped=tr.skipped, notes=tr.notes + roles.notes)
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
