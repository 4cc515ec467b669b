"""The array libraries the backend tests run on, and helpers to move values between them.

`LIBRARIES` names each library the suite runs a model on: NumPy, the Array API's strict
reference (which refuses every non-standard call, so a layer passing there runs on any
compliant library) and PyTorch on the CPU. A library that is not installed is skipped
(CI installs all three, and CI allows no skips).
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

from minigrad import backend

LIBRARIES = ["numpy", "array_api_strict", "torch"]


def library(name: str) -> types.ModuleType:
    """The library module ``name``, or skip the test when it is not installed."""
    if name == "numpy":
        return np
    return pytest.importorskip(name)


def put(array: np.ndarray, lib: types.ModuleType) -> Any:
    """A copy of the NumPy ``array`` in ``lib`` (integers stay integers)."""
    return backend.asarray(np.asarray(array), backend.resolve(lib))


def get(array: Any) -> np.ndarray:
    """``array`` (any library's) as NumPy, for comparing; a NumPy scalar (what NumPy's
    arithmetic gives for 0-d arrays) as a 0-d array."""
    return np.asarray(array) if isinstance(array, np.generic) else backend.to_numpy(array)


def namespace_name(array: Any) -> str:
    """The top-level module of ``array``'s type, to check "library in, library out"."""
    return type(array).__module__.split(".")[0]


def expected_module(lib: types.ModuleType) -> str:
    return lib.__name__.split(".")[0]


__all__ = ["LIBRARIES", "expected_module", "get", "library", "namespace_name", "put"]
