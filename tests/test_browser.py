"""A real browser against ``streamlit run app.py``: every page renders, the map selects.

Uses Debian's ``/usr/bin/chromium`` through Playwright for Python (never ``playwright install``)
and ``fonts-noto-cjk`` so Japanese renders. The server reads the session's temporary models
folder, where the ``seed_run`` fixture has already saved the default run, so the app only browses.
Screenshots (one per page, plus the map after the box selection) go to ``test-output/browser/``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PROJECT_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = PROJECT_DIR / "test-output" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# Pages (by title) that must show at least one plotly chart on the seed run.
PLOTLY_PAGES = {"概要", "テーマ", "分野横断"}
OVERVIEW = "概要"
ERROR_SELECTOR = (
    '[data-testid="stException"], [data-testid="stAlertContentError"], '
    '[data-testid="stAlertContainer"][data-baseweb="notification"][kind="negative"]'
)
TABLE_SELECTOR = '[data-testid="stDataFrame"], [data-testid="stTable"]'
MAP_SELECTOR = '.st-key-theme_map [data-testid="stPlotlyChart"]'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_health(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit not healthy after {timeout:.0f}s:\n{_tail(log)}")


def _tail(log: Path, n: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


@pytest.fixture(scope="module")
def server(seed_run, models_dir):
    """``streamlit run app.py`` on a free port, reading the session's models folder."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.glob("*.png"):
        old.unlink()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = OUT_DIR / "server.log"
    env = {**os.environ, "MOYAMOYA_MODELS_DIR": str(models_dir), "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]
    started = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        _wait_health(url, proc, log)
        server_start = time.monotonic() - started
        (OUT_DIR / "timings.txt").write_text(f"server healthy after {server_start:.1f}s\n", encoding="utf-8")
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser_page():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not found: apt-get install -y chromium fonts-noto-cjk")
    if shutil.which("fc-list"):
        fonts = subprocess.run(["fc-list", ":lang=ja"], capture_output=True, text=True).stdout
        assert fonts.strip(), "no Japanese font (apt-get install -y fonts-noto-cjk): Japanese would show as boxes"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


# --------------------------------------------------------------------------- helpers


def _wait_idle(page, timeout: float = 45.0, settle: float = 0.6) -> None:
    """Wait until the script run is over: no running indicator, no stale elements, for a while.

    Streamlit shows ``stStatusWidget`` while the script runs and marks elements of the previous
    run ``data-stale="true"`` until they are replaced; a short settle period covers the gap
    between a click and the rerun starting.
    """
    busy_js = """() => {
        const main = document.querySelector('[data-testid="stMain"]');
        if (!main || !main.innerText.trim()) return 'empty';
        if (document.querySelector('[data-testid="stStatusWidget"]')) return 'running';
        if (document.querySelector('[data-testid="stSpinner"]')) return 'spinner';
        if (document.querySelector('[data-stale="true"]')) return 'stale';
        if (document.querySelector('[data-testid="stSkeleton"]')) return 'skeleton';
        return '';
    }"""
    deadline = time.monotonic() + timeout
    quiet_since = None
    state = "?"
    while time.monotonic() < deadline:
        state = page.evaluate(busy_js)
        if state:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"app still busy after {timeout:.0f}s (state: {state})")


def _assert_healthy(page, name: str, log: Path) -> str:
    """No exception / error element on the page; returns the main area's text."""
    errors = page.locator(ERROR_SELECTOR)
    if errors.count():
        texts = "\n---\n".join(errors.nth(i).inner_text()[:1500] for i in range(errors.count()))
        _screenshot(page, f"{name}-ERROR")
        raise AssertionError(f"error on page {name!r}:\n{texts}\n--- server log:\n{_tail(log)}")
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert JAPANESE.search(text), f"no Japanese text on page {name!r}"
    return text


def _screenshot(page, name: str) -> Path:
    """Full-page screenshot; Streamlit scrolls inside its own container, so grow the viewport."""
    height = page.evaluate(
        """() => Math.max(document.body.scrollHeight,
            ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"],'
                + ' [data-testid="stMainBlockContainer"]')].map(e => e.scrollHeight))"""
    )
    path = OUT_DIR / f"{name}.png"
    page.set_viewport_size({"width": VIEWPORT["width"], "height": int(min(max(height, 600), 12_000))})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)
    return path


def _nav_links(page) -> list[tuple[str, str]]:
    """(name, label) of the sidebar navigation links, in order.

    ``name`` is the link's url path (``default`` for the default page, which links to ``/``);
    ``label`` is the page title (the link text without its material icon name).
    """
    links = page.locator('[data-testid="stSidebarNav"] a')
    links.first.wait_for()
    out = []
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href") or ""
        slug = href.split("?")[0].split("#")[0].rstrip("/")
        slug = slug.rsplit("/", 1)[-1] if slug.count("/") > 2 else ""
        label = links.nth(i).inner_text().strip().splitlines()[-1].strip()
        out.append((slug or "default", label))
    return out


def _table_cells(page) -> set[str]:
    """Texts of the cells st.dataframe exposes (glide-data-grid draws on a canvas but keeps an
    accessible table of the visible cells in the DOM)."""
    cells = page.locator(
        '[data-testid="stDataFrame"] td, [data-testid="stDataFrame"] [role="gridcell"], '
        '[data-testid="stTable"] td'
    ).all_inner_texts()
    return {c.strip() for c in cells if c.strip()}


def _box_select_map(page) -> None:
    """Pick plotly's Box Select in the map's modebar and drag over the left half of the plot."""
    chart = page.locator(MAP_SELECTOR)
    if not chart.count():  # fall back to the last chart of the overview page
        chart = page.locator('[data-testid="stPlotlyChart"]').last
    chart.scroll_into_view_if_needed()
    drag = chart.locator(".nsewdrag").first
    drag.wait_for()
    drag.hover()  # the modebar only shows on hover
    button = chart.locator('.modebar-btn[data-val="select"]').first
    button.click()
    box = drag.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, f"map plot area too small: {box}"
    # the left half of the map: some points, but not all of them
    x0, y0 = box["x"] + box["width"] * 0.02, box["y"] + box["height"] * 0.02
    x1, y1 = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.98
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=8)
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()


# --------------------------------------------------------------------------- the test


def test_every_page_renders_and_map_selection_lists_comments(server, browser_page, seed_comments):
    url, log = server
    page = browser_page
    t0 = time.monotonic()
    page.goto(url)
    _wait_idle(page)
    first_render = time.monotonic() - t0

    links = _nav_links(page)
    labels = [label for _, label in links]
    assert len(links) >= 5, f"expected five pages in the sidebar, got {links}"
    assert PLOTLY_PAGES | {OVERVIEW} <= set(labels), labels
    nav = page.locator('[data-testid="stSidebarNav"] a')

    timings = {}
    for i, (slug, label) in enumerate(links):
        t = time.monotonic()
        nav.nth(i).click()
        _wait_idle(page)
        _assert_healthy(page, label, log)
        if label in PLOTLY_PAGES:
            # Plotly draws in the browser after the script has finished: wait for it, not just the server.
            charts = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot')
            try:
                charts.first.wait_for(state="attached", timeout=20_000)
                page.locator(".js-plotly-plot .main-svg").first.wait_for(state="attached", timeout=20_000)
            except Exception:  # playwright's TimeoutError; the asserts below then report what is missing
                pass
            assert charts.count() >= 1, f"no plotly chart on page {label!r}"
            assert page.locator(".js-plotly-plot .main-svg").count(), f"empty plotly chart on {label!r}"
        timings[label] = time.monotonic() - t
        _screenshot(page, f"{i + 1:02d}_{'overview' if label == OVERVIEW else slug}")

    # box-select on the overview map lists the selected comments
    nav.nth(labels.index(OVERVIEW)).click()
    _wait_idle(page)
    comments = set(seed_comments["text"].str.strip())
    before = _table_cells(page)
    assert not comments & before, "comments listed before any selection"
    n_tables = page.locator(TABLE_SELECTOR).count()
    t = time.monotonic()
    _box_select_map(page)
    page.wait_for_function(
        f"() => document.querySelectorAll({TABLE_SELECTOR!r}).length > {n_tables}", timeout=30_000
    )
    _wait_idle(page)
    timings["box-select"] = time.monotonic() - t
    _assert_healthy(page, "overview-selected", log)
    listed = comments & (_table_cells(page) - before)
    assert listed, "the box selection did not list any comment text"
    _screenshot(page, f"{len(links) + 1:02d}_overview_selected")

    report = (
        f"first render {first_render:.1f}s; per page: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
        + f"; {len(listed)} selected comments visible in the table"
    )
    with open(OUT_DIR / "timings.txt", "a", encoding="utf-8") as fh:
        fh.write(report + "\n")
    print("\n" + report)


def test_trainer_shortlist_downloads_word_handout(server, browser_page):
    """Add a quote to the shortlist, write a note, download the .docx and open it."""
    import io

    from docx import Document

    url, log = server
    page = browser_page
    page.goto(f"{url}/trainer")
    _wait_idle(page)
    _assert_healthy(page, "trainer", log)
    card = page.locator('[data-testid="stMain"] [data-testid="stHorizontalBlock"]').filter(
        has=page.get_by_role("button", name=re.compile("候補に追加"))
    ).first
    quote = card.locator('[data-testid="stHtml"], [data-testid="stMarkdownContainer"]').first.inner_text()
    card.get_by_role("button", name=re.compile("候補に追加")).click()
    _wait_idle(page)
    page.get_by_role("tab", name=re.compile("書き出し")).click()
    _wait_idle(page)
    note = page.get_by_role("textbox", name="メモ").first
    note.fill("導入の話題に使う")
    note.press("Control+Enter")
    _wait_idle(page)
    _assert_healthy(page, "trainer-shortlist", log)
    _screenshot(page, "07_trainer_shortlist")
    with page.expect_download(timeout=20_000) as dl:
        page.get_by_role("button", name=re.compile("Word")).click()
    data = Path(dl.value.path()).read_bytes()
    texts = [p.text for p in Document(io.BytesIO(data)).paragraphs]
    assert "事例1" in texts
    quoted = texts[texts.index("事例1") + 1]
    assert len(quoted) > 10 and quoted in quote, (quoted, quote)
    assert "メモ：導入の話題に使う" in texts
    assert any(t.startswith("問い：") for t in texts)
