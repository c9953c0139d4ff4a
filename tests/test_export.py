"""Shortlist exports: CSV for Excel, Markdown, Word handout (opened again with python-docx).

The input is what :func:`analysis.store.shortlists.items_frame` returns: comment_id, text, label, note and
any attribute columns, named as the run names them.
"""

from __future__ import annotations

import html as html_lib
import io
import re
import zipfile

import pandas as pd
import pytest
from docx import Document
from markdown_it import MarkdownIt

from analysis.report.export import (
    DISCUSSION_QUESTIONS,
    PROMPTS_HEADING,
    attribute_text,
    discussion_prompts,
    md_escape,
    meta_line,
    shortlist_to_csv_bytes,
    shortlist_to_docx_bytes,
    shortlist_to_markdown,
)

HOSTILE = (
    "**太字にしないで** <b>タグ</b> [リンク](javascript:alert(1)) <script>alert('x')</script> "
    "&amp; :red[赤] `code` # 見出し _斜体_ ~~取消~~ | 表 |"
)
FORMULAS = ['=HYPERLINK("http://x","y")', "=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3"]
ATTRS = ["連携の分類", "回答者"]


@pytest.fixture(scope="module")
def shortlist(seed_comments: pd.DataFrame) -> pd.DataFrame:
    """Four real seed comments (one per category), plus a hostile one and a multi-line one,
    in the shape of ``shortlists.items_frame`` (comment_id, text, label, note, attributes)."""
    picks = seed_comments.groupby("連携の分類", sort=False).head(1).head(4)
    df = picks[["comment_id", "text", *ATTRS]].copy()
    df.insert(2, "label", ["縦割りの壁", "情報共有", "縦割りの壁", "地域とのつながり"][: len(df)])
    df.insert(3, "note", ["導入に使う", "", None, "後半のグループワーク用"][: len(df)])
    base = seed_comments.iloc[10]
    extra = pd.DataFrame([
        {"comment_id": "x001", "text": base["text"] + HOSTILE, "label": "<i>テーマ</i> **名**",
         "note": "メモにも <b>タグ</b>", "連携の分類": base["連携の分類"], "回答者": base["回答者"]},
        {"comment_id": "x002", "text": "一行目の声です。\n二行目も原文どおり。\n-ハイフンで始まる行\n# 見出しではない\n1. 番号でもない",
         "label": "複数行", "note": "", "連携の分類": "行政×行政", "回答者": "行政職員"},
    ])
    return pd.concat([df, extra], ignore_index=True)


def _pairs(row) -> list[tuple[str, str]]:
    return [(a, "" if pd.isna(row[a]) else str(row[a])) for a in ATTRS]


def _records(df: pd.DataFrame) -> list[dict]:
    return [{"comment_id": str(r["comment_id"]), "text": str(r["text"]), "label": str(r["label"]),
             "note": "" if pd.isna(r["note"]) else str(r["note"]), "attrs": _pairs(r)} for _, r in df.iterrows()]


# --------------------------------------------------------------------------- Word


def _paragraph_texts(data: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(data)).paragraphs]


def test_docx_contains_each_quote_verbatim(shortlist):
    texts = _paragraph_texts(shortlist_to_docx_bytes(shortlist))
    for quote in shortlist["text"]:
        assert quote in texts, quote[:30]
    hostile = next(t for t in texts if "<script>" in t)
    assert "**太字にしないで**" in hostile and "[リンク](javascript:alert(1))" in hostile


def test_docx_is_a4_portrait_with_even_margins(shortlist):
    doc = Document(io.BytesIO(shortlist_to_docx_bytes(shortlist)))
    for section in doc.sections:
        # Word stores twentieths of a point: 210 mm comes back as 210.004 mm
        assert section.page_width.mm == pytest.approx(210, abs=0.1)
        assert section.page_height.mm == pytest.approx(297, abs=0.1)
        for margin in (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin):
            assert 15 <= margin.mm <= 25


def test_docx_layout_title_intro_attributes_notes_and_labelled_prompts(shortlist):
    data = shortlist_to_docx_bytes(shortlist, title="連携研修 第2回")
    doc = Document(io.BytesIO(data))
    paras = doc.paragraphs
    texts = [p.text for p in paras]
    assert texts[0] == "連携研修 第2回" and paras[0].style.name == "Title"
    assert "原文のまま" in texts[1] and "このツールが付け加えた" in texts[1]
    headings = [p.text for p in paras if p.style.name == "Heading 1"]
    assert headings == [f"事例{i}" for i in range(1, len(shortlist) + 1)]
    records = _records(shortlist)
    for i, (_, row) in enumerate(shortlist.iterrows()):
        meta = meta_line(_pairs(row), row["label"])
        assert meta.startswith(f"連携の分類：{row['連携の分類']} ／ 回答者：{row['回答者']} ／ テーマ：")
        assert any(t.startswith(meta) for t in texts), meta
        for k, prompt in enumerate(discussion_prompts(records, i), start=1):
            assert f"問い{k}：{prompt}" in texts
    # every case's prompts sit under a heading that says the tool added them
    assert texts.count(PROMPTS_HEADING) == len(shortlist)
    assert "メモ：導入に使う" in texts
    assert "メモ：メモにも <b>タグ</b>" in texts
    assert sum(t.startswith("メモ：") for t in texts) == 3  # empty / missing notes leave no line
    # each quote paragraph is a single plain run (no interpretation, no formatting)
    quote_paras = [p for p in paras if p.text in set(shortlist["text"])]
    assert len(quote_paras) == len(shortlist)
    assert all(len(p.runs) == 1 and not p.runs[0].bold for p in quote_paras)
    assert doc.core_properties.title == "連携研修 第2回"


def test_prompts_come_from_the_theme_and_the_contrast_between_values(shortlist):
    records = _records(shortlist)
    first = discussion_prompts(records, 0)
    assert any(f"「{records[0]['label']}」" in p for p in first)
    # case 3 shares its theme with case 1 from another category: the prompt points to it
    assert records[2]["label"] == records[0]["label"]
    assert records[2]["attrs"][0][1] != records[0]["attrs"][0][1]
    third = discussion_prompts(records, 2)
    assert any("事例1" in p and records[0]["attrs"][0][1] in p for p in third), third
    # otherwise another value of the first attribute in the list is the contrast
    second = discussion_prompts(records, 1)
    assert any(f"連携の分類が「{records[1]['attrs'][0][1]}」" in p for p in second), second
    # the generic questions rotate
    assert first[-1] == DISCUSSION_QUESTIONS[0] and second[-1] == DISCUSSION_QUESTIONS[1]
    # 未分類 is not a theme to talk about; one value only: no contrast
    lone = [{"comment_id": "c1", "text": "声", "label": "未分類", "note": "", "attrs": [("地区", "北部")]}]
    assert discussion_prompts(lone, 0) == [DISCUSSION_QUESTIONS[0]]


def test_any_attributes_work_and_none_at_all(seed_comments):
    texts = seed_comments["text"].head(3).tolist()
    df = pd.DataFrame({"comment_id": ["a1", "a2", "a3"], "text": texts, "label": ["会議", "会議", "情報"],
                       "note": ["", "", ""], "年度": ["2024年度", "2025年度", "2025年度"], "地区": ["北部", "南部", "北部"]})
    doc_texts = _paragraph_texts(shortlist_to_docx_bytes(df))
    assert any(t.startswith("年度：2024年度 ／ 地区：北部 ／ テーマ：会議") for t in doc_texts)
    assert any("年度が「2024年度」の声（事例1）" in t for t in doc_texts)
    back = pd.read_csv(io.BytesIO(shortlist_to_csv_bytes(df)), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns) == ["ID", "コメント", "年度", "地区", "テーマ", "メモ"]
    assert back["地区"].tolist() == ["北部", "南部", "北部"]
    bare = df[["comment_id", "text", "label", "note"]]
    assert any(t.startswith("テーマ：会議") for t in _paragraph_texts(shortlist_to_docx_bytes(bare)))
    assert list(pd.read_csv(io.BytesIO(shortlist_to_csv_bytes(bare)), encoding="utf-8-sig").columns) == \
        ["ID", "コメント", "テーマ", "メモ"]
    assert "- テーマ：会議" in shortlist_to_markdown(bare)
    assert attribute_text([("年度", "")]) == "年度：―"


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
    empty = pd.DataFrame(columns=["comment_id", "text", "label", "note", "連携の分類"])
    assert "（事例が選ばれていません）" in _paragraph_texts(shortlist_to_docx_bytes(empty))
    odd = pd.DataFrame([{"comment_id": "c1", "text": "制御文字\x0bを含む声", "label": "t", "note": "\x01",
                         "連携の分類": "行政×行政"}])
    assert "制御文字を含む声" in _paragraph_texts(shortlist_to_docx_bytes(odd))


# --------------------------------------------------------------------------- CSV


def test_csv_has_bom_and_round_trips_with_japanese_headers(shortlist):
    data = shortlist_to_csv_bytes(shortlist)
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns) == ["ID", "コメント", "連携の分類", "回答者", "テーマ", "メモ"]
    assert back["コメント"].tolist() == shortlist["text"].tolist()  # multi-line kept
    assert back["ID"].tolist() == shortlist["comment_id"].tolist()
    assert back["テーマ"].tolist() == shortlist["label"].tolist()
    assert back["連携の分類"].tolist() == shortlist["連携の分類"].tolist()
    assert back["メモ"].tolist() == ["導入に使う", "", "", "後半のグループワーク用", "メモにも <b>タグ</b>", ""]


@pytest.mark.parametrize("payload", FORMULAS)
def test_csv_never_lets_a_formula_run(payload):
    df = pd.DataFrame([{"comment_id": payload, "text": payload, "label": payload, "note": payload, "地区": payload}])
    back = pd.read_csv(io.BytesIO(shortlist_to_csv_bytes(df)), encoding="utf-8-sig", dtype=str)
    for col in back.columns:
        assert back[col].iloc[0] == "'" + payload, col


def test_missing_columns_raise():
    with pytest.raises(ValueError, match="label"):
        shortlist_to_csv_bytes(pd.DataFrame({"comment_id": ["c1"], "text": ["声"], "連携の分類": ["行政×行政"]}))


# --------------------------------------------------------------------------- Markdown


def _rendered(md: str) -> tuple[str, str]:
    """(html, visible text) as a CommonMark renderer with raw HTML, GFM tables and strikethrough shows it."""
    html = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(md)
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", html))
    return html, text


def test_markdown_shows_markup_literally(shortlist):
    md = shortlist_to_markdown(shortlist)
    html, text = _rendered(md)
    for tag in ("<script", "<b>", "<i>", "<em>", "<a ", "<code>", "<del>", "<s>", "<table", "<h3"):
        assert tag not in html, tag
    assert "href" not in html
    # the only bold text is our own prompts heading
    assert re.findall(r"<strong>(.*?)</strong>", html) == [PROMPTS_HEADING] * len(shortlist)
    for literal in ("**太字にしないで**", "<b>タグ</b>", "[リンク](javascript:alert(1))",
                    "<script>alert('x')</script>", "&amp;", ":red[赤]", "`code`", "_斜体_",
                    "~~取消~~", "| 表 |", "<i>テーマ</i> **名**", "メモにも <b>タグ</b>"):
        assert literal in text, literal
    # only our own headings: title + one per case (the hostile "# 見出し" stays text)
    assert html.count("<h1>") == 1 and html.count("<h2>") == len(shortlist)


@pytest.mark.parametrize("line", [
    "# 見出し", "## 二段目", "> 引用", "- 項目", "+ 項目", "* 項目", "1. 番号", "10) 番号", "---", "===", "***",
    "| a | b |", "`コード`", "**太字**", "__太字__", "*重要*", "_斜体_", "[リンク](http://x)", "![画像](http://x/i.png)",
    "<b>タグ</b>", "&amp; &lt;", "\\* バックスラッシュ", "~~取消~~", "<http://x>",
])
def test_md_escape_renders_literally(line):
    html, text = _rendered("前の行\n\n" + md_escape(line) + "\n")
    assert text.strip().splitlines()[-1] == line, html
    assert not re.search(r"<(h\d|blockquote|ul|ol|li|hr|code|strong|em|a|img|b|table|del)\b", html), html


@pytest.mark.parametrize("line", [
    "「＊重要＊」と書かれていた。", "行政内ではまだまだ、制度ありきの考え方が根強い。", "会議（月1回）で共有する。",
    "#タグのように見える語", "1.5倍に増えた", "-ハイフンで始まる行", "Ａ＆Ｂの連携、100%ではない！？",
])
def test_md_escape_leaves_ordinary_text_unchanged(line):
    assert md_escape(line) == line
    html, text = _rendered(md_escape(line))
    assert text.strip() == line and "<em>" not in html and "<strong>" not in html


def test_markdown_keeps_seed_comments_as_written(seed_comments):
    """Real comments without markup characters come out byte for byte, not backslash-peppered."""
    plain = seed_comments[~seed_comments["text"].str.contains(r"(?m)[\\`*_\[\]<&|~]|^\s*[-+=\d>#]", regex=True)].head(20)
    df = plain[["comment_id", "text", *ATTRS]].assign(label="縦割り", note="")
    md = shortlist_to_markdown(df)
    for text in plain["text"]:
        for line in [x.strip() for x in text.splitlines() if x.strip()]:
            assert line in md
    assert "\\" not in md.split("## 事例1", 1)[1]  # no escape at all in ordinary cases


def test_markdown_title_and_structure(shortlist):
    md = shortlist_to_markdown(shortlist, title="連携研修 第2回 #1")
    html, text = _rendered(md)
    assert md.startswith("# 連携研修 第2回 \\#1\n")
    assert "<h1>連携研修 第2回 #1</h1>" in html
    records = _records(shortlist)
    for i, (_, row) in enumerate(shortlist.iterrows(), start=1):
        assert f"## 事例{i}" in md
        assert meta_line(_pairs(row), row["label"]) in text
        for prompt in discussion_prompts(records, i - 1):
            assert prompt in text
    for quote in shortlist["text"].iloc[:4]:
        assert quote in text
    # the multi-line quote keeps its line breaks; no line of it turns into a list or a heading
    assert ("一行目の声です。<br />\n二行目も原文どおり。<br />\n-ハイフンで始まる行<br />\n# 見出しではない<br />\n"
            "1. 番号でもない") in html
    assert html.count("<blockquote>") == len(shortlist)
    assert html.count("<ol>") == len(shortlist)  # one list of prompts per case
    assert "メモ：導入に使う" in text and text.count("メモ：") == 3


def test_markdown_empty():
    empty = pd.DataFrame(columns=["comment_id", "text", "label"])
    md = shortlist_to_markdown(empty, title="")
    assert md.startswith("# 研修用の事例集") and "（事例が選ばれていません）" in md
