"""Japanese tokenisation with SudachiPy, shared by the ``sudachi`` embedding and the keywords.

SudachiPy tokenizers are not thread-safe and Streamlit runs each session in its own thread, so the
(expensive, read-only) dictionary is shared and each thread gets its own tokenizer.

Analysis groups words by ``normalized_form`` (so 取り組み and 取組 count as one word) but people
read the ``surface`` form: ``normalized_form`` can turn ゴミ屋敷 into 塵屋敷. :class:`Token`
carries both, and :func:`surface_map` picks the most frequent surface for each normalised form.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Protocol

from .corpus import DATA_DIR, normalize_text

STOPWORDS_PATH = DATA_DIR / "stopwords_ja.txt"

# Content words: nouns (not pronouns / numerals), verbs, adjectives, adjectival nouns.
CONTENT_POS = ("名詞", "動詞", "形容詞", "形状詞")


@dataclass(frozen=True)
class Token:
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

    def _tokenizer(self):
        tok = getattr(self._local, "tok", None)
        if tok is None:
            from sudachipy import SplitMode

            tok = _dictionary().tokenizer(mode=getattr(SplitMode, self.mode))
            self._local.tok = tok
        return tok

    def content_words(self, text: str) -> list[Token]:
        """Content words of ``text`` (NFKC-normalised first), stopwords and 1-char kana removed."""
        out: list[Token] = []
        norm = normalize_text(text)
        if not norm:
            return out
        for m in self._tokenizer().tokenize(norm):
            pos = m.part_of_speech()
            if pos[0] not in CONTENT_POS:
                continue
            if pos[1] in ("数詞", "代名詞") or pos[1] == "非自立可能" and pos[0] == "名詞":
                continue
            key = m.normalized_form() if pos[0] == "名詞" else m.dictionary_form()
            surface = m.surface() if pos[0] == "名詞" else m.dictionary_form()
            if key in self.stopwords or surface in self.stopwords:
                continue
            if len(surface) == 1 and not _is_kanji(surface):
                continue
            out.append(Token(key=key, surface=surface, pos=pos[0]))
        return out

    def tokenize_all(self, texts: Iterable[str]) -> list[list[Token]]:
        return [self.content_words(t) for t in texts]


def _is_kanji(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def surface_map(docs: Iterable[Iterable[Token]]) -> dict[str, str]:
    """For each ``key``, the most frequent surface form (ties: first seen)."""
    counts: dict[str, Counter] = {}
    for doc in docs:
        for tok in doc:
            counts.setdefault(tok.key, Counter())[tok.surface] += 1
    return {k: c.most_common(1)[0][0] for k, c in counts.items()}


@lru_cache(maxsize=1)
def default_tokenizer() -> SudachiTokenizer:
    """A process-wide tokenizer object; safe to share because it keeps one SudachiPy tokenizer per thread."""
    return SudachiTokenizer()
