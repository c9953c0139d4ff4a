"""Nothing lost, nothing broken: damaged runs, concurrent users, crash leftovers, bad arguments.

Every damaged-run case is checked twice: in the analysis API (listed as broken with a Japanese
reason, or a RunError when loaded) and in the dashboard (the app opens, the other run is shown,
the broken one is listed with its reason and can be deleted).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.storage import (
    atomic_write_json,
    cleanup_stale_temps,
    file_lock,
    update_json,
)
from analysis.store import shortlists
from analysis.store.runs import (
    RunError,
    list_runs,
    load_run,
    rename_cluster,
    set_published,
)

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
BROKEN_ID = "20990101-000000-b0b0b0b0"


def _trunc(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _edit_json(path: Path, fn) -> None:
    path.write_text(json.dumps(fn(json.loads(path.read_text(encoding="utf-8"))), ensure_ascii=False), encoding="utf-8")


def _set(key, value):
    def fn(m):
        m[key] = value
        return m
    return fn


CORRUPTIONS = {
    "manifest missing": lambda p: (p / "manifest.json").unlink(),
    "manifest not JSON": lambda p: (p / "manifest.json").write_text("{ not json", encoding="utf-8"),
    "manifest is a list": lambda p: (p / "manifest.json").write_text("[]", encoding="utf-8"),
    "quality null": lambda p: _edit_json(p / "manifest.json", _set("quality", None)),
    "config wrong type": lambda p: _edit_json(p / "manifest.json", _set("config", "hybrid")),
    "format from the future": lambda p: _edit_json(p / "manifest.json", _set("format", 99)),
    "comments missing": lambda p: (p / "comments.csv").unlink(),
    "comments truncated": lambda p: _trunc(p / "comments.csv"),
    "comments garbage": lambda p: (p / "comments.csv").write_bytes(b"\x00\xff\xfe garbage \x81\x82" * 50),
    "assignments missing": lambda p: (p / "assignments.csv").unlink(),
    "assignments other ids": lambda p: (p / "assignments.csv").write_text(
        (p / "assignments.csv").read_text(encoding="utf-8-sig").replace("c001,", "zzz,"), encoding="utf-8-sig"),
    "clusters missing": lambda p: (p / "clusters.csv").unlink(),
    "clusters without a column": lambda p: pd.read_csv(p / "clusters.csv", encoding="utf-8-sig").drop(
        columns=["label"]).to_csv(p / "clusters.csv", index=False, encoding="utf-8-sig"),
    "embeddings missing": lambda p: (p / "embeddings.npy").unlink(),
    "embeddings truncated": lambda p: _trunc(p / "embeddings.npy", 0.6),
    "embeddings other rows": lambda p: np.save(p / "embeddings.npy", np.zeros((3, 4), np.float32)),
    "labels.json not JSON": lambda p: (p / "labels.json").write_text("{\"0\": ", encoding="utf-8"),
    "labels.json a list": lambda p: (p / "labels.json").write_text("[1, 2]", encoding="utf-8"),
    # issue 21: JSON that would crash a plain json.loads (RecursionError) or fill memory
    "manifest 100,000 nested brackets": lambda p: (p / "manifest.json").write_text("[" * 100_000 + "]" * 100_000),
    "manifest 50 MB": lambda p: (p / "manifest.json").write_text('{"run_id": "' + "x" * 50_000_000 + '"}'),
    "labels.json deeply nested": lambda p: (p / "labels.json").write_text('{"0": ' + "[" * 50_000 + "]" * 50_000 + "}"),
    "edits.json deeply nested": lambda p: (p / "edits.json").write_text("[" * 100_000 + "]" * 100_000),
    "unknown theme id": lambda p: pd.read_csv(p / "assignments.csv", encoding="utf-8-sig", dtype={"comment_id": str}).assign(
        cluster=lambda a: [777] + a["cluster"].tolist()[1:]).to_csv(p / "assignments.csv", index=False, encoding="utf-8-sig"),
}


def _broken_copy(models: Path, seed_run, kind: str) -> Path:
    target = models / "runs" / BROKEN_ID
    shutil.copytree(seed_run.path, target)
    _edit_json(target / "manifest.json", lambda m: {**m, "run_id": BROKEN_ID, "created": "2099-01-01T00:00:00"})
    CORRUPTIONS[kind](target)
    return target


# --------------------------------------------------------------------------- damaged runs


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_damaged_run_is_reported_not_fatal(models, seed_run, kind):
    broken = _broken_copy(models, seed_run, kind)
    listed = list_runs().set_index("path")
    if not listed.loc[str(broken), "ok"]:
        problem = listed.loc[str(broken), "problem"]
    else:  # only a full load reads every cell
        with pytest.raises(RunError) as exc:
            load_run(broken)
        problem = str(exc.value)
    assert problem and any("\u3040" <= ch <= "\u30ff" for ch in problem), problem  # one Japanese sentence
    assert load_run(seed_run.path.name).run_id == seed_run.run_id  # the other run is untouched

    # the dashboard: even when the broken run is the one everybody opens with, every page works
    set_published(BROKEN_ID)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["run_picker"] == str(models / "runs" / seed_run.path.name)
    for page in ("app_pages/2_themes.py", "app_pages/3_overlaps.py", "app_pages/5_trainer.py", "app_pages/6_data.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    # the data page lists it with the reason and can delete it
    assert any("読み込めません" in m.value for m in at.markdown), [m.value for m in at.markdown]
    at.button(key=f"del_broken_{BROKEN_ID}").click().run()
    assert not at.exception
    assert str(broken) not in set(list_runs()["path"])


def test_a_damaged_embedder_state_keeps_the_run_readable(models, seed_run):
    broken = _broken_copy(models, seed_run, "labels.json a list")
    (broken / "labels.json").unlink()
    _trunc(broken / "embedder.npz", 0.3)
    run = load_run(broken)
    assert run.warnings and "入力した文で探す機能" in run.warnings[0]
    from analysis.themes.embedding import EmbeddingError

    with pytest.raises(EmbeddingError):
        run.embedder()


def test_folders_that_are_not_runs_are_not_listed(models):
    (models / "runs" / "notes").mkdir()
    (models / "runs" / "notes" / "memo.txt").write_text("ユーザーのメモ", encoding="utf-8")
    (models / "runs" / "a-file.txt").write_text("x", encoding="utf-8")
    assert len(list_runs()) == 1


# --------------------------------------------------------------------------- saving never deletes


def test_cli_out_on_a_folder_with_a_users_file_keeps_the_file(tmp_path):
    env = dict(os.environ, MOYAMOYA_MODELS_DIR=str(tmp_path / "models"))
    work = tmp_path / "work"
    work.mkdir()
    (work / "予算案.xlsx").write_bytes(b"user data")
    p = subprocess.run([sys.executable, "-m", "analysis", "run", "--backend", "sudachi", "--out", str(work), "--quiet"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "ほかのファイルが入っています" in p.stderr
    assert (work / "予算案.xlsx").read_bytes() == b"user data" and [f.name for f in work.iterdir()] == ["予算案.xlsx"]


@pytest.mark.parametrize("args, message", [
    (["--stability", "-3"], "0 以上"),
    (["--seed", "-1"], "乱数の種"),
    (["--seed", "abc"], "整数"),
    (["--out", ""], "保存先が空"),
])
def test_bad_arguments_are_one_japanese_sentence(tmp_path, args, message):
    env = dict(os.environ, MOYAMOYA_MODELS_DIR=str(tmp_path / "models"))
    p = subprocess.run([sys.executable, "-m", "analysis", "run", *args], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert message in p.stderr and "エラー:" in p.stderr


@pytest.mark.parametrize("toml, message", [
    ('[umap]\nn_neighbors = "ten"\n', "整数"),
    ('[hdbscan]\nmin_cluster_size = 1\n', "2 以上"),
    ('seed = 1.5\n', "整数"),
    ('[umap]\nmetric = "manhattan"\n', "cosine"),
    ('[umap]\nparallel_layout = "yes"\n', "true または false"),
])
def test_bad_config_types_and_ranges(tmp_path, toml, message):
    from analysis.config import ConfigError, load_config

    f = tmp_path / "c.toml"
    f.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(f)


def test_read_only_models_folder_is_a_sentence_and_leaves_nothing(seed_comments, tmp_path):
    from conftest import FakeEmbedder

    from analysis.config import PipelineConfig
    from analysis.pipeline import run_and_save
    from analysis.storage import StorageError

    if os.geteuid() == 0:  # root ignores permissions: simulate the read-only error instead
        base = tmp_path / "ro"
        base.mkdir()
        import errno
        from unittest import mock

        with mock.patch("analysis.storage.Path.mkdir", side_effect=OSError(errno.EROFS, "Read-only file system")):
            with pytest.raises(StorageError, match="書き込めません"):
                run_and_save(seed_comments, PipelineConfig(), base=base / "runs", cache_dir=tmp_path / "c",
                             embedder=FakeEmbedder())
    else:
        base = tmp_path / "ro"
        base.mkdir()
        base.chmod(0o500)
        with pytest.raises(StorageError, match="書き込めません"):
            run_and_save(seed_comments, PipelineConfig(), base=base, cache_dir=tmp_path / "c", embedder=FakeEmbedder())
    assert not [p for p in base.rglob("*") if ".tmp-" in p.name]


def test_crash_leftovers_are_cleaned_and_only_ours(tmp_path):
    d = tmp_path / "runs"
    d.mkdir()
    dead = 2 ** 22 + 12345  # no such process
    ours = d / f".20260101-000000-abcd1234.tmp-{dead}-0a1b2c3d"
    ours.mkdir()
    (ours / "comments.csv").write_text("x", encoding="utf-8")
    live = d / f".x.tmp-{os.getpid()}-0a1b2c3d"
    live.write_text("in use", encoding="utf-8")
    users = d / ".hidden-notes"
    users.mkdir()
    old = time.time() - 3600
    for p in (ours, live, users):
        os.utime(p, (old, old))
    removed = cleanup_stale_temps(d)
    assert removed == [ours] and live.exists() and users.exists()


# --------------------------------------------------------------------------- concurrent users


def test_eight_users_renaming_at_once_lose_nothing(models, seed_run):
    path = models / "runs" / seed_run.path.name
    themes = [int(c) for c in load_run(path).clusters["cluster"]][:8]
    for round_no in range(15):
        barrier = threading.Barrier(len(themes))
        errors = []

        def rename(c: int) -> None:
            try:
                run = load_run(path)
                barrier.wait()
                rename_cluster(run, c, f"名前{round_no}-{c}")
            except Exception as exc:  # pragma: no cover - a failure is reported below
                errors.append(exc)

        threads = [threading.Thread(target=rename, args=(c,)) for c in themes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        saved = json.loads((path / "labels.json").read_text(encoding="utf-8"))
        assert {int(k): v for k, v in saved.items()} == {c: f"名前{round_no}-{c}" for c in themes}


def test_concurrent_shortlist_edits_are_merged(models, seed_run):
    path = models / "runs" / seed_run.path.name
    sid = shortlists.create_set(path, "研修A")
    ids = load_run(path).comments["comment_id"].tolist()[:16]
    threads = [threading.Thread(target=shortlists.add_item, args=(path, sid, cid)) for cid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(shortlists.list_sets(path)[0].comment_ids) == sorted(ids)


def test_update_json_serialises_writers(tmp_path):
    f = tmp_path / "counter.json"
    atomic_write_json(f, {"n": 0})

    def bump() -> None:
        for _ in range(25):
            update_json(f, lambda cur: {"n": cur["n"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads(f.read_text(encoding="utf-8")) == {"n": 200}
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_two_identical_analyses_at_once_give_identical_results(seed_comments, tmp_path):
    from analysis.config import PipelineConfig
    from analysis.pipeline import run_pipeline

    cfg = PipelineConfig().replace(**{"embedding.backend": "sudachi"})
    results = []

    def analyse() -> None:
        results.append(run_pipeline(seed_comments, cfg, cache_dir=tmp_path / "cache"))

    threads = [threading.Thread(target=analyse) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = results
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
    assert np.array_equal(a.embeddings, b.embeddings)
    assert sorted([a.manifest["cache"]["embedding"], b.manifest["cache"]["embedding"]]) == [False, True]
    assert not list((tmp_path / "cache").rglob("*.tmp-*"))


def test_file_lock_excludes_other_processes(tmp_path):
    lock = tmp_path / "x.lock"
    code = ("import sys, time; from analysis.storage import file_lock\n"
            "with file_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(1.5)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    t = time.monotonic()
    with file_lock(lock):
        waited = time.monotonic() - t
    proc.wait(timeout=30)
    assert waited > 0.5


# --------------------------------------------------------------------------- who may do what


def _shared_app(secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
    return at


@pytest.fixture
def served_on_the_network():
    before = st.get_option("server.address")
    st.config.set_option("server.address", "0.0.0.0")
    yield
    st.config.set_option("server.address", before)


def test_beyond_loopback_everyone_signs_in(models, served_on_the_network):
    at = _shared_app().run()
    assert not at.exception
    assert at.error and "利用者が登録されていません" in at.error[0].value
    assert not at.metric  # nothing of the data is shown

    from analysis.store.accounts import hash_password

    secrets = {"passwords": {"tanaka": {"hash": hash_password("correct horse 1"), "role": "分析"},
                             "suzuki": {"hash": hash_password("battery staple 2"), "role": "閲覧"}}}
    at = _shared_app(secrets).run()
    assert [t.value for t in at.text_input] == ["", ""] and not at.metric
    at.text_input(key="login_user").set_value("tanaka")
    at.text_input(key="login_password").set_value("wrong")
    at.button[0].click().run()
    assert any("違います" in e.value for e in at.error) and not at.metric
    at.text_input(key="login_user").set_value("suzuki")
    at.text_input(key="login_password").set_value("battery staple 2")
    at.button[0].click().run()
    assert not at.exception and at.metric  # signed in: the overview shows
    # 閲覧 may browse but not upload, rerun, publish or delete
    at.switch_page("app_pages/6_data.py").run()
    assert not at.exception
    assert any("「分析」の権限" in i.value for i in at.info)
    assert not [w for w in at.get("file_uploader")]
    keys = {b.key for b in at.button}
    assert "delete_run" not in keys and "publish_run" not in keys


def test_a_file_of_numbers_only_exits_non_zero_naming_the_columns(tmp_path):
    f = tmp_path / "ids.csv"
    f.write_text("comment-id,score\n" + "".join(f"{i},{i % 5}\n" for i in range(1, 60)), encoding="utf-8")
    env = dict(os.environ, MOYAMOYA_MODELS_DIR=str(tmp_path / "models"))
    p = subprocess.run([sys.executable, "-m", "analysis", "run", "--input", str(f)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "comment-id" in p.stderr and "score" in p.stderr
    assert not (tmp_path / "models" / "runs").exists() or not any((tmp_path / "models" / "runs").iterdir())


def test_masked_personal_data_never_reaches_the_saved_run(seed_comments, tmp_path):
    from conftest import FakeEmbedder

    from analysis.config import PipelineConfig
    from analysis.ingest.masking import mask_comments
    from analysis.pipeline import run_and_save

    secrets = ["山田太郎", "090-1234-5678", "tanaka.h@example.jp", "〒100-0013", "霞が関1-2-2"]
    comments = seed_comments.copy()
    comments.loc[0, "text"] = "山田太郎さん（090-1234-5678）の件で社協の佐藤様に連絡した。"
    comments.loc[1, "text"] = "メールは tanaka.h@example.jp まで。〒100-0013 東京都千代田区霞が関1-2-2 の方。"
    masked, review = mask_comments(comments)
    assert len(review) >= 5 and "社協" in masked.loc[0, "text"]  # the allow list keeps 社協
    run = run_and_save(masked, PipelineConfig(), {"name": "伏せ字"}, base=tmp_path / "runs", cache_dir=tmp_path / "c",
                       embedder=FakeEmbedder())
    for f in run.path.iterdir():
        data = f.read_bytes()
        for s in secrets:
            assert s.encode("utf-8") not in data, (f.name, s)
