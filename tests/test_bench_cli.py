"""CPU tests of the command-line entry points (no GPU needed, none used)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fp8gemm.bench as bench
from fp8gemm import _bench_dense, _bench_grouped

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_without_gpu(*args: str) -> subprocess.CompletedProcess:
    import fp8gemm

    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
    # The fp8gemm this test process imported (the installed wheel on CI, python/ when
    # developing), not necessarily the source tree.
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fp8gemm.__file__)))
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
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
    assert (args.quick, args.json, args.self_check, args.family, args.shape_list, args.plot) == (
        False, None, True, "all", None, None)
    args = bench.parse_args(["--quick", "--json", "out.json", "--no-self-check", "--family", "grouped",
                             "--plot", "p.png", "--shapes", "64,2112,7168"])
    assert (args.quick, args.json, args.self_check, args.family, args.plot) == (True, "out.json", False, "grouped", "p.png")
    assert args.shape_list == {"dense": [(64, 2112, 7168)], "grouped": []}
    for bad in (["--bogus"], ["--family", "wgrad2"], ["--shapes", "1,2"]):
        with pytest.raises(SystemExit) as info:
            bench.parse_args(bad)
        assert info.value.code == 2


def test_parse_shapes_inline_and_file(tmp_path) -> None:
    inline = "64,2112,7168; 4096x7168x16384  contiguous:4,8192,4096,7168 masked:32,8,4096,7168 # a comment"
    want = {
        "dense": [(64, 2112, 7168), (4096, 7168, 16384)],
        "grouped": [("contiguous", 4, 8192, 4096, 7168), ("masked", 32, 8, 4096, 7168)],
    }
    assert bench.parse_shapes(inline) == want
    path = tmp_path / "shapes.txt"
    path.write_text("# my model\n64,2112,7168\n4096,7168,16384\n\ncontiguous:4,8192,4096,7168\nmasked:32,8,4096,7168\n")
    assert bench.parse_shapes(str(path)) == want
    assert bench.parse_shapes("offset:9,32,4096,7168")["grouped"] == [("offset", 9, 32, 4096, 7168)]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("1,2", "a dense shape is M,N,K"),
        ("64,a,7168", "sizes must be integers"),
        ("ragged:1,2,3,4", "unknown layout 'ragged'"),
        ("masked:1,2,3", "a grouped shape is masked:G,R,N,K"),
        ("64,-1,16", "negative"),
        ("# nothing", "no shapes"),
    ],
)
def test_parse_shapes_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bench.parse_shapes(spec)


def test_progress_lines_when_not_a_terminal() -> None:
    import io

    stream = io.StringIO()
    bar = bench.Progress(3, stream=stream)
    for label in ("a", "b", "c"):
        bar.step(label)
    bar.close()
    assert stream.getvalue().splitlines() == ["[1/3] a", "[2/3] b", "[3/3] c"]
    quiet = io.StringIO()
    bench.Progress(2, enabled=False, stream=quiet).step("x")
    assert quiet.getvalue() == ""


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
    assert "% floor" in lines[0] and "floor us" in lines[0]
    assert "64x128x128 s6 mc=b swap" in lines[2]
    assert lines[2].index("|", 20) == lines[0].index("|", 20)  # columns line up with a missing peer
    assert "no-swap us" in lines[0] and "read us" in lines[0]
    assert "not run: K % 128 != 0" in text
    assert "geomean speedup vs cuBLAS blockwise: -" in text
    assert "fp8gemm.gemm_nt 12.3 us" in text


def test_format_table_swap_ab_columns() -> None:
    """The before/after of the swap-AB path (issue 4): the 1D2D time and the weight read."""
    row = {
        "m": 8, "n": 2112, "k": 7168, "config": {"block_m": 8, "block_n": 64, "block_k": 128, "stages": 11,
                                                 "multicast": "none", "cluster": 3, "swap_ab": True},
        "fp8gemm_us": 13.0, "noswap_us": 20.0, "read_us": 16.0, "x_read": 13.0 / 16.0, "notes": {},
        "rowsa_over_canonical": 1.0125,
    }
    result = {"rows": [row], "geomean_speedup_vs_cublas_blockwise": None, "geomean_over_shapes": 0,
              "tflops_4096x7168x16384": None, "host_cost_us": {}}
    text = _bench_dense.format_table(result)
    line = text.splitlines()[2]
    assert "8x64x128 s11 swap/k3" in line
    assert line.rstrip().endswith("20.0    16.0  0.81 |  1.012      -")
    assert "row-major scales / canonical: read in place: geomean 1.012, min 1.012, max 1.012 over 1 shapes" in text


def test_host_cost_is_a_median_of_alternating_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """measure_host_cost reports the median (and min) of its rounds per candidate, the two
    candidates alternating, and a candidate that raises gets None and its error, once."""
    calls: list[str] = []
    times = {"fp8gemm": iter([30.0, 10.0, 12.0, 11.0, 9.0]), "cublas_blockwise": iter([20.0, 18.0, 40.0])}

    def fake_host_cost_us(fn, n):
        assert n == _bench_dense.HOST_COST_CALLS
        name = fn()
        calls.append(name)
        if name == "cublas_blockwise" and len([c for c in calls if c == name]) == 4:
            raise RuntimeError("cuBLAS went away")
        return next(times[name])

    class FakeFp8gemm:
        @staticmethod
        def gemm_nt(a, sa, b, sb):
            return "fp8gemm"

    monkeypatch.setattr(_bench_dense, "host_cost_us", fake_host_cost_us)
    monkeypatch.setattr(_bench_dense, "random_fp8_problem", lambda *args, **kw: dict(a=0, sa=0, b=0, sb=0))
    monkeypatch.setattr(_bench_dense, "blockwise_scaled_mm", lambda *args: (lambda: "cublas_blockwise"))
    cost = _bench_dense.measure_host_cost(FakeFp8gemm(), rounds=5)
    assert calls[:4] == ["fp8gemm", "cublas_blockwise", "cublas_blockwise", "fp8gemm"]
    assert calls.count("fp8gemm") == 5 and calls.count("cublas_blockwise") == 4  # none after the error
    assert cost["fp8gemm"] == 11.0 and cost["fp8gemm_min"] == 9.0
    assert cost["cublas_blockwise"] is None and "cuBLAS went away" in cost["cublas_blockwise_error"]
    assert cost["rounds"] == 5 and cost["shape"] == list(_bench_dense.HOST_COST_SHAPE)
    text = _bench_dense.format_table({"rows": [], "geomean_speedup_vs_cublas_blockwise": None,
                                      "geomean_over_shapes": 0, "host_cost_us": cost})
    assert "median of 5 x 200 calls): fp8gemm.gemm_nt 11.0 us, cuBLAS blockwise - us" in text


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


# ---------------------------------------------------------------- reports from synthetic timings


CEILINGS = {"fp8_peak_tflops": 1400.0, "read_gbps": 3000.0}


def _synthetic_report() -> dict:
    """A report as a run builds it, with made-up timings (no GPU)."""
    dense_rows = []
    for n, k in ((2112, 7168), (7168, 2048)):
        for m in (64, 128, 4096):
            row = {"m": m, "n": n, "k": k, "config": {"block_m": 128, "block_n": 128, "block_k": 128, "stages": 5,
                                                    "multicast": "none", "cluster": 1, "swap_ab": False},
                   "notes": {}}
            row["fp8gemm_us"] = 1e-6 * 2 * m * n * k / 1.0 + 5
            row["cublas_blockwise_us"] = row["fp8gemm_us"] * 1.1
            row["bf16_us"] = row["fp8gemm_us"] * 1.5
            row["bytes"] = _bench_dense._bytes_moved(m, n, k)
            row["tflops"] = 2.0 * m * n * k / row["fp8gemm_us"] / 1e6
            row["gbps"] = 1000.0
            row["speedup_vs_cublas_blockwise"] = 1.1
            row["speedup_vs_bf16"] = 1.5
            _bench_dense.add_floor(row, 2.0 * m * n * k, CEILINGS)
            dense_rows.append(row)
    grouped_rows = []
    for layout, g, e in (("contiguous", 4, 8192), ("masked", 32, 8), ("masked", 32, 32), ("offset", 9, 32)):
        rows = g * e
        row = {"layout": layout, "g": g, "rows_per_group": e, "n": 4096, "k": 7168, "rows": rows,
               "config": {"block_m": 64, "block_n": 128, "block_k": 128, "stages": 8, "multicast": "none"},
               "notes": {"cublas_loop": "error: not supported"} if layout == "masked" else {}}
        row["fp8gemm_us"] = 300.0 + rows * 0.05
        row["bf16_grouped_us"] = row["fp8gemm_us"] * 2
        row["fp8_rowwise_grouped_us"] = row["fp8gemm_us"] * 1.1
        row["read_us"] = 290.0
        row["bytes"] = g * 4096 * 7168 + rows * (7168 + 2 * 4096)
        row["tflops"] = 2.0 * rows * 4096 * 7168 / row["fp8gemm_us"] / 1e6
        row["x_read"] = row["fp8gemm_us"] / row["read_us"]
        _bench_dense.add_floor(row, 2.0 * rows * 4096 * 7168, CEILINGS)
        grouped_rows.append(row)
    return {
        "env": {"device": "NVIDIA H100 80GB HBM3", "sm_count": 132, "torch": "2.11", "cuda": "13.0", "fp8gemm": "0.1"},
        "quick": False,
        "floors": CEILINGS,
        "self_check": {"ok": True, "cases": [{"op": "gemm_nt", "ok": True, "calc_diff": 1e-6, "detail": ""}]},
        "families": {
            "dense": {"rows": dense_rows, "geomean_speedup_vs_cublas_blockwise": 1.1, "geomean_over_shapes": 6,
                      "tflops_4096x7168x16384": None, "host_cost_us": {"shape": [64, 2112, 7168], "fp8gemm": 10.0}},
            "grouped": {"rows": grouped_rows, "tflops_contiguous_4x8192x4096x7168": 1300.0},
        },
        "cold_start": {"import_fp8gemm_ms": 80.0, "first_call_ms": 1.2, "second_call_ms": 0.05},
    }


def test_report_json_schema_and_tables() -> None:
    import json

    report = json.loads(json.dumps(_synthetic_report()))  # JSON-ready: round-trips unchanged
    for row in report["families"]["dense"]["rows"]:
        assert {"m", "n", "k", "fp8gemm_us", "floor_us", "pct_of_floor", "tflops"} <= set(row)
        assert row["floor_us"] == max(row["bandwidth_floor_us"], row["compute_floor_us"])
        assert row["bandwidth_floor_us"] == pytest.approx(row["bytes"] / 3000.0 / 1e3)
        assert 0 < row["pct_of_floor"] <= 100
    for row in report["families"]["grouped"]["rows"]:
        assert {"layout", "g", "rows_per_group", "n", "k", "fp8gemm_us", "floor_us"} <= set(row)
    text = bench.format_report(report)
    assert "== dense (gemm_nt)" in text and "== grouped (m_grouped_gemm_nt_*)" in text
    assert "self-check: 1/1 ops ok" in text
    assert "cold start (fresh process): import fp8gemm 80 ms, first gemm_nt call 1.2 ms" in text
    assert "TFLOPS contiguous (4, 8192, 4096, 7168): 1300" in text
    assert "masked G=32 rows=8 N=4096 K=7168 cublas_loop: error: not supported" in text
    assert bench.report_ok(report)
    report["families"]["grouped"]["rows"][0]["notes"]["fp8gemm"] = "wrong result"
    assert not bench.report_ok(report)


def test_grouped_table_columns_line_up() -> None:
    lines = _bench_grouped.format_grouped_table(_synthetic_report()["families"]["grouped"]).splitlines()
    bars = [i for i, ch in enumerate(lines[0]) if ch == "|"]
    for line in lines[2:6]:
        assert [i for i, ch in enumerate(line) if ch == "|"] == bars, line


def test_plot_is_a_png(tmp_path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib (the plot extra) is not installed")
    from fp8gemm._bench_plot import plot_report

    path = tmp_path / "plot.png"
    plot_report(_synthetic_report(), str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_from_json_renders_without_gpu(tmp_path) -> None:
    import json

    pytest.importorskip("matplotlib", reason="matplotlib (the plot extra) is not installed")
    report_path, png = tmp_path / "r.json", tmp_path / "r.png"
    report_path.write_text(json.dumps(_synthetic_report()))
    proc = _run_without_gpu("-m", "fp8gemm.bench", "--from-json", str(report_path), "--plot", str(png))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "== dense (gemm_nt)" in proc.stdout and png.read_bytes()[:4] == b"\x89PNG"
