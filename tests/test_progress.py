"""Progress inside long stages and cancellation (analysis.progress, used by background jobs)."""

from __future__ import annotations

import pytest

from analysis import progress


def test_fractions_grow_and_details_say_how_far():
    seen = []
    t = progress.Tracker(callback=lambda s, f, d: seen.append((s, f, d)), weights={"embed": 3, "space": 1},
                         min_interval_s=0)
    with progress.tracking(t):
        with progress.stage("embed"):
            for i in range(1, 4):
                progress.advance(i * 100, 300)
        with progress.stage("space"):
            with progress.stage("map"):  # an inner stage only changes nothing but the poll
                progress.advance(5, 10)
            progress.advance(200, 200)
    fractions = [f for _, f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert ("embed", pytest.approx(0.5), "文の意味を数値にしています（200 / 300）") in seen
    assert not any(s == "map" for s, _, _ in seen)


def test_no_tracker_reports_nothing_and_costs_nothing():
    progress.advance(1, 2)  # outside a run (notebooks, tests): a no-op
    progress.check_cancelled()
    with progress.stage("embed"):
        pass


def test_cancelling_a_run_stops_it_and_saves_nothing(seed_comments, tmp_path):
    from conftest import FakeEmbedder

    from analysis.config import PipelineConfig
    from analysis.pipeline import run_and_save

    asked = {"n": 0}

    def cancelled() -> bool:
        asked["n"] += 1
        return asked["n"] > 2  # the owner presses 中止 after the run has started

    with pytest.raises(progress.Cancelled):
        run_and_save(seed_comments, PipelineConfig(), {"name": "中止"}, base=tmp_path / "runs",
                     cache_dir=tmp_path / "cache", embedder=FakeEmbedder(), cancelled=cancelled)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
