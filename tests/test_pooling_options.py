"""PyTorch's pooling options against PyTorch (float64): 1-D to 3-D window pools with
``ceil_mode``, ``dilation``, ``count_include_pad``, ``divisor_override`` and
``return_indices``; the adaptive pools; max unpooling; bad arguments and inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import check_layer

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-7


def against_torch(layer: mg.Layer, reference, x: np.ndarray, seed: int = 0):
    """Forward and input gradient of ``layer`` equal ``reference``'s (a torch function of
    a tensor returning a tensor, or (values, indices)); returns torch's indices if any."""
    xt = torch.tensor(x, requires_grad=True)
    expected = reference(xt)
    indices = None
    if isinstance(expected, tuple):
        expected, indices = expected
    y = layer(x)
    assert y.shape == tuple(expected.shape)
    np.testing.assert_allclose(y, expected.detach().numpy(), rtol=RTOL, atol=1e-12)
    g = np.random.default_rng(seed).standard_normal(y.shape)
    expected.backward(torch.from_numpy(g))
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=RTOL, atol=1e-12)
    return indices


MAX_TYPES = {1: (mg.MaxPool1D, F.max_pool1d), 2: (mg.MaxPool2D, F.max_pool2d),
             3: (mg.MaxPool3D, F.max_pool3d)}
AVG_TYPES = {1: (mg.AvgPool1D, F.avg_pool1d), 2: (mg.AvgPool2D, F.avg_pool2d),
             3: (mg.AvgPool3D, F.avg_pool3d)}
SIZES = {1: (11,), 2: (7, 8), 3: (5, 6, 7)}

# (kernel, stride, padding, dilation): strided, overlapping, padded, dilated windows
WINDOWS = [(2, None, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2), (2, 3, 1, 3), (4, 2, 2, 1), (3, 2, 0, 2)]


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), WINDOWS)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_pool_matches_torch_with_its_indices(dims, kernel, stride, padding, dilation,
                                                 ceil_mode):
    ours, theirs = MAX_TYPES[dims]
    x = np.random.default_rng(dims).standard_normal((2, 3, *SIZES[dims]))
    layer = ours(kernel, stride, padding, dilation, return_indices=True, ceil_mode=ceil_mode)
    indices = against_torch(layer, lambda t: theirs(
        t, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True), x)
    assert layer.indices.dtype == np.int64
    np.testing.assert_array_equal(layer.indices, indices.numpy())


def test_max_pool_per_axis_options_and_ceil_mode_match_torch():
    x = np.random.default_rng(7).standard_normal((2, 2, 9, 6, 7))
    options = dict(kernel_size=(3, 2, 2), stride=(2, 1, 3), padding=(1, 0, 1),
                   dilation=(2, 1, 1), ceil_mode=True)
    layer = mg.MaxPool3D(**options, return_indices=True)
    indices = against_torch(layer, lambda t: F.max_pool3d(t, **options, return_indices=True), x)
    np.testing.assert_array_equal(layer.indices, indices.numpy())


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_pool_ties_and_nans_take_torchs_index(dims):
    # {0, 1, 2}: most overlapping windows hold equal maxima; then a few NaNs.
    x = np.random.default_rng(dims).integers(0, 3, (2, 2, *SIZES[dims])).astype(np.float64)
    ours, theirs = MAX_TYPES[dims]
    for values in (x, np.where(np.random.default_rng(0).random(x.shape) < 0.1, np.nan, x)):
        layer = ours(3, 1, 1, return_indices=True, ceil_mode=True)
        y = layer(values)
        expected, indices = theirs(torch.tensor(values), 3, 1, 1, ceil_mode=True,
                                   return_indices=True)
        np.testing.assert_array_equal(y, expected.numpy())  # NaNs in the same places
        np.testing.assert_array_equal(layer.indices, indices.numpy())


@pytest.mark.parametrize("divisor_override", [None, 5])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize(("kernel", "stride", "padding"),
                         [(2, None, 0), (3, 2, 1), (4, 3, 2), (3, 1, 1)])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_avg_pool_matches_torch(dims, kernel, stride, padding, ceil_mode, count_include_pad,
                                divisor_override):
    if dims == 1 and divisor_override is not None:
        with pytest.raises(TypeError, match="divisor_override"):  # torch's AvgPool1d has none
            mg.AvgPool1D(2, divisor_override=5)
        return
    ours, theirs = AVG_TYPES[dims]
    extra = {} if dims == 1 else {"divisor_override": divisor_override}
    x = np.random.default_rng(dims).standard_normal((2, 3, *SIZES[dims]))
    layer = ours(kernel, stride, padding, ceil_mode, count_include_pad, **extra)
    against_torch(layer, lambda t: theirs(t, kernel, stride, padding, ceil_mode,
                                          count_include_pad, **extra), x)


def test_avg_pool_per_axis_options_match_torch():
    x = np.random.default_rng(8).standard_normal((2, 2, 9, 6, 7))
    options = dict(kernel_size=(3, 2, 4), stride=(2, 1, 3), padding=(1, 0, 2), ceil_mode=True,
                   count_include_pad=False)
    against_torch(mg.AvgPool3D(**options), lambda t: F.avg_pool3d(t, **options), x)


ADAPTIVE = {1: (mg.AdaptiveAvgPool1D, mg.AdaptiveMaxPool1D, F.adaptive_avg_pool1d,
                F.adaptive_max_pool1d),
            2: (mg.AdaptiveAvgPool2D, mg.AdaptiveMaxPool2D, F.adaptive_avg_pool2d,
                F.adaptive_max_pool2d),
            3: (mg.AdaptiveAvgPool3D, mg.AdaptiveMaxPool3D, F.adaptive_avg_pool3d,
                F.adaptive_max_pool3d)}
OUTPUTS = {1: [1, 3, 4, 11, 15], 2: [1, (3, None), (5, 3), (9, 10), (None, 1)],
           3: [1, (2, None, 3), (5, 4, 3), (7, 1, 8)]}


@pytest.mark.parametrize(("dims", "output_size"),
                         [(d, out) for d, outs in OUTPUTS.items() for out in outs])
def test_adaptive_pools_match_torch(dims, output_size):
    avg, top, avg_ref, top_ref = ADAPTIVE[dims]
    x = np.random.default_rng(dims).standard_normal((2, 3, *SIZES[dims]))
    against_torch(avg(output_size), lambda t: avg_ref(t, output_size), x)
    layer = top(output_size, return_indices=True)
    indices = against_torch(layer, lambda t: top_ref(t, output_size, return_indices=True), x)
    np.testing.assert_array_equal(layer.indices, indices.numpy())


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_adaptive_max_ties_and_nans_take_torchs_index(dims):
    x = np.random.default_rng(dims).integers(0, 3, (2, 2, *SIZES[dims])).astype(np.float64)
    output_size = (4, 3, 2)[:dims]
    for values in (x, np.where(np.random.default_rng(1).random(x.shape) < 0.1, np.nan, x)):
        layer = ADAPTIVE[dims][1](output_size, return_indices=True)
        y = layer(values)
        expected, indices = ADAPTIVE[dims][3](torch.tensor(values), output_size,
                                              return_indices=True)
        np.testing.assert_array_equal(y, expected.numpy())
        np.testing.assert_array_equal(layer.indices, indices.numpy())


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_global_average_pools_match_torch(dims):
    x = np.random.default_rng(dims).standard_normal((2, 3, *SIZES[dims]))
    layer = {1: mg.GlobalAvgPool1D, 2: mg.GlobalAvgPool2D, 3: mg.GlobalAvgPool3D}[dims]()
    against_torch(layer, lambda t: t.mean(dim=tuple(range(2, t.dim()))), x)


UNPOOL = {1: (mg.MaxUnpool1D, F.max_unpool1d), 2: (mg.MaxUnpool2D, F.max_unpool2d),
          3: (mg.MaxUnpool3D, F.max_unpool3d)}


@pytest.mark.parametrize(("kernel", "stride", "padding", "given_size"),
                         [(2, None, 0, False), (3, 3, 1, True), (2, 3, 1, True)])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_unpool_matches_torch(dims, kernel, stride, padding, given_size):
    # Windows that do not overlap: no position repeats (see the next test for repeats).
    sizes = SIZES[dims] if given_size else tuple(n - n % 2 for n in SIZES[dims])
    x = np.random.default_rng(dims).standard_normal((2, 3, *sizes))
    pool = MAX_TYPES[dims][0](kernel, stride, padding, return_indices=True)
    ours, theirs = UNPOOL[dims]
    output_size = sizes if given_size else None
    unpool = ours(kernel, stride, padding, indices_from=pool, output_size=output_size)
    pooled = pool(x)
    indices = torch.from_numpy(pool.indices)
    against_torch(unpool, lambda t: theirs(t, indices, kernel, stride, padding, output_size),
                  pooled)
    # the explicit form, as PyTorch's unpool(x, indices, output_size)
    explicit = ours(kernel, stride, padding)
    np.testing.assert_array_equal(explicit.unpool(pooled, pool.indices, output_size),
                                  unpool(pooled))


def test_max_unpool_keeps_the_last_of_repeated_positions_as_torch():
    x = np.random.default_rng(3).integers(0, 3, (2, 2, 9)).astype(np.float64)
    pool = mg.MaxPool1D(3, stride=1, return_indices=True)  # overlapping: repeated indices
    values = pool(x) + np.arange(7)  # distinct values at a repeated position
    indices = pool.indices
    assert len(np.unique(indices[0, 0])) < indices.shape[-1]
    unpool = mg.MaxUnpool1D(3, stride=1)
    y = unpool.unpool(values, indices)
    np.testing.assert_array_equal(
        y, F.max_unpool1d(torch.tensor(values), torch.from_numpy(indices), 3, 1).numpy())
    # Backward is the derivative: an overwritten value does not reach the output.
    g = np.random.default_rng(4).standard_normal(y.shape)
    grad = unpool.backward(g)
    flat = np.take_along_axis(g, indices, axis=-1)
    later = np.array([[[(row[k + 1:] == row[k]).any() for k in range(row.size)] for row in plane]
                      for plane in indices])
    np.testing.assert_array_equal(grad, np.where(later, 0.0, flat))


def test_an_encoder_decoder_trains_through_pool_and_unpool_against_torch():
    pool = mg.MaxPool2D(2, return_indices=True)
    model = mg.Sequential(mg.Conv2D(1, 2, 3, padding=1, rng=0), pool, mg.Tanh(),
                          mg.MaxUnpool2D(2, indices_from=pool, output_size=(5, 7)))
    from minigrad.export import to_torch

    mirror = to_torch(model).double()
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 7))
    xt = torch.tensor(x, requires_grad=True)
    expected = mirror(xt)
    np.testing.assert_allclose(model(x), expected.detach().numpy(), rtol=RTOL, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(expected.shape)
    expected.backward(torch.from_numpy(g))
    np.testing.assert_allclose(model.backward(g), xt.grad.numpy(), rtol=RTOL, atol=1e-12)
    assert [name for name, _ in model.named_children()] == ["0", "1", "2", "3"]
    assert list(model.state_dict()) == ["0.weight", "0.bias"]


@pytest.mark.parametrize("make", [
    lambda: mg.MaxPool2D(3, stride=2, padding=1, dilation=2, ceil_mode=True),
    lambda: mg.MaxPool1D(2, stride=3, padding=1, ceil_mode=True),
    lambda: mg.AvgPool2D((3, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    lambda: mg.AdaptiveMaxPool2D((4, 2)),
    lambda: mg.AdaptiveAvgPool1D(4),
], ids=["max-dilated-ceil", "max-1d-ceil", "avg-ceil-no-pad", "adaptive-max", "adaptive-avg"])
def test_finite_differences(make):
    # distinct values: a maximum has a derivative
    x = np.random.default_rng(0).permutation(2 * 2 * 7 * 5).reshape(2, 2, 7, 5) / 10.0
    if "1D" in repr(make()):
        x = x.reshape(2, 2, 35)
    check_layer(make(), x)


def test_float32_stays_float32():
    x = np.random.default_rng(5).standard_normal((2, 2, 5, 6)).astype(np.float32)
    pool = mg.MaxPool2D(2, return_indices=True)
    for layer in (mg.MaxPool2D(3, 2, 1, ceil_mode=True), mg.AvgPool2D(3, 2, 1, ceil_mode=True,
                  divisor_override=2), mg.AvgPool2D(2, 1, 1, count_include_pad=False),
                  mg.AdaptiveAvgPool2D((3, 4)), mg.AdaptiveMaxPool2D(3), mg.GlobalAvgPool2D()):
        y = layer(x)
        assert y.dtype == np.float32
        assert layer.backward(np.ones_like(y)).dtype == np.float32
    unpool = mg.MaxUnpool2D(2, indices_from=pool)
    y = unpool(pool(x))
    assert y.dtype == np.float32 and unpool.backward(y).dtype == np.float32


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: mg.MaxPool3D(2, dilation=0), ValueError, "MaxPool3D: dilation must be >= 1, got 0"),
    (lambda: mg.MaxPool2D(3, padding=2), ValueError,
     "MaxPool2D: padding (2, 2) must be at most half the (dilated) kernel size, (1, 1)"),
    (lambda: mg.MaxPool1D(2, ceil_mode=1), TypeError, "MaxPool1D: ceil_mode must be a bool, got 1"),
    (lambda: mg.MaxPool2D(2, return_indices="yes"), TypeError,
     "MaxPool2D: return_indices must be a bool, got 'yes'"),
    (lambda: mg.AvgPool3D(2, count_include_pad=None), TypeError,
     "AvgPool3D: count_include_pad must be a bool, got None"),
    (lambda: mg.AvgPool2D(2, divisor_override=0), ValueError,
     "AvgPool2D: divisor_override must be None or an int >= 1, got 0"),
    (lambda: mg.AvgPool2D(2, divisor_override=2.5), ValueError,
     "AvgPool2D: divisor_override must be None or an int >= 1, got 2.5"),
    (lambda: mg.AdaptiveAvgPool2D(0), ValueError,
     "AdaptiveAvgPool2D: output_size must be an int >= 1 or a tuple of 2 ints >= 1 or None, "
     "got 0"),
    (lambda: mg.AdaptiveMaxPool3D((2, 2)), ValueError,
     "AdaptiveMaxPool3D: output_size must be an int >= 1 or a tuple of 3 ints"),
    (lambda: mg.AdaptiveMaxPool1D(2, return_indices=0), TypeError,
     "AdaptiveMaxPool1D: return_indices must be a bool, got 0"),
    (lambda: mg.MaxUnpool2D(2, indices_from=mg.MaxPool2D(2)), TypeError,
     "MaxUnpool2D: indices_from must be a MaxPool2D with return_indices=True"),
    (lambda: mg.MaxUnpool1D(2, indices_from=mg.MaxPool2D(2, return_indices=True)), TypeError,
     "MaxUnpool1D: indices_from must be a MaxPool1D with return_indices=True"),
    (lambda: mg.MaxUnpool3D(2, output_size=(4, 4)), ValueError,
     "MaxUnpool3D: output_size must be an int or a tuple of 3 ints"),
])
def test_bad_arguments_name_the_layer_and_value(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


def test_bad_inputs_name_the_layer_and_sizes():
    with pytest.raises(ValueError, match=re.escape(
            "MaxPool3D(kernel_size=(3, 3, 3), dilation=(2, 2, 2)): the input of spatial size "
            "4×9×9 gives an output size 0 < 1 on spatial axis 0")):
        mg.MaxPool3D(3, dilation=2)(np.zeros((1, 1, 4, 9, 9)))
    with pytest.raises(ValueError, match=re.escape(
            "MaxPool1D(kernel_size=(2,), padding=(1,), dilation=(5,)): on spatial axis 0 (size "
            "4) the window of output 0 holds padding only")):
        mg.MaxPool1D(2, padding=1, dilation=5)(np.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match=re.escape(
            "AdaptiveAvgPool2D(output_size=(2, 2)) expected input of shape (batch, channels, "
            "height, width), got (2, 4, 4)")):
        mg.AdaptiveAvgPool2D(2)(np.zeros((2, 4, 4)))
    pool = mg.MaxPool2D(2, return_indices=True)
    unpool = mg.MaxUnpool2D(2, indices_from=pool)
    with pytest.raises(RuntimeError, match=re.escape("has no indices yet; run the pool's")):
        unpool(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=re.escape("has no indices_from pool")):
        mg.MaxUnpool2D(2)(np.zeros((1, 1, 2, 2)))
    pool(np.arange(20.0).reshape(1, 1, 4, 5))
    with pytest.raises(ValueError, match=re.escape(
            "indices must be positions in an output of spatial size 4×4 (0 to 15), got 6 to "
            "18")):  # a 4×5 input's positions, into the default 4×4 output
        unpool(np.ones((1, 1, 2, 2)) + np.arange(4).reshape(2, 2))
    with pytest.raises(ValueError, match=re.escape(
            "output_size (7, 4) must be within the stride of (4, 4) on axis 0, between 2 and "
            "6 (exclusive)")):
        unpool.unpool(np.zeros((1, 1, 2, 2)), pool.indices, (7, 4))
    with pytest.raises(ValueError, match=re.escape(
            "indices must be integers of the input's shape (1, 1, 2, 2), got float64 of shape "
            "(1, 1, 2, 2)")):
        unpool.unpool(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=re.escape("got int64 of shape (1, 1, 2, 3)")):
        unpool.unpool(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), np.int64))
    with pytest.raises(TypeError, match=re.escape("indices must be an array of the input's")):
        unpool.unpool(np.zeros((1, 1, 2, 2)), torch.zeros((1, 1, 2, 2), dtype=torch.int64))


def test_repr_shows_the_options_set():
    assert repr(mg.MaxPool2D(3, 2, 1, 2, True, True)) == (
        "MaxPool2D(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
        "ceil_mode=True, return_indices=True)")
    assert repr(mg.AvgPool3D(2, ceil_mode=True, count_include_pad=False, divisor_override=3)) == (
        "AvgPool3D(kernel_size=(2, 2, 2), ceil_mode=True, count_include_pad=False, "
        "divisor_override=3)")
    assert repr(mg.AdaptiveMaxPool2D((3, None))) == "AdaptiveMaxPool2D(output_size=(3, None))"
