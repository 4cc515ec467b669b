"""Flatten(start_dim, end_dim) and Unflatten(dim, unflattened_size), as PyTorch's: the
shapes and values of every axis range, the gradient reshaped back, the default kept,
the batch axis left alone, and bad arguments refused."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import check_layer

SHAPE = (2, 3, 4, 5)
FLATTENS = [(1, -1), (2, -1), (1, 2), (2, 3), (-2, -1), (-3, -2), (3, 3), (1, 1), (2, -2)]


@pytest.mark.parametrize(("start", "end"), FLATTENS)
def test_flatten_matches_torch(start, end):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(SHAPE)
    layer = mg.Flatten(start, end)
    y = layer(x)
    want = torch.nn.Flatten(start, end)(torch.from_numpy(x)).numpy()
    assert y.shape == want.shape
    np.testing.assert_array_equal(y, want)
    g = np.arange(y.size, dtype=float).reshape(y.shape)
    np.testing.assert_array_equal(layer.backward(g), g.reshape(SHAPE))


def test_flatten_defaults_flatten_every_sample_axis():
    layer = mg.Flatten()
    assert (layer.start_dim, layer.end_dim) == (1, -1) and repr(layer) == "Flatten()"
    assert layer(np.zeros((2, 3, 4, 5))).shape == (2, 60)
    assert layer(np.zeros((2, 3))).shape == (2, 3)
    assert repr(mg.Flatten(2)) == "Flatten(start_dim=2, end_dim=-1)"


UNFLATTENS = [(1, (3, 4)), (1, (-1, 2)), (-1, (5, 1)), (2, (2, 2)), (-2, (1, 4, 1)),
              (3, (-1,))]


@pytest.mark.parametrize(("dim", "sizes"), UNFLATTENS)
def test_unflatten_matches_torch(dim, sizes):
    torch = pytest.importorskip("torch")
    shape = (2, 12, 4, 5)
    x = np.random.default_rng(1).standard_normal(shape)
    layer = mg.Unflatten(dim, sizes)
    y = layer(x)
    want = torch.nn.Unflatten(dim, sizes)(torch.from_numpy(x)).numpy()
    assert y.shape == want.shape
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(layer.backward(2 * y), 2 * x)


def test_unflatten_undoes_flatten():
    x = np.random.default_rng(2).standard_normal((3, 2, 3, 4))
    y = mg.Sequential(mg.Flatten(2), mg.Unflatten(2, (3, 4)))(x)
    np.testing.assert_array_equal(y, x)
    assert repr(mg.Unflatten(1, [2, -1])) == "Unflatten(dim=1, unflattened_size=(2, -1))"


@pytest.mark.parametrize("layer", [mg.Flatten(2), mg.Flatten(1, 2), mg.Flatten(-2, -1),
                                   mg.Unflatten(2, (2, 3)), mg.Unflatten(-1, (-1, 2))],
                         ids=repr)
def test_layer_contract(layer):
    check_layer(layer, np.random.default_rng(3).standard_normal((2, 3, 6)))


BAD_ARGUMENTS = [
    (lambda: mg.Flatten(0), "Flatten: start_dim must be an int other than 0 (the batch axis"),
    (lambda: mg.Flatten(1, 0), "Flatten: end_dim must be an int other than 0"),
    (lambda: mg.Flatten(1.0), "Flatten: start_dim must be an int other than 0"),
    (lambda: mg.Flatten(True), "Flatten: start_dim must be an int other than 0"),
    (lambda: mg.Flatten(3, 2), "Flatten: start_dim (3) must not come after end_dim (2)"),
    (lambda: mg.Flatten(-1, -2), "Flatten: start_dim (-1) must not come after end_dim (-2)"),
    (lambda: mg.Unflatten(0, (2, 3)), "Unflatten: dim must be an int other than 0"),
    (lambda: mg.Unflatten(1, ()), "Unflatten: unflattened_size must be ints >= 1 with at "
                                  "most one -1, got ()"),
    (lambda: mg.Unflatten(1, (-1, -1)), "Unflatten: unflattened_size must be ints >= 1"),
    (lambda: mg.Unflatten(1, (0, 3)), "Unflatten: unflattened_size must be ints >= 1"),
    (lambda: mg.Unflatten(1, 6), "Unflatten: unflattened_size must be ints >= 1"),
    (lambda: mg.Unflatten(1, (2.0, 3)), "Unflatten: unflattened_size must be ints >= 1"),
]


@pytest.mark.parametrize(("make", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_refused_at_construction(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_axes_the_input_lacks_are_refused_in_forward_naming_the_layer():
    x = np.zeros((2, 3, 4))
    for layer in (mg.Flatten(3), mg.Flatten(-3), mg.Flatten(2, -2), mg.Flatten(1, 5)):
        with pytest.raises(ValueError, match=re.escape(
                f"{layer!r} cannot flatten sample axes {layer.start_dim} to {layer.end_dim} "
                "of an input of shape (2, 3, 4)")):
            layer(x)
    for layer in (mg.Unflatten(1, (2, 2)), mg.Unflatten(1, (-1, 2)), mg.Unflatten(3, (4,)),
                  mg.Unflatten(-3, (1, 2))):
        with pytest.raises(ValueError, match=re.escape(
                f"{layer!r} cannot split axis {layer.dim} of an input of shape (2, 3, 4) "
                f"into {layer.unflattened_size}")):
            layer(x)
