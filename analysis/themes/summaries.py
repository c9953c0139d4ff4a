"""One-line theme summaries, extractive: a clause quoted verbatim, never generated text.

For each theme, the comments closest to its centre are cut into readable clauses (sentences end at
。！？; a sentence longer than ``max_chars`` is cut at 、 and neighbouring pieces are joined back
while they fit), and the clause closest to the theme's centre wins: cosine in the run's own space
when ``encode`` is given, else against the lexical centre (:mod:`analysis.themes.centres`). A clause that
contains the theme's name gets +0.15 and a whole sentence +0.05 (a cut at 、 can read unfinished).
Ties: clause text (code-point order), so row order never matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from ..schema import normalize_text
from ..text.tokens import SudachiTokenizer, default_tokenizer, tokenize_all
from .centres import (
    NOISE,
    Encode,
    centre,
    check_inputs,
    encode_cos,
    idf_weights,
    lexical_centre,
    lexical_cos,
    member_weights,
)

if TYPE_CHECKING:  # names are made first; a summary may quote the name's own clause
    from .naming import ThemeName

__all__ = ["ThemeSummary", "summarize_themes", "clauses"]


@dataclass(frozen=True)
class ThemeSummary:
    """A one-line summary: a clause quoted verbatim from ``texts[row][start:end]``."""

    label: int
    text: str
    row: int
    start: int
    end: int
    score: float
    n_comments: int


NAME_BONUS = 0.15
SENTENCE_BONUS = 0.05
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*")
_COMMA = re.compile(r"[、，,]")


def clauses(text: str, min_chars: int = 10, max_chars: int = 70) -> list[tuple[int, int]]:
    """Readable clauses of ``text`` as (start, end) spans of the original string.

    Sentences end at 。！？ (kept in the clause); a sentence longer than ``max_chars`` is cut at
    、 into pieces, consecutive pieces joined back while they fit. Spans shorter than
    ``min_chars`` (after trimming spaces) are dropped unless the text has nothing longer.
    """
    spans: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(text):
        s, e = m.span()
        if e - s <= max_chars:
            spans.append((s, e))
            continue
        cuts = [s] + [x.end() for x in _COMMA.finditer(text, s, e)] + [e]
        cuts = sorted(set(cuts))
        start = cuts[0]
        prev = start
        for cut in cuts[1:]:
            if cut - start > max_chars and prev > start:
                spans.append((start, prev))
                start = prev
            prev = cut
        spans.append((start, e))
    out = []
    for s, e in spans:
        while s < e and (text[s].isspace() or text[s] in "、，,"):
            s += 1
        while e > s and (text[e - 1].isspace() or text[e - 1] in "、，,"):
            e -= 1
        if e > s:
            out.append((s, e))
    long_ = [x for x in out if x[1] - x[0] >= min_chars]
    return long_ or out


def summarize_themes(
    texts: Sequence[str],
    labels: np.ndarray,
    embeddings: np.ndarray,
    tokenizer: SudachiTokenizer | None = None,
    encode: Encode | None = None,
    names: Mapping[int, "ThemeName"] | None = None,
    n_candidates: int = 6,
    min_chars: int = 10,
    max_chars: int = 70,
) -> dict[int, ThemeSummary]:
    """One verbatim clause per theme: the one closest to the theme's centre.

    Parameters
    ----------
    texts : the comments (n,), original text; the summary is a slice of one of them.
    labels : (n,) int; ``-1`` = noise (未分類), never summarised.
    embeddings : (n, d) L2-normalised comment embeddings.
    tokenizer : for the lexical fallback (content words of clauses).
    encode : as in :func:`name_themes`; ``None`` compares idf word vectors with a lexical centre.
    names : the themes' names; a clause that contains the name's phrases gets a bonus (0.15).
    n_candidates : clauses are taken from this many members closest to the centre.
    min_chars, max_chars : readable clause length (see :func:`clauses`).

    Returns
    -------
    ``{label: ThemeSummary}`` for every label >= 0 present; ``text == texts[row][start:end]``.
    """
    labels, embeddings = check_inputs(texts, labels, embeddings)
    tok = tokenizer if tokenizer is not None else default_tokenizer()
    classes = sorted({int(x) for x in labels if x != NOISE})
    word_sets: list[frozenset[str]] | None = None
    idf: dict[str, float] = {}
    if encode is None:
        # tokenize_all remembers the last corpus (the pipeline's keywords stage analysed it already).
        word_sets = [frozenset(t.key for t in doc) for doc in tokenize_all(tok, texts)]
        idf = idf_weights(word_sets)
    pending: list[tuple[int, int, int, int, str, np.ndarray, float]] = []
    lex: list[float] = []
    for c in classes:
        rows = np.flatnonzero(labels == c)
        mid = centre(embeddings, rows)
        closeness = embeddings[rows].astype(np.float64) @ mid
        # Ties by text, not row: the same members in another order give the same summary.
        order = sorted(range(len(rows)), key=lambda i: (-round(float(closeness[i]), 9), texts[rows[i]], int(rows[i])))[:n_candidates]
        lex_centre = None
        if word_sets is not None:
            lex_centre = lexical_centre(word_sets, rows, member_weights(embeddings, rows, mid), idf)
        name_forms = _name_forms(names.get(c) if names else None)
        for i in order:
            r = int(rows[i])
            for s, e in clauses(texts[r], min_chars, max_chars):
                clause = texts[r][s:e]
                bonus = NAME_BONUS if any(f in normalize_text(clause) for f in name_forms) else 0.0
                if _whole_sentence(texts[r], s, e):
                    bonus += SENTENCE_BONUS  # a cut at 、 can read unfinished (…内容を受け)
                pending.append((c, r, s, e, clause, mid, bonus))
                if lex_centre is not None:
                    lex.append(lexical_cos([t.key for t in tok.content_words(clause)], lex_centre, idf))
    if encode is not None:
        cos = encode_cos(encode, [p[4] for p in pending], [p[5] for p in pending])
    else:
        cos = lex
    best: dict[int, tuple] = {}
    for (c, r, s, e, clause, _, bonus), v in zip(pending, cos):
        score = round(v + bonus, 6)
        key = (-score, clause, r, s)
        if c not in best or key < best[c][0]:
            best[c] = (key, r, s, e, clause, score)
    out: dict[int, ThemeSummary] = {}
    for c in classes:
        n_c = int((labels == c).sum())
        if c not in best:
            out[c] = ThemeSummary(c, "", -1, 0, 0, 0.0, n_c)
            continue
        _, r, s, e, clause, score = best[c]
        out[c] = ThemeSummary(c, clause, r, s, e, score, n_c)
    return out


def _whole_sentence(text: str, s: int, e: int) -> bool:
    """Is text[s:e] a whole sentence (it starts the text or follows 。！？ and ends one)?"""
    before = text[:s].rstrip()
    after = text[e:].lstrip()
    return (not before or before[-1] in "。！？!?") and (not after or text[e - 1] in "。！？!?")


def _name_forms(name) -> tuple[str, ...]:
    """The name's phrases (as written and as shown) to look for in a clause."""
    if name is None:
        return ()
    return tuple(f for f in (*name.evidence, name.topic or "", name.problem or "") if f)

