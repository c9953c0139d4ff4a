"""Tests for analysis.themes.keywords (c-TF-IDF + MMR on Japanese tokens)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from analysis.schema import CATEGORIES, SEED_CATEGORY
from analysis.text.tokens import Token, default_tokenizer
from analysis.themes.keywords import (
    cluster_keywords,
    keywords_for_texts,
    label_from_keywords,
    top_terms,
)


def tok(word: str, key: str | None = None) -> Token:
    return Token(key=key or word, surface=word, pos="名詞")


@pytest.fixture(scope="module")
def seed_docs(seed):
    t = default_tokenizer()
    return [t.content_words(x) for x in seed["text_norm"]]


@pytest.fixture(scope="module")
def seed_labels(seed):
    return np.array([CATEGORIES.index(c) for c in seed[SEED_CATEGORY]])


def words(kw):
    return [w for w, _ in kw]


def test_ctfidf_scores_match_hand_computation():
    docs = [[tok("地域"), tok("地域"), tok("住民")], [tok("部署"), tok("地域")]]
    kw = cluster_keywords(docs, np.array([0, 1]), n_keywords=5, diversity=0.0)
    avg = (3 + 2) / 2
    expected_0 = {
        "住民": 1 / 3 * math.log(1 + avg / 1),
        "地域": 2 / 3 * math.log(1 + avg / 3),
    }
    got_0 = dict(kw[0])
    assert got_0.keys() == expected_0.keys()
    for w, s in expected_0.items():
        assert got_0[w] == pytest.approx(s)
    # The rarer 住民 beats the twice-as-frequent but shared 地域.
    assert words(kw[0]) == ["住民", "地域"]
    assert words(kw[1])[0] == "部署"
    assert all(isinstance(s, float) for _, s in kw[0])


def test_seed_categories_give_readable_keywords(seed_docs, seed_labels):
    kw = cluster_keywords(seed_docs, seed_labels, n_keywords=10, diversity=0.3)
    assert sorted(kw) == [0, 1, 2, 3]
    assert all(len(v) == 10 for v in kw.values())
    community = words(kw[CATEGORIES.index("行政・専門機関×地域")])
    assert {"地域", "民生委員", "住民"} & set(community)
    admin = words(kw[CATEGORIES.index("行政×行政")])
    assert {"部署", "庁内", "部局", "担当課"} & set(admin)
    all_words = {w for v in kw.values() for w, _ in v}
    # Normalised forms that differ from what respondents wrote must never be shown.
    unreadable = {t.key for d in seed_docs for t in d if t.key != t.surface} - {
        t.surface for d in seed_docs for t in d
    }
    assert "塵屋敷" in unreadable  # the seed really contains ゴミ屋敷
    assert not all_words & unreadable
    # Scores are descending within the pure c-TF-IDF ranking.
    plain = cluster_keywords(seed_docs, seed_labels, n_keywords=10, diversity=0.0)
    for v in plain.values():
        scores = [s for _, s in v]
        assert scores == sorted(scores, reverse=True)


def test_surface_form_shown_for_gomi_yashiki():
    t = default_tokenizer()
    texts = [
        "ゴミ屋敷の住民への対応を地域包括支援センターに任されてしまう。",
        "ゴミ屋敷の片付けを誰が担うのか、ゴミ屋敷問題の窓口がない。",
        "庁内の部署間で情報共有が進まない。",
        "他部署の会議に呼ばれても役割が分からない。",
    ]
    docs = [t.content_words(x) for x in texts]
    assert any(tk.key == "塵屋敷" and tk.surface == "ゴミ屋敷" for d in docs for tk in d)
    kw = cluster_keywords(docs, np.array([0, 0, 1, 1]), n_keywords=5)
    assert words(kw[0])[0] == "ゴミ屋敷"
    assert "塵屋敷" not in {w for v in kw.values() for w, _ in v}


def test_mmr_diversity_replaces_cooccurring_term():
    pair = [tok("児童相談所"), tok("一時保護")]
    docs = [pair, pair, pair, [tok("学校")], [tok("民生委員")]]
    labels = np.array([0, 0, 0, 0, 1])
    plain = words(cluster_keywords(docs, labels, n_keywords=3, diversity=0.0)[0])
    diverse = words(cluster_keywords(docs, labels, n_keywords=3, diversity=0.5)[0])
    # Equal scores: tie broken by normalised form (一 U+4E00 < 児 U+5150).
    assert plain == ["一時保護", "児童相談所", "学校"]
    # 児童相談所 always co-occurs with 一時保護 (cosine 1), so MMR takes 学校 second.
    assert diverse == ["一時保護", "学校", "児童相談所"]


def test_mmr_changes_seed_keywords(seed_docs, seed_labels):
    plain = cluster_keywords(seed_docs, seed_labels, diversity=0.0)
    diverse = cluster_keywords(seed_docs, seed_labels, diversity=0.7)
    assert any(words(plain[c]) != words(diverse[c]) for c in plain)
    # The top keyword is always the most relevant one.
    assert all(plain[c][0] == diverse[c][0] for c in plain)


def test_noise_is_its_own_class():
    docs = [
        [tok("民生委員"), tok("地域")],
        [tok("民生委員"), tok("住民")],
        [tok("守秘義務"), tok("個人情報")],
    ]
    kw = cluster_keywords(docs, np.array([0, 0, -1]), n_keywords=5)
    assert sorted(kw) == [-1, 0]
    assert {"守秘義務", "個人情報"}.isdisjoint(words(kw[0]))
    assert set(words(kw[-1])) == {"守秘義務", "個人情報"}


def test_deterministic_under_reordering(seed_docs, seed_labels):
    a = cluster_keywords(seed_docs, seed_labels)
    idx = list(range(len(seed_docs)))
    random.Random(3).shuffle(idx)
    b = cluster_keywords([seed_docs[i] for i in idx], seed_labels[idx])
    assert {c: words(v) for c, v in a.items()} == {c: words(v) for c, v in b.items()}


def test_empty_class_and_bad_input():
    kw = cluster_keywords([[tok("地域")], []], np.array([0, 1]))
    assert kw[1] == []
    with pytest.raises(ValueError):
        cluster_keywords([[tok("地域")]], np.array([0, 1]))
    with pytest.raises(ValueError):
        cluster_keywords([[tok("地域")]], np.array([0]), diversity=1.5)


def test_label_from_keywords():
    assert label_from_keywords(["地域", "住民", "民生委員", "福祉"]) == "地域・住民・民生委員"
    assert label_from_keywords(["部署", "庁内"], n=3) == "部署・庁内"
    assert label_from_keywords(["部署", "", "会議"], n=2) == "部署・会議"
    assert label_from_keywords([]) == ""


class SpaceTokenizer:
    """Injected stand-in: words separated by spaces."""

    def content_words(self, text: str) -> list[Token]:
        return [tok(w) for w in text.split()]


def test_keywords_for_texts_uses_injected_tokenizer():
    texts = ["重層 支援会議", "重層 会議", "民生委員 地域", "民生委員 住民"]
    kw = keywords_for_texts(texts, np.array([0, 0, 1, 1]), tokenizer=SpaceTokenizer(), n_keywords=2)
    assert words(kw[0])[0] == "重層"
    assert words(kw[1])[0] == "民生委員"


def test_keywords_for_texts_default_tokenizer(seed, seed_labels):
    kw = keywords_for_texts(seed["text_norm"].tolist(), seed_labels, n_keywords=10)
    assert {"地域", "民生委員", "住民"} & set(words(kw[3]))


def test_top_terms(seed_docs):
    top = top_terms(seed_docs, 5)
    # 62 without the terms list; 14 of those 支援 are inside listed terms that now stay whole
    # (支援方針, 支援会議, 支援者, 重層的支援会議, 包括的相談支援, ...).
    assert top[0] == ("支援", 48)
    assert len(top) == 5
    counts = [c for _, c in top]
    assert counts == sorted(counts, reverse=True)


def test_bulk_tokenisation_on_threads_equals_one_by_one(seed):
    from analysis.text.tokens import SudachiTokenizer, tokenize_all

    # 2,160 texts: enough for the two-thread path; each seed comment with a varying prefix.
    texts = [f"{i}件目：{t}" for i, t in enumerate(seed["text_norm"].tolist() * 20)]
    one_by_one = [SudachiTokenizer().content_words(t) for t in texts]
    tok = SudachiTokenizer()
    bulk = tok.tokenize_all(texts, n_threads=2)
    assert bulk == one_by_one
    assert any(t.key == "民生委員" for doc in bulk for t in doc)
    # The same corpus again (as the embedding stage and then the keywords ask for it) is remembered,
    # and the caller gets its own lists.
    again = tokenize_all(tok, texts)
    assert again == bulk and again[0] is not bulk[0]
    again[0].clear()
    assert tok.tokenize_all(texts)[0] == one_by_one[0]


def test_shared_term_matrix_gives_the_same_keywords(seed_docs, seed_labels):
    from analysis.themes.keywords import term_matrix

    terms = term_matrix(seed_docs)
    assert terms.dtm.shape == (len(seed_docs), len(terms.keys)) and terms.dtm.sum() == sum(map(len, seed_docs))
    for labels in (seed_labels, seed_labels % 2):
        assert cluster_keywords(seed_docs, labels, terms=terms) == cluster_keywords(seed_docs, labels)
