#!/usr/bin/env bash
# Run the test suite and the dense benchmark on a Hopper machine, with the native
# library already built into python/fp8gemm (no build step here).
#
#   scripts/gpu_check.sh OUTDIR
#
# Writes OUTDIR/info.log, OUTDIR/pytest.log, OUTDIR/bench.log and OUTDIR/bench.json,
# then prints a short summary. The benchmark runs even when tests fail; the exit status
# is pytest's if it failed, else the benchmark's. PYTHON overrides the interpreter.
set -u -o pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

PY=${PYTHON:-$(command -v python || command -v python3)}
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# On this machine a skipped GPU test would hide a broken build: make it an error.
export FP8GEMM_REQUIRE_HOPPER=1

"$PY" -m fp8gemm info > "$OUT/info.log" 2>&1
cat "$OUT/info.log"

echo "== pytest (log: $OUT/pytest.log)"
"$PY" -m pytest tests -q -rs > "$OUT/pytest.log" 2>&1
test_rc=$?

echo "== benchmark (log: $OUT/bench.log)"
"$PY" -m fp8gemm.bench --json "$OUT/bench.json" > "$OUT/bench.log" 2>&1
bench_rc=$?

echo
echo "================ summary ================"
grep -E "^_{3,} .+ _{3,}$" "$OUT/pytest.log" | head -20  # failure / error section titles
echo "pytest (exit $test_rc): $(tail -n 1 "$OUT/pytest.log")"
echo "benchmark (exit $bench_rc):"
grep -v -E "^\[[0-9]+/[0-9]+\] " "$OUT/bench.log"

if [ "$test_rc" -ne 0 ]; then
    exit "$test_rc"
fi
exit "$bench_rc"
