"""Tests for analysis.store.manifest: one way to read a run's manifest, bounded and checked."""

from __future__ import annotations

import json
import shutil

import pytest

from analysis.store import manifest as mf
from analysis.store.runs import check_run, list_runs, load_run, RunError


def _copy(seed_run, tmp_path, name="run"):
    dst = tmp_path / "runs" / name
    shutil.copytree(seed_run.path, dst)
    return dst


def test_a_saved_run_matches_the_declared_shape(seed_run):
    m = mf.read_manifest(seed_run.path)
    assert m["format"] == mf.FORMAT_VERSION
    assert set(m) <= set(mf.MANIFEST_KEYS), set(m) - set(mf.MANIFEST_KEYS)
    for key, (kind, required) in mf.MANIFEST_KEYS.items():
        if required:
            assert isinstance(m[key], kind), key


@pytest.mark.parametrize("content, reason", [
    ("[" * 100_000 + "]" * 100_000, "壊れています"),        # nesting that would crash json with RecursionError
    (json.dumps({"a": "x" * (mf.MANIFEST_MAX_BYTES + 10)}), "壊れています"),   # far larger than any manifest
    ('{"run_id": "r", "format": 99, "config": {}, "input": {}, "quality": {"n_comments": 1, "n_clusters": 0}}', "新しい形式"),
    ('{"run_id": "r", "config": {}, "input": {}, "quality": {"n_comments": 1, "n_clusters": 0}, "notices": "x"}', "notices"),
    ('{"config": {}}', "run_id"),
    (b"\xff\xfe{".decode("latin-1"), "壊れています"),
], ids=["deep", "huge", "newer", "wrong-type", "no-id", "not-utf8"])
def test_hostile_manifests_are_reported_not_fatal(seed_run, tmp_path, content, reason):
    run = _copy(seed_run, tmp_path)
    (run / "manifest.json").write_text(content, encoding="utf-8" if "ÿ" not in content else "latin-1")
    problem = check_run(run)
    assert problem and reason in problem
    with pytest.raises(RunError, match=reason):
        load_run(run)
    table = list_runs(tmp_path / "runs")
    row = table.loc[table["path"] == str(run)].iloc[0]
    assert not row["ok"] and reason in row["problem"]
    assert mf.peek_manifest(run) == {} or reason in ("新しい形式", "notices", "run_id")


def test_names_a_run_tells_own_folders_from_others(seed_run, tmp_path):
    run = _copy(seed_run, tmp_path)
    assert mf.names_a_run(run)
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text('{"name": "someone else\'s"}', encoding="utf-8")
    assert not mf.names_a_run(other)
    assert not mf.names_a_run(tmp_path / "missing")
