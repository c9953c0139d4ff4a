"""Reading a text table (CSV / TSV / one column of text) from the bytes of a user's file.

1. Decode strictly (:func:`decode_bytes`): UTF-16 with a BOM (Excel's 「Unicode テキスト」), UTF-8
   (BOM or not), CP932. Never ``shift_jis``, which fails on ① and other NEC/IBM extensions that
   CP932 has.
2. Sniff the delimiter (comma, tab, semicolon) from the first lines, whatever the extension: the
   one whose parse gives most records the same number (>= 2) of fields. When none does, the file
   has one column and nothing is split (``delimiter`` is None); quotes are honoured only if the
   whole file is validly quoted, otherwise each line is one record as written.
3. Split records with :mod:`csv` (quotes respected, quoted fields may span lines), counting the
   physical lines each record takes, so line numbers are those a text editor shows.

The records then become a table in :mod:`analysis.ingest.table_assembly` (:func:`read_text`).
"""

from __future__ import annotations

import csv
import io
from collections import Counter

from analysis.errors import CorpusError
from analysis.ingest.comments import (
    MAX_CELL_CHARS,
    MAX_CELLS,
    MAX_UPLOAD_BYTES,
    cut_note,
    too_many_cells,
)
from analysis.ingest.file_records import Record, too_many_rows, trim_raw
from analysis.ingest.table_assembly import TableRead, assemble, require_data

_SNIFF_LINES = 400

# csv refuses fields over 131,072 characters with an English error that reads like an unclosed
# quote; a field can be as long as the file (checked against MAX_UPLOAD_BYTES before), and is cut
# to MAX_CELL_CHARS with a note once read.
csv.field_size_limit(max(csv.field_size_limit(), MAX_UPLOAD_BYTES + 1))

_DELIMITER_NAMES = {",": "カンマ（,）", "\t": "タブ", ";": "セミコロン（;）"}
_ENCODING_NAMES = {
    "utf-16": "UTF-16（Excel の「Unicode テキスト」）",
    "utf-8-sig": "UTF-8（BOM 付き）",
    "utf-8": "UTF-8",
    "cp932": "Shift_JIS（CP932）",
}


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


def _parse_records(
    lines: list[str], delim: str, max_rows: int, *, strict: bool = False, quoting: int = csv.QUOTE_MINIMAL
) -> list[Record]:
    """Records with the physical lines they span; ``strict`` lets a csv.Error through."""
    reader = csv.reader(lines, delimiter=delim, strict=strict, quoting=quoting)
    records: list[Record] = []
    prev = 0
    n_cells = 0
    try:
        for fields in reader:
            n_cells += len(fields)
            if n_cells > MAX_CELLS:
                too_many_cells(MAX_CELLS)
            records.append(Record(prev + 1, reader.line_num, fields))
            prev = reader.line_num
            if len(records) > max_rows + 1:
                too_many_rows(len(records), max_rows)
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


def read_text(text: str, encoding: str, suffix: str, notes: list[str], max_rows: int) -> TableRead:
    """Decoded ``text`` as a :class:`TableRead`, ``notes`` first; more than ``max_rows`` records are refused."""
    # newline="" splits on \n, \r\n and \r alike and keeps the endings for the csv module, so
    # the index of a line is the line number an editor shows.
    lines = list(io.StringIO(text, newline=""))
    delim = _sniff_delimiter(lines)
    one_column = delim is None
    if delim is not None:
        records = _parse_records(lines, delim, max_rows)
    else:
        # One column: nothing to split (NUL never occurs in a decoded text we accept), but a
        # comment Excel wrote in quotes may span lines. A hand-made list of comments may start
        # a line with a quote it never closes; then every line is one record, quotes and all.
        try:
            records = _parse_records(lines, "\x00", max_rows, strict=True)
        except csv.Error:
            records = _parse_records(lines, "\x00", max_rows, quoting=csv.QUOTE_NONE)
            notes.append(
                "引用符（\"）の対応がとれない行があるため、引用符も本文の一部として、1行を1件として読みました。"
            )

    cut: list[tuple[int, int]] = []
    for rec in records:
        for j, f in enumerate(rec.fields):
            if len(f) > MAX_CELL_CHARS:
                rec.fields[j] = f[:MAX_CELL_CHARS]
                cut.append((rec.line, j))
    note = cut_note(cut)
    if note:
        notes.append(note)

    def raw_of(rec: Record) -> str:
        return trim_raw("".join(lines[rec.line - 1 : rec.end]).rstrip("\r\n"))

    built = assemble(
        records, raw_of, ragged=True, delimiter=delim, sheet=None, lines=lines, width=1 if one_column else None
    )
    if built is None:
        raise CorpusError("ファイルにデータがありません。コメントを含むファイルを指定してください。")
    require_data(built, "ファイル")
    enc_name = _ENCODING_NAMES[encoding]
    if one_column:
        notes.insert(0, f"文字コードは{enc_name}と判断しました。区切り文字のない、列が1つだけのファイルとして読みました。")
    else:
        notes.insert(0, f"文字コードは{enc_name}、区切り文字は{_DELIMITER_NAMES[delim]}と判断しました。")
        expected = {".csv": ",", ".tsv": "\t"}.get(suffix)
        if expected and expected != delim:
            notes.append(f"拡張子は {suffix} ですが、中身は{_DELIMITER_NAMES[delim]}区切りでした。")
    return built.to_result(encoding=encoding, delimiter=delim, notes=notes)
