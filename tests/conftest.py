"""Shared test helpers: make ``examples/`` importable; `step_peak_bytes`."""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import minigrad as mg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))


@pytest.fixture
def step_peak_bytes() -> Callable[[mg.Optimizer], int]:
    """The peak of what an optimizer's second step allocates, traced (the first step may
    allocate its state and scratch buffers)."""

    def measure(optimizer: mg.Optimizer) -> int:
        optimizer.step()
        tracemalloc.start()
        try:
            optimizer.step()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    return measure
