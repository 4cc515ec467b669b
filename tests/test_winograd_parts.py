"""Winograd's batch parts when the forward kept nothing: an evaluation-mode forward lets
the transformed input go (``keep=False``), and a backward after it transforms each part
of the batch again from the input -- the same gradients as after a training forward,
which kept them."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import convolution, winograd


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_backward_after_an_evaluation_forward_rebuilds_each_part(
        dtype: type, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convolution, "WINOGRAD_MIN_TILES", 1)
    monkeypatch.setattr(winograd, "PART_BYTES", 1)
    monkeypatch.setattr(winograd, "PART_MIN_SAMPLES", 2)  # parts of 2, 2 and 1 samples
    calls: list[int] = []  # the parts each weight gradient was given
    original = winograd.weight_gradient

    def counted(grad: np.ndarray, x: np.ndarray, pads: tuple[int, int],
                kept: list[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
        calls.append(0 if kept is None else len(kept))
        return original(grad, x, pads, kept)

    monkeypatch.setattr(winograd, "weight_gradient", counted)
    rng = np.random.default_rng(0)
    layer = mg.Conv2D(32, 32, 3, padding=1, rng=1, dtype=dtype)
    x = rng.standard_normal((5, 32, 4, 5)).astype(dtype)
    g = rng.standard_normal((5, 32, 4, 5)).astype(dtype)
    y = layer(x)
    dx = layer.backward(g)
    grads = [p.grad.copy() for p in layer.parameters()]
    layer.zero_grad()
    layer.eval()
    np.testing.assert_array_equal(layer(x), y)
    assert layer.cache is not None and layer.cache[0] is None  # no transformed input kept
    np.testing.assert_array_equal(layer.backward(g), dx)
    for param, want in zip(layer.parameters(), grads):
        np.testing.assert_array_equal(param.grad, want)
    assert calls == [3, 0]  # Winograd both times: three kept parts, then none


def _channel_major(a: np.ndarray) -> np.ndarray:
    """The values of ``a (N, C, ...)`` in channel-major memory (as a convolution's output
    is): the same array, other strides."""
    return np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)


def test_the_kernel_reads_batch_and_channel_major_memory_alike(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The transforms move the batch innermost; from batch-major memory they go through a
    # channel-major copy first (`winograd._batch_last`). Either way: the same bits, and
    # the readable im2col path's results to rounding.
    monkeypatch.setattr(convolution, "WINOGRAD_MIN_TILES", 1)
    ran: list[bool] = []
    original = winograd.convolve

    def spied(*args: object, **kwargs: object) -> object:
        ran.append(True)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(winograd, "convolve", spied)
    rng = np.random.default_rng(3)
    x, g = rng.standard_normal((6, 32, 5, 6)), rng.standard_normal((6, 32, 5, 6))
    xc, gc = _channel_major(x), _channel_major(g)
    assert x.strides[0] > x.strides[1] and xc.strides[0] < xc.strides[1]
    layer = mg.Conv2D(32, 32, 3, padding=1, rng=2)

    def step(x: np.ndarray, g: np.ndarray) -> list[np.ndarray]:
        layer.zero_grad()
        return [layer(x), layer.backward(g), *(p.grad.copy() for p in layer.parameters())]

    with convolution.fast_kernels(False):
        want = step(x, g)
    assert not ran
    batch_major, channel_major = step(x, g), step(xc, gc)
    assert len(ran) == 4  # forward and dL/dx, twice
    for got, reference in zip(batch_major, want):
        np.testing.assert_allclose(got, reference, rtol=1e-10, atol=1e-10)
    for a, b in zip(batch_major, channel_major):
        np.testing.assert_array_equal(a, b)
