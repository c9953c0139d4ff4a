"""Candidate phrases for theme names, read off SudachiPy morphemes (no generation).

Three shapes are extracted from each comment, always from the comment's own words:

``noun``       a noun phrase with its compound kept whole: 重層的支援会議, 地域包括支援センター,
               plus its head-final parts (支援会議 from 重層的支援会議: Japanese compounds put the
               head last, so 支援会議 *is* a 重層的支援会議 but 専門 is not a 専門機関).
``noun_no``    「N の N」 (also との / への / からの): 縦割りの意識, 制度の狭間.
``predicate``  noun phrase + particle + predicate, negation kept and the ending normalised:
               「情報共有がうまくできていませんでした」 -> 情報共有がうまくできていない,
               「参加を拒む部署」 -> 参加を拒む, 「役割分担が曖昧であったり」 -> 役割分担が曖昧,
               「丸投げになっている」 -> 丸投げになる, 「決まりません」 -> 決まらない.
               Endings that say something went wrong are kept and flagged ``trouble``: てしまう
               (「止まってしまう」), にくい / づらい / かねる (「相談しづらい」), すぎる, てほしい.
``bare``       a predicate without its subject, only when negated or flagged ``trouble``:
               「思いが引き継がれない」 -> 引き継がれない, 「直接把握出来ない」 -> 把握出来ない,
               「関わりにくいところ」 -> 関わりにくい. Respondents rarely give the same subject twice;
               the same failing action (引き継ぐ, 把握) is what several comments share.

Each occurrence carries a grouping ``key`` built from normalised forms (so 取組 and 取り組み, or
できない and できていない, are one candidate) and its span in the analysed (NFKC) text, so every
candidate can be traced back to the words a respondent wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..text.tokens import Morpheme
from .predicates import (
    BARE_MARKS,
    COMPOUND_HEADS,
    Predicate,
    bare_head,
    render_predicate,
)

__all__ = ["PhraseOcc", "Predicate", "extract_phrases", "render_predicate"]  # the last two: analysis.themes.predicates

NOUN_MAX_CHARS = 16
PART_MAX_CHARS = 10  # each side of 「NのN」 and the subject of a predicate
PREDICATE_MAX_CHARS = 14

CASE_PARTICLES = frozenset({"が", "を", "に", "は", "も", "へ", "と"})
NO_CONNECTORS = frozenset({"と", "へ", "から"})  # + の: 地域との, 子どもへの, 行政からの
# Suffixes that never name anything themselves: 民生委員等 -> 民生委員, 住民さん -> 住民, 部署ごと -> 部署.
JUNK_SUFFIX = frozenset({"等", "など", "ら", "達", "たち", "さん", "様", "方", "殿", "ごと", "毎"})


@dataclass(frozen=True)
class PhraseOcc:
    """One occurrence of a candidate phrase in one comment.

    kind : ``"noun"``, ``"noun_no"`` or ``"predicate"``.
    key : grouping key (normalised forms; for predicates also the negation flag).
    text : display form (the predicate's ending normalised; otherwise verbatim).
    start, end : span of the occurrence in the analysed (NFKC) text.
    nouns : content keys of the nouns (the topic words).
    words : content keys of every content word (nouns, predicate head, adverbs).
    negated : the predicate is negated (できない, 決まらない, 理解がない).
    trouble : the predicate ends in an ending that says the outcome is unwanted or hard (なってしまう,
        相談しづらい, 増やし過ぎる, 理解してほしい); see ``TROUBLE_*``.
    ascii : a word outside the terms list is written in Latin letters (etc, EX, CW).
    concrete : how much the nouns name a thing: 1.0 with a listed term or a compound of two or
        more nouns (地域住民, 支援方針), 0.75 for one plain noun, 0.5 for one noun that SudachiPy
        marks as usable as a verb (サ変可能: 開催, 把握, but also 組織, 意識), 0.25 for a quality
        (基本的, 閉鎖的, タイムリー).
    verbal : a one-noun phrase used as a verb here (開催する, 把握できない); callers use the share
        of such uses to tell action nouns (開催) from things (組織).
    """

    kind: str
    key: tuple
    text: str
    start: int
    end: int
    nouns: tuple[str, ...]
    words: tuple[str, ...]
    negated: bool = False
    ascii: bool = False
    concrete: float = 1.0
    verbal: bool = False
    trouble: bool = False



def _is_core_noun(m: Morpheme) -> bool:
    if m.term:
        return True
    p = m.pos
    return p[0] == "名詞" and p[1] in ("普通名詞", "固有名詞") and p[2] != "副詞可能" and m.content is not None


def _is_prefix(m: Morpheme) -> bool:
    return m.pos[0] == "接頭辞" and not m.term


def _is_suffix(m: Morpheme) -> bool:
    if m.term:
        return False
    if m.pos[0] == "接尾辞":
        # Adverbial suffixes (各機関とも, 三日おき) end a phrase rather than build a compound.
        return m.pos[1] in ("名詞的", "形状詞的") and m.pos[2] != "副詞可能"
    # One-kanji nouns dropped as stopwords (感, 者, 先) still belong to the compound they end:
    # 忌避感, 拒否感 must not be cut to 忌避, 拒否.
    return m.pos[0] == "名詞" and m.content is None and len(m.surface) == 1 and "\u4e00" <= m.surface <= "\u9fff"


def _key_parts(ms: Sequence[Morpheme], a: int, b: int) -> tuple[str, ...]:
    """Grouping key of a noun phrase: content keys, plus prefixes and bound suffixes as written
    (多機関 is not 機関, 委託先 is not 委託)."""
    out = []
    for k in range(a, b):
        m = ms[k]
        if m.content is not None and (m.term or m.pos[0] == "名詞"):
            out.append(m.content)
        elif m.term or _is_prefix(m) or _is_suffix(m):
            out.append("+" + m.surface)
    return tuple(out)


_LATIN = re.compile("[A-Za-z]")


def _has_latin(s: str) -> bool:
    return _LATIN.search(s) is not None


def _is_kana(s: str) -> bool:
    return all("\u3040" <= c <= "\u30ff" for c in s)


def _noun_runs(ms: Sequence[Morpheme]) -> list[tuple[int, int]]:
    """Maximal noun phrases as (first, end) morpheme indices: prefixes + nouns + suffixes."""
    runs: list[tuple[int, int]] = []
    start = -1
    for i in range(len(ms) + 1):
        m = ms[i] if i < len(ms) else None
        ok = m is not None and (_is_core_noun(m) or _is_prefix(m) or (_is_suffix(m) and start >= 0))
        if ok:
            if start < 0:
                start = i
            continue
        if start >= 0:
            a, b = start, i
            while a < b and _is_suffix(ms[a]):
                a += 1
            while b > a and (_is_prefix(ms[b - 1]) or (_is_suffix(ms[b - 1]) and ms[b - 1].surface in JUNK_SUFFIX)):
                b -= 1
            if any(_is_core_noun(ms[k]) for k in range(a, b)):
                runs.append((a, b))
            start = -1
    return runs


def _is_stop_head(ms: Sequence[Morpheme], k: int) -> bool:
    """A word too common to be a keyword (連携 in a survey about 連携) that still heads a telling
    「NのN」: 横の連携, 庁内の連携. Only right after 「Nの」, so it never forms a phrase alone."""
    if k >= len(ms):
        return False
    m = ms[k]
    return (m.content is None and not m.term and m.pos[0] == "名詞" and m.pos[1] == "普通名詞" and m.pos[2] != "副詞可能"
            and len(m.surface) >= 2 and not _is_kana(m.surface))


def _free_start(ms: Sequence[Morpheme], k: int) -> bool:
    """Can a head-final part of a compound start at morpheme ``k``? Not at bound forms such as
    づくり / ごと (kana-only) or one-kanji nouns such as 課 / 側 / 差 (unless a listed term)."""
    m = ms[k]
    if m.term:
        return True
    if _is_prefix(m):
        return k + 1 < len(ms) and _is_core_noun(ms[k + 1]) and _free_start(ms, k + 1)
    if not _is_core_noun(m):
        return False
    return len(m.surface) >= 2 and not _is_kana(m.surface)


def _span_text(ms: Sequence[Morpheme], a: int, b: int) -> str:
    return "".join(ms[k].surface for k in range(a, b))


def _nouns(ms: Sequence[Morpheme], a: int, b: int) -> tuple[str, ...]:
    return tuple(ms[k].content for k in range(a, b) if ms[k].content is not None and (ms[k].term or ms[k].pos[0] == "名詞"))


def _concrete(ms: Sequence[Morpheme], a: int, b: int) -> float:
    nouns = [ms[k] for k in range(a, b) if ms[k].term or (ms[k].pos[0] == "名詞" and ms[k].content is not None)]
    if ms[b - 1].pos[1] == "形状詞的" or (len(nouns) == 1 and nouns[0].pos[2] == "形状詞可能"):
        return 0.25  # 閉鎖的, 基本的, タイムリー: a quality, not who or what
    if any(m.term for m in nouns) or len(nouns) >= 2:
        return 1.0
    return 0.5 if nouns and nouns[0].pos[2].startswith("サ変") else 0.75


def _short_suffix(ms: Sequence[Morpheme], a: int, b: int, limit: int) -> int | None:
    """Start of the longest head-final part of run [a, b) that fits in ``limit`` characters."""
    for k in range(a, b):
        if (k == a or _free_start(ms, k)) and ms[k].end - ms[k].begin > 0 and ms[b - 1].end - ms[k].begin <= limit:
            return k
    return None



def extract_phrases(ms: Sequence[Morpheme]) -> list[PhraseOcc]:
    """Every candidate phrase occurrence in one comment's morphemes (see the module docstring).

    Parameters
    ----------
    ms : the comment's :class:`~analysis.text.tokens.Morpheme` list (terms merged).

    Returns
    -------
    Occurrences in text order (by start, then kind, then length), duplicates included: callers
    count comments, not occurrences.
    """
    out: list[PhraseOcc] = []
    # Spans are slices of the whole text (its morphemes cover it): one join instead of one per span.
    full = "".join(m.surface for m in ms)
    base = ms[0].begin if ms else 0
    latin = _has_latin(full) and any(not m.term and _has_latin(m.surface) for m in ms)

    def _span_text(ms, a, b):  # noqa: ANN001 - shadows the module helper with a faster slice
        return full[ms[a].begin - base : ms[b - 1].end - base]

    def _ascii(ms, a, b):  # noqa: ANN001 - most comments have no Latin letters at all
        return latin and any(not ms[k].term and _has_latin(ms[k].surface) for k in range(a, b))

    runs = _noun_runs(ms)
    for a, b in runs:
        for k in range(a, b):
            if ms[b - 1].end - ms[k].begin > NOUN_MAX_CHARS or (k != a and not _free_start(ms, k)):
                continue
            text = _span_text(ms, k, b)
            nouns = _nouns(ms, k, b)
            if not nouns:
                continue
            nxt = ms[b] if b < len(ms) else None
            verbal = nxt is not None and nxt.pos[0] == "動詞" and nxt.lemma in ("する", "為る", "できる", "出来る")
            out.append(PhraseOcc("noun", ("n",) + _key_parts(ms, k, b), text, ms[k].begin, ms[b - 1].end, nouns, nouns, False,
                                 _ascii(ms, k, b), _concrete(ms, k, b), verbal))
    run_start = {a: b for a, b in runs}
    n = len(ms)
    # Possible subjects of a predicate, by the index just after them: (first morpheme, nouns,
    # text, concreteness); noun phrases and 「NのN」 (責任の所在がはっきりしない).
    subjects: dict[int, list[tuple[int, tuple[str, ...], str, float]]] = {}
    for a, b in runs:
        k = _short_suffix(ms, a, b, PART_MAX_CHARS)
        if k is None:
            continue
        subjects.setdefault(b, []).append((k, _nouns(ms, k, b), _span_text(ms, k, b), _concrete(ms, k, b)))
        j = b
        if j < n and ms[j].surface in NO_CONNECTORS and ms[j].pos[0] == "助詞" and j + 1 < n and ms[j + 1].surface == "の":
            j += 1
        if j < n and ms[j].surface == "の" and ms[j].pos[0] == "助詞" and (j + 1 in run_start or _is_stop_head(ms, j + 1)):
            b2 = run_start.get(j + 1, j + 2)
            if len(_span_text(ms, j + 1, b2)) > PART_MAX_CHARS:
                continue
            left = _nouns(ms, k, b)
            right = _nouns(ms, j + 1, b2) or (ms[j + 1].key,)
            if not right:
                continue
            text = _span_text(ms, k, b2)
            conn = _span_text(ms, b, j + 1)
            out.append(PhraseOcc("noun_no", ("no",) + left + (conn,) + right, text, ms[k].begin, ms[b2 - 1].end, left + right, left + right, False, _ascii(ms, k, b2), 1.0))
            subjects.setdefault(b2, []).append((k, left + right, text, 1.0))
    for b, subs in subjects.items():
        if b >= n:
            continue
        m = ms[b]
        # After a noun, が is the case particle even where SudachiPy says 接続助詞 (seen after a
        # listed term: 見守りが続かない).
        if m.pos[0] == "助詞" and (m.pos[1] in ("格助詞", "係助詞") or m.surface == "が") and m.surface in CASE_PARTICLES:
            pred_at, particle = b + 1, m.surface
        elif ms[b - 1].pos[2] == "サ変可能" and m.pos[0] == "動詞" and m.lemma in ("する", "為る"):
            pred_at, particle = b, ""  # 協力してもらえない, 関与しない
        else:
            continue
        if particle in COMPOUND_HEADS and pred_at < n and ms[pred_at].lemma in COMPOUND_HEADS[particle]:
            continue
        parsed = render_predicate(ms, pred_at)
        if parsed is None:
            continue
        end, ptext, pwords, negated, trouble = parsed.end, parsed.text, parsed.words, parsed.negated, parsed.trouble
        if len(ptext) > PREDICATE_MAX_CHARS:
            continue
        for k, nouns, stext, concrete in subs:
            if not nouns:
                continue
            text = stext + particle + ptext
            key = ("p",) + nouns + ("|",) + pwords + (("NEG",) if negated else ()) + (("TRB",) if trouble else ())
            words = nouns + tuple(w for w in pwords if w not in nouns)
            out.append(PhraseOcc("predicate", key, text, ms[k].begin, ms[end - 1].end, nouns, words, negated, _ascii(ms, k, end), concrete,
                                 trouble=trouble))
    # A subject-less predicate is kept only when negated or troubled: look for heads just before
    # a negation or trouble ending only (a few per comment) instead of parsing at every verb.
    heads = sorted({i for j, m in enumerate(ms) if m.lemma in BARE_MARKS for i in range(max(0, j - 7), j)})
    for i in heads:
        if not bare_head(ms, i):
            continue
        parsed = render_predicate(ms, i)
        if parsed is None or not (parsed.negated or parsed.trouble) or not parsed.words or len(parsed.text) > PREDICATE_MAX_CHARS:
            continue
        key = ("v",) + parsed.words + (("NEG",) if parsed.negated else ()) + (("TRB",) if parsed.trouble else ())
        out.append(PhraseOcc("bare", key, parsed.text, ms[i].begin, ms[parsed.end - 1].end, (), parsed.words, parsed.negated,
                             _ascii(ms, i, parsed.end), 0.5, trouble=parsed.trouble))
    # A サ変 noun's own predicate (理解してほしい) is already there with the noun as its subject.
    spans = {(p.start, p.end) for p in out if p.kind == "predicate"}
    out = [p for p in out if p.kind != "bare" or (p.start, p.end) not in spans]
    out.sort(key=lambda p: (p.start, p.kind, p.end, p.text))
    return out
