"""`mg.testing` catches broken layers, with messages that say what and where."""

from __future__ import annotations

import re

import numpy as np
import pytest
from typing_extensions import override

import minigrad as mg
from minigrad.core import as_batch, as_grad
from minigrad.testing.layer_contract import check_layer, gradcheck

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


class ReusedBufferSquare(mg.Layer):
    """y = x², writing x into an array kept from the previous forward (breaks sharing)."""

    def __init__(self):
        self.x = np.zeros((0, 0))

    @override
    def forward(self, x):
        x = as_batch(self, x)
        if self.x.shape != x.shape:
            self.x = np.empty_like(x)
        self.x[...] = x  # in place: every stash holds this same array
        return x**2

    @override
    def backward(self, grad_out):
        return as_grad(self, grad_out, self.x.shape, self.x.dtype) * 2 * self.x


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
    (ReusedBufferSquare(), [X], "stash/unstash: backward after unstash() did not match "
     "the stashed forward: a later forward changed, in place, state an earlier one kept"),
    (UpcastingScale(), [X], "float32: float32 model and input gave a float64 output; look "
     "for float64 constants or arrays it computes with (UpcastingScale().scale"),
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


# -- fair judgement: correct plain-style layers pass, whatever ran before ---------------


class AttributeSquare(mg.Layer):
    """y = x², keeping x in an ordinary attribute: correct (and shareable)."""

    def forward(self, x):
        self.x = as_batch(self, x)
        return self.x**2

    def backward(self, grad_out):
        return as_grad(self, grad_out, self.x.shape, self.x.dtype) * 2 * self.x


def test_an_attribute_state_layer_passes_even_after_it_has_run():
    layer = AttributeSquare()
    check_layer(layer, X)  # its backward-before-forward raises AttributeError: a refusal
    layer(X)
    check_layer(layer, X)  # a copy with the forward's attributes deleted still refuses
    assert np.array_equal(layer.x, X)  # and the layer itself is untouched


class Scale(mg.Layer):
    """y = x ⊙ w (per feature); ``input_grad_ignores_w`` is the bug ``return g``."""

    def __init__(self, width, input_grad_ignores_w=False):
        self.w = mg.Parameter(np.ones(width), "w")
        self.buggy = input_grad_ignores_w

    def forward(self, x):
        self.cache = as_batch(self, x)
        return self.cache * self.w.data

    def backward(self, grad_out):
        x = self.saved()
        g = as_grad(self, grad_out, x.shape, x.dtype)
        self.w.grad += (g * x).sum(axis=0)
        return g if self.buggy else g * self.w.data


class LayerNormLike(mg.Layer):
    """y = γ ⊙ x̂ + β, x̂ = (x − μ)/σ per row; the bug: dL/dx̂ = G instead of G ⊙ γ."""

    def __init__(self, width):
        self.gamma = mg.Parameter(np.ones(width), "gamma")
        self.beta = mg.Parameter(np.zeros(width), "beta")

    def forward(self, x):
        x = as_batch(self, x)
        mu, sigma = x.mean(axis=1, keepdims=True), np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
        self.cache = xhat, sigma = (x - mu) / sigma, sigma
        return self.gamma.data * xhat + self.beta.data

    def backward(self, grad_out):
        xhat, sigma = self.saved()
        self.gamma.grad += (grad_out * xhat).sum(axis=0)
        self.beta.grad += grad_out.sum(axis=0)
        d = grad_out  # should be grad_out * self.gamma.data
        return (d - d.mean(axis=1, keepdims=True)
                - xhat * (d * xhat).mean(axis=1, keepdims=True)) / sigma


def test_bugs_hidden_at_the_initial_parameter_values_are_caught():
    check_layer(Scale(3), X)
    message = failure(Scale(3, input_grad_ignores_w=True), X)
    assert "finite differences: gradient of input: analytic and numeric" in message
    message = failure(LayerNormLike(3), X)
    assert "finite differences: gradient of input: analytic and numeric" in message
    # At the initial values (ones) the first bug is invisible: randomization finds it.
    check_layer(Scale(3, input_grad_ignores_w=True), X, randomize=False)


def test_randomized_values_never_reach_the_layer():
    layer = LayerNormLike(3)
    with pytest.raises(AssertionError):
        check_layer(layer, X)
    np.testing.assert_array_equal(layer.gamma.data, np.ones(3))
    np.testing.assert_array_equal(layer.beta.data, np.zeros(3))
    assert not layer.gamma.grad.any()


class CacheScribblingSigmoid(mg.Sigmoid):
    """Backward computes y(1 − y) in place, into the cached output."""

    @override
    def backward(self, grad_out):
        y = self.saved()
        y *= 1 - y
        return grad_out * y


def test_a_backward_writing_into_its_cache_is_named_as_such():
    message = failure(CacheScribblingSigmoid(), X)
    assert "cache mutation: backward() modified state its forward kept (an array of " \
        "shape (4, 3))" in message


GELU_C = np.sqrt(2 / np.pi)  # a NumPy float64 scalar: it promotes float32 arrays


class TanhGelu(mg.Layer):
    """GELU, tanh form, correct but for the float64 module-level constant."""

    def forward(self, x):
        x = as_batch(self, x)
        t = np.tanh(GELU_C * (x + 0.044715 * x**3))
        self.cache = x, t
        return 0.5 * x * (1 + t)

    def backward(self, grad_out):
        x, t = self.saved()
        dt = (1 - t**2) * GELU_C * (1 + 3 * 0.044715 * x**2)
        return grad_out * (0.5 * (1 + t) + 0.5 * x * dt)


def test_float64_promotion_points_at_the_constant():
    message = failure(TanhGelu(), X)
    assert "float32: float32 model and input gave a float64 output" in message
    assert f"({__name__}.GELU_C)" in message
    assert "NumPy promotes float32 arrays with NumPy float64 scalars" in message


class Lookup(mg.Layer):
    """Embedding: ids (N, T) -> the rows of W, flattened to (N, T·D).

    dL/dW[v] = Σ over the positions holding id v of G there: one matmul with the
    one-hot matrix of the ids. ``wrong_rows`` is a bug: each id's gradient lands on the
    row after it."""

    def __init__(self, vocabulary, width, wrong_rows=False, rng=0):
        weight = np.random.default_rng(rng).standard_normal((vocabulary, width))
        self.weight = mg.Parameter(weight, "weight")
        self.wrong_rows = wrong_rows

    def forward(self, ids):
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu" or ids.ndim != 2:
            raise TypeError(f"{self!r} expected a 2-D integer array of ids, got {ids.dtype}")
        self.cache = ids
        return self.weight.data[ids].reshape(len(ids), -1)

    def backward(self, grad_out):
        ids = self.saved()
        vocabulary, width = self.weight.shape
        rows = (ids.reshape(-1) + self.wrong_rows) % vocabulary
        one_hot = np.arange(vocabulary)[:, None] == rows  # (V, N·T)
        self.weight.grad += one_hot @ grad_out.reshape(-1, width)
        return np.zeros(ids.shape)  # ids have no gradient


IDS = np.array([[0, 2, 2], [1, 0, 3]])


def test_an_integer_input_layer_is_checked_over_its_parameters():
    check_layer(Lookup(4, 2), IDS)
    message = failure(Lookup(4, 2, wrong_rows=True), IDS)
    assert "finite differences: gradient of parameter 'weight'" in message


def test_finite_differences_cost_a_few_forwards_per_tensor_not_one_per_element():
    class Counting(mg.Dense):
        forwards = 0

        @override
        def forward(self, x):
            type(self).forwards += 1
            return super().forward(x)

    check_layer(Counting(64, 32, rng=0), np.ones((8, 64)))
    # 2 directions + 3 coordinates, ± each, per tensor (input, weight), and a few more
    # passes for the other checks -- against 2 × (512 + 2048) for one per element.
    assert Counting.forwards <= 40


# -- check_layer(..., backends=...): portability ---------------------------------------


class Cube(mg.Layer):
    """A user layer written for every backend: ``y = x³ · w``, with the namespace."""

    def __init__(self) -> None:
        self.weight = mg.Parameter(np.array([0.5, -1.0, 2.0]), name="weight")

    def forward(self, x):
        xp = mg.backend.namespace(x)
        self.cache = x
        return xp.pow(x, 3.0) * self.weight.data

    def backward(self, grad_out):
        x = self.saved()
        xp = mg.backend.namespace(x)
        self.weight.grad += xp.sum(grad_out * xp.pow(x, 3.0), axis=0)
        return 3.0 * x * x * grad_out * self.weight.data


class NumpyCube(Cube):
    """The same layer written with NumPy calls: right on NumPy, not portable."""

    def forward(self, x):
        self.cache = x
        return np.power(x, 3) * self.weight.data

    def backward(self, grad_out):
        x = self.saved()
        self.weight.grad += (grad_out * x ** 3).sum(axis=0)
        return 3 * np.square(x) * grad_out * self.weight.data


@pytest.mark.parametrize("lib_name", ["array_api_strict", "torch"])
def test_check_layer_on_backends_passes_a_portable_layer(lib_name):
    lib = pytest.importorskip(lib_name)
    check_layer(Cube(), np.linspace(-1, 1, 12).reshape(4, 3), backends=(lib,))
    check_layer(mg.Sequential(mg.Dense(3, 3, rng=0), Cube(), mg.Tanh()),
                np.linspace(-1, 1, 12).reshape(4, 3), backends=(lib,))


def test_check_layer_on_backends_names_a_numpy_only_layer():
    strict = pytest.importorskip("array_api_strict")
    check_layer(NumpyCube(), np.ones((4, 3)))  # correct on NumPy
    with pytest.raises(AssertionError, match=r"check_layer\(NumpyCube\(\)\) -- backends: not "
                       r"portable on array_api_strict: .* uses a NumPy-only call.*"
                       r"xp = minigrad\.backend\.namespace\(x\)"):
        check_layer(NumpyCube(), np.ones((4, 3)), backends=(strict,))


def test_check_layer_on_backends_catches_a_wrong_result_there():
    strict = pytest.importorskip("array_api_strict")

    class Drifting(Cube):  # right on NumPy, off by 1e-6 elsewhere
        def forward(self, x):
            y = super().forward(x)
            return y if type(x) is np.ndarray else y + 1e-6

    with pytest.raises(AssertionError, match=r"on array_api_strict, its output differs from "
                                             r"NumPy's"):
        check_layer(Drifting(), np.ones((4, 3)), backends=(strict,))
