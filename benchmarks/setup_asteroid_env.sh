#!/usr/bin/env bash
# Create benchmarks/.venv-asteroid: the only environment where Asteroid 0.7.0 is installed.
#
# Why a separate venv: Asteroid pins/pulls packages (torchaudio, pytorch-lightning, ...) that the
# project's .venv must not carry. torch is installed first and pinned to the CPU build 2.13.0 so
# that pip never resolves an unpinned torch (a multi-GB CUDA download); the project itself is
# installed editable without dependencies (the benchmark only needs trainers/, which needs torch).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=benchmarks/.venv-asteroid
PYTHON=${PYTHON:-python3}
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "import asteroid_filterbanks, torch" 2>/dev/null \
   && "$VENV/bin/pip" show asteroid 2>/dev/null | grep -q '^Version: 0.7.0$'; then
  echo "$VENV is ready"; exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q asteroid==0.7.0 requests "torch==2.13.0"
"$VENV/bin/pip" install -q --no-deps -e .
"$VENV/bin/pip" install -q numpy
echo "$VENV is ready"
