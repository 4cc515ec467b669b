"""Evaluation-mode fast paths of the pooling layers (issue 23, batch-1 latency): the
maxima alone, without the offsets a backward needs, must be the very numbers a
training-mode forward computes -- NaNs, ties, padding, ``ceil_mode`` and dilation
included -- and a backward after such a forward must still be the right one."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import pool_kernels

POOLS = [  # (layer, input shape)
    (lambda: mg.MaxPool2D(2), (2, 3, 8, 8)),
    (lambda: mg.MaxPool2D(3, stride=2, padding=1), (2, 3, 9, 7)),  # overlapping, padded
    (lambda: mg.MaxPool2D(2, ceil_mode=True), (1, 2, 5, 7)),  # a last, partial window
    (lambda: mg.MaxPool2D((2, 3), stride=(1, 2), dilation=(2, 1)), (1, 2, 7, 9)),
    (lambda: mg.MaxPool1D(3, stride=2, padding=1), (2, 3, 11)),
    (lambda: mg.MaxPool3D(2, padding=1, ceil_mode=True), (1, 2, 3, 4, 5)),
]


def awkward_input(shape: tuple[int, ...], layout_swapped: bool) -> np.ndarray:
    """Rounded values (ties), NaNs and infinities, optionally as a view of channel-major
    memory (as a conv's output is)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).round(1)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, 3, replace=False)] = [np.nan, np.inf, -np.inf]
    if layout_swapped:
        x = np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)
    return x


@pytest.mark.parametrize("layout_swapped", [False, True])
@pytest.mark.parametrize("make, shape", POOLS)
def test_eval_max_pool_is_the_training_forward_bit_for_bit(make: object, shape: tuple,
                                                           layout_swapped: bool) -> None:
    layer = make()  # type: ignore[operator]
    x = awkward_input(shape, layout_swapped)
    want = layer(x)
    grad = np.random.default_rng(1).standard_normal(want.shape)
    want_dx = layer.backward(grad)
    layer.eval()
    got = layer(x)
    assert layer.saved()[0] is None  # no offsets found for a backward nobody runs
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(layer.backward(grad), want_dx)  # found from the input


def test_eval_max_pool_keeps_float32_and_return_indices_still_computed() -> None:
    layer = mg.MaxPool2D(2, return_indices=True).eval()
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(layer.indices, [[[[5, 7], [13, 15]]]])


def test_eval_max_pool_shape_errors_are_still_raised_after_a_cached_geometry() -> None:
    layer = mg.MaxPool2D(3).eval()
    layer(np.zeros((1, 1, 6, 6)))
    with pytest.raises(ValueError, match=r"MaxPool2D.*spatial size 2×2.*output size 0"):
        layer(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"MaxPool2D.*spatial size 2×2.*output size 0"):
        layer(np.zeros((1, 1, 2, 2)))  # the second time too (errors are not cached away)


@pytest.mark.parametrize("make, shape", POOLS[:2] + POOLS[4:5])
def test_torch_eval_max_pool_is_pytorchs_own(make: object, shape: tuple,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    calls: list[int] = []
    original = pool_kernels.max_pool_values
    monkeypatch.setattr(pool_kernels, "max_pool_values",
                        lambda *a: calls.append(1) or original(*a))
    layer = make()  # type: ignore[operator]
    x = np.random.default_rng(2).standard_normal(shape).round(1)
    want = layer(x)
    moved = copy.deepcopy(layer).to(torch).eval()
    got = moved(torch.from_numpy(x))
    assert calls == [1] and isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), want)
