"""A real browser against ``streamlit run app.py`` served beyond loopback: a reload keeps the sign-in.

The server listens on 0.0.0.0, so a visitor (this machine's chromium, Debian's ``/usr/bin/chromium``
through Playwright; never ``playwright install``) must sign in. It reads a private secrets file of its
own and an empty models folder, and the browser stays on the data page, which needs no saved run, so
nothing is analysed. Signing in sets the signed cookie from a hidden frame; a reload starts a new
Streamlit session, which finds the cookie in its request and signs in again; signing out clears it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from analysis.store.accounts import COOKIE_NAME, ROLE_VIEW, hash_password, secrets_line
from test_browser import CHROMIUM, CHROMIUM_ARGS, PROJECT_DIR, _free_port, _tail, _wait_health, _wait_idle

pytestmark = pytest.mark.browser
SIGNED_IN = "suzuki（閲覧）"


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("auth-browser")
    (base / "models").mkdir()
    secrets = base / "secrets.toml"
    secrets.write_text("[passwords]\n" + secrets_line("suzuki", hash_password("battery staple 2"), ROLE_VIEW) + "\n",
                       encoding="utf-8")
    os.chmod(secrets, 0o600)
    port = _free_port()
    log = base / "server.log"
    env = {**os.environ, "MOYAMOYA_MODELS_DIR": str(base / "models"), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.address", "0.0.0.0", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--secrets.files", str(secrets)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_health(url, proc, log)
        yield url, log, base / "models"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _sidebar_text(page) -> str:
    side = page.locator('[data-testid="stSidebar"]')
    return side.inner_text() if side.count() else ""


def _cookie(context) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == COOKIE_NAME), None)


def test_a_reload_keeps_the_sign_in_until_signing_out(shared_server):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not found: apt-get install -y chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    url, log, models = shared_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="ja-JP", viewport={"width": 1200, "height": 900})
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{url}/data")
            _wait_idle(page)
            assert "利用者名とパスワードを入力してください" in _main_text(page), _tail(log)
            page.get_by_label("利用者名").fill("suzuki")
            page.get_by_label("パスワード", exact=True).fill("battery staple 2")
            page.get_by_role("button", name="サインイン").click()
            page.get_by_text(SIGNED_IN).wait_for()
            _wait_idle(page)
            deadline = time.monotonic() + 10
            while _cookie(context) is None and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            value = _cookie(context)
            assert value and value.count(".") == 1, context.cookies()
            assert "データと再分析" in _main_text(page)

            page.reload()  # a new websocket, a new Streamlit session: only the cookie says who this is
            _wait_idle(page)
            page.get_by_text(SIGNED_IN).wait_for()
            assert "利用者名とパスワードを入力してください" not in _main_text(page)
            assert "データと再分析" in _main_text(page)

            page.get_by_role("button", name="サインアウト").click()
            page.get_by_text("利用者名とパスワードを入力してください").wait_for()
            deadline = time.monotonic() + 10
            while _cookie(context) and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            assert not _cookie(context)
            page.reload()
            _wait_idle(page)
            assert "利用者名とパスワードを入力してください" in _main_text(page)
            assert SIGNED_IN not in _sidebar_text(page)

            # the old cookie, put back by hand (copied, say), no longer signs anybody in: signed out
            context.add_cookies([{"name": COOKIE_NAME, "value": value, "url": url}])
            page.reload()
            _wait_idle(page)
            assert "利用者名とパスワードを入力してください" in _main_text(page)
            assert "Traceback" not in _tail(log)
        finally:
            browser.close()
