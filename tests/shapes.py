"""Shape lists for the parametrized GPU tests, and the benchmark's dense shapes."""

from __future__ import annotations

import itertools

# The dense benchmark's shapes live in the package (the benchmark ships with it);
# re-exported here so that tests and benchmarks share one list.
from fp8gemm._bench_dense import DENSE_BENCH_SHAPES, DENSE_M, DENSE_NK  # noqa: F401

# Correctness shapes: M covers decode sizes, partial blocks on both sides of 64/128
# and a multi-wave size; N and K cover tiny, non-multiples of 128 and large values.
GPU_M: tuple[int, ...] = (1, 7, 64, 127, 128, 129, 1000, 4096)
GPU_N: tuple[int, ...] = (16, 136, 2112, 4096, 7168)
GPU_K: tuple[int, ...] = (16, 112, 576, 2048, 7168)


def _gemm_shapes() -> list[tuple[int, int, int]]:
    """Every (N, K) pair once, 15 of them twice with another M: 40 distinct shapes.

    Deterministic: pass one gives pair i the M value GPU_M[i % 8]; pass two gives
    every pair with i % 5 in {0, 2, 4} the value GPU_M[(i + 4) % 8].
    """
    pairs = list(itertools.product(GPU_N, GPU_K))
    shapes = [(GPU_M[i % len(GPU_M)], n, k) for i, (n, k) in enumerate(pairs)]
    shapes += [
        (GPU_M[(i + 4) % len(GPU_M)], n, k) for i, (n, k) in enumerate(pairs) if i % 5 in (0, 2, 4)
    ]
    return shapes


GEMM_SHAPES: list[tuple[int, int, int]] = _gemm_shapes()

# A few cheap shapes for the property tests (layouts, streams, graphs, compile):
# partial M, N and K blocks, one below 128 in K, one multi-block.
PROPERTY_SHAPES: list[tuple[int, int, int]] = [
    (7, 136, 576),
    (129, 2112, 2048),
    (1000, 4096, 112),
]


def shape_id(shape: tuple[int, ...]) -> str:
    """pytest id: ``m64-n2112-k7168``."""
    return "-".join(f"{name}{v}" for name, v in zip("mnk", shape))
