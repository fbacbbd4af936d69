# The two commands of the README: `make report` (the main job) and `make test`.
# Each sets up .venv/ (Python >= 3.12, found automatically) on first use.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: setup report test test-fast test-heavy test-slow lint models benchmarks backtests clean

setup:
	@scripts/bootstrap.sh test,jax,dask

report: setup
	@scripts/main-job.sh

# make test: the fast tier (pure functions, tables, input errors; about a minute), then the heavy one (fits,
# reports, planner comparisons); the slow tier (long refits) is make test-slow, which CI also runs.
test: test-fast test-heavy

test-fast: setup
	$(VENV)/python -m pytest -q -m "not slow and not heavy"

test-heavy: setup
	@scripts/ensure-chromium.sh
	$(VENV)/python -m pytest -q -m "heavy and not slow"

test-slow: setup
	@scripts/ensure-chromium.sh
	$(VENV)/python -m pytest -q -m slow

lint: setup
	$(VENV)/ruff check bayeslaw tests benchmarks scripts
	$(VENV)/python -m pytest -q -p no:cacheprovider tests/test_layers.py tests/test_docs.py

models: setup
	@scripts/rebuild-models.sh

backtests: setup
	@scripts/backtests.sh

benchmarks: setup
	@scripts/bootstrap.sh test,jax,dask,bench
	$(VENV)/python benchmarks/startup.py
	$(VENV)/python benchmarks/cli_fit.py
	$(VENV)/python benchmarks/defaults.py
	$(VENV)/python benchmarks/run.py
	$(VENV)/python benchmarks/joint.py
	$(VENV)/python benchmarks/sbc.py
	JAX_ENABLE_X64=1 $(VENV)/python benchmarks/planner.py --jax
	$(VENV)/python benchmarks/extrapolation.py
	$(VENV)/python benchmarks/pilot.py
	$(VENV)/python benchmarks/pilot_replay.py
	$(VENV)/python benchmarks/serving.py
	$(VENV)/python benchmarks/predict_stream.py
