"""The source tree itself: every Python file parses, no merge left its markers, and every import of a
project module names something that exists (bench scripts and notebooks are not run by the suite, so
a broken import there would otherwise only show when someone needs the script)."""

from __future__ import annotations

import ast
import importlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("analysis", "ui", "bench")


def _python_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for folder in (*PACKAGES, "app_pages", "tests"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def _tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout (an unpacked archive): look at the source folders
        return _python_files() + [ROOT / "README.md", ROOT / "Makefile"]
    keep = (".py", ".md", ".toml", ".txt", ".ipynb", ".cfg", ".ini", ".yml", ".yaml", ".sh", "")
    return [ROOT / p for p in out.stdout.splitlines() if Path(p).suffix in keep and (ROOT / p).is_file()]


def test_every_python_file_parses():
    bad = []
    for f in _python_files():
        try:
            ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        except SyntaxError as exc:
            bad.append(f"{f.relative_to(ROOT)}:{exc.lineno}: {exc.msg}")
    assert bad == [], bad


def test_no_merge_conflict_markers():
    found = []
    for f in _tracked_text_files():
        try:
            lines = f.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        for i, line in enumerate(lines, 1):
            if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "=======":
                found.append(f"{f.relative_to(ROOT)}:{i}")
    assert found == [], found


def test_project_imports_name_modules_and_attributes_that_exist():
    """``from analysis.x import y`` / ``from bench.x import y`` / ``import analysis.x`` everywhere
    (module level and inside functions) resolve; bench scripts never import a sibling by bare name
    (``from synthetic import …`` only works with a sys.path edit, which the tree has none of)."""
    local_names = {p.stem for p in (ROOT / "bench").glob("*.py")}
    problems = []
    for f in _python_files():
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top = node.module.split(".")[0]
                if f.parent.name == "bench" and top in local_names:
                    problems.append(f"{f.relative_to(ROOT)}: bare 'from {node.module} import'")
                    continue
                if top not in PACKAGES:
                    continue
                try:
                    mod = importlib.import_module(node.module)
                except ModuleNotFoundError as exc:
                    if exc.name and exc.name.split(".")[0] in PACKAGES:
                        problems.append(f"{f.relative_to(ROOT)}: no module {node.module}")
                    continue  # an optional third-party dependency (e.g. BERTopic for its bench)
                for alias in node.names:
                    if alias.name == "*" or hasattr(mod, alias.name):
                        continue
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ModuleNotFoundError:
                        problems.append(f"{f.relative_to(ROOT)}: {node.module} has no {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    if f.parent.name == "bench" and top in local_names:
                        problems.append(f"{f.relative_to(ROOT)}: bare 'import {alias.name}'")
                    elif top in PACKAGES and top != "ui":
                        try:
                            importlib.import_module(alias.name)
                        except ModuleNotFoundError:
                            problems.append(f"{f.relative_to(ROOT)}: no module {alias.name}")
    assert problems == [], problems
