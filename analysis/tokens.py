"""Japanese tokenisation with SudachiPy, shared by the ``sudachi`` embedding and the keywords.

SudachiPy tokenizers are not thread-safe and Streamlit runs each session in its own thread, so the
(expensive, read-only) dictionary is shared and each thread gets its own tokenizer.

Analysis groups words by ``normalized_form`` (so 取り組み and 取組 count as one word) but people
read the ``surface`` form: ``normalized_form`` can turn ゴミ屋敷 into 塵屋敷. :class:`Token`
carries both, and :func:`surface_map` picks the most frequent surface for each normalised form.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Iterable, NamedTuple, Protocol

from .corpus import DATA_DIR, normalize_text

STOPWORDS_PATH = DATA_DIR / "stopwords_ja.txt"

# Content words: nouns (not pronouns / numerals), verbs, adjectives, adjectival nouns.
CONTENT_POS = ("名詞", "動詞", "形容詞", "形状詞")


class Token(NamedTuple):
    """One content word: ``key`` groups variants (normalised form), ``surface`` is for display."""

    key: str
    surface: str
    pos: str


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
    """Content-word tokenizer over SudachiPy (split mode C keeps compounds like 生活保護).

    Parameters
    ----------
    stopwords : words (normalised forms) to drop; defaults to ``data/stopwords_ja.txt``.
    mode : SudachiPy split mode, ``"A"``, ``"B"`` or ``"C"``.
    """

    def __init__(self, stopwords: Iterable[str] | None = None, mode: str = "C") -> None:
        self.stopwords = frozenset(stopwords) if stopwords is not None else load_stopwords()
        self.mode = mode
        self._local = threading.local()
        self._words: dict[tuple[int, str], Token | None] = {}
        self._last: tuple[str, list[list[Token]]] | None = None

    def _tokenizer(self):
        tok = getattr(self._local, "tok", None)
        if tok is None:
            from sudachipy import SplitMode

            tok = _dictionary().tokenizer(mode=getattr(SplitMode, self.mode))
            self._local.tok = tok
        return tok

    def content_words(self, text: str) -> list[Token]:
        """Content words of ``text`` (NFKC-normalised first), stopwords and 1-char kana removed."""
        norm = normalize_text(text)
        if not norm:
            return []
        out: list[Token] = []
        cache = self._words
        for m in self._tokenizer().tokenize(norm):
            # A dictionary entry with a given surface always yields the same token (or none), so the
            # part-of-speech and stopword checks run once per distinct word, not once per occurrence.
            key = (m.word_id(), m.surface())
            tok = cache.get(key, _MISSING)
            if tok is _MISSING:
                tok = self._token(m)
                if not m.is_oov():
                    cache[key] = tok
            if tok is not None:
                out.append(tok)
        return out

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
        if n_threads <= 1 or len(texts) < 2000:
            docs = [self.content_words(t) for t in texts]
        else:
            step = -(-len(texts) // n_threads)
            chunks = [texts[i : i + step] for i in range(0, len(texts), step)]
            with ThreadPoolExecutor(len(chunks)) as pool:
                parts = list(pool.map(lambda chunk: [self.content_words(t) for t in chunk], chunks))
            docs = [doc for part in parts for doc in part]
        self._last = (digest, docs)
        return [list(doc) for doc in docs]


_MISSING = object()


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
