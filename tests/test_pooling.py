"""Pooling, Flatten and Reshape against PyTorch (float64): forward and input gradient,
first-max ties, padding, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")
F = torch.nn.functional


def against_torch(layer: mg.Layer, reference, x: np.ndarray) -> None:
    xt = torch.tensor(x, requires_grad=True)
    expected = reference(xt)
    y = layer(x)
    np.testing.assert_allclose(y, expected.detach().numpy(), rtol=0, atol=1e-12)
    g = np.random.default_rng(0).standard_normal(y.shape)
    expected.backward(torch.from_numpy(g))
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=0, atol=1e-12)


CASES = [((2,), None, 0), ((3,), (2,), (1,)), ((2, 3), (1, 2), (1, 0)), ((3,), (1,), (1,))]


@pytest.mark.parametrize(("kernel", "stride", "padding"), CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool2d_matches_torch(kind, kernel, stride, padding):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6))
    kernel2 = kernel * 2 if len(kernel) == 1 else kernel
    stride2 = None if stride is None else (stride * 2 if len(stride) == 1 else stride)
    padding2 = padding if isinstance(padding, int) else (
        padding * 2 if len(padding) == 1 else padding)
    ours = (mg.MaxPool2D if kind == "max" else mg.AvgPool2D)(kernel2, stride2, padding2)
    theirs = (torch.nn.MaxPool2d if kind == "max" else torch.nn.AvgPool2d)(
        kernel2, stride2, padding2)
    against_torch(ours, theirs, x)


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(2, None, 0), (3, 2, 1), (3, 1, 1)])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool1d_matches_torch(kind, kernel, stride, padding):
    x = np.random.default_rng(2).standard_normal((2, 3, 9))
    ours = (mg.MaxPool1D if kind == "max" else mg.AvgPool1D)(kernel, stride, padding)
    theirs = (torch.nn.MaxPool1d if kind == "max" else torch.nn.AvgPool1d)(
        kernel, stride, padding)
    against_torch(ours, theirs, x)


@pytest.mark.parametrize(("kernel", "stride"), [(2, None), (3, 1), (2, 1)])
def test_max_pool_ties_go_to_the_first_maximum_like_torch(kernel, stride):
    # Integers in {0, 1, 2}: most windows hold several equal maxima.
    x = np.random.default_rng(3).integers(0, 3, (2, 2, 6, 6)).astype(np.float64)
    against_torch(mg.MaxPool2D(kernel, stride), torch.nn.MaxPool2d(kernel, stride), x)
    ones = np.ones((1, 1, 4, 4))
    pool = mg.MaxPool2D(2)
    pool(ones)
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 2, 2)))[0, 0],
                                  [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


def test_max_pool_propagates_nan_like_torch():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    against_torch(mg.MaxPool2D(2), torch.nn.MaxPool2d(2), x)


def test_global_avg_pool_flatten_reshape_match_torch():
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5))
    against_torch(mg.GlobalAvgPool2D(), lambda t: t.mean(dim=(2, 3)), x)
    against_torch(mg.Flatten(), torch.nn.Flatten(), x)
    against_torch(mg.Reshape(5, -1), lambda t: t.reshape(2, 5, -1), x)
    against_torch(mg.Reshape(60), lambda t: t.reshape(2, 60), x)


def test_pooling_keeps_float32():
    x = np.random.default_rng(5).standard_normal((2, 2, 4, 4)).astype(np.float32)
    for layer in (mg.MaxPool2D(2), mg.AvgPool2D(2, padding=1), mg.GlobalAvgPool2D()):
        y = layer(x)
        assert y.dtype == np.float32
        assert layer.backward(np.ones_like(y)).dtype == np.float32


@pytest.mark.parametrize(("make", "message"), [
    (lambda: mg.MaxPool2D(0), "MaxPool2D: kernel_size must be >= 1, got 0"),
    (lambda: mg.AvgPool2D(2, stride=0), "AvgPool2D: stride must be >= 1, got 0"),
    (lambda: mg.MaxPool1D(2.0), "MaxPool1D: kernel_size must be an int or a tuple of 1 ints"),
    (lambda: mg.MaxPool2D(2, padding=2), "MaxPool2D: padding (2, 2) must be at most half the "
                                         "(dilated) kernel size, (1, 1)"),
    (lambda: mg.Reshape(), "Reshape: sample_shape must be ints >= 1 with at most one -1"),
    (lambda: mg.Reshape(-1, -1), "Reshape: sample_shape must be ints >= 1"),
    (lambda: mg.Reshape(0), "Reshape: sample_shape must be ints >= 1"),
])
def test_bad_arguments(make, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        make()


def test_bad_inputs_name_the_layer_and_numbers():
    with pytest.raises(ValueError, match=re.escape(
            "MaxPool2D(kernel_size=(2, 2)) expected input of shape (batch, channels, height, "
            "width), got (2, 4, 4)")):
        mg.MaxPool2D(2)(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=re.escape(
            "AvgPool2D(kernel_size=(3, 3)): the input of spatial size 5×2 gives an output size "
            "0 < 1 on spatial axis 1 (the input after padding, 2, is smaller than the dilated "
            "kernel, 3)")):
        mg.AvgPool2D(3)(np.zeros((1, 1, 5, 2)))
    with pytest.raises(ValueError, match=re.escape(
            "Reshape(4, 4) cannot reshape samples of shape (3, 5) (15 values) to (4, 4)")):
        mg.Reshape(4, 4)(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match=re.escape(
            "Reshape(4, -1) cannot reshape samples of shape (3, 5) (15 values) to (4, -1)")):
        mg.Reshape(4, -1)(np.zeros((2, 3, 5)))
    flat = mg.Flatten()
    flat(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=re.escape(
            "Flatten().backward expected a gradient of shape (2, 12)")):
        flat.backward(np.zeros((2, 3, 4)))
