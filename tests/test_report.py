"""The meeting pack (analysis.report): HTML in a real browser with the network blocked, PDF by
chromium, the Excel workbook, filters and the ``python -m analysis report`` command line.

Uses Debian's ``/usr/bin/chromium`` (Playwright for Python with ``executable_path``; never
``playwright install``). Screenshots of the HTML report and PNGs of the PDF's first pages go to
``test-output/report/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import html as html_lib
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from analysis import report
from analysis.__main__ import main
from analysis.schema import NOISE, SEED_CATEGORY, stability_word
from analysis.store.runs import load_run

PROJECT_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = PROJECT_DIR / "test-output" / "report"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
HOSTILE = "<script>alert('x')</script><img src=\"http://evil.example/x.png\"> **太字** [l](javascript:alert(1))"
FORMULAS = ['=HYPERLINK("http://x","y")', "=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3"]
CATEGORY = "行政×行政"
IDS = re.compile(r"ID (c\d{3})|（(c\d{3})）")

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium not installed")


@pytest.fixture(scope="module")
def run(seed_run):
    return load_run(seed_run.path)


@pytest.fixture(scope="module")
def data(run) -> report.ReportData:
    return report.build_report(run)


@pytest.fixture(scope="module")
def html_text(data) -> str:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    text = report.report_html(data)
    (OUT_DIR / "seed-report.html").write_text(text, encoding="utf-8")
    return text


@pytest.fixture(scope="module")
def hostile_html(seed_run, data, tmp_path_factory) -> Path:
    """The seed report with markup in the first quote of the largest theme and in its name."""
    run = load_run(seed_run.path)
    cid = str(data.themes[0].quotes["comment_id"].iloc[0])
    run.comments.loc[run.comments["comment_id"] == cid, "text"] = HOSTILE
    run.clusters.loc[run.clusters["cluster"] == data.themes[0].cluster, "label"] = "<b>名前</b><script>alert(2)</script>"
    path = tmp_path_factory.mktemp("hostile") / "report.html"
    path.write_text(report.report_html(report.build_report(run)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not found: apt-get install -y chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _open_offline(browser, path: Path, width: int = 1000):
    """Open ``path`` with every request that is not file:, data: or blob: blocked and recorded."""
    attempts: list[str] = []
    dialogs: list[str] = []
    errors: list[str] = []
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="ja-JP")
    page = context.new_page()
    local = ("file:", "data:", "blob:")

    def route(r):
        if r.request.url.startswith(local):
            r.continue_()
        else:
            attempts.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("request", lambda req: None if req.url.startswith(local) else attempts.append(req.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(
        "() => { const d = [...document.querySelectorAll('.plotly-graph-div')];"
        " return d.length > 0 && d.every(x => x.querySelector('.main-svg')); }", timeout=30_000)
    return context, page, attempts, dialogs, errors


# --------------------------------------------------------------------------- HTML


def test_html_is_one_file_with_nothing_to_fetch(html_text):
    assert html_text.startswith("<!DOCTYPE html>") and '<html lang="ja">' in html_text
    assert "Content-Security-Policy" in html_text and "default-src 'none'" in html_text
    assert html_text.count("plotly.js v") == 1  # inlined once, from the installed package
    for pattern in (r'<script[^>]+src=', r'<link[^>]+rel="stylesheet"', r"@import", r"url\(\s*['\"]?https?:",
                    r'<img[^>]+src="https?:', r'<link[^>]+href="https?:'):
        assert not re.search(pattern, html_text), pattern
    assert '<link rel="icon" href="data:,">' in html_text  # no favicon request
    assert "@page{size:A4;margin:15mm}" in html_text and "section.theme,section.method{break-before:page}" in html_text
    assert ".quote{" in html_text and "break-inside:avoid" in html_text


@needs_chromium
def test_html_opens_offline_and_every_chart_draws(browser, html_text, data):
    path = OUT_DIR / "seed-report.html"
    context, page, attempts, dialogs, errors = _open_offline(browser, path)
    try:
        charts = page.evaluate("() => [...document.querySelectorAll('.plotly-graph-div')]"
                               ".map(d => [d.id, !!d.querySelector('.main-svg'), d.querySelectorAll('.point').length])")
        assert [c[0] for c in charts] == ["report-values", "report-map"]
        assert all(c[1] for c in charts), charts
        assert charts[1][2] == data.n_comments  # one point per comment on the map
        assert attempts == [], attempts
        assert dialogs == [] and errors == [], (dialogs, errors)
        # nothing is wider than the window
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1000
        page.screenshot(path=str(OUT_DIR / "seed-report-1000px.png"), full_page=True)
        page.set_viewport_size({"width": 1000, "height": 1400})
        page.screenshot(path=str(OUT_DIR / "seed-report-top.png"))
    finally:
        context.close()


@needs_chromium
def test_comment_markup_is_shown_as_text_never_run(browser, hostile_html):
    text = hostile_html.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "<b>名前</b>" not in text and "&lt;b&gt;名前&lt;/b&gt;" in text
    context, page, attempts, dialogs, errors = _open_offline(browser, hostile_html)
    try:
        assert attempts == [] and dialogs == [], (attempts, dialogs)
        body = page.inner_text("body")
        assert "<script>alert('x')</script>" in body and "[l](javascript:alert(1))" in body
        assert page.locator("img").count() == 0
    finally:
        context.close()


def test_html_contents(html_text, data, run):
    ds = run.dataset
    assert html_lib.escape(ds["name"]) in html_text and html_lib.escape(ds["description"]) in html_text
    assert f"{len(run.comments)} 件" in html_text and f"{len(data.themes)} 個" in html_text
    assert f"{data.noise_share:.0%}" in html_text and report.NO_FILTER in html_text
    for value in data.value_counts():
        assert html_lib.escape(value) in html_text
    for th in data.themes:
        assert f'id="theme-{th.number}"' in html_text
        assert html_lib.escape(th.label) in html_text
        if th.summary:
            assert f"「{html_lib.escape(th.summary)}」（{th.summary_id}）" in html_text
        assert stability_word(th.stability) in html_text
        assert 3 <= len(th.quotes) <= 5 or len(th.quotes) == th.size
        for _, q in th.quotes.iterrows():
            assert html_lib.escape(q["text"]) in html_text
            assert f"ID {q['comment_id']} ／ {SEED_CATEGORY}：{html_lib.escape(q[SEED_CATEGORY])}" in html_text
        for k in th.keywords:
            assert f'<span class="kw">{html_lib.escape(k)}</span>' in html_text
    # the theme × category table with its honest marks and the kinds
    assert "★" in html_text and "△" in html_text and "参考値" in html_text
    assert {th.kind for th in data.themes} <= {"分野横断", "特有", "一部共通"}
    # the method in plain words, with the settings that made the run
    method = html_text.split('id="method"', 1)[1]
    versions = run.manifest["versions"]
    for name in ("numpy", "hdbscan", "umap-learn"):
        assert f"{name} {versions[name]}" in method
    assert f"乱数の種</th><td>{run.manifest['config']['seed']}" in method
    assert "未分類" in method and "そのまま引用" in method and "このツールが言葉を作ってはいません" in method
    assert str(run.manifest["stability"]["mean_cluster_stability"]) in method


# --------------------------------------------------------------------------- PDF


@pytest.fixture(scope="module")
def pdf_bytes(html_text) -> bytes:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not installed")
    data = report.html_to_pdf(html_text)
    (OUT_DIR / "seed-report.pdf").write_bytes(data)
    return data


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_pdf_has_a_page_per_theme_and_the_charts(pdf_bytes, data, tmp_path):
    assert pdf_bytes.startswith(b"%PDF")
    pages = _pdf_pages(pdf_bytes)
    assert pages >= len(data.themes) + 2  # opening pages, one or more per theme, the method
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", "-"], input=pdf_bytes, capture_output=True).stdout.decode()
        assert f"Pages:           {pages}" in info
        assert re.search(r"Page size:\s+59[45]\.\d+ x 841\.\d+ pts \(A4\)", info), info
    if shutil.which("pdftotext") and shutil.which("pdffonts"):
        f = tmp_path / "r.pdf"
        f.write_bytes(pdf_bytes)
        first = subprocess.run(["pdftotext", "-f", "1", "-l", "3", str(f), "-"], capture_output=True, text=True).stdout
        # the map's legend is text plotly drew into its SVG: present only if the chart was drawn
        assert f"1. {data.themes[0].label}" in first and "件数" in first
        assert data.run.dataset["name"] in first  # Japanese glyphs with their text, not boxes
        # chromium embeds the CJK font (as Type 3 glyphs, with a Unicode map): every font is embedded
        fonts = subprocess.run(["pdffonts", str(f)], capture_output=True, text=True).stdout.splitlines()[2:]
        assert fonts and all(re.search(r"\s(yes|no)\s+(yes|no)\s+yes\s", line) and " yes " in line for line in fonts)
    if shutil.which("pdftoppm"):
        for old in OUT_DIR.glob("seed-pdf-*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "5", str(OUT_DIR / "seed-report.pdf"),
                        str(OUT_DIR / "seed-pdf")], check=True)


def test_missing_chromium_is_a_japanese_message(monkeypatch):
    monkeypatch.setenv("MOYAMOYA_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(report.ReportError, match="chromium"):
        report.html_to_pdf("<html></html>")


# --------------------------------------------------------------------------- Excel


def _cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            yield from row


def test_workbook_sheets_headers_and_no_formula(data, run):
    wb = load_workbook(io.BytesIO(report.report_xlsx(data)))
    assert wb.sheetnames == list(report.SHEETS) == ["コメント", "テーマ", "分野横断", "代表的な声", "設定"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws["A1"].font.bold
        assert all(ws.column_dimensions[c].width >= 6 for c in "ABC")
    assert [c.value for c in wb["コメント"][1]] == ["ID", "コメント", "テーマ", "当てはまりの強さ", *run.attributes]
    assert wb["コメント"].max_row == len(run.comments) + 1
    assert wb["コメント"].column_dimensions["B"].width == 80
    themes = wb["テーマ"]
    assert [c.value for c in themes[1]][:8] == ["番号", "テーマ", "要約", "要約のもとのID", "件数", "キーワード", "安定性",
                                                 "安定性の目安"]
    assert themes.max_row == len(data.themes) + 1
    cross = [c.value for c in wb["分野横断"][1]]
    assert cross[:2] == ["番号", "テーマ"] and "合計" in cross and "種類" in cross and report.MARK_HEADER in cross
    assert wb["分野横断"].max_row == len(data.themes) + 2  # the themes and 未分類
    col = cross.index(report.MARK_HEADER)
    marks = [r[col] for r in wb["分野横断"].iter_rows(min_row=2, values_only=True) if r[col]]
    assert any("★" in m for m in marks) and any("△" in m for m in marks)
    assert set(data.value_counts()) <= set(cross)
    quotes = wb["代表的な声"]
    assert quotes.max_row - 1 == sum(len(th.quotes) for th in data.themes) + len(data.noise_quotes)
    settings = {r[0].value: r[1].value for r in wb["設定"].iter_rows(min_row=2)}
    assert settings["乱数の種"] == str(run.manifest["config"]["seed"]) and "numpy" in settings["パッケージのバージョン"]
    assert not [c.coordinate for c in _cells(wb) if c.data_type == "f"]


def test_workbook_never_holds_a_formula_even_from_hostile_text(seed_run):
    run = load_run(seed_run.path)
    rows = run.comments.index[:len(FORMULAS)]
    for i, payload in zip(rows, FORMULAS):
        run.comments.loc[i, "text"] = payload
        run.comments.loc[i, SEED_CATEGORY] = payload
    run.clusters.loc[0, "label"] = FORMULAS[0]
    run.clusters.loc[1, "summary"] = FORMULAS[1]
    run.clusters.at[2, "keywords"] = [FORMULAS[3], "連携"]
    wb = load_workbook(io.BytesIO(report.report_xlsx(report.build_report(run))))
    cells = list(_cells(wb))
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = [c.value for c in cells if isinstance(c.value, str)]
    for payload in FORMULAS:
        assert payload in values, payload  # kept exactly as written, as text
    for c in cells:
        if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@")):
            assert c.data_type == "s" and c.quotePrefix, c.coordinate


# --------------------------------------------------------------------------- filters


def test_a_report_for_one_category_says_so_and_holds_only_its_comments(run):
    table, described = report.filter_table(run, {SEED_CATEGORY: [CATEGORY]})
    assert described == f"{SEED_CATEGORY}: {CATEGORY}"
    d = report.build_report(run, table, described)
    text = report.report_html(d)
    assert f"<b>絞り込み:</b> {described}（{len(table)} / {len(run.comments)} 件）" in text
    assert f"{report.NO_FILTER}" not in text.split('id="method"')[0]
    kept = set(table["comment_id"])
    assert kept == set(run.comments.loc[run.comments[SEED_CATEGORY] == CATEGORY, "comment_id"])
    shown = {a or b for a, b in IDS.findall(text)}
    assert shown and shown <= kept, shown - kept
    others = run.comments[~run.comments["comment_id"].isin(kept)]
    kept_texts = "\n".join(table["text"])
    for t in others["text"]:
        head = t[:14]
        if head not in kept_texts:
            assert head not in text, head
    assert "1種類" in text  # no comparison across categories within one category, and it says why
    wb = load_workbook(io.BytesIO(report.report_xlsx(d)))
    assert {r[0].value for r in wb["コメント"].iter_rows(min_row=2)} == kept
    assert {r[3].value for r in wb["代表的な声"].iter_rows(min_row=2)} <= kept
    assert {v for (k, v) in ((r[0].value, r[1].value) for r in wb["設定"].iter_rows(min_row=2)) if k == "絞り込み"} == {described}


def test_word_filter_and_bad_filters(run):
    table, described = report.filter_table(run, words="たらいまわし")
    assert described == "語句: たらいまわし"
    assert len(table) == int(run.comments["text"].str.contains("たらい回し").sum()) >= 1
    with pytest.raises(report.ReportError, match="属性「分類」はありません"):
        report.filter_table(run, {"分類": ["x"]})
    with pytest.raises(report.ReportError, match="値「x」はありません"):
        report.filter_table(run, {SEED_CATEGORY: ["x"]})


# --------------------------------------------------------------------------- command line


def test_cli_writes_each_format_and_refuses_to_overwrite(seed_run, tmp_path, capsys):
    for ext in (".html", ".xlsx", ".pdf"):
        out = tmp_path / f"報告書{ext}"
        assert main(["report", "--run", str(seed_run.path), "--out", str(out)]) == 0
        assert out.stat().st_size > 1000
        assert "報告書を書き出しました" in capsys.readouterr().out
    assert (tmp_path / "報告書.pdf").read_bytes().startswith(b"%PDF")
    load_workbook(tmp_path / "報告書.xlsx")
    before = (tmp_path / "報告書.html").stat().st_mtime_ns
    assert main(["report", "--run", seed_run.run_id, "--out", str(tmp_path / "報告書.html")]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "報告書.html").stat().st_mtime_ns == before
    assert main(["report", "--run", str(seed_run.path), "--out", str(tmp_path / "報告書.html"), "--force",
                 "--filter", f"{SEED_CATEGORY}={CATEGORY}", "--words", "連携"]) == 0
    text = (tmp_path / "報告書.html").read_text(encoding="utf-8")
    assert f"{SEED_CATEGORY}: {CATEGORY} ／ 語句: 連携" in text
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic write left nothing behind


@pytest.mark.parametrize("argv, message", [
    (["--out", "報告書.docx"], "報告書のファイル名は .html、.pdf、.xlsx のどれかで"),
    (["--out", "report"], "報告書のファイル名は"),
    (["--out", "x.html", "--filter", "連携の分類"], "「属性=値」の形"),
])
def test_cli_refuses_bad_arguments_in_japanese_without_a_traceback(seed_run, tmp_path, argv, message):
    out = subprocess.run([sys.executable, "-m", "analysis", "report", "--run", str(seed_run.path), *argv],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": str(PROJECT_DIR)})
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and out.stderr.startswith("エラー: ")
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert not list(tmp_path.iterdir())


def test_report_without_attributes_and_noise_rows(run):
    """A run without attribute columns still makes every format (nothing to compare, said so)."""
    bare = load_run(run.path)
    bare.comments = bare.comments.drop(columns=run.attributes)
    bare.manifest = {**bare.manifest, "attributes": []}
    d = report.build_report(bare)
    assert d.primary is None and d.counts is None and "属性" in d.compare_note
    text = report.report_html(d)
    assert "現れる" not in text.split("<h2>テーマの一覧</h2>", 1)[1].split("</table>", 1)[0]
    wb = load_workbook(io.BytesIO(report.report_xlsx(d)))
    assert wb["分野横断"]["A2"].value == d.compare_note
    assert (d.table["cluster"] == NOISE).sum() == d.n_noise and len(d.noise_quotes) == min(3, d.n_noise)
    pd.testing.assert_frame_equal(d.table[["comment_id"]], run.table()[["comment_id"]])
