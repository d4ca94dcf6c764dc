#!/usr/bin/env bash
# Create .venv-bench: the environment of the sample-efficiency benchmark's external peers
# (SMAC3, DEHB, Syne Tune: the `bench` extra of pyproject.toml).
#
# Why a separate venv: DEHB 0.1.2 requires numpy < 2 and the project's .venv has numpy 2, so
# installing the peers there would downgrade numpy under every other engineer's tests. torch is
# installed first, pinned to the CPU build 2.13.0 (from this machine's disk), so that pip never
# resolves an unpinned torch (a multi-GB CUDA download); then the project with its `bench` extra.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-bench
PYTHON=${PYTHON:-python3}
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "import smac, dehb, syne_tune, orchestrator" 2>/dev/null; then
  echo "$VENV is ready"; exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -e ".[bench]" "torch==2.13.0"
"$VENV/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "$VENV is ready"
