"""PyTorch's further activations (issue 21) -- PReLU, ReLU6, Hardtanh, Hardsigmoid,
Hardswish, Threshold, Mish, SELU, CELU, Softsign, Tanhshrink, LogSigmoid, Softmin, GLU --
and Softplus with any beta and threshold PyTorch takes: forward and gradients against
PyTorch in float64 over grids through every kink and out to large magnitudes, PyTorch's
one-sided derivatives at the kinks, finite differences, extreme inputs without
floating-point warnings, and the errors for bad arguments."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import check_layer

KINKS = [-6.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.1, 0.5, 1.0, 2.0, 3.0, 6.0]
LARGE = [-1e4, -700.0, -100.0, -50.0, -30.0, -20.0, 20.0, 30.0, 50.0, 100.0, 700.0, 1e4]
GRID = np.concatenate([np.linspace(-8.0, 8.0, 641), KINKS, LARGE, [-1e-8, 1e-8, -1e-300]])
"""Every kink of the layers below (0, ±3, 6, the Hardtanh bounds -0.5 and 2, the
Threshold 0.1) exactly, the steep middle finely, and magnitudes where a naive formula
overflows or cancels."""


def torch_cases() -> dict[str, tuple[mg.Layer, object, np.ndarray]]:
    """name -> (minigrad layer, its PyTorch twin, input grid)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    grid = GRID[None, :].repeat(2, axis=0)
    moderate = grid[:, np.abs(GRID) < 500]  # CELU with α < 0 overflows beyond, as torch
    return {
        "ReLU6": (mg.ReLU6(), nn.ReLU6(), grid),
        "Hardtanh": (mg.Hardtanh(-0.5, 2.0), nn.Hardtanh(-0.5, 2.0), grid),
        "Hardtanh default": (mg.Hardtanh(), nn.Hardtanh(), grid),
        "Hardsigmoid": (mg.Hardsigmoid(), nn.Hardsigmoid(), grid),
        "Hardswish": (mg.Hardswish(), nn.Hardswish(), grid),
        "Threshold": (mg.Threshold(0.1, 20.0), nn.Threshold(0.1, 20.0), grid),
        "Threshold below": (mg.Threshold(-1.0, -5.0), nn.Threshold(-1.0, -5.0), grid),
        "Mish": (mg.Mish(), nn.Mish(), grid),
        "SELU": (mg.SELU(), nn.SELU(), grid),
        "CELU": (mg.CELU(), nn.CELU(), grid),
        # α with an exact reciprocal in float32: PyTorch's CELU passes 1/α as a float
        "CELU 2": (mg.CELU(2.0), nn.CELU(2.0), grid),
        "CELU negative": (mg.CELU(-0.5), nn.CELU(-0.5), moderate),
        "Softsign": (mg.Softsign(), nn.Softsign(), grid),
        "Tanhshrink": (mg.Tanhshrink(), nn.Tanhshrink(), grid),
        "LogSigmoid": (mg.LogSigmoid(), nn.LogSigmoid(), grid),
        "Softplus": (mg.Softplus(), nn.Softplus(), grid),
        "Softplus small threshold": (mg.Softplus(2.0, 0.5), nn.Softplus(2.0, 0.5), grid),
        "Softplus zero threshold": (mg.Softplus(0.5, 0.0), nn.Softplus(0.5, 0.0), grid),
        "Softplus negative": (mg.Softplus(-1.5, -1.0), nn.Softplus(-1.5, -1.0), grid),
        "Softmin": (mg.Softmin(), nn.Softmin(dim=-1), GRID[None, np.abs(GRID) < 30]),
    }


# PyTorch's autograd of x − tanh(x) computes 1 − (1 − tanh²x): its gradient is off by
# float64's rounding of 1 (1e-16) where tanh²x is tiny; minigrad's tanh²x is exact there.
GRAD_ATOL = {"Tanhshrink": 1e-15}


@pytest.mark.parametrize("name", ["ReLU6", "Hardtanh", "Hardtanh default", "Hardsigmoid",
                                  "Hardswish", "Threshold", "Threshold below", "Mish",
                                  "SELU", "CELU", "CELU 2", "CELU negative", "Softsign",
                                  "Tanhshrink", "LogSigmoid", "Softplus",
                                  "Softplus small threshold", "Softplus zero threshold",
                                  "Softplus negative", "Softmin"])
def test_forward_and_gradient_match_torch_through_kinks_and_large_inputs(name):
    torch = pytest.importorskip("torch")
    layer, reference, x = torch_cases()[name]
    g = np.random.default_rng(3).standard_normal(x.shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = reference(tx)
    ty.backward(torch.tensor(g))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = layer(x)
        grad = layer.backward(g)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-7, atol=1e-300)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-7,
                               atol=GRAD_ATOL.get(name, 1e-300))


KINK_SLOPES = [  # (layer, x, PyTorch's dy/dx there)
    (mg.ReLU6(), 0.0, 0.0), (mg.ReLU6(), 6.0, 0.0), (mg.ReLU6(), 3.0, 1.0),
    (mg.Hardtanh(-0.5, 2.0), -0.5, 0.0), (mg.Hardtanh(-0.5, 2.0), 2.0, 0.0),
    (mg.Hardsigmoid(), -3.0, 0.0), (mg.Hardsigmoid(), 3.0, 0.0),
    (mg.Hardswish(), -3.0, 0.0), (mg.Hardswish(), 3.0, 1.0), (mg.Hardswish(), 0.0, 0.5),
    (mg.Threshold(1.0, 5.0), 1.0, 0.0), (mg.Threshold(1.0, 5.0), 1.5, 1.0),
    (mg.PReLU(init=0.3), 0.0, 0.3), (mg.SELU(), 0.0, 1.0507009873554805 * 1.6732632423543772),
    (mg.CELU(2.0), 0.0, 1.0), (mg.Softplus(1.0, 0.5), 0.5, 1 / (1 + np.exp(-0.5))),
]


@pytest.mark.parametrize(("layer", "x", "slope"), KINK_SLOPES, ids=repr)
def test_one_sided_derivatives_at_the_kinks_are_pytorchs(layer, x, slope):
    torch = pytest.importorskip("torch")
    layer(np.array([[x]]))
    np.testing.assert_allclose(layer.backward(np.ones((1, 1)))[0, 0], slope, rtol=1e-15)
    twin = mg.export.to_torch(layer).double()
    tx = torch.tensor([[x]], dtype=torch.float64, requires_grad=True)
    twin(tx).sum().backward()
    np.testing.assert_allclose(tx.grad.item(), slope, rtol=3e-8)  # Hardsigmoid: 1/6 in f32


def test_hardsigmoid_just_below_3_has_pytorchs_slope_though_its_output_is_1():
    x = np.array([[np.nextafter(3.0, 0.0)]])
    layer = mg.Hardsigmoid()
    assert layer(x)[0, 0] == 1.0  # x + 3 rounds to 6
    assert layer.backward(np.ones((1, 1)))[0, 0] == 1 / 6  # x < 3: PyTorch's 1/6


@pytest.mark.parametrize(("count", "shape"), [(1, (4, 5)), (1, (2, 3, 4)), (3, (4, 3)),
                                              (3, (2, 3, 5)), (2, (2, 2, 3, 3))])
def test_prelu_matches_torch_with_its_weight_gradient(count, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(count + len(shape))
    layer = mg.PReLU(count)
    layer.weight.data[...] = rng.standard_normal(count)  # negative slopes too
    twin = torch.nn.PReLU(count).double()
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.weight.data))
    x = 3 * rng.standard_normal(shape)
    x.flat[::7] = 0.0  # the kink: PyTorch takes the w side
    x.flat[1] = -1e4
    g = rng.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = twin(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(layer(x), ty.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(layer.weight.grad, twin.weight.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(("dim", "shape"), [(-1, (3, 6)), (1, (2, 4, 3)), (2, (2, 3, 4, 2)),
                                            (-2, (2, 3, 4, 2))])
def test_glu_matches_torch_on_any_axis(dim, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shape))
    x = 10 * rng.standard_normal(shape)
    x.flat[0] = 1e4
    layer = mg.GLU(dim)
    y = layer(x)
    g = rng.standard_normal(y.shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.GLU(dim)(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("dim", [1, 2, -1])
def test_softmin_matches_torch_on_any_axis(dim):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(dim + 5)
    x, g = 5 * rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    layer = mg.Softmin(dim)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.Softmin(dim)(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(layer(x), ty.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


FINITE_DIFFERENCES = {
    "PReLU": (lambda: mg.PReLU(init=-0.4), (4, 5)),
    "PReLU channels": (lambda: mg.PReLU(3), (2, 3, 4)),
    "ReLU6": (mg.ReLU6, (4, 5)),
    "Hardtanh": (lambda: mg.Hardtanh(-0.5, 2.0), (4, 5)),
    "Hardsigmoid": (mg.Hardsigmoid, (4, 5)),
    "Hardswish": (mg.Hardswish, (4, 5)),
    "Threshold": (lambda: mg.Threshold(0.1, 20.0), (4, 5)),
    "Mish": (mg.Mish, (4, 5)),
    "SELU": (mg.SELU, (4, 5)),
    "CELU": (lambda: mg.CELU(0.7), (4, 5)),
    "CELU negative": (lambda: mg.CELU(-1.3), (4, 5)),
    "Softsign": (mg.Softsign, (4, 5)),
    "Tanhshrink": (mg.Tanhshrink, (4, 5)),
    "LogSigmoid": (mg.LogSigmoid, (4, 5)),
    "Softmin": (lambda: mg.Softmin(1), (2, 3, 4)),
    "Softplus small threshold": (lambda: mg.Softplus(2.0, 0.5), (4, 5)),
    "Softplus negative": (lambda: mg.Softplus(-1.5, -1.0), (4, 5)),
    "GLU": (lambda: mg.GLU(-2), (2, 4, 3)),
}


@pytest.mark.parametrize("name", list(FINITE_DIFFERENCES))
def test_gradients_match_finite_differences(name):
    make, shape = FINITE_DIFFERENCES[name]
    check_layer(make(), 2 * np.random.default_rng(len(name)).standard_normal(shape))


EXTREMES = [mg.ReLU6(), mg.Hardtanh(), mg.Hardsigmoid(), mg.Hardswish(), mg.Threshold(0.0, 1.0),
            mg.Mish(), mg.SELU(), mg.CELU(0.5), mg.Softsign(), mg.Tanhshrink(), mg.LogSigmoid(),
            mg.Softmin(), mg.Softplus(), mg.Softplus(3.0, 1e6), mg.Softplus(-2.0, 1e6),
            mg.GLU(), "PReLU"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer", EXTREMES, ids=str)
def test_extreme_inputs_stay_finite_without_warnings(layer, dtype):
    """±1e4 and ±1e30 (whose results are all representable, in float32 too), with every
    floating-point error raising; a huge threshold keeps Softplus on its soft formula,
    where PyTorch's ``log1p(exp(βx))`` overflows."""
    x = np.array([[1e4, -1e4, 0.0, 1e30], [-1e30, 3.0, -3.0, 1e-30]], dtype=dtype)
    if layer == "PReLU":  # one of each dtype: PReLU computes in its weight's
        layer = mg.PReLU(init=-2.0, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = layer(x)
        grad = layer.backward(np.ones_like(y))
    assert y.dtype == dtype and grad.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(grad))


def test_large_inputs_give_the_limits():
    x = np.array([[1e4, -1e4, 800.0, -800.0]])
    np.testing.assert_array_equal(mg.Mish()(x), [[1e4, -0.0, 800.0, -0.0]])
    np.testing.assert_array_equal(mg.LogSigmoid()(x), [[-0.0, -1e4, -0.0, -800.0]])
    np.testing.assert_array_equal(mg.Softplus(threshold=1e9)(x), [[1e4, 0.0, 800.0, 0.0]])
    np.testing.assert_allclose(mg.SELU()(x)[0, 1], -1.0507009873554805 * 1.6732632423543772)
    layer = mg.Softsign()
    layer(np.array([[1e200]]))
    assert layer.backward(np.ones((1, 1)))[0, 0] == 0.0  # 1e-400 underflows, no overflow


@pytest.mark.parametrize("make", [mg.ReLU6, mg.Hardswish, mg.Mish, mg.SELU, mg.Softsign,
                                  lambda: mg.PReLU(2, dtype=np.float32), mg.GLU,
                                  mg.LogSigmoid, lambda: mg.Threshold(0.5, 2.0)])
def test_float32_in_float32_out(make):
    layer = make()
    x = np.random.default_rng(0).standard_normal((3, 2, 4)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


BAD_ARGUMENTS = [
    (lambda: mg.Hardtanh(1.0, 1.0), "Hardtanh: max_val must be greater than min_val"),
    (lambda: mg.Hardtanh(2.0, -1.0), "Hardtanh: max_val must be greater than min_val"),
    (lambda: mg.Hardtanh(float("nan"), 1.0), "Hardtanh: min_val must be a number"),
    (lambda: mg.Hardtanh(-1.0, "1"), "Hardtanh: max_val must be a number"),
    (lambda: mg.CELU(0.0), "CELU: alpha must be a finite nonzero number, got 0.0"),
    (lambda: mg.CELU(float("inf")), "CELU: alpha must be a finite nonzero number"),
    (lambda: mg.Softplus(beta=0), "Softplus: beta must be a finite nonzero number, got 0"),
    (lambda: mg.Softplus(beta=float("nan")), "Softplus: beta must be a finite nonzero"),
    (lambda: mg.Softplus(threshold=float("inf")), "Softplus: threshold must be a finite"),
    (lambda: mg.Softplus(threshold=True), "Softplus: threshold must be a finite number"),
    (lambda: mg.Threshold(float("nan"), 0.0), "Threshold: threshold must be a number"),
    (lambda: mg.Threshold(0.0, None), "Threshold: value must be a number"),
    (lambda: mg.PReLU(0), "PReLU: num_parameters must be an int >= 1, got 0"),
    (lambda: mg.PReLU(2.5), "PReLU: num_parameters must be an int >= 1"),
    (lambda: mg.PReLU(init=float("inf")), "PReLU: init must be a finite number"),
    (lambda: mg.PReLU(rng="seed"), "rng must be"),
    (lambda: mg.Softmin(0), "Softmin: dim must be a non-batch axis (an int, not 0), got 0"),
    (lambda: mg.Softmin(1.0), "Softmin: dim must be a non-batch axis"),
    (lambda: mg.GLU(0), "GLU: dim must be a non-batch axis (an int, not 0), got 0"),
    (lambda: mg.GLU("last"), "GLU: dim must be a non-batch axis"),
]


@pytest.mark.parametrize(("make", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_refused_at_construction(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_prelu_dtype_must_be_floating():
    with pytest.raises(TypeError, match=r"PReLU.*dtype must be a floating dtype"):
        mg.PReLU(dtype=np.int32)


def test_bad_inputs_are_refused_in_forward_naming_the_layer():
    with pytest.raises(ValueError, match=re.escape(
            "GLU(dim=-1) halves axis -1, which must be of even size; got size 5 in an "
            "input of shape (2, 5)")):
        mg.GLU()(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=re.escape(
            "GLU(dim=3) got an input of shape (2, 4, 2) without sample axis 3")):
        mg.GLU(3)(np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match=re.escape(
            "PReLU(num_parameters=3) expected input of shape (batch, 3, ...), got (2, 4, 5)")):
        mg.PReLU(3)(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=re.escape(
            "Softmin(dim=2): axis 2 is not a sample axis of an input of shape (2, 4)")):
        mg.Softmin(2)(np.zeros((2, 4)))


def test_reprs_show_the_options():
    assert repr(mg.PReLU()) == "PReLU()"
    assert repr(mg.PReLU(3, dtype=np.float32)) == "PReLU(num_parameters=3, dtype=float32)"
    assert repr(mg.ReLU6()) == "ReLU6()"
    assert repr(mg.Hardtanh(-2, 3)) == "Hardtanh(min_val=-2.0, max_val=3.0)"
    assert repr(mg.Threshold(0.5, 1)) == "Threshold(threshold=0.5, value=1.0)"
    assert repr(mg.CELU(2)) == "CELU(alpha=2.0)"
    assert repr(mg.Softmin(1)) == "Softmin(dim=1)"
    assert repr(mg.GLU()) == "GLU(dim=-1)"
    assert repr(mg.Softplus(-1, 0)) == "Softplus(beta=-1.0, threshold=0.0)"


def test_prelu_frozen_weight_gets_no_gradient_but_passes_one_through():
    layer = mg.PReLU(init=0.5)
    layer.requires_grad_(False)
    x = np.array([[-2.0, 3.0]])
    layer(x)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 2))), [[0.5, 1.0]])
    assert not layer.weight.grad.any()
    assert layer.channels == layer.num_parameters() == 1
