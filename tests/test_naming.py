"""Tests for the terms list (analysis.text.tokens), phrase candidates (analysis.themes.phrases) and theme
names / summaries (analysis.themes.naming), on the real seed text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.cluster import KMeans

from analysis.schema import normalize_text
from analysis.text.tokens import (
    NO_TERMS,
    TERMS_PATH,
    SudachiTokenizer,
    default_tokenizer,
    parse_terms,
)
from analysis.themes.keywords import cluster_keywords
from analysis.themes.naming import (
    GENERIC_PATH,
    GENERIC_TOPICS_PATH,
    NAME_SEP,
    NONTOPIC_PATH,
    load_wordlist,
    name_themes,
)
from analysis.themes.phrases import extract_phrases
from analysis.themes.summaries import clauses, summarize_themes

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
        # Subject-less predicates, kept when negated or ending in a trouble ending.
        ("異動により思いが引き継がれないことで", "bare", "引き継がれない"),
        ("コーディネーターが直接把握出来ない", "bare", "把握出来ない"),
        ("関わりにくいところは", "bare", "関わりにくい"),
        # Endings that say it went wrong stay in the text.
        ("関係性が難しくなってしまう", "predicate", "関係性が難しくなってしまう"),
        ("相談しづらい部署がある", "predicate", "相談しづらい"),
        ("もう少し理解してほしい", "predicate", "理解してほしい"),
        # 各部署ごと is 部署, 各機関とも責任感 is not one compound.
        ("各部署ごとに仕事の範囲を決めて", "noun", "各部署"),
        ("各機関とも責任感が中途半端", "noun", "責任感"),
        # が after a listed term, tagged 接続助詞 by SudachiPy, still marks a subject.
        ("地域住民の見守りが続かない", "predicate", "見守りが続かない"),
        # A word too common to be a keyword (連携) still heads a telling 「NのN」 and its predicate.
        ("庁内の横の連携が取れていないように感じる", "noun_no", "横の連携"),
        ("庁内の横の連携が取れていないように感じる", "predicate", "横の連携が取れていない"),
        ("つまり横の連携ができていない", "predicate", "横の連携ができていない"),
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


def test_a_stopword_noun_is_a_phrase_only_as_the_head_of_n_no_n(tok):
    found = {(p.kind, p.text) for p in extract_phrases(tok.morphemes("分野の連携、協働が不十分。連携が大切だと思う"))}
    assert ("noun_no", "分野の連携") in found
    assert not any(text == "連携" or text.startswith("連携が") for _, text in found)  # never alone, never a subject alone


def test_trouble_endings_and_bare_predicates(tok):
    occ = {p.text: p for p in extract_phrases(tok.morphemes("つながりが途切れてしまう。窓口に相談しづらい。"))}
    assert occ["つながりが途切れてしまう"].trouble and not occ["つながりが途切れてしまう"].negated
    assert occ["相談しづらい"].trouble
    assert "TRB" in occ["つながりが途切れてしまう"].key
    # Plain predicates have no subject-less twin: only what went wrong is worth sharing.
    texts = {(p.kind, p.text) for p in extract_phrases(tok.morphemes("会議を開催する。役割を担っているにも関わらず、積極的でない"))}
    assert not any(k == "bare" for k, _ in texts)
    assert ("bare", "関わらない") not in texts  # にも関わらず means "despite"


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


# --------------------------------------------------------------------------- names say topic and problem


def part_supported(nm, texts, labels, tok) -> bool:
    """Every part of the name is carried by >= 2 members (its predicates grouped under one subject
    count as one part), or all its content words occur in >= 2 members."""
    members = [normalize_text(t) for t, lab in zip(texts, labels) if lab == nm.label]
    word_sets = [{m.content for m in tok.morphemes(t) if m.content} for t in members]
    assert len(nm.support) == len(nm.evidence)
    for ev, n in zip(nm.evidence, nm.support):
        if not any(ev in m for m in members):
            return False
        if n >= 2:
            continue
        # The phrase's words as analysed where a member wrote it (context changes SudachiPy's split).
        home = next(m for m in members if ev in m)
        at = home.index(ev)
        keys = [m.content for m in tok.morphemes(home) if m.content and at <= m.begin and m.end <= at + len(ev)]
        if not keys or any(sum(k in ws for ws in word_sets) < 2 for k in keys):
            return False
    return True


def has_problem(nm) -> bool:
    return nm.problem is not None


@pytest.mark.parametrize("encoded", [False, True])
def test_seed_names_say_topic_and_problem(texts, hand, emb, tok, encoded):
    """On the hand-made themes and on KMeans themes of the seed: names from shared phrases, never a
    bare generic or non-topic word, and at least 80 % of them say what goes wrong."""
    generic = set(load_wordlist(str(GENERIC_PATH)))
    plain = generic | set(load_wordlist(str(NONTOPIC_PATH)))
    assert set(load_wordlist(str(GENERIC_TOPICS_PATH))) <= generic
    encode = char_encoder(texts) if encoded else None
    km = KMeans(8, random_state=0, n_init=10).fit_predict(emb)
    all_names = []
    for labels in (hand, km):
        names = name_themes(texts, labels, emb, keywords_for(texts, labels, tok), encode=encode)
        assert len({n.name for n in names.values()}) == len(names)
        for nm in names.values():
            assert nm.name and not nm.fallback, nm
            assert nm.name not in plain, nm  # never 行政, 相談, 状態 ... alone
            assert {w.key for w in tok.content_words(nm.name)} - plain, nm
            assert not re.search("[A-Za-z]", nm.name) and len(nm.name) <= 24
            assert part_supported(nm, texts, labels, tok), nm
            if nm.topic is not None:
                assert nm.topic not in plain or nm.problem is not None, nm
                assert not nm.topic.startswith(("当", "自課")), nm
        all_names.extend(names.values())
    share = sum(map(has_problem, all_names)) / len(all_names)
    assert share >= 0.8, [n.name for n in all_names]


@pytest.mark.parametrize("encoded", [False, True])
def test_seed_kmeans_names_do_not_depend_on_row_order(texts, emb, tok, encoded):
    labels = KMeans(8, random_state=0, n_init=10).fit_predict(emb)
    kw = keywords_for(texts, labels, tok)
    encode = char_encoder(texts) if encoded else None
    ref = {c: (n.name, n.evidence, n.support) for c, n in name_themes(texts, labels, emb, kw, encode=encode).items()}
    order = np.random.default_rng(3).permutation(len(texts))
    got = name_themes([texts[i] for i in order], labels[order], emb[order], kw, encode=encode)
    assert {c: (n.name, n.evidence, n.support) for c, n in got.items()} == ref


def small_space(labels):
    labels = np.asarray(labels)
    emb = np.eye(labels.max() + 1)[labels] + 0.01
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


OTHER = ["地域住民の見守りが薄れている。", "地域住民の見守りが続かない。"]  # a second theme, for contrast


def test_deictic_words_are_never_topics():
    texts = ["当課に相談が丸投げされる。当課で抱えきれない。", "当課へ丸投げになっている相談が多い。",
             "当課が対応すべき範囲がわからず、丸投げになる。", "窓口の職員が少なく、当課に丸投げされる。"] + OTHER
    labels = [0, 0, 0, 0, 1, 1]
    names = name_themes(texts, np.array(labels), small_space(labels))
    assert "当課" not in names[0].name and "丸投げ" in names[0].name
    assert names[1].problem is not None and "見守り" in names[1].name


def test_a_shared_failing_action_names_the_problem():
    # 引き継ぐ is in two comments, never with the same subject: 事業所：引き継がれない.
    texts = ["委託事業所として行政から引き継ぐ際に、認識のズレを感じる。", "異動のたびに思いが引き継がれない。",
             "事業所の職員は熱心だが、書類が多い。", "事業所への説明が足りず、方針が引き継がれない。"] + OTHER
    labels = [0, 0, 0, 0, 1, 1]
    nm = name_themes(texts, np.array(labels), small_space(labels))[0]
    assert nm.name == "事業所" + NAME_SEP + "引き継がれない" and nm.support == (3, 2)


def test_generic_topics_need_a_specific_problem():
    texts = ["行政への不満が強い。", "相談者は行政の窓口に不満を抱えている。", "行政の対応が難しいと感じる。", "行政との連携が難しい。"] + OTHER
    labels = [0, 0, 0, 0, 1, 1]
    nm = name_themes(texts, np.array(labels), small_space(labels))[0]
    assert nm.topic == "行政" and "不満" in nm.problem
    # 行政 + 難しい says nothing: no name rather than 「行政：難しい」.
    texts = ["行政の対応が難しいと感じる。", "行政との連携が難しい。", "行政の相談が難しい。"] + OTHER
    labels = [0, 0, 0, 1, 1]
    nm = name_themes(texts, np.array(labels), small_space(labels))[0]
    assert nm.fallback and not nm.name.startswith("行政" + NAME_SEP) and "難し" not in nm.name


def test_a_double_negative_is_no_problem():
    texts = ["自分たちの支援方針は間違っていないと考えている。", "支援方針は間違っていないと言われる。", "支援方針を共有している。"] + OTHER
    labels = [0, 0, 0, 1, 1]
    nm = name_themes(texts, np.array(labels), small_space(labels))[0]
    assert nm.name == "支援方針" and nm.problem is None


def test_a_theme_with_nothing_shared_is_still_named_from_its_comments():
    texts = ["子育て部門は福祉の会議に関わりにくい。", "福祉以外の機関は消極的な傾向がある。", "自治会には地域福祉を考える余裕がない。"] + OTHER
    labels = [0, 0, 0, 1, 1]
    nm = name_themes(texts, np.array(labels), small_space(labels))[0]
    assert nm.fallback and nm.name and nm.problem is not None
    members = [normalize_text(t) for t in texts[:3]]
    assert all(any(ev in m for m in members) for ev in nm.evidence)


def test_a_name_from_single_comments_never_becomes_the_theme_label():
    # The clusters table shows テーマN (keywords underneath) rather than words only one comment says.
    import pandas as pd

    from analysis.config import DescribeConfig
    from analysis.themes.clustering import ClusterResult
    from analysis.themes.describe import describe_clusters

    texts = ["子育て部門は福祉の会議に関わりにくい。", "福祉以外の機関は消極的な傾向がある。", "自治会には地域福祉を考える余裕がない。",
             "情報共有ができていないと感じる。", "関係機関の情報共有ができていない。", "担当者同士の情報共有ができていない。"]
    labels = np.array([0, 0, 0, 1, 1, 1])
    comments = pd.DataFrame({"comment_id": [f"c{i}" for i in range(6)], "text": texts})
    from analysis.text.tokens import tokenize_all
    docs = tokenize_all(default_tokenizer(), texts)
    ones = np.ones(6)
    result = ClusterResult(labels=labels, strength=ones, nearest=labels, nearest_strength=ones,
                           persistence=np.array([0.5, 0.5]), relative_validity=None)
    table = describe_clusters(comments, docs, result, np.array([0, 1]), DescribeConfig(), vectors=small_space(list(labels)))
    # the number stays (no name wins on single comments), with a hint of what its comments say
    assert table.loc[0, "label"].startswith("テーマ1（") and table.loc[0, "label"].endswith(" など）")
    assert table.loc[0, "name_evidence"] == ""
    assert "情報共有" in table.loc[1, "label"]


def test_kept_bar_no_theme_of_the_seed_run_is_only_a_number(seed_run):
    # issue 18: a label says what its comments say; a theme named from single comments keeps its
    # number with a hint (テーマ7（… など）), never a bare テーマN
    import re

    labels = seed_run.clusters["label"].astype(str).tolist()
    assert labels and not [x for x in labels if re.fullmatch(r"テーマ\d+", x)], labels
    assert all(len(x) <= 24 + 8 for x in labels)
