"""From the records of a user's file to a table of strings, with an account of every record.

:func:`assemble` takes the records :mod:`analysis.ingest.text_tables` or :mod:`analysis.ingest.workbooks` read
and decides, for each, whether it is a row of the table or a :class:`~analysis.ingest.comments.SkippedRow`
with a Japanese reason, so that ``len(table) + len(skipped) == n_records`` always holds:

1. Blank records are skipped and counted; one-cell rows above the table are title rows.
2. Decide whether the first record is a header (see :func:`_first_row_is_data`); without one the
   columns are named 列1, 列2, … and the first record is data.
3. The number of columns comes from the header (or, without one, the most common record width),
   never from one odd line; only when nearly all rows (90 %) have more fields than the header has
   names are the extra columns kept, as 列N. A record with more fields than that was usually cut by an unquoted
   delimiter inside the comment: the overflow is joined back into the comment column when every
   other cell then looks like its column (numbers where the column holds numbers, a known
   category where it holds categories); otherwise the record is skipped with its line number.
   A record with fewer fields is padded with empty cells only when it still reaches the comment
   column and its cells look like their columns; a one-field record (often the rest of a comment
   broken by an unquoted line break) is skipped. Every repaired row is listed in ``repaired``.
   The judging of one record is :class:`~analysis.ingest.file_records.RowFitter`'s.

Decisions that matter to a user are written, in Japanese, to ``notes``. The result of a whole read
is a :class:`TableRead`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from analysis.errors import CorpusError
from analysis.ingest.column_roles import (
    HEADER_WORDS,
    TEXT_HINTS,
    header_has,
    is_date,
    is_date_header,
    is_number,
    is_question,
    is_sentence,
    looks_like_header_word,
    norm,
)
from analysis.ingest.comments import SkippedRow
from analysis.ingest.file_records import (
    ColumnShape,
    Record,
    RowFitter,
    swallows_records,
)

_EVIDENCE_ROWS = 300
#: One-cell rows above a table that may be its title (「令和6年度 連携アンケート」).
MAX_TITLE_ROWS = 5
_SHOWN_LINES = 10


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
    formula_blank : dict of int to set of int
        Excel: Excel row -> indexes of columns whose cell is a formula without a saved result.
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
    #: Excel: row -> column indexes of formula cells with no saved result (read as empty)
    formula_blank: dict[int, set[int]] = field(default_factory=dict)

    def summary_ja(self) -> str:
        """One Japanese sentence: records read, kept and skipped."""
        text = f"データ{self.n_records}行のうち{len(self.table)}行を読み込みました。"
        if self.skipped:
            counts = Counter(s.reason.split("（")[0] for s in self.skipped)
            parts = "、".join(f"{reason} {n}行" for reason, n in counts.items())
            text += f"{len(self.skipped)}行は読み飛ばしました（{parts}）。"
        return text


@dataclass
class Assembled:
    """One file or sheet made into a table: what :class:`TableRead` holds but the reading's own facts."""

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


def require_data(built: Assembled, where: str) -> None:
    if built.n_records == 0:
        raise CorpusError(
            f"{where}には見出しの行しかなく、データの行がありません。コメントを含むファイルを指定してください。"
        )


def _lines_ja(items: list[SkippedRow]) -> str:
    shown = "、".join(f"{s.line}行目" for s in items[:_SHOWN_LINES])
    return shown + (f" ほか{len(items) - _SHOWN_LINES}行" if len(items) > _SHOWN_LINES else "")


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


def unique_names(names: list[str]) -> tuple[list[str], list[str]]:
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


def _choose_width(widths: list[int], ragged: bool) -> int:
    """Most common record width (ties: the wider); Excel: the widest row."""
    if not ragged:
        return max(widths)
    counts = Counter(widths)
    return max(counts, key=lambda w: (counts[w], w))


def _title_rows(records: list[Record], nonblank: list[int], width: int) -> set[int]:
    """Leading one-cell rows (「令和6年度 連携アンケート」) above a table of two or more columns."""
    if width < 2:
        return set()
    for k, i in enumerate(nonblank[: MAX_TITLE_ROWS + 1]):
        fields = records[i].fields
        if sum(bool(f.strip()) for f in fields) >= 2:
            return set(nonblank[:k])
        if not fields[0].strip() or is_number(norm(fields[0])):
            return set()
    return set()


def _header_names(
    first: Record, data_rows: list[Record], width: int, ragged: bool
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
    names, renamed = unique_names(names)
    return names, notes + renamed + [f"{first.line}行目を見出し（列名）として読みました。"]


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


def assemble(
    records: list[Record],
    raw_of: Callable[[Record], str],
    *,
    ragged: bool,
    delimiter: str | None,
    sheet: str | None,
    lines: list[str] | None = None,
    width: int | None = None,
) -> Assembled | None:
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
    fitter = RowFitter(
        names=names,
        text_j=_text_column_index(names, aligned, has_header),
        shapes=[ColumnShape.of([r[j] for r in aligned]) for j in range(width)],
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
        elif lines is not None and rec.end > rec.line and swallows_records(rec, lines, delimiter, width, fitter.shapes):
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
    return Assembled(
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
