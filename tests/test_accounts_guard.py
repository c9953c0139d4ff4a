"""Sign-in that resists guessing, without Streamlit: the shared failure counts and the signed cookie.

:class:`analysis.store.accounts.LoginGuard` keeps failures per user name and per client in one JSON file;
several guards on the same file stand for several sessions or server processes. The clock is a list
the test moves by hand.
"""

from __future__ import annotations

import logging
import multiprocessing
import stat
import time

import pytest

from analysis.store import accounts
from analysis.store.accounts import (
    ROLE_ANALYST,
    ROLE_VIEW,
    Account,
    LoginGuard,
    cookie_key,
    lockout_message,
    record_sign_out,
    sign_cookie,
    signed_out_times,
    verify_cookie,
)


@pytest.fixture
def clock():
    return [1_700_000_000.0]


@pytest.fixture
def guard(tmp_path, clock):
    """A new guard on the shared file for every call: one per session / process."""
    return lambda: LoginGuard(tmp_path / "auth" / "failures.json", clock=lambda: clock[0])


def _fail(guard, user: str, client: str) -> tuple[bool, float]:
    """One wrong try: (was it allowed, the wait it started or the wait left when refused)."""
    g = guard()
    a = g.attempt(user, client)
    if not a.allowed:
        return False, a.wait_s
    return True, g.failed(user, client, a)


def test_five_failures_from_three_sessions_lock_the_name_everywhere(guard, clock):
    sessions = [(f"10.0.0.{i}") for i in (1, 2, 3)]
    results = []
    for i in range(6):
        results.append(_fail(guard, "tanaka", sessions[i % 3]))
        clock[0] += 1
    assert [ok for ok, _ in results] == [True] * 5 + [False]
    assert results[4][1] == 30.0  # the fifth failure started a 30 s lock
    assert 0 < results[5][1] <= 30.0
    # every client is refused for that name, a fresh one too; other names from those clients are not
    assert not guard().attempt("tanaka", "10.9.9.9").allowed
    assert guard().attempt("suzuki", "10.0.0.1").allowed


def test_one_client_is_locked_whatever_names_it_tries(guard, clock):
    for i in range(5):
        assert _fail(guard, f"name{i}", "192.0.2.7")[0]
    a = guard().attempt("name-new", "192.0.2.7")
    assert not a.allowed and a.wait_s == 30.0
    assert guard().attempt("name-new", "192.0.2.8").allowed  # the name itself is not locked


def test_the_lock_grows_with_each_further_failure_up_to_15_minutes(guard, clock):
    for _ in range(5):
        _fail(guard, "tanaka", "10.0.0.1")
    waits = [guard().wait_s("tanaka", "10.0.0.1")]
    for _ in range(7):
        clock[0] += waits[-1] + 0.5  # wait the lock out, then fail once more
        ok, wait = _fail(guard, "tanaka", "10.0.0.1")
        assert ok
        waits.append(wait)
    assert waits[:5] == [30.0, 60.0, 120.0, 240.0, 480.0]
    assert waits[5:] == [900.0] * 3  # still growing after the first failures left the 15 min window
    assert lockout_message(900.0) == "サインインの失敗が続いたため受け付けを止めています。15分ほど待ってからやり直してください。"
    assert "30秒" in lockout_message(29.2)


def test_a_quiet_window_forgets_failures_and_locks(guard, clock):
    for _ in range(4):
        _fail(guard, "tanaka", "10.0.0.1")
    clock[0] += accounts.FAIL_WINDOW_S + 1
    for _ in range(4):
        assert _fail(guard, "tanaka", "10.0.0.1") == (True, 0.0)


def test_success_clears_the_names_count_and_takes_back_the_clients(guard, clock):
    for i in range(4):
        _fail(guard, "tanaka", "10.0.0.1")
    g = guard()
    a = g.attempt("tanaka", "10.0.0.1")  # the fifth try, right: no lock for anyone
    assert a.allowed
    g.succeeded("tanaka", "10.0.0.1", a)
    assert guard().wait_s("tanaka", "10.0.0.1") == 0
    for _ in range(4):  # the name starts from nothing again
        assert _fail(guard, "tanaka", "10.0.0.9") == (True, 0.0)
    # the client still has its four failures: one more (for any name) locks it
    assert _fail(guard, "someone", "10.0.0.1") == (True, 30.0)


def test_a_locked_name_is_refused_even_with_the_right_password(guard, clock):
    for _ in range(5):
        _fail(guard, "tanaka", "10.0.0.1")
    assert not guard().attempt("tanaka", "10.0.0.2").allowed  # the page never checks the password then


def _one_try(path: str) -> bool:
    return LoginGuard(path).attempt("tanaka", "203.0.113.5").allowed


def test_parallel_processes_cannot_slip_extra_guesses_in(tmp_path):
    path = str(tmp_path / "failures.json")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(8) as pool:
        allowed = pool.map(_one_try, [path] * 16)
    assert sum(allowed) == accounts.FAIL_LIMIT


def test_failures_and_locks_are_logged_without_the_password(guard, clock, caplog):
    caplog.set_level(logging.INFO, logger="moyamoya.auth")
    for _ in range(6):
        _fail(guard, "tanaka", "10.0.0.1")
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "moyamoya.auth")
    assert text.count("sign-in failed for user 'tanaka' from client 10.0.0.1") == 5
    assert "sign-in locked for user 'tanaka' for 30 s" in text
    assert "sign-in refused (locked) for user 'tanaka'" in text


def test_the_file_keeps_only_digests_of_names_and_survives_damage(tmp_path, guard, clock):
    _fail(guard, "my-secret-password", "10.0.0.1")
    path = tmp_path / "auth" / "failures.json"
    assert "my-secret-password" not in path.read_text(encoding="utf-8")
    path.write_text("{not json", encoding="utf-8")
    assert _fail(guard, "tanaka", "10.0.0.1") == (True, 0.0)


def test_an_unwritable_folder_still_locks_in_memory(tmp_path, clock):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")  # (a read-only folder would not stop root)
    g = LoginGuard(blocker / "auth" / "failures.json", clock=lambda: clock[0])
    try:
        for _ in range(5):
            g.failed("x", "c", g.attempt("x", "c"))
        assert not g.attempt("x", "c").allowed
        assert not LoginGuard(blocker / "auth" / "failures.json", clock=lambda: clock[0]).attempt("x", "c2").allowed
    finally:
        accounts._MEMORY.clear()


# --------------------------------------------------------------------------- the signed cookie


KEY = b"k" * 32
NOW = 1_700_000_000.0


def _accounts(role: str = ROLE_VIEW, hashed: str = "scrypt$1$8$1$c2FsdA==$aGFzaA==") -> dict[str, Account]:
    return {"suzuki": Account("suzuki", role, hashed)}


def test_a_cookie_names_its_account_until_it_expires():
    acc = _accounts()
    value = sign_cookie(acc["suzuki"], KEY, NOW)
    assert verify_cookie(value, KEY, acc, NOW + 60) == acc["suzuki"]
    assert verify_cookie(value, KEY, acc, NOW + accounts.COOKIE_TTL_S - 1) == acc["suzuki"]
    assert verify_cookie(value, KEY, acc, NOW + accounts.COOKIE_TTL_S + 1) is None  # expired
    assert verify_cookie(value, b"other key" * 4, acc, NOW + 60) is None


def test_a_tampered_cookie_is_refused():
    import base64
    import json

    acc = _accounts()
    value = sign_cookie(acc["suzuki"], KEY, NOW)
    body, mac = value.split(".")
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    assert verify_cookie(f"{body}.{flipped}", KEY, acc, NOW) is None
    # a payload rewritten to 分析 (or a later expiry) keeps the old signature: refused
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for change in ({"r": ROLE_ANALYST}, {"e": payload["e"] + 10**9}):
        forged = base64.urlsafe_b64encode(json.dumps({**payload, **change}).encode()).rstrip(b"=").decode()
        assert verify_cookie(f"{forged}.{mac}", KEY, acc, NOW) is None
    for junk in ("", ".", "a.b.c", "x" * 5000, "%%%.###", None, 12):
        assert verify_cookie(junk, KEY, acc, NOW) is None


def test_a_cookie_dies_with_a_changed_role_password_account_or_a_sign_out(tmp_path):
    acc = _accounts()
    value = sign_cookie(acc["suzuki"], KEY, NOW)
    assert verify_cookie(value, KEY, _accounts(role=ROLE_ANALYST), NOW) is None  # role changed in the secrets
    assert verify_cookie(value, KEY, _accounts(hashed="scrypt$1$8$1$bmV3$bmV3"), NOW) is None  # new password
    assert verify_cookie(value, KEY, {}, NOW) is None  # account removed
    path = tmp_path / "signed_out.json"
    record_sign_out("suzuki", NOW + 10, path)
    assert verify_cookie(value, KEY, acc, NOW + 20, signed_out_times(path)) is None
    later = sign_cookie(acc["suzuki"], KEY, NOW + 30)  # signing in again afterwards works
    assert verify_cookie(later, KEY, acc, NOW + 40, signed_out_times(path)) == acc["suzuki"]


def test_the_cookie_key_is_made_once_private_or_comes_from_the_secrets(tmp_path):
    path = tmp_path / "auth" / "cookie_key"
    key = cookie_key(None, path)
    assert len(key) == 32 and cookie_key(None, path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not [p for p in path.parent.iterdir() if ".tmp-" in p.name]
    assert cookie_key("a long random secret string", path) == b"a long random secret string"


def test_the_guard_is_fast(guard):
    t = time.perf_counter()
    for i in range(20):
        _fail(guard, f"user{i}", f"10.1.0.{i}")
    assert time.perf_counter() - t < 2.0
