"""Several people on one dashboard at once: page switches, filters and errors under load.

Starts ``streamlit run app.py`` on a free port (or uses ``--url``), opens N browser sessions in
Debian's chromium (one browser, N contexts, driven concurrently with Playwright's async API) and
lets each session walk the pages, switch filters and rename nothing (read-only load) for R
rounds. Every request that would leave the machine is blocked and counted. Reports per-action
latency (p50 / p95 / max, from the click until the page has no running or stale element),
exceptions or error boxes seen, and requests blocked.

    python -m bench.load_test --sessions 10 --rounds 3 --models /tmp/mm3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
BUSY_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main || !main.innerText.trim()) return 'empty';
  if (document.querySelector('[data-testid="stStatusWidget"]')) return 'running';
  if (document.querySelector('[data-stale="true"]')) return 'stale';
  if (document.querySelector('[data-testid="stSkeleton"]')) return 'skeleton';
  return '';
}"""
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(models: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, MOYAMOYA_MODELS_DIR=models)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise SystemExit("server did not start")


async def idle(page, timeout: float = 90.0, settle: float = 0.4) -> None:
    deadline = time.monotonic() + timeout
    quiet = None
    while time.monotonic() < deadline:
        state = await page.evaluate(BUSY_JS)
        if state:
            quiet = None
        elif quiet is None:
            quiet = time.monotonic()
        elif time.monotonic() - quiet >= settle:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("page still busy")


async def session(browser, url: str, rounds: int, results: dict, sid: int) -> None:
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ja-JP")

    async def only_local(route):
        u = route.request.url
        if u.startswith(url) or u.startswith(("data:", "blob:", "about:")):
            await route.continue_()
        else:
            results["blocked"].append(u)
            await route.abort()

    await ctx.route("**/*", only_local)
    page = await ctx.new_page()
    t = time.monotonic()
    await page.goto(url)
    await idle(page)
    results["first"].append(time.monotonic() - t)
    nav = page.locator('[data-testid="stSidebarNav"] a')
    n = await nav.count()
    for r in range(rounds):
        for i in list(range(1, n)) + [0]:
            t = time.monotonic()
            await nav.nth(i).click()
            try:
                await idle(page)
            except TimeoutError:
                results["timeouts"] += 1
                continue
            results["switch"].append(time.monotonic() - t)
            results["actions"] += 1
            if await page.locator(ERRORS).count():
                results["errors"].append((sid, i, (await page.locator(ERRORS).first.inner_text())[:200]))
        # a filter on the overview: one category pill on, then off
        pill = page.locator('[data-testid="stSidebar"] [data-testid="stButtonGroup"] button').nth(r % 4)
        for _ in range(2):
            t = time.monotonic()
            await pill.click()
            await idle(page)
            results["filter"].append(time.monotonic() - t)
            results["actions"] += 1
    await ctx.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def main_async(url: str, sessions: int, rounds: int) -> dict:
    from playwright.async_api import async_playwright

    results = {"first": [], "switch": [], "filter": [], "errors": [], "blocked": [], "timeouts": 0, "actions": 0}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        t = time.monotonic()
        await asyncio.gather(*(session(browser, url, rounds, results, i) for i in range(sessions)))
        results["wall"] = time.monotonic() - t
        await browser.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--models", default=str(ROOT / "models"))
    ap.add_argument("--url")
    args = ap.parse_args()
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args.models)
    try:
        load = os.getloadavg()[0]
        r = asyncio.run(main_async(url, args.sessions, args.rounds))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"sessions {args.sessions}, rounds {args.rounds}, actions {r['actions']}, wall {r['wall']:.0f} s, "
          f"load before {load:.1f}")
    for key in ("first", "switch", "filter"):
        v = r[key]
        print(f"{key:7s} n={len(v):4d}  p50 {statistics.median(v) if v else float('nan'):.2f} s  "
              f"p95 {pct(v, 0.95):.2f} s  max {max(v) if v else float('nan'):.2f} s")
    print(f"errors {len(r['errors'])}  timeouts {r['timeouts']}  requests blocked {len(r['blocked'])}")
    for e in r["errors"][:5]:
        print("  ", e)


if __name__ == "__main__":
    main()
