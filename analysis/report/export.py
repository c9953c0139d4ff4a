"""Exports of a trainer's shortlist: CSV for Excel, Markdown, and a Word handout (A4).

The input is a shortlist table as :func:`analysis.store.shortlists.items_frame` returns it: the columns
:data:`CORE_COLUMNS` (``comment_id``, ``text``, ``label`` = theme name, ``note`` = the trainer's
note, possibly empty or missing) followed by any number of attribute columns (連携の分類, 回答者,
年度, 地区 …), named as the run names them. Attributes are shown as text
(「連携の分類：行政×行政 ／ 回答者：行政職員」).

Comment text is reproduced exactly as written: nothing is summarised or interpreted. The discussion
prompts under each case are built by this tool from the theme and from the contrast between the
values of the first attribute, and are labelled as such (:data:`PROMPTS_HEADING`). Every CSV goes
through :mod:`analysis.store.cells`, so no cell runs as a formula; Markdown escapes only what would become
markup, so ordinary Japanese text stays as it is.

No Streamlit here: the dashboard, notebooks and the command line share these functions.
"""

from __future__ import annotations

import io
import re
from typing import Sequence

import pandas as pd

from ..schema import NOISE_LABEL
from ..store.cells import write_csv_bytes

#: Columns every shortlist table has; any other column is an attribute.
CORE_COLUMNS: tuple[str, ...] = ("comment_id", "text", "label", "note")
#: CSV headers of the core columns (attribute columns keep their own names, between テーマ's neighbours).
CSV_HEADERS: dict[str, str] = {"comment_id": "ID", "text": "コメント", "label": "テーマ", "note": "メモ"}

DEFAULT_TITLE = "研修用の事例集"
PROMPTS_HEADING = "話し合いの問い（このツールが付け加えた例）"

#: Open questions for any quote; rotated so neighbouring cases do not repeat the same one.
DISCUSSION_QUESTIONS: tuple[str, ...] = (
    "この場面で、あなたの組織なら最初に誰に声をかけますか？",
    "この声の背景には、どんな事情や制約がありそうですか？",
    "相手の立場から見ると、この場面はどう見えているでしょうか？",
    "似た経験はありますか？そのとき、何が助けになりましたか？",
    "明日からできる小さな一歩は何でしょうか？",
)

INTRO = (
    "この資料は、福祉行政の連携をめぐる「もやもや」について寄せられた実際の声から、"
    "研修で話し合うための事例を選んだものです。コメントは原文のまま掲載しています。"
    "各事例の下の「話し合いの問い」は、テーマや分類をもとにこのツールが付け加えた例で、回答者の言葉ではありません。"
    "正解を探すのではなく、まず一人で考え、そのあとグループで「自分の組織ならどうするか」を出し合ってください。"
)

#: East-Asian font for the Word handout. Word on Windows and macOS ships 游ゴシック; other
#: viewers substitute their own Japanese font (e.g. Noto Sans CJK JP) for a missing name.
EAST_ASIAN_FONT = "游ゴシック"
#: A4 portrait and its margins, in millimetres.
PAGE_MM = (210, 297)
MARGIN_MM = {"top": 20, "bottom": 20, "left": 20, "right": 20}

_NOTE_LINES = 3  # ruled lines left under the prompts for participants to write on


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


def attribute_columns(df: pd.DataFrame) -> list[str]:
    """The attribute columns of a shortlist table: every column but :data:`CORE_COLUMNS`, in order."""
    return [c for c in df.columns if c not in CORE_COLUMNS and not str(c).startswith("_")]


def _records(df: pd.DataFrame, attributes: Sequence[str] | None = None) -> tuple[list[dict], list[str]]:
    """Rows of ``df`` as dicts of strings (core columns + ``attrs``: [(name, value)]) and the attributes."""
    missing = [c for c in CORE_COLUMNS if c != "note" and c not in df.columns]
    if missing:
        raise ValueError(f"shortlist is missing columns: {missing}")
    attrs = list(attributes) if attributes is not None else attribute_columns(df)
    out = []
    for row in df.to_dict("records"):
        rec = {c: _cell(row.get(c)) for c in CORE_COLUMNS}
        rec["attrs"] = [(str(a), _cell(row.get(a))) for a in attrs]
        out.append(rec)
    return out, [str(a) for a in attrs]


def attribute_text(pairs: Sequence[tuple[str, str]]) -> str:
    """「連携の分類：行政×行政 ／ 回答者：行政職員」 (an empty value is shown as ―)."""
    return " ／ ".join(f"{a}：{v or '―'}" for a, v in pairs)


def meta_line(pairs: Sequence[tuple[str, str]], label: str) -> str:
    """The attributes as text followed by 「テーマ：…」."""
    theme = f"テーマ：{label or '―'}"
    return f"{attribute_text(pairs)} ／ {theme}" if pairs else theme


def discussion_question(index: int) -> str:
    """The generic open question for the ``index``-th (0-based) case (rotates through the list)."""
    return DISCUSSION_QUESTIONS[index % len(DISCUSSION_QUESTIONS)]


def discussion_prompts(records: Sequence[dict], index: int) -> list[str]:
    """Prompts for case ``index`` of a handout, built from its theme and the contrast between values.

    1. the theme: how does 「<theme>」 show in your workplace (not for 未分類 or an unnamed theme);
    2. the contrast on the first attribute: another case of the same theme from another value, else
       another value present in the shortlist; none when every case has the same value;
    3. a generic open question, rotating (:func:`discussion_question`).
    """
    rec = records[index]
    label = rec["label"].strip()
    out = []
    if label and label != NOISE_LABEL:
        out.append(f"「{label}」というテーマにまとめられた声です。あなたの職場では、どんな場面で同じことが起きていますか？")
    if rec["attrs"]:
        attr, value = rec["attrs"][0]
        if value:
            same_theme = [(j, r["attrs"][0][1]) for j, r in enumerate(records)
                          if j != index and r["label"] == rec["label"] and label and r["attrs"] and r["attrs"][0][1]
                          and r["attrs"][0][1] != value]
            others = list(dict.fromkeys(r["attrs"][0][1] for r in records
                                        if r["attrs"] and r["attrs"][0][1] and r["attrs"][0][1] != value))
            if same_theme:
                j, other = same_theme[0]
                out.append(f"同じテーマには、{attr}が「{other}」の声（事例{j + 1}）もあります。「{value}」のこの声と読み比べると、"
                           "立場による見え方の違いはどこにありそうですか？")
            elif others:
                other = others[index % len(others)]
                out.append(f"この声は{attr}が「{value}」のものです。「{other}」の場合とくらべると、何が同じで、何が違いそうですか？")
    out.append(discussion_question(index))
    return out


def _csv_header(attr: str) -> str:
    return f"{attr}（属性）" if attr in CSV_HEADERS.values() else attr


# --------------------------------------------------------------------------- CSV


def shortlist_to_csv_bytes(df: pd.DataFrame, attributes: Sequence[str] | None = None) -> bytes:
    """The shortlist as CSV bytes for Excel: UTF-8 with BOM, CRLF, Japanese headers.

    Columns: ID, コメント, the attributes (their own names), テーマ, メモ. Written through
    :func:`analysis.store.cells.write_csv_bytes`, so a cell Excel would run as a formula
    (``=…``, ``+…``, ``-…``, ``@…``) gets a leading apostrophe and shows as written.
    """
    rows, attrs = _records(df, attributes)
    headers = ["ID", "コメント", *(_csv_header(a) for a in attrs), "テーマ", "メモ"]
    table = pd.DataFrame(
        [[r["comment_id"], r["text"], *(v for _, v in r["attrs"]), r["label"], r["note"]] for r in rows],
        columns=headers, dtype=object,
    )
    return write_csv_bytes(table)


# --------------------------------------------------------------------------- Markdown

# Only what CommonMark (and GitHub's extensions) would turn into markup is escaped, so Japanese
# text reads as written: inline, the characters that start code, emphasis, links, raw HTML,
# entities, tables and strikethrough; at a line start, headings, block quotes, list markers,
# thematic breaks and setext underlines.
_MD_INLINE = re.compile(r"([\\`*_\[\]<&|~])")
_MD_LINE_START = (
    (re.compile(r"^(#{1,6})(?=[ \t]|$)"), r"\\\1"),  # ATX heading
    (re.compile(r"^>"), r"\\>"),  # block quote
    (re.compile(r"^([-+])(?=[ \t]|$)"), r"\\\1"),  # bullet list item ("*" is escaped inline)
    (re.compile(r"^(\d{1,9})([.)])(?=[ \t]|$)"), r"\1\\\2"),  # ordered list item
    (re.compile(r"^([=-])(?=[=-]*[ \t]*$)"), r"\\\1"),  # setext underline / thematic break (=== or ---)
)


def md_escape(text: str, line_start: bool = True) -> str:
    """``text`` (one line) with a backslash before each character that would become Markdown markup.

    Ordinary Japanese text, full-width symbols (＊重要＊) and punctuation that cannot start markup
    stay unchanged; ``*重要*`` becomes ``\\*重要\\*``. With ``line_start`` the rules for the start of
    a line (``#``, ``>``, ``-``/``+`` list markers, ``1.``, ``===``/``---``) apply too.
    """
    out = _MD_INLINE.sub(r"\\\1", text)
    if line_start:
        for pattern, repl in _MD_LINE_START:
            out = pattern.sub(repl, out, count=1)
    return out


def _md_heading(text: str) -> str:
    # A closing "#" run would be dropped from a heading: escape every "#" of heading text.
    return md_escape(text.replace("\n", " ").strip(), line_start=False).replace("#", "\\#")


def _lines(text: str) -> list[str]:
    """Non-blank lines of a possibly multi-line value, stripped (blank lines would split a block)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line.strip() for line in lines if line.strip()]


def shortlist_to_markdown(df: pd.DataFrame, title: str = DEFAULT_TITLE, attributes: Sequence[str] | None = None) -> str:
    """The shortlist as a Markdown handout titled ``title``.

    One numbered section per quote: the quote as a block quote (line breaks kept), a line with the
    attributes and the theme, the comment id, the trainer's note when present, and the prompts
    added by the tool under :data:`PROMPTS_HEADING`. Values from the data are escaped with
    :func:`md_escape`.
    """
    rows, _ = _records(df, attributes)
    out = [f"# {_md_heading(title) or DEFAULT_TITLE}", "", INTRO, ""]
    if not rows:
        out += ["（事例が選ばれていません）", ""]
    for i, r in enumerate(rows):
        out += [f"## 事例{i + 1}", ""]
        quote = [md_escape(line) for line in _lines(r["text"])] or ["（本文なし）"]
        # A hard break ("  " at line end) keeps the respondent's line breaks inside the quote.
        out += ["> " + line + ("  " if j < len(quote) - 1 else "") for j, line in enumerate(quote)]
        out.append("")
        pairs = [(md_escape(a, line_start=False), md_escape(v, line_start=False)) for a, v in r["attrs"]]
        out.append("- " + meta_line(pairs, md_escape(r["label"], line_start=False)))
        if r["comment_id"]:
            out.append(f"- ID：{md_escape(r['comment_id'], line_start=False)}")
        note = [md_escape(line, line_start=False) for line in _lines(r["note"])]
        if note:
            out.append("- メモ：" + " ".join(note))
        out += ["", f"**{PROMPTS_HEADING}**", ""]
        out += [f"{k}. {md_escape(p, line_start=False)}" for k, p in enumerate(discussion_prompts(rows, i), start=1)]
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


def _a4(doc) -> None:
    """Every section A4 portrait (python-docx's template is US Letter) with even margins."""
    from docx.enum.section import WD_ORIENT
    from docx.shared import Mm

    for section in doc.sections:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
        section.top_margin, section.bottom_margin = Mm(MARGIN_MM["top"]), Mm(MARGIN_MM["bottom"])
        section.left_margin, section.right_margin = Mm(MARGIN_MM["left"]), Mm(MARGIN_MM["right"])


def shortlist_to_docx_bytes(
    df: pd.DataFrame, title: str = DEFAULT_TITLE, east_asian_font: str = EAST_ASIAN_FONT,
    attributes: Sequence[str] | None = None,
) -> bytes:
    """The shortlist as a Word workshop handout (.docx bytes), A4 portrait.

    Layout: title, a short Japanese introduction, then per quote a heading ``事例N``, the quote as
    one plain run in its own paragraph (exactly as written), a line with the attributes, the theme
    and the id, the trainer's note if any, the prompts added by the tool under
    :data:`PROMPTS_HEADING` (:func:`discussion_prompts`) and ruled lines to write on. Styles carry
    ``east_asian_font`` so Japanese renders in Word.
    """
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt, RGBColor

    rows, _ = _records(df, attributes)
    doc = Document()
    _a4(doc)
    for style in doc.styles:
        if style.type in (WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER):
            _set_east_asian_font(style.element, east_asian_font)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    _set_language(normal)

    title = _docx_text(title).strip() or DEFAULT_TITLE
    doc.core_properties.title = title
    doc.add_heading(title, level=0)
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
        pairs = [(_docx_text(a), _docx_text(v)) for a, v in r["attrs"]]
        run = meta.add_run(meta_line(pairs, _docx_text(r["label"])))
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

        label = doc.add_paragraph()
        label.add_run(PROMPTS_HEADING).bold = True
        label.paragraph_format.space_before = Pt(6)
        label.paragraph_format.keep_with_next = True
        for k, prompt in enumerate(discussion_prompts(rows, i), start=1):
            p = doc.add_paragraph()
            p.add_run(f"問い{k}：").bold = True
            p.add_run(_docx_text(prompt))
            p.paragraph_format.left_indent = Pt(12)

        for _ in range(_NOTE_LINES):
            line = doc.add_paragraph()
            line.paragraph_format.space_before = Pt(14)
            _border(line, "bottom", color="BBBBBB", size=4, space=1)

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
