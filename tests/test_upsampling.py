"""Upsample (every mode, size or factor, align_corners, recompute_scale_factor),
PixelShuffle and PixelUnshuffle against PyTorch; gradients by finite differences and by
the adjoint identity; the errors of bad arguments and inputs."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import check_layer

MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,),
         "bicubic": (2,), "trilinear": (3,)}
SPECS = [("scale_factor", 2), ("scale_factor", 3), ("scale_factor", 1.5),
         ("scale_factor", 0.5), ("scale_factor", 2.3), ("scale_factor", 1.2),
         ("scale_factor", 0.7), ("size", 1), ("size", 4), ("size", 6), ("size", 9)]
INPUT_SIZES = [1, 2, 3, 5, 7]


def torch_backward_is_not_the_adjoint(mode, dims, size, spec, recompute, align_corners):
    """Where PyTorch's backward kernel is not the derivative of its forward: its backward
    copies an axis whose size a factor left unchanged (and, nearest, halves the index of
    one a factor doubled) -- the forward, outside 2-D nearest, reads ⌊i / factor⌋. minigrad
    returns the derivative of the (matching) forward there."""
    kind, value = spec
    if kind != "scale_factor" or recompute:
        return False
    out = int(size * value)
    if mode == "nearest" and dims != 2:
        return (out == size and value != 1) or (out == 2 * size and value != 2)
    return mode == "bicubic" and not align_corners and out == size and value != 1


def configurations(mode):
    for dims, size, spec in itertools.product(MODES[mode], INPUT_SIZES, SPECS):
        if spec[0] == "scale_factor" and int(size * spec[1]) < 1:
            continue
        for align_corners in ([None] if mode.startswith("nearest") else [False, True]):
            for recompute in ([None] if spec[0] == "size" else [None, True]):
                yield dims, size, spec, align_corners, recompute


@pytest.mark.parametrize("mode", MODES)
def test_upsample_matches_torch_in_float64(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    checked = 0
    for dims, size, spec, align_corners, recompute in configurations(mode):
        options = {spec[0]: spec[1], "mode": mode, "align_corners": align_corners,
                   "recompute_scale_factor": recompute}
        layer, module = mg.Upsample(**options), torch.nn.Upsample(**options)
        x = rng.standard_normal((2, 3, *(size,) * dims))
        xt = torch.from_numpy(x).requires_grad_()
        yt = module(xt)
        y = layer(x)
        message = f"{options}, input {x.shape}"
        assert y.shape == tuple(yt.shape), message
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-7, atol=1e-12,
                                   err_msg=message)
        g = rng.standard_normal(y.shape)
        grad = layer.backward(g)
        # the backward is the forward's adjoint: ⟨G, f(x)⟩ = ⟨fᵀ(G), x⟩ (f is linear)
        np.testing.assert_allclose(np.vdot(g, y), np.vdot(grad, x), rtol=1e-10, atol=1e-12,
                                   err_msg=message)
        if torch_backward_is_not_the_adjoint(mode, dims, size, spec, recompute, align_corners):
            continue
        yt.backward(torch.from_numpy(g))
        np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-7, atol=1e-12,
                                   err_msg=message)
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("mode", MODES)
def test_upsample_matches_torch_in_float32(mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for dims, size, spec, align_corners, recompute in configurations(mode):
        options = {spec[0]: spec[1], "mode": mode, "align_corners": align_corners,
                   "recompute_scale_factor": recompute}
        x = rng.standard_normal((1, 2, *(size,) * dims)).astype(np.float32)
        y = mg.Upsample(**options)(x)
        assert y.dtype == np.float32
        # the indices come out of float32 arithmetic, as PyTorch's do: exactly its picks
        np.testing.assert_allclose(y, torch.nn.Upsample(**options)(torch.from_numpy(x)),
                                   rtol=1e-5, atol=1e-5, err_msg=str(options))


def test_where_torchs_backward_is_not_its_forwards_derivative_ours_is():
    torch = pytest.importorskip("torch")
    layer = mg.Upsample(scale_factor=1.2)  # 3 -> 3, reading x[⌊i / 1.2⌋] = x[0, 0, 1]
    x = np.array([[[1.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(layer(x), [[[1.0, 1.0, 2.0]]])
    np.testing.assert_array_equal(torch.nn.Upsample(scale_factor=1.2)(torch.from_numpy(x)),
                                  [[[1.0, 1.0, 2.0]]])
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 3))), [[[2.0, 1.0, 0.0]]])
    check_layer(mg.Upsample(scale_factor=1.2), x)


@pytest.mark.parametrize("options, shape", [
    ({"scale_factor": 2}, (2, 2, 3)),
    ({"size": (4, 5), "mode": "nearest-exact"}, (1, 2, 3, 2)),
    ({"scale_factor": 1.7, "mode": "linear", "align_corners": True}, (2, 1, 4)),
    ({"size": (3, 5), "mode": "bicubic"}, (1, 2, 4, 3)),
    ({"scale_factor": (2, 0.5, 1.5), "mode": "trilinear"}, (1, 1, 2, 4, 3)),
], ids=str)
def test_upsample_gradients_match_finite_differences(options, shape):
    check_layer(mg.Upsample(**options), np.random.default_rng(2).standard_normal(shape))


def test_upsample_formulas_by_hand():
    x = np.array([[[0.0, 4.0]]])
    assert mg.Upsample(scale_factor=2, mode="linear")(x).tolist() == [[[0.0, 1.0, 3.0, 4.0]]]
    assert mg.Upsample(size=3, mode="linear", align_corners=True)(x).tolist() == [
        [[0.0, 2.0, 4.0]]]
    assert mg.Upsample(size=3)(x).tolist() == [[[0.0, 0.0, 4.0]]]  # ⌊i · 2/3⌋: 0, 0, 1
    assert mg.Upsample(size=3, mode="nearest-exact")(x).tolist() == [[[0.0, 4.0, 4.0]]]
    layer = mg.Upsample(scale_factor=2, mode="bilinear")
    assert repr(layer) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert layer.interpolation == "bilinear" and layer.scale_factor == 2.0


# -- PixelShuffle, PixelUnshuffle --------------------------------------------------------


@pytest.mark.parametrize("factor, shape", [(2, (2, 8, 3, 5)), (3, (2, 2, 9, 2, 3)),
                                           (1, (1, 3, 2, 2))])
def test_pixel_shuffle_and_unshuffle_match_torch(factor, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    shuffle = mg.PixelShuffle(factor)
    y = shuffle(x)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.PixelShuffle(factor)(xt)
    np.testing.assert_array_equal(y, yt.detach().numpy())
    g = rng.standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(shuffle.backward(g), xt.grad.numpy())
    unshuffle = mg.PixelUnshuffle(factor)
    np.testing.assert_array_equal(unshuffle(y), x)
    np.testing.assert_array_equal(unshuffle(y),
                                  torch.nn.PixelUnshuffle(factor)(torch.from_numpy(y)).numpy())
    np.testing.assert_array_equal(unshuffle.backward(x), y)
    check_layer(mg.PixelShuffle(factor), x)


def test_pixel_shuffle_places_channels_as_pytorch_does():
    y = mg.PixelShuffle(2)(np.arange(8.0).reshape(1, 8, 1, 1))
    assert y.tolist() == [[[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]]]


# -- bad arguments and inputs ------------------------------------------------------------


@pytest.mark.parametrize("options, message", [
    ({}, "Upsample: give exactly one of size and scale_factor, got size=None, "
         "scale_factor=None"),
    ({"size": 2, "scale_factor": 2}, "Upsample: give exactly one of size and scale_factor"),
    ({"size": 0}, "Upsample: size must be an int >= 1 or a tuple of them, got 0"),
    ({"size": 2.5}, "Upsample: size must be an int >= 1 or a tuple of them, got 2.5"),
    ({"scale_factor": -1.0}, "Upsample: scale_factor must be a number > 0 or a tuple of "
                             "them, got -1.0"),
    ({"scale_factor": (2, True)}, "Upsample: scale_factor must be a number > 0"),
    ({"scale_factor": 2, "mode": "area"}, "Upsample: mode must be one of 'nearest', "
                                          "'nearest-exact', 'linear', 'bilinear', 'bicubic', "
                                          "'trilinear', got 'area'"),
    ({"scale_factor": 2, "align_corners": True}, "Upsample: align_corners must be None or a "
                                                 "bool, and only with the interpolating modes"),
    ({"scale_factor": 2, "mode": "linear", "align_corners": 1},
     "Upsample: align_corners must be None or a bool"),
    ({"size": 3, "recompute_scale_factor": True},
     "Upsample: recompute_scale_factor=True is only meaningful with scale_factor"),
])
def test_bad_upsample_arguments_are_refused(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        mg.Upsample(**options)


def test_bad_upsample_inputs_are_forward_errors():
    with pytest.raises(ValueError, match=re.escape(
            "Upsample(scale_factor=2.0, mode='bilinear'): mode 'bilinear' takes inputs of rank "
            "4 (N, C, *spatial), got shape (1, 2, 3)")):
        mg.Upsample(scale_factor=2, mode="bilinear")(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "Upsample(size=(2, 3), mode='nearest'): size has 2 entries, the input "
            "(1, 1, 4) has 1 spatial axes")):
        mg.Upsample(size=(2, 3))(np.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match=re.escape(
            "the output size would be (0,) (below 1) for an input of spatial size 3")):
        mg.Upsample(scale_factor=0.2)(np.zeros((1, 1, 3)))
    layer = mg.Upsample(scale_factor=2)
    layer(np.zeros((1, 1, 3)))
    with pytest.raises(ValueError, match=re.escape("Upsample(scale_factor=2.0, mode='nearest')")):
        layer.backward(np.zeros((1, 1, 5)))


def test_bad_pixel_shuffle_arguments_and_inputs():
    with pytest.raises(ValueError, match=re.escape(
            "PixelShuffle: upscale_factor must be an int >= 1, got 0")):
        mg.PixelShuffle(0)
    with pytest.raises(ValueError, match=re.escape(
            "PixelUnshuffle: downscale_factor must be an int >= 1, got 2.0")):
        mg.PixelUnshuffle(2.0)
    with pytest.raises(ValueError, match=re.escape(
            "PixelShuffle(upscale_factor=2): the channels (6) must be divisible by "
            "upscale_factor² (4), got input (1, 6, 2, 2)")):
        mg.PixelShuffle(2)(np.zeros((1, 6, 2, 2)))
    with pytest.raises(ValueError, match=re.escape(
            "PixelUnshuffle(downscale_factor=2): the height and width (4, 3) must be "
            "divisible by downscale_factor (2), got input (1, 1, 4, 3)")):
        mg.PixelUnshuffle(2)(np.zeros((1, 1, 4, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "PixelShuffle(upscale_factor=2) expected input of shape (batch, ..., channels, "
            "height, width), got (1, 4, 2)")):
        mg.PixelShuffle(2)(np.zeros((1, 4, 2)))
