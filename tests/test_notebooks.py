"""The analyst notebooks run top to bottom offline, and the public API they use stays importable.

Each notebook is executed with nbclient in a fresh kernel of *this* interpreter: the test writes its
own kernel spec (argv = sys.executable) into a temporary JUPYTER_PATH, so it does not depend on a
user-level ``python3`` kernel that may point at another Python. The kernel inherits
MOYAMOYA_MODELS_DIR pointing at a temporary folder, so the notebooks build their runs from nothing,
as on a fresh machine, and never touch the developer's models/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOK_FILES = ["01_rerun_on_seed.ipynb", "02_own_file_and_sweep.ipynb"]
KERNEL = "moyamoya-test-python"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A kernel spec for this interpreter in a temporary JUPYTER_PATH, and a fresh models folder."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "moyamoya test kernel",
        "language": "python",
    }))
    models = tmp_path_factory.mktemp("notebook-models")
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(root))
    mp.setenv("MOYAMOYA_MODELS_DIR", str(models))
    mp.setenv("IPYTHONDIR", str(root / "ipython"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield models
    mp.undo()


def execute(name: str) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=600, resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return nb


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("name", NOTEBOOK_FILES)
def test_notebooks_are_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert any("\u3041" <= ch <= "\u30ff" for c in nb.cells if c.cell_type == "markdown" for ch in c.source)


@pytest.mark.slow
def test_01_rerun_on_seed(kernel_env):
    nb = execute("01_rerun_on_seed.ipynb")
    text = outputs_text(nb)
    assert "108 件のコメント" in text and "平均 ARI" in text
    runs = sorted(p for p in (kernel_env / "runs").iterdir() if not p.name.startswith("."))
    assert len(runs) == 2  # the default run and the one the notebook saved
    saved = [p for p in runs if "テーマ最小6件" in (p / "manifest.json").read_text(encoding="utf-8")]
    assert len(saved) == 1
    clusters = pd.read_csv(saved[0] / "clusters.csv", encoding="utf-8-sig")
    assert clusters["stability"].between(0, 1).all()
    assert json.loads((saved[0] / "manifest.json").read_text(encoding="utf-8"))["config"]["hdbscan"]["min_cluster_size"] == 6
    sankey = [o for c in nb.cells for o in c.get("outputs", []) if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert sankey and sankey[0]["data"]["application/vnd.plotly.v1+json"]["data"][0]["type"] == "sankey"


@pytest.mark.slow
def test_02_own_file_and_sweep(kernel_env):
    nb = execute("02_own_file_and_sweep.ipynb")
    text = outputs_text(nb)
    assert "73行を読み込み、72件のコメントを取り込みました" in text
    assert "新しい話題の候補" in text and "件を当てはめました" in text
    assert "'embedding': True, 'umap': True" in text  # the chosen setting reused the sweep's caches
    sweep_cell = next(c for c in nb.cells if c.cell_type == "code" and "mm.sweep(" in c.source)
    result = next(o for o in sweep_cell.outputs if o.output_type == "execute_result")
    shown = result["data"]["text/plain"]
    assert "stability_ari" in shown and "\n11 " in shown  # 2 × 3 × 2 = 12 settings
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in (kernel_env / "runs").glob("*/manifest.json")]
    mine = [m for m in manifests if m["input"].get("kind") == "file"]
    assert len(mine) == 1 and mine[0]["input"]["n_rows"] == 72


def test_public_api_is_lazy_and_complete():
    """``import analysis`` stays cheap (no UMAP, torch or Streamlit) and every exported name resolves."""
    code = (
        "import sys, analysis\n"
        "heavy = ('umap', 'hdbscan', 'torch', 'streamlit', 'sentence_transformers')\n"
        "assert not [m for m in heavy if m in sys.modules], sys.modules.keys()\n"
        "missing = [n for n in analysis.__all__ if not hasattr(analysis, n)]\n"
        "assert not missing, missing\n"
        "assert not [m for m in ('torch', 'streamlit') if m in sys.modules]\n"
        "import analysis.explore.tuning\n"
        "assert callable(analysis.sweep) and callable(analysis.compare_runs)\n"
        "print('ok')\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_no_sys_path_edits_anywhere():
    """The project is an installed package (pip install -e .): nothing edits sys.path to find it."""
    root = Path(__file__).resolve().parent.parent
    offenders = []
    for f in [*root.glob("analysis/*.py"), *root.glob("ui/*.py"), *root.glob("app_pages/*.py"), *root.glob("bench/*.py"),
              *root.glob("tests/*.py"), root / "app.py", *root.glob("notebooks/*.ipynb")]:
        if f.name == "test_notebooks.py":
            continue
        text = f.read_text(encoding="utf-8")
        if "sys.path.insert" in text or "sys.path.append" in text:
            offenders.append(f.name)
    assert offenders == [], offenders


def test_analysis_has_no_import_cycle_and_never_imports_streamlit():
    """Walk the imports between analysis modules (module level and inside functions)."""
    import ast

    pkg = Path(__file__).resolve().parent.parent / "analysis"
    graph: dict[str, set[str]] = {}
    for f in pkg.glob("*.py"):
        mod = f.stem
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    deps.add(node.module.split(".")[0])
                elif node.level == 1:
                    deps.update(a.name for a in node.names)
                elif node.module and node.module.startswith("analysis."):
                    deps.add(node.module.split(".")[1])
                assert not (node.module or "").startswith("streamlit"), f"{mod} imports streamlit"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("streamlit") for a in node.names), f"{mod} imports streamlit"
        graph[mod] = {d for d in deps if d != mod and (pkg / f"{d}.py").exists()}
    graph.pop("__init__", None)
    graph.pop("__main__", None)
    seen, stack, cycles = set(), [], []

    def visit(m: str) -> None:
        if m in stack:
            cycles.append(stack[stack.index(m):] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            visit(d)
        stack.pop()

    for m in sorted(graph):
        visit(m)
    assert cycles == [], cycles
