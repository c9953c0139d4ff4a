"""Shortlist exports: CSV for Excel, Markdown, Word handout (opened again with python-docx)."""

from __future__ import annotations

import html as html_lib
import io
import re
import zipfile

import pandas as pd
import pytest
from docx import Document
from markdown_it import MarkdownIt

from analysis.export import (
    CSV_HEADERS,
    DISCUSSION_QUESTIONS,
    discussion_question,
    meta_line,
    shortlist_to_csv_bytes,
    shortlist_to_docx_bytes,
    shortlist_to_markdown,
)

HOSTILE = (
    "**太字にしないで** <b>タグ</b> [リンク](javascript:alert(1)) <script>alert('x')</script> "
    "&amp; :red[赤] `code` # 見出し _斜体_ ~~取消~~ | 表 |"
)


@pytest.fixture(scope="module")
def shortlist(seed_comments: pd.DataFrame) -> pd.DataFrame:
    """Four real seed comments (one per category), plus a hostile one and a multi-line one."""
    picks = seed_comments.groupby("連携の分類", sort=False).head(1).head(4)
    df = picks[["comment_id", "text", "連携の分類", "回答者"]].rename(columns={"連携の分類": "category", "回答者": "role"})
    df["label"] = ["縦割りの壁", "情報共有", "役割分担", "地域とのつながり"][: len(df)]
    df["note"] = ["導入に使う", "", None, "後半のグループワーク用"][: len(df)]
    base = seed_comments.iloc[10]
    extra = pd.DataFrame(
        [
            {
                "comment_id": "x001",
                "text": base["text"] + HOSTILE,
                "category": base["連携の分類"],
                "role": base["回答者"],
                "label": "<i>テーマ</i> **名**",
                "note": "メモにも <b>タグ</b>",
            },
            {
                "comment_id": "x002",
                "text": "一行目の声です。\n二行目も原文どおり。\n-ハイフンで始まる行",
                "category": "行政×行政",
                "role": "行政職員",
                "label": "複数行",
                "note": "",
            },
        ]
    )
    return pd.concat([df, extra], ignore_index=True)


# --------------------------------------------------------------------------- Word


def _paragraph_texts(data: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(data)).paragraphs]


def test_docx_contains_each_quote_verbatim(shortlist):
    texts = _paragraph_texts(shortlist_to_docx_bytes(shortlist))
    for quote in shortlist["text"]:
        assert quote in texts, quote[:30]
    hostile = next(t for t in texts if "<script>" in t)
    assert "**太字にしないで**" in hostile and "[リンク](javascript:alert(1))" in hostile


def test_docx_layout_title_intro_cases_meta_questions_notes(shortlist):
    data = shortlist_to_docx_bytes(shortlist, title="連携研修 第2回")
    doc = Document(io.BytesIO(data))
    paras = doc.paragraphs
    texts = [p.text for p in paras]
    assert texts[0] == "連携研修 第2回" and paras[0].style.name == "Title"
    assert "原文のまま" in texts[1]
    headings = [p.text for p in paras if p.style.name == "Heading 1"]
    assert headings == [f"事例{i}" for i in range(1, len(shortlist) + 1)]
    for i, row in enumerate(shortlist.itertuples()):
        meta = meta_line(row.category, row.role, row.label)
        assert any(t.startswith(meta) for t in texts), meta
        assert f"問い：{discussion_question(i, row.category)}" in texts
    assert "メモ：導入に使う" in texts
    assert "メモ：メモにも <b>タグ</b>" in texts
    # empty / missing notes leave no メモ line
    assert sum(t.startswith("メモ：") for t in texts) == 3
    # each quote paragraph is a single plain run (no interpretation, no formatting)
    quote_paras = [p for p in paras if p.text in set(shortlist["text"])]
    assert len(quote_paras) == len(shortlist)
    assert all(len(p.runs) == 1 and not p.runs[0].bold for p in quote_paras)
    assert doc.core_properties.title == "連携研修 第2回"


def test_docx_questions_rotate_and_include_generic_ones(shortlist):
    texts = _paragraph_texts(shortlist_to_docx_bytes(shortlist))
    questions = [t.removeprefix("問い：") for t in texts if t.startswith("問い：")]
    assert len(questions) == len(shortlist)
    assert len(set(questions)) > 1
    assert DISCUSSION_QUESTIONS[0] == "この場面で、あなたの組織なら最初に誰に声をかけますか？"
    assert discussion_question(0, "未知の分類") == DISCUSSION_QUESTIONS[0]
    assert discussion_question(1, "未知の分類") == DISCUSSION_QUESTIONS[1]


def test_docx_sets_east_asian_font(shortlist):
    data = shortlist_to_docx_bytes(shortlist, east_asian_font="Noto Sans CJK JP")
    styles_xml = zipfile.ZipFile(io.BytesIO(data)).read("word/styles.xml").decode("utf-8")
    assert 'w:eastAsia="Noto Sans CJK JP"' in styles_xml
    doc = Document(io.BytesIO(data))
    for name in ("Normal", "Title", "Heading 1"):
        rfonts = doc.styles[name].element.rPr.rFonts
        attrs = {k.split("}")[1]: v for k, v in rfonts.attrib.items()}
        assert attrs.get("eastAsia") == "Noto Sans CJK JP", name
        assert "eastAsiaTheme" not in attrs, name


def test_docx_empty_shortlist_and_control_characters():
    empty = pd.DataFrame(columns=["comment_id", "text", "category", "role", "label", "note"])
    assert "（事例が選ばれていません）" in _paragraph_texts(shortlist_to_docx_bytes(empty))
    odd = pd.DataFrame(
        [{"comment_id": "c1", "text": "制御文字\x0bを含む声", "category": "行政×行政",
          "role": "行政職員", "label": "t", "note": "\x01"}]
    )
    assert "制御文字を含む声" in _paragraph_texts(shortlist_to_docx_bytes(odd))


# --------------------------------------------------------------------------- CSV


def test_csv_has_bom_and_round_trips_with_japanese_headers(shortlist):
    data = shortlist_to_csv_bytes(shortlist)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns) == ["ID", "コメント", "連携の分類", "回答者", "テーマ", "メモ"]
    assert list(back.columns) == list(CSV_HEADERS.values())
    assert back["コメント"].tolist()[:-1] == shortlist["text"].tolist()[:-1]
    assert back["コメント"].iloc[-1] == shortlist["text"].iloc[-1]  # multi-line, newlines kept
    assert back["ID"].tolist() == shortlist["comment_id"].tolist()
    assert back["テーマ"].tolist() == shortlist["label"].tolist()
    assert back["メモ"].tolist() == ["導入に使う", "", "", "後半のグループワーク用", "メモにも <b>タグ</b>", ""]


def test_csv_defuses_excel_formulas():
    df = pd.DataFrame(
        [{"comment_id": "c1", "text": "=HYPERLINK(\"http://x\")", "category": "行政×行政",
          "role": "行政職員", "label": "-テーマ", "note": ""}]
    )
    back = pd.read_csv(io.BytesIO(shortlist_to_csv_bytes(df)), encoding="utf-8-sig", dtype=str)
    assert back["コメント"].iloc[0] == "'=HYPERLINK(\"http://x\")"
    assert back["テーマ"].iloc[0] == "'-テーマ"


def test_missing_columns_raise():
    with pytest.raises(ValueError, match="label"):
        shortlist_to_csv_bytes(pd.DataFrame({"comment_id": ["c1"], "text": ["声"],
                                             "category": ["行政×行政"], "role": ["行政職員"]}))


# --------------------------------------------------------------------------- Markdown


def _rendered(md: str) -> tuple[str, str]:
    """(html, visible text) as a CommonMark renderer with raw HTML enabled would show it."""
    html = MarkdownIt("commonmark", {"html": True}).render(md)
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", html))
    return html, text


def test_markdown_shows_markup_literally(shortlist):
    md = shortlist_to_markdown(shortlist)
    html, text = _rendered(md)
    # no element produced from the data
    for tag in ("<script", "<b>", "<i>", "<strong>", "<em>", "<a ", "<code>", "<del>", "<table"):
        assert tag not in html, tag
    assert "href" not in html
    # ... and the characters are all there as text
    for literal in ("**太字にしないで**", "<b>タグ</b>", "[リンク](javascript:alert(1))",
                    "<script>alert('x')</script>", "&amp;", ":red[赤]", "`code`", "_斜体_",
                    "~~取消~~", "<i>テーマ</i> **名**", "メモにも <b>タグ</b>"):
        assert literal in text, literal
    # only our own headings: title + one per case (the hostile "# 見出し" stays inline text)
    assert html.count("<h1>") == 1 and html.count("<h2>") == len(shortlist)


def test_markdown_structure(shortlist):
    md = shortlist_to_markdown(shortlist, title="事例集")
    html, text = _rendered(md)
    assert md.startswith("# 事例集\n")
    for i, row in enumerate(shortlist.itertuples(), start=1):
        assert f"## 事例{i}" in md
        assert meta_line(row.category, row.role, row.label) in text
        assert discussion_question(i - 1, row.category) in text
    # every real seed quote appears verbatim in the rendered text
    for quote in shortlist["text"].iloc[:4]:
        assert quote in text
    # the multi-line quote keeps its line breaks and its leading hyphen is not a list item
    assert "一行目の声です。<br />\n二行目も原文どおり。<br />\n-ハイフンで始まる行" in html
    assert html.count("<blockquote>") == len(shortlist)
    assert "メモ：導入に使う" in text and text.count("メモ：") == 3


def test_markdown_empty():
    empty = pd.DataFrame(columns=["comment_id", "text", "category", "role", "label"])
    assert "（事例が選ばれていません）" in shortlist_to_markdown(empty)
