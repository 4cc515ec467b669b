"""Conv1D, Conv2D, ConvTranspose2D against PyTorch (float64, 1e-9): forward, input gradient
and every parameter gradient over a grid of kernel/stride/padding/dilation/groups; bad
input; memory (one im2col buffer); fans of the initializers."""

from __future__ import annotations

import itertools
import math
import re
import tracemalloc

import numpy as np
import pytest

import minigrad as mg
from minigrad.layers.conv import windows

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

TOL = 1e-9


def against_torch(layer: mg.Layer, reference, x: np.ndarray, seed: int = 0) -> None:
    """Same weights in both; compare y, dL/dx and every parameter's gradient."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, param in layer.named_parameters():
            param.data[...] = rng.standard_normal(param.shape)
            getattr(reference, name).copy_(torch.from_numpy(param.data))
    assert (layer.bias is None) == (reference.bias is None)
    xt = torch.tensor(x, requires_grad=True)
    expected = reference(xt)
    y = layer(x)
    np.testing.assert_allclose(y, expected.detach().numpy(), rtol=0, atol=TOL)
    g = rng.standard_normal(y.shape)
    expected.backward(torch.from_numpy(g))
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=0, atol=TOL)
    for name, param in layer.named_parameters():
        np.testing.assert_allclose(param.grad, getattr(reference, name).grad.numpy(),
                                   rtol=0, atol=TOL, err_msg=name)


# kernel, stride, padding, dilation, groups: a grid small enough to run in a second
GRID = [
    case for case in itertools.product([1, 3, (2, 3)], [1, 2], [0, 1, "same"], [1, 2], [1, 2])
    if not (case[2] == "same" and case[1] != 1)
][::3]


@pytest.fixture(params=["batch-last", "framed", "bands"])
def im2col_path(request, monkeypatch):
    """Every way `im2col` fills its buffer: columns over (*out, n) from a frame of the
    input laid out (C, *size, N), or over (n, *out) with a zero frame (small inputs) or
    zeroed bands -- each forced, whatever `batch_last`'s cost model would choose."""
    monkeypatch.setattr(windows, "_ROW_COPY_IN_ELEMENTS",
                        10**9 if request.param == "batch-last" else 0)
    if request.param == "bands":
        monkeypatch.setattr(windows, "_SMALL_INPUT", 0)
    return request.param


# (in, out) channels: widening takes the per-offset col2im for dL/dx; narrowing (G's
# columns fit the spent buffer) the convolution with the flipped kernel at stride 1
@pytest.mark.parametrize("channels", [(4, 6), (6, 4)])
@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "groups"), GRID)
def test_conv2d_matches_torch(kernel, stride, padding, dilation, groups, channels,
                              im2col_path):
    c_in, c_out = channels
    x = np.random.default_rng(1).standard_normal((2, c_in, 7, 6))
    layer = mg.Conv2D(c_in, c_out, kernel, stride, padding, dilation, groups,
                      bias=groups == 1, rng=0)
    reference = torch.nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, groups,
                                bias=groups == 1, dtype=torch.float64)
    against_torch(layer, reference, x)


# The bias joins the product as a row of ones in the column buffer, one per group:
# short (10 rows: dL/dW as G @ colsᵀ) and long (28: as cols @ Gᵀ) first layers, groups,
# depthwise, stride, dilation, padding -- with and without the bias.
BIAS_ROW_CASES = [(1, 8, 3, 1, 1, 1, 1), (3, 4, 3, 1, "same", 1, 1), (4, 6, (2, 3), 2, 1, 2, 2),
                  (6, 6, 3, 1, 1, 1, 6)]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("c_in", "c_out", "kernel", "stride", "padding", "dilation", "groups"),
                         BIAS_ROW_CASES)
def test_the_bias_row_gives_pytorchs_output_and_gradients(c_in, c_out, kernel, stride, padding,
                                                          dilation, groups, bias, im2col_path):
    x = np.random.default_rng(4).standard_normal((2, c_in, 6, 7))
    layer = mg.Conv2D(c_in, c_out, kernel, stride, padding, dilation, groups, bias, rng=0)
    reference = torch.nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, groups, bias,
                                dtype=torch.float64)
    against_torch(layer, reference, x)
    if bias:  # the buffer carries the bias row, per group
        cols = windows.im2col(x, layer._windows(x.shape[2:]), groups, ones=True)
        assert cols.shape[:2] == (groups, c_in // groups * math.prod(layer.kernel_size) + 1)
        np.testing.assert_array_equal(cols[:, -1], 1.0)


@pytest.mark.parametrize(("c_in", "c_out", "kernel", "stride", "padding", "dilation", "groups"),
                         BIAS_ROW_CASES)
def test_the_bias_row_in_float32_keeps_float32_and_the_float64_values(
        c_in, c_out, kernel, stride, padding, dilation, groups):
    x = np.random.default_rng(5).standard_normal((2, c_in, 6, 7))
    results = {}
    for dtype in (np.float32, np.float64):
        layer = mg.Conv2D(c_in, c_out, kernel, stride, padding, dilation, groups, rng=0,
                          dtype=dtype)
        layer.bias.data[...] = np.linspace(-1, 1, c_out)
        y = layer(x.astype(dtype))
        grad_in = layer.backward(np.ones_like(y) * np.linspace(-1, 1, y.shape[-1], dtype=dtype))
        results[dtype] = (y, grad_in, layer.weight.grad, layer.bias.grad)
    for low, high in zip(results[np.float32], results[np.float64]):
        assert low.dtype == np.float32
        np.testing.assert_allclose(low, high, rtol=1e-4, atol=1e-5)


def test_a_second_backward_rebuilds_the_released_column_buffer():
    """The stride-1 backward lets go of the cached column buffer; a second backward from
    the same forward rebuilds it from the cached input: twice the weight gradient, the
    same input gradient."""
    conv = mg.Conv2D(4, 2, 3, padding=1, rng=0)
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5))
    g = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    conv(x)
    first = conv.backward(g).copy()
    once = conv.weight.grad.copy()
    np.testing.assert_allclose(conv.backward(g), first, rtol=1e-12)
    np.testing.assert_allclose(conv.weight.grad, 2 * once, rtol=1e-12)


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "groups"),
                         [(3, 1, "same", 2, 1), (2, 2, 1, 1, 2), (4, 3, 0, 1, 1), (1, 1, 0, 1, 4),
                          (2, 1, "same", 1, 1)])
def test_conv1d_matches_torch(kernel, stride, padding, dilation, groups):
    x = np.random.default_rng(2).standard_normal((3, 4, 9))
    layer = mg.Conv1D(4, 8, kernel, stride, padding, dilation, groups, rng=0)
    reference = torch.nn.Conv1d(4, 8, kernel, stride, padding, dilation, groups,
                                dtype=torch.float64)
    against_torch(layer, reference, x)


@pytest.mark.parametrize(("kernel", "stride", "padding", "output_padding", "dilation",
                          "groups"),
                         [(3, 1, 0, 0, 1, 1), (3, 2, 1, 1, 1, 2), ((2, 3), 2, 0, 0, 1, 1),
                          (3, (2, 3), (1, 2), (1, 2), 1, 1), (2, 1, 0, 1, 2, 2),
                          (4, 2, 1, 0, 1, 1)])
def test_conv_transpose2d_matches_torch(kernel, stride, padding, output_padding, dilation,
                                        groups):
    x = np.random.default_rng(3).standard_normal((2, 4, 4, 5))
    layer = mg.ConvTranspose2D(4, 6, kernel, stride, padding, output_padding, groups,
                               dilation=dilation, rng=0)
    reference = torch.nn.ConvTranspose2d(4, 6, kernel, stride, padding, output_padding,
                                         groups, dilation=dilation, dtype=torch.float64)
    assert layer.weight.shape == tuple(reference.weight.shape)
    against_torch(layer, reference, x)


def test_layouts_and_state_dict_are_pytorchs():
    conv = mg.Conv2D(6, 8, (3, 5), groups=2, rng=0)
    assert conv.weight.shape == (8, 3, 3, 5) and conv.bias.shape == (8,)
    assert mg.Conv2D(2, 2, 3, bias=False).bias is None
    assert mg.ConvTranspose2D(6, 8, 3, groups=2).weight.shape == (6, 4, 3, 3)
    reference = torch.nn.Conv2d(6, 8, (3, 5), groups=2, dtype=torch.float64)
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in conv.state_dict().items()})


def test_float32_in_float32_out_and_backward_params():
    conv = mg.Conv2D(3, 4, 3, padding=1, rng=0, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    y = conv(x)
    assert y.dtype == np.float32
    g = np.ones_like(y)
    assert conv.backward(g).dtype == np.float32
    full = conv.weight.grad.copy()
    conv.zero_grad()
    conv(x)
    conv.backward_params(g)
    np.testing.assert_allclose(conv.weight.grad, full, rtol=1e-6)


def test_fans_count_the_receptive_field():
    # weight (out=8, in=4, 3, 3): fan_in = 36, fan_out = 72; he_normal's std is √(2/36).
    w = mg.init.he_normal()((400, 4, 3, 3), np.random.default_rng(0), np.dtype(np.float64))
    assert abs(w.std() - np.sqrt(2 / 36)) < 0.01 * np.sqrt(2 / 36)
    w = mg.init.xavier_uniform()((400, 4, 3, 3), np.random.default_rng(0),
                                 np.dtype(np.float64))
    bound = np.sqrt(6 / (36 + 400 * 9))
    assert w.max() <= bound and w.max() > 0.99 * bound


CONV = "Conv2D(3, 4, kernel_size=(3, 3))"


@pytest.mark.parametrize(("make", "message"), [
    (lambda: mg.Conv2D(3, 4, 0), "Conv2D: kernel_size must be >= 1, got 0"),
    (lambda: mg.Conv2D(3, 4, 2.5), "Conv2D: kernel_size must be an int or a tuple of 2 ints"),
    (lambda: mg.Conv2D(3, 4, (3, 3, 3)), "Conv2D: kernel_size must be an int or a tuple of 2"),
    (lambda: mg.Conv2D(0, 4, 3), "Conv2D: in_channels must be an int >= 1, got 0"),
    (lambda: mg.Conv2D(3, 4, 3, groups=2), "Conv2D: in_channels (3) must be divisible by "
                                           "groups (2)"),
    (lambda: mg.Conv2D(4, 3, 3, groups=2), "Conv2D: out_channels (3) must be divisible by "
                                           "groups (2)"),
    (lambda: mg.Conv2D(3, 4, 3, stride=2, padding="same"),
     "Conv2D: padding='same' needs stride 1, got stride=(2, 2)"),
    (lambda: mg.Conv2D(3, 4, 3, padding="full"), "Conv2D: padding must be an int, a tuple"),
    (lambda: mg.Conv2D(3, 4, 3, padding=-1), "Conv2D: padding must be >= 0, got -1"),
    (lambda: mg.Conv1D(3, 4, 3, dilation=True), "Conv1D: dilation must be an int or a tuple"),
    (lambda: mg.ConvTranspose2D(3, 4, 3, stride=2, output_padding=2),
     "ConvTranspose2D: output_padding (2, 2) must be smaller than the stride (2, 2)"),
    (lambda: mg.Conv2D(3, 4, 3, dtype=np.int32), "Conv2D: dtype must be a floating dtype"),
])
def test_bad_arguments_are_refused_naming_the_layer_and_numbers(make, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        make()


def test_bad_inputs_name_the_layer_and_numbers():
    conv = mg.Conv2D(3, 4, 3, rng=0)
    with pytest.raises(ValueError, match=re.escape(
            f"{CONV} expected input of shape (batch, 3, height, width), got (2, 3, 8)")):
        conv(np.zeros((2, 3, 8)))
    with pytest.raises(ValueError, match=re.escape(
            f"{CONV} expected input of shape (batch, 3, height, width), got (2, 1, 8, 8)")):
        conv(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match=re.escape(
            f"{CONV}: the input after padding (2) is smaller than the dilated kernel (3), "
            "for an input of spatial size 8×2")):
        conv(np.zeros((1, 3, 8, 2)))
    dilated = mg.Conv1D(1, 1, 3, dilation=3, padding=1)
    with pytest.raises(ValueError, match=re.escape(
            "the input after padding (6) is smaller than the dilated kernel (7)")):
        dilated(np.zeros((1, 1, 4)))
    transposed = mg.ConvTranspose2D(1, 1, 1, padding=1)
    with pytest.raises(ValueError, match=re.escape(
            "ConvTranspose2D(1, 1, kernel_size=(1, 1), padding=(1, 1)): the output size "
            "would be -1 (below 1), for an input of spatial size 1×1")):
        transposed(np.zeros((1, 1, 1, 1)))
    conv(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match=re.escape(
            f"{CONV}.backward expected a gradient of shape (2, 4, 3, 3)")):
        conv.backward(np.zeros((2, 4, 5, 5)))
    with pytest.raises(TypeError, match=re.escape(f"{CONV} expected a real numeric input")):
        conv(np.zeros((2, 3, 5, 5), dtype=complex))


@pytest.mark.parametrize("size", [12, 8])  # 8: columns over (*out, n), copies of y and G
def test_a_conv_holds_at_most_one_im2col_buffer(size):
    """Peak memory of a forward+backward beyond input, output, parameters and gradients:
    the column buffer, the input gradient and one offset's product (an input-sized
    temporary of the col2im) -- never a second column buffer."""
    conv = mg.Conv2D(16, 16, 3, padding=1, rng=0, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((8, 16, size, size)).astype(np.float32)
    # The gradient as the next conv layer returns it: a (N, C, ...) view of (C, N, ...).
    g = np.ones((16, 8, size, size), np.float32).swapaxes(0, 1)
    conv(x)
    conv.backward(g)  # warm-up: lazily made gradients exist
    conv.clear_cache()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        y = conv(x)
        grad_in = conv.backward(g)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    cols = x.nbytes * 9
    # Input-sized temporaries (the col2im's products) are allowed; a second column buffer,
    # 9 input sizes, is not.
    budget = cols + y.nbytes + grad_in.nbytes + 3 * x.nbytes + 2 * conv.weight.data.nbytes
    assert peak - before <= budget, f"peak {peak - before} B > {budget} B"
    assert peak - before >= cols  # the buffer is there: the measure is not vacuous


@pytest.mark.parametrize("lib_name", ["array_api_strict", "torch"])
def test_a_cnn_moved_to_another_library_computes_what_numpy_does(lib_name):
    """Conv, pooling, Flatten and Dense in one model, moved with ``to``: its output and
    every gradient come back in that library and equal NumPy's (float64, 1e-12)."""
    from tests.backends import get, library, namespace_name, put

    lib = library(lib_name)

    def cnn() -> mg.Sequential:
        rng = np.random.default_rng(0)
        return mg.Sequential(
            mg.Conv2D(1, 4, 3, padding="same", rng=rng), mg.ReLU(), mg.MaxPool2D(2),
            mg.Conv2D(4, 4, 3, stride=2, padding=1, rng=rng), mg.Tanh(), mg.AvgPool2D(1),
            mg.ConvTranspose2D(4, 2, 2, stride=2, rng=rng), mg.Flatten(),
            mg.Dense(2 * 4 * 4, 3, bias=True, rng=rng),
        )

    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((3, 1, 8, 8)), rng.standard_normal((3, 3))
    reference = cnn()
    y_ref, gx_ref = reference(x), reference.backward(g)
    moved = cnn().to(lib)
    y, gx = moved(put(x, lib)), moved.backward(put(g, lib))
    assert namespace_name(y) == namespace_name(gx) == lib_name.split(".")[0]
    np.testing.assert_allclose(get(y), y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(get(gx), gx_ref, rtol=1e-12, atol=1e-12)
    for mine, theirs in zip(moved.parameters(), reference.parameters()):
        np.testing.assert_allclose(get(mine.grad), theirs.grad, rtol=1e-12, atol=1e-12)
