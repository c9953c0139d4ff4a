"""Japanese tokenisation with SudachiPy, shared by the ``sudachi`` embedding and the keywords.

SudachiPy tokenizers are not thread-safe and Streamlit runs each session in its own thread, so the
(expensive, read-only) dictionary is shared and each thread gets its own tokenizer.

Analysis groups words by ``normalized_form`` (so 取り組み and 取組 count as one word) but people
read the ``surface`` form: ``normalized_form`` can turn ゴミ屋敷 into 塵屋敷. :class:`Token`
carries both, and :func:`surface_map` picks the most frequent surface for each normalised form.

Welfare terms from ``data/terms_ja.txt`` stay whole: SudachiPy splits 地域包括支援センター into four
words, so consecutive morphemes whose surfaces spell a listed term (longest match, starting and
ending on SudachiPy's own word boundaries) become one word; every spelling on a line of the list
shares one key, SudachiPy's normalised form of the line's first spelling (社協 and 社会福祉協議会
share 社会福祉協議会; ゴミ屋敷 keeps 塵屋敷 and is shown as written). This is done after analysis rather than with a
SudachiPy user dictionary because a user dictionary is a compiled binary that must be rebuilt (with
the system dictionary's exact build) whenever someone edits the list, and it cannot express aliases
as one key; merging keeps the list a plain text file that takes effect on the next start.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Iterable, NamedTuple, Protocol

from ..schema import DATA_DIR, normalize_text

STOPWORDS_PATH = DATA_DIR / "stopwords_ja.txt"
TERMS_PATH = DATA_DIR / "terms_ja.txt"

# Content words: nouns (not pronouns / numerals), verbs, adjectives, adjectival nouns.
CONTENT_POS = ("名詞", "動詞", "形容詞", "形状詞")


class Token(NamedTuple):
    """One content word: ``key`` groups variants (normalised form), ``surface`` is for display."""

    key: str
    surface: str
    pos: str


class Morpheme(NamedTuple):
    """One word of a text with everything phrase extraction and search need.

    ``begin``/``end`` are character offsets in the analysed (NFKC-normalised) text; ``key`` is the
    normalised form (the term key for listed terms); ``content`` is the :class:`Token` key when the
    word counts as a content word (what :meth:`SudachiTokenizer.content_words` returns), else
    ``None``; ``pos`` is SudachiPy's 6-field part of speech (terms: ``名詞,普通名詞,一般``).
    """

    surface: str
    key: str
    reading: str
    lemma: str
    pos: tuple[str, ...]
    begin: int
    end: int
    term: bool
    content: str | None


TERM_POS = ("名詞", "普通名詞", "一般", "*", "*", "*")


class Terms(NamedTuple):
    """A parsed terms file: ``keys`` maps every spelling (NFKC) to its concept key;
    ``prefixes`` holds every prefix of every spelling (for the longest-match walk)."""

    keys: dict[str, str]
    prefixes: frozenset[str]
    digest: str


def parse_terms(text: str) -> Terms:
    """Parse the terms-file format: one concept per line, key first, aliases after spaces, ``#`` comments.

    A spelling listed under two keys keeps the first (file order), so the result never depends on
    set or dict iteration order.
    """
    keys: dict[str, str] = {}
    for line in text.splitlines():
        words = [normalize_text(w) for w in line.split("#", 1)[0].split()]
        words = [w for w in words if w]
        if not words:
            continue
        for w in words:
            keys.setdefault(w, words[0])
            keys.setdefault(w.casefold(), words[0])  # search analyses case-folded text (ssw = SSW)
    prefixes = frozenset(w[:i] for w in keys for i in range(1, len(w) + 1))
    digest = hashlib.sha256("\n".join(f"{k}\t{v}" for k, v in sorted(keys.items())).encode("utf-8")).hexdigest()
    return Terms(keys, prefixes, digest)


@lru_cache(maxsize=4)
def load_terms(path: str | Path = TERMS_PATH) -> Terms:
    """The terms file (default ``data/terms_ja.txt``), parsed with :func:`parse_terms`."""
    return parse_terms(Path(path).read_text(encoding="utf-8"))


NO_TERMS = parse_terms("")


class Tokenizer(Protocol):
    """Anything that turns one text into its content words."""

    def content_words(self, text: str) -> list[Token]: ...


@lru_cache(maxsize=1)
def load_stopwords(path: str | Path = STOPWORDS_PATH) -> frozenset[str]:
    """Stopwords from the data file: one word per line, ``#`` starts a comment."""
    words = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.add(normalize_text(line))
    return frozenset(words)


@lru_cache(maxsize=1)
def _dictionary():
    from sudachipy import Dictionary

    return Dictionary(dict="core")


class SudachiTokenizer:
    """Content-word tokenizer over SudachiPy (split mode C keeps compounds like 生活保護), with the
    welfare terms of ``data/terms_ja.txt`` kept whole.

    Parameters
    ----------
    stopwords : words (normalised forms) to drop; defaults to ``data/stopwords_ja.txt``.
    mode : SudachiPy split mode, ``"A"``, ``"B"`` or ``"C"``.
    terms : a :class:`Terms` (see :func:`parse_terms`), a path to a terms file, or ``None`` for
        ``data/terms_ja.txt``; pass :data:`NO_TERMS` to turn term merging off.
    """

    def __init__(self, stopwords: Iterable[str] | None = None, mode: str = "C", terms: Terms | str | Path | None = None) -> None:
        self.stopwords = frozenset(stopwords) if stopwords is not None else load_stopwords()
        self.mode = mode
        if terms is None:
            terms = load_terms()
        elif not isinstance(terms, Terms):
            terms = load_terms(str(terms))
        self.terms = terms
        self._local = threading.local()
        # A term's key is SudachiPy's normalised form of its first spelling (joined over its words),
        # so a term that SudachiPy already reads as one word keeps the key it had without the list
        # (ゴミ屋敷 -> 塵屋敷) and keys stay comparable with every other word's.
        self._term_keys = {c: "".join(m.normalized_form() for m in self._tokenizer().tokenize(c)) or c for c in sorted(set(terms.keys.values()))}
        self._words: dict[tuple[int, str], Token | None] = {}
        self._morphs: dict[tuple[int, str], tuple] = {}
        self._last: tuple[str, list[list[Token]]] | None = None

    @property
    def fingerprint(self) -> str:
        """Content hash of what decides the words (mode, stopwords, terms): for cache keys of
        anything built from this tokenizer's output, e.g. the ``sudachi`` embedding."""
        payload = "\x00".join([self.mode, *sorted(self.stopwords), self.terms.digest])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def _term_spans(self, surfaces: list[str]) -> dict[int, tuple[int, str]]:
        """Longest listed term starting at each morpheme: ``{first index: (end index, key)}``."""
        keys, prefixes = self.terms.keys, self.terms.prefixes
        spans: dict[int, tuple[int, str]] = {}
        n = len(surfaces)
        i = 0
        while i < n:
            acc = surfaces[i]
            best = -1
            j = i
            while acc in prefixes:
                if acc in keys:
                    best = j
                j += 1
                if j == n:
                    break
                acc += surfaces[j]
            if best >= 0:
                spans[i] = (best + 1, self._term_keys[keys["".join(surfaces[i : best + 1])]])
                i = best + 1  # terms never overlap: the leftmost longest match wins
            else:
                i += 1
        return spans

    def _tokenizer(self):
        tok = getattr(self._local, "tok", None)
        if tok is None:
            from sudachipy import SplitMode

            tok = _dictionary().tokenizer(mode=getattr(SplitMode, self.mode))
            self._local.tok = tok
        return tok

    def _analyse(self, norm: str) -> list:
        """SudachiPy morphemes of ``norm``; long texts in pieces (SudachiPy refuses inputs over
        49,149 bytes), cut after a sentence end where possible, so every character is analysed."""
        tok = self._tokenizer()
        if len(norm) <= MAX_PIECE_CHARS:
            return list(tok.tokenize(norm))
        out: list = []
        for piece in _pieces(norm):
            out.extend(tok.tokenize(piece))
        return out

    def content_words(self, text: str) -> list[Token]:
        """Content words of ``text`` (NFKC-normalised first), stopwords and 1-char kana removed;
        listed terms are one word each (key = the term's key, surface = as written)."""
        norm = normalize_text(text)
        if not norm:
            return []
        out: list[Token] = []
        cache = self._words
        morphs = self._analyse(norm)
        surfaces = [m.surface() for m in morphs]
        spans = self._term_spans(surfaces) if self.terms.keys else {}
        i, n = 0, len(morphs)
        while i < n:
            if i in spans:
                end, term_key = spans[i]
                out.append(Token(key=term_key, surface="".join(surfaces[i:end]), pos="名詞"))
                i = end
                continue
            m = morphs[i]
            # A dictionary entry with a given surface always yields the same token (or none), so the
            # part-of-speech and stopword checks run once per distinct word, not once per occurrence.
            key = (m.word_id(), surfaces[i])
            i += 1
            tok = cache.get(key, _MISSING)
            if tok is _MISSING:
                tok = self._token(m)
                if not m.is_oov():
                    cache[key] = tok
            if tok is not None:
                out.append(tok)
        return out

    def morphemes(self, text: str, normalize: bool = True) -> list[Morpheme]:
        """Every word of ``text`` (function words and punctuation included), listed terms merged.

        Parameters
        ----------
        text : the text; NFKC-normalised first unless ``normalize=False`` (then the caller's own
            normalised text is analysed as is and offsets refer to it).

        Returns
        -------
        :class:`Morpheme` list in text order; offsets cover the analysed text without gaps.
        """
        norm = normalize_text(text) if normalize else text
        if not norm:
            return []
        morphs = self._analyse(norm)
        surfaces = [m.surface() for m in morphs]
        spans = self._term_spans(surfaces) if self.terms.keys else {}
        cache = self._morphs
        out: list[Morpheme] = []
        pos_at = 0
        i, n = 0, len(morphs)
        while i < n:
            if i in spans:
                end, term_key = spans[i]
                surface = "".join(surfaces[i:end])
                reading = "".join(morphs[k].reading_form() for k in range(i, end))
                out.append(Morpheme(surface, term_key, reading, term_key, TERM_POS, pos_at, pos_at + len(surface), True, term_key))
                pos_at += len(surface)
                i = end
                continue
            m = morphs[i]
            surface = surfaces[i]
            i += 1
            ck = (m.word_id(), surface)
            info = cache.get(ck)
            if info is None:
                tok = self._token(m)
                info = (m.normalized_form(), m.reading_form(), m.dictionary_form(), tuple(m.part_of_speech()), tok.key if tok else None)
                if not m.is_oov():
                    cache[ck] = info
            out.append(Morpheme(surface, info[0], info[1], info[2], info[3], pos_at, pos_at + len(surface), False, info[4]))
            pos_at += len(surface)
        return out

    def morphemes_all(self, texts: Iterable[str], n_threads: int = 2) -> list[list[Morpheme]]:
        """:meth:`morphemes` of every text (normalised), in order, on ``n_threads`` threads for
        large inputs (as :meth:`tokenize_all`). Not remembered: a corpus's morphemes take ~40 MB per
        10,000 comments, too much to keep alive for the rare second use."""
        return _map_chunks(self.morphemes, list(texts), n_threads)

    def _token(self, m) -> Token | None:
        pos = m.part_of_speech()
        if pos[0] not in CONTENT_POS:
            return None
        if pos[1] in ("数詞", "代名詞") or pos[1] == "非自立可能" and pos[0] == "名詞":
            return None
        key = m.normalized_form() if pos[0] == "名詞" else m.dictionary_form()
        surface = m.surface() if pos[0] == "名詞" else m.dictionary_form()
        if key in self.stopwords or surface in self.stopwords:
            return None
        if len(surface) == 1 and not _is_kanji(surface):
            return None
        return Token(key=key, surface=surface, pos=pos[0])

    def tokenize_all(self, texts: Iterable[str], n_threads: int = 2) -> list[list[Token]]:
        """:meth:`content_words` of every text, in order, on ``n_threads`` threads.

        SudachiPy releases the GIL while it analyses a text, so two threads tokenise 10,000
        comments in 0.5 s instead of 0.7 s. The result does not depend on ``n_threads``. The last
        corpus is remembered, so the embedding stage and the keywords share one tokenisation.
        """
        texts = list(texts)
        digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()
        last = self._last
        if last is not None and last[0] == digest:
            return [list(doc) for doc in last[1]]
        docs = _map_chunks(self.content_words, texts, n_threads)
        self._last = (digest, docs)
        return [list(doc) for doc in docs]


_MISSING = object()


#: Characters per SudachiPy call: 4 UTF-8 bytes at most each, so under its 49,149-byte limit.
MAX_PIECE_CHARS = 12_000
_PIECE_END = ("。", "！", "？", "!", "?", " ", "、")


def _pieces(text: str, size: int = MAX_PIECE_CHARS) -> list[str]:
    """``text`` cut into consecutive pieces of at most ``size`` characters, after a sentence end
    (or a space, or a comma) near the limit when there is one; ``"".join`` gives ``text`` back."""
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            window = text[start + size // 2:end]
            cut = max(window.rfind(ch) for ch in _PIECE_END)
            if cut >= 0:
                end = start + size // 2 + cut + 1
        out.append(text[start:end])
        start = end
    return out


def _map_chunks(fn, texts: list[str], n_threads: int) -> list:
    """``[fn(t) for t in texts]``, on ``n_threads`` threads for large inputs (same result)."""
    if n_threads <= 1 or len(texts) < 2000:
        return [fn(t) for t in texts]
    step = -(-len(texts) // n_threads)
    chunks = [texts[i : i + step] for i in range(0, len(texts), step)]
    with ThreadPoolExecutor(len(chunks)) as pool:
        parts = list(pool.map(lambda chunk: [fn(t) for t in chunk], chunks))
    return [doc for part in parts for doc in part]


def tokenize_all(tokenizer: Tokenizer, texts: Iterable[str]) -> list[list[Token]]:
    """Content words of every text with any :class:`Tokenizer` (its own ``tokenize_all`` if it has one)."""
    bulk = getattr(tokenizer, "tokenize_all", None)
    return bulk(texts) if bulk is not None else [tokenizer.content_words(t) for t in texts]


def _is_kanji(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def surface_map(docs: Iterable[Iterable[Token]]) -> dict[str, str]:
    """For each ``key``, the most frequent surface form (ties: first seen)."""
    counts = Counter((tok.key, tok.surface) for doc in docs for tok in doc)
    best: dict[str, tuple[int, str]] = {}
    for (key, surface), n in counts.items():  # insertion order = first seen, so ties keep the first
        if key not in best or n > best[key][0]:
            best[key] = (n, surface)
    return {k: v[1] for k, v in best.items()}


@lru_cache(maxsize=1)
def default_tokenizer() -> SudachiTokenizer:
    """A process-wide tokenizer object; safe to share because it keeps one SudachiPy tokenizer per thread."""
    return SudachiTokenizer()
