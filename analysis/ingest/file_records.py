"""The records of a user's file, and bringing a record that does not fit back to the table's width.

A :class:`Record` is one record as the file holds it: a CSV record with the physical lines it spans
(a quoted field may span several), or one Excel row. :mod:`analysis.ingest.text_tables` and
:mod:`analysis.ingest.workbooks` make them; :mod:`analysis.ingest.table_assembly` turns them into a table.

A CSV record with more or fewer fields than the table has columns is judged by what the
well-formed rows hold in each column (:class:`ColumnShape`): :class:`RowFitter` joins an overflow
cut by an unquoted delimiter back into the comment column, or pads missing cells, only when every
other cell then looks like its column; otherwise it says, in Japanese, why the record is skipped.
:func:`swallows_records` tells a stray opening quote that swallowed whole records from a comment
with ordinary line breaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.errors import CorpusError
from analysis.ingest.column_roles import is_date, is_number, max_categories, norm

#: Characters of a record's raw text kept for the lists of skipped and repaired rows.
RAW_CHARS = 200


def trim_raw(raw: str) -> str:
    return raw if len(raw) <= RAW_CHARS else raw[: RAW_CHARS - 1] + "…"


def too_many_rows(n: int, max_rows: int) -> None:
    raise CorpusError(f"行数が多すぎます（{n:,}行以上）。{max_rows:,}行以下にしてください。")


@dataclass
class Record:
    line: int
    end: int
    fields: list[str]

    @property
    def blank(self) -> bool:
        return all(not f.strip() for f in self.fields)


@dataclass
class ColumnShape:
    """What the well-formed rows hold in one column; used to judge a repaired row's cells."""

    n: int
    numeric: bool
    date: bool
    values: set[str] | None  # the few values of a category-like column, else None
    max_len: int

    @classmethod
    def of(cls, cells: list[str]) -> ColumnShape:
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


@dataclass
class RowFitter:
    """Brings a CSV record to the table's width, or says why it cannot (see the module docstring)."""

    names: list[str]
    text_j: int  # the comment column, where overflow is joined back
    shapes: list[ColumnShape]  # what the well-formed rows hold, per column
    delimiter: str | None
    has_header: bool

    def fit(self, rec: Record, after_kept_row: bool) -> tuple[list[str] | None, str | None]:
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


def swallows_records(
    rec: Record, lines: list[str], delimiter: str | None, width: int, shapes: list[ColumnShape]
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
