"""The batch-1 latency paths (issue 23) against the readable code they stand in for:
`im2col`'s one strided copy (`minigrad.backend.window_views`) against `_fill_columns`,
bit for bit, on many geometries; max- and average-pooling of windows that tile the input
against the offset scan; an evaluation-mode convolution adding its bias apart; and the
stash that `predict` takes and restores, which must leave a pending backward as it was.
Counts and values, not timings (those are benchmarks/inference_bench.py's)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import window_views
from minigrad.backend.convolution import fast_kernels
from minigrad.layers.conv import pool_windows, windows
from minigrad.layers.conv.conv import _conv_windows

SIZES = {1: (7,), 2: (7, 6), 3: (5, 6, 4)}


def geometries():
    """(dims, kernel, stride, padding before, padding after, dilation, groups)."""
    for dims, kernel, stride, pad, dilation, groups in itertools.product(
            (1, 2, 3), (1, 2, 3), (1, 2), (0, 1, 2), (1, 2), (1, 2)):
        if dims == 3 and (kernel, dilation) == (3, 2):
            continue  # does not fit the 4-long axis at every padding: covered in 1-D/2-D
        yield dims, kernel, stride, pad, pad + (stride > 1), dilation, groups


def channel_major(x: np.ndarray) -> np.ndarray:
    """``x`` as a view of (C, N, ...) memory, as a conv layer's output is."""
    return np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)


@pytest.mark.parametrize("layout", ["contiguous", "channel-major"])
@pytest.mark.parametrize("batch_last", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
def test_the_strided_copy_fills_the_columns_bit_for_bit(batch, batch_last, layout):
    checked = 0
    for dims, kernel, stride, before, after, dilation, groups in geometries():
        found = _conv_windows(SIZES[dims], (kernel,) * dims, (stride,) * dims,
                              (dilation,) * dims, (before,) * dims, (after,) * dims, False)
        assert not isinstance(found, str)
        x = np.random.default_rng(checked).standard_normal((batch, 4, *SIZES[dims]))
        x = channel_major(x) if layout == "channel-major" else x
        heads = (groups, 4 // groups, *(w.kernel for w in found))
        outs = tuple(w.out for w in found)
        shape = (*heads, *outs, batch) if batch_last else (*heads, batch, *outs)
        want, got = np.full(shape, np.nan), np.full(shape, np.nan)  # every entry written
        windows._fill_columns(want, x, found, groups, batch_last)
        assert window_views.fill_columns(got, x, found, groups, batch_last)
        np.testing.assert_array_equal(got, want)
        checked += 1
    assert checked > 200


def test_the_strided_copy_leaves_what_it_cannot_do_to_the_reference():
    w = windows.Window(5, 3, 1, 1, -1, 1)  # a negative padding (a conv's dL/dx as a conv)
    cols = np.zeros((1, 1, 3, 1, 1))
    assert not window_views.fill_columns(cols, np.ones((1, 1, 5)), (w,), 1, False)
    found = _conv_windows((6,), (3,), (1,), (1,), (1,), (1,), False)
    assert not isinstance(found, str)
    x, cols = np.ones((2, 3, 6)), np.zeros((1, 3, 3, 2, 6))
    assert not window_views.fill_columns(cols, x, found, 1, False, limit=10)  # too big
    with fast_kernels(False):
        assert not window_views.fill_columns(cols, x, found, 1, False)
    assert not cols.any()  # nothing written where it does not apply


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_a_conv_layer_gives_the_reference_output_and_gradients_on_both_paths(dims):
    conv = (mg.Conv1D, mg.Conv2D, mg.Conv3D)[dims - 1](4, 6, 3, padding=1, dilation=2,
                                                       groups=2, rng=0)
    x = channel_major(np.random.default_rng(1).standard_normal((2, 4, *SIZES[dims])))
    y = conv(x)
    g = np.random.default_rng(2).standard_normal(y.shape)
    dx = conv.backward(g)
    grads = [p.grad.copy() for p in conv.parameters()]
    conv.zero_grad()
    with fast_kernels(False):  # `_fill_columns` only
        np.testing.assert_array_equal(conv(x), y)
        np.testing.assert_array_equal(conv.backward(g), dx)
    for param, want in zip(conv.parameters(), grads):
        np.testing.assert_array_equal(param.grad, want)


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("batch", [1, 2, 256])
def test_an_evaluation_mode_conv_adds_its_bias_apart_or_in_the_product(batch, groups):
    conv = mg.Conv2D(4, 6, 3, padding=1, groups=groups, rng=0)
    conv.bias.data[...] = np.arange(6.0)
    x = np.random.default_rng(3).standard_normal((batch, 4, 5, 5))
    train = conv(x)
    conv.eval()
    np.testing.assert_allclose(conv(x), train, rtol=1e-13, atol=1e-13)
    apart = conv._bias_apart(batch, conv._windows((5, 5)))
    assert apart == (batch < 256)  # the small outputs; the joined product at batch 256
    g = np.random.default_rng(4).standard_normal(train.shape)
    dx_eval = conv.backward(g)  # the columns rebuilt, with the row of ones
    bias_grad = conv.bias.grad.copy()
    conv.train()
    conv.zero_grad()
    conv(x)
    np.testing.assert_array_equal(conv.backward(g), dx_eval)
    np.testing.assert_array_equal(conv.bias.grad, bias_grad)


TILED = [  # (layer, input shape): windows that tile the input
    (lambda: mg.MaxPool2D(2), (2, 3, 8, 6)),
    (lambda: mg.MaxPool2D((1, 3)), (1, 2, 3, 9)),
    (lambda: mg.MaxPool1D(4), (2, 3, 8)),
    (lambda: mg.MaxPool3D(2), (1, 2, 4, 6, 2)),
    (lambda: mg.MaxPool2D((2, 1), dilation=(1, 3)), (1, 2, 4, 3)),  # dilated, 1 wide
]


def awkward(shape: tuple[int, ...]) -> np.ndarray:
    """Rounded values (ties, ±0), NaNs and infinities, channel-major."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).round(0) * 0.5
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, 3, replace=False)] = [np.nan, np.inf, -np.inf]
    flat[rng.choice(flat.size, 4, replace=False)] = [0.0, -0.0, -0.0, 0.0]
    return channel_major(x)


@pytest.mark.parametrize("make, shape", TILED)
def test_tiled_max_pooling_is_the_scan_bit_for_bit(make, shape):
    layer = make()
    x = awkward(shape)
    found = layer._input(x)[1]
    assert pool_windows._tiles(found) is not None  # the tiled path runs
    want, _ = pool_windows.max_pool(x, found)  # the scan a training forward runs
    got = layer.eval()(x)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))  # the first of ±0 ties too
    assert got.dtype == want.dtype


@pytest.mark.parametrize("make, shape", [
    (lambda: mg.AvgPool2D(2), (2, 3, 8, 6)), (lambda: mg.AvgPool1D(3), (2, 3, 9)),
    (lambda: mg.AvgPool3D((2, 1, 2)), (1, 2, 4, 3, 2))])
def test_tiled_average_pooling_matches_pytorch_and_its_backward(make, shape):
    torch = pytest.importorskip("torch")
    layer = make()
    x = np.random.default_rng(5).standard_normal(shape)
    reference = getattr(torch.nn, type(layer).__name__.replace("D", "d"))(
        layer.kernel_size, layer.stride)
    xt = torch.tensor(x, requires_grad=True)
    want = reference(xt)
    np.testing.assert_allclose(layer(x), want.detach().numpy(), rtol=1e-14, atol=1e-14)
    g = np.random.default_rng(6).standard_normal(want.shape)
    want.backward(torch.from_numpy(g))
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("make", [lambda: mg.MaxPool2D(3, stride=2), lambda: mg.MaxPool2D(
    2, padding=1), lambda: mg.MaxPool2D(2, ceil_mode=True), lambda: mg.MaxPool2D(1)])
def test_windows_that_do_not_tile_keep_the_scan(make):
    layer = make()
    assert pool_windows._tiles(layer._input(np.zeros((1, 1, 5, 5)))[1]) is None


class Log(mg.Layer):
    """Identity keeping a per-use list of its inputs and a per-use counter."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []
        self.count = 0

    def forward(self, x):
        self.seen.append(x)
        self.count += 1
        self.extra = "set in forward"
        return x

    def backward(self, grad_out):
        return grad_out


def test_predict_between_a_forward_and_its_backward_leaves_every_attribute_as_it_was():
    log = Log()
    model = mg.Sequential(mg.Conv2D(1, 2, 3, padding=1, rng=0), mg.ReLU(), log,
                          mg.MaxPool2D(2), mg.Flatten(), mg.Dense(8, 3, rng=1))
    x = np.random.default_rng(7).standard_normal((2, 1, 4, 4))
    model(x)
    del log.extra  # per use: gone before predict, so predict's must go again
    before = [{name: list(value) if isinstance(value, list) else value
               for name, value in vars(m).items()} for m in model.modules()]
    mg.predict(model, x[:1] * 3)
    after = [dict(vars(m)) for m in model.modules()]
    for old, new in zip(before, after):
        new.pop("training", None)  # eval mode and back: the same value (on the instance
        # or the class default: predict's `Evaluation` restores the dict as it was)
        old.pop("training", None)
        assert old.keys() == new.keys()
        for name, value in old.items():
            if isinstance(value, list):  # a per-use list: its items then, not predict's
                assert len(new[name]) == len(value)
                assert all(a is b for a, b in zip(new[name], value))
            else:
                assert new[name] is value, name
    assert len(log.seen) == 1 and log.count == 1


def test_unstash_keeps_persistent_attributes_changed_since_the_stash():
    model = mg.Sequential(mg.Dense(2, 2, rng=0), mg.Dropout(0.5, rng=0))
    pending = model.stash()
    model[1].eval()  # the mode is persistent: not rolled back
    weight = mg.Parameter(np.ones((2, 2)), "weight")
    model[0].weight = weight  # a member: persistent too
    model.unstash(pending)
    assert not model[1].training and model[0].weight is weight
