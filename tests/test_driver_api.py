"""The library links no CUDA runtime: its kernels are embedded cubins, loaded and launched
through the driver API (csrc/cuda_driver.cpp). CPU tests check what the binary needs;
GPU tests check the paths the runtime used to take care of: the first launch of a kernel
inside a CUDA graph capture (the module loads then), a thread with no current context."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading

import pytest
import torch

from fp8gemm import _native
from gpu_utils import requires_hopper

pytestmark = pytest.mark.skipif(not _native.is_loaded(), reason=f"native library not loaded: {_native.load_error}")

import fp8gemm  # noqa: E402
from fp8gemm.testing import calc_diff, random_fp8_problem, reference_gemm_nt  # noqa: E402


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not on PATH")
    return path


def test_no_cuda_runtime_needed() -> None:
    dynamic = subprocess.run([_tool("readelf"), "-d", str(_native.LIB_PATH)], capture_output=True, text=True,
                             check=True).stdout
    needed = [line.split("[")[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]
    assert needed, dynamic
    assert not [n for n in needed if "cuda" in n and not n.startswith("libtorch_cuda")], needed
    undefined = subprocess.run([_tool("nm"), "-D", "--undefined-only", str(_native.LIB_PATH)], capture_output=True,
                               text=True, check=True).stdout.split()
    cuda_api = [s for s in undefined if s.startswith("cuda") or (s.startswith("cu") and s[2:3].isupper())]
    assert not cuda_api, f"CUDA runtime or driver symbols linked: {cuda_api[:10]}"


def test_build_reports_its_cubin_toolchain() -> None:
    toolchain, needs = _native.cubin_toolchain()
    assert toolchain.startswith(("cu12:", "cu13:")), toolchain
    assert needs == ("12.0" if toolchain.startswith("cu12:") else "13.0")
    runtime, _ = _native.cuda_versions()
    assert runtime == "none"


def test_info_names_driver_and_toolchain(capsys: pytest.CaptureFixture[str]) -> None:
    from fp8gemm.__main__ import info

    assert info() == 0
    text = capsys.readouterr().out
    assert "NVIDIA driver:" in text and "cubins: cu1" in text and "no CUDA runtime linked" in text


# ---------------------------------------------------------------- GPU

FIRST_CALL_IN_CAPTURE = textwrap.dedent("""
    import torch, fp8gemm
    from fp8gemm.testing import calc_diff, random_fp8_problem, reference_gemm_nt
    p = random_fp8_problem(256, 512, 384, "cuda", seed=11)
    args = (p["a"], p["sa"], p["b"], p["sb"])
    out = torch.full((256, 512), float("nan"), dtype=torch.bfloat16, device="cuda")
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):  # the first fp8gemm launch of this process: its module loads here
        fp8gemm.gemm_nt_out(*args, out)
    graph.replay()
    torch.cuda.synchronize()
    diff = calc_diff(out, reference_gemm_nt(*args))
    assert not torch.isnan(out).any() and diff < 1e-5, diff
    print("ok")
""")


@pytest.mark.gpu
@requires_hopper
def test_first_launch_inside_graph_capture() -> None:
    res = subprocess.run([sys.executable, "-c", FIRST_CALL_IN_CAPTURE], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stdout + res.stderr


@pytest.mark.gpu
@requires_hopper
def test_launch_from_a_new_thread() -> None:
    p = random_fp8_problem(128, 256, 256, "cuda", seed=12)
    args = (p["a"], p["sa"], p["b"], p["sb"])
    result: dict[str, object] = {}

    def work() -> None:  # a fresh thread: no CUDA context current until something makes one
        try:
            result["out"] = fp8gemm.gemm_nt(*args)
            torch.cuda.synchronize()
        except Exception as e:  # pragma: no cover - reported below
            result["error"] = e

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert "error" not in result, result.get("error")
    assert calc_diff(result["out"], reference_gemm_nt(*args)) < 1e-5


@pytest.mark.gpu
@requires_hopper
def test_driver_reported() -> None:
    _, driver = _native.cuda_versions()
    toolchain, needs = _native.cubin_toolchain()
    assert driver != "none"
    assert tuple(map(int, driver.split("."))) >= tuple(map(int, needs.split("."))), (driver, toolchain)


TOO_OLD_DRIVER = textwrap.dedent("""
    import torch, fp8gemm
    from fp8gemm import _native
    from fp8gemm.testing import random_fp8_problem
    toolchain, needs = _native.cubin_toolchain()
    older = 12080 if needs == "13.0" else 11080  # a CUDA 12.8 (R570) or 11.8 driver
    _native.lib().fp8gemm_pretend_driver_version(older)
    p = random_fp8_problem(128, 256, 256, "cuda", seed=13)
    try:
        fp8gemm.gemm_nt(p["a"], p["sa"], p["b"], p["sb"])
    except RuntimeError as e:
        print(e)
    else:
        raise SystemExit("no error")
""")


@pytest.mark.gpu
@requires_hopper
def test_too_old_driver_refused_with_the_driver_needed() -> None:
    res = subprocess.run([sys.executable, "-c", TOO_OLD_DRIVER], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    _, needs = _native.cubin_toolchain()
    assert f"need a driver for CUDA >= {needs}" in res.stdout, res.stdout
    assert "this driver supports CUDA" in res.stdout and "Which wheel" in res.stdout, res.stdout
