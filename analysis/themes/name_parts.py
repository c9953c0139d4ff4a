"""Candidate halves of theme names: the phrases of a theme's comments, grouped, filtered and scored.

Used by :mod:`analysis.themes.naming`, which composes names from them.

Candidates are the phrases of
:mod:`analysis.themes.phrases` (noun phrases with compounds kept, 「NのN」, noun + particle + predicate with
negation kept and the ending normalised, and subject-less predicates that are negated or end in
てしまう / づらい ...). A predicate is a candidate only when it says what hurts: negated, ending in a
trouble ending (止まってしまう, 相談しづらい, 理解してほしい), or with a word of
``data/problem_ja.txt``. All such predicates about one subject are one candidate, shown in their
most used wording among those whose words several members share (情報共有ができていない /
情報共有が難しい); a negated problem word (間違っていない) counts toward its subject but is never
shown, and alone is no problem.

Topics. A topic names who or what is concerned. Words of ``data/nontopic_ja.txt`` (自分, 相手,
場合, 状態 ...) and a deictic prefix with one noun (当課, 自課, 本市) never do. Generic words
(``data/generic_ja.txt``) never name a theme alone; those of ``data/generic_topics_ja.txt`` (行政,
相談, 担当者 ...) may be the topic half of a pair whose problem is specific and has no topic of its
own (行政：不満, 担当者：動いてくれない).

Scoring. Each candidate of a theme gets, in [0, 1]::

    score = 0.30 centrality    cosine to the theme's centre, divided by the best candidate's: in the
                               run's own space when ``encode`` is given (only the 10 best candidates
                               per role are encoded), else against the lexical centre
                               (:mod:`analysis.themes.centres`)
          + 0.25 support       log(1 + w) / log(1 + n): w = members carrying the phrase, each weighted
                               by its closeness to the centre (mean weight 1), n = members
          + 0.15 coverage      sum of 1 / (rank + 1) over the theme's keywords it contains, capped at 1
          + 0.20 distinctness  1 - (share of other comments carrying it) / (share of members carrying it), >= 0
          + 0.10 specificity   share of words neither generic nor non-topic x concreteness (1 term or
                               compound, 0.75 plain noun, 0.5 action noun mostly used as a verb
                               (開催する), 0.25 quality (基本的))

Tiers come first: carried by >= 2 members (tier 2) beats carried by one member whose words all
occur in >= 2 members (tier 1); anything with a word from a single comment is not used while
anything else qualifies. Each half of a name is taken only from its pool's best tier, so a phrase
from one comment never beats one shared by several, however central it is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..schema import DATA_DIR, normalize_text
from .centres import Encode, encode_cos
from .phrases import PhraseOcc, extract_phrases

__all__ = ["Group", "Candidate", "WordLists", "word_lists", "concept_map", "keys_of", "analyse", "keyword_ranks",
           "make_candidate", "rescore", "rank_key", "shortlist", "rescore_with_encoder", "load_wordlist",
           "GENERIC_PATH", "PROBLEM_PATH", "NONTOPIC_PATH", "GENERIC_TOPICS_PATH", "WEIGHTS", "SHORTLIST"]

GENERIC_PATH = DATA_DIR / "generic_ja.txt"
PROBLEM_PATH = DATA_DIR / "problem_ja.txt"
NONTOPIC_PATH = DATA_DIR / "nontopic_ja.txt"
GENERIC_TOPICS_PATH = DATA_DIR / "generic_topics_ja.txt"
WEIGHTS = {"centrality": 0.30, "support": 0.25, "coverage": 0.15, "distinct": 0.20, "specific": 0.10}
SHORTLIST = 10  # candidates per role and theme that are embedded with ``encode``


@lru_cache(maxsize=8)
def load_wordlist(path: str | Path) -> tuple[str, ...]:
    """Words of a word-list data file: one per line, ``#`` comments, NFKC-normalised, file order."""
    out: list[str] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        w = normalize_text(line.split("#", 1)[0])
        if w and w not in out:
            out.append(w)
    return tuple(out)


@lru_cache(maxsize=8)
def _concept_lines(path: str) -> tuple[tuple[str, ...], ...]:
    """Lines of a word-list file that may carry aliases (``不安 不安感``): first word = concept."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        words = tuple(normalize_text(w) for w in line.split("#", 1)[0].split())
        if words:
            out.append(words)
    return tuple(out)


def concept_map(path: str, tokenizer) -> dict[str, str]:
    """Every spelling and key of a concept file mapped to its concept (the first key of its line)."""
    out: dict[str, str] = {}
    for words in _concept_lines(path):
        keys = sorted(keys_of(words[:1], tokenizer))
        head = next((k for k in keys if k != words[0]), words[0])
        for k in keys_of(words, tokenizer):
            out.setdefault(k, head)
    return out


def keys_of(words: Iterable[str], tokenizer) -> frozenset[str]:
    """The words as written plus their keys (a one-word entry's normalised form: 有る for ある)."""
    keys: set[str] = set()
    for w in words:
        keys.add(w)
        toks = tokenizer.content_words(w)
        if len(toks) == 1:
            keys.add(toks[0].key)
    return frozenset(keys)



# --------------------------------------------------------------------------- candidates


@dataclass
class Group:
    """All occurrences of one candidate key over the corpus."""

    kind: str
    nouns: tuple[str, ...]
    ascii: bool
    concrete: float  # lowest over the occurrences
    problem: bool
    at_row: dict = field(default_factory=dict)  # row -> (text, verbatim, words, negated, double), first in the row
    span_at: dict = field(default_factory=dict)  # row -> (start, end) of that first occurrence (NFKC text)
    n_occ: int = 0
    n_verbal: int = 0

    @property
    def concreteness(self) -> float:
        # A サ変 noun mostly used as a verb (開催する) names an activity; one mostly used as a noun
        # (組織の, 組織として) names a thing, like any plain noun.
        if self.concrete == 0.5 and self.n_verbal * 2 < self.n_occ:
            return 0.75
        return self.concrete

    def variant(self, rows: Iterable[int], shared=None) -> tuple[str, str, tuple[str, ...], bool, bool]:
        """The wording most used in ``rows`` (ties: shorter, then code-point order) as
        ``(text, verbatim, words, negated, double)``; the verbatim form is the smallest in
        code-point order, so row order never matters. A double negative (間違っていない) is shown
        only when nothing else is there; with ``shared`` (words -> bool), wordings whose words are
        all shared by several members come next: 「情報共有ができていない」 over 「情報共有が難しい」
        when only one member says 難しい."""
        counts: Counter = Counter()
        best_of: dict[str, tuple] = {}
        for r in rows:
            v = self.at_row[r]
            counts[v[0]] += 1
            if v[0] not in best_of or v[1] < best_of[v[0]][1]:
                best_of[v[0]] = v
        ok = (lambda t: 0 if shared(best_of[t][2]) else 1) if shared is not None else (lambda t: 0)
        text = min(counts.items(), key=lambda kv: (best_of[kv[0]][4], ok(kv[0]), -kv[1], len(kv[0]), kv[0]))[0]
        return best_of[text]


@dataclass
class Candidate:
    key: tuple
    text: str
    verbatim: str
    role: str
    tier: int
    df: int
    rows: tuple[int, ...]
    words: tuple[str, ...]
    nouns: tuple[str, ...]
    own_topic: bool  # has a noun that is neither generic nor a problem word
    concrete: float
    feats: dict
    score: float = 0.0
    # A topic made of one generic word (行政, 相談: data/generic_topics_ja.txt), or a problem whose
    # words are all generic (関わらない, 難しくなってしまう): each needs the other half to be specific.
    generic: bool = False
    bare: bool = False  # a predicate without its subject (引き継がれない): never a name alone
    spans: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # row -> first span in that row


@dataclass(frozen=True)
class WordLists:
    """The word lists as content-word keys (see the module docstring); ``plain`` = generic or
    non-topic: words that cannot make a name specific."""

    generic: frozenset[str]
    nontopic: frozenset[str]
    generic_topics: frozenset[str]
    problem: frozenset[str]
    plain: frozenset[str]


def word_lists(tok, concepts: Mapping[str, str]) -> WordLists:
    generic = keys_of(load_wordlist(str(GENERIC_PATH)), tok)
    nontopic = keys_of(load_wordlist(str(NONTOPIC_PATH)), tok)
    topics = keys_of(load_wordlist(str(GENERIC_TOPICS_PATH)), tok)
    return WordLists(generic, nontopic, topics, frozenset(concepts), generic | nontopic)


def analyse(texts: Sequence[str], tokenizer) -> tuple[list[list[PhraseOcc]], list[frozenset[str]], list[str]]:
    """Phrase occurrences, content-word sets and analysed (NFKC) texts, one per row."""
    bulk = getattr(tokenizer, "morphemes_all", None)
    morphs = bulk(texts) if bulk is not None else [tokenizer.morphemes(t) for t in texts]
    occs = [extract_phrases(ms) for ms in morphs]
    words = [frozenset(m.content for m in ms if m.content) for ms in morphs]
    norms = [normalize_text(t) for t in texts]
    return occs, words, norms




def keyword_ranks(words: Sequence[str], tok) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for i, w in enumerate(words):
        for k in (w, *(t.key for t in tok.content_words(w))):
            ranks.setdefault(k, i)
    return ranks


DEICTIC_PREFIXES = frozenset({"+当", "+自", "+弊", "+我が", "+本"})


def make_candidate(key, g: Group, variant: tuple, rows: list[int], tier: int, lists: WordLists, max_len: int) -> Candidate | None:
    text, verbatim, words, negated = variant
    if g.ascii or len(text) < 2 or len(text) > max_len:
        return None
    if text in lists.nontopic or (g.kind == "noun" and len(key) == 3 and key[1] in DEICTIC_PREFIXES):
        return None  # 当課, 自課, 場合: point at the speaker or a circumstance, not at who or what
    plain = lists.plain
    if g.kind == "bare":
        # 引き継がれない, 把握できない: the problem half of 「topic：problem」, never a name alone.
        # Weak (pairs only with a specific topic) when its words are generic (関わらない) or when
        # only an ending says it went wrong (進んでしまう).
        weak = all(w in plain for w in words) or not (negated or any(w in lists.problem for w in words))
        return Candidate(key, text, verbatim, "problem", tier, len(rows), tuple(sorted(rows)), words, (), False, g.concreteness, {},
                     generic=weak, bare=True)
    specific_nouns = [w for w in g.nouns if w not in plain]
    if not specific_nouns:
        if g.kind == "noun" and key == ("n", g.nouns[0]) and g.nouns[0] in lists.generic_topics:
            # 行政, 相談: a topic only beside a specific problem (行政：不満, 相談：丸投げ).
            return Candidate(key, text, verbatim, "topic", tier, len(rows), tuple(sorted(rows)), words, g.nouns, False,
                         g.concreteness, {}, generic=True)
        return None  # 連携が必要, 支援の課題, 状態になってしまう: generic only
    if g.kind == "predicate" and not g.problem:
        return None  # 会議を開催する: says nothing about what hurts
    if g.kind == "predicate" and not negated and all(w in lists.problem for w in g.nouns) \
            and all(w in lists.generic for w in words if w not in g.nouns):
        return None  # 不安がある, 差が生じる: the noun alone (不安, 差) says it
    role = "problem" if g.problem else "topic"
    # 支援方針が決まらない / 縦割りの意識 already say who or what is concerned; たらい回し does not.
    own_topic = g.kind != "noun" and any(w not in lists.problem for w in specific_nouns)
    return Candidate(key, text, verbatim, role, tier, len(rows), tuple(sorted(rows)), words, g.nouns, own_topic, g.concreteness, {})


def rescore(cands: list[Candidate]) -> None:
    best = max((x.feats["centrality"] for x in cands), default=0.0)
    for x in cands:
        f = dict(x.feats)
        f["centrality"] = f["centrality"] / best if best > 0 else 0.0
        x.score = round(sum(WEIGHTS[k] * f[k] for k in WEIGHTS), 6)


def rank_key(x: Candidate):
    return (-x.tier, -x.score, len(x.text), x.text)


def shortlist(cands: list[Candidate]) -> list[Candidate]:
    out: list[Candidate] = []
    for role in ("topic", "problem"):
        for generic in (False, True):
            out.extend(sorted((x for x in cands if x.role == role and x.generic == generic), key=rank_key)[:SHORTLIST])
    return out


def rescore_with_encoder(per_theme: dict[int, list], encode: Encode) -> None:
    """Replace the lexical centrality of each theme's shortlist by the cosine in the run's space."""
    items: list[tuple[int, Candidate]] = []
    for c in sorted(per_theme):
        cands, _ = per_theme[c]
        short = shortlist(cands)
        items.extend((c, x) for x in short)
        per_theme[c][0] = short
    cos = encode_cos(encode, [x.text for _, x in items], [per_theme[c][1] for c, _ in items])
    for (_, x), v in zip(items, cos):
        x.feats["centrality"] = max(0.0, v)
    for c in per_theme:
        rescore(per_theme[c][0])


