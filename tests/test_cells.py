"""No formula ever runs in an export: CSV and XLSX written and read back."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from analysis.store.cells import (
    FORMULA_START,
    MAX_WIDTH,
    display_width,
    safe_cell,
    safe_frame,
    write_csv_bytes,
    write_xlsx,
    xlsx_bytes,
)

ATTACKS = [
    '=HYPERLINK("http://x","y")',
    "=1+1",
    "@SUM(A1)",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]
PLAIN = ["連携がうまくいかない", "社協と包括の役割分担", "ゴミ屋敷, たらい回し", "改行\nのある\r\n回答", "1+1=2", ""]


def frame() -> pd.DataFrame:
    n = len(ATTACKS)
    return pd.DataFrame(
        {
            "ID": [f"c{i:03d}" for i in range(n)],
            "コメント": ATTACKS,
            "件数": list(range(-2, n - 2)),  # int64 with a negative number
            "割合": np.linspace(-0.5, 0.5, n),
            "混在": [-2, "-2+3", 3.5, None, "=A1", "ok", np.nan, "@x"],
        }
    )


# --------------------------------------------------------------------------- cells and frames


@pytest.mark.parametrize("text", ATTACKS)
def test_safe_cell_neutralises_formulas(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", PLAIN + [-2, -2.5, 0, None, True, pd.Timestamp("2024-04-01")])
def test_safe_cell_leaves_the_rest(value):
    assert safe_cell(value) is value


def test_safe_frame_only_touches_strings():
    df = frame()
    out = safe_frame(df)
    assert out["コメント"].tolist() == ["'" + t for t in ATTACKS]
    assert out["件数"].dtype == df["件数"].dtype and out["件数"].tolist() == df["件数"].tolist()
    assert out["割合"].dtype == df["割合"].dtype
    mixed = out["混在"].tolist()
    assert mixed[0] == -2 and mixed[2] == 3.5  # numbers stay numbers
    assert mixed[1] == "'-2+3" and mixed[4] == "'=A1" and mixed[7] == "'@x"
    assert mixed[3] is None and np.isnan(mixed[6])
    assert df["コメント"].tolist() == ATTACKS  # the input is not modified
    assert [out[c].dtype for c in out.columns] == [df[c].dtype for c in df.columns]


def test_safe_frame_headers_and_categories():
    df = pd.DataFrame({"=cmd": pd.Categorical(["=1+1", "安心", "=1+1"]), "ok": ["a", "b", "c"]})
    out = safe_frame(df)
    assert list(out.columns) == ["'=cmd", "ok"]
    assert out["'=cmd"].tolist() == ["'=1+1", "安心", "'=1+1"]


# --------------------------------------------------------------------------- CSV


def read_csv_back(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, so Excel reads Japanese
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_neutralises_and_keeps_text_readable():
    data = write_csv_bytes(frame())
    rows = read_csv_back(data)
    assert rows[0] == ["ID", "コメント", "件数", "割合", "混在"]
    comments = [r[1] for r in rows[1:]]
    assert comments == ["'" + t for t in ATTACKS]
    for row in rows:
        for cell in row:
            if cell.startswith(FORMULA_START):
                float(cell)  # only negative numbers may start with "-"
    assert rows[1][2] == "-2"  # the negative NUMBER is written as a number
    assert rows[1][4] == "-2" and rows[2][4] == "'-2+3"


def test_csv_line_ends_and_quoting():
    df = pd.DataFrame({"回答": PLAIN, "n": range(len(PLAIN))})
    data = write_csv_bytes(df)
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n")
    assert text.split("\r\n")[0] == "回答,n"
    rows = read_csv_back(data)
    assert [r[0] for r in rows[1:]] == PLAIN  # commas and line breaks inside cells survive


def test_csv_index_and_broken_text():
    df = pd.DataFrame({"件数": [3, 4]}, index=pd.Index(["=テーマ", "連携"], name="テーマ"))
    rows = read_csv_back(write_csv_bytes(df, index=True))
    assert rows == [["テーマ", "件数"], ["'=テーマ", "3"], ["連携", "4"]]
    rows = read_csv_back(write_csv_bytes(pd.DataFrame({"a": ["x\ud800y"]}, dtype=object)))
    assert rows[1] == ["x?y"]


# --------------------------------------------------------------------------- XLSX


def load(data: bytes):
    return load_workbook(io.BytesIO(data))


def all_cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            yield from row


def test_xlsx_has_no_formula_cells_and_readable_text():
    data = xlsx_bytes({"コメント一覧": frame()})
    wb = load(data)
    assert wb.sheetnames == ["コメント一覧"]
    cells = list(all_cells(wb))
    assert cells and all(c.data_type != "f" for c in cells)
    ws = wb["コメント一覧"]
    assert [c.value for c in ws[1]] == ["ID", "コメント", "件数", "割合", "混在"]
    comments = [ws.cell(row=r, column=2) for r in range(2, len(ATTACKS) + 2)]
    assert [c.value for c in comments] == ATTACKS  # exactly as written
    assert all(c.data_type == "s" and c.quotePrefix for c in comments)
    assert ws.cell(row=2, column=3).value == -2 and ws.cell(row=2, column=3).data_type == "n"
    assert ws.cell(row=2, column=5).value == -2 and ws.cell(row=2, column=5).data_type == "n"
    assert ws.cell(row=3, column=5).value == "-2+3" and ws.cell(row=3, column=5).data_type == "s"
    assert ws.cell(row=5, column=5).value is None  # None / NaN are empty cells
    assert ws.cell(row=8, column=5).value is None


def test_xlsx_layout(tmp_path):
    long_text = "連携のもやもや" * 20
    df = pd.DataFrame({"ID": ["c001", "c002"], "コメント": [long_text, "短い"], "n": [1, 22]})
    path = tmp_path / "出力.xlsx"
    write_xlsx({"テーマ×分類": df, "空": df.iloc[:0]}, path)
    wb = load_workbook(path)
    ws = wb["テーマ×分類"]
    assert ws.freeze_panes == "A2"
    assert ws["A1"].font.bold
    widths = {col: ws.column_dimensions[col].width for col in "ABC"}
    assert widths["B"] == MAX_WIDTH  # long Japanese text: capped, and it wraps
    assert ws["B2"].alignment.wrap_text
    assert widths["A"] == display_width("c001") + 2
    assert widths["C"] >= 6
    assert [c.value for c in wb["空"][1]] == ["ID", "コメント", "n"] and wb["空"].max_row == 1
    assert display_width("コメント") == 8 and display_width("ID") == 2


def test_xlsx_options_and_odd_values():
    df = pd.DataFrame(
        {
            "=header": ["a\x00b\x0bc", ["=x", "y"], pd.Timestamp("2024-04-01 09:00", tz="Asia/Tokyo")],
            "n": [np.int64(3), np.float64(2.5), float("inf")],
        },
        index=pd.Index(["@i", "j", "k"], name="idx"),
    )
    wb = load(xlsx_bytes({"a/b:c?": df, "A/B:C?": df}, col_widths={"n": 12}, freeze_header=False, index=True))
    assert wb.sheetnames == ["a_b_c_", "A_B_C_(2)"]
    ws = wb.worksheets[0]
    assert ws.freeze_panes is None
    assert [c.value for c in ws[1]] == ["idx", "=header", "n"]
    assert ws["B1"].data_type == "s" and ws["B1"].quotePrefix
    assert ws["A2"].value == "@i" and ws["A2"].data_type == "s"
    assert ws["B2"].value == "abc"  # characters XML forbids are dropped
    assert ws["B3"].value == "['=x', 'y']"  # lists as their text, as in the CSV
    assert ws["B4"].value == "2024-04-01 09:00:00+09:00"
    assert [ws[f"C{r}"].value for r in (2, 3, 4)] == [3, 2.5, "inf"]
    assert ws.column_dimensions["C"].width == 12
    assert all(c.data_type != "f" for c in all_cells(wb))


def test_xlsx_needs_a_sheet():
    with pytest.raises(ValueError, match="シート"):
        xlsx_bytes({})
