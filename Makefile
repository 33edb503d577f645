# The two commands a fresh machine needs: `make run` and `make test`. Everything else is here
# for the people who change riskscore. Every target creates .venv and installs into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

DEFAULT_MODEL := model_artifacts/default
DEFAULT_HISTORY := data/default-history.parquet

.PHONY: install run test lint format bench bench-offline model lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[training,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# The service in development mode: an embedded Redis when RISKSCORE_REDIS_URL is unset, the
# development API key accepted (README), the default model and policy.
run: $(STAMP)
	$(BIN)/riskscore serve --dev

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

test: lint
	$(BIN)/pytest
	@command -v chromium >/dev/null 2>&1 || echo "make test: no Chromium found, so the console's browser tests were skipped (apt-get install chromium)"

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# /v1/score against /v1/echo on one server (2 workers, a private warmed Redis), in one run: max
# throughput of each and their ratio, latency at 1 connection and at half the maximum rate;
# then the feature store micro-benchmark. A few minutes; reports in reports/bench/.
bench: $(STAMP)
	$(BIN)/python -m load_tests.bench

# Offline and feature-store benchmarks (`make bench`, the HTTP one, comes with the service).
bench-offline: $(STAMP)
	$(BIN)/python benchmarks/run_offline.py

# Rebuild the committed default model from a seeded simulated history (docs/training.md).
model: $(STAMP)
	$(BIN)/riskscore simulate --out $(DEFAULT_HISTORY) --transactions 400000 --days 120 --seed 7
	$(BIN)/riskscore train --data $(DEFAULT_HISTORY) --out $(DEFAULT_MODEL)

# Pin the service image's runtime dependencies (no training stack) in requirements/runtime.lock.
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet .
	{ echo "# Runtime dependencies of the service image, pinned. Regenerate with: make lock"; \
	  build/lock-venv/bin/python -m pip freeze --exclude riskscore; } > requirements/runtime.lock
	rm -rf build/lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
