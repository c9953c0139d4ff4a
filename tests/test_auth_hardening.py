"""Sign-in on a shared dashboard, through AppTest: guessing is locked across sessions, a cookie brings a
signed-in browser back, a world-readable secrets file is refused, and analyst-only actions refuse a
閲覧 viewer when they run (not only by hiding their buttons).

Every test has its own empty models folder (no run: the sign-in page and the data page need none, and
no analysis is started). Each ``AppTest`` is one browser session; ``client_address`` is replaced so a
session can say which address it comes from.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.store.accounts import ROLE_ANALYST, ROLE_VIEW, LoginGuard, hash_password

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DATA = "app_pages/6_data.py"
PASSWORDS = {"tanaka": "correct horse 1", "suzuki": "battery staple 2"}
_HASHES = {u: hash_password(p) for u, p in PASSWORDS.items()}


def _secrets(roles: dict[str, str] | None = None) -> dict:
    roles = roles or {"tanaka": ROLE_ANALYST, "suzuki": ROLE_VIEW}
    return {"passwords": {u: {"hash": _HASHES[u], "role": r} for u, r in roles.items()}}


@pytest.fixture
def network(tmp_path, monkeypatch, clear_streamlit_caches):
    """Served beyond loopback, an empty models folder, no world-readable secrets file around, no pause."""
    from ui import auth

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("MOYAMOYA_MODELS_DIR", str(models))
    monkeypatch.setattr(auth, "FAIL_PAUSE_S", 0.0)
    monkeypatch.setattr(auth, "client_address", lambda: st.session_state.get("_test_client", "local"))
    before = {k: st.get_option(k) for k in ("server.address", "secrets.files")}
    st.config.set_option("server.address", "0.0.0.0")
    st.config.set_option("secrets.files", [str(tmp_path / "no-secrets.toml")])
    yield models
    for k, v in before.items():
        st.config.set_option(k, v)


def _session(client: str = "local", secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (secrets or _secrets()).items():
        at.secrets[k] = v
    at.session_state["_test_client"] = client
    at.run()
    at.switch_page(DATA).run()  # the data page works without any saved run (nothing is analysed)
    return at


def _try(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="login_user").set_value(user)
    at.text_input(key="login_password").set_value(password)
    return at.button[0].click().run()


def _signed_in(at: AppTest) -> bool:
    return not at.exception and "_auth_user" in at.session_state and any(t.value == "データと再分析" for t in at.title)


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error] + [w.value for w in at.warning]


# --------------------------------------------------------------------------- guessing


def test_six_tries_from_three_sessions_lock_the_name_for_every_session(network):
    sessions = [_session(f"10.0.0.{i}") for i in (1, 2, 3)]
    for i in range(5):
        at = _try(sessions[i % 3], "tanaka", f"guess {i}")
        assert not _signed_in(at) and "利用者名かパスワードが違います。" in _errors(at)
    assert any("30秒ほど待って" in e for e in _errors(sessions[1]))  # the fifth failure says how long
    at = _try(sessions[2], "tanaka", "guess 6")
    assert not _signed_in(at)
    assert _errors(at) == ["サインインの失敗が続いたため受け付けを止めています。30秒ほど待ってからやり直してください。"]
    # a new session from a new address, with the right password: still refused, and told the same
    fresh = _try(_session("10.0.0.4"), "tanaka", PASSWORDS["tanaka"])
    assert not _signed_in(fresh) and any("待ってからやり直してください" in e for e in _errors(fresh))
    # a name nobody has gets exactly the same sentences (nothing tells which names exist)
    other = [_session(f"10.0.1.{i}") for i in (1, 2)]
    for i in range(6):
        at = _try(other[i % 2], "yamada", f"guess {i}")
    assert _errors(at) == ["サインインの失敗が続いたため受け付けを止めています。30秒ほど待ってからやり直してください。"]
    # another user from a locked name's addresses signs in as usual
    assert _signed_in(_try(sessions[0], "suzuki", PASSWORDS["suzuki"]))
    assert LoginGuard().wait_s("tanaka", "10.0.0.9") > 0  # counted in models/auth/failures.json
    assert (network / "auth" / "failures.json").is_file()


def test_a_success_clears_the_names_failures(network):
    at = _session("10.0.0.1")
    for i in range(4):
        _try(at, "suzuki", f"guess {i}")
    assert _signed_in(_try(at, "suzuki", PASSWORDS["suzuki"]))
    later = _session("10.0.0.2")
    for i in range(4):  # four more failures do not lock: the count started again
        _try(later, "suzuki", f"guess {i}")
    assert not any("待って" in e for e in _errors(later))
    assert _signed_in(_try(later, "suzuki", PASSWORDS["suzuki"]))


# --------------------------------------------------------------------------- a reload keeps the sign-in


def _cookie_of(at: AppTest) -> str:
    value = at.session_state["_auth_cookie"]
    assert isinstance(value, str) and value.count(".") == 1
    return value


def _with_cookie(monkeypatch, value: str | None, secrets: dict | None = None) -> AppTest:
    from ui import auth

    monkeypatch.setattr(auth, "_cookie_value", lambda: value)
    return _session("10.0.0.1", secrets)


def test_a_cookie_signs_a_new_session_in_until_signed_out(network, monkeypatch):
    first = _try(_session("10.0.0.1"), "suzuki", PASSWORDS["suzuki"])
    assert _signed_in(first)
    cookie = _cookie_of(first)
    assert (network / "auth" / "cookie_key").stat().st_mode & 0o777 == 0o600

    reloaded = _with_cookie(monkeypatch, cookie)  # a reload: a new session whose request carries the cookie
    assert _signed_in(reloaded) and not reloaded.text_input
    assert reloaded.session_state["_auth_user"] == {"user": "suzuki", "role": ROLE_VIEW}

    body, mac = cookie.split(".")
    assert not _signed_in(_with_cookie(monkeypatch, f"{body}.{mac[::-1]}"))  # tampered signature
    # the account got another role: the cookie no longer counts
    assert not _signed_in(_with_cookie(monkeypatch, cookie, _secrets({"tanaka": ROLE_ANALYST, "suzuki": ROLE_ANALYST})))

    reloaded.button(key="logout").click().run()
    assert reloaded.text_input and "_auth_user" not in reloaded.session_state  # signed out, sign-in page
    reloaded.run()
    assert reloaded.text_input  # the request's old cookie does not sign this session in again
    assert not _signed_in(_with_cookie(monkeypatch, cookie))  # nor any other browser holding it


# --------------------------------------------------------------------------- the secrets file


def test_a_world_readable_secrets_file_is_refused_until_chmod_600(network, tmp_path, monkeypatch):
    from ui.auth import exposed_message

    secrets_toml = tmp_path / ".streamlit" / "secrets.toml"
    secrets_toml.parent.mkdir()
    secrets_toml.write_text("[passwords]\n", encoding="utf-8")
    os.chmod(secrets_toml, 0o644)
    st.config.set_option("secrets.files", [str(secrets_toml)])
    at = _session("10.0.0.1")
    assert not at.exception and not at.text_input and not _signed_in(at)
    assert len(at.error) == 1 and f"chmod 600 {secrets_toml}" in at.error[0].value
    monkeypatch.chdir(tmp_path)
    assert "`chmod 600 .streamlit/secrets.toml`" in exposed_message(secrets_toml)
    os.chmod(secrets_toml, 0o600)
    at = _session("10.0.0.1")
    assert not at.error and [t.label for t in at.text_input] == ["利用者名", "パスワード"]
    assert _signed_in(_try(at, "suzuki", PASSWORDS["suzuki"]))


# --------------------------------------------------------------------------- analyst-only actions, run as 閲覧


def _act(action: str, target: str, extra: str) -> None:
    """The AppTest script: call one action function directly, as the viewer the test set up."""
    from analysis.store import curation, shortlists
    from ui import curation_view, datapage, jobs_view, themes, trainer_view

    if action == "delete_run":
        datapage._delete(target, extra)
    elif action == "publish":
        datapage._publish(extra)
    elif action == "rename_theme":
        themes._rename(None, 0, "新しい名前")
    elif action == "curate":
        curation_view._do(target, curation.merge, [0, 1])
    elif action == "cancel_job":
        jobs_view._cancel(extra)
    elif action == "start_job":
        from analysis.config import PipelineConfig
        from analysis.errors import UserError
        from analysis.ingest.seed import load_seed
        from analysis.pipeline import SEED_INPUT

        try:
            jobs_view.submit(load_seed(), PipelineConfig(), SEED_INPUT)
        except UserError as exc:
            import streamlit as st

            st.session_state["_test_refusal"] = str(exc)
    elif action in ("delete_set", "rename_set", "add_item"):
        fn = {"delete_set": shortlists.delete_set, "rename_set": shortlists.rename_set,
              "add_item": shortlists.add_item}[action]
        args = {"delete_set": (), "rename_set": ("別の名前",), "add_item": ("c001",)}[action]
        trainer_view._guard(fn, target, extra, *args)


def _as(monkeypatch, user: str, role: str, action: str, target: str = "", extra: str = "") -> str:
    """Run ``action`` as ``user`` with ``role``; returns the refusal it left for the next run ("" if none)."""
    from ui import auth
    from ui.state import KEY_WARN

    monkeypatch.setattr(auth, "current_viewer", lambda: auth.Viewer(user, role))
    at = AppTest.from_function(_act, args=(action, target, extra), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    for key in (KEY_WARN, "_test_refusal"):
        if key in at.session_state:
            return at.session_state[key]
    return ""


def test_a_viewer_cannot_delete_publish_rename_curate_or_start(network, monkeypatch):
    from analysis.store import jobs
    from analysis.store.runs import get_published

    run = network / "runs" / "20250101-000000-abcdef12"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text('{"run_id": "20250101-000000-abcdef12"}', encoding="utf-8")
    for action, what in [("delete_run", "分析結果の削除"), ("publish", "公開する分析の指定"),
                         ("rename_theme", "テーマの名前の変更"), ("curate", "テーマを整える操作"),
                         ("start_job", "分析の実行")]:
        refusal = _as(monkeypatch, "suzuki", ROLE_VIEW, action, str(run), run.name)
        assert refusal == f"{what}は「分析」の権限がある利用者だけができます。", action
    assert run.is_dir() and (run / "manifest.json").is_file()
    assert get_published() is None
    assert jobs.list_jobs() == []
    # the same delete by an analyst goes through (the check is not simply always refusing)
    refusal = _as(monkeypatch, "tanaka", ROLE_ANALYST, "delete_run", str(run), run.name)
    assert not run.exists(), refusal


def test_a_viewer_cancels_only_their_own_analysis(network, monkeypatch):
    from analysis.config import PipelineConfig
    from analysis.ingest.seed import load_seed
    from analysis.pipeline import SEED_INPUT
    from analysis.store import jobs

    job_id = jobs.submit(load_seed().head(20), PipelineConfig(), SEED_INPUT, owner="tanaka", spawn=False)
    refusal = _as(monkeypatch, "suzuki", ROLE_VIEW, "cancel_job", extra=job_id)
    assert "始めた人" in refusal and not jobs.get(job_id).cancel_requested
    _as(monkeypatch, "tanaka", ROLE_VIEW, "cancel_job", extra=job_id)
    assert jobs.get(job_id).cancel_requested


def test_a_viewer_changes_only_their_own_shortlist_sets(network, monkeypatch):
    from analysis.store import shortlists

    run = network / "runs" / "20250101-000000-abcdef12"
    run.mkdir(parents=True)
    theirs = shortlists.create_set(run, "田中さんのリスト", owner="tanaka")
    mine = shortlists.create_set(run, "鈴木のリスト", owner="suzuki")
    for action in ("delete_set", "rename_set", "add_item"):
        refusal = _as(monkeypatch, "suzuki", ROLE_VIEW, action, str(run), theirs)
        assert "作った人と「分析」の権限がある利用者だけ" in refusal, action
    s = {x.set_id: x for x in shortlists.list_sets(run)}
    assert s[theirs].name == "田中さんのリスト" and s[theirs].items == []
    _as(monkeypatch, "suzuki", ROLE_VIEW, "add_item", str(run), mine)
    assert {x.set_id: x for x in shortlists.list_sets(run)}[mine].comment_ids == ["c001"]
    _as(monkeypatch, "suzuki", ROLE_VIEW, "delete_set", str(run), mine)
    assert [x.set_id for x in shortlists.list_sets(run)] == [theirs]
    _as(monkeypatch, "sato", ROLE_ANALYST, "delete_set", str(run), theirs)  # 分析 may delete anyone's
    assert shortlists.list_sets(run) == []
