"""Safe HTML / Markdown building for comment text (pure functions, no Streamlit calls).

Comment text and theme labels come from survey respondents and users. They are shown through
``st.html`` only after :func:`html.escape`; markup we add ourselves (badges, highlight marks) is
wrapped around already-escaped pieces, never the other way round. Where a label must go into
Streamlit Markdown (headings, widget labels), :func:`md_escape` neutralises Markdown syntax.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping

from analysis.schema import VALUE_COLORS, value_color_map

EMPHASIS_STYLE = "background:#fff1a8;padding:0 1px;border-radius:2px;"
QUERY_STYLE = "background:#cfe3ff;padding:0 1px;border-radius:2px;"

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:=&^\"'])")


def esc(text: object) -> str:
    """HTML-escape any value (``None`` becomes an empty string)."""
    return html.escape("" if text is None else str(text), quote=True)


def md_escape(text: object) -> str:
    """Backslash-escape Markdown / Streamlit directive characters so ``text`` shows literally.

    Colons are escaped too, so ``:red[x]`` and ``:smile:`` are not turned into colours or emoji.
    Line breaks become spaces (a label is one line).
    """
    return _MD_SPECIAL.sub(r"\\\1", one_line(text))


def one_line(text: object) -> str:
    """An option of a select box or multiselect: shown as plain text by Streamlit (never Markdown),
    so nothing is escaped; line breaks become spaces."""
    return ("" if text is None else str(text)).replace("\r", " ").replace("\n", " ")


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).casefold()


def _spans(text: str, needle: str) -> list[tuple[int, int]]:
    """Occurrences of ``needle`` in ``text``; case / width-insensitive when lengths allow."""
    if not needle:
        return []
    out = []
    hay, pat = text, needle
    folded = _fold(text)
    if len(folded) == len(text):  # NFKC kept the length, so offsets line up
        hay, pat = folded, _fold(needle)
    start = hay.find(pat)
    while start != -1 and pat:
        out.append((start, start + len(pat)))
        start = hay.find(pat, start + len(pat))
    return out


def highlight_html(
    text: str,
    emphasis: Iterable[str] = (),
    query_words: Iterable[str] = (),
    spans: Iterable[tuple[int, int]] = (),
) -> str:
    """Escaped ``text`` with the editors' emphasised phrases and search words marked.

    Marking is done per character on the raw text and each run of characters is escaped on its
    own, so a phrase or query containing ``<`` or ``&`` cannot break the markup. Line breaks
    become ``<br>``.
    """
    text = "" if text is None else str(text)
    flags = [0] * len(text)
    for phrase in emphasis or ():
        for s, e in _spans(text, str(phrase).strip()):
            for i in range(s, e):
                flags[i] |= 1
    for word in query_words or ():
        for s, e in _spans(text, str(word).strip()):
            for i in range(s, e):
                flags[i] |= 2
    for s, e in spans or ():
        for i in range(max(0, s), min(len(text), e)):
            flags[i] |= 2
    parts: list[str] = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and flags[j] == flags[i]:
            j += 1
        chunk = esc(text[i:j]).replace("\r\n", "\n").replace("\n", "<br>")
        f = flags[i]
        if f & 1:
            chunk = f'<mark style="{EMPHASIS_STYLE}">{chunk}</mark>'
        if f & 2:
            chunk = f'<span style="{QUERY_STYLE}">{chunk}</span>'
        parts.append(chunk)
        i = j
    return "".join(parts)


def badge_html(value: str, color: str | None = None, outline: bool = False, title: str | None = None) -> str:
    """A small rounded label; colour defaults to the value's colour (:func:`analysis.schema.value_color_map`).

    ``title`` (e.g. the attribute's name) becomes the tooltip.
    """
    color = color or VALUE_COLORS.get(value) or value_color_map([value])[value]
    if outline:
        style = f"border:1px solid {color};color:{color};background:#fff;"
    else:
        style = f"background:{color};color:#fff;border:1px solid {color};"
    tip = f' title="{esc(title)}"' if title else ""
    return (
        f'<span{tip} style="{style}display:inline-block;border-radius:10px;padding:0 8px;'
        f'margin:0 4px 2px 0;font-size:0.78rem;line-height:1.5;">{esc(value)}</span>'
    )


def narrow_cards_html(cards: Iterable[tuple[str, Iterable[tuple[str, str]]]]) -> str:
    """Cards that stand in for a wide table on narrow screens (``mm-narrow-only``, ui/look.py): each
    card is (title, [(line, css), ...]); titles and lines are plain text, escaped here."""
    parts = ['<div class="mm-narrow-only">']
    for title, lines in cards:
        parts.append('<div style="border:1px solid #e3e3e3;border-radius:6px;padding:6px 10px;margin:0 0 6px 0;">'
                     f'<div style="font-weight:600">{esc(title)}</div>'
                     + "".join(f'<div style="{css}">{esc(line)}</div>' for line, css in lines) + "</div>")
    parts.append("</div>")
    return "".join(parts)


def quote_card_html(
    text: str,
    attributes: Iterable[tuple[str, str]] = (),
    emphasis: Iterable[str] = (),
    theme: str | None = None,
    comment_id: str | None = None,
    extra: str | None = None,
    query_words: Iterable[str] = (),
    spans: Iterable[tuple[int, int]] = (),
    colors: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """One quote as an HTML card: a badge per attribute (name, value), the theme, the text, the id.

    The first attribute's value is a filled badge in its colour (and colours the card's edge), the
    others outlined. ``extra`` is appended to the meta line as plain text (escaped), e.g.
    ``類似度 0.82``. ``spans`` are extra character ranges to highlight (forgiving search matches).
    ``colors`` maps attribute → value → colour (the run's, as its charts use them).
    """
    attrs = [(str(n), str(v)) for n, v in attributes if v not in (None, "")]
    colors = colors or {}
    badges = [badge_html(v, color=colors.get(n, {}).get(v), outline=i > 0, title=n) for i, (n, v) in enumerate(attrs)]
    edge = (colors.get(attrs[0][0], {}).get(attrs[0][1]) or VALUE_COLORS.get(attrs[0][1])) if attrs else None
    if theme:
        badges.append(
            '<span style="font-size:0.78rem;color:#555;margin-left:2px;">テーマ: '
            f"{esc(theme)}</span>"
        )
    meta = " ・ ".join(esc(x) for x in (comment_id, extra) if x)
    body = highlight_html(text, emphasis, query_words, spans)
    return (
        '<div style="border:1px solid #e3e3e3;border-left:4px solid '
        f'{edge or "#999"};border-radius:6px;padding:8px 12px;'
        'margin:0 0 8px 0;background:#fff;">'
        f'<div>{"".join(badges)}</div>'
        f'<div style="font-size:0.97rem;line-height:1.7;margin:4px 0;white-space:normal;'
        f'overflow-wrap:anywhere;">{body}</div>'
        f'<div style="font-size:0.72rem;color:#888;">{meta}</div>'
        "</div>"
    )


def query_words(query: str | None) -> list[str]:
    """Split a search box value on (full- or half-width) spaces."""
    return [w for w in re.split(r"[\s\u3000]+", query or "") if w]


def matches_query(text: str, words: Iterable[str]) -> bool:
    """True when every word occurs in ``text`` (NFKC, case-insensitive)."""
    t = _fold(text or "")
    return all(_fold(w) in t for w in words)
