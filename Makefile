# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv and install the project from pyproject.toml first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= out/demo

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench,cluster,web]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -rs  # -rs: says why tests were skipped (e.g. no system Chromium for browser tests)

demo: $(STAMP)
	$(PY) examples/demo.py --out $(DEMO_OUT) $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) benchmarks/render.py
	$(PY) benchmarks/vectorize.py
	$(PY) benchmarks/edit.py

clean:
	rm -rf $(VENV) out .pytest_cache
