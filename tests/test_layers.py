"""Core layers and Sequential: gradients, dtypes, mutation, sharing, in-place contracts."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.layer_contract import check_layer, gradcheck, numerical_gradient

SHAPES = [(1, 1), (3, 4), (7, 2), (16, 5)]


def test_numerical_gradient_matches_closed_form():
    x = np.array([[0.5, -1.5], [2.0, 3.0]])
    numeric = numerical_gradient(lambda: float(np.sum(np.sin(x))), x)
    np.testing.assert_allclose(numeric, np.cos(x), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "make",
    [
        lambda d: mg.Dense(d, 3, rng=0),
        lambda d: mg.Bias(),
        lambda d: mg.Sigmoid(),
        lambda d: mg.Identity(),
        lambda d: mg.Sequential(
            mg.Bias(), mg.Dense(d + 1, 4, rng=1), mg.Sigmoid(), mg.Bias(),
            mg.Dense(5, 2, rng=2), mg.Identity(),
        ),
    ],
    ids=["Dense", "Bias", "Sigmoid", "Identity", "Sequential"],
)
def test_layer_contract(make, shape):
    rng = np.random.default_rng(sum(shape))
    layer = make(shape[1])
    check_layer(layer, rng.standard_normal(shape) * 2)


def test_dense_backward_is_the_matrix_formula():
    rng = np.random.default_rng(0)
    layer = mg.Dense(4, 3, rng=rng)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(layer(x), x @ layer.weight.data)
    grad_x = layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, x.T @ g)
    np.testing.assert_allclose(grad_x, g @ layer.weight.data.T)


def test_sequential_gradient_by_direct_finite_differences():
    rng = np.random.default_rng(3)
    model = mg.Sequential(mg.Bias(), mg.Dense(3, 4, rng=rng), mg.Sigmoid(), mg.Dense(4, 2, rng=rng))
    x = rng.standard_normal((6, 2))
    target = rng.standard_normal((6, 2))
    loss = mg.MSELoss()
    w1, w2 = model[1].weight, model[3].weight

    def value_and_grads(x_arg, *_):
        model.zero_grad()
        value = loss(model(x_arg), target)
        grad_x = model.backward(loss.backward())
        return value, [grad_x, w1.grad, w2.grad]

    gradcheck(value_and_grads, x, w1.data, w2.data)


def test_bias_prepends_ones_and_drops_their_gradient():
    x = np.arange(6.0).reshape(3, 2)
    out = mg.Bias()(x)
    np.testing.assert_array_equal(out, np.hstack([np.ones((3, 1)), x]))
    layer = mg.Bias()
    layer(x)
    g = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(layer.backward(g), g[:, 1:])


@pytest.mark.parametrize("x", [-1e4, -745.0, -700.0, -40.0, -1.0, 0.0, 1.0, 40.0, 700.0, 1e4])
def test_sigmoid_is_stable_and_keeps_tiny_values(x):
    # Reference: exact to double precision via 1/(1+e^-x) or e^x/(1+e^x) in Python floats.
    import math

    if x >= 0:
        expected = 1 / (1 + math.exp(-x))
    else:
        expected = math.exp(x) / (1 + math.exp(x)) if x > -745.2 else 0.0
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = mg.Sigmoid()(np.array([[x]]))[0, 0]
    assert got == pytest.approx(expected, rel=1e-15, abs=0)


def test_sigmoid_float32_extremes_no_warning():
    x = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = mg.Sigmoid()(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y[0, [0, 2, 4]], np.float32([0, 0.5, 1]))
    assert 0 < y[0, 1] < 1e-40  # a float32 subnormal, not flushed to 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved_end_to_end(dtype):
    rng = np.random.default_rng(0)
    model = mg.Sequential(mg.Bias(), mg.Dense(3, 4, rng=rng, dtype=dtype), mg.Sigmoid(),
                          mg.Bias(), mg.Dense(5, 1, rng=rng, dtype=dtype), mg.Identity())
    x = rng.standard_normal((8, 2)).astype(dtype)
    pred = model(x)
    loss = mg.MSELoss()
    loss(pred, np.zeros((8, 1), dtype=dtype))
    grad_pred = loss.backward()
    grad_x = model.backward(grad_pred)
    mg.SGD(model.parameters(), lr=0.1).step()
    arrays = [pred, grad_pred, grad_x]
    arrays += [p.data for p in model.parameters()] + [p.grad for p in model.parameters()]
    arrays += [m.cache for m in model if isinstance(m.cache, np.ndarray)]
    assert all(a.dtype == dtype for a in arrays)


def test_int_and_bool_inputs_compute_in_the_layer_dtype():
    dense = mg.Dense(2, 2, rng=0, dtype=np.float32)
    assert dense(np.array([[1, 0]])).dtype == np.float32
    assert mg.Sigmoid()(np.array([[True, False]])).dtype == np.float64
    assert mg.Sigmoid()([[1, 2]]).dtype == np.float64


def test_backward_mutates_neither_gradient_nor_cache():
    rng = np.random.default_rng(1)
    model = mg.Sequential(mg.Bias(), mg.Dense(3, 3, rng=rng), mg.Sigmoid(), mg.Identity())
    x = rng.standard_normal((4, 2))
    x_copy = x.copy()
    model(x)
    caches = [m.cache.copy() for m in model if isinstance(m.cache, np.ndarray)]
    g = rng.standard_normal((4, 3))
    g_copy = g.copy()
    with mg.retain_graph():  # the caches stay, to be compared
        model.backward(g)
        model.backward(g)
    np.testing.assert_array_equal(g, g_copy)
    np.testing.assert_array_equal(x, x_copy)
    for cached, before in zip([m.cache for m in model if isinstance(m.cache, np.ndarray)], caches):
        np.testing.assert_array_equal(cached, before)


def test_same_layer_twice_in_sequential_sums_gradients():
    rng = np.random.default_rng(2)
    shared = mg.Dense(3, 3, rng=rng)
    model = mg.Sequential(shared, mg.Sigmoid(), shared)
    assert model.parameters() == [shared.weight]
    x = rng.standard_normal((5, 3))
    upstream = rng.standard_normal((5, 3))
    w = shared.weight.data
    # Closed form: y = σ(x W) W ; dL/dW = x.T @ (σ' ⊙ (G W.T)) + σ(xW).T @ G
    h = 1 / (1 + np.exp(-(x @ w)))
    expected = x.T @ (h * (1 - h) * (upstream @ w.T)) + h.T @ upstream
    np.testing.assert_allclose(model(x), h @ w)
    model.backward(upstream)
    np.testing.assert_allclose(shared.weight.grad, expected, rtol=1e-12)
    check_layer(model, x)


def test_shared_sub_sequential_used_twice():
    rng = np.random.default_rng(4)
    block = mg.Sequential(mg.Dense(2, 2, rng=rng), mg.Sigmoid())
    model = mg.Sequential(block, mg.Dense(2, 2, rng=rng), block)
    check_layer(model, rng.standard_normal((3, 2)))


def test_sequential_container_protocol_and_repr():
    dense = mg.Dense(4, 3, rng=0)
    model = mg.Sequential(mg.Bias(), dense, mg.Sigmoid())
    assert len(model) == 3
    assert list(model)[1] is dense
    assert model[1].weight is dense.weight
    assert model[-1].__class__ is mg.Sigmoid
    assert isinstance(model[0:2], mg.Sequential) and len(model[0:2]) == 2
    assert repr(model) == "Sequential(\n  (0): Bias()\n  (1): Dense(4→3)\n  (2): Sigmoid()\n)"
    nested = mg.Sequential(model, mg.Identity())
    assert "    (1): Dense(4→3)" in repr(nested)
    assert [name for name, _ in nested.named_parameters()] == ["0.1.weight"]


def test_parameter_free_layers_have_no_parameters():
    for layer in (mg.Bias(), mg.Sigmoid(), mg.Identity()):
        assert layer.parameters() == []


def test_dense_init_is_deterministic_given_rng_and_default_is_glorot():
    a = mg.Dense(50, 40, rng=np.random.default_rng(7)).weight.data
    b = mg.Dense(50, 40, rng=np.random.default_rng(7)).weight.data
    np.testing.assert_array_equal(a, b)
    bound = np.sqrt(6 / 90)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound


def test_library_never_touches_global_rng():
    state = np.random.get_state()
    mg.Dense(3, 3)
    mg.Dense(3, 3, init=mg.init.normal(0.1))
    after = np.random.get_state()
    assert np.array_equal(state[1], after[1]) and state[2] == after[2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_both_routes_agree(dtype):
    # One very negative entry sends the whole array down the overflow-free route.
    x = np.random.default_rng(5).uniform(-60, 60, size=(50, 40)).astype(dtype)
    direct = mg.Sigmoid()(x)
    x_with_extreme = x.copy()
    x_with_extreme[0, 0] = -1e4
    general = mg.Sigmoid()(x_with_extreme)
    np.testing.assert_allclose(direct.ravel()[1:], general.ravel()[1:],
                               rtol=4 * np.finfo(dtype).eps, atol=0)
    assert general[0, 0] == 0 and np.isnan(mg.Sigmoid()(np.array([[np.nan, 1.0]]))[0, 0])


def test_parameters_in_lists_and_dicts_are_discovered():
    class Blocks(mg.Layer[None]):
        def __init__(self):
            self.blocks = [mg.Dense(2, 2, rng=0), mg.Dense(2, 2, rng=1)]
            self.extra = {"scale": mg.Parameter(np.ones((1, 2)), name="scale")}

        def forward(self, x):
            for block in self.blocks:
                x = block.forward(x)
            return x * self.extra["scale"].data

        def backward(self, grad_out):
            raise NotImplementedError

    layer = Blocks()
    assert [name for name, _ in layer.named_parameters()] == [
        "extra.scale", "blocks.0.weight", "blocks.1.weight"]
    assert [name for name, _ in layer.named_children()] == ["blocks.0", "blocks.1"]
    layer.eval()
    assert not layer.blocks[1].training
    assert set(layer.state_dict()) == {"extra.scale", "blocks.0.weight", "blocks.1.weight"}


def test_a_parameter_added_after_building_a_sequential_still_trains():
    class Scale(mg.Layer[np.ndarray]):
        def forward(self, x):
            self.cache = x
            return x * self.s.data if hasattr(self, "s") else x

        def backward(self, grad_out):
            x = self.saved()
            if hasattr(self, "s"):
                self.s.grad += (grad_out * x).sum(axis=0)
                return grad_out * self.s.data
            return grad_out

    scale = Scale()
    model = mg.Sequential(scale, mg.Dense(2, 1, rng=0))
    scale.s = mg.Parameter(np.ones(2), name="s")
    opt = mg.SGD(model.parameters(), lr=0.1)
    loss = mg.MSELoss()
    loss(model(np.ones((3, 2))), np.full((3, 1), 5.0))
    opt.zero_grad()
    model.backward_params(loss.backward())
    assert np.all(scale.s.grad != 0)


def test_parameter_walk_is_linear_in_nesting_depth():
    # Each level's first layer is a Sequential: a walk that re-walked children to find
    # the first trainable layer would double its work per level.
    calls = 0
    dense = mg.Dense(2, 2, rng=0)
    walk = dense._walk_parameters

    def counting(prefix):
        nonlocal calls
        calls += 1
        return walk(prefix)

    dense._walk_parameters = counting
    model = dense
    for _ in range(10):
        model = mg.Sequential(model, mg.Identity())
    calls = 0
    assert len(model.parameters()) == 1
    assert calls == 1


def test_sigmoid_of_an_empty_array_and_against_torch():
    from minigrad.backend import sigmoid

    assert sigmoid(np.zeros((0, 3))).shape == (0, 3)
    torch = pytest.importorskip("torch")
    # Where torch's sigmoid is exact: it rounds σ(x) to 0 once e^-x overflows, about
    # -709 (float64) and -88 (float32), where minigrad keeps the tiny values (tested above
    # against math.exp).
    for dtype, reach in ((np.float64, 700), (np.float32, 80)):
        xd = np.concatenate([np.linspace(-reach, reach, 3001), [-1e4, 1e4, 0.0]])
        xd = xd.reshape(1, -1).astype(dtype)
        expected = torch.sigmoid(torch.from_numpy(xd)).numpy()
        np.testing.assert_allclose(mg.Sigmoid()(xd), expected, rtol=4 * np.finfo(dtype).eps,
                                   atol=0)
