"""Masking of personal data in comments, before anything is embedded, saved, shown or exported.

Survey answers sometimes name people or give a phone number or an address. :class:`Masker`
replaces each such item with a token (``〔人名〕``, ``〔電話番号〕`` …) and reports what it replaced
(:class:`Masked`, spans in the original text), so a person can review the decisions
(:func:`review_table`) before the masked text goes anywhere.

Rules (matching runs on an NFKC-normalised copy; spans and the masked text use the original)

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
電話番号
    Japanese numbers with 10 or 11 digits starting with 0 (11 only for 050/070/080/090/0800), with
    hyphens, spaces or brackets (03-1234-5678, (03)1234-5678, 0120-123-456, +81-90-…), and
    8-digit local numbers right after 電話・TEL・携帯・FAX.
メールアドレス
    ``local@domain.tld`` (full-width ＠ and letters too, and ``(at)`` / ``[at]`` / アットマーク).
郵便番号
    〒 followed by 3 + 4 digits; ``123-4567`` after 郵便番号・郵便・住所, or right before a prefecture
    or a municipality.
住所
    A block number (3丁目, 5番地の2, 5番2号, 1-2-2 …) and the town name before it. **The prefecture
    and the municipality (市・区・郡+町村, 政令市の区) stay visible** (「東京都千代田区〔住所〕」): they
    are what an analysis of regional differences needs and identify nobody; what follows them does.
    A hyphen-only block (1-2-2) counts only after a prefecture, a municipality or a word Sudachi
    tags as a place. A municipality alone (「〇〇市では」「市役所」) is not an address.
個人番号
    12 digits after マイナンバー or 個人番号.

An allow list (:data:`DEFAULT_ALLOW` from ``data/mask_allow_ja.txt`` plus the user's entries)
wins over every rule: an item lying inside an occurrence of an allowed term stays visible.

Masking is deterministic and idempotent: existing ``〔…〕`` tokens are never touched, and the rules
run again on the masked text until they find nothing new (masking changes the context the other
rules see). It never raises on any string, and analyses long texts in pieces cut at sentence ends
because SudachiPy refuses inputs above 49,149 bytes.

Known limits (see the review table before trusting a masked corpus)
    Missed: a lone surname that is also a place or a common word (「担当の山田に確認」「小林と訪問」),
    names in hiragana or romaji without an honorific, names Sudachi does not know and splits,
    addresses without a block number (「〇〇町の団地」), phone numbers without area code and without
    a 電話/TEL word before them. Masked although harmless: famous people (「小林一茶の句」), a
    place name used for a neighbouring office (「隣の大和さん」; add it to the allow list), a block
    number outside an address (「3丁目の夕日」). Where 町 names a town inside a city without the
    city (「本町3丁目」), the town stays visible and only the block is masked.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple, Protocol, Sequence

import pandas as pd

from .corpus import DATA_DIR

logger = logging.getLogger(__name__)

KIND_NAME = "人名"
KIND_PHONE = "電話番号"
KIND_EMAIL = "メールアドレス"
KIND_POSTAL = "郵便番号"
KIND_ADDRESS = "住所"
KIND_MYNUMBER = "個人番号"
ALL_KINDS: tuple[str, ...] = (KIND_NAME, KIND_PHONE, KIND_EMAIL, KIND_POSTAL, KIND_ADDRESS, KIND_MYNUMBER)

# When two rules claim overlapping text, the more specific one wins (an e-mail's local part is not
# a name, a phone number's digits are not an address block).
_PRIORITY = {KIND_EMAIL: 0, KIND_PHONE: 1, KIND_MYNUMBER: 2, KIND_POSTAL: 3, KIND_ADDRESS: 4, KIND_NAME: 5}

ALLOW_PATH = DATA_DIR / "mask_allow_ja.txt"

#: Characters of context either side of an item in :func:`review_table`.
CONTEXT_CHARS = 15

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


def mask_token(kind: str) -> str:
    """The text that replaces an item of ``kind``: ``〔人名〕``."""
    return f"〔{kind}〕"


_TOKEN_RE = re.compile("〔(?:" + "|".join(map(re.escape, ALL_KINDS)) + ")〕")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Masked:
    """One masked item; ``original[start:end]`` of the ORIGINAL text is what ``token`` replaced."""

    kind: str
    original: str
    start: int
    end: int
    token: str


@dataclass
class MaskResult:
    """A masked text and the items replaced in it (ordered by position)."""

    text: str
    found: list[Masked]


# --------------------------------------------------------------------------- allow list


def load_allow_list(path: str | Path = ALLOW_PATH) -> frozenset[str]:
    """Terms from an allow-list file: one per line, ``#`` starts a comment, NFKC-normalised."""
    terms = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = unicodedata.normalize("NFKC", line.split("#", 1)[0]).strip()
        if line:
            terms.add(line)
    return frozenset(terms)


#: The allow list shipped in ``data/mask_allow_ja.txt`` (public bodies, roles).
DEFAULT_ALLOW: frozenset[str] = load_allow_list()


# --------------------------------------------------------------------------- normalisation

_VOICING = frozenset("\uff9e\uff9f\u3099\u309a")
# Dashes people type between digits (090ー1234ー5678, 03−1234−5678) read as a hyphen.
_DIGIT_DASH = re.compile(r"(?<=[0-9])[‐‑‒–—―−ー－ｰ](?=[0-9])")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _joins_previous(ch: str) -> bool:
    # NFKC composes a base with the marks after it (ｶﾞ -> ガ), so they are normalised together.
    return ch in _VOICING or unicodedata.combining(ch) != 0 or "\ufe00" <= ch <= "\ufe0f"


@lru_cache(maxsize=8192)
def _nfkc(segment: str) -> str:
    return unicodedata.normalize("NFKC", segment)


class _Normalized(NamedTuple):
    """NFKC text for matching; ``starts[i]:ends[i]`` is the original text behind ``text[i]``."""

    text: str
    starts: list[int] | None  # None: the text did not change, positions are shared
    ends: list[int] | None

    def original_span(self, a: int, b: int) -> tuple[int, int]:
        if self.starts is None:
            return a, b
        return self.starts[a], self.ends[b - 1]


def _normalize(text: str) -> _Normalized:
    """NFKC per character (with its combining marks), keeping a map back to the original."""
    if unicodedata.is_normalized("NFKC", text):
        norm, starts, ends = text, None, None
    else:
        pieces: list[str] = []
        starts, ends = [], []
        i, n = 0, len(text)
        while i < n:
            j = i + 1
            while j < n and _joins_previous(text[j]):
                j += 1
            seg = _nfkc(text[i:j])
            pieces.append(seg)
            k = len(seg)
            starts.extend([i] * k)
            ends.extend([j] * k)
            i = j
        norm = "".join(pieces)
    # One-for-one substitutions keep the map valid; SudachiPy cannot encode lone surrogates.
    norm = _SURROGATE.sub("\ufffd", _DIGIT_DASH.sub("-", norm))
    return _Normalized(norm, starts, ends)


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

    The dictionary is shared (default: the one :mod:`analysis.tokens` uses); each thread gets its
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
            from .tokens import _dictionary

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


# --------------------------------------------------------------------------- patterns

_KANJI = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆"
_HAS_KANJI = re.compile(f"[{_KANJI}]")
_DIGIT = re.compile("[0-9]|丁目|番地")  # the rules that need a number (kanji numerals: 三丁目)
_LATIN_NAME = re.compile(r"[A-Z][a-z]+(?:[ .'-][A-Z][a-z]+)*")

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*"
    r"\s?(?:@|\(at\)|\[at\]|アットマーク)\s?"
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\s?(?:\.|\(dot\)|\[dot\])\s?[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+",
)

_PHONE_SEP = r"(?:\s?-\s?|\)\s?-?\s?|\s?\(|\s)"
_PHONE = re.compile(
    r"(?<![0-9+\-])(?:0[0-9]{9,10}|(?:\+81(?:\s?-\s?|\s)?)?\(?[0-9]{1,5}(?:" + _PHONE_SEP + r"[0-9]{1,5}){0,3}\)?)"
    r"(?![0-9\-])"
)
_PHONE_LOCAL = re.compile(
    r"(?:電話|TEL|Tel|tel|携帯|FAX|Fax|fax|ファックス|ファクス|☎)(?:番号)?\s?[:は]?\s?"
    r"([0-9]{2,4}-[0-9]{4})(?![0-9\-])"
)
_MOBILE_PREFIXES = ("050", "060", "070", "080", "090", "0800")

_MYNUMBER = re.compile(
    r"(?:マイナンバー|個人番号)[^0-9]{0,8}?([0-9]{4}[\s-]?[0-9]{4}[\s-]?[0-9]{4})(?![0-9])"
)

PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)
_PREF_RE = re.compile("|".join(PREFECTURES))
_MUNI_AHEAD = r"(?:" + "|".join(PREFECTURES) + rf"|[{_KANJI}ぁ-んァ-ヴー〇○]{{1,8}}?[市区町村郡])"

_POSTAL: tuple[re.Pattern[str], ...] = (
    re.compile(r"〒\s?[0-9]{3}(?:-?[0-9]{4})?(?![0-9])"),
    re.compile(r"(?:郵便番号|郵便|住所|ZIP|Zip|zip)\s?[:は]?\s?(?P<n>[0-9]{3}-?[0-9]{4})(?![0-9])"),
    re.compile(rf"(?<![0-9\-])(?P<n>[0-9]{{3}}-[0-9]{{4}})(?![0-9\-])(?=\s?{_MUNI_AHEAD})"),
)

_KNUM = "[0-9一二三四五六七八九十〇]+"
_BLOCK = re.compile(
    r"(?<![0-9\-])(?:"
    rf"{_KNUM}丁目(?:\s?[0-9]+(?:番地?|-)(?:\s?[0-9]+(?:号|-)?)?)?(?:の[0-9]+)?"
    rf"|{_KNUM}番地(?:の?[0-9]+号?)?(?:の[0-9]+)?"
    r"|[0-9]+番[0-9]+号?"
    r"|(?P<hyphen>[0-9]+(?:-[0-9]+){1,3})"
    r")(?![0-9])"
)
_BUILDING = re.compile(
    rf"\s?(?:[{_KANJI}ァ-ヴーA-Za-z0-9・]{{0,15}}?(?:マンション|ハイツ|アパート|コーポ|レジデンス|メゾン|荘|ビル|団地|棟))?"
    r"\s?(?:-?[0-9]+(?:号室|号棟|階|F)|[0-9]+\s?号室)?"
)
# Characters of the text before a block that may belong to an address; the town part (what is
# masked) is narrower: no hiragana but the が・の・ケ of 霞が関, 梅の木, 自由が丘.
_RUN_CHAR = re.compile(f"[{_KANJI}ぁ-んァ-ヴー〇○◯△□●▲■×]")
_TOWN = re.compile(f"[{_KANJI}ァ-ヴー〇○◯△□●▲■×ヶヵ](?:[{_KANJI}ァ-ヴー〇○◯△□●▲■×がのケヶヵ]{{0,13}}[{_KANJI}ァ-ヴー〇○◯△□●▲■×ヶヵ])?")
_MUNI_SUFFIX = "市区町村郡"


def _town_ok(s: str) -> bool:
    """A town name (霞が関, △△町, 大字〇〇) or nothing: no particles at either end, ≤ 15 characters."""
    s = s.strip(" ")
    return not s or _TOWN.fullmatch(s) is not None


def _trailing_town(s: str) -> int:
    """Length of the longest valid town name at the end of ``s``."""
    for k in range(len(s)):
        if _town_ok(s[k:]):
            return len(s) - k
    return 0


def _muni_end(run: str, start: int) -> int | None:
    """End of the municipality inside ``run`` (searching from ``start``), or None.

    The first 市・区・郡・町・村 whose rest is a plain town name; 市 extends over a ward that follows
    (大阪市北区), 郡 over its town or village. 地区 is not a ward; 四日市市 ends at its second 市.
    """
    n = len(run)
    for k in range(max(start, 0) + 1, n):
        ch = run[k]
        if ch not in _MUNI_SUFFIX or run[k - 1] in " " or (ch == "区" and run[k - 1] == "地"):
            continue
        if k + 1 < n and run[k + 1] in _MUNI_SUFFIX:
            continue
        if not _town_ok(run[k + 1 :]):
            continue
        follow = {"市": "区", "郡": "町村"}.get(ch)
        if follow:
            for k2 in range(k + 2, min(k + 7, n)):
                if run[k2] in follow and _town_ok(run[k2 + 1 :]):
                    return k2 + 1
        return k + 1
    return None


# --------------------------------------------------------------------------- masker


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


class Masker:
    """Find and replace personal data in Japanese free text.

    Parameters
    ----------
    allow : terms that must stay visible, added to ``default_allow`` (NFKC-compared).
    kinds : which kinds to mask, a subset of :data:`ALL_KINDS`.
    tokenizer : a :class:`MorphTagger` for the name rule (and the place-word hint of the address
        rule); default a :class:`SudachiTagger` over the shared SudachiPy dictionary, created on
        first use.
    default_allow : the base allow list; :data:`DEFAULT_ALLOW` unless given (``()`` for none).

    A Masker is safe to share between threads (one SudachiPy tokenizer per thread).
    """

    def __init__(
        self,
        allow: Iterable[str] = (),
        kinds: Iterable[str] = ALL_KINDS,
        tokenizer: MorphTagger | None = None,
        default_allow: Iterable[str] | None = None,
    ) -> None:
        if isinstance(kinds, str):
            kinds = (kinds,)
        if isinstance(allow, str):
            allow = (allow,)
        self.kinds = tuple(dict.fromkeys(kinds))
        unknown = [k for k in self.kinds if k not in ALL_KINDS]
        if unknown:
            raise ValueError(f"マスクの種別が不明です: {'、'.join(unknown)}（使える種別: {'、'.join(ALL_KINDS)}）")
        base = DEFAULT_ALLOW if default_allow is None else default_allow
        terms = {unicodedata.normalize("NFKC", str(t)).strip() for t in (*base, *allow)}
        self.allow = frozenset(t for t in terms if t)
        self.tokenizer = tokenizer
        self._allow_re = (
            re.compile("|".join(map(re.escape, sorted(self.allow, key=lambda t: (-len(t), t)))))
            if self.allow
            else None
        )
        self._init_lock = threading.Lock()

    # ----------------------------------------------------------------- public

    def mask(self, text: str) -> MaskResult:
        """Mask one text. Missing values (None, NaN) count as ``""``; other non-strings are ``str()``-ed.

        Masking changes the context other rules see (a name next to a masked e-mail address can read
        differently), so the rules run again on the masked text until they find nothing new: the
        result is a fixed point, which is what makes masking idempotent.
        """
        if not isinstance(text, str):
            text = "" if _missing(text) else str(text)
        spans = self._find(text)
        masked = text
        while spans:
            masked, gaps = _splice(text, spans)
            more = self._find(masked)
            if not more:
                break
            # New items never overlap a token, so both ends fall in one stretch of original text.
            spans = sorted(spans + [(_to_original(gaps, a), _to_original(gaps, b - 1) + 1, k) for a, b, k in more])
        found = [Masked(k, text[a:b], a, b, mask_token(k)) for a, b, k in spans]
        return MaskResult(masked, found)

    def _find(self, text: str) -> list[tuple[int, int, str]]:
        """One pass of the rules: non-overlapping ``(start, end, kind)`` spans of ``text``, in order."""
        if not text:
            return []
        norm = _normalize(text)
        out: list[tuple[int, int, str]] = []
        last_end = 0
        for a, b, kind in self._select(norm.text, self._candidates(norm.text)):
            start, end = norm.original_span(a, b)
            if start >= last_end:  # else two matches inside one normalised character (e.g. ㈱)
                out.append((start, end, kind))
                last_end = end
        return out

    def mask_many(self, texts: Iterable[str], n_threads: int = 2) -> list[MaskResult]:
        """:meth:`mask` of every text, in order (two threads from 2,000 texts; same result)."""
        texts = list(texts)
        if n_threads <= 1 or len(texts) < 2000:
            return [self.mask(t) for t in texts]
        self._get_tokenizer()  # create the shared tagger before the threads race for it
        step = -(-len(texts) // n_threads)
        parts = [texts[i : i + step] for i in range(0, len(texts), step)]
        with ThreadPoolExecutor(len(parts)) as pool:
            done = list(pool.map(lambda part: [self.mask(t) for t in part], parts))
        return [r for part in done for r in part]

    # ----------------------------------------------------------------- candidates

    def _get_tokenizer(self) -> MorphTagger:
        if self.tokenizer is None:
            with self._init_lock:
                if self.tokenizer is None:
                    self.tokenizer = SudachiTagger()
        return self.tokenizer

    def _candidates(self, s: str) -> list[tuple[int, int, str]]:
        kinds = self.kinds
        out: list[tuple[int, int, str]] = []
        morphs: list[Morph] | None = None

        def get_morphs() -> list[Morph]:
            nonlocal morphs
            if morphs is None:
                morphs = self._get_tokenizer().morphemes(s)
            return morphs

        if KIND_EMAIL in kinds and ("@" in s or "at" in s or "アットマーク" in s):
            out += [(m.start(), m.end(), KIND_EMAIL) for m in _EMAIL.finditer(s)]
        if _DIGIT.search(s):
            if KIND_PHONE in kinds:
                out += _phones(s)
            if KIND_MYNUMBER in kinds:
                out += [(*m.span(1), KIND_MYNUMBER) for m in _MYNUMBER.finditer(s)]
            if KIND_POSTAL in kinds:
                for pattern in _POSTAL:
                    out += [(*m.span("n" if "n" in m.groupdict() else 0), KIND_POSTAL) for m in pattern.finditer(s)]
            if KIND_ADDRESS in kinds:
                out += _addresses(s, get_morphs)
        if KIND_NAME in kinds:
            out += self._names(s, get_morphs())
        return out

    def _select(self, s: str, cands: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """Non-overlapping candidates by rule priority, minus existing tokens and allowed terms."""
        taken: list[tuple[int, int]] = [m.span() for m in _TOKEN_RE.finditer(s)]
        allowed = [m.span() for m in self._allow_re.finditer(s)] if self._allow_re is not None else []
        keep: list[tuple[int, int, str]] = []
        for a, b, kind in sorted(set(cands), key=lambda c: (_PRIORITY[c[2]], c[0], -c[1])):
            if a >= b or any(a < y and x < b for x, y in taken):
                continue
            if any(x <= a and b <= y for x, y in allowed):
                continue
            taken.append((a, b))
            keep.append((a, b, kind))
        return sorted(keep)

    # ----------------------------------------------------------------- names

    def _names(self, s: str, ms: list[Morph]) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        ends = {m.end for m in ms}
        i, n = 0, len(ms)
        while i < n:
            strength = self._person_strength(s, ms[i])
            if not strength:
                i += 1
                continue
            # Adjacent name words (also across one space) are one name: 山田太郎, 山田 太郎, 市川 + 太郎.
            group = [ms[i]]
            j = i + 1
            while j < n:
                nxt = ms[j]
                if nxt.begin == group[-1].end and self._person_strength(s, nxt) == 2:
                    group.append(nxt)
                    j += 1
                elif (
                    nxt.pos[0] == "空白" and nxt.end - nxt.begin == 1 and j + 1 < n
                    and self._person_strength(s, ms[j + 1]) == 2
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
                ok = context is not None or len(group) > 1 or self._bare_name(s, group[0])
            if ok:
                out.append((start, end, KIND_NAME))
            i = j
        return out

    def _person_strength(self, s: str, m: Morph) -> int:
        """2: tagged as a name here; 1: a place / organisation word the dictionary also has as a surname."""
        pos = m.pos
        if pos[0] != "名詞" or pos[1] != "固有名詞":
            return 0
        surface = s[m.begin : m.end]
        if not _plausible_name(surface):
            return 0
        if pos[2] == "人名":
            return 2
        if len(surface) >= 2 and any(e[2] == "人名" for e in self._get_tokenizer().entries(surface)):
            return 1
        return 0

    def _bare_name(self, s: str, m: Morph) -> bool:
        """A name word without honorific: only unmistakable ones (no place or common-word reading)."""
        surface = s[m.begin : m.end]
        if m.pos[3] not in ("姓", "名") or len(surface) < 2 or not _HAS_KANJI.search(surface):
            return False
        if s.startswith(_NOT_PERSON_AFTER, m.end):
            return False
        for e in self._get_tokenizer().entries(surface):
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


def _splice(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, list[tuple[int, int, int]]]:
    """``text`` with each span replaced by its token, and the kept stretches as
    ``(start in result, start in text, length)``."""
    pieces: list[str] = []
    gaps: list[tuple[int, int, int]] = []
    pos = last = 0
    for a, b, kind in spans:
        gaps.append((pos, last, a - last))
        token = mask_token(kind)
        pieces += [text[last:a], token]
        pos += a - last + len(token)
        last = b
    gaps.append((pos, last, len(text) - last))
    pieces.append(text[last:])
    return "".join(pieces), gaps


def _to_original(gaps: list[tuple[int, int, int]], p: int) -> int:
    """Position in the original text of position ``p`` of a spliced text (``p`` outside tokens)."""
    for at, orig, length in gaps:
        if at <= p < at + length:
            return orig + p - at
    raise ValueError(p)


# --------------------------------------------------------------------------- regex rules


def _phones(s: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _PHONE.finditer(s):
        a, b = m.span()
        # Brackets around the whole number belong to the sentence: （090-1234-5678）.
        if s[a] == "(" and not re.match(r"\([0-9]{1,5}\)", s[a:b]):
            a += 1
        if s[b - 1] == ")" and s.count("(", a, b) < s.count(")", a, b):
            b -= 1
        while s[b - 1] == " ":
            b -= 1
        if _phone_ok(s[a:b]):
            out.append((a, b, KIND_PHONE))
    out += [(*m.span(1), KIND_PHONE) for m in _PHONE_LOCAL.finditer(s)]
    return out


def _phone_ok(candidate: str) -> bool:
    groups = re.findall(r"[0-9]+", candidate)
    if candidate.startswith("+81"):
        groups = groups[1:]
        if groups and groups[0] == "0":
            groups = groups[1:]
        if not groups or groups[0].startswith("0"):
            return False
        groups[0] = "0" + groups[0]
    digits = "".join(groups)
    if not digits.startswith("0") or digits.startswith("00"):
        return False
    if len(digits) == 11:
        ok_len = digits.startswith(_MOBILE_PREFIXES)
    else:
        ok_len = len(digits) == 10
    if not ok_len:
        return False
    if len(groups) == 1:
        return True
    return 2 <= len(groups[0]) <= 5 and 3 <= len(groups[-1]) <= 4 and len(groups) <= 3


def _addresses(s: str, get_morphs: Callable[[], list[Morph]]) -> list[tuple[int, int, str]]:
    out = []
    place_ends: set[int] | None = None
    for m in _BLOCK.finditer(s):
        b = m.start()
        # The run of address-like characters before the block (single spaces allowed), ≤ 30 chars.
        a = b
        while a > 0 and b - a < 30:
            ch = s[a - 1]
            if _RUN_CHAR.match(ch):
                a -= 1
            elif ch == " " and a - 2 >= 0 and _RUN_CHAR.match(s[a - 2]):
                a -= 1
            else:
                break
        run = s[a:b]
        pref = _PREF_RE.search(run)
        keep = _muni_end(run, pref.end() - 1 if pref else 0)
        has_place = keep is not None or pref is not None
        if keep is None and pref is not None and _town_ok(run[pref.end() :]):
            keep = pref.end()
        if keep is None:
            keep = len(run) - _trailing_town(run)
        if m.group("hyphen") and not has_place:
            if place_ends is None:
                place_ends = {x.end for x in get_morphs() if x.pos[1] == "固有名詞" and x.pos[2] == "地名"}
            if b not in place_ends and not (b - 1 in place_ends and s[b - 1] == " "):
                continue
        start = a + keep
        while start < b and s[start] == " ":
            start += 1
        end = m.end()
        tail = _BUILDING.match(s, end)
        if tail and tail.end() > end:
            end = tail.end()
            while s[end - 1] == " ":
                end -= 1
        out.append((start, end, KIND_ADDRESS))
    return out


# --------------------------------------------------------------------------- review


REVIEW_COLUMNS: tuple[str, ...] = ("comment_id", "kind", "original", "token", "start", "end", "context")


def review_table(
    texts: Sequence[str], results: Sequence[MaskResult], ids: Sequence[object] | None = None
) -> pd.DataFrame:
    """One row per masked item, for a person to check the masking.

    Columns: ``comment_id`` (from ``ids``, else the 0-based position), ``kind``, ``original``,
    ``token``, ``start``/``end`` (span in the original text) and ``context``: up to
    :data:`CONTEXT_CHARS` characters either side with the item in 【】, line breaks as spaces.
    The table holds the personal data itself: show it to the reviewer, never export it.
    """
    texts = list(texts)
    results = list(results)
    ids = list(range(len(texts))) if ids is None else list(ids)
    if not len(texts) == len(results) == len(ids):
        raise ValueError(
            f"本文・マスク結果・IDの件数が一致しません（本文 {len(texts)} 件、結果 {len(results)} 件、ID {len(ids)} 件）"
        )
    rows = []
    for cid, text, res in zip(ids, texts, results):
        text = text if isinstance(text, str) else ("" if _missing(text) else str(text))
        for item in res.found:
            left = text[max(0, item.start - CONTEXT_CHARS) : item.start]
            right = text[item.end : item.end + CONTEXT_CHARS]
            context = (
                ("…" if item.start > CONTEXT_CHARS else "")
                + f"{left}【{item.original}】{right}"
                + ("…" if item.end + CONTEXT_CHARS < len(text) else "")
            )
            rows.append(
                {
                    "comment_id": cid,
                    "kind": item.kind,
                    "original": item.original,
                    "token": item.token,
                    "start": item.start,
                    "end": item.end,
                    "context": re.sub(r"\r\n|[\r\n\t]", " ", context),
                }
            )
    return pd.DataFrame(rows, columns=list(REVIEW_COLUMNS))


def mask_comments(comments: pd.DataFrame, allow: Iterable[str] = (), masker: Masker | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mask personal data in a comment table's text before anything is embedded, saved or shown.

    Returns (the table with ``text`` masked and ``text_norm`` recomputed, the review table of what
    was masked — :func:`review_table`, for the person uploading only). Attributes are left as they
    are (columns of names or e-mail addresses are not offered as attributes on import).
    """
    from .corpus import normalize_text

    m = masker or Masker(allow=allow)
    originals = comments["text"].astype(str).tolist()
    results = m.mask_many(originals)
    out = comments.copy()
    out["text"] = [r.text for r in results]
    out["text_norm"] = [normalize_text(t) for t in out["text"]]
    return out, review_table(originals, results, ids=comments["comment_id"].astype(str).tolist())


def mask_summary(review: pd.DataFrame) -> dict[str, int]:
    """Masked items per kind, in :data:`ALL_KINDS` order (for the manifest and messages)."""
    counts = review["kind"].value_counts() if len(review) else pd.Series(dtype=int)
    return {k: int(counts.get(k, 0)) for k in ALL_KINDS if counts.get(k, 0)}
