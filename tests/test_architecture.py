"""The shape of analysis/: stage packages, one direction of imports, no cycle, modules one can read in a sitting.

Layers, lowest first (a module may import its own layer's package and anything below, never above):

==========  =====================================================================================
foundation  ``schema``, ``errors``, ``config``, ``storage``, ``progress``
text        ``analysis.text``: Japanese tokens, terms, word search
ingest      ``analysis.ingest`` and ``analysis.themes`` sit side by side: neither imports the other
themes
store       ``analysis.store``: saved runs and what is written beside them
explore     ``analysis.explore`` and ``analysis.assist``: questions asked of saved runs
report      ``analysis.report``: reports, exports, figures
top         ``pipeline``, ``__main__``, ``__init__``, ``analysis.cli``: orchestration, may import anything
==========  =====================================================================================

Imports inside functions count as much as those at the top of a module: a deferred import is still a
dependency (and was the usual way cycles used to hide).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "analysis"

FOUNDATION = {"schema", "errors", "config", "storage", "progress"}
LAYER = {"foundation": 0, "text": 1, "ingest": 2, "themes": 2, "store": 3, "explore": 4, "assist": 4, "report": 5,
         "top": 9}
#: Packages of the same layer that must still not import each other.
APART = {frozenset({"ingest", "themes"}), frozenset({"explore", "assist"})}
MAX_LINES = 450
MAX_LOOSE = 8  # analysis/*.py, __init__ included


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["analysis", *parts])] = f
    return out


def _group(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "top"
    if len(parts) == 2 and (PKG / f"{parts[1]}.py").exists():
        return "foundation" if parts[1] in FOUNDATION else "top"
    return parts[1]


def _imports(module: str, path: Path) -> set[str]:
    """Project modules ``module`` imports (resolved to the longest existing module name)."""
    mods = _modules()
    is_pkg = path.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                mod = ".".join(anchor + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [f"{mod}.{a.name}" for a in node.names] + [mod]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for n in names:
            while n and n not in mods:
                n = n.rpartition(".")[0]
            if n and n != module and n != "analysis":
                out.add(n)
    return out


def _graph() -> dict[str, set[str]]:
    return {m: _imports(m, p) for m, p in _modules().items()}


def test_imports_run_one_way():
    wrong = []
    for m, deps in _graph().items():
        g = _group(m)
        for d in deps:
            h = _group(d)
            if g == h or g == "top":
                continue
            if LAYER[h] > LAYER[g] or (LAYER[h] == LAYER[g]) or frozenset({g, h}) in APART:
                wrong.append(f"{m} ({g}) imports {d} ({h})")
    assert wrong == [], "\n".join(sorted(wrong))


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for d in sorted(graph.get(n, ())):
            if d.rsplit(".", 1)[0] == n:  # a package's own __init__ importing its submodule is not a cycle
                continue
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d] if d in stack else [n, d])
            elif d not in state:
                visit(d, stack + [d])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    assert cycles == [], cycles


def test_analysis_never_imports_streamlit_or_the_dashboard():
    bad = []
    for f in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            bad += [f"{f.relative_to(ROOT)}: {m}" for m in mods if m.split(".")[0] in ("streamlit", "ui", "app_pages")]
    assert bad == []


def test_stage_packages_and_small_modules():
    loose = sorted(p.name for p in PKG.glob("*.py"))
    assert len(loose) <= MAX_LOOSE, loose
    packages = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").exists())
    assert {"ingest", "themes", "explore", "store", "report", "text"} <= set(packages), packages
    long = {str(f.relative_to(ROOT)): n for f in PKG.rglob("*.py")
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, long


def test_each_package_says_what_it_is_and_what_it_may_import():
    for init in PKG.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert doc and "May import" in doc, init


def test_the_public_api_stays_importable():
    import analysis as mm

    for name in mm.__all__:
        assert getattr(mm, name) is not None, name
    for name in ("run_pipeline", "load_run", "load_seed", "load_file", "PipelineConfig", "run_and_save", "sweep",
                 "compare_runs", "category_reach", "search_by_meaning", "theme_map", "mask_comments"):
        assert name in mm.__all__


def test_project_paths_point_at_the_project_not_into_the_package():
    # modules moved into subpackages must still find the project's models/ and data/
    from analysis.schema import DATA_DIR
    from analysis.store.run_object import PROJECT_DIR

    assert (PROJECT_DIR / "app.py").is_file() and (PROJECT_DIR / "analysis" / "__init__.py").is_file()
    assert (DATA_DIR / "renkei_moyamoya_2022.md").is_file() or any(DATA_DIR.glob("*.md"))
    assert DATA_DIR.parent == PROJECT_DIR
