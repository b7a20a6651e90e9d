#!/usr/bin/env bash
# Fast local build for the edit-build-test loop: the reduced kernel grid by default
# (FP8GEMM_GRID=full for everything), straight into python/fp8gemm/_C.so, so that
# `PYTHONPATH=python` imports the fresh build. FP8GEMM_CUBIN=cu12 assembles the cubins with
# CUDA 12.9's ptxas (build/<grid>-cu12). Usage: scripts/dev_build.sh [full|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
GRID="${1:-${FP8GEMM_GRID:-dev}}"
CUBIN="${FP8GEMM_CUBIN:-cu13}"
BUILD="build/$GRID"
[ "$CUBIN" = cu13 ] || BUILD="build/$GRID-$CUBIN"
PY="${PYTHON:-.venv/bin/python}"
cmake -S . -B "$BUILD" -G Ninja -DFP8GEMM_GRID="$GRID" -DFP8GEMM_CUBIN="$CUBIN" \
  -DPython3_EXECUTABLE="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" >/dev/null
ninja -C "$BUILD"
cp "$BUILD/_C.so" python/fp8gemm/_C.so
echo "built python/fp8gemm/_C.so ($GRID grid, $CUBIN cubins)"
