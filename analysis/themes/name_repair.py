"""The last step of naming: a name must say what goes wrong, not only what it is about.

:mod:`analysis.themes.naming` composes the best name from phrases several members share. Where that
best name is a topic alone (相談者, 会議, 住民), or where nothing qualified at all (the theme would be
shown as テーマN), the members usually still say what hurts, only each in other words. This step
completes such names from the theme's problem phrases, most shared first:

* a topic alone (said by several members) becomes 「topic：problem」 with the problem that the most
  members say *together with that topic* in one comment, shared problems first (会議 ->
  会議：課題解決に至らない, 住民 -> 住民：連携が進んでいない); a topic no member links to a problem stays alone;
* a theme with no option is named by its most shared problem, paired with its best topic when a
  member says both; a name made from single comments is flagged (shown as tentative).

Problems are taken from the theme's own comments only (a phrase said in one comment is used when no
problem is said by two), never a subject-less predicate alone, and never a name another theme has.
Ties are broken by text, so the same members give the same name in any order.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from .name_parts import Candidate

NAME_SEP = "："


def _problem_key(x: Candidate, topic: Candidate | None) -> tuple:
    together = len(set(x.rows) & set(topic.rows)) if topic is not None else 0
    return (-together, -x.tier, x.bare, x.generic, -x.df, -round(x.score, 6), len(x.text), x.text)


def _compose(topic: Candidate | None, p: Candidate, max_len: int) -> str | None:
    if topic is None:
        return None if (p.bare or p.generic) else p.text
    if set(topic.nouns) & set(p.words) or topic.text in p.text:
        return p.text if topic.text in p.text and not p.bare else None  # the problem already says the topic
    text = topic.text + NAME_SEP + p.text
    return text if len(text) <= max_len else None


def complete(
    chosen: dict[int, tuple],
    cands_of: Mapping[int, Sequence[Candidate]],
    more_cands: Callable[[int], Sequence[Candidate]],
    max_len: int,
) -> set[int]:
    """Complete topic-only and missing names in ``chosen`` (label -> ``(score, text, topic, problem, whole)``)
    in place; ``cands_of[c]``: the theme's candidates, ``more_cands(c)``: also those of single comments.
    Returns the labels whose name came from single comments (to be flagged ``fallback``)."""
    taken = {o[1] for o in chosen.values()}
    from_single: set[int] = set()
    for c in sorted(cands_of):
        opt = chosen.get(c)
        if opt is not None and (opt[3] is not None or opt[2] is None):
            continue  # already says a problem
        topic = opt[2] if opt is not None else None
        # a topic is completed only with what several members say; a theme with no name at all
        # may take a problem of single comments (flagged)
        for pool_kind in (("shared",) if topic is not None else ("shared", "single")):
            pool = list(cands_of[c]) if pool_kind == "shared" else list(more_cands(c))
            problems = [x for x in pool if x.role == "problem" and x.tier >= (1 if pool_kind == "shared" else -1)]
            if topic is None:
                topics = sorted((x for x in pool if x.role == "topic" and not x.generic and x.tier >= 0),
                                key=lambda x: (-x.tier, -round(x.score, 6), x.text))
                best_topic = topics[0] if topics else None
            else:
                best_topic = topic
            pick = None
            for p in sorted(problems, key=lambda x: _problem_key(x, best_topic)):
                # a pair only where a member says both; otherwise the problem alone (no invented link)
                together = best_topic is not None and bool(set(p.rows) & set(best_topic.rows))
                if topic is not None and not together:
                    continue  # a topic alone stays so rather than take a problem nobody links to it
                text = _compose(best_topic if together else None, p, max_len)
                if text and text not in taken:
                    pick = (opt[0] if opt else 0.0, text, best_topic if NAME_SEP in text else None, p, None)
                    break
            if pick is not None:
                if opt is not None:
                    taken.discard(opt[1])
                chosen[c] = pick
                taken.add(pick[1])
                if pool_kind == "single" and topic is None:
                    from_single.add(c)
                break
    return from_single


def hints(chosen: Mapping[int, tuple], more_cands: Callable[[int], Sequence[Candidate]], max_len: int) -> dict[int, str]:
    """For names that are still a topic alone: an example of what hurts, from a member that says the
    topic (会議 -> 会議（参加を拒む など）). It is shown as an example, not as the name's claim: the
    name's parts (and their evidence) stay what several members say."""
    out: dict[int, str] = {}
    for c in sorted(chosen):
        _, text, topic, problem, _ = chosen[c]
        if topic is None or problem is not None:
            continue
        rows = set(topic.rows)
        pool = [x for x in more_cands(c) if x.role == "problem" and not x.generic and set(x.rows) & rows
                and x.text not in text and text not in x.text]
        if not pool:
            continue
        best = min(pool, key=lambda x: _problem_key(x, topic))
        if len(text) + len(best.text) + 4 <= max_len:
            out[c] = best.text
    return out
