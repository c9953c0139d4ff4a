"""Masking of personal data in comments, before anything is embedded, saved, shown or exported.

Survey answers sometimes name people or give a phone number or an address. :class:`Masker`
replaces each such item with a token (``〔人名〕``, ``〔電話番号〕`` …) and reports what it replaced
(:class:`Masked`, spans in the original text), so a person can review the decisions
(:func:`review_table`) before the masked text goes anywhere.

Rules (matching runs on an NFKC-normalised copy; spans and the masked text use the original)

人名
    Person names, from SudachiPy's part of speech with honorifics and job titles as context
    (:mod:`analysis.ingest.masking_names`).
電話番号, メールアドレス, 郵便番号, 住所, 個人番号
    Patterns (:mod:`analysis.ingest.masking_patterns`). **The prefecture and the municipality of an address
    stay visible** (「東京都千代田区〔住所〕」): they are what an analysis of regional differences
    needs and identify nobody; what follows them does.

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

import re
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import pandas as pd

from ..schema import DATA_DIR
from .masking_names import (
    MAX_CHUNK_CHARS,
    Morph,
    MorphTagger,
    SudachiTagger,
    name_spans,
    place_word_ends,
)
from .masking_patterns import (
    address_spans,
    email_spans,
    has_number,
    my_number_spans,
    phone_spans,
    postal_spans,
)

# Morph, MorphTagger and MAX_CHUNK_CHARS are imported from here too (tests pass their own tagger).
__all__ = [
    "ALL_KINDS", "ALLOW_PATH", "CONTEXT_CHARS", "DEFAULT_ALLOW", "KIND_ADDRESS", "KIND_EMAIL", "KIND_MYNUMBER",
    "KIND_NAME", "KIND_PHONE", "KIND_POSTAL", "MAX_CHUNK_CHARS", "REVIEW_COLUMNS", "Masked", "MaskResult", "Masker",
    "Morph", "MorphTagger", "SudachiTagger", "load_allow_list", "mask_comments", "mask_summary", "mask_token",
    "review_table",
]

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

        def found(kind: str, spans: list[tuple[int, int]]) -> None:
            out.extend((a, b, kind) for a, b in spans)

        if KIND_EMAIL in kinds:
            found(KIND_EMAIL, email_spans(s))
        if has_number(s):
            if KIND_PHONE in kinds:
                found(KIND_PHONE, phone_spans(s))
            if KIND_MYNUMBER in kinds:
                found(KIND_MYNUMBER, my_number_spans(s))
            if KIND_POSTAL in kinds:
                found(KIND_POSTAL, postal_spans(s))
            if KIND_ADDRESS in kinds:
                found(KIND_ADDRESS, address_spans(s, lambda: place_word_ends(get_morphs())))
        if KIND_NAME in kinds:
            found(KIND_NAME, name_spans(s, get_morphs(), self._get_tokenizer()))
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
    from ..schema import normalize_text

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
