"""Exports of a trainer's shortlist: CSV for Excel, Markdown, and a Word handout.

The input is a shortlist table with the columns of :data:`SHORTLIST_COLUMNS`
(``comment_id``, ``text``, ``category``, ``role``, ``label`` = theme name, ``note`` = the
trainer's note, possibly empty or missing). Comment text is reproduced exactly as written:
nothing is summarised or interpreted, and in Markdown every markup character is escaped so a
comment containing ``**``, ``<b>``, ``<script>`` or ``[x](javascript:…)`` shows those characters.

No Streamlit here: the dashboard, notebooks and the command line share these functions.
"""

from __future__ import annotations

import io
import re

import pandas as pd

SHORTLIST_COLUMNS: tuple[str, ...] = ("comment_id", "text", "category", "role", "label", "note")

#: Column headers of the CSV download, in the order of :data:`SHORTLIST_COLUMNS`.
CSV_HEADERS: dict[str, str] = {
    "comment_id": "ID",
    "text": "コメント",
    "category": "連携の分類",
    "role": "回答者",
    "label": "テーマ",
    "note": "メモ",
}

DEFAULT_TITLE = "研修用の事例集"

#: Open questions for any quote; rotated so neighbouring cases do not repeat the same one.
DISCUSSION_QUESTIONS: tuple[str, ...] = (
    "この場面で、あなたの組織なら最初に誰に声をかけますか？",
    "この声の背景には、どんな事情や制約がありそうですか？",
    "相手の立場から見ると、この場面はどう見えているでしょうか？",
    "似た経験はありますか？そのとき、何が助けになりましたか？",
    "明日からできる小さな一歩は何でしょうか？",
)

#: Questions tailored to the four partnership categories of the seed survey; they lead the
#: rotation for quotes of that category (other categories use the generic questions only).
CATEGORY_QUESTIONS: dict[str, tuple[str, ...]] = {
    "行政×行政": ("庁内の別の部署にこの相談を持ち込むとしたら、どんな言葉で頼みますか？",),
    "行政×専門機関": ("行政と専門機関、それぞれの立場から見ると、この場面はどう違って見えるでしょうか？",),
    "専門機関×専門機関": ("この場面で、機関どうしの役割の重なりや隙間はどこにありそうですか？",),
    "行政・専門機関×地域": ("地域の住民や団体の側から見ると、この場面はどう見えているでしょうか？",),
}

INTRO = (
    "この資料は、福祉行政の連携をめぐる「もやもや」について寄せられた実際の声から、"
    "研修で話し合うための事例を選んだものです。コメントは原文のまま掲載しています。"
    "正解を探すのではなく、まず一人で考え、そのあとグループで「自分の組織ならどうするか」を"
    "出し合ってください。"
)

#: East-Asian font for the Word handout. Word on Windows and macOS ships 游ゴシック; other
#: viewers substitute their own Japanese font (e.g. Noto Sans CJK JP) for a missing name.
EAST_ASIAN_FONT = "游ゴシック"

_NOTE_LINES = 3  # ruled lines left under each question for participants to write on


# --------------------------------------------------------------------------- shared helpers


def _cell(value: object) -> str:
    """A table value as display text; missing values (None / NaN / NA) become ''."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):  # list-like values: not a missing scalar
        pass
    return str(value)


def _records(df: pd.DataFrame) -> list[dict[str, str]]:
    """Rows of ``df`` as dicts of strings over :data:`SHORTLIST_COLUMNS` (``note`` optional)."""
    missing = [c for c in SHORTLIST_COLUMNS if c != "note" and c not in df.columns]
    if missing:
        raise ValueError(f"shortlist is missing columns: {missing}")
    out = []
    for row in df.to_dict("records"):
        out.append({c: _cell(row.get(c)) for c in SHORTLIST_COLUMNS})
    return out


def discussion_question(index: int, category: str | None = None) -> str:
    """The open question for the ``index``-th (0-based) case of a handout.

    Category-tailored questions (:data:`CATEGORY_QUESTIONS`) come first in the rotation for
    their category, followed by the generic :data:`DISCUSSION_QUESTIONS`.
    """
    pool = CATEGORY_QUESTIONS.get(category or "", ()) + DISCUSSION_QUESTIONS
    return pool[index % len(pool)]


def meta_line(category: str, role: str, label: str) -> str:
    """``分類：… ／ 回答者：… ／ テーマ：…`` (empty values shown as ―)."""
    return f"分類：{category or '―'} ／ 回答者：{role or '―'} ／ テーマ：{label or '―'}"


# --------------------------------------------------------------------------- CSV

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse_formula(text: str) -> str:
    """Excel evaluates a cell starting with = + - @ as a formula (``-連携`` shows #NAME?).

    A leading apostrophe makes Excel show the text as typed; this is the usual CSV-injection
    guard and only touches cells that would otherwise not display as written.
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def shortlist_to_csv_bytes(df: pd.DataFrame) -> bytes:
    """The shortlist as CSV bytes for Excel: UTF-8 with BOM, CRLF, Japanese headers.

    Columns: ID, コメント, 連携の分類, 回答者, テーマ, メモ. Cells that Excel would read as a
    formula get a leading apostrophe (see :func:`_defuse_formula`).
    """
    rows = _records(df)
    table = pd.DataFrame(
        [[_defuse_formula(r[c]) for c in SHORTLIST_COLUMNS] for r in rows],
        columns=[CSV_HEADERS[c] for c in SHORTLIST_COLUMNS],
    )
    buf = io.StringIO()
    table.to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue().encode("utf-8-sig")


# --------------------------------------------------------------------------- Markdown

# CommonMark lets any ASCII punctuation be backslash-escaped; escaping all of it is simpler and
# safer than reasoning about which character starts which construct (incl. HTML, autolinks,
# GFM tables / strikethrough and Streamlit's :colour[] directives).
_MD_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


def md_escape(text: str) -> str:
    """Backslash-escape every ASCII punctuation character so ``text`` renders literally."""
    return _MD_PUNCT.sub(r"\\\1", text)


def _md_lines(text: str) -> list[str]:
    """Escaped lines of a possibly multi-line value (blank lines dropped to keep blocks whole)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [md_escape(line.strip()) for line in lines if line.strip()]


def shortlist_to_markdown(df: pd.DataFrame, title: str = DEFAULT_TITLE) -> str:
    """The shortlist as a Markdown handout.

    One numbered section per quote: the quote as a block quote (line breaks kept), a line with
    分類・回答者・テーマ, the trainer's note when present, and an open discussion question.
    All values coming from the data are escaped.
    """
    rows = _records(df)
    out = [f"# {md_escape(title)}", "", INTRO, ""]
    if not rows:
        out += ["（事例が選ばれていません）", ""]
    for i, r in enumerate(rows):
        out.append(f"## 事例{i + 1}")
        out.append("")
        quote = _md_lines(r["text"]) or ["（本文なし）"]
        # A hard break ("  " at line end) keeps the respondent's line breaks inside the quote.
        out += ["> " + line + ("  " if j < len(quote) - 1 else "") for j, line in enumerate(quote)]
        out.append("")
        out.append(
            "- " + meta_line(*(md_escape(r[c]) for c in ("category", "role", "label")))
        )
        if r["comment_id"]:
            out.append(f"- ID：{md_escape(r['comment_id'])}")
        note = _md_lines(r["note"])
        if note:
            out.append("- メモ：" + " ".join(note))
        out.append(f"- 問い：{discussion_question(i, r['category'])}")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- Word (.docx)

# XML 1.0 forbids most C0 controls; python-docx raises on them, so they are dropped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _docx_text(text: str) -> str:
    return _XML_INVALID.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _set_east_asian_font(element, font: str) -> None:
    """Set ``w:rFonts/@w:eastAsia`` on a style or run element, dropping theme-font overrides.

    Heading styles name theme fonts (``w:eastAsiaTheme``), which win over ``w:eastAsia``; they
    are removed so the explicit name applies.
    """
    from docx.oxml.ns import qn

    rpr = element.get_or_add_rPr()
    rfonts = rpr.get_or_add_rFonts()
    rfonts.set(qn("w:eastAsia"), font)
    for attr in ("w:eastAsiaTheme", "w:asciiTheme", "w:hAnsiTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)


def _set_language(style, lang: str = "ja-JP") -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rpr = style.element.get_or_add_rPr()
    el = rpr.find(qn("w:lang"))
    if el is None:
        el = OxmlElement("w:lang")
        rpr.append(el)
    el.set(qn("w:eastAsia"), lang)


def _border(paragraph, side: str, color: str = "999999", size: int = 6, space: int = 4) -> None:
    """Add a single border line on one side ('left', 'bottom', …) of a paragraph."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    ppr = paragraph._p.get_or_add_pPr()
    bdr = ppr.find(qn("w:pBdr"))
    if bdr is None:
        bdr = OxmlElement("w:pBdr")
        ppr.append(bdr)
    line = OxmlElement(f"w:{side}")
    line.set(qn("w:val"), "single")
    line.set(qn("w:sz"), str(size))
    line.set(qn("w:space"), str(space))
    line.set(qn("w:color"), color)
    bdr.append(line)


def shortlist_to_docx_bytes(
    df: pd.DataFrame, title: str = DEFAULT_TITLE, east_asian_font: str = EAST_ASIAN_FONT
) -> bytes:
    """The shortlist as a Word workshop handout (.docx bytes).

    Layout: title, a short Japanese introduction, then per quote a heading ``事例N``, the quote
    as one plain run in its own paragraph (exactly as written), a line with 分類・回答者・テーマ,
    the trainer's note if any, an open discussion question (:func:`discussion_question`) and
    ruled lines to write on. Styles carry ``east_asian_font`` so Japanese renders in Word.
    """
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt, RGBColor

    rows = _records(df)
    doc = Document()
    for style in doc.styles:
        if style.type in (WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER):
            _set_east_asian_font(style.element, east_asian_font)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    _set_language(normal)

    doc.core_properties.title = _docx_text(title)
    doc.add_heading(_docx_text(title), level=0)
    doc.add_paragraph(INTRO)
    if not rows:
        doc.add_paragraph("（事例が選ばれていません）")

    grey = RGBColor(0x55, 0x55, 0x55)
    for i, r in enumerate(rows):
        heading = doc.add_heading(f"事例{i + 1}", level=1)
        heading.paragraph_format.keep_with_next = True

        quote = doc.add_paragraph()
        quote.add_run(_docx_text(r["text"]))
        quote.paragraph_format.left_indent = Pt(12)
        quote.paragraph_format.space_after = Pt(6)
        quote.paragraph_format.keep_with_next = True
        _border(quote, "left", color="888888", size=12, space=8)

        meta = doc.add_paragraph()
        run = meta.add_run(meta_line(*(_docx_text(r[c]) for c in ("category", "role", "label"))))
        run.font.size = Pt(9)
        run.font.color.rgb = grey
        if r["comment_id"]:
            idrun = meta.add_run(f"（ID：{_docx_text(r['comment_id'])}）")
            idrun.font.size = Pt(9)
            idrun.font.color.rgb = grey

        if r["note"].strip():
            note = doc.add_paragraph()
            note.add_run("メモ：").bold = True
            note.add_run(_docx_text(r["note"]))

        question = doc.add_paragraph()
        question.add_run("問い：").bold = True
        question.add_run(discussion_question(i, r["category"]))
        question.paragraph_format.space_before = Pt(6)

        for _ in range(_NOTE_LINES):
            line = doc.add_paragraph()
            line.paragraph_format.space_before = Pt(14)
            _border(line, "bottom", color="BBBBBB", size=4, space=1)

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
