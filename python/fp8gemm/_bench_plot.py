"""``--plot FILE.png``: TFLOPS against M per shape family, every candidate its own line.

matplotlib is an optional extra (``pip install 'fp8gemm[plot]'``); it is imported here only.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

# candidate key in a row -> legend label, line style, colour (fixed, so a missing peer does
# not shift the others' colours)
DENSE_LINES = {
    "fp8gemm_us": ("fp8gemm", "-o", "tab:blue"),
    "cublas_blockwise_us": ("cuBLAS blockwise FP8", "-s", "tab:orange"),
    "bf16_us": ("cuBLAS bf16", "-^", "tab:green"),
    "floor_us": ("floor (bandwidth / FP8 peak)", "--", "tab:gray"),
}
GROUPED_LINES = {
    "fp8gemm_us": ("fp8gemm", "-o", "tab:blue"),
    "fp8_rowwise_grouped_us": ("torch FP8 row-wise grouped", "-s", "tab:purple"),
    "bf16_grouped_us": ("torch bf16 grouped", "-^", "tab:olive"),
    "cublas_loop_us": ("cuBLAS blockwise, one call per group", "-v", "tab:red"),
    "floor_us": ("floor (bandwidth / FP8 peak)", "--", "tab:gray"),
}


def _families(report: dict[str, Any]) -> list[tuple[str, str, list[tuple[Any, float, dict]], dict]]:
    """(title, x label, [(x, flops, row)], lines) per shape family of the report. Dense:
    x = M. Grouped: x = "GxR" (G groups of about R rows), in the report's order."""
    out = []
    dense = defaultdict(list)
    for r in report.get("families", {}).get("dense", {}).get("rows", []):
        dense[(r["n"], r["k"])].append((r["m"], 2.0 * r["m"] * r["n"] * r["k"], r))
    for (n, k), pts in sorted(dense.items()):
        out.append((f"dense N={n} K={k}", "M", sorted(pts, key=lambda p: p[0]), DENSE_LINES))
    grouped = defaultdict(list)
    for r in report.get("families", {}).get("grouped", {}).get("rows", []):
        grouped[(r["layout"], r["n"], r["k"])].append(
            (f"{r['g']}x{r['rows_per_group']}", 2.0 * r["rows"] * r["n"] * r["k"], r))
    for (layout, n, k), pts in sorted(grouped.items()):
        out.append((f"{layout} N={n} K={k}", "G groups x ~R rows", pts, GROUPED_LINES))
    return out


def plot_report(report: dict[str, Any], path: str) -> None:
    """Write the plot of `report` (the JSON of a run) to `path` (PNG)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError("--plot needs matplotlib: pip install 'fp8gemm[plot]'") from exc

    families = _families(report)
    if not families:
        raise ValueError("the report has no rows to plot")
    cols = min(4, len(families))
    rows = math.ceil(len(families) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, (title, xlabel, pts, lines) in zip(axes.flat, families):
        categorical = isinstance(pts[0][0], str)
        for key, (label, style, color) in lines.items():
            xs = [i if categorical else x for i, (x, flops, r) in enumerate(pts) if r.get(key)]
            ys = [flops / r[key] / 1e6 for x, flops, r in pts if r.get(key)]
            if xs:
                ax.plot(xs, ys, style, label=label, color=color, markersize=4, linewidth=1.2)
        ax.set_title(title, fontsize=9)
        if categorical:
            ax.set_xticks(range(len(pts)))
            ax.set_xticklabels([x for x, _, _ in pts], rotation=30, fontsize=7)
        else:
            ax.set_xscale("log", base=2)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("TFLOPS", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=min(5, len(handles)),
               fontsize=8, frameon=False)
    env = report.get("env", {})
    fig.suptitle(f"fp8gemm {env.get('fp8gemm', '')} on {env.get('device', 'GPU')} "
                 f"(torch {env.get('torch', '')}, kernel time after an L2 flush, median)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
