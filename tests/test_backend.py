"""The array-library seam: namespaces, conversion both ways, and what it refuses."""

import numpy as np
import pytest

from minigrad import backend


def test_numpy_arrays_get_the_numpy_module_itself() -> None:
    assert backend.namespace(np.ones(2), np.zeros((2, 2))) is np
    assert backend.resolve(np) is np
    assert backend.device(np.ones(1)) == "cpu"


def test_strict_round_trip_keeps_values_and_dtype() -> None:
    xs = pytest.importorskip("array_api_strict")
    source = np.arange(6, dtype=np.float32).reshape(2, 3)
    moved = backend.asarray(source, backend.resolve(xs))
    assert backend.namespace(moved) is xs
    back = backend.to_numpy(moved)
    assert back.dtype == np.float32 and np.array_equal(back, source)


def test_torch_round_trip_copies() -> None:
    torch = pytest.importorskip("torch")
    xp = backend.resolve(torch)
    source = np.arange(4.0)
    moved = backend.asarray(source, xp, device="cpu")
    assert isinstance(moved, torch.Tensor) and moved.dtype == torch.float64
    moved[0] = 10.0
    assert source[0] == 0.0  # a copy, not a view of the caller's array
    assert backend.to_numpy(moved)[0] == 10.0
    assert backend.describe(moved) == "torch.Tensor on cpu"


def test_mixed_libraries_are_refused_naming_both() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"numpy\.ndarray, torch\.Tensor on cpu"):
        backend.namespace(np.ones(2), torch.ones(2))


def test_resolve_refuses_what_is_not_an_array_library() -> None:
    import math

    with pytest.raises(TypeError, match="math is not an array library"):
        backend.resolve(math)
    with pytest.raises(TypeError, match="expected an array library module"):
        backend.resolve("numpy")  # type: ignore[arg-type]
