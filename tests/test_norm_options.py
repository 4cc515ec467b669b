"""The normalization layers' options (issue 21) against PyTorch, float64: `BatchNorm3D`,
the instance norms, `RMSNorm`, ``bias=False``, ``affine=False``, ``momentum=None``,
``track_running_stats=False`` -- forward, input and parameter gradients over a grid of
options, the running statistics after several training steps and the evaluation outputs
that read them; finite differences (`check_layer`); the errors of bad arguments; and
the fused layer-norm kernel against the readable standardization it implements."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.layers.normalization.standardization import standardize, standardize_backward
from minigrad.testing import check_layer

torch = pytest.importorskip("torch")

RTOL = 1e-7
C = 3  # channels of the per-channel norms

# -- the grid -------------------------------------------------------------------------

BATCH = {  # class -> (PyTorch's class, input shape)
    mg.BatchNorm1D: ("BatchNorm1d", (5, C, 4)),
    mg.BatchNorm2D: ("BatchNorm2d", (4, C, 3, 2)),
    mg.BatchNorm3D: ("BatchNorm3d", (2, C, 3, 2, 2)),
}
INSTANCE = {
    mg.InstanceNorm1D: ("InstanceNorm1d", (4, C, 5)),
    mg.InstanceNorm2D: ("InstanceNorm2d", (3, C, 3, 2)),
    mg.InstanceNorm3D: ("InstanceNorm3d", (2, C, 2, 3, 2)),
}


def running_cases():
    """(name, minigrad factory, torch factory, shape) for batch and instance norms."""
    for table, momenta in ((BATCH, [0.1, 0.3, None]), (INSTANCE, [0.1, 0.6])):
        for cls, (torch_name, shape) in table.items():
            for affine, bias, momentum, track in itertools.product(
                    [True, False], [True, False], momenta, [True, False]):
                if not affine and not bias:
                    continue  # bias only matters with affine
                kwargs = dict(momentum=momentum, affine=affine, track_running_stats=track,
                              bias=bias)
                name = f"{cls.__name__}-" + "-".join(f"{k}={v}" for k, v in kwargs.items())
                yield pytest.param(
                    lambda cls=cls, kwargs=kwargs: cls(C, eps=1e-4, **kwargs),
                    lambda t=torch_name, kwargs=kwargs: getattr(torch.nn, t)(
                        C, eps=1e-4, **kwargs).double(), shape, id=name)


def per_sample_cases():
    """(minigrad factory, torch factory, input shape) for layer, RMS and group norms."""
    cases = []
    for shape, affine, bias, eps in itertools.product(
            [4, (3, 4)], [True, False], [True, False], [1e-5, 1e-2]):
        cases.append(pytest.param(
            lambda s=shape, a=affine, b=bias, e=eps: mg.LayerNorm(s, e, a, b),
            lambda s=shape, a=affine, b=bias, e=eps: torch.nn.LayerNorm(s, e, a, b).double(),
            (2, 3, 4), id=f"LayerNorm-{shape}-affine={affine}-bias={bias}-eps={eps}"))
    for shape, affine, eps in itertools.product([4, (3, 4)], [True, False], [None, 1e-3]):
        cases.append(pytest.param(
            lambda s=shape, a=affine, e=eps: mg.RMSNorm(s, e, a),
            lambda s=shape, a=affine, e=eps: torch.nn.RMSNorm(s, e, a).double(),
            (2, 3, 4), id=f"RMSNorm-{shape}-affine={affine}-eps={eps}"))
    for groups, affine, bias in itertools.product([1, 2, 4], [True, False], [True, False]):
        cases.append(pytest.param(
            lambda g=groups, a=affine, b=bias: mg.GroupNorm(g, 4, affine=a, bias=b),
            lambda g=groups, a=affine, b=bias: torch.nn.GroupNorm(g, 4, affine=a,
                                                                  bias=b).double(),
            (3, 4, 2, 3), id=f"GroupNorm-{groups}-affine={affine}-bias={bias}"))
    return cases


def randomize_like(ours, theirs, rng):
    """Random parameters (not ones and zeros, which would hide a missing term), the same
    in both; the parameter names must be PyTorch's."""
    theirs_params = dict(theirs.named_parameters())
    assert {name for name, _ in ours.named_parameters()} == set(theirs_params)
    for name, p in ours.named_parameters():
        p.data[...] = rng.uniform(0.5, 1.5, p.shape) if name == "weight" else rng.normal(
            size=p.shape)
        with torch.no_grad():
            theirs_params[name].copy_(torch.from_numpy(p.data))


def close(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=RTOL * 1e-3, err_msg=what)


def step_both(ours, theirs, x, g):
    """One forward + backward of each (fresh gradients); compares everything."""
    ours.zero_grad()
    theirs.zero_grad()
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(g))
    close(ours(x), yt, "output")
    close(ours.backward(g), xt.grad, "input gradient")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, f"gradient of {name}")


def buffers_match(ours, theirs):
    theirs_buffers = dict(theirs.named_buffers())
    assert {name for name, _ in ours.named_buffers()} == set(theirs_buffers)
    for name, b in ours.named_buffers():
        close(b.data, theirs_buffers[name], name)


@pytest.mark.parametrize(("ours", "theirs", "shape"), list(running_cases()))
def test_batch_and_instance_norms_match_torch_over_training_and_evaluation(ours, theirs, shape):
    rng = np.random.default_rng(sum(shape))
    m, t = ours(), theirs()
    randomize_like(m, t, rng)
    for _ in range(4):  # several training steps move the running statistics
        x = 2.0 * rng.standard_normal(shape) + rng.normal(size=(1, C) + (1,) * (len(shape) - 2))
        step_both(m, t, x, rng.standard_normal(shape))
        buffers_match(m, t)
    if m.num_batches_tracked is not None:
        assert int(m.num_batches_tracked.data) == int(t.num_batches_tracked)
    m.eval()
    t.eval()
    for _ in range(2):  # evaluation: running statistics (or still the batch's), no update
        step_both(m, t, rng.standard_normal(shape) + 0.5, rng.standard_normal(shape))
        buffers_match(m, t)


@pytest.mark.parametrize(("ours", "theirs", "shape"), per_sample_cases())
def test_layer_rms_and_group_norms_match_torch_in_both_modes(ours, theirs, shape):
    rng = np.random.default_rng(11)
    m, t = ours(), theirs()
    randomize_like(m, t, rng)
    for training in (True, False):
        m.train(training)
        t.train(training)
        x = 3.0 * rng.standard_normal(shape) + 1.5
        step_both(m, t, x, rng.standard_normal(shape))
    assert not m.buffers()


def test_momentum_none_is_the_cumulative_average_of_every_batch():
    rng = np.random.default_rng(3)
    layer = mg.BatchNorm3D(2, momentum=None)
    batches = [rng.normal(i, 1 + i, (3, 2, 2, 2, 2)) for i in range(5)]
    for x in batches:
        layer(x)
    means = [x.mean(axis=(0, 2, 3, 4)) for x in batches]
    variances = [x.var(axis=(0, 2, 3, 4), ddof=1) for x in batches]
    np.testing.assert_allclose(layer.running_mean.data, np.mean(means, axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.data, np.mean(variances, axis=0), rtol=1e-12)
    assert int(layer.num_batches_tracked.data) == 5


def test_instance_norm_running_statistics_average_the_samples_and_count_nothing():
    rng = np.random.default_rng(4)
    layer = mg.InstanceNorm1D(2, momentum=0.5, track_running_stats=True)
    x = rng.normal(3.0, 2.0, (4, 2, 6))
    layer(x)
    np.testing.assert_allclose(layer.running_mean.data, 0.5 * x.mean(axis=2).mean(axis=0),
                               rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.data,
                               0.5 + 0.5 * x.var(axis=2, ddof=1).mean(axis=0), rtol=1e-12)
    assert int(layer.num_batches_tracked.data) == 0  # as PyTorch's
    # evaluation normalizes with them: a sample equal to the running mean gives β
    layer.eval()
    constant = np.broadcast_to(layer.running_mean.data[None, :, None], (1, 2, 6))
    np.testing.assert_allclose(layer(constant), 0.0, atol=1e-12)


def test_without_running_statistics_evaluation_uses_the_inputs_own():
    rng = np.random.default_rng(5)
    x = rng.normal(4.0, 3.0, (3, 2, 5))
    for layer in (mg.BatchNorm1D(2, track_running_stats=False),
                  mg.InstanceNorm1D(2), mg.InstanceNorm1D(2, affine=True)):
        assert layer.running_mean is None and not layer.buffers()
        trained = layer(x)
        np.testing.assert_array_equal(layer.eval()(x), trained)


def test_affine_false_and_bias_false_leave_the_parameters_out():
    assert mg.BatchNorm3D(2, affine=False).parameters() == []
    assert [n for n, _ in mg.BatchNorm1D(2, bias=False).named_parameters()] == ["weight"]
    assert [n for n, _ in mg.InstanceNorm2D(2).named_parameters()] == []
    assert [n for n, _ in mg.InstanceNorm2D(2, affine=True, bias=False)
            .named_parameters()] == ["weight"]
    assert [n for n, _ in mg.LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    assert mg.LayerNorm(4, elementwise_affine=False, bias=True).parameters() == []
    assert [n for n, _ in mg.GroupNorm(2, 4, bias=False).named_parameters()] == ["weight"]
    assert [n for n, _ in mg.RMSNorm((2, 3)).named_parameters()] == ["weight"]
    assert mg.RMSNorm(3).weight.shape == (3,) and mg.RMSNorm((2, 3)).weight.shape == (2, 3)
    assert mg.RMSNorm(3, elementwise_affine=False).parameters() == []


def test_frozen_parameters_accumulate_nothing():
    rng = np.random.default_rng(6)
    for layer, shape in [(mg.LayerNorm(4, bias=False), (3, 4)), (mg.RMSNorm(4), (3, 4)),
                         (mg.InstanceNorm1D(2, affine=True), (3, 2, 4))]:
        for p in layer.parameters():
            p.requires_grad = False
        layer(rng.standard_normal(shape))
        layer.backward(rng.standard_normal(shape))
        assert all(not p.grad.any() for p in layer.parameters())


def test_rms_norm_eps_none_is_the_machine_epsilon_of_the_dtype_it_computes_in():
    """A row of zeros but one tiny value: ε dominates mean(x²), so it shows."""
    x = np.zeros((1, 4))
    x[0, 0] = 1e-7
    for dtype in (np.float64, np.float32):
        eps = np.finfo(dtype).eps
        y = mg.RMSNorm(4, dtype=dtype)(x.astype(dtype))
        assert y.dtype == dtype
        np.testing.assert_allclose(y[0, 0], 1e-7 / math.sqrt(1e-14 / 4 + eps), rtol=1e-5)
        want = torch.nn.RMSNorm(4, dtype=getattr(torch, np.dtype(dtype).name))(
            torch.from_numpy(x.astype(dtype)))
        np.testing.assert_allclose(y, want.detach().numpy(), rtol=1e-5)
    # a model cast to float32 after construction takes float32's ε too
    cast = mg.RMSNorm(4).to(np.float32)
    np.testing.assert_allclose(cast(x.astype(np.float32)),
                               mg.RMSNorm(4, dtype=np.float32)(x.astype(np.float32)))


def test_float32_rms_norm_matches_torch():
    rng = np.random.default_rng(8)
    x = (5 * rng.standard_normal((6, 16))).astype(np.float32)
    g = rng.standard_normal((6, 16)).astype(np.float32)
    m, t = mg.RMSNorm(16, dtype=np.float32), torch.nn.RMSNorm(16)
    randomize_like(m, t, rng)
    xt = torch.from_numpy(x).requires_grad_()
    t(xt).backward(torch.from_numpy(g))
    y, dx = m(x), m.backward(g)
    assert y.dtype == dx.dtype == m.weight.grad.dtype == np.float32
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.weight.grad, t.weight.grad.numpy(), rtol=1e-4, atol=1e-5)


# -- overflow: a square that overflows is rescaled ---------------------------------------


@pytest.mark.parametrize("make", [
    lambda dtype: mg.RMSNorm(4, dtype=dtype),
    lambda dtype: mg.InstanceNorm1D(1, affine=True, dtype=dtype),
    lambda dtype: mg.LayerNorm(4, bias=False, dtype=dtype),
], ids=["RMSNorm", "InstanceNorm1D", "LayerNorm-no-bias"])
@pytest.mark.parametrize(("dtype", "big"), [(np.float32, 1e30), (np.float64, 1e200)])
def test_values_whose_squares_overflow_give_finite_right_outputs(make, dtype, big):
    """[big, −big, big, −big]: mean(x²) = big² overflows, √ of it does not; the rows
    normalize to ±1 (the mean is 0)."""
    layer = make(dtype)
    x = np.array([big, -big, big, -big], dtype).reshape(1, 1, 4)
    y = layer(x)
    assert y.dtype == dtype and np.isfinite(y).all()
    np.testing.assert_allclose(y.reshape(-1), [1, -1, 1, -1], rtol=1e-6)
    grad = layer.backward(np.arange(4, dtype=dtype).reshape(1, 1, 4))
    assert np.isfinite(grad).all()
    assert all(np.isfinite(p.grad).all() for p in layer.parameters())


# -- finite differences ----------------------------------------------------------------


CONTRACT = {
    "BatchNorm3D-momentum-None": (lambda: mg.BatchNorm3D(2, momentum=None), (3, 2, 2, 1, 2)),
    "BatchNorm2D-weight-only": (lambda: mg.BatchNorm2D(2, bias=False), (2, 2, 2, 2)),
    "BatchNorm1D-no-stats-eval": (lambda: mg.BatchNorm1D(2, track_running_stats=False).eval(),
                                  (4, 2)),
    "BatchNorm2D-no-affine": (lambda: mg.BatchNorm2D(2, affine=False), (2, 2, 2, 2)),
    "InstanceNorm1D-affine": (lambda: mg.InstanceNorm1D(2, affine=True), (2, 2, 4)),
    "InstanceNorm2D-tracked": (lambda: mg.InstanceNorm2D(2, affine=True, bias=False,
                                                         track_running_stats=True),
                               (2, 2, 2, 2)),
    "InstanceNorm3D-tracked-eval": (lambda: mg.InstanceNorm3D(
        2, affine=True, track_running_stats=True).eval(), (2, 2, 1, 2, 2)),
    "LayerNorm-no-bias": (lambda: mg.LayerNorm((2, 3), bias=False), (2, 2, 3)),
    "LayerNorm-no-affine": (lambda: mg.LayerNorm(3, elementwise_affine=False), (4, 3)),
    "RMSNorm": (lambda: mg.RMSNorm(3), (2, 2, 3)),
    "RMSNorm-no-affine-eps": (lambda: mg.RMSNorm((2, 3), eps=0.1, elementwise_affine=False),
                              (3, 2, 3)),
    "GroupNorm-weight-only": (lambda: mg.GroupNorm(2, 4, bias=False), (2, 4, 3)),
}


@pytest.mark.parametrize("name", list(CONTRACT))
def test_layer_contract_and_finite_differences(name):
    make, shape = CONTRACT[name]
    check_layer(make(), 2 * np.random.default_rng(len(name)).standard_normal(shape))


# -- the fused layer norm against the readable standardization ---------------------------


@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize("rms", [False, True])
def test_fused_row_kernel_matches_the_readable_standardization(affine, rms):
    """`LayerNorm`/`RMSNorm` compute with `row_norm`'s fused passes; the generic
    `standardize` and `standardize_backward` state the math they implement."""
    rng = np.random.default_rng(9)
    x, g = 4 * rng.standard_normal((3, 5, 6)) + 2, rng.standard_normal((3, 5, 6))
    if rms:
        layer = mg.RMSNorm(6, eps=1e-3, elementwise_affine=affine != "none")
    else:
        layer = mg.LayerNorm(6, 1e-3, affine != "none", affine == "both")
    for p in layer.parameters():
        p.data[...] = rng.normal(size=p.shape)
    gamma = layer.weight.data if layer.weight is not None else np.ones(6)
    beta = layer.bias.data if layer.bias is not None else np.zeros(6)
    if rms:
        # x / √(mean(x²) + ε) is the standardization of the row [x, −x] (mean 0, mean
        # square mean(x²)), first half; x enters both halves, so dL/dx is the gradient
        # of the first half minus that of the second.
        mirrored, _, _, inv_std = standardize(np.concatenate([x, -x], axis=-1), (2,), 1e-3)
        xhat = mirrored[..., :6]
        upstream = np.concatenate([g * gamma, np.zeros_like(g)], axis=-1)
        both = standardize_backward(upstream, mirrored, inv_std, (2,))
        want_dx = both[..., :6] - both[..., 6:]
    else:
        xhat, _, _, inv_std = standardize(x, (2,), 1e-3)
        want_dx = standardize_backward(g * gamma, xhat, inv_std, (2,))
    np.testing.assert_allclose(layer(x), xhat * gamma + beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), want_dx, rtol=1e-10, atol=1e-12)
    if layer.weight is not None:
        np.testing.assert_allclose(layer.weight.grad, (g * xhat).sum(axis=(0, 1)),
                                   rtol=1e-12, atol=1e-12)
    if layer.bias is not None:
        np.testing.assert_allclose(layer.bias.grad, g.sum(axis=(0, 1)), rtol=1e-12)


# -- bad arguments and inputs ------------------------------------------------------------


BAD_ARGUMENTS = [
    (lambda: mg.BatchNorm3D(0), "BatchNorm3D: num_features must be an int >= 1, got 0"),
    (lambda: mg.BatchNorm3D(2, eps=0), "BatchNorm3D: eps must be a finite number > 0, got 0"),
    (lambda: mg.BatchNorm3D(2, momentum=1.5),
     "BatchNorm3D: momentum must be None or a number in [0, 1], got 1.5"),
    (lambda: mg.BatchNorm2D(2, affine="yes"), "BatchNorm2D: affine must be a bool, got 'yes'"),
    (lambda: mg.BatchNorm1D(2, bias=1), "BatchNorm1D: bias must be a bool, got 1"),
    (lambda: mg.BatchNorm1D(2, track_running_stats=None),
     "BatchNorm1D: track_running_stats must be a bool, got None"),
    (lambda: mg.InstanceNorm2D(-1), "InstanceNorm2D: num_features must be an int >= 1, got -1"),
    (lambda: mg.InstanceNorm1D(2, momentum=None),
     "InstanceNorm1D: momentum must be a number in [0, 1] (PyTorch's instance norms have "
     "no momentum=None), got None"),
    (lambda: mg.InstanceNorm3D(2, eps=-1.0),
     "InstanceNorm3D: eps must be a finite number > 0, got -1.0"),
    (lambda: mg.InstanceNorm3D(2, affine=None), "InstanceNorm3D: affine must be a bool, got None"),
    (lambda: mg.InstanceNorm1D(2, track_running_stats="no"),
     "InstanceNorm1D: track_running_stats must be a bool, got 'no'"),
    (lambda: mg.LayerNorm(4, bias="no"), "LayerNorm: bias must be a bool, got 'no'"),
    (lambda: mg.LayerNorm(4, elementwise_affine=0),
     "LayerNorm: elementwise_affine must be a bool, got 0"),
    (lambda: mg.LayerNorm(4, eps=None), "LayerNorm: eps must be a finite number > 0, got None"),
    (lambda: mg.GroupNorm(2, 4, bias=None), "GroupNorm: bias must be a bool, got None"),
    (lambda: mg.GroupNorm(2, 4, eps=float("nan")),
     "GroupNorm: eps must be a finite number > 0, got nan"),
    (lambda: mg.RMSNorm(()), "RMSNorm: normalized_shape must not be empty"),
    (lambda: mg.RMSNorm((3, 0)), "RMSNorm: normalized_shape must be an int >= 1, got 0"),
    (lambda: mg.RMSNorm(3, eps=0.0), "RMSNorm: eps must be a finite number > 0, got 0.0"),
    (lambda: mg.RMSNorm(3, eps="tiny"), "RMSNorm: eps must be a finite number > 0, got 'tiny'"),
    (lambda: mg.RMSNorm(3, elementwise_affine="yes"),
     "RMSNorm: elementwise_affine must be a bool, got 'yes'"),
]


@pytest.mark.parametrize(("make", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_refused_at_construction_naming_layer_and_value(make, message):
    expected = TypeError if "must be a bool" in message else ValueError  # Python's rule
    with pytest.raises(expected) as info:
        make()
    assert str(info.value) == message


def test_bad_inputs_name_the_layer_and_the_shape():
    with pytest.raises(ValueError, match=r"InstanceNorm1D\(3\) expected input of shape "
                                         r"\(batch, 3, L\), got \(2, 3\)"):
        mg.InstanceNorm1D(3)(np.ones((2, 3)))  # PyTorch's unbatched (C, L) is not taken
    with pytest.raises(ValueError, match=r"BatchNorm3D\(2\) expected input of shape "
                                         r"\(batch, 2, D, H, W\), got \(2, 2, 3, 3\)"):
        mg.BatchNorm3D(2)(np.ones((2, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"InstanceNorm2D\(2\) expected input of shape "
                                         r"\(batch, 2, H, W\), got \(2, 3, 2, 2\)"):
        mg.InstanceNorm2D(2)(np.ones((2, 3, 2, 2)))  # the channel count, even without affine
    with pytest.raises(ValueError, match=r"RMSNorm\(\(2, 3\)\) expected input of shape "
                                         r"\(batch, \.\.\., 2, 3\), got \(4, 3\)"):
        mg.RMSNorm((2, 3))(np.ones((4, 3)))


def test_one_value_per_group_is_refused_wherever_batch_statistics_are_used():
    """σ² = 0 makes every output β whatever the input: PyTorch raises, and so does minigrad
    -- in evaluation too when there are no running statistics."""
    with pytest.raises(ValueError, match=r"InstanceNorm2D\(2\) expected more than 1 spatial "
                                         r"element per channel when using batch statistics, "
                                         r"got input of shape \(3, 2, 1, 1\)"):
        mg.InstanceNorm2D(2)(np.ones((3, 2, 1, 1)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        mg.BatchNorm1D(2, track_running_stats=False).eval()(np.ones((1, 2)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        mg.BatchNorm3D(2)(np.ones((1, 2, 1, 1, 1)))
    # with running statistics, evaluation takes one value per group
    assert mg.InstanceNorm2D(2, track_running_stats=True).eval()(np.ones((3, 2, 1, 1))).shape \
        == (3, 2, 1, 1)
    assert mg.BatchNorm1D(2).eval()(np.ones((1, 2))).shape == (1, 2)


def test_reprs_name_the_options_that_differ_from_pytorchs_defaults():
    assert repr(mg.BatchNorm3D(2)) == "BatchNorm3D(2)"
    assert repr(mg.BatchNorm1D(2, momentum=None, affine=False)) == \
        "BatchNorm1D(2, momentum=None, affine=False)"
    assert repr(mg.InstanceNorm2D(2)) == "InstanceNorm2D(2)"
    assert repr(mg.InstanceNorm1D(2, affine=True, bias=False, track_running_stats=True)) == \
        "InstanceNorm1D(2, affine=True, bias=False, track_running_stats=True)"
    assert repr(mg.LayerNorm(4, bias=False)) == "LayerNorm((4,), bias=False)"
    assert repr(mg.RMSNorm(4)) == "RMSNorm((4,))"
    assert repr(mg.RMSNorm((2, 4), eps=0.01, elementwise_affine=False)) == \
        "RMSNorm((2, 4), eps=0.01, elementwise_affine=False)"
    assert repr(mg.GroupNorm(2, 4, affine=False)) == "GroupNorm(2, 4, affine=False)"


# -- the layer norms' backend kernels ------------------------------------------------------


@pytest.mark.parametrize("library", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_outer_and_subtract_row_scaled_kernels(library, dtype):
    """`backend.outer` and `backend.subtract_row_scaled` (NumPy: einsum into buffers)
    compute exactly their formulas, on NumPy and elsewhere."""
    from minigrad import backend

    rng = np.random.default_rng(10)
    column, vector, rows, target = (rng.standard_normal(shape).astype(dtype)
                                    for shape in [(5, 1), (2, 3), (5, 6), (5, 6)])
    want_outer = column * vector.reshape(1, -1)  # each entry one product: exact
    want_target = target - rows * column
    put = (lambda a: a.copy()) if library == "numpy" else (lambda a: torch.from_numpy(a.copy()))
    got = backend.outer(put(column), put(vector))
    assert tuple(got.shape) == (5, 6) and backend.numpy_dtype(got.dtype) == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(got), want_outer)
    moved_target, spare = put(target), put(np.zeros((5, 6), dtype))
    backend.subtract_row_scaled(moved_target, put(rows), put(column), spare=spare)
    np.testing.assert_array_equal(np.asarray(moved_target), want_target)
