"""Looking inside an .xlsx (a zip of XML files) before openpyxl opens it, in bounded memory.

A 325 KB workbook can hold one cell that inflates to 100 million characters, or members that
inflate to gigabytes; openpyxl would build all of it in memory. :func:`inspect_xlsx` reads the
zip's directory (declared sizes bound what zipfile will ever inflate) and streams each sheet and
the shared-string table through zlib one megabyte at a time, so nothing larger than a chunk is held:

* too many members, too much uncompressed data, or a run of text longer than any cell should be
  (:data:`XLSX_MAX_TEXT_RUN_BYTES`) -> :class:`~analysis.errors.CorpusError`, one Japanese sentence;
* on the way it collects what openpyxl's read-only mode cannot tell: the merged cell ranges of
  every sheet, and formula cells that carry no saved result (a file written by a program that does
  not compute formulas; Excel fills them in when it saves).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from analysis.errors import CorpusError

#: Most members an .xlsx may have (a workbook of 100 sheets has a few hundred).
XLSX_MAX_MEMBERS = 5_000
#: Most uncompressed bytes in all (an honest 20 MB workbook inflates to about 150 MB).
XLSX_MAX_UNCOMPRESSED = 400 * 1024 * 1024
#: Longest run of XML text between two tags: a cell's text. 16 MB is about 5 million Japanese
#: characters, 250 times what a cell keeps (:data:`analysis.ingest.comments.MAX_CELL_CHARS`).
XLSX_MAX_TEXT_RUN_BYTES = 16 * 1024 * 1024

_CHUNK = 1024 * 1024
_TAIL = 8192  # overlap between chunks for the small patterns below
_MERGE = re.compile(rb'<mergeCell\s+ref="([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)"')
# a cell with a formula and no (or an empty) saved value: <c r="B5" ...><f>...</f></c>
_FORMULA_NO_VALUE = re.compile(
    rb'<c\s+r="([A-Z]{1,3})(\d+)"[^>]*>\s*<f\b[^>]*(?:/>|>[^<]*</f>)\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>'
)


def column_index(letters: bytes | str) -> int:
    """0-based index of an Excel column name (A -> 0, Z -> 25, AA -> 26)."""
    n = 0
    for ch in letters.decode() if isinstance(letters, bytes) else letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def column_name(index: int) -> str:
    """Excel column name of a 0-based index (0 -> A, 26 -> AA)."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


@dataclass
class SheetFacts:
    """What the XML of one sheet says beyond its values (rows 1-based, columns 0-based)."""

    merged: list[tuple[int, int, int, int]] = field(default_factory=list)   # (row1, col1, row2, col2)
    formula_blank: set[tuple[int, int]] = field(default_factory=set)        # (row, col)


def _too_big() -> CorpusError:
    return CorpusError(
        "Excel ファイルの中身が展開すると大きすぎるため、読み込みを中止しました。アンケートの表だけを"
        "新しいブックにコピーして保存し直すか、CSV（UTF-8）で保存してください。"
    )


def _long_cell(mb: float) -> CorpusError:
    return CorpusError(
        f"Excel ファイルに、1つのセルとしては長すぎる文字列（{mb:,.0f} MB 以上）があるため、読み込みを中止しました。"
        "そのセルを確認するか、CSV（UTF-8）で保存し直してください。"
    )


def _scan(zf: zipfile.ZipFile, name: str, facts: SheetFacts | None) -> None:
    run = 0       # bytes since the last "<"
    tail = b""
    with zf.open(name) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            # a chunk (1 MB) is far shorter than the limit, so only runs across chunks can exceed it
            first = chunk.find(b"<")
            if run + (len(chunk) if first < 0 else first) > XLSX_MAX_TEXT_RUN_BYTES:
                raise _long_cell(XLSX_MAX_TEXT_RUN_BYTES / 1024 / 1024)
            run = run + len(chunk) if first < 0 else len(chunk) - chunk.rfind(b"<") - 1
            if facts is not None:
                buf = tail + chunk
                start = len(tail)
                for m in _MERGE.finditer(buf):
                    if m.end() > start:
                        r1, r2 = int(m[2]), int(m[4])
                        c1, c2 = column_index(m[1]), column_index(m[3])
                        facts.merged.append((min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)))
                for m in _FORMULA_NO_VALUE.finditer(buf):
                    if m.end() > start:
                        facts.formula_blank.add((int(m[2]), column_index(m[1])))
                tail = buf[-_TAIL:]


def inspect_xlsx(data: bytes) -> dict[str, SheetFacts]:
    """Check an .xlsx for bombs; returns member path (``xl/worksheets/sheet1.xml``) -> :class:`SheetFacts`.

    Raises :class:`~analysis.errors.CorpusError` (Japanese) when the workbook would not fit the limits.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise CorpusError("Excel（.xlsx）ファイルとして読み込めませんでした。ファイルが壊れている可能性があります。") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > XLSX_MAX_MEMBERS or sum(i.file_size for i in infos) > XLSX_MAX_UNCOMPRESSED:
            raise _too_big()
        out: dict[str, SheetFacts] = {}
        for info in infos:
            name = info.filename
            is_sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
            if not (is_sheet or name == "xl/sharedStrings.xml"):
                continue
            facts = SheetFacts() if is_sheet else None
            try:
                _scan(zf, name, facts)
            except CorpusError:
                raise
            except Exception as exc:  # zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError (method) ...
                raise CorpusError("Excel（.xlsx）ファイルが壊れているため読み込めませんでした。") from exc
            if facts is not None:
                out[name] = facts
        return out
