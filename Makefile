# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# pytest processes for `make test` (pytest-xdist): one per core by default; WORKERS=0 runs in one.
WORKERS ?= auto
EXAMPLE := examples/kestrel

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	mkdir -p var
	test -f var/master.key || $(BIN)/troth keys create --file var/master.key
	$(BIN)/troth publish $(EXAMPLE)/history/*.yaml --db sqlite:///var/troth.db
	$(BIN)/troth serve --declaration $(EXAMPLE)/privacy.yaml --db sqlite:///var/troth.db \
		--host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check troth tests bench
	$(BIN)/ruff format --check troth tests bench

test: $(VENV)/.installed-test
	$(BIN)/ruff check troth tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n $(WORKERS)

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var build *.egg-info
