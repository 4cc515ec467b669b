"""Conv1D/2D/3D with every padding_mode, and ConvTranspose1D/2D/3D with output_padding,
dilation and groups: forward, input gradient and every parameter gradient against
PyTorch in float64, finite differences, and the errors of bad arguments and inputs."""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.layers.conv.padding import pad, pad_backward
from minigrad.testing import check_layer

CONVS = {1: mg.Conv1D, 2: mg.Conv2D, 3: mg.Conv3D}
TRANSPOSED = {1: mg.ConvTranspose1D, 2: mg.ConvTranspose2D, 3: mg.ConvTranspose3D}
SIZES = (6, 7, 5)  # spatial sizes of the inputs, by axis
MODES = ["zeros", "reflect", "replicate", "circular"]


def against_torch(layer, module, x, torch):
    """Forward, dL/dx and each parameter's gradient of ``layer`` against ``module``
    holding the same weights, for a random upstream gradient, float64, rtol 1e-7."""
    with torch.no_grad():
        for name, param in layer.named_parameters():
            module.get_parameter(name).copy_(torch.from_numpy(param.data))
    xt = torch.from_numpy(x).requires_grad_()
    with warnings.catch_warnings():  # PyTorch's own "same" with an even kernel warns
        warnings.simplefilter("ignore")
        yt = module(xt)
    y = layer(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-7, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    layer.zero_grad()
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-7, atol=1e-12)
    names = [name for name, _ in layer.named_parameters()]
    assert names == (["weight", "bias"] if layer.bias is not None else ["weight"])
    for name, param in layer.named_parameters():
        np.testing.assert_allclose(param.grad, module.get_parameter(name).grad.numpy(),
                                   rtol=1e-7, atol=1e-12, err_msg=name)


CONV_GRID = [  # (padding, stride, dilation, groups, bias)
    (1, 1, 1, 1, True), (2, 2, 1, 2, True), ((1, 0, 2), 1, 2, 1, False),
    ("same", 1, 1, 2, True), ("same", 1, (2, 1, 1), 1, True), ("valid", 2, 1, 1, True),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("options", CONV_GRID, ids=str)
def test_convolutions_match_torch_in_every_padding_mode(dims, mode, options):
    torch = pytest.importorskip("torch")
    padding, stride, dilation, groups, bias = options
    if isinstance(padding, tuple):
        padding = padding[:dims]
    if isinstance(dilation, tuple):
        dilation = dilation[:dims]
    kernel = (2, 3, 2)[:dims] if padding == "same" else 3  # "same": the odd one after
    layer = CONVS[dims](4, 2, kernel, stride, padding, dilation, groups, bias, mode, rng=0)
    layer.bias is None or layer.bias.data.__setitem__(..., [0.3, -0.2])
    torch_conv = getattr(torch.nn, f"Conv{dims}d")
    module = torch_conv(4, 2, kernel, stride, padding, dilation, groups, bias, mode,
                        dtype=torch.float64)
    x = np.random.default_rng(dims).standard_normal((3, 4, *SIZES[:dims]))
    against_torch(layer, module, x, torch)


TRANSPOSED_GRID = [  # (stride, padding, output_padding, groups, dilation, bias)
    (1, 0, 0, 1, 1, True), (2, 1, 1, 2, 1, True), (3, 2, 2, 1, 2, False),
    (1, 1, 1, 2, 2, True), ((2, 1, 3), (0, 1, 1), (1, 0, 2), 1, (1, 2, 1), True),
]


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("options", TRANSPOSED_GRID, ids=str)
def test_transposed_convolutions_match_torch(dims, options):
    torch = pytest.importorskip("torch")
    stride, padding, output_padding, groups, dilation, bias = (
        value[:dims] if isinstance(value, tuple) else value for value in options)
    layer = TRANSPOSED[dims](4, 2, 3, stride, padding, output_padding, groups, bias, dilation,
                             rng=0)
    module = getattr(torch.nn, f"ConvTranspose{dims}d")(
        4, 2, 3, stride, padding, output_padding, groups, bias, dilation, dtype=torch.float64)
    x = np.random.default_rng(dims).standard_normal((2, 4, *(4, 3, 5)[:dims]))
    against_torch(layer, module, x, torch)


@pytest.mark.parametrize("mode", MODES[1:])
def test_the_padding_is_torchs_pad_and_its_backward_the_adjoint(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5, 3))
    before, after = (1, 3, 0), (3, 2, 2)  # uneven, one side empty, reflect < size
    padded = pad(x, mode, before, after)
    pads = [size for pair in zip(before[::-1], after[::-1]) for size in pair]
    expected = torch.nn.functional.pad(torch.from_numpy(x), pads, mode=mode).numpy()
    np.testing.assert_array_equal(padded, expected)
    g = rng.standard_normal(padded.shape)
    folded = pad_backward(g, mode, before, after)
    assert folded.shape == x.shape
    # ⟨G, pad(x)⟩ = ⟨padᵀ(G), x⟩ for every x: the backward is the adjoint
    np.testing.assert_allclose(np.vdot(g, padded), np.vdot(folded, x), rtol=1e-12)


@pytest.mark.parametrize("make, shape", [
    (lambda: mg.Conv1D(2, 3, 3, padding=2, padding_mode="reflect", rng=0), (2, 2, 4)),
    (lambda: mg.Conv2D(2, 2, (3, 2), stride=2, padding=(1, 2), padding_mode="replicate",
                       rng=0), (2, 2, 4, 3)),
    (lambda: mg.Conv3D(2, 4, 2, padding="same", groups=2, padding_mode="circular", rng=0),
     (1, 2, 2, 3, 2)),
    (lambda: mg.ConvTranspose3D(4, 2, (2, 1, 3), stride=2, padding=(0, 0, 1),
                                output_padding=(1, 0, 1), groups=2, rng=0), (1, 4, 2, 2, 2)),
], ids=["Conv1D-reflect", "Conv2D-replicate", "Conv3D-circular", "ConvTranspose3D"])
def test_gradients_match_finite_differences(make, shape):
    check_layer(make(), np.random.default_rng(3).standard_normal(shape))


def test_the_modes_differ_where_the_padding_is_read():
    x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    outs = {}
    for mode in MODES:
        conv = mg.Conv1D(1, 1, 3, padding=2, padding_mode=mode, bias=False, rng=0)
        conv.weight.data[...] = [[[1.0, 0.0, 0.0]]]  # y[i] = x_pad[i]: shows the padding
        outs[mode] = conv(x)[0, 0, :3].tolist()  # the low band and x[0]
    assert outs == {"zeros": [0, 0, 1], "reflect": [3, 2, 1], "replicate": [1, 1, 1],
                    "circular": [4, 5, 1]}


def test_shapes_and_layouts_of_the_new_layers():
    assert mg.Conv3D(4, 6, (1, 2, 3), groups=2, rng=0).weight.shape == (6, 2, 1, 2, 3)
    assert mg.ConvTranspose1D(4, 6, 3, groups=2, rng=0).weight.shape == (4, 3, 3)
    up = mg.ConvTranspose3D(2, 3, 3, stride=(1, 2, 3), padding=1, output_padding=(0, 1, 2),
                            rng=0)
    # (n − 1)·s − 2p + d·(k − 1) + output_padding + 1 per axis
    assert up(np.zeros((2, 2, 4, 4, 4))).shape == (2, 3, 4, 8, 12)
    assert repr(mg.Conv2D(1, 2, 3, padding=1, padding_mode="reflect", rng=0)) == (
        "Conv2D(1, 2, kernel_size=(3, 3), padding=(1, 1), padding_mode='reflect')")


# -- bad arguments and inputs ------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda: mg.Conv2D(1, 1, 3, padding_mode="mirror"),
     "Conv2D: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
     "got 'mirror'"),
    (lambda: mg.Conv3D(1, 1, 3, padding_mode=None),
     "Conv3D: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
     "got None"),
    (lambda: mg.Conv3D(1, 1, (3, 3)), "Conv3D: kernel_size must be an int or a tuple of 3 "
                                      "ints, got (3, 3)"),
    (lambda: mg.Conv3D(1, 1, 3, stride=2, padding="same"),
     "Conv3D: padding='same' needs stride 1, got stride=(2, 2, 2)"),
    (lambda: mg.ConvTranspose1D(1, 1, 3, padding_mode="reflect"),
     "ConvTranspose1D: padding_mode must be 'zeros' (the only one PyTorch's transposed "
     "convolutions take), got 'reflect'"),
    (lambda: mg.ConvTranspose3D(1, 1, 3, padding="same"),
     "ConvTranspose3D: padding must be an int or a tuple, got 'same'"),
    (lambda: mg.ConvTranspose3D(1, 1, 3, stride=2, output_padding=(0, 2, 0)),
     "ConvTranspose3D: output_padding (0, 2, 0) must be smaller than the stride (2, 2, 2) "
     "or the dilation (1, 1, 1)"),
    (lambda: mg.ConvTranspose1D(3, 2, 3, groups=2),
     "ConvTranspose1D: in_channels (3) must be divisible by groups (2)"),
])
def test_bad_arguments_are_refused_naming_the_layer(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_paddings_the_input_cannot_give_are_forward_errors():
    reflect = mg.Conv2D(1, 1, 3, padding=(1, 3), padding_mode="reflect", rng=0)
    with pytest.raises(ValueError, match=re.escape(
            "Conv2D(1, 1, kernel_size=(3, 3), padding=(1, 3), padding_mode='reflect'): "
            "padding_mode='reflect' needs padding smaller than the input size, got padding "
            "(3, 3) on an axis of size 3, for an input of spatial size 5×3")):
        reflect(np.zeros((1, 1, 5, 3)))
    assert reflect(np.zeros((1, 1, 5, 4))).shape == (1, 1, 5, 8)
    circular = mg.Conv1D(1, 1, 5, padding=3, padding_mode="circular", rng=0)
    with pytest.raises(ValueError, match=r"padding_mode='circular' needs padding at most the "
                                         r"input size, got padding \(3, 3\) on an axis of "
                                         r"size 2"):
        circular(np.zeros((1, 1, 2)))
    assert circular(np.zeros((1, 1, 3))).shape == (1, 1, 5)
    with pytest.raises(ValueError, match=re.escape(
            "Conv3D(2, 1, kernel_size=(3, 3, 3)) expected input of shape (batch, 2, depth, "
            "height, width), got (1, 2, 4, 4)")):
        mg.Conv3D(2, 1, 3, rng=0)(np.zeros((1, 2, 4, 4)))


def test_every_padding_mode_runs_on_every_dimension_and_dtype():
    for dims, mode, dtype in itertools.product([1, 2, 3], MODES, [np.float32, np.float64]):
        conv = CONVS[dims](2, 3, 3, padding="same", padding_mode=mode, rng=0, dtype=dtype)
        x = np.ones((2, 2, *SIZES[:dims]), dtype)
        y = conv(x)
        assert y.dtype == dtype and y.shape == (2, 3, *SIZES[:dims])
        assert conv.backward(np.ones_like(y)).dtype == dtype
