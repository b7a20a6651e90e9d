#!/usr/bin/env bash
# Can CUDA 12's ptxas assemble every kernel? (the first step toward a cu12 build, issue 8)
# Lowers each generated kernel translation unit to PTX with the local nvcc (13.x), relabels
# the PTX ISA version to 8.8 (what ptxas 12.9 accepts), assembles it with the ptxas of
# PyPI's nvidia-cuda-nvcc-cu12, and prints one line per config plus the ELF header of the
# first cubin (OS/ABI and ABI version: what decides which drivers load it).
# Usage: scripts/cu12_ptxas_check.sh [BUILD_DIR]   (default build/full, built by dev_build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/full}
WORK=$(mktemp -d)
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip download -q --no-deps -d "$WORK/wheel" "nvidia-cuda-nvcc-cu12==12.9.*"
(cd "$WORK" && mkdir x && cd x && unzip -q ../wheel/*.whl)
PTXAS=$(find "$WORK/x" -name ptxas -type f | head -1)
"$PTXAS" --version | tail -1
ninja -C "$BUILD" -t commands | grep nvcc | grep "generated/fp8_gemm" > "$WORK/cmds.txt"
ok=0; bad=0
while IFS= read -r line; do
  src=$(tr ' ' '\n' <<< "$line" | grep '\.cu$' | head -1)
  name=$(basename "$src" .cu)
  cmd=$(sed "s/-gencode=arch=compute_90a,code=sm_90a/-arch=compute_90a/; s/ -c / -ptx /; s#-o [^ ]*\.cu\.o#-o $WORK/$name.ptx#" <<< "$line")
  (cd "$BUILD" && eval "$cmd")
  sed -i 's/^\.version .*/.version 8.8/' "$WORK/$name.ptx"
  if "$PTXAS" -arch=sm_90a -O3 "$WORK/$name.ptx" -o "$WORK/$name.cubin" 2> "$WORK/$name.log"; then
    ok=$((ok + 1)); echo "OK   $name"
  else
    bad=$((bad + 1)); echo "FAIL $name: $(head -2 "$WORK/$name.log" | tr '\n' ' ')"
  fi
done < "$WORK/cmds.txt"
first=$(ls "$WORK"/*.cubin | head -1)
[ -n "$first" ] && readelf -h "$first" | grep -E "OS/ABI|ABI Version|Flags"
echo "$ok assembled, $bad failed (work files in $WORK)"
[ "$bad" -eq 0 ]
