"""Pure UI helpers: escaping, highlighting, filters, parameter bounds (no AppTest needed)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from analysis.config import PipelineConfig
from ui.rerun import PARAMS, config_from_values, param_value
from ui.state import Filters, apply_filters
from ui.text import (
    highlight_html,
    matches_query,
    md_escape,
    query_words,
    quote_card_html,
)

NASTY = "<script>alert(1)</script> **太字** <b>タグ</b> [x](javascript:alert(1)) & $x$ :red[赤]"


def test_highlight_escapes_everything():
    h = highlight_html(NASTY)
    assert "<script>" not in h and "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert "&lt;b&gt;タグ&lt;/b&gt;" in h and "&amp;" in h
    assert "**太字**" in h and "[x](javascript:alert(1))" in h


def test_highlight_marks_emphasis_after_escaping():
    h = highlight_html("前<b>強調</b>後", emphasis=["<b>強調</b>"])
    assert h == '前<mark style="background:#fff1a8;padding:0 1px;border-radius:2px;">&lt;b&gt;強調&lt;/b&gt;</mark>後'


def test_highlight_overlapping_emphasis_and_query():
    h = highlight_html("たらい回しになる", emphasis=["たらい回し"], query_words=["回しに"])
    # one run per change of flags, nothing duplicated or lost
    assert re.sub(r"<[^>]+>", "", h) == "たらい回しになる"
    assert h.count("<mark") == 2 and h.count("<span") == 2


def test_highlight_query_is_width_and_case_insensitive():
    h = highlight_html("ＳＳＷと連携する", query_words=["ssw"])
    assert "ＳＳＷ</span>" in h


def test_highlight_line_breaks():
    assert highlight_html("一行目\n二行目") == "一行目<br>二行目"


def test_quote_card_html_escapes_badges_and_theme():
    card = quote_card_html(
        NASTY, attributes=[("連携の分類", "<i>分類</i>"), ("<s>回答者</s>", "行政職員")], emphasis=["<b>タグ</b>"],
        theme="<u>テーマ</u>", comment_id="c<1>", extra="類似度 0.50",
    )
    assert "<script>" not in card and "<i>" not in card and "<u>" not in card and "c<1>" not in card
    assert "<s>" not in card and 'title="&lt;s&gt;回答者&lt;/s&gt;"' in card  # the attribute name is the tooltip
    assert "&lt;i&gt;分類&lt;/i&gt;" in card and "テーマ: &lt;u&gt;テーマ&lt;/u&gt;" in card
    assert "<mark" in card and "類似度 0.50" in card


@pytest.mark.parametrize("raw", [NASTY, "**bold** _it_ `code` # head", "a\\b", "1. list", "> quote", "- item"])
def test_md_escape_neutralises_markdown(raw):
    out = md_escape(raw)
    for ch in "*_`#[]()<>$:":
        assert ch not in out.replace("\\" + ch, "")
    assert "\n" not in out


def test_query_words_and_matching():
    assert query_words("縦割り　民生委員  ") == ["縦割り", "民生委員"]
    assert matches_query("縦割り行政と民生委員", ["縦割り", "民生委員"])
    assert not matches_query("縦割り行政", ["縦割り", "民生委員"])
    assert matches_query("ＳＳＷ", ["ssw"])


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "comment_id": ["c1", "c2", "c3", "c4"],
            "text": ["縦割りで断られる", "民生委員との情報共有", "会議に来てくれない", "縦割りの会議"],
            "連携の分類": ["行政×行政", "行政・専門機関×地域", "行政×専門機関", "行政×行政"],
            "回答者": ["行政職員", "専門機関職員", "行政職員", "未記載"],
        }
    )


def test_filters_empty_means_all(table):
    f = Filters()
    assert not f.active and len(apply_filters(table, f)) == 4
    assert "すべて" in f.describe_ja()


def test_filters_combine(table):
    cat = (("連携の分類", ("行政×行政",)),)
    assert list(apply_filters(table, Filters(values=cat))["comment_id"]) == ["c1", "c4"]
    both = cat + (("回答者", ("行政職員",)),)
    assert list(apply_filters(table, Filters(values=both))["comment_id"]) == ["c1"]
    assert list(apply_filters(table, Filters(query="縦割り 会議"))["comment_id"]) == ["c4"]
    f = Filters(values=cat, query="縦割り")
    assert f.active and "連携の分類: 行政×行政" in f.describe_ja() and "縦割り" in f.describe_ja()


def test_filters_use_the_forgiving_index(table):
    from analysis.text.textsearch import TextIndex

    t = table.assign(text=["担当外の相談がたらい回しになる", "民生委員との情報共有", "会議", "たらい回し"])
    index = TextIndex(t["text"].tolist())
    assert list(apply_filters(t, Filters(query="たらいまわし"), index)["comment_id"]) == ["c1", "c4"]
    assert apply_filters(t, Filters(query="たらいまわし")).empty  # plain substring matching would find nothing


def test_param_defaults_within_bounds():
    cfg = PipelineConfig()
    for p in PARAMS:
        v = param_value(cfg, p.key)
        if p.options:
            assert v in p.options
        else:
            assert p.min <= v <= p.max, p.key


def test_config_from_values_casts_and_rejects_unknown():
    cfg = config_from_values({"umap.n_neighbors": 8.0, "hdbscan.cluster_selection_method": "eom", "seed": 3})
    assert cfg.umap.n_neighbors == 8 and isinstance(cfg.umap.n_neighbors, int)
    assert cfg.hdbscan.cluster_selection_method == "eom" and cfg.seed == 3
    with pytest.raises(Exception):
        config_from_values({"umap.bogus": 1})
