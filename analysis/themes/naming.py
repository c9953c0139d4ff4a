"""Readable theme names, built only from phrases of the theme's own comments.

A name says topic and problem: 「相談者：たらい回し」, 「事業所：引き継がれない」, or one phrase that
already says both (「支援方針が決まらない」, 「縦割りの意識」). Candidates are the phrases of
:mod:`analysis.themes.phrases` (noun phrases with compounds kept, 「NのN」, noun + particle + predicate with
negation kept and the ending normalised, and subject-less predicates that are negated or end in
てしまう / づらい ...). A predicate is a candidate only when it says what hurts: negated, ending in a
trouble ending (止まってしまう, 相談しづらい, 理解してほしい), or with a word of
``data/problem_ja.txt``. All such predicates about one subject are one candidate, shown in their
most used wording among those whose words several members share (情報共有ができていない /
情報共有が難しい); a negated problem word (間違っていない) counts toward its subject but is never
shown, and alone is no problem.

Candidates, their word lists and their scores are :mod:`analysis.themes.name_parts`'s.

Composing. Options are: a problem alone (-0.10 unless it names its own topic; a subject-less
predicate never stands alone), topic + problem, a topic alone (-0.25: a name should say what
hurts). A pair scores (score_t + score_p) / 2 + 0.15 x cohesion, where cohesion is the Jaccard of
the comments carrying each half, a shared comment counting 1 when the problem follows the topic in
one sentence, 0.75 when it precedes it there, 0.5 across sentences. A pair needs a comment that
carries both halves, or (half as cohesive) one that carries the words of both (事業所 … 引き継ぐ
beside 思いが引き継がれない; not for generic problems, whose words are everywhere): a pair must
not claim a link nobody made. Its topic must score within 0.20 of the theme's best topic (a theme
about 庁内 is not 「地域：押し付け合い」 because one comment mentions 地域). A problem said only with
generic words or only by an ending (関わらない, 進んでしまう) is weak: -0.10, and it pairs only with a
specific topic. A pair is written as the respondents' own phrase when one contains both halves
(意識 + 縦割り -> 縦割りの意識), else joined with "：". Themes whose best option scores higher choose
first, so two themes never get the same name.

Last resort. A theme where no phrase is shared by two members (every member says something else)
is named from single comments rather than left as テーマN: a topic with a word several members
share (地域福祉, where every member says 福祉) and a problem of the same comment, flagged
``fallback``. Only when even that fails does a keyword label stand in.

Hard rules: a name needs a word that is neither generic nor non-topic (支援, 連携, 課題, 難しい ...
alone never name a theme); no Latin-letter fragments (etc, EX) unless the word is a listed term;
at most ``max_len`` characters. Every tie is broken by text (code-point order) or label, never by
input order, and float scores are rounded to 6 decimals before ranking, so the same members give
the same name in any order.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..text.tokens import SudachiTokenizer, default_tokenizer
from .name_repair import complete, hints
from .centres import (
    NOISE,
    Encode,
    centre,
    check_inputs,
    idf_weights,
    lexical_centre,
    lexical_cos,
    member_weights,
)
from .name_parts import (
    GENERIC_PATH,
    GENERIC_TOPICS_PATH,
    NONTOPIC_PATH,
    PROBLEM_PATH,
    WEIGHTS,
    Candidate,
    Group,
    analyse,
    concept_map,
    keyword_ranks,
    load_wordlist,
    make_candidate,
    rank_key,
    rescore,
    rescore_with_encoder,
    word_lists,
)

__all__ = ["ThemeName", "name_themes", "load_wordlist", "GENERIC_PATH", "PROBLEM_PATH", "NONTOPIC_PATH",
           "GENERIC_TOPICS_PATH", "NAME_SEP", "WEIGHTS"]

NAME_SEP = "："
PAIR_COHESION = 0.15  # bonus for a topic and a problem that occur in the same comments (Jaccard)
TOPIC_ONLY_PENALTY = 0.25  # a name should say what hurts: a topic alone is the last resort
PROBLEM_ONLY_PENALTY = 0.10  # a problem without its topic (たらい回し alone)
WEAK_PROBLEM_PENALTY = 0.10  # a problem said with generic words or only an ending (関わらない, 進んでしまう)
PAIR_TOPIC_GAP = 0.20  # the topic of 「topic：problem」 scores within this of the theme's best topic


@dataclass(frozen=True)
class ThemeName:
    """The name of one theme (or broad theme).

    name : what to show, e.g. ``相談者：たらい回し``; from single comments or keywords when
        ``fallback``; may be ``""`` when a theme has nothing usable (callers then show テーマN).
    topic, problem : the two halves (either may be ``None``).
    phrases : best candidates as ``(phrase, score, n_comments)``, best first (for tooltips / review).
    rows : row indices of the member comments that carry the topic or the problem, ascending.
    evidence : the name's phrases as written in those comments (NFKC), for checking and quoting.
    n_comments : members of the theme.
    fallback : no phrase shared by members qualified: ``name`` comes from single comments (see the
        module docstring), or is made of keywords that occur in >= 2 members (may be ``""``).
    support : members carrying each of the name's parts (topic, problem; the predicates grouped
        under one subject count as one part), in the order of ``evidence``.
    hint : for a topic alone, an example of what hurts from one member that says the topic, shown
        as 「会議（参加を拒む など）」 (not a part: ``evidence`` and ``support`` are the topic's).
    """

    label: int
    name: str
    topic: str | None
    problem: str | None
    phrases: tuple[tuple[str, float, int], ...]
    rows: tuple[int, ...]
    evidence: tuple[str, ...]
    n_comments: int
    fallback: bool = False
    support: tuple[int, ...] = ()
    hint: str | None = None



def name_themes(
    texts: Sequence[str],
    labels: np.ndarray,
    embeddings: np.ndarray,
    keywords: Mapping[int, Sequence[str]] | None = None,
    tokenizer: SudachiTokenizer | None = None,
    encode: Encode | None = None,
    max_len: int = 24,
    avoid: Iterable[str] = (),
) -> dict[int, ThemeName]:
    """Name every theme from phrases of its own comments.

    Parameters
    ----------
    texts : the comments (n,), original text (NFKC-normalised internally).
    labels : (n,) int theme per comment; ``-1`` = noise (未分類), never named but counted as
        "other comments" for distinctness. Pass broad-theme ids to name broad themes.
    embeddings : (n, d) float, L2-normalised rows (the run's embedding space).
    keywords : ``{label: [keyword surface, ...]}`` best first (e.g. c-TF-IDF); optional.
    tokenizer : a :class:`~analysis.text.tokens.SudachiTokenizer` (needs ``morphemes``); default shared one.
    encode : ``encode(list of str) -> (m, d)`` L2-normalised vectors in the same space as
        ``embeddings``; ``None`` uses a lexical centre instead.
    max_len : longest name in characters.
    avoid : names not to give (e.g. the themes' names when naming broad themes): a theme takes a
        name that neither contains nor is contained in one of them if it has one, else any name
        not in ``avoid``, and an avoided name only when it has nothing else.

    Returns
    -------
    ``{label: ThemeName}`` for every label >= 0 present. Names are distinct across themes when
    the themes have distinct candidates (a clash goes to the theme whose name scores higher).
    """
    labels, embeddings = check_inputs(texts, labels, embeddings)
    tok = tokenizer if tokenizer is not None else default_tokenizer()
    concepts = concept_map(str(PROBLEM_PATH), tok)
    lists = word_lists(tok, concepts)
    occs, word_sets, norms = analyse(texts, tok)
    n = len(texts)

    groups: dict[tuple, Group] = {}
    row_keys: list[list[tuple]] = []
    global_df: Counter = Counter()
    for r, row_occs in enumerate(occs):
        seen: list[tuple] = []
        for o in row_occs:
            lexical = any(w in lists.problem for w in o.words) or o.text in lists.problem
            is_problem = o.negated or lexical or o.trouble
            # A negated problem word (間違っていない, 困っていない, 差がない) is no problem by itself,
            # but it is still something negative said of its subject: it counts toward the subject's
            # problems (支援方針は間違っていない beside 支援方針が決まらない) and is never shown.
            double = o.negated and lexical
            key = o.key
            if o.kind == "noun" and len(o.nouns) == 1 and o.nouns[0] in concepts:
                key = ("n", concepts[o.nouns[0]])  # 不安 and 不安感 are one problem
            elif o.kind == "predicate" and is_problem:
                # Predicates are rarely worded twice the same way: every problem said of one subject
                # (情報共有ができない / 情報共有が難しい) is one candidate, shown in its most used wording.
                key = ("p",) + o.nouns + ("|PROBLEM",)
            g = groups.get(key)
            if g is None:
                g = groups[key] = Group(o.kind, o.nouns, o.ascii, o.concrete, is_problem)
            g.ascii = g.ascii or o.ascii
            g.concrete = min(g.concrete, o.concrete)
            g.n_occ += 1
            g.n_verbal += o.verbal
            if r not in g.at_row or (g.at_row[r][4] and not double):
                g.at_row[r] = (o.text, norms[r][o.start : o.end], o.words, o.negated, double)
                g.span_at[r] = (o.start, o.end)
            if key not in seen:
                seen.append(key)
        row_keys.append(seen)
        global_df.update(seen)
    idf = idf_weights(word_sets)

    def theme_cands(c: int, rows: np.ndarray, mid: np.ndarray, single: bool) -> list[Candidate]:
        """The theme's candidates; ``single``: also phrases with a word from one comment (the
        last resort for a theme where nothing else qualifies)."""
        weights = member_weights(embeddings, rows, mid)
        w_of = dict(zip(rows.tolist(), weights.tolist()))
        key_rows: dict[tuple, list[int]] = {}
        word_df: Counter = Counter()
        for r in rows.tolist():
            for k in row_keys[r]:
                key_rows.setdefault(k, []).append(r)
            word_df.update(word_sets[r])
        kw_rank = keyword_ranks((keywords or {}).get(c, ()), tok)
        lex_centre = lexical_centre(word_sets, rows, weights, idf)

        def shared(words) -> bool:
            return all(word_df[w] >= 2 for w in words if w in idf)

        cands: list[Candidate] = []
        n_c, n_out = len(rows), n - len(rows)
        for key in sorted(key_rows):
            g = groups[key]
            krows = key_rows[key]
            df = len(krows)
            text, verbatim, words, negated, double = g.variant(krows, shared)
            if double:
                continue  # only double negatives here: nothing hurts
            # Stopwords (できる, 感) are not content words: they cannot make a phrase "one-comment".
            variant = (text, verbatim, tuple(w for w in words if w in idf), negated)
            if df >= 2:
                tier = 2
            elif shared(variant[2]):
                tier = 1
            elif single:
                # Last resort: a phrase of one comment, better with a word several members share
                # (地域福祉 where 福祉 is in every member).
                tier = 0 if any(word_df[w] >= 2 for w in variant[2]) else -1
            else:
                continue  # a word from one comment: never a name
            cand = make_candidate(key, g, variant, krows, tier, lists, max_len)
            if cand is None:
                continue
            cand.spans = g.span_at
            wdf = sum(w_of[r] for r in krows)
            p_in = df / n_c
            p_out = (global_df[key] - df) / n_out if n_out else 0.0
            cand.feats = {
                "centrality": lexical_cos(cand.words, lex_centre, idf),
                "support": math.log1p(wdf) / math.log1p(n_c),
                "coverage": min(1.0, sum(1.0 / (kw_rank[w] + 1) for w in set(cand.words) if w in kw_rank)),
                "distinct": max(0.0, 1.0 - p_out / p_in),
                "specific": g.concreteness * sum(w not in lists.plain for w in cand.words) / max(1, len(cand.words)),
            }
            cands.append(cand)
        rescore(cands)
        return cands

    classes = sorted({int(x) for x in labels if x != NOISE})
    rows_of = {c: np.flatnonzero(labels == c) for c in classes}

    def word_rows(c: int):
        """``f(candidate)``: the members of theme ``c`` that carry all the candidate's words."""
        rows = rows_of[c].tolist()

        def of(x: Candidate) -> frozenset[int]:
            ws = [w for w in x.words if w in idf]
            return frozenset(r for r in rows if all(w in word_sets[r] for w in ws))

        return of

    def near(r: int, topic: tuple[int, int], problem: tuple[int, int]) -> float:
        """How closely one comment links a topic and a problem: 1 when the problem follows the topic
        in one sentence (Japanese puts the predicate after what it is about), 0.75 when it comes
        first in that sentence, 0.5 in different sentences."""
        lo, hi = min(topic[1], problem[1]), max(topic[0], problem[0])
        if lo < hi and any(ch in _SENTENCE_ENDS for ch in norms[r][lo:hi]):
            return 0.5
        return 1.0 if topic[0] <= problem[0] else 0.75

    per_theme: dict[int, list] = {}
    for c in classes:
        mid = centre(embeddings, rows_of[c])
        per_theme[c] = [theme_cands(c, rows_of[c], mid, False), mid]
    if encode is not None:
        rescore_with_encoder(per_theme, encode)
    options = {c: _name_options(per_theme[c][0], max_len, word_rows(c), near) for c in classes}
    # Last resort for a theme where no phrase is shared: the best phrases of single comments, so
    # the theme still reads as something (flagged ``fallback``) rather than テーマN.
    last = [c for c in classes if not options[c]]
    if last:
        extra = {c: [theme_cands(c, rows_of[c], per_theme[c][1], True), per_theme[c][1]] for c in last}
        if encode is not None:
            rescore_with_encoder(extra, encode)
        for c in last:
            options[c] = [o for o in _name_options(extra[c][0], max_len, word_rows(c), near) if o[2] is not None or o[3] is not None]
            per_theme[c] = extra[c]
    chosen = _assign_distinct(options, frozenset(avoid))
    # A topic alone, or no name at all, where members still say what hurts: completed from the
    # theme's problem phrases (analysis.themes.name_repair).
    single: dict[int, list[Candidate]] = {c: per_theme[c][0] for c in last}

    def more(c: int) -> list[Candidate]:
        if c not in single:
            single[c] = theme_cands(c, rows_of[c], per_theme[c][1], True)
        return single[c]

    from_single = complete(chosen, {c: per_theme[c][0] for c in classes}, more, max_len)
    example = hints(chosen, more, max_len)
    out: dict[int, ThemeName] = {}
    for c in classes:
        cands = per_theme[c][0]
        n_c = int((labels == c).sum())
        ranked = sorted((x for x in cands if x.tier > 0), key=rank_key)[:8]
        phrases = tuple((x.text, round(x.score, 4), x.df) for x in ranked)
        opt = chosen.get(c)
        if opt is None:
            out[c] = ThemeName(c, _fallback_name((keywords or {}).get(c, ()), tok, labels, word_sets, c, lists.generic), None, None,
                               phrases, (), (), n_c, fallback=True)
            continue
        _, text, topic, prob, whole = opt
        parts = [x for x in (topic, prob) if x is not None]
        rows_ = tuple(sorted({r for x in parts for r in x.rows}))
        evidence = (whole.verbatim,) if whole is not None else tuple(x.verbatim for x in parts)
        support = (whole.df,) if whole is not None else tuple(x.df for x in parts)
        if c in example:
            text = f"{text}（{example[c]} など）"
        out[c] = ThemeName(c, text, topic.text if topic else None, prob.text if prob else None, phrases, rows_, evidence, n_c,
                           fallback=c in last or c in from_single, support=support, hint=example.get(c))
    return out




_SENTENCE_ENDS = frozenset("。！？!?\n")


def _name_options(cands: list[Candidate], max_len: int, word_rows=None, near=None) -> list[tuple]:
    """Possible names, best first: ``(score, text, topic | None, problem | None, whole | None)``
    (``whole``: the one phrase that says both halves, when the name is not a "：" join).

    Each half comes from its own pool, and only from that pool's best tier: a problem said in one
    comment is used only when no problem is shared by several comments. Generic halves (行政,
    関わらない) have pools of their own and only pair with a specific other half. ``word_rows(x)``
    gives the members carrying all of a candidate's words (a pair needs one member saying both);
    ``near(row, span, span)`` how closely a comment links two phrases (1: same sentence).
    """
    def pool(role: str, generic: bool, k: int) -> list[Candidate]:
        xs = sorted((x for x in cands if x.role == role and x.generic == generic), key=rank_key)
        if role == "topic":
            # A topic says who or what is concerned: an action (開催) or a quality (基本的) only if
            # nothing else qualifies.
            xs = [x for x in xs if x.concrete >= 0.75] or xs
        return [x for x in xs if x.tier == xs[0].tier][:k] if xs else []

    topics, problems = pool("topic", False, 5), pool("problem", False, 5)
    g_topics, g_problems = pool("topic", True, 3), pool("problem", True, 3)
    # Phrases that say a topic and a problem in the respondents' own words (縦割りの意識 for
    # 意識 + 縦割り): used instead of joining the two halves with "：".
    joined = sorted((x for x in cands if x.role == "problem" and x.own_topic), key=rank_key)
    wrows: dict[int, frozenset[int]] = {}

    def w_of(x: Candidate) -> frozenset[int]:
        if id(x) not in wrows:
            wrows[id(x)] = word_rows(x) if word_rows is not None else frozenset(x.rows)
        return wrows[id(x)]

    # The topic of a pair is what the theme is about: one of its best topics, not whichever topic
    # happens to share a comment with the problem (地域：押し付け合い in a theme about 庁内).
    # A generic topic has no specificity by definition: it is held to the floor as if it had.
    lift = {id(t): WEIGHTS["specific"] * t.concrete for t in g_topics}
    floor = max((t.score for t in topics + g_topics), default=0.0) - PAIR_TOPIC_GAP
    topics_p = [t for t in topics if t.score >= floor]
    g_topics_p = [t for t in g_topics if t.score + lift[id(t)] >= floor]
    opts: list[tuple] = []
    for p in problems + g_problems:
        if not p.bare and not p.generic:
            opts.append((p.score - (0.0 if p.own_topic else PROBLEM_ONLY_PENALTY), p.text, None, p, None))
        # A generic topic (行政) gives its who or what to a problem that has none (不満, 引き継がれない).
        for t in topics_p + (g_topics_p if not p.generic and not p.own_topic else []):
            if set(t.nouns) & set(p.words) or t.text in p.text or p.text in t.text:
                continue
            a, b = set(t.rows), set(p.rows)
            if a & b:
                # Jaccard of the comments carrying each half, a shared comment counting fully when
                # it says both in one sentence (担当業務外であると、…丸投げになっている).
                link = sum(near(r, t.spans[r], p.spans[r]) if near is not None else 1.0 for r in sorted(a & b))
                cohesion = link / len(a | b)
            elif not p.generic:
                # No comment says both phrases; one that says both in other words (事業所 … 引き継ぐ
                # beside 思いが引き継がれない) still links them, more weakly. Not for a generic
                # problem: 対応 is in every other comment (範囲：対応できない from 「対応できる範囲」).
                wa, wb = w_of(t), w_of(p)
                if not wa & wb:
                    continue  # no comment says both: the pair would claim a link nobody made
                cohesion = 0.5 * len(wa & wb) / len(wa | wb)
            else:
                continue
            score = (t.score + p.score) / 2 + PAIR_COHESION * cohesion - (WEAK_PROBLEM_PENALTY if p.generic else 0.0)
            if p.own_topic:
                score -= PROBLEM_ONLY_PENALTY / 2  # the problem already names its topic: prefer it alone
            both = set(t.nouns) | set(p.nouns if not p.bare else p.words)
            whole = next((x for x in joined if both <= set(x.words) and len(x.text) <= max_len), None)
            if whole is not None:
                opts.append((score, whole.text, t, p, whole))
                continue
            text = t.text + NAME_SEP + p.text
            if len(text) <= max_len:
                opts.append((score, text, t, p, None))
    for t in topics:
        opts.append((t.score - TOPIC_ONLY_PENALTY, t.text, t, None, None))
    opts = [(round(s, 6), text, t, p, w) for s, text, t, p, w in opts]
    opts.sort(key=lambda o: (-o[0], len(o[1]), o[1]))
    return opts


def _assign_distinct(options: Mapping[int, list[tuple]], avoid: frozenset[str] = frozenset()) -> dict[int, tuple]:
    """One option per theme, no two themes with the same name: themes whose best name scores
    higher choose first (ties: lower label). Names in ``avoid`` only as a last resort."""
    order = sorted((c for c in options if options[c]), key=lambda c: (-options[c][0][0], c))
    taken: set[str] = set()
    chosen: dict[int, tuple] = {}
    for c in order:
        fresh = [o for o in options[c] if o[1] not in taken]
        # Avoid the names in ``avoid``, and their parts and wholes (つながりが弱い beside
        # 地域のつながりが弱い) where the theme has anything else.
        pick = next((o for o in fresh if not any(o[1] in a or a in o[1] for a in avoid)), None)
        pick = pick or next((o for o in fresh if o[1] not in avoid), fresh[0] if fresh else None)
        if pick is not None:
            chosen[c] = pick
            taken.add(pick[1])
    return chosen


def _fallback_name(words: Sequence[str], tok, labels, word_sets, c: int, generic) -> str:
    """Up to three keywords that are not generic and occur in >= 2 members, joined with ・."""
    rows = np.flatnonzero(labels == c).tolist()
    kept: list[str] = []
    for w in words:
        keys = [t.key for t in tok.content_words(w)] or [w]
        if all(k in generic for k in keys):
            continue
        if sum(all(k in word_sets[r] for k in keys) for r in rows) >= 2:
            kept.append(w)
        if len(kept) == 3:
            break
    return "・".join(kept)


