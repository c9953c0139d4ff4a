"""Forgiving word search: 「たらいまわし」 finds たらい回し, 「取組」 finds 取り組み, 「ケアマネ」 finds
ケアマネジャー, 「ｿｰｼｬﾙ」 finds ソーシャル.

A word matches a comment in any of three ways, and the spans to highlight are always offsets into
the ORIGINAL text:

surface     the NFKC-normalised, case-folded text contains the word (what KWIC always did);
normalised  SudachiPy's normalised forms match word for word, starting and ending on word
            boundaries (取組 = 取り組み, 拒む = 拒ん(で)); a listed term's spellings share one form,
            so 社協 = 社会福祉協議会 and ケアマネ = ケアマネジャー (``data/terms_ja.txt``);
reading     the katakana readings match on word boundaries (たらいまわし = たらい回し). To keep
            homophones apart (機関 / 期間, 意見 / 違憲), a reading match counts only when the query
            or the matched text is written without kanji, or both use the same kanji in the same
            order (取組 / 取り組み).

Several words separated by spaces must all match. :class:`TextIndex` analyses a corpus once; a
query then scans three concatenated strings with C-level ``re`` searches and numpy, so it does
not loop over comments. Measured with ``bench/naming_demo.py`` on 10,000 synthetic comments (2
shared cores): building the index 2.0 s; :meth:`TextIndex.matches` median 2.1 ms, p95 9 ms, max
11 ms over 11 queries x 5 (支援, in a third of the comments, is the slowest); :meth:`TextIndex.mask`
median 1.7 ms. :meth:`TextIndex.find` returns one list per comment, which on a large heap can
trigger a garbage collection (seen up to ~80 ms): prefer ``matches`` or ``mask`` there.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from typing import Sequence

import numpy as np

from .kwic import _folded_with_map
from .tokens import SudachiTokenizer, default_tokenizer

__all__ = ["TextIndex", "build_index", "find", "match_mask", "suggest"]

_SEP = "\x00"  # between documents in the concatenated channels; never in a query


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).casefold()


_FOLD1: dict[str, bool] = {}


def _simple_char(c: str) -> bool:
    """Does ``c`` fold to exactly one character that is not a combining mark?"""
    ok = _FOLD1.get(c)
    if ok is None:
        f = _fold(c)
        ok = len(f) == 1 and not unicodedata.combining(f) and not unicodedata.combining(c)
        _FOLD1[c] = ok
    return ok


def _fold_map(text: str) -> tuple[str, np.ndarray, np.ndarray]:
    """Folded text and, per folded character, the original (start, end) it came from."""
    if all(_simple_char(c) for c in set(text)):
        idx = np.arange(len(text), dtype=np.int32)
        return "".join(_fold(c) for c in text), idx, idx + 1
    folded, starts, ends = _folded_with_map(text)
    return folded, starts.astype(np.int32), ends.astype(np.int32)


def _kanji(s: str) -> str:
    return "".join(c for c in s if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or c == "々")


def _reading(m) -> str:
    # Symbols read as キゴウ and spaces as nothing useful: keep their surface instead.
    if m.pos[0] in ("補助記号", "空白", "記号") or not m.reading:
        return m.surface
    return m.reading


class _Channel:
    """One searchable string over all documents with per-character morpheme ids and word
    boundaries (``starts[p]``: a word starts at p; ``ends[p]``: a word ends just before p)."""

    def __init__(self, pieces: list[str], morph_ids: list[int]) -> None:
        self.text = "".join(pieces)
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.morph = np.repeat(np.asarray(morph_ids, dtype=np.int32), lengths)
        self.starts = np.zeros(len(self.text) + 1, dtype=bool)
        self.ends = np.zeros(len(self.text) + 1, dtype=bool)
        real = np.asarray(morph_ids) >= 0
        self.starts[offsets[:-1][real & (lengths > 0)]] = True
        self.ends[offsets[1:][real & (lengths > 0)]] = True

    def aligned(self, needle: str) -> np.ndarray:
        """Start positions of ``needle`` that begin and end on word boundaries."""
        if not needle:
            return np.empty(0, dtype=np.int64)
        pos = np.fromiter((m.start() for m in re.finditer(re.escape(needle), self.text)), dtype=np.int64)
        if pos.size == 0:
            return pos
        return pos[self.starts[pos] & self.ends[pos + len(needle)]]


class TextIndex:
    """Search index over ``texts`` (n comments, original text).

    Parameters
    ----------
    texts : the comments as shown to people; spans refer to these strings.
    tokenizer : a :class:`~analysis.text.tokens.SudachiTokenizer` (terms list included); default shared one.

    The index is read-only after construction, so one instance can serve many threads (queries
    are analysed with the tokenizer's per-thread SudachiPy tokenizer).
    """

    def __init__(self, texts: Sequence[str], tokenizer: SudachiTokenizer | None = None) -> None:
        self.texts = [str(t) for t in texts]
        self.tokenizer = tokenizer if tokenizer is not None else default_tokenizer()
        n = len(self.texts)
        surf_pieces: list[str] = []
        surf_start: list[np.ndarray] = []
        surf_end: list[np.ndarray] = []
        norm_pieces: list[str] = []
        read_pieces: list[str] = []
        piece_morph: list[int] = []
        m_doc: list[int] = []
        m_start: list[int] = []
        m_end: list[int] = []
        vocab: Counter = Counter()
        vocab_surface: dict[str, Counter] = {}
        vocab_reading: dict[str, str] = {}
        sep = np.full(1, -1, dtype=np.int32)
        for d, text in enumerate(self.texts):
            folded, o_start, o_end = _fold_map(text)
            surf_pieces.append(folded)
            surf_start.extend((o_start, sep))
            surf_end.extend((o_end, sep))
            surf_pieces.append(_SEP)
            ms = self.tokenizer.morphemes(folded, normalize=False) if folded else []
            if ms and ms[-1].end != len(folded):
                ms = []  # SudachiPy changed the text's length: keep surface search only
            seen_keys: set[str] = set()
            for m in ms:
                mid = len(m_doc)
                m_doc.append(d)
                m_start.append(int(o_start[m.begin]))
                m_end.append(int(o_end[m.end - 1]))
                norm_pieces.append(m.key)
                read_pieces.append(_reading(m))
                piece_morph.append(mid)
                if m.content and m.content not in seen_keys:
                    seen_keys.add(m.content)
                    vocab[m.content] += 1
                    vocab_surface.setdefault(m.content, Counter())[m.surface] += 1
                    vocab_reading.setdefault(m.content, _reading(m))
            norm_pieces.append(_SEP)
            read_pieces.append(_SEP)
            piece_morph.append(-1)
        self._surface = "".join(surf_pieces)
        self._surf_start = np.concatenate(surf_start) if surf_start else np.empty(0, dtype=np.int32)
        self._surf_end = np.concatenate(surf_end) if surf_end else np.empty(0, dtype=np.int32)
        doc_lengths = np.fromiter((len(p) + 1 for p in surf_pieces[::2]), dtype=np.int64, count=n)
        self._surf_doc_start = np.concatenate([[0], np.cumsum(doc_lengths)[:-1]]) if n else np.empty(0, dtype=np.int64)
        self._norm = _Channel(norm_pieces, piece_morph)
        self._read = _Channel(read_pieces, piece_morph)
        self._m_doc = np.asarray(m_doc, dtype=np.int32)
        self._m_start = np.asarray(m_start, dtype=np.int32)
        self._m_end = np.asarray(m_end, dtype=np.int32)
        # Vocabulary for suggestions: key -> (most used surface, reading, number of comments).
        self._vocab = sorted(
            (min(vocab_surface[k].items(), key=lambda kv: (-kv[1], kv[0]))[0], vocab_reading[k], c) for k, c in vocab.items()
        )

    def __len__(self) -> int:
        return len(self.texts)

    # ------------------------------------------------------------------ matching one word

    def _word_hits(self, word: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(doc, start, end) arrays of every match of one folded word, any channel."""
        docs: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        ends: list[np.ndarray] = []
        pos = np.fromiter((m.start() for m in re.finditer(re.escape(word), self._surface)), dtype=np.int64)
        if pos.size:
            docs.append(np.searchsorted(self._surf_doc_start, pos, side="right") - 1)
            starts.append(self._surf_start[pos])
            ends.append(self._surf_end[pos + len(word) - 1])
        qms = self.tokenizer.morphemes(word, normalize=False)
        if qms:
            q_norm = "".join(m.key for m in qms)
            pos = self._norm.aligned(q_norm)
            if pos.size:
                first = self._norm.morph[pos]
                last = self._norm.morph[pos + len(q_norm) - 1]
                docs.append(self._m_doc[first])
                starts.append(self._m_start[first])
                ends.append(self._m_end[last])
            q_read = "".join(_reading(m) for m in qms)
            if len(q_read) >= 2:
                pos = self._read.aligned(q_read)
                if pos.size:
                    first = self._read.morph[pos]
                    last = self._read.morph[pos + len(q_read) - 1]
                    d, s, e = self._m_doc[first], self._m_start[first], self._m_end[last]
                    q_kanji = _kanji(word)
                    if q_kanji:
                        keep = np.fromiter(
                            (not (k := _kanji(self.texts[di][si:ei])) or k == q_kanji for di, si, ei in zip(d.tolist(), s.tolist(), e.tolist())),
                            dtype=bool, count=len(d),
                        )
                        d, s, e = d[keep], s[keep], e[keep]
                    docs.append(d)
                    starts.append(s)
                    ends.append(e)
        if not docs:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        return np.concatenate(docs).astype(np.int64), np.concatenate(starts).astype(np.int64), np.concatenate(ends).astype(np.int64)

    # ------------------------------------------------------------------ public

    def _hits(self, query: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(n,) bool of matching texts and the (doc, start, end) arrays of their matches."""
        words = _fold(query or "").split()
        ok = np.zeros(len(self.texts), dtype=bool)
        empty = np.empty(0, dtype=np.int64)
        if not words or not self.texts:
            return ok, empty, empty, empty
        hits = [self._word_hits(w) for w in dict.fromkeys(words)]
        ok[:] = True
        for d, _, _ in hits:
            present = np.zeros(len(self.texts), dtype=bool)
            present[d] = True
            ok &= present
        d = np.concatenate([h[0] for h in hits])
        keep = ok[d]
        return ok, d[keep], np.concatenate([h[1] for h in hits])[keep], np.concatenate([h[2] for h in hits])[keep]

    def matches(self, query: str) -> dict[int, list[tuple[int, int]]]:
        """Only the matching texts: ``{row: [(start, end), ...]}`` in row order, spans into
        ``texts[row]``, sorted and non-overlapping. ``query`` is split at spaces (full-width too);
        every word must match; a blank query matches nothing.

        Prefer this to :meth:`find` on large corpora: it allocates nothing per non-matching text.
        """
        _, d, s, e = self._hits(query)
        out: dict[int, list[tuple[int, int]]] = {}
        order = np.lexsort((-e, s, d))
        for di, si, ei in zip(d[order].tolist(), s[order].tolist(), e[order].tolist()):
            spans = out.get(di)
            if spans is None:
                out[di] = [(si, ei)]
            elif si < spans[-1][1]:
                if ei > spans[-1][1]:
                    spans[-1] = (spans[-1][0], ei)
            else:
                spans.append((si, ei))
        return out

    def find(self, query: str) -> list[list[tuple[int, int]]]:
        """Spans to highlight in each text: ``result[i]`` lists (start, end) offsets into
        ``texts[i]``, sorted and non-overlapping; ``[]`` where the text does not match
        (see :meth:`matches` for the rules)."""
        found = self.matches(query)
        return [found.get(i, []) for i in range(len(self.texts))]

    def mask(self, query: str) -> np.ndarray:
        """(n,) bool: which texts match ``query`` (no spans are built: cheapest for counts and filters)."""
        return self._hits(query)[0]

    def suggest(self, query: str, k: int = 5) -> list[tuple[str, int]]:
        """Words of the corpus that look or sound like ``query``: ``[(word, n_comments), ...]``,
        most similar first (character-bigram Dice on spelling and katakana reading, >= 0.3);
        for when :meth:`find` matched nothing and before offering search by meaning."""
        q = _fold(query or "").replace(" ", "")
        if not q:
            return []
        qms = self.tokenizer.morphemes(q, normalize=False)
        q_read = "".join(_reading(m) for m in qms)
        qa, qb = _bigrams(q), _bigrams(q_read)
        scored = []
        for surface, reading, count in self._vocab:
            sim = max(_dice(qa, _bigrams(_fold(surface))), _dice(qb, _bigrams(reading)))
            if sim >= 0.3 and _fold(surface) != q:
                scored.append((-round(sim, 6), -count, surface))
        scored.sort()
        return [(w, -c) for _, c, w in scored[:k]]


def _bigrams(s: str) -> frozenset[str]:
    return frozenset(s[i : i + 2] for i in range(len(s) - 1)) if len(s) > 1 else frozenset([s]) if s else frozenset()


def _dice(a: frozenset[str], b: frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


# ---------------------------------------------------------------------- convenience functions

_CACHE: "OrderedDict[tuple[str, int], TextIndex]" = OrderedDict()
_LOCK = threading.Lock()


def build_index(texts: Sequence[str], tokenizer: SudachiTokenizer | None = None) -> TextIndex:
    """A :class:`TextIndex` for ``texts``, reused while the same texts (sha256) and tokenizer
    come back (the last four corpora are kept)."""
    tok = tokenizer if tokenizer is not None else default_tokenizer()
    texts = [str(t) for t in texts]
    key = (hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest(), id(tok))
    with _LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    index = TextIndex(texts, tok)
    with _LOCK:
        _CACHE[key] = index
        while len(_CACHE) > 4:
            _CACHE.popitem(last=False)
    return index


def find(texts: Sequence[str], query: str, tokenizer: SudachiTokenizer | None = None) -> list[list[tuple[int, int]]]:
    """Spans of ``query`` in each of ``texts`` (see :meth:`TextIndex.find`); ``[]`` = no match."""
    return build_index(texts, tokenizer).find(query)


def match_mask(texts: Sequence[str], query: str, tokenizer: SudachiTokenizer | None = None) -> np.ndarray:
    """(len(texts),) bool: which texts match ``query``."""
    return build_index(texts, tokenizer).mask(query)


def suggest(texts: Sequence[str], query: str, k: int = 5, tokenizer: SudachiTokenizer | None = None) -> list[tuple[str, int]]:
    """Corpus words that look or sound like ``query`` (see :meth:`TextIndex.suggest`)."""
    return build_index(texts, tokenizer).suggest(query, k)
