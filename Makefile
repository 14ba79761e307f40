# radval: two commands do everything on a fresh machine.
#   make demo   builds .venv if missing, generates the built-in study, runs the pipeline, renders the report
#   make test   builds .venv if missing and runs the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.radval-installed
DEMO_OUT ?= demo-output

.PHONY: env test lint demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q numpy
	# PyPI's pyradiomics 3.1.0 does not build; 3.0.1 builds from source once numpy is present.
	$(PY) -m pip install -q --no-build-isolation pyradiomics==3.0.1
	# The pinned CPU build of torch (a bare `torch` would pull a multi-GB CUDA build).
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[all,test]'
	touch $(STAMP)

env: $(STAMP)

test: env
	$(PY) -m pytest -q -p no:cacheprovider

lint: env
	$(VENV)/bin/ruff check src
	$(VENV)/bin/mypy src

demo: env
	$(VENV)/bin/radval demo --out $(DEMO_OUT)

bench: env
	$(PY) analysis/benchmarks/run_all.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
