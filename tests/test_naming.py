"""Tests for the terms list (analysis.tokens), phrase candidates (analysis.phrases) and theme
names / summaries (analysis.naming), on the real seed text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.cluster import KMeans

from analysis.corpus import normalize_text
from analysis.keywords import cluster_keywords
from analysis.naming import GENERIC_PATH, NAME_SEP, load_wordlist, name_themes
from analysis.summaries import clauses, summarize_themes
from analysis.phrases import extract_phrases
from analysis.tokens import NO_TERMS, TERMS_PATH, SudachiTokenizer, default_tokenizer, parse_terms
from tests.conftest import char_embeddings

# Hand-made themes over the seed: the first pattern a comment matches decides its theme.
GROUPS = {
    0: r"たらい回し|丸投げ|押し付け|押しつけ|なすりつけ",
    1: r"個人情報|守秘|情報共有|情報提供",
    2: r"民生委員|地域住民|住民",
    3: r"庁内|縦割り|部局|部署",
}


def hand_labels(texts) -> np.ndarray:
    out = []
    for t in texts:
        out.append(next((g for g, pat in GROUPS.items() if re.search(pat, t)), -1))
    return np.array(out)


@pytest.fixture(scope="module")
def tok():
    return default_tokenizer()


@pytest.fixture(scope="module")
def texts(seed):
    return seed["text_norm"].tolist()


@pytest.fixture(scope="module")
def hand(texts):
    return hand_labels(texts)


def keywords_for(texts, labels, tok):
    docs = [tok.content_words(t) for t in texts]
    return {c: [w for w, _ in v] for c, v in cluster_keywords(docs, labels, n_keywords=10).items()}


def name_parts_in_members(name, texts, labels) -> bool:
    """Every phrase of the name occurs in the theme's member comments (NFKC), as written."""
    members = [normalize_text(t) for t, lab in zip(texts, labels) if lab == name.label]
    return bool(name.evidence) and all(any(ev in m for m in members) for ev in name.evidence)


# --------------------------------------------------------------------------- terms


def test_terms_file_format_and_size():
    terms = parse_terms("# comment\n社会福祉協議会 社協  # inline comment\n\nＳＳＷ\n地域包括支援センター\n")
    assert terms.keys["社協"] == "社会福祉協議会" and terms.keys["社会福祉協議会"] == "社会福祉協議会"
    assert terms.keys["SSW"] == "SSW" and terms.keys["ssw"] == "SSW"  # NFKC, and case-folded for search
    assert "地域包括" in terms.prefixes and "#" not in "".join(terms.keys)
    lines = [ln for ln in TERMS_PATH.read_text(encoding="utf-8").splitlines() if ln.split("#", 1)[0].strip()]
    assert 80 <= len(lines) <= 150


def test_terms_stay_whole_and_aliases_share_a_key(tok):
    words = tok.content_words("地域包括支援センターと社協、社会福祉協議会とケアマネ、ケアマネジャーに重層的支援会議で相談")
    by_surface = {w.surface: w.key for w in words}
    assert "地域包括支援センター" in by_surface and "包括" not in by_surface
    assert by_surface["社協"] == by_surface["社会福祉協議会"]
    assert by_surface["ケアマネ"] == by_surface["ケアマネジャー"]
    assert "重層的支援会議" in by_surface
    plain = SudachiTokenizer(terms=NO_TERMS).content_words("地域包括支援センター")
    assert [w.surface for w in plain] == ["地域", "包括", "支援", "センター"]
    # A term that SudachiPy reads as one word keeps its normalised key (ゴミ屋敷 -> 塵屋敷).
    assert [(w.key, w.surface) for w in tok.content_words("ゴミ屋敷")] == [("塵屋敷", "ゴミ屋敷")]
    assert tok.fingerprint != SudachiTokenizer(terms=NO_TERMS).fingerprint


def test_terms_match_only_on_word_boundaries_longest_first(tok):
    # 民生委員・児童委員 is one listed spelling; 民生委員 alone too (same key).
    words = tok.content_words("民生委員・児童委員と民生委員")
    assert [w.surface for w in words] == ["民生委員・児童委員", "民生委員"]
    assert words[0].key == words[1].key


def test_morphemes_cover_the_text(tok, texts):
    for t in texts[:30]:
        ms = tok.morphemes(t)
        norm = normalize_text(t)
        assert "".join(m.surface for m in ms) == norm
        assert all(norm[m.begin : m.end] == m.surface for m in ms)
    assert [m.content for m in tok.morphemes("社協に相談")][:1] == [tok.content_words("社会福祉協議会")[0].key]


def test_keywords_use_whole_terms(tok):
    texts = ["地域包括支援センターに相談が集中する。", "地域包括支援センターとの連携が難しい。", "庁内の部署間で情報共有が進まない。", "部署の縦割りが強い。"]
    docs = [tok.content_words(t) for t in texts]
    kw = cluster_keywords(docs, np.array([0, 0, 1, 1]), n_keywords=5)
    assert kw[0][0][0] == "地域包括支援センター"
    assert "包括" not in {w for w, _ in kw[0]}


# --------------------------------------------------------------------------- phrases


@pytest.mark.parametrize(
    "text, kind, expected",
    [
        ("重層的支援会議に上げたとしても", "noun", "重層的支援会議"),
        ("地域包括支援センターが", "noun", "地域包括支援センター"),
        ("縦割りの意識や、組織間の縄張り", "noun_no", "縦割りの意識"),
        ("役割分担やケースの認識のズレを感じる", "noun", "認識のズレ"),
        ("日々の情報共有がうまくできない", "predicate", "情報共有がうまくできない"),
        ("参加を拒む部署がある", "predicate", "参加を拒む"),
        ("役割分担が曖昧であったり", "predicate", "役割分担が曖昧"),
        ("相談しても支援方針が決まりません", "predicate", "支援方針が決まらない"),
        ("受け止めせずに丸投げになっている", "predicate", "丸投げになる"),
        ("窓口がはっきりせず。", "predicate", "窓口がはっきりしない"),
        ("理解がなく", "predicate", "理解がない"),
        ("責められることへの忌避感がある", "noun", "忌避感"),  # 感 (a stopword) stays on its compound
        ("委託先の事業所", "noun_no", "委託先の事業所"),
        ("情報共有ができていませんでした", "predicate", "情報共有ができていない"),
    ],
)
def test_phrase_shapes(tok, text, kind, expected):
    found = {(p.kind, p.text) for p in extract_phrases(tok.morphemes(text))}
    assert (kind, expected) in found


def test_phrases_skip_fragments_and_compound_particles(tok):
    texts = {p.text for p in extract_phrases(tok.morphemes("地域づくりに関して、相談者との関わりについて聞き取りを行い、しなければならない"))}
    assert "地域づくり" in texts and "づくり" not in texts  # bound forms never stand alone
    assert not any(t.endswith(("関する", "つく")) for t in texts)  # に関して / について are particles
    assert not any("しない" in t for t in texts)  # しなければならない is an obligation
    negated = [p for p in extract_phrases(tok.morphemes("役割分担が決まっていない")) if p.kind == "predicate"]
    assert negated and negated[0].negated and "NEG" in negated[0].key


def test_predicate_variants_group_by_normalised_key(tok):
    a = [p for p in extract_phrases(tok.morphemes("取組が進まない")) if p.kind == "predicate"][0]
    b = [p for p in extract_phrases(tok.morphemes("取り組みが進まなかった")) if p.kind == "predicate"][0]
    assert a.key == b.key and b.text == "取り組みが進まない"


# --------------------------------------------------------------------------- names


def test_hand_made_themes_get_names_from_their_own_comments(texts, hand, emb, tok):
    kw = keywords_for(texts, hand, tok)
    names = name_themes(texts, hand, emb, kw)
    assert sorted(names) == [0, 1, 2, 3]  # -1 (未分類) is never named
    generic = set(load_wordlist(str(GENERIC_PATH)))
    for c, nm in names.items():
        assert nm.name and not nm.fallback, (c, nm)
        assert name_parts_in_members(nm, texts, hand), nm
        assert not re.search("[A-Za-z]", nm.name)
        assert nm.name not in generic
        assert len(nm.name) <= 24
        assert nm.n_comments == int((hand == c).sum())
        assert nm.rows and all(hand[r] == c for r in nm.rows)
        assert all(n >= 1 for _, _, n in nm.phrases)
        if nm.topic and nm.problem and NAME_SEP in nm.name:
            assert nm.name == nm.topic + NAME_SEP + nm.problem
    assert len({nm.name for nm in names.values()}) == len(names)
    # The passing-the-buck theme names the もやもや itself.
    assert names[0].problem is not None
    assert re.search("たらい回し|丸投げ|押し付け|押しつけ", names[0].name)


def test_kmeans_themes_names_come_from_member_comments(texts, emb, tok):
    labels = KMeans(8, random_state=0, n_init=10).fit_predict(emb)
    kw = keywords_for(texts, labels, tok)
    for encode in (None, char_encoder(texts)):
        names = name_themes(texts, labels, emb, kw, encode=encode)
        assert sorted(names) == list(range(8))
        for nm in names.values():
            if nm.fallback:
                continue
            assert name_parts_in_members(nm, texts, labels), nm
            # A name's phrases are shared by >= 2 members, or their words are.
            assert any(n >= 2 for _, _, n in nm.phrases)
        summaries = summarize_themes(texts, labels, emb, encode=encode, names=names)
        for c, s in summaries.items():
            assert s.text == texts[s.row][s.start : s.end] and labels[s.row] == c
            assert s.n_comments == int((labels == c).sum())


def char_encoder(texts):
    """encode() in the space of tests.conftest.char_embeddings (same fitted vocabulary)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit(list(texts))
    return lambda xs: normalize(vec.transform(list(xs))).toarray().astype(np.float32)


def test_a_one_comment_phrase_never_wins_even_when_most_central(tok):
    texts = [
        "フードバンクの在庫管理が大変で、民生委員との情報共有ができない。",
        "民生委員との情報共有ができない。担当者が替わるたびに説明し直している。",
        "民生委員と情報共有ができないまま訪問が続く。",
        "民生委員への情報共有ができない場面が多い。",
        "庁内の部署間で縦割りが強い。",
        "部署ごとに縦割りで、たらい回しになる。",
    ]
    labels = np.array([0, 0, 0, 0, 1, 1])
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(6, 16))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    centre = emb[:4].mean(axis=0)
    centre /= np.linalg.norm(centre)

    def encode(xs):
        # Every phrase mentioning フードバンク sits exactly on theme 0's centre; the rest far away.
        out = np.tile(-centre, (len(xs), 1))
        for i, x in enumerate(xs):
            if "フードバンク" in x or "在庫" in x:
                out[i] = centre
        return out

    names = name_themes(texts, labels, emb, {0: ["フードバンク", "在庫管理", "民生委員"]}, encode=encode)
    assert "フードバンク" not in names[0].name and "在庫" not in names[0].name
    assert "民生委員" in names[0].name or "情報共有" in names[0].name
    assert all("フードバンク" not in p for p, _, n in names[0].phrases if n >= 2)


def test_generic_only_candidates_are_rejected(tok):
    texts = [
        "連携が必要だと思う。支援の課題がある。",
        "連携が必要。支援の課題も多い。ケースの対応が難しい。",
        "連携が必要で、支援の課題が大きい。",
        "地域住民の見守りが薄れている。",
        "地域住民の見守りが続かない。",
    ]
    labels = np.array([0, 0, 0, 1, 1])
    emb = np.eye(5)[[0, 0, 0, 1, 1]].astype(float)
    names = name_themes(texts, labels, emb, {0: ["連携", "支援", "課題"]})
    assert names[0].fallback and names[0].name == ""  # nothing but 連携 / 支援 / 課題 / 必要
    assert not names[1].fallback and ("地域住民" in names[1].name or "見守り" in names[1].name)


def test_same_members_give_the_same_name_in_any_order(texts, hand, emb, tok):
    kw = keywords_for(texts, hand, tok)
    ref = {c: (n.name, n.topic, n.problem) for c, n in name_themes(texts, hand, emb, kw).items()}
    ref_sum = {c: s.text for c, s in summarize_themes(texts, hand, emb).items()}
    order = np.random.default_rng(7).permutation(len(texts))
    shuffled = [texts[i] for i in order]
    got = name_themes(shuffled, hand[order], emb[order], kw)
    assert {c: (n.name, n.topic, n.problem) for c, n in got.items()} == ref
    assert {c: s.text for c, s in summarize_themes(shuffled, hand[order], emb[order]).items()} == ref_sum
    again = name_themes(texts, hand, emb, kw)
    assert {c: n.name for c, n in again.items()} == {c: v[0] for c, v in ref.items()}


def test_order_independence_with_many_candidates(texts, emb, tok):
    labels = KMeans(8, random_state=0, n_init=10).fit_predict(emb)
    kw = keywords_for(texts, labels, tok)
    encode = char_encoder(texts)

    def describe(order):
        t = [texts[i] for i in order]
        names = name_themes(t, labels[order], emb[order], kw, encode=encode)
        sums = summarize_themes(t, labels[order], emb[order], encode=encode, names=names)
        return {c: (n.name, n.evidence, n.phrases, sums[c].text) for c, n in names.items()}

    ref = describe(np.arange(len(texts)))
    for seed in (1, 2):
        assert describe(np.random.default_rng(seed).permutation(len(texts))) == ref


def test_broad_themes_and_avoid(texts, hand, emb):
    broad = np.where(hand < 0, -1, np.where(hand <= 1, 0, 1))
    fine = name_themes(texts, hand, emb)
    named = name_themes(texts, broad, emb, avoid=[n.name for n in fine.values()])
    assert sorted(named) == [0, 1]
    assert all(n.name and n.name not in {f.name for f in fine.values()} for n in named.values())
    assert all(name_parts_in_members(n, texts, broad) for n in named.values())


def test_bad_inputs(texts, emb):
    with pytest.raises(ValueError):
        name_themes(texts, np.zeros(3, dtype=int), emb)
    with pytest.raises(ValueError):
        summarize_themes(texts, np.zeros(len(texts), dtype=int), emb[:5])
    assert name_themes(texts, np.full(len(texts), -1), emb) == {}


# --------------------------------------------------------------------------- summaries


def test_clauses_are_verbatim_and_readable():
    text = "支援会議を開催するにあたり、行政内の多くの部署に声を掛けるが、フットワークよく参加してくれる部署と参加を拒む部署がある。参加を拒む部署は管理職を通してほしいとか、ウチでは出来ない、どういう立場で参加したらいいかわからないと言う。短い。"
    spans = clauses(text, min_chars=10, max_chars=40)
    assert spans and all(10 <= e - s <= 40 for s, e in spans[:-1])
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)
    assert "短い。" not in [text[s:e] for s, e in spans]


def test_summaries_quote_a_central_clause(texts, hand, emb):
    names = name_themes(texts, hand, emb)
    for encode in (None, char_encoder(texts)):
        out = summarize_themes(texts, hand, emb, encode=encode, names=names)
        assert sorted(out) == [0, 1, 2, 3]
        for c, s in out.items():
            assert s.text == texts[s.row][s.start : s.end]
            assert hand[s.row] == c and 10 <= len(s.text) <= 70
            assert s.n_comments == int((hand == c).sum())
