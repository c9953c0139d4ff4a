"""Tests for analysis.explore.compare: matching themes between runs, statuses, Sankey, carried-over names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis.errors import CorpusError
from analysis.explore.compare import (
    STATUS_JA,
    apply_labels,
    carry_over_labels,
    compare_runs,
    comparison_sankey,
    jaccard_matrix,
    overlap_matrix,
)
from analysis.store.runs import Run, load_run, save_run


def make_run(comments: pd.DataFrame, groups: dict[int, range], labels: dict[int, str] | None = None,
             auto: dict[int, str] | None = None, run_id: str = "run", keep: slice | None = None,
             kind: str = "seed") -> Run:
    """A run whose clusters are the given comment positions (everything else noise)."""
    c = comments.iloc[keep] if keep is not None else comments
    cluster = np.full(len(comments), -1)
    for k, rows in groups.items():
        cluster[list(rows)] = k
    cluster = cluster[keep] if keep is not None else cluster
    labels = labels or {k: f"テーマ{k}" for k in groups}
    auto = auto or labels
    assignments = pd.DataFrame({"comment_id": c["comment_id"].to_numpy(), "cluster": cluster, "strength": 1.0,
                                "nearest_cluster": cluster, "nearest_strength": 1.0, "x": 0.0, "y": 0.0})
    clusters = pd.DataFrame({
        "cluster": list(groups),
        "label": [labels[k] for k in groups],
        "auto_label": [auto[k] for k in groups],
        "keywords": [[] for _ in groups],
        "size": [int((cluster == k).sum()) for k in groups],
        "parent": 0,
        "parent_label": "大テーマ",
    })
    manifest = {"input": {"kind": kind}, "created": "2026-12-01T10:00:00", "config": {},
                "quality": {"n_comments": len(c), "n_clusters": len(groups)}}
    return Run(run_id, c.reset_index(drop=True), assignments, clusters, np.zeros((len(c), 2), np.float32), manifest)


def statuses(table: pd.DataFrame) -> list[tuple[str, list[int], list[int]]]:
    return [(r.status, r.clusters_a, r.clusters_b) for r in table.itertuples()]


def test_run_compared_with_itself_keeps_every_theme(seed_run):
    table = compare_runs(seed_run, seed_run)
    assert len(table) == seed_run.n_clusters >= 5
    assert (table["status"] == "kept").all() and (table["status_ja"] == "維持").all()
    assert table["clusters_a"].tolist() == table["clusters_b"].tolist() == [[c] for c in range(seed_run.n_clusters)]
    assert (table["jaccard"] == 1.0).all()
    assert table["size_a"].tolist() == seed_run.clusters["size"].tolist()
    assert table.attrs["n_common"] == 108 and table.attrs["n_only_a"] == 0
    # also by path of the saved run
    assert compare_runs(seed_run.path, seed_run.run_id)["status"].eq("kept").all()


def test_known_split_is_reported_as_split(seed_comments):
    a = make_run(seed_comments, {0: range(0, 20), 1: range(20, 30)})
    b = make_run(seed_comments, {0: range(0, 12), 1: range(12, 20), 2: range(20, 30)}, {0: "前半", 1: "後半", 2: "テーマ1"})
    table = compare_runs(a, b)
    assert statuses(table) == [("split", [0], [0, 1]), ("kept", [1], [2])]
    split = table.iloc[0]
    assert split["status_ja"] == "分割"
    assert (split["size_a"], split["size_b"], split["overlap"], split["jaccard"]) == (20, 20, 20, 1.0)
    assert split["label_b"] == "前半／後半"
    assert "2つに分かれました" in split["note"] and "「前半」12件" in split["note"]


def test_known_merge_is_reported_as_merge(seed_comments):
    a = make_run(seed_comments, {0: range(0, 12), 1: range(12, 20), 2: range(20, 30)})
    b = make_run(seed_comments, {0: range(0, 20), 1: range(20, 30)}, {0: "まとめ", 1: "テーマ2"})
    table = compare_runs(a, b)
    assert statuses(table) == [("merged", [0, 1], [0]), ("kept", [2], [1])]
    assert table.iloc[0]["status_ja"] == "統合" and "「まとめ」にまとまりました" in table.iloc[0]["note"]


def test_small_themes_folding_into_a_big_one_are_a_merge(seed_comments):
    # Four themes of 4-5 comments each end up in one theme of 40: each is under 20 % of it.
    a = make_run(seed_comments, {0: range(0, 20), 1: range(20, 25), 2: range(25, 30), 3: range(30, 34), 4: range(34, 38)})
    b = make_run(seed_comments, {0: range(0, 40)}, {0: "大きなまとめ"})
    table = compare_runs(a, b)
    assert statuses(table) == [("merged", [0, 1, 2, 3, 4], [0])]
    # A single stray comment is not a piece of a merge.
    c = make_run(seed_comments, {0: range(0, 20), 1: range(20, 25)})
    d = make_run(seed_comments, {0: list(range(0, 20)) + [20]})
    assert [s for s, _, _ in statuses(compare_runs(c, d))] == ["kept", "gone"]


def test_new_gone_changed_and_renamed(seed_comments):
    a = make_run(seed_comments, {0: range(0, 10), 1: range(10, 20), 2: range(40, 50), 3: range(60, 70)},
                 {0: "窓口・相談・担当", 1: "会議", 2: "地域", 3: "情報共有"})
    b = make_run(seed_comments, {0: [*range(0, 6), *range(30, 34)], 1: range(80, 90), 2: range(40, 50), 3: range(60, 69)},
                 {0: "窓口・担当・相談", 1: "新しい話題", 2: "地域づくり", 3: "情報共有"})
    table = compare_runs(a, b)
    got = {tuple(r.clusters_a): (r.status, r.clusters_b) for r in table.itertuples() if r.clusters_a}
    assert got[(0,)] == ("changed", [0])   # 6 shared of 14 distinct members: jaccard 0.43
    assert got[(1,)] == ("gone", [])        # its members all became noise
    assert got[(2,)] == ("renamed", [2])   # same members, other name
    assert got[(3,)] == ("kept", [3])      # one member lost, same name
    assert statuses(table)[-1] == ("new", [], [1])
    assert table.iloc[-1]["status_ja"] == "新規" and "未分類" in table.iloc[-1]["note"]
    assert "未分類」10件" in table.loc[table["status"] == "gone", "note"].iloc[0]
    assert set(table["status_ja"]) <= set(STATUS_JA.values())
    assert table.loc[table["status"] == "changed", "jaccard"].iloc[0] == pytest.approx(6 / 14, abs=1e-4)
    # the same automatic keywords in another order are not a new name
    reordered = make_run(seed_comments, {0: range(0, 10)}, {0: "相談・窓口・担当"})
    same = make_run(seed_comments, {0: range(0, 10)}, {0: "窓口・相談・担当"})
    assert compare_runs(same, reordered)["status"].tolist() == ["kept"]


def test_only_common_comments_are_compared(seed_comments):
    a = make_run(seed_comments, {0: range(0, 10), 1: range(10, 20)})
    b = make_run(seed_comments, {0: range(0, 10), 1: range(10, 20)}, keep=slice(0, 15))
    table = compare_runs(a, b)
    assert table.attrs == {"n_common": 15, "n_only_a": 93, "n_only_b": 0, "key": "comment_id"}
    assert statuses(table) == [("kept", [0], [0]), ("kept", [1], [1])]
    assert table.iloc[1]["size_a"] == 5  # sizes count common comments only
    other = make_run(seed_comments.assign(comment_id=[f"x{i}" for i in range(108)]), {0: range(0, 10)})
    with pytest.raises(CorpusError, match="IDが一致するコメントが1件もない"):
        compare_runs(a, other)


def test_uploads_without_their_own_ids_are_matched_by_text(seed_comments):
    """Generated ids (c001 …) only number rows: two files are matched by what the comments say."""
    from analysis.explore.compare import matched_count

    a = make_run(seed_comments, {0: range(0, 10), 1: range(10, 20)}, {0: "窓口", 1: "会議"}, kind="upload")
    shuffled = seed_comments.iloc[::-1].reset_index(drop=True).assign(comment_id=[f"c{i + 1:03d}" for i in range(108)])
    b = make_run(shuffled, {0: range(88, 98), 1: range(98, 108)}, {0: "会議", 1: "窓口"}, kind="upload")  # reversed
    assert matched_count(a, b) == (108, "text_norm")
    table = compare_runs(a, b)
    assert table.attrs["key"] == "text_norm" and table.attrs["n_common"] == 108
    assert table["status"].tolist() == ["kept", "kept"] and table["clusters_b"].tolist() == [[1], [0]]
    # another data set that happens to have the same generated ids c001 … shares nothing
    unrelated = seed_comments.assign(text_norm=[f"別の調査の回答{i}" for i in range(108)])
    c = make_run(unrelated, {0: range(0, 10)}, kind="upload")
    assert matched_count(a, c) == (0, "text_norm")
    with pytest.raises(CorpusError, match="本文が一致するコメントが1件もない"):
        compare_runs(a, c)


def test_overlap_and_jaccard_matrices(seed_comments):
    a = make_run(seed_comments, {0: range(0, 20), 1: range(20, 30)})
    b = make_run(seed_comments, {0: range(0, 12), 1: range(12, 25)})
    m = overlap_matrix(a, b)
    assert list(m.index) == [0, 1, -1] and list(m.columns) == [0, 1, -1]
    assert m.loc[0, 0] == 12 and m.loc[0, 1] == 8 and m.loc[1, 1] == 5 and m.loc[1, -1] == 5
    assert m.to_numpy().sum() == 108
    j = jaccard_matrix(a, b)
    assert j.shape == (2, 2) and j.loc[0, 0] == pytest.approx(12 / 20) and j.loc[1, 1] == pytest.approx(5 / (10 + 13 - 5))


def test_carry_over_labels_only_for_user_names_of_clear_keeps(seed_comments, tmp_path):
    old = make_run(seed_comments, {0: range(0, 10), 1: range(10, 20), 2: range(20, 40)},
                   labels={0: "窓口のたらい回し", 1: "会議", 2: "地域との連携"},
                   auto={0: "窓口・相談・担当", 1: "会議", 2: "地域・住民・自治会"})
    # new run: theme ids permuted, theme 2 split in two
    new = make_run(seed_comments, {0: range(20, 30), 1: range(30, 40), 2: range(0, 10), 3: range(10, 20)},
                   labels={0: "地域・住民", 1: "自治会・地域", 2: "窓口・相談・担当", 3: "会議"})
    mapping = carry_over_labels(old, new)
    assert mapping == {2: "窓口のたらい回し"}  # not 会議 (never renamed), not the split 地域との連携
    save_run(new, base=tmp_path)
    apply_labels(new, mapping)
    assert load_run(new.path).label_of(2) == "窓口のたらい回し"
    assert compare_runs(old, new).iloc[0]["status"] == "kept"  # now the names agree too


def test_comparison_sankey_flows(seed_comments, seed_run):
    a = make_run(seed_comments, {0: range(0, 20), 1: range(20, 30)}, {0: "<b>窓口</b>", 1: "会議"})
    b = make_run(seed_comments, {0: range(0, 12), 1: range(12, 20), 2: range(20, 30)})
    fig = comparison_sankey(a, b)
    assert isinstance(fig, go.Figure) and len(fig.data) == 1 and fig.data[0].type == "sankey"
    s = fig.data[0]
    assert sum(s.link.value) == 108  # every common comment, noise included
    assert len(s.node.label) == 3 + 4
    assert s.node.label[0] == "&lt;b&gt;窓口&lt;/b&gt;（20件）"
    assert "未分類（78件）" in s.node.label
    no_noise = comparison_sankey(a, b, include_noise=False).data[0]
    assert sum(no_noise.link.value) == 30
    real = comparison_sankey(seed_run, seed_run).data[0]
    assert len(real.link.value) == seed_run.n_clusters + 1  # one straight flow per theme + noise


def test_real_runs_account_for_every_theme(seed_comments, seed_run, tmp_path):
    from analysis.config import PipelineConfig
    from analysis.pipeline import run_pipeline

    other = run_pipeline(seed_comments, PipelineConfig().replace(**{"hdbscan.min_cluster_size": 7}))
    assert other.manifest["cache"]["umap"]  # the default run's UMAP was reused
    table = compare_runs(seed_run, other)
    seen_a = {c for cs in table["clusters_a"] for c in cs}
    seen_b = {c for cs in table["clusters_b"] for c in cs}
    assert seen_a == set(range(seed_run.n_clusters)) and seen_b == set(range(other.n_clusters))
    assert other.n_clusters < seed_run.n_clusters
    assert (table["status"].isin(["merged", "gone", "changed"])).any()
