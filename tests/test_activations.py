"""ReLU, LeakyReLU, Tanh, Softmax and Dropout: the layer contract, PyTorch, extreme inputs,
and the training/evaluation modes."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.layer_contract import check_layer

SHAPES = [(1, 1), (3, 4), (7, 2), (16, 5)]

LAYERS = {
    "ReLU": mg.ReLU,
    "LeakyReLU": mg.LeakyReLU,
    "LeakyReLU(0.3)": lambda: mg.LeakyReLU(0.3),
    "Tanh": mg.Tanh,
    "Softmax": mg.Softmax,
    "Dropout(eval)": lambda: mg.Dropout(0.5, rng=0).eval(),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_layer_contract(make, shape):
    rng = np.random.default_rng(sum(shape))
    check_layer(make(), rng.standard_normal(shape) * 2)


def torch_references():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    return {
        "ReLU": (mg.ReLU(), F.relu),
        "LeakyReLU": (mg.LeakyReLU(), lambda x: F.leaky_relu(x, 0.01)),
        "LeakyReLU(0.3)": (mg.LeakyReLU(0.3), lambda x: F.leaky_relu(x, 0.3)),
        "Tanh": (mg.Tanh(), torch.tanh),
        "Softmax": (mg.Softmax(), lambda x: torch.softmax(x, dim=-1)),
        "Dropout(eval)": (mg.Dropout(0.5, rng=0).eval(), lambda x: F.dropout(x, 0.5, False)),
    }


@pytest.mark.parametrize("name", LAYERS.keys())
def test_forward_and_backward_match_torch(name):
    torch = pytest.importorskip("torch")
    layer, reference = torch_references()[name]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 5)) * 3
    x[0, :2] = 0.0  # the kink: PyTorch's convention at exactly 0
    g = rng.standard_normal((6, 5))
    tx = torch.tensor(x, requires_grad=True)
    ty = reference(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(layer(x), ty.detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [*LAYERS.values(), mg.Sigmoid], ids=[*LAYERS, "Sigmoid"])
def test_extreme_inputs_stay_finite_without_warnings(make, dtype):
    """Values and gradients at ±1e4 (the losses' twin: test_losses.py), with every
    floating-point error raising rather than warning."""
    layer = make()
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, 3.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = layer(x)
        grad = layer.backward(np.ones_like(y))
    assert y.dtype == dtype and grad.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(grad))


def test_extreme_values_are_the_limits():
    x = np.array([[1e4, -1e4, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(mg.ReLU()(x), [[1e4, 0, 0]])
    np.testing.assert_array_equal(mg.LeakyReLU(0.5)(x), [[1e4, -5e3, 0]])
    np.testing.assert_array_equal(mg.Tanh()(x), [[1, -1, 0]])
    np.testing.assert_array_equal(mg.Softmax()(x), [[1, 0, 0]])
    # Rows of equal huge logits share the mass equally.
    np.testing.assert_allclose(mg.Softmax()(np.full((1, 4), -1e4)), np.full((1, 4), 0.25))


@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU", "Tanh", "Softmax"])
def test_integer_input_computes_in_float64(name):
    y = LAYERS[name]()(np.array([[1, -2, 3]]))
    assert y.dtype == np.float64


def test_kinks_follow_pytorch():
    relu, leaky = mg.ReLU(), mg.LeakyReLU(0.2)
    zero = np.zeros((1, 1))
    relu(zero)
    leaky(zero)
    assert relu.backward(np.ones((1, 1)))[0, 0] == 0
    assert leaky.backward(np.ones((1, 1)))[0, 0] == 0.2


def test_relu_gradient_of_a_non_finite_upstream_gradient_is_pytorchs():
    """Where the output is 0, an inf or NaN upstream gradient gives 0 (PyTorch's
    threshold_backward), not the NaN of 0 · inf; where it is positive, it passes through."""
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, -1.0, 0.0, 2.0], [-3.0, 4.0, -5.0, 0.5]])
    g = np.array([[np.inf, np.inf, np.nan, np.nan], [-np.inf, 1.0, np.nan, 2.0]])
    relu = mg.ReLU()
    relu(x)
    tx = torch.tensor(x, requires_grad=True)
    torch.relu(tx).backward(torch.tensor(g))
    np.testing.assert_array_equal(relu.backward(g), tx.grad.numpy())
    assert relu.backward(g)[0, 1] == 0 and np.isnan(relu.backward(g)[0, 3])


def test_softmax_rows_are_probabilities_and_shift_invariant():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4)) * 10
    y = mg.Softmax()(x)
    np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-15)
    np.testing.assert_allclose(mg.Softmax()(x + rng.standard_normal((5, 1)) * 100), y,
                               rtol=1e-12)
    np.testing.assert_allclose(y, np.exp(x) / np.exp(x).sum(axis=1, keepdims=True), rtol=1e-13)


def test_softmax_backward_is_the_jacobian_product():
    rng = np.random.default_rng(2)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    layer = mg.Softmax()
    y = layer(x)
    expected = [(np.diag(row) - np.outer(row, row)) @ grow for row, grow in zip(y, g)]
    np.testing.assert_allclose(layer.backward(g), expected, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("slope", [-0.1, float("nan"), float("inf"), "0.1", True])
def test_leaky_relu_rejects_bad_slopes(slope):
    with pytest.raises(ValueError, match="LeakyReLU: negative_slope must be"):
        mg.LeakyReLU(slope)


# -- Dropout ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan"), "0.5", None, True])
def test_dropout_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match=r"Dropout: p must be a number in \[0, 1\)"):
        mg.Dropout(p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_scale_and_keep_rate(dtype):
    p = 0.3
    layer = mg.Dropout(p, rng=np.random.default_rng(0))
    x = np.ones((400, 250), dtype=dtype)  # 1e5 units: the keep rate's std is ~0.0015
    y = layer(x)
    assert y.dtype == dtype
    kept = y != 0
    np.testing.assert_array_equal(y[kept], dtype(1 / (1 - p)))
    assert kept.mean() == pytest.approx(1 - p, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.015)  # inverted dropout: E[y] = x
    # Kept units are independent of their position: rows and columns keep alike.
    assert np.abs(kept.mean(axis=0) - (1 - p)).max() < 0.15
    assert np.abs(kept.mean(axis=1) - (1 - p)).max() < 0.15


def test_dropout_backward_uses_the_forward_mask():
    rng = np.random.default_rng(3)
    layer = mg.Dropout(0.5, rng=rng)
    x = rng.standard_normal((20, 10)) + 5  # never 0, so y == 0 exactly where dropped
    y = layer(x)
    g = rng.standard_normal((20, 10))
    kept = y != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(y, np.where(kept, x * 2, 0), rtol=1e-15)
    np.testing.assert_allclose(layer.backward(g), np.where(kept, g * 2, 0), rtol=1e-15)
    # A later forward draws a new mask; backward follows the latest forward.
    y2 = layer(x)
    assert not np.array_equal(y2 != 0, kept)
    np.testing.assert_allclose(layer.backward(g), np.where(y2 != 0, g * 2, 0), rtol=1e-15)


def test_dropout_training_gradient_by_finite_differences():
    # With the mask fixed (a stashed forward), y is linear in x with the cached multiplier.
    rng = np.random.default_rng(4)
    layer = mg.Dropout(0.4, rng=rng)
    x = rng.standard_normal((5, 6))
    layer(x)
    multiplier = layer.saved()[0]
    g = rng.standard_normal((5, 6))
    mg.testing.gradcheck(lambda xx: (float(np.sum(xx * multiplier * g)), [layer.backward(g)]),
                         x.copy())


def test_a_dropout_used_twice_keeps_one_mask_per_use():
    drop = mg.Dropout(0.5, rng=8)
    shared = mg.Sequential(drop, mg.Tanh(), drop)
    # The same draws, from one generator, by two separate instances.
    stream = np.random.default_rng(8)
    separate = mg.Sequential(mg.Dropout(0.5, rng=stream), mg.Tanh(), mg.Dropout(0.5, rng=stream))
    rng = np.random.default_rng(8)
    x, g = rng.standard_normal((30, 6)), rng.standard_normal((30, 6))
    np.testing.assert_array_equal(shared(x), separate(x))
    assert not np.array_equal(separate[0].saved()[0], separate[2].saved()[0])
    np.testing.assert_array_equal(shared.backward(g), separate.backward(g))


def test_dropout_masks_are_deterministic_given_the_rng():
    x = np.ones((8, 8))
    a, b = mg.Dropout(0.5, rng=42), mg.Dropout(0.5, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a(x), b(x))
    np.testing.assert_array_equal(a(x), b(x))
    legacy = mg.Dropout(0.5, rng=np.random.RandomState(0))
    assert legacy(x).shape == (8, 8)


def test_dropout_is_the_identity_in_eval_mode_and_for_p_zero():
    x = np.random.default_rng(5).standard_normal((4, 3))
    g = np.ones((4, 3))
    for layer in (mg.Dropout(0.9, rng=0).eval(), mg.Dropout(0.0, rng=0)):
        np.testing.assert_array_equal(layer(x), x)
        np.testing.assert_array_equal(layer.backward(g), g)


def test_dropout_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        mg.Dropout(0.5).backward(np.ones((2, 2)))


def test_train_and_eval_propagate_through_sequential_and_drive_dropout():
    drop = mg.Dropout(0.5, rng=0)
    inner = mg.Sequential(mg.Dense(4, 4, rng=1), drop)
    model = mg.Sequential(inner, mg.ReLU(), mg.Dense(4, 2, rng=2))
    assert all(m.training for m in model.modules())
    x = np.random.default_rng(6).standard_normal((50, 4))

    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    np.testing.assert_array_equal(model(x), model(x))  # deterministic
    np.testing.assert_array_equal(drop(x), x)

    model.train()
    assert all(m.training for m in model.modules())
    assert not np.array_equal(model(x), model(x))  # fresh masks each call
    assert np.any(drop(x) == 0)

    model.train(False)
    assert not drop.training


def test_reprs():
    assert repr(mg.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(mg.Dropout(0.25)) == "Dropout(p=0.25)"


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_bad_input_and_gradients_raise_naming_the_layer(make):
    layer = make()
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}\(.*\) expected input of shape \(batch, "
                                         r"\.\.\., features\), got \(3,\)"):
        layer(np.zeros(3))
    with pytest.raises(TypeError, match=rf"{name}\(.*\) expected a real numeric input"):
        layer(np.array([["a"]]))
    layer(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=rf"{name}\(.*\)\.backward expected a gradient of "
                                         r"shape \(2, 2\) .* got \(3, 2\)"):
        layer.backward(np.zeros((3, 2)))
