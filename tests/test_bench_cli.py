"""CPU tests of the command-line entry points (no GPU needed, none used)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fp8gemm.bench as bench
from fp8gemm import _bench_dense

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_without_gpu(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
    python_dir = os.path.join(REPO, "python")
    env["PYTHONPATH"] = python_dir + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "fp8gemm.bench"],
        ["-m", "fp8gemm.bench", "--quick"],
        ["-m", "fp8gemm", "bench"],
        ["benchmarks/bench_gemm.py"],
    ],
    ids=["bench", "bench-quick", "main-bench", "bench_gemm.py"],
)
def test_no_gpu_exits_2_with_one_line(command: list[str]) -> None:
    proc = _run_without_gpu(*command)
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == bench.EXIT_NO_HOPPER, output
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert "no CUDA GPU" in output


def test_info_without_gpu() -> None:
    proc = _run_without_gpu("-m", "fp8gemm", "info")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for word in ("fp8gemm", "torch", "GPU: none visible", "library:"):
        assert word in proc.stdout


def test_unknown_command() -> None:
    proc = _run_without_gpu("-m", "fp8gemm", "frobnicate")
    assert proc.returncode == 2
    assert "unknown command 'frobnicate'" in proc.stderr


def test_parse_args() -> None:
    args = bench.parse_args([])
    assert (args.quick, args.json, args.self_check) == (False, None, True)
    args = bench.parse_args(["--quick", "--json", "out.json", "--no-self-check"])
    assert (args.quick, args.json, args.self_check) == (True, "out.json", False)
    with pytest.raises(SystemExit) as info:
        bench.parse_args(["--bogus"])
    assert info.value.code == 2


def test_main_in_process_without_gpu(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert bench.main(["--quick"]) == bench.EXIT_NO_HOPPER
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1


def test_main_rejects_non_hopper(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.get_device_capability", lambda *a: (8, 0))
    monkeypatch.setattr("torch.cuda.get_device_name", lambda *a: "NVIDIA A100")
    assert bench.main([]) == bench.EXIT_NO_HOPPER
    assert "sm_80" in capsys.readouterr().err


def test_bytes_moved() -> None:
    # a 64x7168 + b 2112x7168 (fp8), sa 64x56 + sb 17x56 (fp32), out 64x2112 (bf16)
    expected = 64 * 7168 + 2112 * 7168 + 4 * 64 * 56 + 4 * 17 * 56 + 2 * 64 * 2112
    assert _bench_dense._bytes_moved(64, 2112, 7168) == expected


def test_dense_shapes() -> None:
    assert len(_bench_dense.DENSE_BENCH_SHAPES) == 21
    assert _bench_dense.HEADLINE_SHAPE in _bench_dense.DENSE_BENCH_SHAPES


def test_format_table() -> None:
    row = {
        "m": 64, "n": 7168, "k": 576, "config": {"block_m": 64, "block_n": 128, "block_k": 128, "stages": 6,
                                                 "multicast": "b", "cluster": 2, "swap_ab": True},
        "fp8gemm_us": 5.0, "tflops": 105.7, "gbps": 1380.0, "cublas_blockwise_us": None, "bf16_us": 6.5,
        "speedup_vs_bf16": 1.3, "notes": {"cublas_blockwise": "not run: K % 128 != 0"},
    }
    result = {"rows": [row], "geomean_speedup_vs_cublas_blockwise": None, "geomean_over_shapes": 0,
              "tflops_4096x7168x16384": None, "host_cost_us": {"shape": [64, 2112, 7168], "fp8gemm": 12.3}}
    text = _bench_dense.format_table(result)
    lines = text.splitlines()
    assert "fp8gemm us" in lines[0] and "cuBLAS-bw us" in lines[0] and "config" in lines[0]
    assert "64x128x128 s6 mc=b swap" in lines[2]
    assert lines[2].index("|", 20) == lines[0].index("|", 20)  # columns line up with a missing peer
    assert "not run: K % 128 != 0" in text
    assert "geomean speedup vs cuBLAS blockwise: -" in text
    assert "fp8gemm.gemm_nt 12.3 us" in text


@pytest.mark.parametrize("m", [64, 129])
def test_blockwise_peer_call_layouts(m: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cuBLAS peer gets the scale layouts torch's ScaledBlas.cpp checks for (1x128, 128x128)."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from fp8gemm.quant import per_block_cast_to_fp8, per_token_cast_to_fp8

    n, k = 2112, 7168
    with FakeTensorMode():
        a, sa = per_token_cast_to_fp8(torch.empty(m, k, device="cuda", dtype=torch.bfloat16))
        b, sb = per_block_cast_to_fp8(torch.empty(n, k, device="cuda", dtype=torch.bfloat16))
        run = _bench_dense.blockwise_scaled_mm(a, sa, b, sb)
        out = run()  # torch's meta function checks the shapes
        assert out.shape == (m, n) and out.dtype == torch.bfloat16

        seen = {}
        monkeypatch.setattr(torch, "_scaled_mm", lambda *args, **kwargs: seen.update(args=args, kwargs=kwargs))
        run()
    mat2, scale_a, scale_b = seen["args"][1], seen["kwargs"]["scale_a"], seen["kwargs"]["scale_b"]
    assert mat2.shape == (k, n) and mat2.stride() == (1, k)  # column-major [K, N]
    assert scale_a.shape == (m, 56) and scale_a.stride() == (1, m)  # leading dimension exactly M
    assert scale_b.shape == (56, 17) and scale_b.stride() == (1, 56)  # transpose of row-major [Nb, Kb]
    assert seen["kwargs"]["out_dtype"] == torch.bfloat16 and not seen["kwargs"].get("use_fast_accum", False)
