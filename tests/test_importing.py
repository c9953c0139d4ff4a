"""analysis.ingest.importing on real-looking exports: every record accounted for, the right columns chosen.

The fixture files under ``tests/fixtures/import/`` are built by ``make_fixtures.py`` (committed
with it); the expected numbers below are stated here, independently of that script.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import random
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analysis.errors import CorpusError
from analysis.ingest import importing
from analysis.ingest.comments import MAX_UPLOAD_BYTES
from analysis.ingest.importing import (
    ColumnRoles,
    TableRead,
    check_text_column,
    guess_roles,
    read_table,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"


def load(name: str, sheet: str | None = None) -> TableRead:
    return read_table((FIXTURES / name).read_bytes(), name, sheet=sheet)


def file_lines(name: str, encoding: str) -> list[str]:
    """The file's lines as a text editor numbers them (index 0 = line 1)."""
    text = (FIXTURES / name).read_bytes().decode(encoding)
    return re.split(r"\r\n|\r|\n", text)


def assert_roles_partition(roles: ColumnRoles, table: pd.DataFrame) -> None:
    """Every column is in exactly one role."""
    placed = [c for c in (roles.text, roles.id) if c] + roles.attributes + list(roles.ignored)
    assert sorted(placed) == sorted(map(str, table.columns))


# name -> (data records, kept, skipped, encoding, delimiter, has_header, text column, id column)
EXPECTED = {
    "office_cp932.csv": (24, 24, 0, "cp932", ",", True, "自由記述", "番号"),
    "iken_utf8_bom.csv": (15, 15, 0, "utf-8-sig", None, True, "意見", None),
    "excel_unicode_text.txt": (20, 20, 0, "utf-16", "\t", True, "自由記述", "番号"),
    "comment_one_column.csv": (12, 12, 0, "utf-8", None, True, "comment", None),
    "headerless_comments": (14, 14, 0, "cp932", None, False, "列1", None),
    "headerless_numbered.csv": (16, 16, 0, "utf-8", ",", False, "列2", "列1"),
    "unquoted_comma_first_row.csv": (20, 20, 0, "cp932", ",", True, "自由記述", "番号"),
    "unquoted_comma_middle.csv": (18, 16, 2, "utf-8", ",", True, "自由記述", "番号"),
    "blank_lines.csv": (15, 12, 3, "utf-8-sig", ",", True, "自由記述", "番号"),
    "semicolon.csv": (10, 10, 0, "utf-8", ";", True, "コメント", "No"),
    "tab_saved_as.csv": (13, 13, 0, "utf-8", "\t", True, "回答", None),
    "numbers_only.csv": (12, 12, 0, "utf-8", ",", True, None, "comment-id"),
    "kouchou_ai.csv": (20, 20, 0, "utf-8", ",", True, "comment-body", "comment-id"),
    "polis_comments.csv": (14, 14, 0, "utf-8", ",", True, "comment-body", "comment-id"),
    "google_forms.csv": (
        18, 18, 0, "utf-8", ",", True, "連携する中で感じている“もやもや”を自由にお書きください。", None
    ),
    "cover_and_data.xlsx": (25, 22, 3, None, None, True, "自由記述", "番号"),
    "split_sheets.xlsx": (14, 14, 0, None, None, True, "もやもや", "No"),
    "microsoft_forms.xlsx": (15, 15, 0, None, None, True, "連携で困っていること（自由記述）", "ID"),
}


# --------------------------------------------------------------------------- every fixture


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_record_is_kept_or_skipped_with_a_reason(name):
    n_records, kept, skipped, encoding, delimiter, has_header, _, _ = EXPECTED[name]
    r = load(name)
    assert r.n_records == n_records
    assert len(r.table) + len(r.skipped) == r.n_records
    assert (len(r.table), len(r.skipped)) == (kept, skipped)
    assert len(r.line_numbers) == len(r.table)
    assert r.line_numbers == sorted(r.line_numbers)
    assert not set(r.line_numbers) & {s.line for s in r.skipped}
    assert (r.encoding, r.delimiter, r.has_header) == (encoding, delimiter, has_header)
    assert all(isinstance(v, str) for v in r.table.to_numpy().ravel())
    assert all(s.reason and re.search(r"[ぁ-んァ-ン一-龥]", s.reason) for s in r.skipped)
    assert r.notes and all(re.search(r"[ぁ-んァ-ン一-龥]", n) for n in r.notes)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_roles_pick_the_comment_column_and_never_an_id_or_date(name):
    *_, text, id_col = EXPECTED[name]
    r = load(name)
    roles = guess_roles(r.table)
    assert roles.text == text
    assert roles.id == id_col
    assert_roles_partition(roles, r.table)
    for column, reason in roles.ignored.items():
        assert column != roles.text and reason
    if text is not None:
        check_text_column(r.table, text)  # does not raise


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if not n.endswith(".xlsx")))
def test_kept_rows_start_on_the_lines_the_file_has_them(name):
    """For one-line records, the row's cells joined by the delimiter are exactly that line."""
    r = load(name)
    lines = file_lines(name, {"utf-16": "utf-16", "utf-8-sig": "utf-8-sig"}.get(r.encoding, r.encoding))
    repaired = {x.line for x in r.repaired}
    multiline = 0
    for line, row in zip(r.line_numbers, r.table.itertuples(index=False)):
        cells = list(row)
        if line in repaired or any("\n" in c for c in cells):
            multiline += line not in repaired
            continue
        raw = lines[line - 1]
        if '"' in raw:
            assert all(c in raw for c in cells), (line, raw)
        else:
            assert (r.delimiter or "").join(cells) == raw, (line, raw)
    assert multiline == (1 if name == "office_cp932.csv" else 0)


def test_committed_fixtures_are_what_the_script_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.main(tmp_path)
    committed = [p.name for p in FIXTURES.iterdir() if p.is_file() and p.suffix != ".py" and not p.name.startswith(".")]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(committed)
    for path in tmp_path.iterdir():
        assert path.read_bytes() == (FIXTURES / path.name).read_bytes(), path.name
    for name, (records, kept, skipped, *_) in EXPECTED.items():
        assert written[name] == (records, kept, skipped)


def test_summary_and_locations_are_japanese():
    r = load("unquoted_comma_middle.csv")
    assert r.summary_ja() == "データ18行のうち16行を読み込みました。2行は読み飛ばしました（列の数が見出しと合いません 2行）。"
    assert [s.where for s in r.skipped] == ["9行目", "13行目"]


def test_importing_modules_never_import_streamlit():
    for module in (importing, importlib.import_module("analysis.ingest.column_roles")):
        assert "streamlit" not in Path(module.__file__).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- encodings


def test_cp932_with_circled_numbers_and_a_quoted_multiline_comment():
    data = (FIXTURES / "office_cp932.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("shift_jis")  # the trap the reader must avoid
    r = load("office_cp932.csv")
    texts = r.table["自由記述"].tolist()
    assert texts[2] == "①庁内の会議、②地域ケア会議、③支援会議の違いが、職員にも説明できない"
    # Record 4 is quoted over lines 5-6; the record after it starts on line 7.
    assert r.line_numbers[:5] == [2, 3, 4, 5, 7]
    assert texts[3].splitlines() == ["支援が必要な世帯の情報を、", "関係機関にどこまで共有してよいか毎回迷う"]
    assert r.line_numbers[-1] == 26
    assert "Shift_JIS（CP932）" in r.notes[0]


def test_excel_unicode_text_is_utf16_le_with_bom_and_tabs():
    data = (FIXTURES / "excel_unicode_text.txt").read_bytes()
    assert data[:2] == b"\xff\xfe"
    r = load("excel_unicode_text.txt")
    assert list(r.table.columns) == ["番号", "回答日", "所属", "職種", "年代", "地区", "自由記述"]
    assert r.table["番号"].tolist() == [str(i) for i in range(5, 25)]
    assert r.line_numbers == list(range(2, 22))


def test_utf16_big_endian_and_old_mac_line_endings():
    text = "番号\t自由記述\r1\t庁内の縦割りで、担当外の相談がたらい回しになる\r\r2\t民生委員にどこまで個人情報を伝えてよいか迷う\r"
    r = read_table(b"\xfe\xff" + text.encode("utf-16-be"), "export.txt")
    assert (r.encoding, r.delimiter) == ("utf-16", "\t")
    assert r.line_numbers == [2, 4]
    assert [(s.line, s.reason) for s in r.skipped] == [(3, "空行")]


def test_undecodable_bytes_are_refused_in_japanese():
    data = "番号,自由記述\n1,".encode("utf-8") + b"\x82\xa0\xff\xfe\x81" + b"\n"
    with pytest.raises(CorpusError, match="文字コード"):
        read_table(data, "broken.csv")


# --------------------------------------------------------------------------- malformed rows


def test_unquoted_comma_in_the_first_data_row_is_joined_back_into_the_comment():
    r = load("unquoted_comma_first_row.csv")
    assert list(r.table.columns) == ["番号", "所属", "自由記述"]
    assert r.table.iloc[0].tolist() == ["1", "市役所", "庁内の縦割りで,担当外の相談が,たらい回しになる"]
    assert r.table["番号"].tolist() == [str(i) for i in range(1, 21)]
    assert [x.line for x in r.repaired] == [2]
    assert any("2行目" in n and "自由記述" in n for n in r.notes)


def test_rows_that_cannot_be_placed_are_skipped_with_their_exact_lines():
    r = load("unquoted_comma_middle.csv")
    lines = file_lines("unquoted_comma_middle.csv", "utf-8")
    assert [s.line for s in r.skipped] == [9, 13]
    for s in r.skipped:
        assert s.raw == lines[s.line - 1]
        assert s.reason.startswith("列の数が見出しと合いません（見出し 4 列")
    assert "この行 6 列" in r.skipped[0].reason
    assert "前の行の続き" in r.skipped[1].reason
    by_line = dict(zip(r.line_numbers, r.table.itertuples(index=False)))
    assert list(by_line[5]) == ["4", "会議の日程調整だけで,一週間かかる", "地域包括支援センター", "50代"]
    assert list(by_line[12]) == ["11", "自治会長さんは協力的だが", "地域包括支援センター", ""]
    assert [(x.line, x.reason[:4]) for x in r.repaired] == [(5, "本文の列"), (12, "列が足り")]
    assert 9 not in by_line and 13 not in by_line
    assert by_line[19][0] == "17"


def test_overflow_goes_into_the_longest_column_not_a_header_that_contains_kaitou():
    text = "番号,回答者,自由記述\n" + "".join(
        f"{i},{['市役所', '社会福祉協議会'][i % 2]},民生委員にどこまで個人情報を伝えてよいか迷う{i}\n" for i in range(1, 7)
    ) + "7,市役所,庁内の縦割りで,担当外の相談がたらい回しになる\n"
    r = read_table(text.encode(), "x.csv")
    assert r.table.iloc[-1].tolist() == ["7", "市役所", "庁内の縦割りで,担当外の相談がたらい回しになる"]


def test_blank_lines_are_counted_with_their_line_numbers():
    r = load("blank_lines.csv")
    lines = file_lines("blank_lines.csv", "utf-8-sig")
    assert [s.line for s in r.skipped] == [4, 8, 11]
    assert all(not lines[s.line - 1].strip(" ,") for s in r.skipped)
    assert [s.reason for s in r.skipped] == ["空行", "空行", "空行（区切り文字だけの行）"]
    # Every non-blank line after the header is a kept row, on its own line number.
    assert r.line_numbers == [i for i, line in enumerate(lines, 1) if i > 1 and line.strip(" ,")]
    assert any("4行目、8行目、11行目" in n for n in r.notes)


def test_one_column_file_keeps_commas_inside_comments():
    r = load("comment_one_column.csv")
    assert list(r.table.columns) == ["comment"]
    assert r.table["comment"].iloc[0] == "自治会長さんは協力的だが, 役員の交代で方針が変わる"
    assert not r.repaired and r.delimiter is None


def test_one_column_written_by_excel_keeps_quoted_line_breaks():
    text = '意見\r\n"縦割りで, たらい回しになる"\r\n"会議の日程調整だけで\r\n一週間かかる"\r\n"""ここまで"" しかできない、が先に来る"\r\n'
    r = read_table(text.encode("utf-8-sig"), "iken.csv")
    assert r.table["意見"].tolist() == [
        "縦割りで, たらい回しになる",
        "会議の日程調整だけで\r\n一週間かかる",
        '"ここまで" しかできない、が先に来る',
    ]
    assert r.line_numbers == [2, 3, 5]


def test_one_column_list_with_a_stray_quote_keeps_every_line():
    text = "意見\n「縦割り」がつらい\n\"ここまでしかできない\" が先に来る\n\"制度の狭間の相談が増えている\n会議の日程調整だけで一週間かかる\n"
    r = read_table(text.encode(), "iken.txt")
    assert r.table["意見"].tolist() == [
        "「縦割り」がつらい",
        '"ここまでしかできない" が先に来る',
        '"制度の狭間の相談が増えている',
        "会議の日程調整だけで一週間かかる",
    ]
    assert r.line_numbers == [2, 3, 4, 5]
    assert any("引用符" in n for n in r.notes)


def test_unclosed_quote_running_to_the_end_is_refused_with_its_line():
    with pytest.raises(CorpusError, match="4行目で始まる引用符"):
        load("unclosed_quote.csv")


def test_unclosed_quote_closed_later_becomes_one_skipped_record_spanning_lines():
    text = (
        "番号,所属,自由記述\n"
        "1,市役所,庁内の縦割りで、担当外の相談がたらい回しになる\n"
        '2,市役所,"民生委員にどこまで伝えてよいか迷う\n'
        "3,社会福祉協議会,支援会議を開いても関係課が来ない\n"
        '4,市役所,制度の対象外になると誰も関わらない" と聞いた,追記\n'
        "5,市役所,担当者が異動すると関係がゼロに戻る\n"
    )
    r = read_table(text.encode(), "q.csv")
    # The csv module reads lines 3-5 as one record; it must not become one long "comment".
    assert r.n_records == 3 and len(r.table) + len(r.skipped) == 3
    assert [s.line for s in r.skipped] == [3]
    assert "引用符" in r.skipped[0].reason and "3〜5行目" in r.skipped[0].reason
    assert r.line_numbers == [2, 6]
    assert not r.repaired


def test_header_lacking_names_for_columns_every_row_has():
    text = "番号,自由記述\n" + "".join(
        f"{i},庁内の縦割りで、担当外の相談がたらい回しになる{i},市役所\n" for i in range(1, 8)
    )
    r = read_table(text.encode(), "x.csv")
    assert list(r.table.columns) == ["番号", "自由記述", "列3"]
    assert r.table["列3"].tolist() == ["市役所"] * 7 and not r.repaired
    assert any("列3" in n for n in r.notes)


def test_trailing_empty_header_cell_and_trailing_commas_do_not_add_columns():
    text = "番号,自由記述,\n" + "".join(f"{i},民生委員にどこまで個人情報を伝えてよいか迷う{i},\n" for i in range(1, 6))
    r = read_table(text.encode(), "x.csv")
    assert list(r.table.columns) == ["番号", "自由記述", "列3"]
    assert guess_roles(r.table).ignored == {"列3": "空の列"}


def test_title_row_above_a_csv_table_and_duplicate_header_names():
    text = (
        "令和6年度 連携アンケート,,\n"
        ",,\n"
        "所属,所属,自由記述\n"
        "市役所,福祉課,庁内の縦割りで、担当外の相談がたらい回しになる\n"
        "社会福祉協議会,地域福祉課,民生委員にどこまで個人情報を伝えてよいか迷う\n"
    )
    r = read_table(text.encode(), "x.csv")
    assert list(r.table.columns) == ["所属", "所属_2", "自由記述"]
    assert r.header_line == 3
    assert [(s.line, s.reason) for s in r.skipped] == [(1, "表の上のタイトル行"), (2, "空行（区切り文字だけの行）")]
    assert r.line_numbers == [4, 5]


# --------------------------------------------------------------------------- header detection


def test_headerless_file_keeps_its_first_comment():
    r = load("headerless_comments")
    first = file_lines("headerless_comments", "cp932")[0]
    assert not r.has_header and r.header_line is None
    assert r.table["列1"].iloc[0] == first == "担当者が異動すると、積み上げた関係がゼロに戻ってしまう"
    assert r.line_numbers[0] == 1
    assert any("列1" in n and "見出しではない" in n for n in r.notes)


def test_headerless_numbered_rows_keep_row_one():
    r = load("headerless_numbered.csv")
    assert list(r.table.columns) == ["列1", "列2"]
    assert r.table.iloc[0].tolist() == ["1", "庁内の縦割りで、担当外の相談がたらい回しになる"]
    assert r.line_numbers == list(range(1, 17))


def test_forms_question_headers_are_headers_not_data():
    r = load("google_forms.csv")
    assert r.has_header
    assert r.table.columns[0] == "タイムスタンプ"


# --------------------------------------------------------------------------- delimiters


def test_semicolon_csv_is_split_on_semicolons_and_keeps_commas_in_text():
    r = load("semicolon.csv")
    assert list(r.table.columns) == ["No", "職種", "コメント"]
    assert r.table["コメント"].iloc[0] == "庁内の縦割りで, 担当外の相談がたらい回しになる"
    assert any("セミコロン" in n and ".csv" in n for n in r.notes)


def test_tab_separated_data_saved_as_csv_is_not_one_merged_column():
    r = load("tab_saved_as.csv")
    assert list(r.table.columns) == ["職種", "地区", "回答"]
    assert all("\t" not in v for v in r.table["回答"])
    assert any("タブ" in n for n in r.notes)


# --------------------------------------------------------------------------- column roles


def test_office_sheet_roles():
    roles = guess_roles(load("office_cp932.csv").table)
    assert roles.text == "自由記述"
    assert roles.id == "番号"
    assert roles.attributes == ["所属", "職種", "年代", "地区"]
    assert roles.ignored == {"回答日": "日付・時刻の列"}


def test_kouchou_ai_comment_id_is_never_the_text():
    r = load("kouchou_ai.csv")
    roles = guess_roles(r.table)
    assert (roles.text, roles.id) == ("comment-body", "comment-id")
    with pytest.raises(CorpusError, match="『comment-id』は番号の列"):
        check_text_column(r.table, "comment-id")


def test_numbers_only_file_has_no_text_column_and_says_why():
    r = load("numbers_only.csv")
    roles = guess_roles(r.table)
    assert roles.text is None
    assert roles.ignored == {"score": "数値だけの列"}
    assert any("コメント本文にあたる列が見つかりません" in n for n in roles.notes)
    for column in ("comment-id", "score"):
        with pytest.raises(CorpusError) as err:
            check_text_column(r.table, column)
        message = str(err.value)
        assert "『comment-id』は番号、『score』は数値だけの列です。" in message
        assert "自由記述の列を含むファイルを指定してください" in message


def test_google_forms_roles_and_personal_data_warning():
    r = load("google_forms.csv")
    roles = guess_roles(r.table)
    assert roles.attributes == ["あなたの所属を教えてください。"]
    assert roles.ignored["タイムスタンプ"] == "日付・時刻の列"
    assert roles.ignored["メールアドレス"] == "メールアドレスの列（個人情報）"
    assert roles.ignored["工夫していることがあれば教えてください（任意）"].startswith("ほかの自由記述の列")
    assert any("メールアドレス" in n and "個人情報" in n for n in roles.notes)
    assert any("Google フォーム" in n for n in roles.notes)
    with pytest.raises(CorpusError, match="メールアドレス"):
        check_text_column(r.table, "メールアドレス")


def test_polis_export_ignores_timestamps_and_repeated_author_ids():
    roles = guess_roles(load("polis_comments.csv").table)
    assert roles.ignored["timestamp"] == roles.ignored["datetime"] == "日付・時刻の列"
    assert roles.ignored["author-id"].startswith("番号・ID の列")


def test_microsoft_forms_xlsx_roles():
    r = load("microsoft_forms.xlsx")
    roles = guess_roles(r.table)
    assert r.table["開始時刻"].iloc[0] == "2024-09-02 09:00:00"
    assert roles.ignored["開始時刻"] == roles.ignored["完了時刻"] == "日付・時刻の列"
    assert roles.ignored["名前"] == "空の列"
    assert roles.attributes == ["所属", "職種"]


@pytest.mark.parametrize(
    "dates",
    [
        ["2024/4/1", "2024/4/2", "2024/5/10", "2024/6/3"],
        ["2024-04-01 10:00", "2024-04-01 13:25", "2024-04-02 09:05", "2024-04-03 17:40"],
        ["令和6年4月1日", "令和6年4月12日", "令和6年5月7日", "令和元年5月1日"],
        ["R6.4.1", "R6.4.12", "H31.4.30", "R6.5.7"],
        ["2024年4月1日（月）", "2024年4月2日（火）", "2024年4月3日（水）", "2024年4月4日（木）"],
        ["4/1/24 10:23:45", "4/2/24 8:03:11", "4/3/24 17:45:00", "4/4/24 9:00:00"],
        ["２０２４／４／１", "２０２４／４／２", "２０２４／４／３", "２０２４／４／４"],
        ["2024-04-01T10:00:00Z", "2024-04-01T11:00:00+09:00", "2024-04-02T09:00:00Z", "2024-04-03T08:00:00Z"],
    ],
)
def test_date_columns_are_never_the_text(dates):
    comments = [
        "庁内の縦割りで、担当外の相談がたらい回しになる",
        "民生委員にどこまで個人情報を伝えてよいか迷う",
        "支援会議を開いても、関係課が来てくれないことがある",
        "担当者が異動すると、積み上げた関係がゼロに戻ってしまう",
    ]
    table = pd.DataFrame({"回答日": dates, "ご意見": comments})
    roles = guess_roles(table)
    assert roles.text == "ご意見"
    assert roles.ignored == {"回答日": "日付・時刻の列"}
    with pytest.raises(CorpusError, match="『回答日』は日付・時刻の列.*本文には『ご意見』を選んでください"):
        check_text_column(table, "回答日")


def test_excel_serial_dates_written_as_numbers_under_a_date_header():
    table = pd.DataFrame(
        {
            "記入日": ["45383", "45384", "45390", "45391.5"],
            "自由記述": [
                "会議の日程調整だけで一週間かかる",
                "ボランティア団体との連絡手段が電話しかない",
                "医療機関への連絡は、誰が窓口か分からず毎回迷う",
                "夜間や休日の緊急対応を、どこが受けるのか決まっていない",
            ],
        }
    )
    assert guess_roles(table).ignored == {"記入日": "日付・時刻の列"}


def test_text_column_is_chosen_by_content_even_under_a_misleading_header():
    comments = [
        "相談を受けた側が最後まで抱えるしかない雰囲気がある",
        "居住支援法人の存在を知らない職員が多い",
        "就労支援につないでも、その後の様子が共有されない",
        "地域の見守り活動の情報が、専門職に届かない",
        "相談記録のシステムが課ごとに別で、二重入力になっている",
        "支援の終わり方を誰も決めず、ケースが宙に浮く",
    ]
    table = pd.DataFrame(
        {
            "回答者": ["市役所", "包括", "市役所", "社協", "包括", "市役所"],
            "回答番号": ["A-001", "A-002", "A-003", "B-001", "B-002", "B-003"],
            "備考": comments,
            "年度": ["2023", "2023", "2024", "2024", "2024", "2023"],
        }
    )
    roles = guess_roles(table)
    assert (roles.text, roles.id) == ("備考", "回答番号")
    assert roles.attributes == ["回答者", "年度"]
    assert_roles_partition(roles, table)


def test_mostly_empty_and_missing_columns_are_refused():
    table = pd.DataFrame(
        {"番号": [str(i) for i in range(1, 41)], "自由記述": ["制度の狭間の相談が増えている"] + [""] * 39}
    )
    with pytest.raises(CorpusError, match="ほとんど空の列"):
        check_text_column(table, "自由記述")
    with pytest.raises(CorpusError, match="『本文』が見つかりません.*『番号』、『自由記述』"):
        check_text_column(table, "本文")


# --------------------------------------------------------------------------- Excel


def test_cover_sheet_loses_to_the_data_sheet():
    r = load("cover_and_data.xlsx")
    assert r.sheet == "回答"
    assert r.sheets == ["表紙", "回答"]
    assert "『回答』を読み込みました" in r.notes[0] and "『表紙』" in r.notes[0]
    assert r.header_line == 3
    assert [(s.line, s.reason, s.sheet) for s in r.skipped] == [
        (1, "表の上のタイトル行", "回答"),
        (2, "空行", "回答"),
        (10, "空行", "回答"),
    ]
    assert r.skipped[0].where == "シート『回答』の1行目"
    assert r.line_numbers == list(range(4, 10)) + list(range(11, 27))
    assert r.table["回答日"].iloc[0] == "2024-06-03"
    assert r.table["番号"].tolist() == [str(i) for i in range(3, 25)]


def test_forcing_the_cover_sheet_says_it_holds_no_data_rows():
    with pytest.raises(CorpusError, match="シート『表紙』には見出しの行しかなく"):
        load("cover_and_data.xlsx", sheet="表紙")


def test_data_split_over_two_sheets_is_reported_not_silently_halved():
    r = load("split_sheets.xlsx")
    assert r.sheet == "2024年度"
    assert r.sheet_rows == {"2023年度": 12, "2024年度": 14, "選択肢": 4}
    assert any("『2023年度』『2024年度』は見出しが同じ" in n for n in r.notes)


def test_sheet_argument_forces_a_sheet():
    r = load("split_sheets.xlsx", sheet="2023年度")
    assert r.sheet == "2023年度" and len(r.table) == 12
    assert r.table["No"].iloc[0] == "1"
    with pytest.raises(CorpusError, match="シート『2025年度』が見つかりません.*『2023年度』"):
        load("split_sheets.xlsx", sheet="2025年度")


def test_all_sheets_with_the_same_header_can_be_combined():
    r = load("split_sheets.xlsx", sheet=importing.ALL_SHEETS)
    assert r.sheet == "*"
    assert list(r.table.columns) == ["No", "所属", "年代", "もやもや", "シート"]
    assert len(r.table) == r.n_records == 26
    assert r.row_sheets == ["2023年度"] * 12 + ["2024年度"] * 14
    assert r.table["シート"].tolist() == r.row_sheets
    assert r.line_numbers == list(range(2, 14)) + list(range(2, 16))
    assert any("選択肢" in n for n in r.notes)
    assert guess_roles(r.table).attributes == ["所属", "年代", "シート"]


def test_xlsx_with_wrong_dimension_and_values_right_of_the_header():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["番号", "自由記述"])
    ws.append([1, "庁内の縦割りで、担当外の相談がたらい回しになる", "追記あり"])
    ws.append([2, "民生委員にどこまで個人情報を伝えてよいか迷う"])
    buf = io.BytesIO()
    wb.save(buf)
    # Rewrite <dimension ref="A1:C3"/> as A1 only, as some export tools do.
    src = zipfile.ZipFile(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+"/>', b'<dimension ref="A1"/>', data)
            dst.writestr(item, data)
    r = read_table(out.getvalue(), "export.xlsx")
    assert list(r.table.columns) == ["番号", "自由記述", "列3"]
    assert r.table["列3"].tolist() == ["追記あり", ""]
    assert r.line_numbers == [2, 3]


def test_xlsx_content_with_csv_name_is_read_as_excel():
    data = (FIXTURES / "microsoft_forms.xlsx").read_bytes()
    r = read_table(data, "forms.csv")
    assert len(r.table) == 15
    assert "Excel" in r.notes[0]


# --------------------------------------------------------------------------- refusals


def test_too_large_file_is_refused():
    with pytest.raises(CorpusError, match="MB 以下"):
        read_table(b"a" * (MAX_UPLOAD_BYTES + 1), "big.csv")


def test_too_many_rows_is_refused(monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 50)
    text = "番号,自由記述\n" + "".join(f"{i},相談がたらい回しになる{i}\n" for i in range(60))
    with pytest.raises(CorpusError, match="行数が多すぎます.*50行以下"):
        read_table(text.encode(), "many.csv")


JUNK = random.Random(2).randbytes(3000)


@pytest.mark.parametrize(
    ("data", "filename", "pattern"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old.xls", r"\.xls.*保存し直してください"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "renamed.csv", r"\.xls.*保存し直してください"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "report.pdf", "PDF"),
        (JUNK, "blob.dat", "表のデータではない|文字コード"),
        ("番号,自由記述\n".encode(), "header_only.csv", "見出しの行しかなく"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "image", "表のデータではない"),
        (b"", "empty.csv", "空です"),
        (b"  \r\n\r\n", "blank.csv", "空です"),
        (b"\xef\xbb\xbf\r\n\r\n", "bom_only.csv", "データがありません"),
    ],
    ids=["xls", "xls-renamed", "pdf", "junk", "header-only", "png", "empty", "blank", "bom-only"],
)
def test_binary_and_empty_files_are_refused_clearly(data, filename, pattern):
    with pytest.raises(CorpusError, match=pattern) as err:
        read_table(data, filename)
    assert re.search(r"[ぁ-んァ-ン]", str(err.value))


def test_zip_that_is_not_xlsx_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(CorpusError, match="Word"):
        read_table(buf.getvalue(), "report.docx")


def test_broken_xlsx_and_text_named_xlsx():
    with pytest.raises(CorpusError, match="Excel（.xlsx）ファイルとして読み込めませんでした"):
        read_table(b"PK\x03\x04" + bytes(100), "answers.xlsx")
    r = read_table("番号,自由記述\n1,庁内の縦割りで、担当外の相談がたらい回しになる\n".encode(), "answers.xlsx")
    assert r.table["自由記述"].tolist() == ["庁内の縦割りで、担当外の相談がたらい回しになる"]
    assert any("拡張子は .xlsx" in n for n in r.notes)


def test_text_saved_with_xls_extension_is_read_with_a_note():
    text = "番号\t自由記述\r\n1\t庁内の縦割りで、担当外の相談がたらい回しになる\r\n"
    r = read_table(text.encode("cp932"), "system_export.xls")
    assert r.table["自由記述"].tolist() == ["庁内の縦割りで、担当外の相談がたらい回しになる"]
    assert any(".xls" in n for n in r.notes)


# --------------------------------------------------------------------------- property


PHRASES = [
    "庁内の縦割りで", "担当外の相談がたらい回しになる", "民生委員にどこまで", "個人情報を伝えてよいか迷う",
    "支援会議を開いても", "関係課が来てくれない", "制度の対象外になると", "誰も関わらなくなる",
    "ゴミ屋敷の相談は", "社協に任される", "異動のたびに", "関係がゼロに戻る", "①と②の会議の違いが",
    "職員にも説明できない", "8050世帯の支援で", "窓口が押し付け合いになる",
]
SPECIAL = [",", ";", "\t", '"', "\n", "、", " "]
HEADERS = {
    "text": ["自由記述", "意見", "コメント", "ご意見・ご感想", "回答内容"],
    "id": ["番号", "No", "ID"],
    "category": ["所属", "職種", "地区", "年代", "回答者"],
    "number": ["経験年数", "点数"],
}
CATEGORY_VALUES = ["市役所", "地域包括支援センター", "社会福祉協議会", "相談支援事業所"]


def random_cell(kind: str, row: int, rng: random.Random, id_start: int) -> str:
    if kind == "id":
        return str(id_start + row)
    if kind == "category":
        return rng.choice(CATEGORY_VALUES)
    if kind == "number":
        return str(rng.choice([1, 2, 3.5, 10, 12, 25, 40]))
    text = "".join(rng.sample(PHRASES, rng.randint(2, 3)))
    if rng.random() < 0.3:
        pos = rng.randrange(1, len(text))
        text = text[:pos] + rng.choice(SPECIAL) + text[pos:]
    return text


@pytest.mark.parametrize("seed", range(80))
def test_random_tables_round_trip(seed):
    rng = random.Random(seed)
    n_cols = rng.randint(1, 5)
    kinds = ["text"] + [rng.choice(["id", "category", "text", "number"]) for _ in range(n_cols - 1)]
    rng.shuffle(kinds)
    names: list[str] = []
    for kind in kinds:
        free = [h for h in HEADERS[kind] if h not in names]
        names.append(rng.choice(free) if free else f"{HEADERS[kind][0]}{len(names) + 1}")
    n_rows = rng.randint(2, 25)
    id_start = rng.randint(0, 500)
    rows = [[random_cell(k, i, rng, id_start) for k in kinds] for i in range(n_rows)]
    with_header = rng.random() < 0.7 or not any(k in ("id", "text") for k in kinds)
    delimiter = rng.choice([",", "\t", ";"])
    quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
    terminator = rng.choice(["\r\n", "\n"])
    encoding = rng.choice(["utf-8", "utf-8-sig", "cp932", "utf-16"])
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator=terminator)
    writer.writerows(([names] if with_header else []) + rows)
    data = buf.getvalue().encode(encoding)
    filename = rng.choice(["export.csv", "export.tsv", "export.txt", "export"])

    r = read_table(data, filename)

    assert r.has_header == with_header
    assert r.n_records == n_rows == len(r.table) and not r.skipped
    expected_columns = names if with_header else [f"列{j + 1}" for j in range(n_cols)]
    assert list(r.table.columns) == expected_columns
    assert r.table.to_numpy().tolist() == rows
    if n_cols >= 2:
        assert r.delimiter == delimiter
    line = 2 if with_header else 1
    expected_lines = []
    for row in rows:
        expected_lines.append(line)
        line += 1 + sum(cell.count("\n") for cell in row)
    assert r.line_numbers == expected_lines
    roles = guess_roles(r.table)
    assert_roles_partition(roles, r.table)
    text_columns = [c for c, k in zip(expected_columns, kinds) if k == "text"]
    assert roles.text in text_columns
    assert roles.id not in text_columns


@pytest.mark.parametrize("seed", range(60))
def test_unquoted_delimiters_in_comments_never_corrupt_a_kept_row(seed):
    """Rows written without quoting: a kept row is always exactly the row written, else skipped."""
    rng = random.Random(1000 + seed)
    kinds = ["text"] + [rng.choice(["id", "category", "number"]) for _ in range(rng.randint(1, 4))]
    rng.shuffle(kinds)
    names: list[str] = []
    for kind in kinds:
        free = [h for h in HEADERS[kind] if h not in names]
        names.append(rng.choice(free) if free else f"{HEADERS[kind][0]}{len(names) + 1}")
    delimiter = rng.choice([",", "\t", ";"])
    n_rows = rng.randint(8, 30)
    rows = []
    for i in range(n_rows):
        row = [random_cell(k, i, rng, 1) if k != "text" else "".join(rng.sample(PHRASES, 2)) for k in kinds]
        if rng.random() < 0.25:
            t = kinds.index("text")
            cut = rng.randrange(1, len(row[t]))
            row[t] = row[t][:cut] + delimiter + row[t][cut:]
        rows.append(row)
    text = "\r\n".join(delimiter.join(r) for r in [names] + rows) + "\r\n"

    r = read_table(text.encode("cp932"), "export.csv")

    assert r.has_header and list(r.table.columns) == names
    assert r.n_records == n_rows == len(r.table) + len(r.skipped)
    for line, kept in zip(r.line_numbers, r.table.to_numpy().tolist()):
        assert kept == rows[line - 2]
    clean = {i + 2 for i, row in enumerate(rows) if all(delimiter not in c for c in row)}
    assert clean <= set(r.line_numbers)
    assert all(s.reason.startswith("列の数") for s in r.skipped)
