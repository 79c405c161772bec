# fabric-nb build plumbing. Everything runs inside ./.venv, created on demand.
#
#   make test         install, run tests/ and validate notebooks/*.ipynb with nbval
#   make test-quick   tests/ without those marked slow (notebooks, real crashes, long properties)
#   make test-min     run tests/ against the lowest versions pyproject.toml promises
#   make demo         install, write sample results, ingest, render notebooks to ./demo/
#   make lab          JupyterLab on notebooks/
#   make notebooks    re-execute the notebooks and store their outputs
#   make lint         ruff check + ruff format --check + mypy over fabric_nb/ and tests/
#   make fuzz         long hypothesis run (HYPOTHESIS_PROFILE=fuzz)
#   make bench        benchmarks/run.py
#   make bench-1m     the store-side figures at 100k and 1M jobs, stores built directly
#   make constraints  re-resolve constraints.txt in a fresh temporary venv
#   make clean        remove .venv, demo/ and caches

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
EXTRAS := notebooks,dev,excel,fleet

# Silences jupyter_core's platformdirs migration warning and opts into the new paths.
export JUPYTER_PLATFORM_DIRS := 1

NOTEBOOKS   := $(sort $(wildcard notebooks/*.ipynb))
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg
LINT_PATHS  := $(wildcard fabric_nb tests benchmarks)
# Extra arguments for every pytest invocation, e.g. `make test PYTEST_ARGS='-x -q'`.
PYTEST_ARGS ?=
# Per-test limit for `make fuzz` (the default in pyproject.toml is 600 s).
FUZZ_TIMEOUT ?= 3600

.PHONY: help install test test-quick test-unit test-notebooks test-min notebooks demo lab lint fuzz bench bench-1m constraints clean

help:
	@sed -n '3,13p' Makefile | sed 's/^# \{0,1\}//'

# --- environment -----------------------------------------------------------

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "fabric-nb needs Python >= 3.11 (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)

# Re-install only when the dependency declarations change.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet --progress-bar off -c constraints.txt -e '.[$(EXTRAS)]'
	@touch $@

install: $(STAMP)

# --- tests -----------------------------------------------------------------

# Both passes always run; the target fails if either failed.
test: $(STAMP)
	@status=0; \
	$(MAKE) test-unit || status=1; \
	$(MAKE) test-notebooks || status=1; \
	exit $$status

test-unit: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) tests

# The edit-test loop: everything but the tests marked slow; `make test` runs them all.
test-quick: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS) tests

test-notebooks: $(STAMP)
ifeq ($(strip $(NOTEBOOKS)),)
	@echo "test-notebooks: no notebooks/*.ipynb yet, nothing to validate"
else
	$(PY) -m pytest $(PYTEST_ARGS) $(NBVAL_FLAGS) $(NOTEBOOKS)
endif

# The test suite in a second venv holding the lowest versions pyproject.toml
# promises (constraints-min.txt: pandas 2.2, matplotlib 3.8, pyarrow 15,
# msgspec 0.19) on Python 3.11, so the honest ranges are proven, not hoped.
# The notebooks are not validated there: their stored outputs are the
# rendering of the pinned versions.
PYTHON_MIN ?= python3.11
VENV_MIN   := .venv-min
STAMP_MIN  := $(VENV_MIN)/.installed

$(STAMP_MIN): pyproject.toml constraints-min.txt
	@$(PYTHON_MIN) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "test-min needs Python 3.11 (set PYTHON_MIN=...)")'
	$(PYTHON_MIN) -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/python -m pip install --quiet --progress-bar off -c constraints-min.txt -e '.[$(EXTRAS)]'
	@touch $@

test-min: $(STAMP_MIN)
	$(VENV_MIN)/bin/python -c 'import pandas, matplotlib, pyarrow, msgspec, sys; print("test-min: Python", sys.version.split()[0], "pandas", pandas.__version__, "matplotlib", matplotlib.__version__, "pyarrow", pyarrow.__version__, "msgspec", msgspec.__version__)'
	$(VENV_MIN)/bin/python -m pytest $(PYTEST_ARGS) tests

# Re-execute the notebooks on the sample history and store their outputs. Only
# "name" is kept in language_info: the rest names whoever ran it last.
notebooks: $(STAMP)
	cd notebooks && env -u FABRIC_DB ../$(VENV)/bin/jupyter nbconvert --to notebook --execute \
		--inplace --ExecutePreprocessor.record_timing=False $(notdir $(NOTEBOOKS))
	$(PY) -c 'import sys, nbformat; [nbformat.write(nb, p) for p in sys.argv[1:] for nb in [nbformat.read(p, as_version=4)] if nb.metadata.update(language_info={"name": "python"}) is None]' $(NOTEBOOKS)

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(VENV)/bin/pytest --timeout=$(FUZZ_TIMEOUT) $(PYTEST_ARGS) tests/reliability tests/test_stored_reads.py -k fuzz

# --- running ---------------------------------------------------------------

demo: $(STAMP)
	$(PY) -m fabric_nb.demo_cli

# Extra arguments for JupyterLab, e.g. `make lab LAB_ARGS='--no-browser --port 8899'`.
# Jupyter refuses to start as root without --allow-root (root is usual in containers).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run.py

bench-1m: $(STAMP)
	$(PY) benchmarks/run.py --built-stores --sizes 100k,1M

# mypy reads its settings (files = fabric_nb) from pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --config-file tests/mypy.ini

# --- maintenance -----------------------------------------------------------

# Resolve the newest versions allowed by pyproject.toml in a throwaway venv
# (ignoring the current constraints.txt) and pin them all.
constraints:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "constraints: resolving in $$tmp/venv"; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --progress-bar off -e '.[$(EXTRAS)]'; \
	pyver=$$("$$tmp/venv/bin/python" -c 'import platform; print(platform.python_version(), platform.system(), platform.machine())'); \
	{ \
	  echo "# Exact pins for the test environment: fabric-nb with the [notebooks,dev,excel,fleet] extras."; \
	  echo "#"; \
	  echo "# pyproject.toml states honest ranges (pandas>=2.2, ...). This file pins every"; \
	  echo "# package of the full install so that a new upstream release (say pandas"; \
	  echo "# changing how DataFrames render to HTML) cannot break the nbval notebook"; \
	  echo "# comparisons overnight. Used as: pip install -c constraints.txt -e '.[notebooks,dev,excel,fleet]'"; \
	  echo "#"; \
	  echo "# Generated by 'make constraints' (pip freeze --exclude-editable of a fresh venv)"; \
	  echo "# on Python $$pyver. Do not edit by hand: regenerate, re-run 'make test',"; \
	  echo "# and refresh notebook outputs if the rendering changed."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable | grep -viE '^(fabric[-_]nb)([ =@]|$$)'; \
	} > constraints.txt.new; \
	mv constraints.txt.new constraints.txt; \
	echo "constraints: wrote constraints.txt ($$(grep -vc '^#' constraints.txt) pins)"

clean:
	rm -rf $(VENV) $(VENV_MIN) demo build dist .pytest_cache .hypothesis .ruff_cache .mypy_cache .benchmarks benchmarks/results
	rm -rf *.egg-info
	find . -path ./.git -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -print0 | xargs -0 rm -rf
