# make run   — create .venv from nothing (if needed) and open the dashboard on the seed
# make test  — create .venv (if needed) and run the whole test suite (+ numeric tests on a 2nd CPU target)
# make cli   — run the pipeline on the seed from the command line
# make bench — pipeline benchmark (not part of the tests)
# make notebook — install a pinned JupyterLab into .venv (once) and open notebooks/

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
# JupyterLab is for analysts only: not in requirements.txt, so neither the app nor CI installs it.
JUPYTERLAB ?= 4.6.6

.PHONY: run test cli bench notebook venv clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(PY) -m analysis.themes.precompile
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.address 127.0.0.1 --browser.gatherUsageStats false

# The whole suite, then the floating-point-sensitive tests again with numba compiling for another
# CPU target (haswell), to prove they test what they promise rather than this machine's numbers.
test: venv
	$(PY) -m pytest -q
	@if [ "$$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then \
	  echo "== numeric tests again with NUMBA_CPU_NAME=haswell =="; \
	  NUMBA_CPU_NAME=haswell $(PY) -m pytest -q -m numeric -p no:cacheprovider; \
	fi

cli: venv
	$(PY) -m analysis run

bench: venv
	$(PY) -m bench.bench_pipeline

$(VENV)/.jupyterlab-$(JUPYTERLAB): $(VENV)/.installed
	$(PY) -m pip install --quiet jupyterlab==$(JUPYTERLAB)
	touch $@

# Jupyter refuses to run as root unless told; the machines here log in as root.
notebook: $(VENV)/.jupyterlab-$(JUPYTERLAB)
	$(PY) -m jupyter lab --notebook-dir=notebooks --no-browser --ip 127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf $(VENV) models/cache models/runs test-output
