# The two commands of the README, plus benchmarks. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: lab test bench mutate install install-dev system-deps postgres clean

# Two installs, two stamps: `make lab` installs labtrack and what its example needs (the
# [examples] extra); `make test` adds the test tools (the [dev] extra) on top, without
# re-installing labtrack. No Node.js needed: hatch_build.py takes node from PyPI when PATH has none.
$(VENV)/.installed-lab: pyproject.toml hatch_build.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[examples]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-lab
	$(PY) scripts/extra-requirements.py dev > $(VENV)/dev-requirements.txt
	$(PY) -m pip install -q -r $(VENV)/dev-requirements.txt
	touch $@

# The lab extension (extension/) is built by the pip install above (hatch-jupyter-builder runs
# `jlpm install` + `jlpm build:prod`; jlpm comes from the PyPI package jupyter-builder); this
# rebuilds and re-installs it whenever its sources change after that.
LABEXT_SOURCES := package.json yarn.lock tsconfig.json $(shell find extension/src extension/style extension/schema -type f 2>/dev/null)
labtrack/labextension/package.json: $(LABEXT_SOURCES) | $(VENV)/.installed-lab
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed-lab labtrack/labextension/package.json

install-dev: install $(VENV)/.installed-dev

system-deps:
	scripts/system-deps.sh

# This checkout's test PostgreSQL, left running for running tests by hand
# (LABTRACK_TEST_PG_URL=$$(scripts/postgres.sh start)); `scripts/postgres.sh stop` stops it.
postgres:
	scripts/postgres.sh start

# with-postgres.sh starts this checkout's PostgreSQL (own folder, free port) unless it runs
# already, and stops what it started when the suite ends, pass or fail. test-suite.sh runs the
# tests on two workers, then the `serial` ones alone (LABTRACK_TEST_WORKERS sets the count).
test: install-dev system-deps
	scripts/with-postgres.sh scripts/test-suite.sh $(PY)

# The per-user workspace (LABTRACK_HOME/data/workspace or the platform's data folder), so the
# checkout's own examples/ is never edited by a run.
# LAB_ARGS passes options on, e.g. `make lab LAB_ARGS="--no-browser --port 8899"`.
lab: install
	$(VENV)/bin/labtrack lab --notebook-dir "$$($(PY) -c 'from labtrack import paths; print(paths.data_dir() / "workspace")')" $(LAB_ARGS)

bench: install-dev
	scripts/with-postgres.sh $(PY) -m bench

# Mutation testing (cosmic-ray, the [mutate] extra) of the ingest, downsampling, auth and proxy code:
# slow, so outside `make test` and CI. MUTATE_SITES (mutants per group, default 30) and MUTATE_CAP
# (seconds of mutant runs per group, default 600) bound it; MUTATE_GROUPS picks groups. Survivors: bench/results/mutate.md.
mutate: install-dev
	$(PY) -m pip install -q $$($(PY) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['mutate']))")
	$(PY) scripts/mutate.py $(MUTATE_GROUPS)

clean:
	scripts/postgres.sh remove
	rm -rf $(VENV) node_modules labtrack/labextension extension/lib
