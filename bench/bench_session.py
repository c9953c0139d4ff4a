"""Speed a user feels: a first large run in a new process, and a new dashboard session (a script, not a test).

    .venv/bin/python -m bench.bench_session --cli [--size 10000]
    .venv/bin/python -m bench.bench_session --dashboard [--sessions 5]

``--cli``: a synthetic CSV of ``--size`` comments (``bench.synthetic``) analysed with
``python -m analysis run --input <csv> --backend hybrid`` as a user (or a dashboard job, also a new
process) would, with an empty models folder each time (no saved run, embedding or UMAP cache):

* ``numba cold``: numba's on-disk cache empty as well. ``NUMBA_CACHE_DIR`` points at an empty
  folder, which is what deleting the ``*.nbi`` / ``*.nbc`` files under umap's, pynndescent's and
  ``analysis``' ``__pycache__`` does, without touching a virtual environment others share;
* ``fresh process`` (twice): the same folder, now filled by the first run: a new process loads the
  compiled kernels from disk (``analysis.themes.warmup``);
* ``warm``: the same analysis a second time inside one process that has already run it (caches
  emptied in between): nothing left to compile or import. The ratio fresh / warm is the cost of a
  new process.

``--dashboard``: ``streamlit run app.py`` on a models folder holding the default seed run, then
Playwright with Debian's chromium: seconds from ``page.goto`` until the map's ``.main-svg`` is
visible, for the first session after the server started and for ``--sessions`` further fresh
browser contexts (median); and the overview script alone, timed with Streamlit's ``AppTest``
(first session of the process, then the median of new sessions), with a cProfile of a new session.

Results: markdown on stdout and in ``bench/results/`` (gitignored).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
MAP_SVG = '.st-key-theme_map [data-testid="stPlotlyChart"] .main-svg'


# --------------------------------------------------------------------------- CLI: fresh vs warm


def _write_csv(path: Path, size: int) -> None:
    from analysis.schema import SEED_CATEGORY, SEED_ROLE
    from bench.synthetic import synthetic_comments

    c = synthetic_comments(size)
    c[["text", SEED_CATEGORY, SEED_ROLE]].rename(columns={"text": "本文"}).to_csv(path, index=False, encoding="utf-8-sig")


def _manifest_timings(models: Path) -> dict:
    found = sorted((models / "runs").glob("*/manifest.json"))
    if not found:
        return {}
    m = json.loads(found[-1].read_text(encoding="utf-8"))
    return {**m.get("timings", {}), "n_clusters": m.get("quality", {}).get("n_clusters"), "numerics": m.get("numerics")}


def _clear_models(models: Path) -> None:
    shutil.rmtree(models, ignore_errors=True)
    models.mkdir(parents=True)


def _in_process(csv: str, models: str, n: int) -> list[dict]:
    """``n`` CLI runs inside this process (``analysis.__main__.main``), models folder emptied before each."""
    out = []
    for i in range(n):
        _clear_models(Path(models))
        from bench.report import wait_quiet

        q = wait_quiet(label=f"in-process run {i + 1}")
        t = time.perf_counter()
        from analysis.__main__ import main as cli

        rc = cli(["run", "--input", csv, "--text-column", "本文", "--backend", "hybrid", "--quiet"])
        out.append({"seconds": time.perf_counter() - t, "rc": rc, **q, "timings": _manifest_timings(Path(models))})
    return out


def cli_bench(size: int) -> tuple[list[dict], str]:
    from bench.report import load_text, wait_quiet

    work = Path(tempfile.mkdtemp(prefix="moyamoya-session-"))
    csv = work / f"comments-{size}.csv"
    _write_csv(csv, size)
    models, numba_dir = work / "models", work / "numba-cache"
    numba_dir.mkdir()
    base_env = {**os.environ, "MOYAMOYA_MODELS_DIR": str(models), "NUMBA_CACHE_DIR": str(numba_dir),
                "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "analysis", "run", "--input", str(csv), "--text-column", "本文", "--backend", "hybrid",
           "--quiet"]
    rows = []
    for label in ("numba cold (empty disk cache)", "fresh process 1", "fresh process 2"):
        _clear_models(models)
        q = wait_quiet(label=label)
        t = time.perf_counter()
        out = subprocess.run(cmd, cwd=ROOT, env=base_env, capture_output=True, text=True)
        secs = time.perf_counter() - t
        rows.append({"label": label, "seconds": secs, "rc": out.returncode, **q, "timings": _manifest_timings(models),
                     "tail": out.stderr.strip().splitlines()[-1:] if out.returncode else []})
        print(f"[session] {label}: {secs:.1f} s (rc {out.returncode})", file=sys.stderr, flush=True)
    # fresh and warm inside one process (the second run pays no import and no compilation)
    code = ("import json, sys\nfrom bench.bench_session import _in_process\n"
            "print(json.dumps(_in_process(sys.argv[1], sys.argv[2], 2)))\n")
    out = subprocess.run([sys.executable, "-c", code, str(csv), str(models)], cwd=ROOT, env=base_env,
                         capture_output=True, text=True)
    if out.returncode == 0:
        pair = json.loads(out.stdout.strip().splitlines()[-1])
        for label, r in zip(("fresh process 3 (in-process call)", "warm (second run in that process)"), pair):
            rows.append({"label": label, **r})
    else:
        rows.append({"label": "in-process pair", "error": out.stderr[-500:]})
    shutil.rmtree(work, ignore_errors=True)
    keys = ["embed", "reduce", "cluster", "describe", "save"]
    lines = [f"# A first {size:,}-comment run: new process vs warm ({_dt.datetime.now().isoformat(timespec='seconds')})", "",
             f"{os.cpu_count()} CPUs. `python -m analysis run --input <csv> --backend hybrid` (masking on, as for any file), "
             "empty models folder each time; wall seconds including interpreter start, loading the file, masking and saving; "
             "stages from the run's manifest.", "",
             "| run | seconds | " + " | ".join(keys) + " | themes | busy / load before |",
             "| --- | ---: |" + " ---: |" * len(keys) + " ---: | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['label']} | failed |")
            continue
        t = r.get("timings", {})
        lines.append(f"| {r['label']} | {r['seconds']:.1f} | " + " | ".join(f"{t.get(k, 0):.1f}" for k in keys)
                     + f" | {t.get('n_clusters')} | {r['busy']:.2f} / {r['load']} |")
    fresh = [r["seconds"] for r in rows if r["label"].startswith("fresh") and "seconds" in r]
    warm = [r["seconds"] for r in rows if r["label"].startswith("warm") and "seconds" in r]
    if fresh and warm:
        lines += ["", f"Fresh / warm: {statistics.median(fresh) / warm[0]:.2f} (median of {len(fresh)} fresh runs); "
                      f"numba cold / warm: {rows[0]['seconds'] / warm[0]:.2f}. Load at end {load_text()}."]
    return rows, "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- dashboard: time to map


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare_models(models: Path) -> None:
    env = {**os.environ, "MOYAMOYA_MODELS_DIR": str(models), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", "from analysis.pipeline import ensure_default_run; ensure_default_run()"],
                   cwd=ROOT, env=env, check=True, capture_output=True)


def time_to_map(url: str, sessions: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    from bench.report import wait_quiet

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for i in range(sessions + 1):
                q = wait_quiet(label=f"session {i}")
                context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ja-JP")
                page = context.new_page()
                t = time.perf_counter()
                marks = {}
                page.goto(url, wait_until="domcontentloaded")
                marks["html"] = time.perf_counter() - t
                page.locator('[data-testid="stSidebar"]').first.wait_for(state="visible", timeout=60_000)
                marks["sidebar"] = time.perf_counter() - t
                page.locator('.st-key-theme_map').first.wait_for(state="attached", timeout=60_000)
                marks["map element"] = time.perf_counter() - t
                page.locator(MAP_SVG).first.wait_for(state="visible", timeout=60_000)
                secs = time.perf_counter() - t
                # what the page fetched: the JavaScript a fresh context has to download and parse
                js = page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.endsWith('.js'))"
                                   ".reduce((a, e) => [a[0] + 1, a[1] + (e.decodedBodySize || 0)], [0, 0])")
                out.append({"session": i, "seconds": secs, "marks": marks, "js_files": js[0], "js_mb": js[1] / 1e6, **q})
                print(f"[session] browser session {i}: {secs:.2f} s", file=sys.stderr, flush=True)
                if i == sessions:
                    # A returning visitor: a new tab (a new Streamlit session) in the same browser, whose
                    # HTTP cache already holds Streamlit's JavaScript.
                    for j in range(sessions):
                        q = wait_quiet(label=f"returning {j}")
                        tab = context.new_page()
                        t = time.perf_counter()
                        tab.goto(url)
                        tab.locator(MAP_SVG).first.wait_for(state="visible", timeout=60_000)
                        out.append({"session": f"returning {j + 1}", "seconds": time.perf_counter() - t, "marks": {},
                                    **q})
                        tab.close()
                context.close()
        finally:
            browser.close()
    return out


def apptest_times(models: Path, sessions: int, profile_to: Path | None = None) -> list[float]:
    """Seconds of the overview script per new AppTest session (first = first in the process)."""
    os.environ["MOYAMOYA_MODELS_DIR"] = str(models)
    import cProfile

    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.testing.v1 import AppTest

    # The script runs on Streamlit's script thread: profile inside it, for the last session only.
    prof = cProfile.Profile()
    state = {"on": False}
    original = script_runner.ScriptRunner._run_script

    def profiled(self, *args, **kwargs):
        if not state["on"]:
            return original(self, *args, **kwargs)
        prof.enable()
        try:
            return original(self, *args, **kwargs)
        finally:
            prof.disable()

    script_runner.ScriptRunner._run_script = profiled
    times = []
    for i in range(sessions + 1):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        state["on"] = profile_to is not None and i == sessions
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
        assert not at.exception, at.exception
    if profile_to is not None:
        prof.dump_stats(str(profile_to))
    return times


@contextlib.contextmanager
def _serve(app: Path, env: dict, log: Path):
    """``streamlit run app`` on a free local port; yields (url, seconds until healthy)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    t0 = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=app.parent, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.perf_counter() - t0 > 90:
                raise RuntimeError(f"streamlit did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield url, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# The least a Streamlit page with a plotly map can cost in this browser: a sidebar and one scatter of
# 108 points, nothing of ours. Our time to map minus this is what the dashboard itself adds.
FLOOR_APP = """
import numpy as np
import plotly.express as px
import streamlit as st

st.set_page_config(layout="wide")
st.sidebar.write("floor")
rng = np.random.default_rng(0)
fig = px.scatter(x=rng.normal(size=108), y=rng.normal(size=108))
with st.container(key="theme_map"):
    st.plotly_chart(fig, key="map")
"""


def floor_bench(sessions: int) -> tuple[dict, str]:
    work = Path(tempfile.mkdtemp(prefix="moyamoya-floor-"))
    app = work / "floor_app.py"
    app.write_text(FLOOR_APP, encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        with _serve(app, env, work / "server.log") as (url, healthy):
            browser = time_to_map(url, sessions)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    later = [r["seconds"] for r in browser[1:] if isinstance(r["session"], int)]
    returning = [r["seconds"] for r in browser if not isinstance(r["session"], int)]
    text = (f"# Floor: a bare Streamlit page with one plotly scatter ({_dt.datetime.now().isoformat(timespec='seconds')})\n\n"
            f"Fresh browser context, median of {len(later)}: {statistics.median(later):.2f} s; returning visitor "
            f"(new tab): median {statistics.median(returning):.2f} s; first after server start {browser[0]['seconds']:.2f} s.\n")
    return {"healthy_s": healthy, "browser": browser}, text


def first_launch_bench(cold_numba: bool, precompile: bool = False) -> tuple[dict, str]:
    """Seconds from starting the server on an empty models folder until a browser sees the map
    (the default analysis of the seed runs as a background job on the first visit)."""
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="moyamoya-first-"))
    env = {**os.environ, "MOYAMOYA_MODELS_DIR": str(work / "models"), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    if cold_numba:
        env["NUMBA_CACHE_DIR"] = str(work / "numba")  # an empty cache: every kernel compiles again
    install = 0.0
    if precompile:  # what `make venv` does after installing
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "analysis.themes.precompile"], cwd=ROOT, env=env, check=True, capture_output=True)
        install = time.perf_counter() - t
    t0 = time.perf_counter()
    try:
        with _serve(ROOT / "app.py", env, work / "server.log") as (url, healthy):
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ja-JP").new_page()
                    page.goto(url)
                    page.locator(MAP_SVG).first.wait_for(state="visible", timeout=300_000)
                    seconds = time.perf_counter() - t0
                finally:
                    browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    kind = ("numba cache empty" if cold_numba else "numba cache warm") + (
        f", kernels compiled by `python -m analysis.themes.precompile` first ({install:.1f} s)" if precompile else "")
    text = (f"# First launch ({_dt.datetime.now().isoformat(timespec='seconds')})\n\nEmpty models folder, {kind}: "
            f"server healthy after {healthy:.1f} s, map visible {seconds:.1f} s after the server was started.\n")
    return {"cold_numba": cold_numba, "precompile_s": install, "healthy_s": healthy, "map_s": seconds}, text


def dashboard_bench(sessions: int) -> tuple[dict, str]:
    from bench.report import load_text

    work = Path(tempfile.mkdtemp(prefix="moyamoya-dash-"))
    models = work / "models"
    _prepare_models(models)
    env = {**os.environ, "MOYAMOYA_MODELS_DIR": str(models), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    with _serve(ROOT / "app.py", env, work / "server.log") as (url, healthy):
        browser = time_to_map(url, sessions)
    prof = work / "overview.prof"
    code = ("import json, sys\nfrom pathlib import Path\nfrom bench.bench_session import apptest_times\n"
            "print(json.dumps(apptest_times(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))))\n")
    out = subprocess.run([sys.executable, "-c", code, str(models), str(sessions), str(prof)], cwd=ROOT,
                         env={**env}, capture_output=True, text=True)
    script = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else []
    top = ""
    if prof.exists():
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(str(prof), stream=buf).sort_stats("cumulative").print_stats(25)
        top = buf.getvalue()
        from bench.report import RESULTS

        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(prof, RESULTS / "overview-session.prof")
    result = {"healthy_s": healthy, "browser": browser, "apptest": script, "apptest_error": out.stderr[-500:] if out.returncode else "",
              "profile_top": top}
    later = [r["seconds"] for r in browser[1:] if isinstance(r["session"], int)]
    returning = [r["seconds"] for r in browser if not isinstance(r["session"], int)]
    lines = [f"# A new dashboard session on a saved run ({_dt.datetime.now().isoformat(timespec='seconds')})", "",
             f"{os.cpu_count()} CPUs; seed run (108 comments); server healthy after {healthy:.1f} s. Browser: seconds from "
             "`page.goto` until the map's `.main-svg` is visible, each in a fresh browser context (Debian chromium, headless).", "",
             "| session | map visible (s) | HTML (s) | sidebar (s) | map element (s) | JS files / MB | busy / load before |",
             "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in browser:
        m = r.get("marks", {})
        lines.append(f"| {'first after server start' if r['session'] == 0 else r['session']} | {r['seconds']:.2f} | "
                     f"{m.get('html', 0):.2f} | {m.get('sidebar', 0):.2f} | {m.get('map element', 0):.2f} | "
                     f"{r.get('js_files')} / {r.get('js_mb', 0):.1f} | {r['busy']:.2f} / {r['load']} |")
    if later:
        lines += ["", f"Median of the {len(later)} later fresh contexts: {statistics.median(later):.2f} s."]
    if returning:
        lines += [f"Returning visitor (new tab, same browser cache): median {statistics.median(returning):.2f} s."]
    if script:
        lines += ["", f"Overview script alone (AppTest, no browser): first session in the process {script[0]:.2f} s, "
                      f"new sessions after it: median {statistics.median(script[1:]):.2f} s "
                      f"({', '.join(f'{s:.2f}' for s in script[1:])}). Load at end {load_text()}."]
    if top:
        lines += ["", "cProfile of the last new session (cumulative, top entries):", "", "```", top.strip()[:6000], "```"]
    shutil.rmtree(work, ignore_errors=True)
    return result, "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cli", action="store_true", help="fresh vs warm large run from the command line")
    p.add_argument("--dashboard", action="store_true", help="time to map for new dashboard sessions")
    p.add_argument("--floor", action="store_true", help="time to map for a bare Streamlit page with one plotly scatter")
    p.add_argument("--first-launch", action="store_true", help="empty models folder to map, numba cache cold and warm")
    p.add_argument("--size", type=int, default=10_000)
    p.add_argument("--sessions", type=int, default=5)
    args = p.parse_args(argv)
    from bench.report import save

    if args.cli:
        rows, text = cli_bench(args.size)
        save("session-cli", rows, text)
    if args.dashboard:
        result, text = dashboard_bench(args.sessions)
        save("session-dashboard", [result], text)
    if args.floor:
        result, text = floor_bench(args.sessions)
        save("session-floor", [result], text)
    if args.first_launch:
        for cold, pre in ((True, False), (True, True), (False, False)):
            result, text = first_launch_bench(cold, pre)
            save("session-first-launch", [result], text)
            print(text)
    if not (args.cli or args.dashboard or args.floor or args.first_launch):
        p.error("choose --cli, --dashboard, --floor and/or --first-launch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
