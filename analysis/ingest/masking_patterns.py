"""The pattern rules of masking: phone numbers, e-mail addresses, postal codes, addresses, 個人番号.

Each ``*_spans`` function gives the ``(start, end)`` spans of one kind in an NFKC-normalised text;
:class:`analysis.ingest.masking.Masker` settles overlaps between rules and replaces the spans with tokens.

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
"""

from __future__ import annotations

import re
from typing import Callable

#: Kanji as a regex character class (CJK ideographs, 々, 〆); the name rule uses it too.
KANJI = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆"
_DIGIT = re.compile("[0-9]|丁目|番地")  # the rules that need a number (kanji numerals: 三丁目)

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
_MUNI_AHEAD = r"(?:" + "|".join(PREFECTURES) + rf"|[{KANJI}ぁ-んァ-ヴー〇○]{{1,8}}?[市区町村郡])"

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
    rf"\s?(?:[{KANJI}ァ-ヴーA-Za-z0-9・]{{0,15}}?(?:マンション|ハイツ|アパート|コーポ|レジデンス|メゾン|荘|ビル|団地|棟))?"
    r"\s?(?:-?[0-9]+(?:号室|号棟|階|F)|[0-9]+\s?号室)?"
)
# Characters of the text before a block that may belong to an address; the town part (what is
# masked) is narrower: no hiragana but the が・の・ケ of 霞が関, 梅の木, 自由が丘.
_RUN_CHAR = re.compile(f"[{KANJI}ぁ-んァ-ヴー〇○◯△□●▲■×]")
_TOWN = re.compile(f"[{KANJI}ァ-ヴー〇○◯△□●▲■×ヶヵ](?:[{KANJI}ァ-ヴー〇○◯△□●▲■×がのケヶヵ]{{0,13}}[{KANJI}ァ-ヴー〇○◯△□●▲■×ヶヵ])?")
_MUNI_SUFFIX = "市区町村郡"


def has_number(s: str) -> bool:
    """Whether ``s`` has what the rules below but e-mail need: a digit, 丁目 or 番地."""
    return _DIGIT.search(s) is not None


def email_spans(s: str) -> list[tuple[int, int]]:
    """E-mail addresses, also written with ＠, (at), [at] or アットマーク."""
    if "@" not in s and "at" not in s and "アットマーク" not in s:
        return []
    return [m.span() for m in _EMAIL.finditer(s)]


def phone_spans(s: str) -> list[tuple[int, int]]:
    """Phone numbers: 10 or 11 digits from 0, or 8 digits after a 電話・TEL word."""
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
            out.append((a, b))
    out += [m.span(1) for m in _PHONE_LOCAL.finditer(s)]
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


def my_number_spans(s: str) -> list[tuple[int, int]]:
    """12 digits after マイナンバー or 個人番号."""
    return [m.span(1) for m in _MYNUMBER.finditer(s)]


def postal_spans(s: str) -> list[tuple[int, int]]:
    """Postal codes after 〒 or a 郵便番号 word, or right before a prefecture or a municipality."""
    return [m.span("n" if "n" in m.groupdict() else 0) for pattern in _POSTAL for m in pattern.finditer(s)]


def address_spans(s: str, place_ends: Callable[[], set[int]]) -> list[tuple[int, int]]:
    """Block numbers with the town before them; ``place_ends()``: where place words end (asked at most once)."""
    out = []
    places: set[int] | None = None
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
            if places is None:
                places = place_ends()
            if b not in places and not (b - 1 in places and s[b - 1] == " "):
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
        out.append((start, end))
    return out


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
