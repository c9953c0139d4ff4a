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
PHONE = {"width": 390, "height": 844}
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
def server(seed_run, tmp_path_factory):
    """``streamlit run app.py`` on a free port, on its own copy of the seed run (what the browser
    changes — shortlists, notes — never reaches other tests' copies of the session's run)."""
    models_dir = tmp_path_factory.mktemp("browser-models")
    (models_dir / "runs").mkdir()
    shutil.copytree(seed_run.path, models_dir / "runs" / Path(seed_run.path).name)
    cache = Path(seed_run.path).parent.parent / "cache"
    if cache.exists():
        shutil.copytree(cache, models_dir / "cache", ignore=shutil.ignore_patterns("locks"))
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
            attempts: list[str] = []

            def only_this_machine(route) -> None:
                """Every request that would leave the machine is blocked and recorded (tests fail on any)."""
                url = route.request.url
                host = re.sub(r"^[a-z]+://", "", url).split("/", 1)[0].rsplit(":", 1)[0]
                if url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost", "[::1]"):
                    route.continue_()
                else:
                    attempts.append(url)
                    route.abort()

            context.route("**/*", only_this_machine)
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page, attempts
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


# --------------------------------------------------------------------------- Japanese everywhere

# Streamlit's own English strings this app must never show (text or screen-reader labels), and
# plotly's toolbar titles. Kept in step with ui/look.py and analysis/charts.PLOTLY_JA.
ENGLISH = (
    "Upload", "Browse files", "Drag and drop", "per file", "Choose an option", "No results", "Clear all",
    "Download as CSV", "Search", "Fullscreen", "Show/hide columns", "Collapse sidebar", "Expand sidebar",
    "App pages", "Increment", "Decrement", "Link to heading", "Skip to main content", "file upload",
    "Zoom", "Pan", "Box Select", "Lasso Select", "Autoscale", "Reset axes", "Download plot", "Zoom in", "Zoom out",
    "Toggle Spike Lines", "Show closest data on hover", "Compare data on hover", "Produced with Plotly",
    "Sort ascending", "Sort descending", "Autosize", "Pin column", "Hide column", "Statistics", "Type to search",
    "Select all", "Copy column name", "results", "Help for",
)
# Menus Streamlit draws only when opened (a table's column menu, its column chooser): added to the
# page as Streamlit adds them, they must come out in Japanese too.
MENU_PROBE_JS = """() => new Promise((done) => {
  const menu = document.createElement('div');
  menu.setAttribute('aria-label', 'Dataframe column menu');
  menu.innerHTML = '<div role="menuitem">Sort ascending</div><div role="menuitem">Pin column</div>'
    + '<div role="menuitem">Hide column</div><div>Statistics</div><label>Select all</label><span>(index)</span>'
    + '<input placeholder="Type to search"><span>1 of 38 results</span><span>2 results</span>'
    + '<span aria-label="Help for 地区"></span>';
  document.body.appendChild(menu);
  setTimeout(() => { const out = [menu.getAttribute('aria-label'),
      ...[...menu.children].map((e) => e.placeholder || e.textContent || e.getAttribute('aria-label'))];
    menu.remove(); done(out); }, 300);
})"""
_VISIBLE_TEXT_JS = """() => {
  const out = [];
  const shown = (el) => { const cs = getComputedStyle(el);
    return cs.display !== 'none' && cs.visibility !== 'hidden' && parseFloat(cs.fontSize) > 0
      && !el.closest('[aria-hidden="true"]') && !el.closest('[data-testid="stIconMaterial"]'); };
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (w.nextNode()) { const t = w.currentNode.nodeValue.trim(); const el = w.currentNode.parentElement;
    if (t && el && !['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName) && shown(el)) out.push(t); }
  for (const el of document.querySelectorAll('[title],[aria-label],[placeholder],[data-title]'))
    for (const a of ['title', 'aria-label', 'placeholder', 'data-title']) { const v = el.getAttribute(a); if (v) out.push(v); }
  return out; }"""


def _english_left(page) -> list[str]:
    """English UI strings on the page (visible text and labels), from :data:`ENGLISH`."""
    texts = page.evaluate(_VISIBLE_TEXT_JS)
    return sorted({t for t in texts for e in ENGLISH if re.search(rf"(?<![A-Za-z]){re.escape(e)}(?![A-Za-z])", t)})


def _reveal_toolbars(page) -> None:
    """Hover over a table and a chart so their toolbars (and tooltips) are in the page."""
    for sel in ('[data-testid="stDataFrame"]', '[data-testid="stPlotlyChart"]'):
        loc = page.locator(sel)
        if loc.count():
            try:
                loc.first.scroll_into_view_if_needed()
                loc.first.hover()
                page.wait_for_timeout(400)
                button = loc.first.locator('[data-testid="stElementToolbarButton"] button, .modebar-btn').first
                if button.count():
                    button.hover()
                    page.wait_for_timeout(400)
            except Exception:  # an element re-rendered under the mouse: the scan below still runs
                pass


# --------------------------------------------------------------------------- the tests


def test_every_page_renders_in_japanese_offline_and_map_selection_lists_comments(server, browser_page, seed_comments):
    url, log = server
    page, attempts = browser_page
    t0 = time.monotonic()
    page.goto(url)
    _wait_idle(page)
    first_render = time.monotonic() - t0

    links = _nav_links(page)
    labels = [label for _, label in links]
    assert len(links) >= 6, f"expected six pages in the sidebar, got {links}"
    assert PLOTLY_PAGES | {OVERVIEW} <= set(labels), labels
    nav = page.locator('[data-testid="stSidebarNav"] a')

    timings, english = {}, {}
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
        _reveal_toolbars(page)
        english[label] = _english_left(page)
    assert not any(english.values()), english
    assert page.evaluate(MENU_PROBE_JS) == ["列のメニュー", "小さい順に並べる", "列を固定する", "列を隠す", "統計",
                                            "すべて選ぶ", "（行番号）", "検索する言葉", "38 件中 1 件目", "2 件",
                                            "地区 の説明"]

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
    assert attempts == [], f"requests left the machine: {attempts}"

    report = (
        f"first render {first_render:.1f}s; per page: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
        + f"; {len(listed)} selected comments visible in the table"
    )
    with open(OUT_DIR / "timings.txt", "a", encoding="utf-8") as fh:
        fh.write(report + "\n")
    print("\n" + report)


def test_trainer_note_being_typed_is_in_the_word_handout(server, browser_page):
    """Add a quote to a shortlist, type a note and export at once: the note is in the .docx."""
    import io

    from docx import Document

    url, log = server
    page, attempts = browser_page
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
    note.fill("導入の話題に使う")  # typed, not yet confirmed: the next click must still include it
    page.get_by_role("button", name=re.compile("書き出す資料を用意する")).click()
    _wait_idle(page)
    _assert_healthy(page, "trainer-shortlist", log)
    _screenshot(page, "08_trainer_shortlist")
    with page.expect_download(timeout=20_000) as dl:
        page.get_by_role("button", name=re.compile("Word")).click()
    data = Path(dl.value.path()).read_bytes()
    doc = Document(io.BytesIO(data))
    texts = [p.text for p in doc.paragraphs]
    quoted = next((t for t in texts if len(t) > 10 and t in quote), None)
    assert quoted, (texts[:12], quote)
    assert any("導入の話題に使う" in t for t in texts), texts
    assert attempts == [], f"requests left the machine: {attempts}"


def test_phone_width_pages_sidebar_and_cards(server, browser_page):
    """At 390 × 844: every page renders, the sidebar closes after a page is chosen, the map
    takes the full width with its legend below, and the theme list becomes cards."""
    url, log = server
    page, attempts = browser_page
    page.set_viewport_size(PHONE)
    try:
        page.goto(url)
        _wait_idle(page)
        _assert_healthy(page, "phone-overview", log)
        chart = page.locator('[data-testid="stPlotlyChart"]').first
        chart.wait_for()
        box = chart.bounding_box()
        assert box and box["width"] > PHONE["width"] * 0.8, box  # not squeezed by a legend beside it
        assert page.locator(".mm-narrow-only").first.is_visible()  # cards
        assert not page.locator(".st-key-wide_table").first.is_visible()  # instead of the wide table
        _screenshot_phone(page, "phone_01_overview")
        for name in ("themes", "overlaps", "groups", "trainer", "data"):
            page.get_by_test_id("stExpandSidebarButton").click() if page.get_by_test_id("stExpandSidebarButton").count() \
                else page.locator('[data-testid="stSidebarCollapsedControl"] button').first.click()
            page.wait_for_timeout(400)
            page.locator(f'[data-testid="stSidebarNav"] a[href$="/{name}"]').click()
            _wait_idle(page)
            page.wait_for_timeout(500)
            _assert_healthy(page, f"phone-{name}", log)
            sidebar = page.locator('[data-testid="stSidebar"]')
            expanded = sidebar.get_attribute("aria-expanded")
            sb = sidebar.bounding_box()
            assert expanded == "false" or not sb or sb["x"] + sb["width"] <= 5, (name, expanded, sb)
            assert not _english_left(page), (name, _english_left(page))
            if name == "groups":  # the comparison as cards, not a table with hidden columns
                assert page.locator(".mm-narrow-only").first.is_visible()
                assert not page.locator('[class*="st-key-wide_table_"]').first.is_visible()
            _screenshot_phone(page, f"phone_{name}")
        # choosing a run in the sidebar's picker closes the sidebar too
        page.get_by_test_id("stExpandSidebarButton").click() if page.get_by_test_id("stExpandSidebarButton").count() \
            else page.locator('[data-testid="stSidebarCollapsedControl"] button').first.click()
        page.wait_for_timeout(400)
        page.locator('.st-key-run_picker [role="combobox"]').first.click()
        page.locator('[role="option"]').first.click()
        _wait_idle(page)
        page.wait_for_timeout(500)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sb = sidebar.bounding_box()
        assert sidebar.get_attribute("aria-expanded") == "false" or not sb or sb["x"] + sb["width"] <= 5, sb
        assert attempts == [], f"requests left the machine: {attempts}"
    finally:
        page.set_viewport_size(VIEWPORT)


def _screenshot_phone(page, name: str) -> None:
    page.screenshot(path=str(OUT_DIR / f"{name}.png"), full_page=False)
