"""The convolution and pooling kernels of `minigrad.backend` against the layers' own code.

`minigrad.backend.convolution` computes some convolutions by a faster kernel than the
conv layers' im2col products (Winograd's F(2×2, 3×3) on NumPy, PyTorch's own
convolutions on torch tensors) and `minigrad.backend.pool_kernels` max-pools torch
tensors with PyTorch's kernel. Within ``fast_kernels(False)`` the layers run their own
readable products -- the reference here: outputs and every gradient must agree to float
rounding (float64: 1e-12 of the values' scale; float32: 1e-5), on odd sizes, every
padding, batch 1, with and without bias, and each kernel must actually have run.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from minigrad.backend import convolution, pool_kernels, winograd
from minigrad.backend.convolution import fast_kernels
from minigrad.testing import check_layer

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def assert_close(got: object, want: np.ndarray, dtype: type) -> None:
    got = backend.to_numpy(got)
    assert got.dtype == want.dtype
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE[dtype] * scale)


def forward_backward(layer: mg.Layer, x: object, grad: object, *, input_grad: bool = True
                     ) -> tuple[object, object, list[object]]:
    """Output, input gradient (None without ``input_grad``) and parameter gradients."""
    layer.zero_grad()
    y = layer(x)
    dx = layer.backward(grad) if input_grad else layer.backward_params(grad)
    return y, dx, [p.grad for p in layer.parameters()]


def both_paths(layer: mg.Layer, x: np.ndarray, grad: np.ndarray, **kwargs: bool) -> tuple:
    fast = forward_backward(layer, x, grad, **kwargs)
    fast = (fast[0], fast[1], [g.copy() for g in fast[2]])
    with fast_kernels(False):
        reference = forward_backward(layer, x, grad, **kwargs)
    return fast, reference


def compare(fast: tuple, reference: tuple, dtype: type) -> None:
    assert_close(fast[0], reference[0], dtype)
    if reference[1] is None:
        assert fast[1] is None
    else:
        assert_close(fast[1], reference[1], dtype)
    assert len(fast[2]) == len(reference[2])
    for got, want in zip(fast[2], reference[2]):
        assert_close(got, want, dtype)


@pytest.fixture
def winograd_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts `winograd.convolve` calls (forward passes and input gradients), with
    Winograd taken at any batch and the batch worked on two samples at a time (so the
    small test batches have parts, the last one short)."""
    monkeypatch.setattr(convolution, "WINOGRAD_MIN_TILES", 1)
    monkeypatch.setattr(winograd, "PART_BYTES", 1)
    monkeypatch.setattr(winograd, "PART_MIN_SAMPLES", 2)
    calls: list[int] = []
    original = winograd.convolve

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(winograd, "convolve", counted)
    return calls


# -- Winograd F(2×2, 3×3) on NumPy ------------------------------------------------------

WINOGRAD_CASES = [  # (batch, in, out, height, width, padding, bias)
    (2, 32, 32, 6, 6, 1, True),
    (1, 32, 35, 7, 5, 1, True),       # batch 1, odd sizes: tiles hang over the edge
    (3, 33, 32, 5, 9, 0, False),      # no padding, no bias
    (2, 32, 34, 4, 3, 2, True),       # padding 2: the input gradient's 2 − p is 0
    (1, 40, 32, 3, 3, "same", True),  # the smallest input with padding
    (2, 32, 32, 8, 11, (0, 2), True),  # different padding per axis
    (5, 32, 32, 4, 4, 1, True),       # three parts of the batch, the last of one sample
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", WINOGRAD_CASES)
def test_winograd_matches_the_im2col_reference(case: tuple, dtype: type,
                                               winograd_calls: list[int]) -> None:
    n, c, o, h, w, padding, bias = case
    rng = np.random.default_rng(0)
    layer = mg.Conv2D(c, o, 3, padding=padding, bias=bias, rng=1, dtype=dtype)
    if bias:
        layer.bias.data[...] = rng.standard_normal(o)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    out = layer(x).shape
    grad = rng.standard_normal(out).astype(dtype)
    winograd_calls.clear()
    fast, reference = both_paths(layer, x, grad)
    assert len(winograd_calls) == 2  # the forward and the input gradient
    assert fast[0].dtype == dtype and fast[0].shape == out
    compare(fast, reference, dtype)


def test_winograd_layers_in_a_row(winograd_calls: list[int]) -> None:
    """A conv's output is a view of channel-major memory; the next conv reads it so."""
    rng = np.random.default_rng(6)
    model = mg.Sequential(mg.Conv2D(32, 32, 3, padding=1, rng=0), mg.ReLU(),
                          mg.Conv2D(32, 32, 3, padding=1, rng=1))
    x, grad = rng.standard_normal((3, 32, 5, 4)), rng.standard_normal((3, 32, 5, 4))
    fast, reference = both_paths(model, x, grad)
    assert len(winograd_calls) == 4
    compare(fast, reference, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_winograd_backward_params_and_frozen_weight(dtype: type,
                                                   winograd_calls: list[int]) -> None:
    rng = np.random.default_rng(2)
    layer = mg.Conv2D(32, 32, 3, padding=1, rng=3, dtype=dtype)
    x = rng.standard_normal((2, 32, 5, 6)).astype(dtype)
    grad = rng.standard_normal((2, 32, 5, 6)).astype(dtype)
    compare(*both_paths(layer, x, grad, input_grad=False), dtype)
    layer.weight.requires_grad = False
    fast, reference = both_paths(layer, x, grad)
    compare(fast, reference, dtype)
    assert not np.any(fast[2][0])  # the frozen weight's gradient stays zero
    assert winograd_calls


def test_winograd_second_backward_adds_the_same_gradients(winograd_calls: list[int]) -> None:
    rng = np.random.default_rng(4)
    layer = mg.Conv2D(32, 32, 3, padding=1, rng=5)
    x, grad = rng.standard_normal((2, 32, 4, 4)), rng.standard_normal((2, 32, 4, 4))
    layer(x)
    with mg.retain_graph():  # a backward lets go of the forward's state otherwise
        first = layer.backward(grad)
    once = layer.weight.grad.copy()
    second = layer.backward(grad)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(layer.weight.grad, 2 * once, rtol=1e-14)
    assert winograd_calls


@pytest.mark.parametrize(("batch", "size", "applies"), [
    (32, 8, True), (31, 8, False),   # 16 tiles a sample: 512 from 32 samples
    (1, 45, True), (1, 44, False),   # 23² = 529 tiles; 22² = 484
    (128, 4, True), (127, 4, False),  # 4 tiles a sample
])
def test_winograd_from_enough_tiles(batch: int, size: int, applies: bool) -> None:
    """Below `WINOGRAD_MIN_TILES` 2×2 output tiles over the batch the im2col product is
    faster (batch 1 of 8×8: 16 tiles), from there Winograd is."""
    layer = mg.Conv2D(32, 32, 3, padding=1, rng=0, dtype=np.float32)
    x = np.zeros((batch, 32, size, size), np.float32)
    windows = layer._windows((size, size))
    assert backend.has_conv_kernel(x, layer.weight.data, windows, 1) is applies


def test_winograd_gradients_match_finite_differences(winograd_calls: list[int]) -> None:
    check_layer(mg.Conv2D(32, 32, 3, padding=1, rng=0), np.zeros((2, 32, 3, 5)))
    assert winograd_calls


@pytest.mark.parametrize("kwargs", [
    dict(in_channels=16, out_channels=32, kernel_size=3, padding=1),  # too few channels
    dict(in_channels=32, out_channels=32, kernel_size=3, stride=2, padding=1),
    dict(in_channels=32, out_channels=32, kernel_size=3, dilation=2, padding=2),
    dict(in_channels=32, out_channels=32, kernel_size=3, groups=2, padding=1),
    dict(in_channels=32, out_channels=32, kernel_size=5, padding=2),
    dict(in_channels=32, out_channels=32, kernel_size=3, padding=3),
])
def test_winograd_only_where_it_applies(kwargs: dict, winograd_calls: list[int]) -> None:
    layer = mg.Conv2D(**kwargs, rng=0)
    x = np.random.default_rng(0).standard_normal((2, layer.in_channels, 7, 7))
    y = layer(x)
    layer.backward(np.ones(y.shape))
    assert winograd_calls == []


def test_fast_kernels_switch_is_restored() -> None:
    with pytest.raises(RuntimeError), fast_kernels(False):
        assert not convolution.kernels_enabled()
        raise RuntimeError
    assert convolution.kernels_enabled()


# -- PyTorch's own kernels on torch tensors ------------------------------------------------

TORCH_CONVS = [  # (layer, input shape)
    (lambda d: mg.Conv2D(4, 6, 3, stride=2, padding=1, rng=0, dtype=d), (2, 4, 9, 8)),
    (lambda d: mg.Conv2D(4, 6, (2, 4), padding="same", dilation=(2, 1), groups=2, rng=0,
                         dtype=d), (2, 4, 7, 9)),  # asymmetric "same" padding
    (lambda d: mg.Conv2D(3, 5, 3, stride=3, bias=False, rng=0, dtype=d), (1, 3, 10, 11)),
    (lambda d: mg.Conv2D(32, 32, 3, padding=1, rng=0, dtype=d), (1, 32, 5, 5)),
    (lambda d: mg.Conv1D(3, 5, 4, stride=2, padding=2, rng=0, dtype=d), (2, 3, 13)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make, shape", TORCH_CONVS)
def test_torch_convolutions_match_numpy(make: object, shape: tuple, dtype: type,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    calls: list[int] = []
    original = convolution._torch_convolve
    monkeypatch.setattr(convolution, "_torch_convolve",
                        lambda *a: calls.append(1) or original(*a))
    layer = make(dtype)  # type: ignore[operator]
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    grad = rng.standard_normal(layer(x).shape).astype(dtype)
    with fast_kernels(False):
        want = forward_backward(layer, x, grad)
    moved = copy.deepcopy(layer).to(torch)
    got = forward_backward(moved, torch.from_numpy(x), torch.from_numpy(grad))
    assert calls == [1]
    assert isinstance(got[0], torch.Tensor) and isinstance(got[1], torch.Tensor)
    compare(got, want, dtype)
    params_only = forward_backward(moved, torch.from_numpy(x), torch.from_numpy(grad),
                                   input_grad=False)
    compare(params_only, (want[0], None, want[2]), dtype)


POOLS = [  # (layer, input shape)
    (lambda: mg.MaxPool2D(2), (2, 3, 8, 8)),
    (lambda: mg.MaxPool2D(3, stride=2, padding=1), (2, 3, 9, 7)),  # overlapping, padded
    (lambda: mg.MaxPool2D((2, 3), stride=(1, 2)), (1, 2, 7, 9)),
    (lambda: mg.MaxPool1D(3, stride=2, padding=1), (2, 3, 11)),
]


@pytest.mark.parametrize("make, shape", POOLS)
def test_torch_max_pool_matches_numpy(make: object, shape: tuple,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    calls: list[int] = []
    original = pool_kernels.max_pool
    monkeypatch.setattr(pool_kernels, "max_pool", lambda *a: calls.append(1) or original(*a))
    layer = make()  # type: ignore[operator]
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).round(1)  # rounded: ties, which the first maximum wins
    grad = rng.standard_normal(layer(x).shape)
    y, dx, _ = forward_backward(layer, x, grad)
    which = layer.saved()[0]
    moved = copy.deepcopy(layer).to(torch)
    calls.clear()
    got = forward_backward(moved, torch.from_numpy(x), torch.from_numpy(grad))
    assert calls == [1] and moved.saved()[0].dtype == torch.int64  # PyTorch's, not the slices'
    np.testing.assert_array_equal(backend.to_numpy(got[0]), y)
    np.testing.assert_allclose(backend.to_numpy(got[1]), dx, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(backend.to_numpy(moved.saved()[0]), which)  # same offsets


TORCH_TRANSPOSED = [  # (arguments, input shape, PyTorch's kernel applies)
    (dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1),
     (2, 4, 5, 4), True),
    (dict(in_channels=4, out_channels=6, kernel_size=(2, 3), groups=2, dilation=2),
     (2, 4, 5, 6), True),
    (dict(in_channels=3, out_channels=5, kernel_size=3, stride=3, bias=False), (1, 3, 4, 3), True),
    # output_padding >= stride (allowed below the dilation): not PyTorch's symmetric case
    (dict(in_channels=2, out_channels=2, kernel_size=3, stride=2, dilation=3, output_padding=2),
     (1, 2, 3, 3), False),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs, shape, applies", TORCH_TRANSPOSED)
def test_torch_transposed_convolutions_match_numpy(kwargs: dict, shape: tuple, applies: bool,
                                                   dtype: type,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    calls: list[int] = []
    original = torch.nn.grad.conv2d_input
    monkeypatch.setattr(torch.nn.grad, "conv2d_input",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    layer = mg.ConvTranspose2D(**kwargs, rng=0, dtype=dtype)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(dtype)
    grad = rng.standard_normal(layer(x).shape).astype(dtype)
    want = forward_backward(layer, x, grad)
    moved = copy.deepcopy(layer).to(torch)
    got = forward_backward(moved, torch.from_numpy(x), torch.from_numpy(grad))
    assert (calls == [1]) == applies  # the forward is PyTorch's conv2d_input
    compare(got, want, dtype)
    compare(forward_backward(moved, torch.from_numpy(x), torch.from_numpy(grad),
                             input_grad=False), (want[0], None, want[2]), dtype)
