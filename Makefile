# The two commands of the README, plus benchmarks. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PG_URL = $(shell scripts/postgres.sh url)

.PHONY: lab test bench install system-deps postgres clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

system-deps:
	scripts/system-deps.sh

postgres:
	scripts/postgres.sh start

test: install system-deps postgres
	LABTRACK_TEST_PG_URL=$(PG_URL) $(PY) -m pytest tests

lab: install
	$(VENV)/bin/labtrack lab

bench: install postgres
	LABTRACK_TEST_PG_URL=$(PG_URL) $(PY) -m bench

clean:
	rm -rf $(VENV) node_modules labtrack/labextension extension/lib
