"""The README's main job on an H100: ``python -m fp8gemm.bench --quick`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from gpu_utils import requires_hopper

pytestmark = [pytest.mark.gpu, requires_hopper]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quick_bench_end_to_end_under_a_minute(tmp_path) -> None:
    report_path = tmp_path / "quick.json"
    import fp8gemm

    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fp8gemm.__file__)))
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fp8gemm.bench", "--quick", "--json", str(report_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert elapsed < 60, f"--quick took {elapsed:.0f} s"
    report = json.loads(report_path.read_text())
    assert report["self_check"]["ok"] and len(report["self_check"]["cases"]) >= 8
    for family in ("dense", "grouped"):
        rows = report["families"][family]["rows"]
        assert rows and all(r.get("fp8gemm_us") and r.get("floor_us") for r in rows), family
    assert "error" not in report["cold_start"], report["cold_start"]
    assert "== dense (gemm_nt)" in proc.stdout and "== grouped" in proc.stdout
