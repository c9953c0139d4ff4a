"""Who is looking: nobody needs to sign in on 127.0.0.1; beyond it, everyone does.

* Served on a loopback address (``make run``: 127.0.0.1) and visited from this machine, the
  visitor is the local analyst: nothing changes.
* Served beyond it (``--server.address 0.0.0.0`` or an office IP), every visitor signs in:
  with Streamlit's own ``st.login`` (OpenID Connect) when ``[auth]`` is configured in
  ``.streamlit/secrets.toml``, otherwise with a user name and password from ``[passwords]``
  (stored as salted hashes, checked in constant time; see :mod:`analysis.store.accounts`).

Roles (:mod:`analysis.store.accounts`): 閲覧 browses and keeps shortlists; 分析 also uploads, reruns,
renames themes, deletes runs and chooses the run every new visitor opens with.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import streamlit as st

from analysis.store.accounts import (
    ROLE_ANALYST,
    ROLE_VIEW,
    accounts_from_secrets,
    can_analyse,
    check_login,
)
from ui.state import KEY_USER

LOCAL_USER = ""
_LOOPBACK_NAMES = ("localhost",)


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
    """The visitor if known (local, or signed in this session), else None."""
    if served_locally():
        return Viewer(LOCAL_USER, ROLE_ANALYST, local=True)
    secrets = _secrets()
    if _oidc_configured(secrets):
        return _oidc_viewer(secrets)
    data = st.session_state.get(KEY_USER)
    return Viewer(data["user"], data["role"]) if data else None


def require_viewer() -> Viewer:
    """The visitor, or a sign-in page (and the script stops) when nobody is signed in yet."""
    viewer = current_viewer()
    if viewer is not None:
        return viewer
    st.title("連携もやもやマップ")
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
        account = check_login(accounts, user.strip(), password)
        if account is None:
            time.sleep(1.0)  # slows down guessing
            st.error("利用者名かパスワードが違います。")
        else:
            st.session_state[KEY_USER] = {"user": account.user, "role": account.role}
            st.session_state.pop("login_password", None)
            st.rerun()
    st.stop()


def sign_out_button(viewer: Viewer) -> None:
    """Who is signed in, and a way out (nothing for the local analyst)."""
    if viewer.local:
        return
    st.sidebar.caption(f"{viewer.user}（{viewer.role}）")
    if st.sidebar.button("サインアウト", key="logout"):
        if _oidc_configured(_secrets()):
            st.logout()
        st.session_state.pop(KEY_USER, None)
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
