# The two commands of the README:  `make demo`  and  `make test`.
# Both create .venv on first use and install what they need (torch first: the CPU build 2.13.0
# when the machine has no NVIDIA GPU, so pip never pulls gigabytes of CUDA wheels).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SWEEP  ?= search_spaces/quickstart.yaml
# --durations: CI prints the slowest tests (the suite must stay under 20 minutes)
PYTEST_ARGS ?= --durations=15

.PHONY: demo test venv lint clean bench-peers

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.torch: | $(BIN)/python
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  echo "NVIDIA GPU found: installing a CUDA build of torch"; $(BIN)/pip install -q "torch>=2.3,<3"; \
	else \
	  echo "no NVIDIA GPU: installing the CPU build torch==2.13.0"; $(BIN)/pip install -q torch==2.13.0; \
	fi
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

## Run the main job: the whole progressive pipeline on the built-in demo corpus, local Ray, SQLite.
demo: venv
	$(BIN)/rungs run $(SWEEP)

## Run every check: lint, formatting, types, import contracts, then the whole test suite with a
## throwaway PostgreSQL and a Chromium (found, or installed when possible: tests/services.py).
test: lint
	$(BIN)/mypy orchestrator stages trainers
	$(BIN)/lint-imports --no-logo
	$(BIN)/python tests/services.py $(PYTEST_ARGS)

## The quick subset: lint and formatting.
lint: venv
	$(BIN)/ruff check orchestrator trainers stages tests benchmarks
	$(BIN)/ruff format --check orchestrator trainers stages tests benchmarks

## The sample-efficiency benchmark's external peers (SMAC3, DEHB, Syne Tune) in their own venv,
## .venv-bench (DEHB needs numpy < 2): a smoke run that fails unless each peer really ran.
bench-peers:
	bash benchmarks/setup_bench_env.sh
	.venv-bench/bin/python benchmarks/sample_efficiency.py --quick --jobs 1 \
	  --strategies progressive,flat,smac,dehb,syne-tune \
	  --out test-artifacts/peers_quick.md --plot test-artifacts/peers_quick.png

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache .grimp_cache
