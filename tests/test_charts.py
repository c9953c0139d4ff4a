"""Figure builders of analysis.report.charts and the selection -> comment mapping (no Streamlit needed)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis.report import charts
from analysis.schema import (
    CATEGORIES,
    PALETTE,
    SEED_CATEGORY,
    SEED_ROLE,
    VALUE_COLORS,
    theme_color,
)

NASTY = "<script>alert('x')</script> <b>太字</b> **強調** [x](javascript:alert(1)) & 終わり"


@pytest.fixture
def table() -> pd.DataFrame:
    """A small Run.table()-like frame: 3 themes + noise, real Japanese sentences, one nasty text."""
    texts = [
        "庁内の他部署に相談しても、担当外だと断られてしまう。",
        "縦割りの意識が強く、重層の担当課が勝手にやっている他人事と思われている。",
        "支援会議を開いても、参加を拒む部署がある。",
        "専門職同士で役割分担の認識がずれていて、結局誰も動かない。",
        "民生委員や自治会との情報共有の範囲がわからない。",
        "地域住民の理解を得るのに時間がかかる。",
        NASTY,
        "ケースの見立てが機関ごとに違い、支援方針がまとまらない。" * 3,
    ]
    n = len(texts)
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "comment_id": [f"c{i + 1:03d}" for i in range(n)],
            "text": texts,
            SEED_CATEGORY: [CATEGORIES[i % 4] for i in range(n)],
            SEED_ROLE: ["行政職員", "専門機関職員", "未記載", "行政職員", "専門機関職員", "行政職員", "未記載", "行政職員"],
            "cluster": [0, 0, 1, 1, 2, 2, -1, 0],
            "label": ["断られる・担当外", "断られる・担当外", "会議・参加", "会議・参加", "<i>地域</i>・住民", "<i>地域</i>・住民", "未分類", "断られる・担当外"],
            "broad": [0, 0, 0, 0, 1, 1, 0, 0],
            "broad_label": ["庁内", "庁内", "庁内", "庁内", "地域", "地域", "庁内", "庁内"],
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
        }
    )


def _all_points(fig: go.Figure) -> list[tuple[str, str]]:
    out = []
    for tr in fig.data:
        for cd, ht in zip(tr.customdata, tr.hovertext):
            out.append((cd[0], ht))
    return out


# --------------------------------------------------------------------------- text helpers


def test_wrap_text_counts_full_width_as_two_columns():
    lines = charts.wrap_text("あ" * 25 + "abc", width=20)
    assert lines == ["あ" * 10, "あ" * 10, "あああああabc"]
    assert charts.wrap_text("一行目\n二行目", 40) == ["一行目", "二行目"]


def test_hover_text_escapes_and_wraps():
    h = charts.hover_text(NASTY, width=20)
    assert "<script>" not in h and "&lt;script&gt;" in h
    assert "<b>" not in h and "&lt;b&gt;" in h
    assert "&amp;" in h
    # our own <br> tags are the only tags left
    assert h.replace("<br>", "").count("<") == 0
    long = charts.hover_text("長" * 1000, width=20, max_lines=3)
    assert long.count("<br>") == 2 and long.endswith("…")


def test_shorten():
    assert charts.shorten("短い") == "短い"
    assert charts.shorten("長" * 30, 10) == "長" * 5 + "…"
    assert charts.shorten("改行\nあり", 20) == "改行 あり"


# --------------------------------------------------------------------------- theme map


@pytest.mark.parametrize("color_by", ["theme", "broad", SEED_CATEGORY, SEED_ROLE])
def test_theme_map_has_every_comment_once_with_string_ids(table, color_by):
    fig = charts.theme_map(table, color_by=color_by)
    points = _all_points(fig)
    ids = [p[0] for p in points]
    assert sorted(ids) == sorted(table["comment_id"])
    assert all(isinstance(i, str) for i in ids)
    json.dumps(fig.to_plotly_json(), default=str)  # serialisable for st.plotly_chart


def test_theme_map_groups_and_noise(table):
    fig = charts.theme_map(table, color_by="theme")
    names = [tr.name for tr in fig.data]
    assert names[0] == "断られる・担当外"  # largest theme first
    assert names[-1] == "未分類"  # noise last, grey, open markers
    assert fig.data[-1].marker.color == charts.NOISE_COLOR
    assert fig.data[-1].marker.symbol == "circle-open"
    assert "&lt;i&gt;地域&lt;/i&gt;・住民" in names  # legend entries are escaped too
    cats = charts.theme_map(table, color_by=SEED_CATEGORY)
    assert [tr.name for tr in cats.data] == list(CATEGORIES)
    assert cats.data[0].marker.color == VALUE_COLORS[CATEGORIES[0]]


def test_theme_colours_follow_the_theme_not_its_rank(table):
    """A filter that hides the largest theme must not recolour the others (colour by theme id)."""
    full = {tr.name: tr.marker.color for tr in charts.theme_map(table).data}
    filtered = table[table["cluster"] != 0]
    part = {tr.name: tr.marker.color for tr in charts.theme_map(filtered).data}
    for name, color in part.items():
        assert color == full[name]
    assert full["会議・参加"] == theme_color(1)
    # beyond the palette, a second round of colours gets another marker shape
    many = table.assign(cluster=[0, 0, len(PALETTE) + 1, len(PALETTE) + 1, 2, 2, -1, 0])
    traces = {tr.name: tr for tr in charts.theme_map(many).data}
    assert traces["会議・参加"].marker.color == theme_color(1) and traces["会議・参加"].marker.symbol != "circle"


def test_theme_map_hover_escapes_script(table):
    fig = charts.theme_map(table)
    hovers = dict(_all_points(fig))
    h = hovers["c007"]
    assert "<script>" not in h and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in h
    assert "<b>太字</b>" not in h
    assert "[x](javascript:alert(1))" in h  # markdown-like text is just text for plotly
    # header line: theme, category, role
    assert h.startswith("<b>未分類</b>")
    # the long comment is wrapped into several lines
    assert hovers["c008"].count("<br>") >= 3


def test_theme_map_highlight(table):
    fig = charts.theme_map(table, highlight_ids=["c001"])
    for tr in fig.data:
        for cd, size in zip(tr.customdata, tr.marker.size):
            assert (size == 13.0) == (cd[0] == "c001")


def test_theme_map_rejects_unknown_colour(table):
    with pytest.raises(ValueError):
        charts.theme_map(table, color_by="nope")


# --------------------------------------------------------------------------- selection mapping


def test_selected_comment_ids_uses_customdata_not_point_indices():
    event = {
        "selection": {
            "points": [
                {"curve_number": 0, "point_index": 0, "point_number": 0, "customdata": ["c010"]},
                {"curve_number": 1, "point_index": 0, "point_number": 0, "customdata": ["c002"]},
                {"curve_number": 2, "point_index": 3, "customdata": "c005"},  # scalar customdata
                {"curve_number": 1, "point_index": 0, "customdata": ["c002"]},  # duplicate (box + lasso)
                {"curve_number": 3, "point_index": 1},  # no customdata: ignored
                {"curve_number": 3, "point_index": 2, "customdata": []},
            ],
            "point_indices": [0, 0, 3, 0, 1, 2],
            "box": [],
            "lasso": [],
        }
    }
    assert charts.selected_comment_ids(event) == ["c010", "c002", "c005"]
    assert charts.selected_comment_ids(event["selection"]) == ["c010", "c002", "c005"]
    assert charts.selected_comment_ids(event["selection"]["points"]) == ["c010", "c002", "c005"]


@pytest.mark.parametrize("empty", [None, {}, {"selection": {"points": []}}, []])
def test_selected_comment_ids_empty(empty):
    assert charts.selected_comment_ids(empty) == []


def test_selection_round_trip_through_the_figure(table):
    """Simulate plotly: a selection returns each point's customdata; ids map back to rows."""
    fig = charts.theme_map(table)
    points = [
        {"curve_number": ci, "point_index": pi, "customdata": list(tr.customdata[pi])}
        for ci, tr in enumerate(fig.data)
        for pi in range(len(tr.customdata))
        if ci % 2 == 0
    ]
    ids = charts.selected_comment_ids({"selection": {"points": points}})
    expected = [cd[0] for ci, tr in enumerate(fig.data) if ci % 2 == 0 for cd in tr.customdata]
    assert ids == expected
    assert set(ids) <= set(table["comment_id"])


def test_selected_comment_ids_accepts_streamlit_attribute_dicts():
    from streamlit.elements.plotly_chart import PlotlySelectionState, PlotlyState

    sel = PlotlySelectionState(points=[{"customdata": ["c003"]}], point_indices=[0], box=[], lasso=[])
    assert charts.selected_comment_ids(PlotlyState(selection=sel)) == ["c003"]


# --------------------------------------------------------------------------- bars and heatmap


def test_keyword_bar():
    fig = charts.keyword_bar(["縦割り", "<b>担当</b>"], [5, 2], "件数")
    assert list(fig.data[0].x) == [5, 2]
    assert list(fig.data[0].y) == ["縦割り", "&lt;b&gt;担当&lt;/b&gt;"]
    assert fig.layout.xaxis.title.text == "件数"
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tickformat == "d"  # whole comments: no 0.2 … ticks


def test_category_mix_bar_uses_category_colours():
    counts = pd.Series({c: i + 1 for i, c in enumerate(CATEGORIES)})
    fig = charts.category_mix_bar(counts)
    assert list(fig.data[0].marker.color) == [VALUE_COLORS[c] for c in CATEGORIES]
    assert fig.layout.xaxis.title.text == "件数"


def test_category_role_bar_counts(table):
    fig = charts.category_role_bar(table)
    assert fig.layout.barmode == "stack"
    total = sum(sum(tr.y) for tr in fig.data)
    assert total == len(table)
    assert [tr.name for tr in fig.data] == ["行政職員", "専門機関職員", "未記載"]
    assert fig.layout.xaxis.title.text == "連携の分類"


@pytest.mark.parametrize("mode", ["counts", "shares", "residuals"])
def test_category_theme_heatmap_modes(mode):
    m = pd.DataFrame([[3, 0, 1, 0], [1, 2, 2, 1], [0, 0, 0, 5]], index=["<b>A</b>", "B", "B"], columns=list(CATEGORIES))
    if mode == "shares":
        m = m.div(m.sum(axis=1), axis=0)
    if mode == "residuals":
        m = (m - m.mean()) / 2
    fig = charts.category_theme_heatmap(m, mode, attribute=SEED_CATEGORY)
    hm = fig.data[0]
    assert np.asarray(hm.z).shape == (3, 4)
    assert hm.y[0] == "&lt;b&gt;A&lt;/b&gt;"
    assert len(set(hm.y)) == 3  # duplicate labels made unique so rows do not merge
    assert list(hm.x) == list(CATEGORIES)
    if mode == "residuals":
        assert hm.zmid == 0 and hm.zmin == -hm.zmax
    if mode == "shares":
        assert hm.text[0][0].endswith("%")
    assert fig.layout.xaxis.title.text == "連携の分類"


def test_heatmap_rejects_unknown_mode():
    with pytest.raises(ValueError):
        charts.category_theme_heatmap(pd.DataFrame([[1]]), "bogus")


def test_category_color_map_is_stable_for_unknown_categories():
    cmap = charts.category_color_map(["行政×行政", "福祉×教育", "福祉×医療"])
    assert cmap["行政×行政"] == VALUE_COLORS["行政×行政"]
    assert cmap["福祉×教育"] != cmap["福祉×医療"]


def test_plotly_config_carries_japanese_toolbar():
    cfg = charts.plotly_config()
    d = cfg["locales"]["ja"]["dictionary"]
    assert cfg["locale"] == "ja" and cfg["displaylogo"] is False
    for english in ("Zoom", "Pan", "Box Select", "Lasso Select", "Autoscale", "Reset axes", "Zoom in", "Zoom out",
                    "Download plot as a PNG"):
        assert d[english] and d[english] != english


def test_an_attribute_value_keeps_its_colour_under_a_filter_and_on_cards():
    """北部 is the same colour on the map of all rows, on the map of rows without 中部, on the bars
    and on a quote card (the run's colours, not the rank among the rows shown)."""
    from analysis.schema import attribute_color_maps
    from ui.text import quote_card_html

    t = pd.DataFrame({"comment_id": [f"c{i}" for i in range(6)], "text": ["住民との連携が難しい"] * 6,
                      "x": np.arange(6.0), "y": np.arange(6.0), "cluster": [0, 0, 1, 1, 2, 2],
                      "label": ["甲", "甲", "乙", "乙", "丙", "丙"],
                      "地区": ["中部", "北部", "南部", "中部", "北部", "南部"]})
    maps = attribute_color_maps(t, ["地区"])
    assert len(set(maps["地区"].values())) == 3

    def colours(fig):
        return {tr.name: tr.marker.color for tr in fig.data}

    full = colours(charts.theme_map(t, color_by="地区", value_colors=maps))
    part = colours(charts.theme_map(t[t["地区"] != "中部"], color_by="地区", value_colors=maps))
    assert part["北部"] == full["北部"] == maps["地区"]["北部"]
    assert part["南部"] == full["南部"] == maps["地区"]["南部"]
    bars = charts.attribute_bar(t[t["地区"] != "中部"], "地区", value_colors=maps)
    assert list(bars.data[0].marker.color) == [maps["地区"]["北部"], maps["地区"]["南部"]]
    mix = charts.category_mix_bar(pd.Series({"北部": 1, "南部": 2}), colors=maps["地区"])
    assert list(mix.data[0].marker.color) == [maps["地区"]["北部"], maps["地区"]["南部"]]
    card = quote_card_html("本文", attributes=[("地区", "南部")], colors=maps)
    assert f"background:{maps['地区']['南部']}" in card and f"4px solid {maps['地区']['南部']}" in card


def test_big_maps_draw_with_webgl_and_a_seeded_sample_that_keeps_highlights():
    n = charts.MAP_MAX_POINTS + 5_000
    rng = np.random.default_rng(1)
    t = pd.DataFrame({"comment_id": [f"c{i:06d}" for i in range(n)], "text": ["窓口どうしの連携が進まない"] * n,
                      "x": rng.normal(size=n), "y": rng.normal(size=n), "cluster": rng.integers(-1, 30, size=n)})
    t["label"] = "テーマ" + t["cluster"].astype(str)
    keep = {"c000003", f"c{n - 1:06d}"}
    fig = charts.theme_map(t, highlight_ids=keep)
    drawn = [c[0] for tr in fig.data for c in tr.customdata]
    assert len(drawn) == len(set(drawn)) and charts.MAP_MAX_POINTS <= len(drawn) <= charts.MAP_MAX_POINTS + len(keep)
    assert keep <= set(drawn)
    assert all(isinstance(tr, go.Scattergl) for tr in fig.data)
    assert charts.map_sample(t)["comment_id"].tolist() == charts.map_sample(t)["comment_id"].tolist()  # same rows every rerun
    # shares of themes survive the sampling (30 themes of ~800 comments each, 20,000 of 25,000 drawn)
    full = t["cluster"].value_counts(normalize=True)
    part = charts.map_sample(t)["cluster"].value_counts(normalize=True).reindex(full.index)
    assert float((full - part).abs().max()) < 0.01
    small = charts.theme_map(t.head(charts.MAP_WEBGL_FROM - 1))
    assert all(isinstance(tr, go.Scatter) for tr in small.data)
    assert sum(len(tr.x) for tr in small.data) == charts.MAP_WEBGL_FROM - 1
