"""Who is looking: nobody needs to sign in on 127.0.0.1; beyond it, everyone does.

* Served on a loopback address (``make run``: 127.0.0.1) and visited from this machine, the
  visitor is the local analyst: nothing changes.
* Served beyond it (``--server.address 0.0.0.0`` or an office IP), every visitor signs in:
  with Streamlit's own ``st.login`` (OpenID Connect) when ``[auth]`` is configured in
  ``.streamlit/secrets.toml``, otherwise with a user name and password from ``[passwords]``
  (stored as salted hashes, checked in constant time; see :mod:`analysis.store.accounts`).

Roles (:mod:`analysis.store.accounts`): 閲覧 browses and keeps shortlists; 分析 also uploads, reruns,
renames themes, deletes runs and chooses the run every new visitor opens with.

Password sign-in resists guessing and survives a reload:

* every try is counted per user name and per client (the remote address Streamlit sees, or the last
  ``X-Forwarded-For`` hop when a proxy on this machine forwards it) in ``models/auth/failures.json``,
  shared by all sessions and processes; 5 failures within 15 minutes lock the name / client for 30 s,
  doubling with every further failure up to 15 minutes (:class:`analysis.store.accounts.LoginGuard`).
  Failures, refusals and locks are logged to ``moyamoya.auth`` (never a password);
* a signed-in browser gets a cookie (user, role, expiry in 12 hours, HMAC-SHA256), written by a hidden
  same-origin frame; a new session (a reload) verifies it and signs in again. Signing out clears it and
  ends every cookie issued to that user so far. The key is ``[signin] cookie_secret`` of the secrets,
  else a random key kept in ``models/auth/cookie_key`` (mode 0600);
* a ``secrets.toml`` that every user of the machine can read is refused until ``chmod 600``.

Analyst-only actions check the role again when they run (:func:`refused`), not only by hiding buttons.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from analysis.store.accounts import (
    COOKIE_NAME,
    COOKIE_TTL_S,
    ROLE_ANALYST,
    ROLE_VIEW,
    LoginGuard,
    accounts_from_secrets,
    can_analyse,
    check_login,
    cookie_key,
    lockout_message,
    record_sign_out,
    sign_cookie,
    signed_out_times,
    verify_cookie,
)
from ui import state
from ui.state import KEY_USER

LOCAL_USER = ""
_LOOPBACK_NAMES = ("localhost",)
log = logging.getLogger("moyamoya.auth")
#: A wrong password also costs the session this long (the real brake is the shared LoginGuard).
FAIL_PAUSE_S = 1.0
KEY_COOKIE = "_auth_cookie"  # the signed cookie this session's browser should hold
KEY_SIGNED_OUT = "_auth_signed_out"  # this session signed out: its request's cookie is stale
KEY_COOKIE_SEEN = "_auth_cookie_seen"  # a cookie already found invalid (logged once, not every run)
_LOGGED: set[str] = set()


@dataclass(frozen=True)
class Viewer:
    """The signed-in visitor: ``user`` ("" for the local analyst) and ``role`` (閲覧 / 分析)."""

    user: str
    role: str
    local: bool = False

    @property
    def can_analyse(self) -> bool:
        return can_analyse(self.role)

    @property
    def owner(self) -> str | None:
        """Whose jobs to list: everybody's for the local analyst, else this user's."""
        return None if self.local else self.user


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def served_locally() -> bool:
    """True when the server listens on a loopback address and this visitor comes from this machine."""
    if not _is_loopback(st.get_option("server.address")):
        return False
    client = getattr(st.context, "ip_address", None)
    if not isinstance(client, str):  # None for a loopback visitor (and not a string under AppTest)
        return True
    return _is_loopback(client)


def _secrets() -> dict:
    try:
        return {k: st.secrets[k] for k in st.secrets}
    except Exception:  # no secrets.toml: an empty mapping, the login page then says how to set one up
        return {}


def exposed_files(paths) -> list[Path]:
    """Those of ``paths`` that are files every user of the machine may read (mode & 0o004)."""
    out = []
    for p in paths or ():
        try:
            mode = os.stat(p).st_mode
        except (OSError, TypeError, ValueError):
            continue
        if os.path.isfile(p) and mode & 0o004:
            out.append(Path(p))
    return out


def exposed_message(path: str | Path) -> str:
    """One sentence: the secrets file is readable by everyone, so its accounts are not used."""
    p = Path(path)
    try:
        shown = str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(p)
    return (f"{shown} がサーバーのだれにでも読める設定になっているため、登録された利用者でのサインインを止めています"
            f"（サーバーで `chmod 600 {shown}` を実行してから読み込み直してください）。")


def secrets_problem() -> str | None:
    """The sentence to show when a secrets file Streamlit reads is world-readable, else None."""
    try:
        files = st.get_option("secrets.files")
    except Exception:
        return None
    bad = exposed_files(files if isinstance(files, (list, tuple)) else [files])
    if not bad:
        return None
    if str(bad[0]) not in _LOGGED:
        _LOGGED.add(str(bad[0]))
        log.error("%s is readable by every user (mode %o): its accounts are not used until chmod 600", bad[0],
                  os.stat(bad[0]).st_mode & 0o777)
    return exposed_message(bad[0])


def _context(name: str):
    try:
        return getattr(st.context, name, None)
    except Exception:
        return None


def client_address() -> str:
    """Who is trying, for counting failures: the remote address, or (when that is this machine, e.g. a
    reverse proxy here) the last ``X-Forwarded-For`` hop; ``local`` for this machine itself."""
    ip = _context("ip_address")
    ip = ip if isinstance(ip, str) and ip else None
    if ip is None or _is_loopback(ip):
        headers = _context("headers")
        try:
            fwd = headers.get("X-Forwarded-For") if headers is not None else None
        except Exception:
            fwd = None
        if isinstance(fwd, str) and fwd.strip():
            return fwd.split(",")[-1].strip()[:64] or "local"
    return ip or "local"


def _cookie_value() -> str | None:
    cookies = _context("cookies")
    try:
        value = cookies.get(COOKIE_NAME) if cookies is not None else None
    except Exception:
        return None
    return value if isinstance(value, str) and value else None


def _cookie_key(secrets: dict) -> bytes:
    section = secrets.get("signin") or {}
    return cookie_key(section.get("cookie_secret") if hasattr(section, "get") else None)


def _from_cookie(secrets: dict, accounts: dict) -> Viewer | None:
    """A new session of a browser that signed in before (a reload): its cookie, if still good."""
    value = _cookie_value()
    if value is None or st.session_state.get(KEY_SIGNED_OUT) or st.session_state.get(KEY_COOKIE_SEEN) == value:
        return None
    account = verify_cookie(value, _cookie_key(secrets), accounts, time.time(), signed_out_times())
    if account is None:
        st.session_state[KEY_COOKIE_SEEN] = value
        log.info("a sign-in cookie from client %s was not accepted (expired, signed out, changed or forged)",
                 client_address())
        return None
    st.session_state[KEY_USER] = {"user": account.user, "role": account.role}
    log.info("sign-in of %r (%s) restored from its cookie, client %s", account.user, account.role, client_address())
    return Viewer(account.user, account.role)


_COOKIE_SCRIPT = """<script>
(function () {
  if (window.frameElement) window.frameElement.title = "サインインの保持";
  const secure = window.parent.location.protocol === "https:" ? "; Secure" : "";
  window.parent.document.cookie = __NAME__ + "=" + __VALUE__ + "; Max-Age=__AGE__; Path=/; SameSite=Strict" + secure;
})();
</script>"""


def _write_cookie(value: str, max_age: int) -> None:
    """Set (or, with ``max_age`` 0, clear) the sign-in cookie in the browser, from a hidden frame."""
    script = (_COOKIE_SCRIPT.replace("__NAME__", json.dumps(COOKIE_NAME)).replace("__VALUE__", json.dumps(value))
              .replace("__AGE__", str(int(max_age))))
    with st.container(key="mm_auth_cookie", height=1, border=False):  # hidden by its own style: no gap
        st.html("<style>.st-key-mm_auth_cookie, [data-testid='stLayoutWrapper']:has(> .st-key-mm_auth_cookie) "
                "{ display: none; }</style>")
        st.iframe(script, height=1, tab_index=-1, alt="サインインの保持")


def _oidc_configured(secrets: dict) -> bool:
    return "auth" in secrets


def _oidc_viewer(secrets: dict) -> Viewer | None:
    user = getattr(st, "user", None)
    if user is None or not getattr(user, "is_logged_in", False):
        return None
    email = str(user.get("email") or user.get("sub") or "")
    analysts = {str(a) for a in (secrets.get("roles", {}) or {}).get("analysts", [])}
    return Viewer(email, ROLE_ANALYST if email in analysts else ROLE_VIEW)


def current_viewer() -> Viewer | None:
    """The visitor if known (local, signed in this session, or by a good cookie), else None.

    A session's account is looked up again on every run: removed from the secrets, it is signed out;
    given another role, the session has that role from now on.
    """
    if served_locally():
        return Viewer(LOCAL_USER, ROLE_ANALYST, local=True)
    if secrets_problem():
        return None
    secrets = _secrets()
    if _oidc_configured(secrets):
        return _oidc_viewer(secrets)
    accounts = accounts_from_secrets(secrets)
    data = st.session_state.get(KEY_USER)
    if data:
        account = accounts.get(data.get("user"))
        if account is None:
            st.session_state.pop(KEY_USER, None)
            return None
        return Viewer(account.user, account.role)
    return _from_cookie(secrets, accounts)


def _password_sign_in(secrets: dict, accounts: dict, user: str, password: str) -> None:
    """Check one try against the shared guard and the accounts; a success reruns signed in."""
    guard, client = LoginGuard(), client_address()
    attempt = guard.attempt(user, client)
    if not attempt.allowed:
        st.error(lockout_message(attempt.wait_s))
        return
    account = check_login(accounts, user, password)
    if account is None:
        wait = guard.failed(user, client, attempt)
        time.sleep(FAIL_PAUSE_S)
        st.error("利用者名かパスワードが違います。")
        if wait > 0:
            st.warning(lockout_message(wait))
        return
    guard.succeeded(user, client, attempt)
    log.info("signed in %r (%s) from client %s", account.user, account.role, client)
    st.session_state[KEY_USER] = {"user": account.user, "role": account.role}
    st.session_state[KEY_COOKIE] = sign_cookie(account, _cookie_key(secrets), time.time())
    st.session_state.pop(KEY_SIGNED_OUT, None)
    st.session_state.pop("login_password", None)
    st.rerun()


def require_viewer() -> Viewer:
    """The visitor, or a sign-in page (and the script stops) when nobody is signed in yet."""
    viewer = current_viewer()
    if viewer is not None:
        if not viewer.local and st.session_state.get(KEY_COOKIE):
            _write_cookie(st.session_state[KEY_COOKIE], COOKIE_TTL_S)
        return viewer
    if st.session_state.get(KEY_SIGNED_OUT):
        _write_cookie("", 0)
    st.title("連携もやもやマップ")
    problem = secrets_problem()
    if problem:
        st.error(problem)
        st.stop()
    secrets = _secrets()
    if _oidc_configured(secrets):
        st.write("このダッシュボードは職場のネットワークで共有されています。続けるにはサインインしてください。")
        if st.button("サインイン", type="primary", key="oidc_login"):
            st.login()
        st.stop()
    accounts = accounts_from_secrets(secrets)
    if not accounts:
        st.error("このダッシュボードはネットワークに公開されていますが、利用者が登録されていません。管理者は "
                 "README の「共有するとき」の手順で .streamlit/secrets.toml に利用者を登録してください。")
        st.stop()
    st.write("このダッシュボードは職場のネットワークで共有されています。利用者名とパスワードを入力してください。")
    with st.form("login", border=True):
        user = st.text_input("利用者名", key="login_user")
        password = st.text_input("パスワード", type="password", key="login_password")
        ok = st.form_submit_button("サインイン", type="primary")
    if ok:
        _password_sign_in(secrets, accounts, user.strip(), password)
    st.stop()


def sign_out_button(viewer: Viewer) -> None:
    """Who is signed in, and a way out (nothing for the local analyst)."""
    if viewer.local:
        return
    st.sidebar.caption(f"{viewer.user}（{viewer.role}）")
    if st.sidebar.button("サインアウト", key="logout"):
        if _oidc_configured(_secrets()):
            st.logout()
        try:
            record_sign_out(viewer.user, time.time())
        except Exception as exc:  # never keeps anybody signed in
            log.warning("could not record the sign-out of %r: %s", viewer.user, exc)
        log.info("signed out %r", viewer.user)
        st.session_state.pop(KEY_USER, None)
        st.session_state.pop(KEY_COOKIE, None)
        st.session_state[KEY_SIGNED_OUT] = True
        st.rerun()


def viewer() -> Viewer:
    """The viewer the frame stored for this script run."""
    return st.session_state.get("_viewer") or Viewer(LOCAL_USER, ROLE_ANALYST, local=True)


def needs_analyst(what: str) -> bool:
    """True (and an explanation shown) when the viewer may not do ``what`` (e.g. 「分析の実行」)."""
    v = viewer()
    if v.can_analyse:
        return False
    st.info(f"{what}は「分析」の権限がある利用者だけができます。いまは「閲覧」でサインインしています。")
    return True


def acting_viewer() -> Viewer | None:
    """Who is acting now, worked out afresh (not the copy the frame stored): for checks inside actions."""
    try:
        return current_viewer()
    except Exception:
        return None


def analyst_only(what: str) -> str:
    return f"{what}は「分析」の権限がある利用者だけができます。"


def may_analyse(what: str, owner: str | None = None) -> bool:
    """Whether the acting viewer is 分析 (or, with ``owner``, is that user); a refusal is logged."""
    v = acting_viewer()
    if v is not None and (v.can_analyse or (owner is not None and bool(v.user) and v.user == owner)):
        return True
    log.warning("refused %s for %r (%s)", what, v.user if v else None, v.role if v else "not signed in")
    return False


def refused(what: str, owner: str | None = None) -> bool:
    """Server-side check at the start of an analyst-only action (a callback or a button's branch):
    True, with a warning for the next run, when the acting viewer is not 分析 (nor ``owner``)."""
    if may_analyse(what, owner):
        return False
    state.warn_once(analyst_only(what) if owner is None else f"{what}は、始めた人と「分析」の権限がある利用者だけができます。")
    return True


def actor() -> tuple[str, str] | None:
    """(user, role) of the acting viewer for :mod:`analysis.store.shortlists`; None for the local analyst.

    Nobody signed in (should not happen inside an action) acts as a 閲覧 user without a name."""
    v = acting_viewer()
    if v is None:
        return ("", ROLE_VIEW)
    return None if v.local else (v.user, v.role)
