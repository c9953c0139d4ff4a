"""Predicates read off SudachiPy morphemes, their endings normalised: what a comment says went wrong.

「情報共有がうまくできていませんでした」 -> できていない, 「決まりません」 -> 決まらない, 「丸投げになっている」 ->
丸投げになる: tense, politeness and aspect (ている) are dropped; negation and the endings that say an
outcome is unwanted or hard (てしまう, づらい, にくい, すぎる, てほしい: ``TROUBLE_*``) are kept and flagged.
:mod:`analysis.themes.phrases` builds candidate phrases on :func:`render_predicate` and :func:`bare_head`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..text.tokens import Morpheme

__all__ = ["Predicate", "render_predicate", "bare_head", "is_trouble", "BARE_MARKS", "NEGATIONS", "COMPOUND_HEADS"]

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
# に / と + these verbs are compound particles (について, に対して, に関する, によって, において,
# にとって, にわたる, として), not predicates.
COMPOUND_HEADS = {
    "に": frozenset({"つく", "付く", "就く", "対する", "関する", "よる", "因る", "依る", "拠る", "おく", "於く", "当たる", "あたる",
                     "わたる", "渡る", "向ける", "比べる", "基づく", "伴う", "沿う", "限る", "とる", "取る", "際する", "応じる", "おける"}),
    "と": frozenset({"する", "為る", "いう", "言う", "共に", "比べる"}),
}
GODAN_A = {"う": "わ", "く": "か", "ぐ": "が", "す": "さ", "つ": "た", "ぬ": "な", "ぶ": "ば", "む": "ま", "る": "ら"}


@dataclass(frozen=True)
class Predicate:
    """A parsed predicate: morphemes ``[start, end)``, display ``text``, content ``words``."""

    end: int
    text: str
    words: tuple[str, ...]
    negated: bool
    trouble: bool



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
        and not (j != chain[0] and ms[j].lemma in NEGATIONS) and not (j != chain[0] and is_trouble(ms, j))
    )
    trouble = any(is_trouble(ms, j) for j in chain if j < end and j != chain[0])
    return Predicate(end, text, words, negated, trouble)


BARE_MARKS = NEGATIONS | TROUBLE_AFTER_TE | TROUBLE_ENDINGS


def is_trouble(ms: Sequence[Morpheme], j: int) -> bool:
    m = ms[j]
    if m.lemma in TROUBLE_ENDINGS and m.pos[0] in ("動詞", "形容詞", "接尾辞"):
        return True
    return m.lemma in TROUBLE_AFTER_TE and m.pos[1] == "非自立可能" and j > 0 and ms[j - 1].surface in ("て", "で")


def bare_head(ms: Sequence[Morpheme], i: int) -> bool:
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
