# Two commands on a fresh machine: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
FLASK   := $(BIN)/flask --app wsgi
HOST    ?= 127.0.0.1
PORT    ?= 5000
STAMP   := $(VENV)/.installed

.PHONY: run serve test test-fast lint bench clean system-deps install

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(FLASK) kb init
	@echo ""
	@echo "Open http://$(HOST):$(PORT)/  (staff: http://$(HOST):$(PORT)/login)"
	@echo "Sign in as 'admin' with the password printed above on first run;"
	@echo "lost it? $(FLASK) users passwd admin"
	@echo ""
	$(FLASK) run --host $(HOST) --port $(PORT)

serve: $(STAMP)
	$(FLASK) kb init --no-admin
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

system-deps:
	bash tools/system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python bench/load.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
