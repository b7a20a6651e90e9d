"""pytest configuration. Tests import `fp8gemm` as installed (or via PYTHONPATH=python)."""

from __future__ import annotations

import os
import sys

# Lets `tests/` import its helper modules (shapes, gpu_utils) however pytest is invoked.
sys.path.insert(0, os.path.dirname(__file__))
