"""Shared test helpers: make ``examples/`` importable; `step_peak_bytes`,
`torch_float64_scalars`."""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable, Iterator
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


@pytest.fixture
def torch_float64_scalars() -> Iterator[None]:
    """PyTorch's default dtype float64 for the test: its optimizers keep per-parameter
    numbers (NAdam's mu_product, ASGD's eta and mu) as tensors of the *default* dtype,
    float32 unless told, where minigrad's are Python floats -- compared in float64, as
    the parameters are."""
    torch = pytest.importorskip("torch")
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(before)
