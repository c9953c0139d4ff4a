"""The name rule of masking (人名), over SudachiPy's morphemes.

:func:`name_spans` finds person names among the morphemes of a text; :class:`SudachiTagger` gives
those morphemes and the dictionary's entries for a word (:class:`MorphTagger` is all the rule needs,
so a test can pass its own). :func:`place_word_ends` gives the address rule
(:mod:`analysis.ingest.masking_patterns`) its hint of where place words end.

人名 (person names)
    SudachiPy's part of speech ``名詞,固有名詞,人名,*``. Adjacent name words (姓 + 名, also across one
    space) become one item. A name followed by an honorific (さん, 様, 氏, 君, ちゃん, 先生, 殿 …) or a
    role (課長, 係長, 主任, 相談員 … :data:`ROLES`) is masked and the honorific or role stays
    visible: 「〔人名〕さん」. A word Sudachi tags as a place (地名) or organisation but that the
    dictionary also lists as a surname is masked only before an honorific or a role (市川課長,
    桜井先生), never before 市長・区長・町長・村長・知事. A lone surname or given name without such
    context is masked only when it is at least two characters with a kanji and the dictionary knows
    it as nothing but a name (佐藤, 田中, 花子 yes; 山田, 中村, 石川 no: they are places too, and
    Sudachi often tags 「石川の事例」「池田の住民」 as surnames), and not when a place or organisation
    word follows (「佐藤クリニック」「吉田地区」). Single Latin letters and placeholders (Aさん,
    〇〇さん) are already anonymous and stay.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Iterator, NamedTuple, Protocol

from .masking_patterns import KANJI

logger = logging.getLogger(__name__)

HONORIFICS: tuple[str, ...] = ("さん", "様", "さま", "サマ", "氏", "君", "くん", "ちゃん", "先生", "殿", "どの")

#: Job titles that follow a name (田中課長). Longest first, so 課長補佐 wins over 課長.
ROLES: tuple[str, ...] = tuple(
    sorted(
        {
            "課長", "係長", "部長", "所長", "局長", "室長", "次長", "課長補佐", "補佐", "主任", "主査",
            "主事", "主幹", "参事", "相談員", "支援員", "専門員", "指導員", "係員", "保健師", "看護師",
            "社会福祉士", "精神保健福祉士", "介護福祉士", "ケアマネ", "ケアマネジャー", "ケアマネージャー",
            "ケースワーカー", "ワーカー", "委員", "民生委員", "児童委員", "議員", "会長", "副会長",
            "理事長", "理事", "施設長", "センター長", "園長", "校長", "教頭", "教諭", "医師", "弁護士",
            "司法書士", "社長", "店長", "代表", "市長", "区長", "町長", "村長", "知事",
        },
        key=lambda r: (-len(r), r),
    )
)
# A place name before these is the place's head (千葉知事, 市川市長), not a person called 千葉.
_PLACE_HEADS = frozenset({"市長", "区長", "町長", "村長", "知事", "議員"})

# Words after a lone surname that make it a place or an organisation (吉田地区, 佐藤クリニック).
_NOT_PERSON_AFTER: tuple[str, ...] = (
    "地区", "地域", "方面", "周辺", "管内", "圏域", "エリア", "駅", "市", "区", "町", "村", "県", "郡",
    "通り", "団地", "小学校", "中学校", "高校", "病院", "医院", "クリニック", "診療所", "内科", "外科",
    "整形", "歯科", "眼科", "皮膚科", "小児科", "精神科", "薬局", "事務所", "商店", "工務店", "会",
    "園", "苑", "荘", "ホーム", "学園", "塾", "財団", "株式会社", "グループ", "建設", "産業", "不動産",
    "ケアセンター", "デイサービス", "ステーション", "訪問看護",
)

_PLACEHOLDER = frozenset("〇○◯●△▲□■×✕＊*＿_?？・")
_HAS_KANJI = re.compile(f"[{KANJI}]")
_LATIN_NAME = re.compile(r"[A-Z][a-z]+(?:[ .'-][A-Z][a-z]+)*")


# --------------------------------------------------------------------------- morphemes


class Morph(NamedTuple):
    """One morpheme: ``text[begin:end]`` of the analysed text and its part of speech (4 levels)."""

    begin: int
    end: int
    pos: tuple[str, ...]


class MorphTagger(Protocol):
    """What the name rule needs from a morphological analyser."""

    def morphemes(self, text: str) -> list[Morph]:
        """All morphemes of ``text`` (any length), offsets into ``text``."""
        ...

    def entries(self, surface: str) -> frozenset[tuple[str, ...]]:
        """Parts of speech of every dictionary entry spelled ``surface`` (context-free)."""
        ...


#: Characters per SudachiPy call: even at 4 UTF-8 bytes each, well below its 49,149-byte input limit.
MAX_CHUNK_CHARS = 10_000

_SENTENCE_END = re.compile(r"[。．！？!?\n]")
_SOFT_BREAK = re.compile(r"[、，,\s]")


def _chunks(text: str, size: int = MAX_CHUNK_CHARS) -> Iterator[tuple[int, str]]:
    """``(offset, piece)`` pieces of at most ``size`` characters, cut after a sentence end if any."""
    pos, n = 0, len(text)
    while n - pos > size:
        window = text[pos : pos + size]
        cut = 0
        for pattern in (_SENTENCE_END, _SOFT_BREAK):
            for m in pattern.finditer(window, size // 2):
                cut = m.end()
            if cut:
                break
        cut = cut or size
        yield pos, text[pos : pos + cut]
        pos += cut
    if pos < n:
        yield pos, text[pos:]


class SudachiTagger:
    """:class:`MorphTagger` over SudachiPy (split mode C, so 東京都千代田区 stays one place word).

    The dictionary is shared (default: the one :mod:`analysis.text.tokens` uses); each thread gets its
    own tokenizer, because a SudachiPy tokenizer is not thread-safe.
    """

    def __init__(self, dictionary=None, mode: str = "C") -> None:
        self.dictionary = dictionary
        self.mode = mode
        self._local = threading.local()
        self._pos: dict[int, tuple[str, ...]] = {}
        self._entries: dict[str, frozenset[tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def _dict(self):
        if self.dictionary is None:
            # The process-wide Dictionary the keywords use; only tokenizers are per thread.
            from ..text.tokens import _dictionary

            return _dictionary()
        return self.dictionary

    def _tokenizer(self):
        tok = getattr(self._local, "tok", None)
        if tok is None:
            from sudachipy import SplitMode

            tok = self._dict().tokenizer(mode=getattr(SplitMode, self.mode))
            self._local.tok = tok
        return tok

    def morphemes(self, text: str) -> list[Morph]:
        out: list[Morph] = []
        tok = self._tokenizer()
        pos_cache = self._pos
        for offset, piece in _chunks(text):
            try:
                found = tok.tokenize(piece)
            except Exception:  # noqa: BLE001 - masking must go on; the other rules still apply
                logger.warning("SudachiPy could not analyse %d characters; names there are not masked", len(piece))
                continue
            for m in found:
                pid = m.part_of_speech_id()
                pos = pos_cache.get(pid)
                if pos is None:
                    pos = pos_cache[pid] = tuple(m.part_of_speech()[:4])
                out.append(Morph(offset + m.begin(), offset + m.end(), pos))
        return out

    def entries(self, surface: str) -> frozenset[tuple[str, ...]]:
        found = self._entries.get(surface)
        if found is None:
            with self._lock:
                found = frozenset(tuple(m.part_of_speech()[:4]) for m in self._dict().lookup(surface))
            self._entries[surface] = found
        return found


def place_word_ends(ms: list[Morph]) -> set[int]:
    """End positions of the morphemes Sudachi tags as place names (地名)."""
    return {x.end for x in ms if x.pos[1] == "固有名詞" and x.pos[2] == "地名"}


# --------------------------------------------------------------------------- names


def name_spans(s: str, ms: list[Morph], tagger: MorphTagger) -> list[tuple[int, int]]:
    """``(start, end)`` of every person name in ``s``, whose morphemes ``ms`` the ``tagger`` found."""
    out: list[tuple[int, int]] = []
    ends = {m.end for m in ms}
    i, n = 0, len(ms)
    while i < n:
        strength = _person_strength(s, ms[i], tagger)
        if not strength:
            i += 1
            continue
        # Adjacent name words (also across one space) are one name: 山田太郎, 山田 太郎, 市川 + 太郎.
        group = [ms[i]]
        j = i + 1
        while j < n:
            nxt = ms[j]
            if nxt.begin == group[-1].end and _person_strength(s, nxt, tagger) == 2:
                group.append(nxt)
                j += 1
            elif (
                nxt.pos[0] == "空白" and nxt.end - nxt.begin == 1 and j + 1 < n
                and _person_strength(s, ms[j + 1], tagger) == 2
            ):
                group.append(ms[j + 1])
                j += 2
            else:
                break
        if len(group) > 1:
            strength = 2
        start, end = group[0].begin, group[-1].end
        context = _following(s, end, ends)
        if strength == 1:
            ok = context == "honorific" or (context is not None and context not in _PLACE_HEADS)
        else:
            ok = context is not None or len(group) > 1 or _bare_name(s, group[0], tagger)
        if ok:
            out.append((start, end))
        i = j
    return out


def _person_strength(s: str, m: Morph, tagger: MorphTagger) -> int:
    """2: tagged as a name here; 1: a place / organisation word the dictionary also has as a surname."""
    pos = m.pos
    if pos[0] != "名詞" or pos[1] != "固有名詞":
        return 0
    surface = s[m.begin : m.end]
    if not _plausible_name(surface):
        return 0
    if pos[2] == "人名":
        return 2
    if len(surface) >= 2 and any(e[2] == "人名" for e in tagger.entries(surface)):
        return 1
    return 0


def _bare_name(s: str, m: Morph, tagger: MorphTagger) -> bool:
    """A name word without honorific: only unmistakable ones (no place or common-word reading)."""
    surface = s[m.begin : m.end]
    if m.pos[3] not in ("姓", "名") or len(surface) < 2 or not _HAS_KANJI.search(surface):
        return False
    if s.startswith(_NOT_PERSON_AFTER, m.end):
        return False
    for e in tagger.entries(surface):
        if e[0] == "名詞" and e[1] == "固有名詞" and e[2] in ("人名", "一般"):
            continue
        if e[0] in ("接頭辞", "接尾辞"):
            continue
        return False  # a place (地名) or an everyday word (中島, 高木, 太郎) as well
    return True


def _plausible_name(surface: str) -> bool:
    """Not a placeholder (〇〇, A, CSW) or a number: those are no one's name."""
    if not surface or all(c in _PLACEHOLDER or c.isspace() for c in surface):
        return False
    if surface.isascii():
        return _LATIN_NAME.fullmatch(surface) is not None
    return not any(c.isdigit() for c in surface)


def _following(s: str, end: int, ends: set[int]) -> str | None:
    """``"honorific"``, the role word, or None for what follows position ``end`` (one space skipped)."""
    p = end + 1 if s[end : end + 1] in (" ", "\u3000") else end
    for h in HONORIFICS:
        if s.startswith(h, p) and (p + len(h) in ends or p + len(h) == len(s)):
            return "honorific"
    for r in ROLES:
        if s.startswith(r, p) and (p + len(r) in ends or p + len(r) == len(s)):
            return r
    return None
