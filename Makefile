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

# The lab extension (extension/) is built by the pip install above (hatch-jupyter-builder runs
# `jlpm install` + `jlpm build:prod`; jlpm comes from the PyPI package jupyter-builder); this
# rebuilds and re-installs it whenever its sources change after that.
LABEXT_SOURCES := package.json yarn.lock tsconfig.json $(shell find extension/src extension/style extension/schema -type f 2>/dev/null)
labtrack/labextension/package.json: $(LABEXT_SOURCES) | $(VENV)/.installed
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed labtrack/labextension/package.json

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
