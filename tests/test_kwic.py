"""Tests for analysis.text.kwic (keyword in context)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.ingest.seed import load_seed
from analysis.text.kwic import KWIC_COLUMNS, find_spans, kwic


@pytest.fixture()
def comments() -> pd.DataFrame:
    texts = [
        "地域の課題は地域で解決すると言われても、地域に丸投げされているように感じる。",
        "ｹｰｽ会議の日程調整に時間がかかり、ケース会議そのものが形骸化している。",
        "ＳＳＷとの連携が学校によって違う。SSWの配置も少ない。",
        "**地域**と<b>行政</b>の役割分担が曖昧",
        "ﾎﾞﾗﾝﾃｨｱの方に頼り過ぎている",
    ]
    return pd.DataFrame(
        {
            "comment_id": ["k1", "k2", "k3", "k4", "k5"],
            "text": texts,
            "category": ["行政・専門機関×地域", "行政×専門機関", "専門機関×専門機関", "行政・専門機関×地域", "行政・専門機関×地域"],
            "role": ["行政職員", "専門機関職員", "専門機関職員", "未記載", "行政職員"],
        }
    )


def test_every_occurrence_with_slices(comments):
    out = kwic(comments, "地域", width=20, ids=["k1"])
    assert list(out.columns) == list(KWIC_COLUMNS) + ["category", "role"]  # the table's attributes follow
    assert list(out["left"]) == ["", "地域の課題は", "地域の課題は地域で解決すると言われても、"]
    assert list(out["word"]) == ["地域"] * 3
    assert out["right"].iloc[0] == "の課題は地域で解決すると言われても、地域…"
    assert out["right"].iloc[2] == "に丸投げされているように感じる。"
    assert (out["category"] == "行政・専門機関×地域").all() and (out["role"] == "行政職員").all()
    for row in out.itertuples():
        text = comments.set_index("comment_id").loc[row.comment_id, "text"]
        assert (row.left.lstrip("…") + row.word + row.right.rstrip("…")) in text


def test_width_truncates_with_ellipsis_on_cut_side(comments):
    out = kwic(comments, "地域", width=3, ids=["k1"])
    assert list(out["left"]) == ["", "…課題は", "…ても、"]
    assert list(out["right"]) == ["の課題…", "で解決…", "に丸投…"]
    assert kwic(comments, "地域", width=0, ids=["k1"])["left"].tolist() == ["", "…", "…"]


def test_halfwidth_fullwidth_and_case(comments):
    case = kwic(comments, "ケース会議", width=5, ids=["k2"])
    assert list(case["word"]) == ["ｹｰｽ会議", "ケース会議"]  # original forms, not normalised
    assert case["left"].tolist() == ["", "…がかかり、"]
    assert case["right"].iloc[0] == "の日程調整…"
    ssw = kwic(comments, "ssw", width=4)
    assert list(ssw["word"]) == ["ＳＳＷ", "SSW"]
    assert ssw["right"].tolist() == ["との連携…", "の配置も…"]
    assert ssw["left"].tolist() == ["", "…て違う。"]
    # Half-width voiced marks (ﾎﾞ = two characters) map back to whole original characters.
    vol = kwic(comments, "ボランティア", width=5)
    assert vol["word"].tolist() == ["ﾎﾞﾗﾝﾃｨｱ"]
    assert vol["right"].tolist() == ["の方に頼り…"]
    assert kwic(comments, "ﾎﾞﾗﾝﾃｨｱ")["comment_id"].tolist() == ["k5"]
    assert find_spans("ﾎﾞﾗﾝﾃｨｱ", "ボ") == [(0, 2)]


def test_markup_comes_back_unchanged(comments):
    out = kwic(comments, "地域", ids=["k4"])
    assert out["left"].tolist() == ["**"]
    assert out["right"].tolist() == ["**と<b>行政</b>の役割分担が曖昧"]
    b = kwic(comments, "<b>")
    assert b["word"].tolist() == ["<b>"] and b["right"].tolist() == ["行政</b>の役割分担が曖昧"]
    stars = kwic(comments, "**", width=2)
    assert stars["word"].tolist() == ["**", "**"]
    assert stars["left"].tolist() == ["", "…地域"]


def test_empty_word_and_no_match(comments):
    for word in ("", "   ", "\u3000"):
        out = kwic(comments, word)
        assert out.empty and list(out.columns) == list(KWIC_COLUMNS) + ["category", "role"]
    none = kwic(comments, "生活保護")
    assert none.empty and list(none.columns) == list(KWIC_COLUMNS) + ["category", "role"]


def test_seed_counts_match_plain_counting():
    seed = load_seed()
    out = kwic(seed, "民生委員")
    assert len(out) == sum(t.count("民生委員") for t in seed["text"]) > 1
    assert out["comment_id"].is_monotonic_increasing
    assert set(out["連携の分類"]) <= set(seed["連携の分類"])
