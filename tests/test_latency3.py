"""The third round of `predict`-latency paths (issue 23) against what they stand in for:
a one-sample evaluation convolution on wide columns (`window_views.wide_columns`)
against `im2col`'s columns and the layer's reference product; ReLU against an array of
zeros (`backend.positive_part`, `zeros_as`) against PyTorch's ``relu`` bit for bit; and
`predict`'s `Evaluation`, which snapshots the model, sets evaluation mode and restores
both in one pass each way. Values and states, not timings (those are
benchmarks/inference_bench.py's)."""

from __future__ import annotations

import itertools
import platform

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from minigrad.backend import kernels, window_views
from minigrad.backend.convolution import fast_kernels
from minigrad.core.tree import Evaluation
from minigrad.layers.conv import windows
from minigrad.layers.conv.conv import _conv_windows

SIZES = {2: (7, 6), 3: (5, 6, 4)}


def stride1_geometries():
    """(dims, kernel, padding before, padding after, dilation, groups), stride 1."""
    for dims, kernel, pad, after, dilation, groups in itertools.product(
            (2, 3), (1, 2, 3), (0, 1, 2), (0, 1), (1, 2), (1, 2)):
        if dims == 3 and (kernel, dilation) == (3, 2):
            continue  # does not fit the 4-long axis at every padding
        yield dims, kernel, pad, pad + after, dilation, groups


def column_positions(out: window_views.WideOutput, matrix: np.ndarray) -> np.ndarray:
    """The column of the wide product that holds each output, in C order of the outputs
    (the strides are the product's: a product of ``matrix``'s dtype)."""
    columns = matrix.shape[2]
    index = np.arange(columns).astype(matrix.dtype).reshape(1, 1, columns)
    return window_views.from_wide_columns(index, out).ravel().astype(np.intp)


# -- wide columns ------------------------------------------------------------------------


@pytest.mark.parametrize("ones", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_columns_hold_im2cols_columns_bit_for_bit(ones, dtype):
    checked = 0
    for dims, kernel, before, after, dilation, groups in stride1_geometries():
        found = _conv_windows(SIZES[dims], (kernel,) * dims, (1,) * dims, (dilation,) * dims,
                              (before,) * dims, (after,) * dims, False)
        assert not isinstance(found, str)
        x = np.random.default_rng(checked).standard_normal((1, 4, *SIZES[dims])).astype(dtype)
        x = x[:, :, ::-1]  # a strided input too: read as it is
        heads = (groups, 4 // groups, *(w.kernel for w in found))
        want = np.full((*heads, 1, *(w.out for w in found)), np.nan, dtype)
        windows._fill_columns(want, x, found, groups, False)
        want = want.reshape(groups, -1, want[0, 0].size // kernel ** dims)
        made = window_views.wide_columns(x, found, groups, ones)
        assert made is not None
        matrix, out = made
        assert matrix.dtype == dtype and matrix.shape[2] % 8 == 0
        assert matrix.shape[:2] == (groups, want.shape[1] + ones)
        got = matrix[:, :want.shape[1], column_positions(out, matrix)]
        np.testing.assert_array_equal(got, want)
        if ones:
            assert (matrix[:, -1, :] == 1).all()
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_one_sample_eval_conv_gives_the_reference_output_to_rounding(dims, bias, dtype):
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    for kernel, padding, dilation, groups in itertools.product(
            (1, 3), (0, 1, "same"), (1, 2), (1, 2)):
        if dims == 3 and (kernel, dilation) == (3, 2) and padding == 0:
            continue
        conv = (mg.Conv2D, mg.Conv3D)[dims - 2](
            4, 6, kernel, padding=padding, dilation=dilation, groups=groups, bias=bias,
            rng=0, dtype=dtype)
        if bias:
            conv.bias.data[...] = np.arange(6, dtype=dtype)
        x = np.random.default_rng(1).standard_normal((1, 4, *SIZES[dims])).astype(dtype)
        conv.eval()
        y = conv(x)
        with fast_kernels(False):  # im2col's columns and the layer's own product
            want = conv(x)
        assert y.shape == want.shape and y.dtype == dtype
        scale = np.abs(conv.weight.data).sum() * np.abs(x).max() + 1  # a bound of any sum
        np.testing.assert_allclose(y, want, rtol=rtol, atol=rtol * scale)
        conv.train()  # training keeps the reference columns: the same numbers exactly
        with fast_kernels(False):
            want = conv(x)
        np.testing.assert_array_equal(conv(x), want)


def test_the_digits_cnns_layers_on_wide_columns_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for c, o, size in ((1, 32, 8), (32, 32, 8), (32, 64, 4)):
        conv = mg.Conv2D(c, o, 3, padding="same", rng=0, dtype=np.float32)
        conv.bias.data[...] = rng.standard_normal(o).astype(np.float32)
        conv.eval()
        x = rng.standard_normal((1, c, size, size)).astype(np.float32)
        y = conv(x)
        assert window_views.wide_columns(x, conv._windows((size, size)), 1, False) is not None
        want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(
            conv.weight.data), torch.from_numpy(conv.bias.data), padding=1).numpy()
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_wide_columns_leave_what_they_do_not_do_to_im2col():
    found = _conv_windows((6, 6), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), False)
    strided = _conv_windows((6, 6), (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), False)
    line = _conv_windows((6,), (3,), (1,), (1,), (1,), (1,), False)
    assert not isinstance(found, str) and not isinstance(strided, str)
    assert not isinstance(line, str)
    x = np.ones((1, 2, 6, 6))
    assert window_views.wide_columns(x, found, 1, False) is not None
    assert window_views.wide_columns(np.ones((2, 2, 6, 6)), found, 1, False) is None  # batch
    assert window_views.wide_columns(x, strided, 1, False) is None  # stride 2
    assert window_views.wide_columns(np.ones((1, 2, 6)), line, 1, False) is None  # one axis
    negative = (windows.Window(6, 3, 1, 1, -1, 2),) * 2  # a conv's dL/dx as a conv
    assert window_views.wide_columns(x, negative, 1, False) is None
    with fast_kernels(False):
        assert window_views.wide_columns(x, found, 1, False) is None
    torch = pytest.importorskip("torch")
    assert window_views.wide_columns(torch.ones(1, 2, 6, 6), found, 1, False) is None


def test_a_backward_after_a_one_sample_eval_forward_is_the_reference_one():
    conv = mg.Conv2D(3, 5, 3, padding=1, rng=0)
    x = np.random.default_rng(2).standard_normal((1, 3, 6, 6))
    g = np.random.default_rng(3).standard_normal((1, 5, 6, 6))
    conv.eval()
    conv(x)
    dx = conv.backward(g)
    grads = [p.grad.copy() for p in conv.parameters()]
    conv.zero_grad()
    with fast_kernels(False):
        conv(x)
        np.testing.assert_array_equal(conv.backward(g), dx)
    for param, want in zip(conv.parameters(), grads):
        np.testing.assert_array_equal(param.grad, want)


# -- ReLU against an array of zeros -------------------------------------------------------

SPECIAL = np.array([-0.0, 0.0, np.nan, -np.nan, -np.inf, np.inf, -1.5, 2.5, 1e-45, -1e-45])

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
"""Where the sign of ``relu(-0.0)`` is checked: `positive_part` orders ``maximum``'s
operands for x86's tie rule (``maxps``: the second operand), which PyTorch's CPU kernel
follows there; other processors' ``max`` instructions break a ±0 tie their own way."""


def relu_inputs(dtype):
    """Contiguous, channel-major, strided, reversed and large arrays of special values."""
    def filled(shape):
        return np.resize(SPECIAL.astype(dtype), shape)

    big = filled((3, 300, 20, 20))  # 360,000 > _ZERO_ELEMENTS: zeros broadcast outermost
    yield filled((10,))
    yield filled((2, 3, 4, 5))
    yield np.ascontiguousarray(filled((40, 3, 8, 8)).swapaxes(0, 1)).swapaxes(0, 1)
    yield big
    yield np.ascontiguousarray(big.swapaxes(0, 1)).swapaxes(0, 1)
    yield filled((40, 20, 12))[:, ::2, 1:]  # gaps
    yield filled((50, 100))[::-1]  # a negative stride: the scalar path
    record = np.zeros(5000, dtype=[("a", dtype), ("b", np.int8)])
    record["a"] = filled((5000,))
    yield record["a"]  # strides not whole elements: the scalar path


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_positive_part_is_pytorchs_relu_bit_for_bit(dtype):  # -0.0: each dtype's tie rule
    torch = pytest.importorskip("torch")
    for x in relu_inputs(dtype):
        y = backend.positive_part(x)
        want = torch.relu(torch.from_numpy(np.ascontiguousarray(x))).numpy()
        assert y.dtype == dtype and y.shape == x.shape
        np.testing.assert_array_equal(y, want)  # NaN where NaN
        if X86:
            np.testing.assert_array_equal(np.signbit(y), np.signbit(want))  # -0.0 stays -0.0
        if x.flags.c_contiguous or x.ndim == 4:  # contiguous, or a view of (C, N, ...)
            assert y.strides == np.maximum(x, 0.0).strides  # the layout np.maximum gives


def test_the_relu_layer_keeps_minus_zero_as_pytorch_and_its_gradient():
    torch = pytest.importorskip("torch")
    x = np.resize(SPECIAL, (64, 100))
    relu = mg.ReLU()
    y = relu(x)
    want = torch.nn.ReLU()(torch.from_numpy(x)).numpy()
    if X86:
        np.testing.assert_array_equal(np.signbit(y), np.signbit(want))
    np.testing.assert_array_equal(y, want)
    g = np.ones_like(x)
    np.testing.assert_array_equal(relu.backward(g), np.where(x > 0, 1.0, 0.0))


def test_the_zeros_are_read_only_zeros_in_the_inputs_layout():
    x = np.ascontiguousarray(np.ones((40, 3, 8, 8), np.float32).swapaxes(0, 1)).swapaxes(0, 1)
    zeros = kernels.zeros_as(x)
    assert zeros.shape == x.shape and zeros.strides == x.strides and not zeros.any()
    with pytest.raises(ValueError):
        zeros[0, 0, 0, 0] = 1  # one buffer shared by every call: never written
    big = np.ones((4, 300, 20, 20))
    zeros = kernels.zeros_as(big)
    assert zeros.strides[0] == 0 and zeros.strides[1:] == big.strides[1:]  # broadcast outer
    assert zeros.base.size <= kernels._ZERO_ELEMENTS
    assert kernels.zeros_as(np.ones((5, 5))[::-1]) == 0.0  # a negative stride: no array


# -- predict's Evaluation ------------------------------------------------------------------


SEEN: list[object] = []
"""What `Probe` saw (outside the model: its own per-use lists are restored by predict)."""


class Probe(mg.Layer):
    """Identity recording, at each forward, the cache its neighbour before it holds."""

    def __init__(self, before: mg.Layer) -> None:
        self.peek = lambda: before.cache  # not a member: ``before`` is no child of ours

    def forward(self, x):
        SEEN.append(self.peek())
        self.cache = x.shape
        return x

    def backward(self, grad_out):
        return grad_out


def test_predict_runs_in_evaluation_and_restores_the_pending_forwards_caches():
    first = mg.Dense(3, 4, rng=0)
    probe = Probe(first)
    model = mg.Sequential(first, probe, mg.Dropout(0.5, rng=0), mg.Dense(4, 2, rng=1))
    x = np.random.default_rng(0).standard_normal((5, 3))
    g = np.random.default_rng(1).standard_normal((5, 2))
    model(x)  # a pending forward, in training mode
    pending = [m.cache for m in model.modules()]
    SEEN.clear()
    out = mg.predict(model, x[:2])
    assert SEEN[0] is not pending[1] and SEEN[0] is not None  # predict's own forward
    assert all(m.cache is cache for m, cache in zip(model.modules(), pending))  # all back
    assert all(m.training for m in model.modules())
    model.zero_grad()
    dx = model.backward(g)  # the pending forward's backward, as if predict had not run
    grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model[2].rng = np.random.default_rng(0)  # the same dropout mask as the pending forward
    model(x)
    np.testing.assert_array_equal(model.backward(g), dx)
    for param, want in zip(model.parameters(), grads):
        np.testing.assert_array_equal(param.grad, want)
    model.eval()  # evaluation mode, as predict ran it: the same outputs
    np.testing.assert_array_equal(model(x[:2]), out)


class Failing(mg.Layer):
    def forward(self, x):
        self.cache = "set"
        self.extra = "set"
        raise ValueError("no")

    def backward(self, grad_out):
        return grad_out


def test_an_error_inside_predict_restores_the_model_and_the_flag():
    model = mg.Sequential(mg.Dense(2, 2, rng=0), Failing())
    model[0].eval()
    before = [dict(vars(m)) for m in model.modules()]
    with pytest.raises(ValueError, match="no"):
        mg.predict(model, np.ones((1, 2)))
    after = [dict(vars(m)) for m in model.modules()]
    for state in before + after:  # the modes as they were, on the instance or the class
        state.pop("training", None)
    assert after == before
    assert not model[0].training and model[1].training and model.training


class Lazy(mg.Layer):
    """Makes its weight at its first forward: a member assigned inside predict."""

    def forward(self, x):
        if not hasattr(self, "weight"):
            self.weight = mg.Parameter(np.ones(x.shape[1]), name="weight")
        self.cache = x
        return x * self.weight.data

    def backward(self, grad_out):
        return grad_out * self.weight.data


def test_a_member_made_inside_predict_stays_and_the_rest_is_restored():
    lazy = Lazy()
    model = mg.Sequential(mg.Dense(2, 3, rng=0), lazy)
    model(np.ones((4, 2)))  # the first forward made the weight ...
    del lazy.weight  # ... gone again: predict makes it anew
    cache = lazy.cache
    np.testing.assert_allclose(mg.predict(model, np.ones((1, 2))), model[0](np.ones((1, 2))))
    assert isinstance(lazy.weight, mg.Parameter)  # kept: a member, not per-use state
    assert lazy.cache is cache and all(m.training for m in model.modules())
    assert [name for name, _ in model.named_parameters()][-1] == "1.weight"


def test_predict_leaves_the_modes_as_they_were_on_instances_and_classes():
    model = mg.Sequential(mg.Dense(2, 2, rng=0), mg.Dropout(0.5, rng=0), mg.Dense(2, 1, rng=1))
    model[1].eval()
    modes = [m.training for m in model.modules()]
    for _ in range(2):  # the first predict leaves each mode on its instance, the second
        mg.predict(model, np.ones((3, 2)))  # finds it there: the same modes both times
        assert [m.training for m in model.modules()] == modes
    with Evaluation(model):
        assert not any(m.training for m in model.modules())
    assert [m.training for m in model.modules()] == modes


def test_predict_between_a_forward_and_its_backward_with_a_shared_layer():
    shared = mg.Dense(3, 3, rng=0)
    model = mg.Sequential(shared, mg.Tanh(), shared, mg.Dense(3, 2, rng=1))
    x = np.random.default_rng(0).standard_normal((4, 3))
    g = np.random.default_rng(1).standard_normal((4, 2))
    model(x)
    with mg.retain_graph():
        want = model.backward(g)
    grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    mg.predict(model, x[::-1] * 2)  # in between: the slots' stashes stay the forward's
    np.testing.assert_array_equal(model.backward(g), want)
    for param, expected in zip(model.parameters(), grads):
        np.testing.assert_array_equal(param.grad, expected)
