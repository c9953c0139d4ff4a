"""Reading an Excel workbook (.xlsx) from the bytes of a user's file.

Every sheet is read (openpyxl, read-only, cached values); the sheet with most rows holding
sentence-like text is chosen, and a note names it and the others. Sheets with the same header that
all hold data are reported; ``sheet="*"`` (:data:`ALL_SHEETS`) reads them all as one table, with a
column シート naming each row's sheet. Rows become a table in :mod:`analysis.ingest.table_assembly`.
"""

from __future__ import annotations

import datetime as _dt
import io

import pandas as pd

from analysis.errors import CorpusError
from analysis.ingest.column_roles import is_texty, norm
from analysis.ingest.comments import (
    MAX_CELL_CHARS,
    MAX_CELLS,
    SkippedRow,
    cut_note,
    too_many_cells,
)
from analysis.ingest.file_records import Record, too_many_rows, trim_raw
from analysis.ingest.table_assembly import (
    MAX_TITLE_ROWS,
    Assembled,
    TableRead,
    assemble,
    require_data,
    unique_names,
)
from analysis.ingest.xlsx_guard import SheetFacts, inspect_xlsx

ALL_SHEETS = "*"


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


def _fill_merged(records: list[Record], facts: SheetFacts) -> str | None:
    """Give every row of a vertically merged range the value of its first cell (Excel shows the
    value on all those rows, openpyxl only on the first); the note says how many ranges."""
    filled = 0
    for r1, c1, r2, _c2 in facts.merged:
        if r2 <= r1 or r1 > len(records):
            continue
        top = records[r1 - 1].fields
        value = top[c1] if c1 < len(top) else ""
        if not value:
            continue
        for r in range(r1 + 1, min(r2, len(records)) + 1):
            f = records[r - 1].fields
            if len(f) <= c1:
                f.extend([""] * (c1 + 1 - len(f)))
            if not f[c1]:
                f[c1] = value
        filled += 1
    if not filled:
        return None
    return (f"縦に結合されたセルが{filled}か所あり、結合された各行に先頭のセルの値を入れて読み込みました"
            "（Excel の画面で見えるとおりの値です）。")


def _formula_blanks(records: list[Record], facts: SheetFacts) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for r, c in facts.formula_blank:
        if r <= len(records):
            f = records[r - 1].fields
            if c >= len(f) or not f[c]:
                out.setdefault(r, set()).add(c)
    return out


def _formula_note(blank: dict[int, set[int]]) -> str:
    from analysis.ingest.xlsx_guard import column_name

    cells = sorted((r, c) for r, cs in blank.items() for c in cs)
    shown = "、".join(f"{column_name(c)}{r}" for r, c in cells[:8]) + (" ほか" if len(cells) > 8 else "")
    return (f"数式のセルが{len(cells)}個あり、計算結果が保存されていないため空として読みました（{shown}）。"
            "Excel で開いて上書き保存すると、計算結果を読み込めます。")


def read_xlsx(data: bytes, sheet: str | None, notes: list[str], max_rows: int) -> TableRead:
    """A workbook as a :class:`TableRead`, ``notes`` first; more than ``max_rows`` rows are refused.

    ``sheet``: the sheet to read, ``None`` for the one holding the comments, :data:`ALL_SHEETS` for
    every sheet with the comment sheet's header, combined.
    """
    import openpyxl  # imported here: CSV-only callers never pay for it

    facts = inspect_xlsx(data)  # bombs refused before openpyxl inflates anything
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise CorpusError(
            "Excel ファイルを読み込めませんでした。ファイルが壊れているか、パスワードで保護されている"
            f"可能性があります。（詳細: {type(exc).__name__}）"
        ) from exc
    names: list[str] = []
    built: dict[str, Assembled] = {}
    blank_formulas: dict[str, dict[int, set[int]]] = {}
    n_cells = 0
    try:
        for ws in wb.worksheets:
            names.append(ws.title)
            if sheet not in (None, ALL_SHEETS) and ws.title != sheet:
                continue
            # Some writers store a wrong <dimension>; read the rows that are really there.
            ws.reset_dimensions()
            records: list[Record] = []
            cut: list[tuple[int, int]] = []
            for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
                n_cells += len(values)
                if n_cells > MAX_CELLS:
                    too_many_cells(MAX_CELLS)
                cells = [_cell_text(v) for v in values]
                for j, c in enumerate(cells):
                    if len(c) > MAX_CELL_CHARS:
                        cells[j] = c[:MAX_CELL_CHARS]
                        cut.append((r, j))
                while cells and not cells[-1]:
                    cells.pop()
                records.append(Record(r, r, cells))
                if r > max_rows + 1 + MAX_TITLE_ROWS:
                    too_many_rows(r, max_rows)
            while records and records[-1].blank:
                records.pop()
            sheet_facts = facts.get(str(getattr(ws, "_worksheet_path", "")).lstrip("/"), SheetFacts())
            sheet_notes = [n for n in [cut_note(cut), _fill_merged(records, sheet_facts)] if n]
            blank = _formula_blanks(records, sheet_facts)
            if blank:
                blank_formulas[ws.title] = blank
                sheet_notes.append(_formula_note(blank))
            assembled = assemble(
                records, lambda rec: trim_raw(" | ".join(rec.fields)), ragged=False, delimiter=None, sheet=ws.title
            )
            if assembled is not None:
                assembled.notes = sheet_notes + assembled.notes
                built[ws.title] = assembled
    finally:
        wb.close()
    if sheet not in (None, ALL_SHEETS) and sheet not in names:
        raise CorpusError(f"シート『{sheet}』が見つかりません。ファイルにあるシート: {'、'.join(f'『{n}』' for n in names)}")
    if not built:
        where = f"シート『{sheet}』" if sheet not in (None, ALL_SHEETS) else "Excel ファイル"
        raise CorpusError(f"{where}にデータがありません。コメントを含むシートを指定してください。")
    sheet_rows = {n: len(built[n].rows) if n in built else 0 for n in names}

    def texty_rows(a: Assembled) -> int:
        return sum(any(is_texty(norm(c)) for c in row) for row in a.rows)

    if sheet in (None, ALL_SHEETS):
        chosen = max(built, key=lambda n: (texty_rows(built[n]), len(built[n].rows), -names.index(n)))
    else:
        chosen = sheet
    main = built[chosen]
    require_data(main, f"シート『{chosen}』")
    same = [
        n for n in built
        if built[n].has_header and main.has_header and built[n].columns == main.columns and built[n].rows
    ]
    if sheet == ALL_SHEETS and len(same) > 1:
        return _combine(same, built, names, sheet_rows, notes, max_rows)
    result = main.to_result(encoding=None, delimiter=None, notes=notes)
    result.sheet, result.sheets, result.sheet_rows = chosen, names, sheet_rows
    result.formula_blank = blank_formulas.get(chosen, {})
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
    same: list[str], built: dict[str, Assembled], names: list[str], sheet_rows: dict[str, int], notes: list[str],
    max_rows: int,
) -> TableRead:
    columns = built[same[0]].columns
    sheet_col, _ = unique_names(columns + ["シート"])
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
    if n_records > max_rows:
        too_many_rows(n_records, max_rows)
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
