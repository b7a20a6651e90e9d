#!/usr/bin/env bash
# Fast local build for the edit-build-test loop: the reduced kernel grid by default
# (FP8GEMM_GRID=full for everything), straight into python/fp8gemm/_C.so, so that
# `PYTHONPATH=python` imports the fresh build. Usage: scripts/dev_build.sh [full|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
GRID="${1:-${FP8GEMM_GRID:-dev}}"
PY="${PYTHON:-.venv/bin/python}"
cmake -S . -B "build/$GRID" -G Ninja -DFP8GEMM_GRID="$GRID" -DPython3_EXECUTABLE="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" >/dev/null
ninja -C "build/$GRID"
cp "build/$GRID/_C.so" python/fp8gemm/_C.so
echo "built python/fp8gemm/_C.so ($GRID grid)"
