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

from .tokens import Morpheme

__all__ = ["PhraseOcc", "Predicate", "extract_phrases", "render_predicate"]

NOUN_MAX_CHARS = 16
PART_MAX_CHARS = 10  # each side of 「NのN」 and the subject of a predicate
PREDICATE_MAX_CHARS = 14

CASE_PARTICLES = frozenset({"が", "を", "に", "は", "も", "へ", "と"})
NO_CONNECTORS = frozenset({"と", "へ", "から"})  # + の: 地域との, 子どもへの, 行政からの
NEGATIONS = frozenset({"ない", "無い", "ぬ", "ず", "ん"})
# Trailing parts dropped when the ending is normalised (tense, politeness, hearsay, volition).
DROP_AUX = frozenset({"た", "だ", "です", "ます", "う", "よう", "らしい", "そう", "みたい"})
# Aspect verbs after て/で, dropped at the end: されている -> される, なってしまう -> なる.
ASPECT = frozenset({"いる", "居る", "しまう", "仕舞う", "おく", "置く", "ある", "有る", "くる", "来る", "いく", "行く"})
# Endings that say an outcome is unwanted or hard (なってしまう, 相談しづらい, 対応しかねる, 増やし
# 過ぎる, 理解してほしい): kept in the text and flagged, so a predicate can say what hurts without
# a word of the problem list. しまう / ほしい only after て / で (しまう alone is a verb).
TROUBLE_AFTER_TE = frozenset({"しまう", "仕舞う", "ほしい", "欲しい"})
TROUBLE_ENDINGS = frozenset({"ちゃう", "じゃう", "にくい", "難い", "づらい", "辛い", "がたい", "かねる", "兼ねる", "過ぎる", "すぎる"})
# Suffixes that never name anything themselves: 民生委員等 -> 民生委員, 住民さん -> 住民, 部署ごと -> 部署.
JUNK_SUFFIX = frozenset({"等", "など", "ら", "達", "たち", "さん", "様", "方", "殿", "ごと", "毎"})
# に / と + these verbs are compound particles (について, に対して, に関する, によって, において,
# にとって, にわたる, として), not predicates.
COMPOUND_HEADS = {
    "に": frozenset({"つく", "付く", "就く", "対する", "関する", "よる", "因る", "依る", "拠る", "おく", "於く", "当たる", "あたる",
                     "わたる", "渡る", "向ける", "比べる", "基づく", "伴う", "沿う", "限る", "とる", "取る", "際する", "応じる", "おける"}),
    "と": frozenset({"する", "為る", "いう", "言う", "共に", "比べる"}),
}
GODAN_A = {"う": "わ", "く": "か", "ぐ": "が", "す": "さ", "つ": "た", "ぬ": "な", "ぶ": "ば", "む": "ま", "る": "ら"}


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


@dataclass(frozen=True)
class Predicate:
    """A parsed predicate: morphemes ``[start, end)``, display ``text``, content ``words``."""

    end: int
    text: str
    words: tuple[str, ...]
    negated: bool
    trouble: bool


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


def _mizen(m: Morpheme) -> str | None:
    """Irrealis stem of a verb, for ～ません -> ～ない (決まり -> 決まら, でき -> でき)."""
    lemma, ctype = m.lemma, m.pos[4]
    if lemma in ("ある", "有る"):
        return ""
    if ctype.startswith("五段") and lemma and lemma[-1] in GODAN_A:
        return lemma[:-1] + GODAN_A[lemma[-1]]
    if ctype.startswith(("上一段", "下一段")) and lemma.endswith("る"):
        return lemma[:-1]
    if ctype.startswith("サ行変格") and lemma.endswith("する"):
        return lemma[:-2] + "し"
    if ctype.startswith("カ行変格"):
        return "来" if lemma.startswith("来") else "こ"
    return None


def render_predicate(ms: Sequence[Morpheme], k: int) -> Predicate | None:
    """Parse the predicate starting at morpheme ``k`` and normalise its ending.

    Returns a :class:`Predicate` or ``None`` when there is no predicate or its ending cannot be made
    into a plain form (volitional しよう, obligation なければ). Tense, politeness and aspect
    (ている) are dropped; negation and the ``TROUBLE_*`` endings (てしまう, づらい) are kept.
    """
    n = len(ms)
    i = k
    mods: list[int] = []
    while i < n and len(mods) < 3:
        m = ms[i]
        if m.pos[0] == "副詞" and not m.term:
            mods.append(i)
            i += 1
        elif m.pos[0] == "形容詞" and m.pos[1] == "一般" and m.pos[5].startswith("連用形") and i + 1 < n and ms[i + 1].pos[0] == "動詞":
            mods.append(i)  # うまく できない
            i += 1
        elif m.pos[0] == "形状詞" and i + 2 < n and ms[i + 1].surface == "に" and ms[i + 2].pos[0] == "動詞":
            mods.extend((i, i + 1))  # 十分に / 希薄に なる
            i += 2
        else:
            break
    if i >= n or ms[i].term:
        return None
    head = ms[i]
    chain = [i]
    if head.pos[0] == "名詞" and head.pos[2].startswith("サ変") and i + 1 < n and ms[i + 1].pos[0] == "動詞" \
            and ms[i + 1].lemma in ("する", "為る", "できる", "出来る"):
        chain.append(i + 1)  # 情報を 提供して もらえない
        i += 1
    elif head.pos[0] not in ("動詞", "形容詞", "形状詞"):
        return None
    i += 1
    while i < n:
        m, prev = ms[i], ms[chain[-1]]
        p0, p1 = m.pos[0], m.pos[1]
        nxt = ms[i + 1] if i + 1 < n else None
        if m.term:
            break
        if p0 == "助動詞" or (p0 == "接尾辞" and p1 in ("形容詞的", "動詞的")):
            chain.append(i)
        elif p0 in ("動詞", "形容詞") and p1 == "非自立可能":
            chain.append(i)
        elif p0 == "助詞" and m.surface in ("て", "で") and nxt is not None and nxt.pos[1] == "非自立可能" and nxt.pos[0] in ("動詞", "形容詞"):
            chain.append(i)
        elif p0 == "助詞" and m.surface in ("は", "も") and prev.lemma == "だ" and nxt is not None and nxt.lemma in NEGATIONS:
            chain.append(i)  # 明確ではない
        else:
            break
        i += 1
    end = chain[-1] + 1
    parts = mods + chain
    neg = None
    for j in reversed(chain):
        mj = ms[j]
        if mj.lemma in NEGATIONS and (mj.pos[0] == "助動詞" or (mj.pos[0] == "形容詞" and (mj.pos[1] == "非自立可能" or j == chain[0]))):
            neg = j
            break
    if neg is not None:
        if ms[neg].pos[5].startswith("仮定形"):
            return None  # しなければならない is an obligation, not a negation
        kept = [j for j in parts if j < neg]
        surfaces = [ms[j].surface for j in kept]
        if kept and ms[neg].lemma in ("ず", "ぬ", "ん") and ms[kept[-1]].pos[4].startswith("サ行変格") and surfaces[-1].endswith("せ"):
            surfaces[-1] = surfaces[-1][:-1] + "し"  # はっきりせず -> はっきりしない
        if kept and ms[kept[-1]].lemma == "ます":  # 決まりません -> 決まらない
            kept.pop()
            surfaces.pop()
            if not kept or ms[kept[-1]].pos[0] != "動詞":
                return None
            stem = _mizen(ms[kept[-1]])
            if stem is None:
                return None
            surfaces[-1] = stem
        text = "".join(surfaces) + "ない"
        negated = True
        end = neg + 1
    else:
        kept = list(parts)
        while len(kept) > 1:
            last = ms[kept[-1]]
            before = ms[kept[-2]]
            if last.pos[0] == "助動詞" and last.lemma in DROP_AUX:
                kept.pop()
            elif last.pos[0] == "動詞" and last.pos[1] == "非自立可能" and last.lemma in ASPECT \
                    and last.lemma not in TROUBLE_AFTER_TE and before.surface in ("て", "で"):
                kept.pop()
            elif last.pos[0] == "助詞":
                kept.pop()
            else:
                break
        last = ms[kept[-1]]
        if last.pos[5].startswith(("意志推量形", "命令形")):
            return None
        if last.pos[0] == "形状詞" or (last.pos[0] == "助動詞" and last.lemma in DROP_AUX):
            tail = last.surface if last.pos[0] == "形状詞" else None
            if tail is None:
                return None
        else:
            tail = last.lemma
        text = "".join(ms[j].surface for j in kept[:-1]) + tail
        negated = False
        end = kept[-1] + 1
    # Content words of the predicate: adverbs and the head; light aspect verbs and the trouble
    # endings (a flag, not a word) say nothing by themselves.
    words = tuple(
        ms[j].content or ms[j].lemma
        for j in parts
        if j < end and (ms[j].pos[0] in ("副詞", "動詞", "形容詞", "形状詞") or j == chain[0]) and not (j != chain[0] and ms[j].lemma in ASPECT)
        and not (j != chain[0] and ms[j].lemma in NEGATIONS) and not (j != chain[0] and _is_trouble(ms, j))
    )
    trouble = any(_is_trouble(ms, j) for j in chain if j < end and j != chain[0])
    return Predicate(end, text, words, negated, trouble)


_BARE_MARKS = NEGATIONS | TROUBLE_AFTER_TE | TROUBLE_ENDINGS


def _is_trouble(ms: Sequence[Morpheme], j: int) -> bool:
    m = ms[j]
    if m.lemma in TROUBLE_ENDINGS and m.pos[0] in ("動詞", "形容詞", "接尾辞"):
        return True
    return m.lemma in TROUBLE_AFTER_TE and m.pos[1] == "非自立可能" and j > 0 and ms[j - 1].surface in ("て", "で")


def _bare_head(ms: Sequence[Morpheme], i: int) -> bool:
    """Can a subject-less predicate start at morpheme ``i``? A content verb or adjective, or a サ変
    noun before する / できる (把握できない), never a compound particle (に関して)."""
    m = ms[i]
    if m.term or m.content is None:
        return False
    p = m.pos
    if p[0] == "名詞":
        return p[2].startswith("サ変") and i + 1 < len(ms) and ms[i + 1].pos[0] == "動詞" and ms[i + 1].lemma in ("する", "為る", "できる", "出来る")
    if not ((p[0] == "動詞" or p[0] == "形容詞") and p[1] == "一般"):
        return False
    if i > 0 and ms[i - 1].surface in COMPOUND_HEADS and ms[i - 1].pos[0] == "助詞" and m.lemma in COMPOUND_HEADS[ms[i - 1].surface]:
        return False
    if m.lemma in ("関わる", "拘る") and i > 0 and ms[i - 1].surface in ("に", "も"):
        return False  # にも関わらず means "despite"
    # A verb right after a サ変 noun belongs to it (把握 + できない), not a predicate of its own.
    return not (i > 0 and ms[i - 1].pos[0] == "名詞" and ms[i - 1].pos[2].startswith("サ変") and m.lemma in ("する", "為る", "できる", "出来る"))


def extract_phrases(ms: Sequence[Morpheme]) -> list[PhraseOcc]:
    """Every candidate phrase occurrence in one comment's morphemes (see the module docstring).

    Parameters
    ----------
    ms : the comment's :class:`~analysis.tokens.Morpheme` list (terms merged).

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
    heads = sorted({i for j, m in enumerate(ms) if m.lemma in _BARE_MARKS for i in range(max(0, j - 7), j)})
    for i in heads:
        if not _bare_head(ms, i):
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
