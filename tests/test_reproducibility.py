"""Same data, same settings, same seed: the same themes, whatever the process's thread counts.

Each run is a fresh process, as a background job is, so the numeric libraries are pinned by
``import analysis`` (analysis/themes/numerics.py). The corpus has more than 500 comments so the
block-parallel UMAP layout runs; thread counts of numba and OpenBLAS differ between the runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import hashlib, json, sys, tempfile
import analysis
from analysis.config import PipelineConfig
from analysis.ingest.seed import load_seed
from analysis.pipeline import run_pipeline
seed = load_seed()
rows = []
for k in range(6):  # 648 comments: the seed six times, each copy with its own wording at the end
    part = seed.copy()
    part["text_norm"] = part["text_norm"] + f" （{k}回目の回答）"
    part["comment_id"] = [f"{c}-{k}" for c in part["comment_id"]]
    rows.append(part)
import pandas as pd
comments = pd.concat(rows, ignore_index=True)
run = run_pipeline(comments, PipelineConfig().replace(**{"embedding.backend": "sudachi"}), cache_dir=tempfile.mkdtemp())
labels = run.assignments["cluster"].tolist()
xy = run.assignments[["x", "y"]].to_numpy().round(6).tobytes()
print(json.dumps({"labels": hashlib.sha256(str(labels).encode()).hexdigest(), "xy": hashlib.sha256(xy).hexdigest(),
                  "n_clusters": run.n_clusters, "numerics": run.manifest["numerics"]}))
"""


def _run(env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_"))}
    env.update(env_extra)
    p = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_thread_counts_never_change_the_themes():
    one = _run({"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    two = _run({"NUMBA_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"})
    assert one["labels"] == two["labels"] and one["xy"] == two["xy"], (one, two)
    assert one["n_clusters"] >= 5
    if os.environ.get("NUMBA_CPU_NAME", "generic") == "generic":
        assert one["numerics"]["pinned"] is True


SEED_SCRIPT = """
import hashlib, json, tempfile
import analysis
from analysis.config import PipelineConfig
from analysis.ingest.seed import load_seed
from analysis.pipeline import run_pipeline
run = run_pipeline(load_seed(), PipelineConfig(), cache_dir=tempfile.mkdtemp())
print(json.dumps({"labels": hashlib.sha256(str(run.assignments["cluster"].tolist()).encode()).hexdigest(),
                  "names": run.clusters["label"].tolist(), "noise": float(run.manifest["quality"]["noise_share"])}))
"""


@pytest.mark.slow
def test_the_seed_default_run_is_the_same_in_every_process():
    """What every first visitor sees: two fresh processes (two background jobs) agree exactly."""
    runs = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        p = subprocess.run([sys.executable, "-c", SEED_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=600)
        assert p.returncode == 0, p.stderr[-2000:]
        runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1]
