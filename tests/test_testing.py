"""`mg.testing` catches broken layers, with messages that say what and where."""

from __future__ import annotations

import re

import numpy as np
import pytest
from typing_extensions import override

import minigrad as mg
from minigrad.base import as_batch, as_grad
from minigrad.testing import check_layer, gradcheck

X = np.random.default_rng(0).standard_normal((4, 3))


class WrongSigmoid(mg.Sigmoid):
    """Backward forgets the (1 − y) factor."""

    @override
    def backward(self, grad_out):
        return grad_out * self.saved()


class ForgetfulDense(mg.Dense):
    """Backward returns dL/dx but never touches the weight's gradient."""

    @override
    def backward(self, grad_out):
        self.saved()
        return grad_out @ self.weight.data.T


class OverwritingDense(mg.Dense):
    """Backward assigns the weight gradient instead of accumulating it."""

    @override
    def backward(self, grad_out):
        x = self.saved()
        self.weight.grad[...] = x.T @ grad_out
        return grad_out @ self.weight.data.T


class MutatingSigmoid(mg.Sigmoid):
    """Forward squashes its input in place."""

    @override
    def forward(self, x):
        x = as_batch(self, x)
        np.tanh(x, out=x)
        return super().forward(x)


class GradMutatingIdentity(mg.Identity):
    """Backward doubles the incoming gradient in place."""

    @override
    def backward(self, grad_out):
        grad_out = as_grad(self, grad_out, *self.saved())
        grad_out *= 2.0
        return grad_out


class StatefulSquare(mg.Layer):
    """y = x², keeping x on self instead of in self.cache (breaks weight sharing)."""

    @override
    def forward(self, x):
        self.x = as_batch(self, x)
        self.cache = self.x.shape, self.x.dtype
        return self.x**2

    @override
    def backward(self, grad_out):
        return as_grad(self, grad_out, *self.saved()) * 2 * self.x


class UpcastingScale(mg.Layer):
    """y = 2x with a float64 constant: float32 inputs come out float64."""

    def __init__(self):
        self.scale = np.array([2.0])

    @override
    def forward(self, x):
        x = as_batch(self, x)
        self.cache = x.shape, x.dtype
        return x * self.scale

    @override
    def backward(self, grad_out):
        return as_grad(self, grad_out, *self.saved()) * self.scale


class CachelessIdentity(mg.Identity):
    """Backward never looks at the cache, so it runs before any forward."""

    @override
    def backward(self, grad_out):
        return np.asarray(grad_out)


class SwappedMultiply(mg.MergeLayer):
    """y = a ⊙ b, but backward hands each input the other's gradient."""

    @override
    def forward(self, *xs):
        a, b = (as_batch(self, x) for x in xs)
        self.cache = a, b
        return a * b

    @override
    def backward(self, grad_out):
        a, b = self.saved()
        return grad_out * a, grad_out * b  # should be (grad_out * b, grad_out * a)


class ShortAdd(mg.Add):
    """Backward returns one gradient fewer than it had inputs."""

    @override
    def backward(self, grad_out):
        return super().backward(grad_out)[:-1]


def failure(layer, *inputs):
    with pytest.raises(AssertionError) as info:
        check_layer(layer, *inputs)
    message = str(info.value)
    assert message.startswith(f"check_layer({layer!r}) -- ")
    return message


def parse_worst(message):
    match = re.search(r"worst at index \((\d+), (\d+)\): analytic (\S+), numeric (\S+) ", message)
    assert match, message
    i, j, analytic, numeric = match.groups()
    return (int(i), int(j)), float(analytic), float(numeric)


def test_wrong_backward_is_caught_with_the_worst_element():
    message = failure(WrongSigmoid(), X)
    assert "finite differences: gradient of input: analytic and numeric gradients differ" in message
    index, analytic, numeric = parse_worst(message)
    # The broken backward gives R·y, the true gradient is R·y·(1 − y): their ratio at
    # the reported index must be 1/(1 − y) there -- the index and both numbers are real.
    y = 1 / (1 + np.exp(-X[index]))
    assert analytic / numeric == pytest.approx(1 / (1 - y), rel=1e-5)


def test_forgotten_parameter_gradient_is_caught_and_named():
    message = failure(ForgetfulDense(3, 2, rng=0), X)
    assert "finite differences: gradient of parameter 'weight'" in message
    _, analytic, numeric = parse_worst(message)
    assert analytic == 0 and numeric != 0


@pytest.mark.parametrize(("layer", "inputs", "expected"), [
    (OverwritingDense(3, 2, rng=0), [X],
     "gradient accumulation: parameter 'weight': two backward passes did not add up"),
    (MutatingSigmoid(), [X], "input mutation: forward() modified its input array"),
    (GradMutatingIdentity(), [X], "gradient mutation: backward() modified its grad_out"),
    (StatefulSquare(), [X], "stash/unstash: backward after unstash() did not match the "
     "stashed forward; keep all forward state in self.cache"),
    (UpcastingScale(), [X], "float32: float32 model and input gave a float64 output"),
    (CachelessIdentity(), [X], "backward before forward: backward() did not raise"),
    (ShortAdd(), [X, X], "gradient count: backward() returned 1 gradients for 2 inputs"),
], ids=lambda value: type(value).__name__ if isinstance(value, mg.Module) else "")
def test_broken_layer_is_caught_by_the_check_it_breaks(layer, inputs, expected):
    assert expected in failure(layer, *inputs)


def test_merge_layer_gradients_are_checked_per_input():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    message = failure(SwappedMultiply(), a, b)
    assert "finite differences: gradient of input 0:" in message
    index, analytic, numeric = parse_worst(message)
    assert analytic / numeric == pytest.approx(a[index] / b[index], rel=1e-5)


def test_check_layer_misuse_is_a_type_error_not_a_failure():
    with pytest.raises(TypeError, match=re.escape("Dense(3→2) takes exactly 1 input, got 2")):
        check_layer(mg.Dense(3, 2, rng=0), X, X)
    with pytest.raises(TypeError, match=re.escape("Add() takes at least 2 inputs, got 1")):
        check_layer(mg.Add(), X)


def test_check_layer_leaves_the_layer_untouched():
    layer = mg.Dense(3, 2, rng=0)
    before = layer.weight.data.copy()
    check_layer(layer, X)
    np.testing.assert_array_equal(layer.weight.data, before)
    assert layer.cache is None and not layer.weight.grad.any()


def test_gradcheck_names_the_input_with_a_wrong_gradient():
    x, y = np.array([1.0, -2.0]), np.array([0.5, 3.0])

    def fn(a, b):  # f = Σ a³ + Σ a·b ; the b-gradient is deliberately off by one
        return float(np.sum(a**3 + a * b)), [3 * a**2 + b, a + 1]

    with pytest.raises(AssertionError, match=re.escape("gradient of input 1: analytic and")):
        gradcheck(fn, x, y)
    gradcheck(lambda a, b: (float(np.sum(a**3 + a * b)), [3 * a**2 + b, a]), x, y)
