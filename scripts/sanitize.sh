#!/usr/bin/env bash
# compute-sanitizer memcheck, racecheck and synccheck over scripts/sanitize_set.py, on a
# Hopper machine with the library built. Usage: scripts/sanitize.sh OUTDIR
set -u -o pipefail
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
rc=0
for tool in memcheck racecheck synccheck; do
  compute-sanitizer --tool "$tool" --error-exitcode 99 --target-processes all \
    python3 scripts/sanitize_set.py > "$OUT/sanitize_$tool.log" 2>&1
  r=$?
  echo "$tool: exit $r; $(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitize_$tool.log" | tail -1)"
  [ $r -ne 0 ] && rc=$r
done
exit $rc
