# Two commands on a fresh clone: `make demo` and `make test`. Everything else builds on them.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
STATE := .metering
export DAGSTER_HOME := $(CURDIR)/$(STATE)/dagster
export GX_ANALYTICS_ENABLED := false

.PHONY: install prepare dist demo lint test dev bench soak clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The dbt manifest the Dagster definitions load; re-parsed only when the dbt project changed.
prepare: install
	$(PY) -m metering_pipeline.dbt.prepare --if-stale

# Wheel and sdist in dist/: the runtime package with its data, the dbt project and its
# manifest included (the build refuses a missing or stale manifest, hence prepare first).
dist: prepare
	$(VENV)/bin/uv build --out-dir dist

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: prepare $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m metering_pipeline.demo

# ruff, configured in pyproject.toml: lint rules and the formatter; `make test` runs it first.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# One pytest worker per core (pytest-xdist): every test makes its own chDB directory, bucket and
# Dagster instance, so they run side by side. `$(PY) -m pytest FILE` runs one file in one process.
test: lint prepare
	$(PY) -m pytest -n auto

# Benchmarks (not part of make test): writes benchmarks/RESULTS.md. `make bench ARGS=--quick` for a smoke run.
bench: prepare
	$(PY) -m benchmarks.run $(ARGS)

# Longer hardening run: crash-anywhere reruns, fault rates, 1M fuzzed lines; prints the figures.
soak: prepare
	$(PY) -m soak.run $(ARGS)

dev: prepare $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml

clean:
	rm -rf $(STATE)
