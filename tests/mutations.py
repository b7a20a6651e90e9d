"""The bad-input tests' argument mutations (test_bad_inputs*.py, test_wgrad_cpu.py)."""

from __future__ import annotations

from typing import Any, Callable


def put(**changes: Callable[[dict, Any], Any]) -> Callable[[dict, Any], dict]:
    """A mutation of a case's argument dict: each named argument replaced by
    fn(args, device), in order."""

    def mutate(args: dict, dev: Any) -> dict:
        for key, fn in changes.items():
            args[key] = fn(args, dev)
        return args

    return mutate
