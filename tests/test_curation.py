"""Tests for analysis.store.curation: the edit log beside a run (merge, split, move, assign 未分類, broad names,
undo), replayed by load_run, merged between concurrent editors and carried to a rerun.

Every test edits a copy of the session's seed run (real comments, real default backend).
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.schema import NOISE
from analysis.store import curation
from analysis.store.curation import CurationError
from analysis.store.runs import RunError, check_run, list_runs, load_run, save_run


@pytest.fixture
def run_dir(tmp_path, seed_run) -> Path:
    d = tmp_path / "runs" / seed_run.path.name
    shutil.copytree(seed_run.path, d)
    return d


def _clusters(run) -> pd.Series:
    return run.assignments.set_index("comment_id")["cluster"]


def _two_themes(run) -> tuple[int, int]:
    """The two largest themes under one broad theme (a plausible merge)."""
    c = run.clusters.sort_values(["size", "cluster"], ascending=[False, True])
    for _, group in c.groupby("parent", sort=False):
        if len(group) >= 2:
            return int(group["cluster"].iloc[0]), int(group["cluster"].iloc[1])
    raise AssertionError("no broad theme with two themes")


def test_merge_changes_exactly_the_other_themes_rows(run_dir):
    before = load_run(run_dir)
    computed = (run_dir / "assignments.csv").read_bytes()
    a, b = _two_themes(before)
    entry = curation.merge(before, [a, b], by="田中")
    assert entry["kind"] == "merge" and entry["args"] == {"clusters": [a, b]} and entry["by"] == "田中"
    after = load_run(run_dir)
    old, new = _clusters(before), _clusters(after)
    changed = new.index[new != old]
    assert set(changed) == set(old.index[old == b])
    assert (new[changed] == a).all()
    assert set(after.assignments.loc[after.assignments["curated"], "comment_id"]) == set(changed)
    info, old_info = after.clusters.set_index("cluster"), before.clusters.set_index("cluster")
    assert b not in info.index and after.n_clusters == before.n_clusters - 1
    assert info.at[a, "size"] == old_info.at[a, "size"] + old_info.at[b, "size"]
    assert info.at[a, "label"] == old_info.at[a, "label"]  # keeps the first theme's id and name
    assert info.at[a, "keywords"] and info.at[a, "keywords"] != old_info.at[a, "keywords"]
    untouched = [c for c in info.index if c != a]
    assert all(info.at[c, "keywords"] == old_info.at[c, "keywords"] for c in untouched)
    assert np.isnan(info.at[a, "stability"])  # the merged theme was never measured
    assert (info["size"] == new[new != NOISE].value_counts().reindex(info.index)).all()
    s = after.assignments.loc[after.assignments["curated"], "strength"]
    assert ((s > 0) & (s <= 1)).all()
    assert (run_dir / "assignments.csv").read_bytes() == computed  # computed files stay untouched
    assert (after.table().loc[after.table()["comment_id"].isin(changed), "label"] == info.at[a, "label"]).all()


def test_split_picks_comments_into_a_new_theme(run_dir):
    run = load_run(run_dir)
    big = int(run.clusters.sort_values("size", ascending=False)["cluster"].iloc[0])
    members = run.assignments.loc[run.assignments["cluster"] == big, "comment_id"].tolist()
    picked = members[:3]
    entry = curation.split(run, big, picked)
    k = entry["args"]["new_cluster"]
    assert k == int(run.clusters["cluster"].max()) + 1
    after = load_run(run_dir)
    new = _clusters(after)
    assert set(new.index[new != _clusters(run)]) == set(picked) and (new[picked] == k).all()
    info = after.clusters.set_index("cluster")
    assert info.at[k, "size"] == 3 and info.at[big, "size"] == len(members) - 3
    assert info.at[k, "label"] == info.at[k, "auto_label"] == entry["args"]["auto_label"] != ""
    assert info.at[k, "parent"] == info.at[big, "parent"] and info.at[k, "parent_label"] == info.at[big, "parent_label"]
    assert info.at[k, "keywords"]
    primary = after.primary_attribute
    assert info.at[k, "n_categories"] == after.comments.set_index("comment_id").loc[picked, primary].nunique()
    # with a name: kept as a user name (labels.json), the automatic name stays underneath
    second = curation.split(after, big, members[3:5], name="庁内の押し付け合い")
    k2 = second["args"]["new_cluster"]
    assert k2 == k + 1
    again = load_run(run_dir).clusters.set_index("cluster")
    assert again.at[k2, "label"] == "庁内の押し付け合い" != again.at[k2, "auto_label"]
    assert json.loads((run_dir / "labels.json").read_text(encoding="utf-8"))[str(k2)] == "庁内の押し付け合い"
    with pytest.raises(CurationError, match="すべて"):
        curation.split(load_run(run_dir), k, picked)


def test_move_to_a_theme_and_back_to_unclassified(run_dir):
    run = load_run(run_dir)
    a, b = _two_themes(run)
    ids = run.assignments.loc[run.assignments["cluster"] == b, "comment_id"].tolist()[:2]
    curation.move(run, ids, a)
    after = load_run(run_dir)
    new = _clusters(after)
    assert set(new.index[new != _clusters(run)]) == set(ids) and (new[ids] == a).all()
    info = after.clusters.set_index("cluster")
    assert info.at[a, "size"] == run.clusters.set_index("cluster").at[a, "size"] + 2
    row = after.assignments.set_index("comment_id").loc[ids[0]]
    assert row["nearest_cluster"] == a and 0 < row["strength"] <= 1 and bool(row["curated"])
    curation.move(after, ids[:1], NOISE)
    row = load_run(run_dir).assignments.set_index("comment_id").loc[ids[0]]
    assert row["cluster"] == NOISE and row["strength"] == 0 and row["nearest_cluster"] == a
    assert load_run(run_dir).table().set_index("comment_id").at[ids[0], "label"] == "未分類"
    # a theme is never emptied by a move (that is a merge)
    rest = load_run(run_dir).assignments.loc[lambda d: d["cluster"] == b, "comment_id"].tolist()
    with pytest.raises(CurationError, match="まとめる"):
        curation.move(load_run(run_dir), rest, a)
    with pytest.raises(CurationError, match="すでに"):
        curation.move(load_run(run_dir), ids[1:], a)


def test_assign_unclassified_one_by_one_and_by_threshold(run_dir):
    run = load_run(run_dir)
    noise = run.assignments[run.assignments["cluster"] == NOISE].sort_values("nearest_strength", ascending=False)
    assert len(noise) > 5
    first = str(noise["comment_id"].iloc[0])
    curation.assign_unclassified(run, [first])
    after = load_run(run_dir)
    new = _clusters(after)
    assert list(new.index[new != _clusters(run)]) == [first]
    assert new[first] == noise["nearest_cluster"].iloc[0]
    threshold = float(noise["nearest_strength"].iloc[4])
    entry = curation.assign_unclassified(after, min_strength=threshold)
    expected = noise[(noise["nearest_strength"] >= threshold) & (noise["comment_id"] != first)]
    assert set(entry["args"]["targets"]) == set(expected["comment_id"])
    final = _clusters(load_run(run_dir))
    moved = final.index[final != new]
    assert set(moved) == set(expected["comment_id"])
    assert (final[expected["comment_id"]].to_numpy() == expected["nearest_cluster"].to_numpy()).all()
    with pytest.raises(CurationError, match="条件に合う"):
        curation.assign_unclassified(load_run(run_dir), min_strength=1.01)


def test_rename_broad_theme_shows_in_the_table(run_dir):
    run = load_run(run_dir)
    p = int(run.clusters["parent"].iloc[0])
    curation.rename_broad(run, p, "組織の壁")
    t = load_run(run_dir).table()
    assert (t.loc[t["broad"] == p, "broad_label"] == "組織の壁").all()
    assert (load_run(run_dir).clusters.loc[lambda c: c["parent"] == p, "parent_label"] == "組織の壁").all()
    curation.rename_broad(load_run(run_dir), p, "")
    assert "組織の壁" not in load_run(run_dir).clusters["parent_label"].tolist()


def test_undo_last_or_a_given_edit_and_refuse_when_a_later_one_depends_on_it(run_dir):
    run = load_run(run_dir)
    original = run.table()
    a, b = _two_themes(run)
    members = run.assignments.loc[run.assignments["cluster"] == a, "comment_id"].tolist()
    s = curation.split(run, a, members[:2], name="分けたテーマ")
    k = s["args"]["new_cluster"]
    m = curation.merge(load_run(run_dir), [b, k])  # depends on the split
    noise = run.assignments.loc[run.assignments["cluster"] == NOISE, "comment_id"].tolist()
    mv = curation.move(load_run(run_dir), noise[:1], b)
    with pytest.raises(CurationError, match=f"番号 {m['id']}"):
        curation.undo(load_run(run_dir), s["id"])
    assert [e["id"] for e in curation.edit_log(load_run(run_dir))] == [s["id"], m["id"], mv["id"]]
    assert curation.undo(load_run(run_dir), m["id"])["id"] == m["id"]  # the merge, from the middle
    assert curation.undo(load_run(run_dir))["id"] == mv["id"]  # the last one
    assert curation.undo(load_run(run_dir))["id"] == s["id"]
    assert str(k) not in json.loads((run_dir / "labels.json").read_text(encoding="utf-8"))
    with pytest.raises(CurationError, match="元に戻す操作がありません"):
        curation.undo(load_run(run_dir))
    back = load_run(run_dir)
    assert back.table().equals(original)
    assert "curated" not in back.assignments and back.base is None
    # ids are never given twice, even after an undo
    assert curation.move(back, noise[:1], b)["id"] == mv["id"] + 1


def test_log_table_and_list_runs(run_dir):
    run = load_run(run_dir)
    a, b = _two_themes(run)
    curation.merge(run, [a, b], by="田中")
    log = curation.log_table(curation.edit_log(load_run(run_dir)))
    assert log.loc[0, "操作"] == "まとめる" and log.loc[0, "操作した人"] == "田中" and "まとめました" in log.loc[0, "内容"]
    runs = list_runs(run_dir.parent)
    assert runs["ok"].all() and check_run(run_dir) is None


def test_concurrent_editors_both_land(run_dir):
    run = load_run(run_dir)
    a, b = _two_themes(run)
    noise = run.assignments.loc[run.assignments["cluster"] == NOISE, "comment_id"].tolist()
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def edit(fn, *args):
        try:
            barrier.wait()
            fn(run, *args)  # both start from the same (stale) run object
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=edit, args=(curation.merge, [a, b])),
               threading.Thread(target=edit, args=(curation.move, noise[:2], a)),
               threading.Thread(target=edit, args=(curation.rename_broad, int(run.clusters["parent"].iloc[0]), "並行"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    log = curation.edit_log(load_run(run_dir))
    assert sorted(e["kind"] for e in log) == ["merge", "move", "rename_broad"]
    assert len({e["id"] for e in log}) == 3
    after = _clusters(load_run(run_dir))
    assert (after[noise[:2]] == a).all() and b not in set(after)


@pytest.mark.parametrize("content, why", [
    ("{壊れた", "壊れています"),
    ('{"edits": {"1": "merge"}}', "形式が正しくありません"),
    ('{"format": 1, "edits": [{"id": 1, "kind": "merge", "args": {"clusters": ["a"]}}]}', "形式が正しくありません"),
    ('{"format": 99, "edits": []}', "新しい形式"),
])
def test_damaged_edits_json_gives_a_readable_message(run_dir, content, why):
    run = load_run(run_dir)
    (run_dir / "edits.json").write_text(content, encoding="utf-8")
    with pytest.raises(RunError, match=why) as info:
        load_run(run_dir)
    assert "edits.json" in str(info.value)
    assert "edits.json" in check_run(run_dir)
    listed = list_runs(run_dir.parent)
    assert not listed["ok"].iloc[0] and "edits.json" in listed["problem"].iloc[0]
    with pytest.raises(RunError, match="edits.json"):
        curation.merge(run, list(_two_themes(run)))


def test_an_entry_that_no_longer_fits_is_skipped_with_a_warning(run_dir):
    run = load_run(run_dir)
    bad = {"id": 1, "kind": "move", "args": {"comment_ids": ["c001"], "to": 999}, "text": "手で書いた操作"}
    (run_dir / "edits.json").write_text(json.dumps(curation.document([bad])), encoding="utf-8")
    after = load_run(run_dir)
    assert any("手で書いた操作" in w for w in after.warnings)
    assert _clusters(after).equals(_clusters(run))


def test_a_curated_run_saved_elsewhere_keeps_computed_files_and_its_log(run_dir, tmp_path):
    run = load_run(run_dir)
    a, b = _two_themes(run)
    curation.merge(run, [a, b])
    curated = load_run(run_dir)
    curated.run_id = "20990101-000000-cafe0001"
    copy = save_run(curated, base=tmp_path / "elsewhere")
    assert (copy / "assignments.csv").read_bytes() == (run_dir / "assignments.csv").read_bytes()
    assert [e["kind"] for e in curation.read_edits(copy)] == ["merge"]
    assert load_run(copy).table().equals(load_run(run_dir).table())


def _survivors(prev, new) -> dict[int, int]:
    from analysis.explore.compare import compare_runs

    t = compare_runs(prev, new)
    return {r.clusters_a[0]: r.clusters_b[0] for r in t.itertuples()
            if r.status in ("kept", "renamed") and r.jaccard >= 0.6}


def test_rerun_keeps_the_edits_of_surviving_themes(run_dir, seed_comments, tmp_path):
    from analysis.config import PipelineConfig
    from analysis.pipeline import run_pipeline

    run = load_run(run_dir)
    config = PipelineConfig().replace(**{"hdbscan.min_samples": 3})  # other themes, same UMAP
    probe = run_pipeline(run.comments, config)
    alive = _survivors(run, probe)
    gone = [int(c) for c in run.clusters["cluster"] if int(c) not in alive]
    assert len(alive) >= 3, alive
    keep, other = sorted(alive)[:2]
    in_probe = _clusters(probe)
    # comments whose place in the rerun is clear: members that stay in `keep`, 未分類 outside both
    members = [c for c in _clusters(run).index[_clusters(run) == keep] if in_probe[c] == alive[keep]]
    noise = [c for c in _clusters(run).index[_clusters(run) == NOISE] if in_probe[c] not in (alive[keep], alive[other])]
    curation.merge(run, [keep, other])
    split = curation.split(load_run(run_dir), keep, members[:2], name="分けたテーマ")
    curation.move(load_run(run_dir), noise[:2], keep)
    if gone:
        curation.move(load_run(run_dir), noise[2:3], gone[0])  # into a theme that does not survive
    previous = load_run(run_dir)

    new = run_pipeline(previous.comments, config, dict(previous.manifest["input"]), previous=previous)
    report = new.manifest["edits_carried_over"]
    assert [c["kind"] for c in report["carried"]] == ["merge", "split", "move"]
    assert [d["kind"] for d in report["dropped"]] == (["move"] if gone else [])
    path = save_run(new, base=tmp_path / "rerun")
    saved = load_run(path)
    got, before = _clusters(saved), _clusters(previous)
    k_new = saved.edits[1]["args"]["new_cluster"]
    assert alive[keep] in set(got) and alive[other] not in set(got)  # merged in the new run too
    assert (got[noise[:2]] == alive[keep]).all()
    # the split theme has the same members and the user's name
    assert set(got.index[got == k_new]) == set(before.index[before == split["args"]["new_cluster"]])
    assert saved.label_of(k_new) == "分けたテーマ"
    if gone:  # the dropped move: the comment stays where the rerun put it
        assert got[noise[2]] == in_probe[noise[2]]
    assert json.loads((path / "manifest.json").read_text(encoding="utf-8"))["edits_carried_over"] == report
