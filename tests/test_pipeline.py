"""The pipeline end to end, saved runs, configuration and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.config import PipelineConfig, config_from_dict, load_config
from analysis.errors import CorpusError
from analysis.pipeline import run_and_save, run_pipeline
from analysis.store import runs

ROOT = Path(__file__).resolve().parent.parent
SMALL = PipelineConfig().replace(**{"umap.n_neighbors": 8, "hdbscan.min_cluster_size": 4})


@pytest.fixture(scope="module")
def fake_run(seed_comments, tmp_path_factory):
    from tests.conftest import FakeEmbedder

    cache = tmp_path_factory.mktemp("cache")
    return run_pipeline(seed_comments, SMALL, {"name": "seed", "kind": "seed"}, cache_dir=cache, embedder=FakeEmbedder())


def test_run_tables_have_the_documented_columns(fake_run, seed_comments):
    a, c = fake_run.assignments, fake_run.clusters
    assert list(a.columns) == ["comment_id", "cluster", "strength", "nearest_cluster", "nearest_strength", "x", "y", "broad"]
    assert a["comment_id"].tolist() == seed_comments["comment_id"].tolist()
    assert {"cluster", "label", "keywords", "size", "parent"} <= set(c.columns)
    assert fake_run.embeddings.shape[0] == 108 and fake_run.embeddings.dtype == np.float32
    assert c["size"].sum() == (a["cluster"] >= 0).sum()
    assert (a.loc[a["cluster"] >= 0, "cluster"] == a.loc[a["cluster"] >= 0, "nearest_cluster"]).all()
    assert fake_run.manifest["quality"]["n_comments"] == 108
    assert set(fake_run.manifest["timings"]) == {"embed", "reduce", "cluster", "describe"}
    assert fake_run.manifest["attributes"] == ["連携の分類", "回答者"]
    assert fake_run.manifest["primary_attribute"] == "連携の分類"


def test_same_config_gives_identical_assignments(fake_run, seed_comments, tmp_path):
    from tests.conftest import FakeEmbedder

    again = run_pipeline(seed_comments, SMALL, cache_dir=tmp_path, embedder=FakeEmbedder())  # cold cache
    pd.testing.assert_frame_equal(again.assignments, fake_run.assignments)
    other = run_pipeline(seed_comments, SMALL.replace(seed=7), cache_dir=tmp_path, embedder=FakeEmbedder())
    assert not np.allclose(other.assignments["x"], fake_run.assignments["x"])


def test_changing_a_clustering_parameter_reuses_embeddings_and_umap(seed_comments, tmp_path, fake_embedder):
    run_pipeline(seed_comments, SMALL, cache_dir=tmp_path, embedder=fake_embedder)
    second = run_pipeline(seed_comments, SMALL.replace(**{"hdbscan.min_cluster_size": 6}), cache_dir=tmp_path, embedder=fake_embedder)
    assert fake_embedder.calls == 1
    assert second.manifest["cache"] == {"embedding": True, "umap": True}
    third = run_pipeline(seed_comments, SMALL.replace(**{"umap.n_neighbors": 12}), cache_dir=tmp_path, embedder=fake_embedder)
    assert fake_embedder.calls == 1 and third.manifest["cache"] == {"embedding": True, "umap": False}


def test_save_and_load_round_trip(fake_run, tmp_path):
    path = runs.save_run(fake_run, base=tmp_path)
    assert sorted(p.name for p in path.iterdir()) == [
        "assignments.csv", "clusters.csv", "comments.csv", "embeddings.npy", "manifest.json"]  # a stand-in: no embedder state
    assert (path / "comments.csv").read_bytes()[:3] == b"\xef\xbb\xbf"  # Excel-friendly UTF-8 BOM
    loaded = runs.load_run(fake_run.run_id, base=tmp_path)
    pd.testing.assert_frame_equal(loaded.comments, fake_run.comments, check_dtype=False)
    pd.testing.assert_frame_equal(loaded.assignments, fake_run.assignments, check_dtype=False)
    assert loaded.clusters["keywords"].tolist() == fake_run.clusters["keywords"].tolist()
    assert np.array_equal(loaded.embeddings, fake_run.embeddings)
    assert loaded.comments["emphasis"].tolist() == fake_run.comments["emphasis"].tolist()
    listed = runs.list_runs(tmp_path)
    assert listed["run_id"].tolist() == [fake_run.run_id]
    assert listed["n_comments"].iloc[0] == 108


def test_save_is_atomic(fake_run, tmp_path, monkeypatch):
    import errno

    runs.save_run(fake_run, base=tmp_path)
    original = (tmp_path / fake_run.run_id / "clusters.csv").read_bytes()

    def boom(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs.np, "save", boom)
    with pytest.raises(runs.StorageError, match="空き容量"):
        runs.save_run(fake_run, base=tmp_path, replace=True)
    # The earlier complete run is untouched and no temporary folder is left behind.
    assert (tmp_path / fake_run.run_id / "clusters.csv").read_bytes() == original
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".locks")] == [fake_run.run_id]


def test_saving_never_deletes_what_it_did_not_write(fake_run, tmp_path):
    # --out on a working folder with the user's own file is refused, and the file stays
    work = tmp_path / "work"
    work.mkdir()
    (work / "報告書.docx").write_bytes(b"user data")
    with pytest.raises(runs.RunError, match="ほかのファイルが入っています"):
        runs.save_run(fake_run, out_dir=work)
    assert (work / "報告書.docx").read_bytes() == b"user data" and len(list(work.iterdir())) == 1
    # --out on the runs folder itself (a folder of runs, not a run) is refused too
    base = tmp_path / "runs"
    runs.save_run(fake_run, base=base)
    with pytest.raises(runs.RunError):
        runs.save_run(fake_run, out_dir=base)
    assert runs.list_runs(base)["run_id"].tolist() == [fake_run.run_id]
    # an existing run needs replace=True; a file the user put into the run folder survives the swap
    target = base / fake_run.run_id
    with pytest.raises(runs.RunError, match="--force"):
        runs.save_run(fake_run, out_dir=target)
    (target / "メモ.txt").write_text("残してほしい", encoding="utf-8")
    runs.save_run(fake_run, out_dir=target, replace=True)
    assert (target / "メモ.txt").read_text(encoding="utf-8") == "残してほしい"
    assert runs.load_run(target).run_id == fake_run.run_id
    # deleting removes our files only
    kept = runs.delete_run(fake_run.run_id, base=base)
    assert kept == ["メモ.txt"] and (target / "メモ.txt").exists() and not (target / "manifest.json").exists()
    # an empty folder made for the run is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runs.save_run(fake_run, out_dir=empty) == empty.absolute()


def test_rename_cluster_persists_and_resets(fake_run, tmp_path):
    runs.save_run(fake_run, base=tmp_path)
    run = runs.load_run(fake_run.run_id, base=tmp_path)
    runs.rename_cluster(run, 0, "庁内のたらい回し")
    again = runs.load_run(fake_run.run_id, base=tmp_path)
    assert again.label_of(0) == "庁内のたらい回し"
    assert again.clusters.loc[0, "auto_label"] == fake_run.clusters.loc[0, "auto_label"]
    runs.save_run(again, base=tmp_path, replace=True)  # replacing the same run keeps labels.json
    assert runs.load_run(fake_run.run_id, base=tmp_path).label_of(0) == "庁内のたらい回し"
    runs.rename_cluster(again, 0, "  ")
    assert runs.load_run(fake_run.run_id, base=tmp_path).label_of(0) == fake_run.clusters.loc[0, "label"]


def test_delete_run(fake_run, tmp_path):
    runs.save_run(fake_run, base=tmp_path)
    runs.delete_run(fake_run.run_id, base=tmp_path)
    assert runs.list_runs(tmp_path).empty


def test_empty_comments_rejected(seed_comments):
    with pytest.raises(CorpusError, match="コメントがありません"):
        run_pipeline(seed_comments.iloc[:0])


def test_small_filtered_sets_do_not_crash(seed_comments, tmp_path, fake_embedder):
    for n in (1, 3, 6, 12):
        run = run_pipeline(seed_comments.iloc[:n], SMALL, cache_dir=tmp_path, embedder=fake_embedder)
        assert len(run.assignments) == n
        assert np.isfinite(run.assignments[["x", "y"]].to_numpy()).all()


def test_config_toml_and_unknown_keys(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('seed = 3\n[umap]\nn_neighbors = 7\n[hdbscan]\nmin_cluster_size = 6\n', encoding="utf-8")
    cfg = load_config(f)
    assert (cfg.seed, cfg.umap.n_neighbors, cfg.hdbscan.min_cluster_size) == (3, 7, 6)
    assert cfg.embedding.backend == "hybrid"
    with pytest.raises(CorpusError, match="n_neighbour"):
        config_from_dict({"umap": {"n_neighbour": 5}})
    with pytest.raises(CorpusError, match="colour"):
        config_from_dict({"colour": 1})
    with pytest.raises(CorpusError, match="colour"):
        PipelineConfig().replace(**{"umap.colour": 1})
    assert config_from_dict(cfg.to_dict()) == cfg


@pytest.mark.slow
def test_default_run_on_seed_with_real_model(seed_run):
    q = seed_run.manifest["quality"]
    assert q["n_comments"] == 108
    assert 5 <= q["n_clusters"] <= 25
    assert q["noise_share"] < 0.4
    assert seed_run.manifest["embedding"]["name"] == "hybrid"
    # every name comes from phrases the theme's own comments share (or says テーマN), never a keyword list
    table = seed_run.table()
    for row in seed_run.clusters.itertuples():
        assert row.label and "・" not in row.label
        if row.label.startswith("テーマ"):
            continue
        members = " ".join(table.loc[table["cluster"] == row.cluster, "text_norm"])
        for phrase in str(row.name_evidence).split(" ／ "):
            assert phrase and phrase in members, (row.label, phrase)
        assert row.summary and row.summary in " ".join(table.loc[table["comment_id"] == row.summary_id, "text"])
    # Each comment without a theme still gets a suggestion.
    assert (seed_run.assignments["nearest_cluster"] >= 0).all()


@pytest.mark.slow
def test_cli_runs_on_seed_and_on_a_cp932_file(tmp_path, seed_comments):
    env = dict(os.environ, MOYAMOYA_MODELS_DIR=str(tmp_path / "models"))
    out = tmp_path / "run1"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[embedding]\nbackend = "sudachi"\n', encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "analysis", "run", "--config", str(cfg), "--out", str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "comments: 108" in p.stdout and "seconds per stage" in p.stdout
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["config"]["embedding"]["backend"] == "sudachi"
    csv = tmp_path / "own.csv"
    seed_comments[["text", "連携の分類"]].rename(columns={"text": "回答", "連携の分類": "分類"}).head(40).to_csv(
        csv, index=False, encoding="cp932", errors="replace")
    p = subprocess.run([sys.executable, "-m", "analysis", "run", "--input", str(csv), "--backend", "sudachi", "--quiet"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "comments: 40" in p.stdout
    assert len(runs.list_runs(tmp_path / "models" / "runs")) == 1
    bad = subprocess.run([sys.executable, "-m", "analysis", "run", "--input", str(tmp_path / "none.csv")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "ファイルが見つかりません" in bad.stderr


def test_cli_help_explains_options():
    p = subprocess.run([sys.executable, "-m", "analysis", "run", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    for opt in ("--input", "--text-column", "--config", "--out", "--backend", "--seed"):
        assert opt in p.stdout


HOSTILE_CELLS = ["=HYPERLINK(\"http://x\",\"y\")", "=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\tタブ", "'引用符",
                 "'=二重", "＝全角"]


def test_run_csvs_never_run_formulas_and_read_back_exactly(seed_comments, tmp_path):
    import csv

    from tests.conftest import FakeEmbedder

    comments = seed_comments.copy()
    comments.loc[:len(HOSTILE_CELLS) - 1, "text"] = HOSTILE_CELLS
    comments.loc[:len(HOSTILE_CELLS) - 1, "回答者"] = HOSTILE_CELLS
    run = run_and_save(comments, SMALL, {"name": "式"}, base=tmp_path, cache_dir=tmp_path / "c", embedder=FakeEmbedder())
    with open(run.path / "comments.csv", encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "＝")]
    loaded = runs.load_run(run.path)
    assert loaded.comments["text"].tolist()[:len(HOSTILE_CELLS)] == HOSTILE_CELLS
    assert loaded.comments["回答者"].tolist()[:len(HOSTILE_CELLS)] == HOSTILE_CELLS


def test_the_test_session_computes_pinned(seed_run):
    """The suite runs with the same machine code a background job uses (analysis imported first)."""
    from analysis.themes.numerics import pinnable

    if pinnable() and os.environ.get("NUMBA_CPU_NAME", "generic") == "generic":  # (the 2nd pass uses haswell)
        assert seed_run.manifest["numerics"]["pinned"] is True
        assert seed_run.manifest["numerics"]["numba_cpu"] == "generic"
