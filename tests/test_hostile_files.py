"""Hostile and odd files (issue 21): bounded memory and time, one Japanese sentence, nothing lost.

Every file is built here, shaped like what reaches an office: an .xlsx whose one cell inflates to
100 million characters, a 10 MB cell, 200,001 rows, merged category cells, formula cells written by
a program that does not compute them, a CSV with stray NUL bytes, a comment over csv's 131,072
character field limit, a file over 20 MB.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import CorpusError
from analysis.ingest import comments as comments_mod
from analysis.ingest import text_tables
from analysis.ingest.comments import BLANK_REASON, FORMULA_REASON, MAX_CELL_CHARS, MAX_UPLOAD_BYTES
from analysis.ingest.importing import load_bytes, read_table, refuse_oversized
from analysis.ingest.isolated import read_table_isolated
from hostile_files import seed_texts, workbook_bytes, zip_bomb_xlsx

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = zip_bomb_xlsx(100_000_000)
    assert len(data) < 1_000_000  # well under the 20 MB upload limit: only the inflated size is hostile
    return data


def test_cli_refuses_the_zip_bomb_within_30_s_in_under_1_gb(bomb, tmp_path):
    src = tmp_path / "回答.xlsx"
    src.write_bytes(bomb)
    # the CLI under a wrapper that reports its own peak memory however it exits: VmHWM of its own
    # address space (ru_maxrss would carry the forking test process's size across exec)
    wrapper = ("import runpy, sys\n"
               "sys.argv = ['analysis', 'run', '--input', sys.argv[1], '--out', sys.argv[2]]\n"
               "try:\n    runpy.run_module('analysis', run_name='__main__', alter_sys=True)\n"
               "finally:\n    hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
               "    print('PEAK_KB', hwm, file=sys.stderr)\n")
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-c", wrapper, str(src), str(tmp_path / "out")], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    elapsed = time.monotonic() - t
    assert p.returncode == 2, p.stderr
    assert elapsed < 30
    peak_kb = int(p.stderr.split("PEAK_KB")[1].split()[0])
    assert peak_kb < 1024 * 1024, peak_kb
    message = [line for line in p.stderr.splitlines() if line.startswith("エラー")]
    assert len(message) == 1 and "長すぎる" in message[0] and "Traceback" not in p.stderr
    assert not (tmp_path / "out").exists()


def test_uploading_the_zip_bomb_leaves_the_server_small_and_the_page_working(models, bomb):
    from test_app import DATA, _page

    at = _page(DATA)
    before = _rss_mb()
    at.file_uploader(key="upload_file").set_value(("回答.xlsx", bomb, "application/octet-stream")).run()
    assert not at.exception
    assert any("長すぎる" in e.value for e in at.error)
    assert _rss_mb() - before < 300  # the reading happened in a child process, bounded to 1 GB
    assert at.button(key="start_run").disabled
    # the page still works: the seed can be chosen again at once
    at.file_uploader(key="upload_file").set_value(None).run()
    assert not at.exception


def test_a_10_mb_cell_is_cut_with_a_note_and_nothing_is_lost():
    data = zip_bomb_xlsx(3_500_000)  # 3.5 M Japanese characters = 10.5 MB of UTF-8 in one cell
    before = _rss_mb()
    res = load_bytes(data, "回答.xlsx")
    assert _rss_mb() - before < 400
    assert len(res.comments) == 60 and res.report.n_rows == 60
    assert res.comments["text"].str.len().max() == MAX_CELL_CHARS
    assert any("20,000字を超えていた" in n and "2行目" in n for n in res.report.notes)


def test_the_reading_child_is_stopped_past_its_memory_and_time_limits():
    csv = "本文\n" + "\n".join(seed_texts()) + "\n"
    with pytest.raises(CorpusError, match="メモリ"):
        read_table_isolated(csv.encode(), "a.csv", max_rss=20 * 2**20)
    with pytest.raises(CorpusError, match="秒を超えた"):
        read_table_isolated(csv.encode(), "a.csv", timeout=0.01)
    tr = read_table_isolated(csv.encode(), "a.csv")
    assert len(tr.table) == 108 and tr.table.iloc[0, 0] == seed_texts()[0]
    with pytest.raises(CorpusError, match="データの行がありません"):
        read_table_isolated("本文\n".encode(), "a.csv")


def test_200001_rows_are_refused_in_one_sentence():
    data = ("番号,本文\n" + "".join(f"{i},連携の課題その{i}\n" for i in range(200_001))).encode()
    with pytest.raises(CorpusError, match=r"^行数が多すぎます（200,00\d行以上）。200,000行以下にしてください。$"):
        read_table(data, "回答.csv")


def test_too_many_cells_are_refused(monkeypatch):
    monkeypatch.setattr(text_tables, "MAX_CELLS", 60)
    data = ("a,b,c,本文\n" + "".join(f"1,2,3,{t}\n" for t in seed_texts()[:30])).encode()
    with pytest.raises(CorpusError, match="セルが多すぎます"):
        read_table(data, "回答.csv")


def test_merged_category_cells_take_the_merged_value_with_a_note():
    import openpyxl

    texts = seed_texts()[:9]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["分類", "自由記述"])
    cats = ["行政×行政", "行政×専門機関", "専門機関×専門機関"]
    for i, t in enumerate(texts):
        ws.append([cats[i // 3] if i % 3 == 0 else None, t])
    for k in range(3):  # A2:A4, A5:A7, A8:A10 as an office merges a category over its rows
        ws.merge_cells(f"A{2 + 3 * k}:A{4 + 3 * k}")
    buf = io.BytesIO()
    wb.save(buf)
    res = load_bytes(buf.getvalue(), "回答.xlsx", text_column="自由記述", attributes=["分類"])
    assert res.comments["分類"].tolist() == [c for c in cats for _ in range(3)]
    assert any("結合されたセルが3か所" in n for n in res.report.notes)


def test_formula_cells_without_saved_results_are_reported_as_such():
    texts = seed_texts()[:12]
    rows = [["番号", "自由記述"]] + [[i, t] for i, t in enumerate(texts, 1)]
    rows[3][1] = '=CONCATENATE("連携", "の課題")'  # written by a program: a formula, no result saved
    rows[7][1] = "=B2"
    res = load_bytes(workbook_bytes(rows), "回答.xlsx", text_column="自由記述")
    assert len(res.comments) == 10
    reasons = {sk.line: sk.reason for sk in res.report.skipped}
    assert reasons == {4: FORMULA_REASON, 8: FORMULA_REASON}
    assert BLANK_REASON not in reasons.values()
    assert any("数式のセルが2個" in n and "B4" in n and "保存" in n for n in res.report.notes)
    assert len(res.comments) + len(res.report.skipped) == res.report.n_rows == 12


def test_a_few_nul_bytes_are_removed_with_a_note():
    texts = seed_texts()[:20]
    body = "番号,本文\n" + "".join(f"{i},{t}\n" for i, t in enumerate(texts, 1))
    data = body.encode("utf-8").replace("連携".encode(), "連\x00携".encode(), 2)
    res = load_bytes(data, "回答.csv")
    assert len(res.comments) == 20 and not res.comments["text"].str.contains("\x00").any()
    assert any("NUL 文字" in n and "2個" in n for n in res.report.notes)
    # a real binary is still refused
    with pytest.raises(CorpusError, match="表のデータではない"):
        read_table(b"\x00" * 200 + "本文\n".encode() * 10, "a.csv")


def test_a_comment_over_csvs_field_limit_is_read_and_cut():
    texts = seed_texts()[:10]
    long_text = ("".join(texts) * 200)[:150_000]
    table = pd.DataFrame({"番号": range(1, 12), "本文": texts + [long_text]})
    res = load_bytes(table.to_csv(index=False).encode("utf-8"), "回答.csv")
    assert len(res.comments) == 11
    assert res.comments["text"].str.len().max() == MAX_CELL_CHARS
    assert res.comments["text"].iloc[-1] == long_text[:MAX_CELL_CHARS].strip()
    assert any("20,000字を超えていた" in n and "12行目" in n for n in res.report.notes)


def test_a_file_over_20_mb_gets_one_japanese_sentence():
    data = b"a" * (MAX_UPLOAD_BYTES + 1)
    with pytest.raises(CorpusError, match=r"^ファイルが大きすぎます（20\.0 MB）。20 MB 以下"):
        refuse_oversized(data)
    with pytest.raises(CorpusError, match="ファイルが大きすぎます"):
        read_table(data, "a.csv")
    assert comments_mod.MAX_UPLOAD_BYTES == 20 * 2**20
