"""CPU tests of fp8gemm.utils."""

from __future__ import annotations

import pytest
import torch

from fp8gemm.utils import (
    align,
    ceil_div,
    get_col_major_tma_aligned_tensor,
    get_m_alignment_for_contiguous_layout,
    get_tma_aligned_size,
)


@pytest.mark.parametrize("a, b, expected", [(0, 128, 0), (1, 128, 1), (128, 128, 1), (129, 128, 2), (7, 4, 2)])
def test_ceil_div(a: int, b: int, expected: int) -> None:
    assert ceil_div(a, b) == expected


@pytest.mark.parametrize("x, a, expected", [(0, 4, 0), (1, 4, 4), (4, 4, 4), (5, 4, 8), (129, 128, 256)])
def test_align(x: int, a: int, expected: int) -> None:
    assert align(x, a) == expected


@pytest.mark.parametrize(
    "x, element_size, expected",
    [(1, 4, 4), (4, 4, 4), (5, 4, 8), (127, 4, 128), (1, 2, 8), (9, 2, 16), (1, 1, 16), (17, 1, 32), (3, 8, 4),
     (0, 4, 0)],
)
def test_get_tma_aligned_size(x: int, element_size: int, expected: int) -> None:
    got = get_tma_aligned_size(x, element_size)
    assert got == expected
    assert (got * element_size) % 16 == 0


@pytest.mark.parametrize("element_size", [0, 3, 32])
def test_get_tma_aligned_size_rejects_bad_element_size(element_size: int) -> None:
    with pytest.raises(ValueError, match="element_size"):
        get_tma_aligned_size(8, element_size)


def test_m_alignment() -> None:
    assert get_m_alignment_for_contiguous_layout() == 128


@pytest.mark.parametrize(
    "m, kb", [(1, 1), (1, 5), (3, 2), (4, 1), (4, 3), (7, 1), (8, 1), (64, 56), (129, 5), (1000, 17)]
)
def test_col_major_2d(m: int, kb: int) -> None:
    s = torch.randn(m, kb)
    out = get_col_major_tma_aligned_tensor(s)
    assert out.shape == (m, kb)
    assert out.stride() == (1, align(m, 4))
    assert out.dtype == torch.float32
    assert torch.equal(out, s)


@pytest.mark.parametrize("g, m, kb", [(1, 1, 1), (2, 4, 1), (1, 8, 3), (2, 3, 2), (3, 8, 4), (4, 129, 3)])
def test_col_major_3d(g: int, m: int, kb: int) -> None:
    s = torch.randn(g, m, kb)
    out = get_col_major_tma_aligned_tensor(s)
    am = align(m, 4)
    assert out.shape == (g, m, kb)
    assert out.stride() == (am * kb, 1, am)
    assert torch.equal(out, s)


def test_col_major_padding_rows_are_zero() -> None:
    out = get_col_major_tma_aligned_tensor(torch.randn(5, 3) + 10)
    storage = torch.as_strided(out, (8, 3), (1, 8))
    assert torch.all(storage[5:] == 0)


def test_col_major_returns_canonical_input_itself() -> None:
    s = get_col_major_tma_aligned_tensor(torch.randn(6, 4))
    assert get_col_major_tma_aligned_tensor(s) is s
    g = get_col_major_tma_aligned_tensor(torch.randn(2, 6, 4))
    assert get_col_major_tma_aligned_tensor(g) is g


@pytest.mark.parametrize("make", ["row_major", "transposed_view", "sliced_view"])
def test_col_major_converts_any_layout(make: str) -> None:
    ref = torch.randn(10, 6)
    if make == "row_major":
        s = ref.clone()
    elif make == "transposed_view":
        s = ref.t().contiguous().t()  # column-major but leading dimension 10, not 12
    else:
        s = torch.zeros(10, 12)[:, ::2]
        s.copy_(ref)
    out = get_col_major_tma_aligned_tensor(s)
    assert out.stride() == (1, 12)
    assert torch.equal(out, ref)


@pytest.mark.parametrize("shape", [(0, 3), (4, 0), (2, 0, 3)])
def test_col_major_empty(shape: tuple[int, ...]) -> None:
    out = get_col_major_tma_aligned_tensor(torch.empty(shape))
    assert out.shape == shape
    assert out.stride()[-2] == 1


def test_col_major_rejects_wrong_dtype() -> None:
    with pytest.raises(ValueError, match=r"s must be float32, got torch.bfloat16"):
        get_col_major_tma_aligned_tensor(torch.randn(4, 2, dtype=torch.bfloat16))


@pytest.mark.parametrize("shape", [(4,), (2, 2, 2, 2)])
def test_col_major_rejects_wrong_rank(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"s must be 2D \[M, Kb\] or 3D \[G, M, Kb\]"):
        get_col_major_tma_aligned_tensor(torch.randn(shape))


def test_col_major_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match="s must be a torch.Tensor"):
        get_col_major_tma_aligned_tensor([[1.0]])  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(7, 3), (2, 5, 3)])
def test_col_major_traces_fullgraph(shape: tuple[int, ...]) -> None:
    torch._dynamo.reset()
    fn = torch.compile(get_col_major_tma_aligned_tensor, fullgraph=True, backend="aot_eager")
    s = torch.randn(shape)
    out = fn(s)
    assert torch.equal(out, s)
    assert out.stride() == get_col_major_tma_aligned_tensor(s).stride()


def test_col_major_on_fake_cuda_tensors() -> None:
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        s = torch.empty(129, 5, device="cuda")
        out = get_col_major_tma_aligned_tensor(s)
        assert out.device.type == "cuda"
        assert out.stride() == (1, 132)
