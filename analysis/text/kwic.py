"""Keyword in context (KWIC), like KH Coder's concordance view.

Matching is done on an NFKC-normalised, case-folded copy of each comment so that ｹｰｽ, ケース,
ＳＳＷ and ssw all match, but the returned left / word / right columns are slices of the ORIGINAL
``text``: what respondents wrote is shown unchanged (including characters such as ``<b>`` or
``**``; escaping is the renderer's job).
"""

from __future__ import annotations

import unicodedata
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["KWIC_COLUMNS", "ELLIPSIS", "kwic", "find_spans"]

#: Columns of a concordance; the comments' attribute columns follow.
KWIC_COLUMNS: tuple[str, ...] = ("comment_id", "left", "word", "right")
ELLIPSIS = "…"


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).casefold()


def _graphemes(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` that must be normalised together: a character plus the combining marks
    (including half-width voiced marks ﾞ ﾟ, which NFKC turns into combining ones) that follow it."""
    spans: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text):
            spans.append((start, i))
            break
        folded = unicodedata.normalize("NFKC", text[i])
        if folded and unicodedata.combining(folded[0]):
            continue
        spans.append((start, i))
        start = i
    return spans if text else []


def _folded_with_map(text: str) -> tuple[str, np.ndarray, np.ndarray]:
    """Folded text plus, for each folded character, the original span (start, end) it came from."""
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for s, e in _graphemes(text):
        f = _fold(text[s:e])
        parts.append(f)
        starts.extend([s] * len(f))
        ends.extend([e] * len(f))
    return "".join(parts), np.array(starts, dtype=int), np.array(ends, dtype=int)


def find_spans(text: str, word: str) -> list[tuple[int, int]]:
    """Non-overlapping occurrences of ``word`` in ``text`` as (start, end) offsets into the
    original ``text``, matched after NFKC normalisation and case folding.

    A match that starts or ends inside a character NFKC expands (e.g. 株 inside ㈱) covers the
    whole original character.
    """
    target = _fold(word)
    if not target.strip() or not text:
        return []
    if target not in _fold(text):  # cheap C-level pre-check before the per-character mapping
        return []
    folded, starts, ends = _folded_with_map(text)
    spans: list[tuple[int, int]] = []
    pos = folded.find(target)
    while pos != -1:
        s, e = int(starts[pos]), int(ends[pos + len(target) - 1])
        if not spans or s >= spans[-1][1]:
            spans.append((s, e))
        pos = folded.find(target, pos + len(target))
    return spans


def kwic(
    comments: pd.DataFrame,
    word: str,
    width: int = 20,
    ids: Sequence[str] | None = None,
    index=None,
) -> pd.DataFrame:
    """Every occurrence of ``word`` in the comments with its left and right context.

    Parameters
    ----------
    comments : comment table (comment_id, text and attribute columns).
    word : the search word; full-width/half-width and Latin case variants match. Empty or
        whitespace-only gives an empty table.
    width : characters of context on each side. ``left`` holds the ``width`` characters just
        before the match (fewer at the start of a comment) and ``right`` the ``width`` after it;
        where the context was cut, ``…`` is added on the cut side (outside the ``width``).
    ids : restrict to these comment ids (rows keep the comment-table order).
    index : an :class:`analysis.text.textsearch.TextIndex` built on ``comments["text"]`` (same order):
        matching then also accepts spelling variants, readings and term aliases (たらいまわし finds
        たらい回し, 社協 finds 社会福祉協議会); without it, NFKC + case-folded substrings only.

    Returns
    -------
    DataFrame with :data:`KWIC_COLUMNS` and the attribute columns, one row per occurrence, in
    comment order then position.
    """
    from ..schema import attributes_of

    attrs = attributes_of(comments)
    cols = list(KWIC_COLUMNS) + attrs
    if word is None or not str(word).strip():
        return pd.DataFrame(columns=cols)
    width = max(0, int(width))
    rows: list[dict[str, str]] = []
    keep = np.ones(len(comments), dtype=bool)
    if ids is not None:
        wanted = {str(i) for i in ids}
        keep = comments["comment_id"].astype(str).isin(wanted).to_numpy()
    if index is not None and len(index) != len(comments):
        raise ValueError("index must be built on the same comments, in the same order")
    found = index.matches(word) if index is not None else None
    for pos, rec in enumerate(comments.to_dict("records")):
        if not keep[pos]:
            continue
        text = str(rec["text"])
        for s, e in (found.get(pos, ()) if found is not None else find_spans(text, word)):
            ls = max(0, s - width)
            re_ = min(len(text), e + width)
            row = {
                "comment_id": str(rec["comment_id"]),
                "left": (ELLIPSIS if ls > 0 else "") + text[ls:s],
                "word": text[s:e],
                "right": text[e:re_] + (ELLIPSIS if re_ < len(text) else ""),
            }
            row.update({a: rec[a] for a in attrs})
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)
