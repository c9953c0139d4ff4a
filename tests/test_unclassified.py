"""Tests for analysis.explore.unclassified and the 「なぜ未分類なのか」 section of the テーマ page."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.explore.unclassified import explain_unclassified, unclassified_share
from analysis.schema import NOISE


def _space():
    """Two tight themes on the x and y axes, and four 未分類 points: on theme 0's edge, between
    both, fairly near theme 1 only, and far from both."""
    rng = np.random.default_rng(0)
    a = np.array([1.0, 0.0, 0.0]) + rng.normal(0, 0.05, (10, 3))
    b = np.array([0.0, 1.0, 0.0]) + rng.normal(0, 0.05, (10, 3))
    edge = np.array([[1.0, 0.12, 0.05]])
    between = np.array([[1.0, 1.0, 0.4]])
    near = np.array([[0.05, 0.6, 0.8]])
    apart = np.array([[0.0, 0.0, 1.0]])
    x = np.vstack([a, b, edge, between, near, apart])
    labels = np.array([0] * 10 + [1] * 10 + [NOISE] * 4)
    return x, labels


def test_each_unclassified_comment_gets_its_reason():
    x, labels = _space()
    e = explain_unclassified(labels, x, {0: "情報共有が難しい", 1: "縦割りの意識"})
    by_row = e.set_index("row")
    assert by_row.loc[20, "reason"] == "edge" and by_row.loc[20, "nearest_label"] == "情報共有が難しい"
    assert by_row.loc[21, "reason"] == "between" and {by_row.loc[21, "nearest"], by_row.loc[21, "second"]} == {0, 1}
    assert by_row.loc[22, "reason"] == "near" and by_row.loc[22, "nearest"] == 1
    assert by_row.loc[23, "reason"] == "apart"
    assert "「縦割りの意識」" in by_row.loc[22, "reason_ja"]
    assert e["row"].tolist()[0] == 20  # most likely to belong first
    now, after = unclassified_share(labels, e)
    assert now == pytest.approx(4 / 24) and after == pytest.approx(1 / 24)


def test_the_target_follows_the_runs_nearest_theme():
    x, labels = _space()
    nearest = np.zeros(len(labels), dtype=int)
    nearest[20] = 1  # the run says theme 1: the explanation must name where the action will put it
    e = explain_unclassified(labels, x, {0: "A", 1: "B"}, nearest=nearest).set_index("row")
    assert e.loc[20, "nearest"] == 1 and e.loc[20, "nearest_label"] == "B"


def test_no_unclassified_gives_an_empty_table():
    x, labels = _space()
    e = explain_unclassified(np.where(labels == NOISE, 0, labels), x, {0: "A", 1: "B"})
    assert e.empty and unclassified_share(labels[:20], e) == (0.0, 0.0)


def test_theme_page_explains_unclassified_and_assigns_in_one_click(models):
    from test_app import KEY_RUN, THEMES, _ok, _page

    from analysis.store.runs import load_run

    at = _page(THEMES)
    path = at.session_state[KEY_RUN]
    at.selectbox(key="theme_broad").set_value(NOISE).run()
    _ok(at)
    assert any(h.value == "なぜ未分類なのか" for h in at.subheader)
    intro = next(m.value for m in at.markdown if m.value.startswith("未分類は"))
    n_noise = int((load_run(path).assignments["cluster"] == NOISE).sum())
    assert f"**{n_noise}件" in intro
    one = next(b for b in at.button if str(b.key).startswith("unc_one_"))
    cid = str(one.key).removeprefix("unc_one_")
    target = one.label.removeprefix("「").removesuffix("」に入れる")
    one.click().run()
    _ok(at)
    run = load_run(path)
    row = run.assignments.set_index("comment_id").loc[cid]
    assert row["cluster"] != NOISE and bool(row["curated"])
    assert run.label_of(int(row["cluster"])) == target
    assert int((run.assignments["cluster"] == NOISE).sum()) == n_noise - 1


def test_viewers_see_the_reasons_but_no_buttons(models, monkeypatch):
    from test_app import THEMES, _ok, _page

    from ui import auth

    monkeypatch.setattr(auth.Viewer, "can_analyse", property(lambda self: False))
    at = _page(THEMES)
    at.selectbox(key="theme_broad").set_value(NOISE).run()
    _ok(at)
    assert any(h.value == "なぜ未分類なのか" for h in at.subheader)
    assert not [b for b in at.button if str(b.key).startswith("unc_")]
