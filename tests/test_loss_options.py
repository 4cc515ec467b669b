"""The three reductions and the loss options (weight, ignore_index, label_smoothing,
pos_weight, delta, beta): values and gradients against torch.nn.functional in float64,
finite differences of "none" with an upstream gradient, sequences, extremes, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.layer_contract import gradcheck

torch = pytest.importorskip("torch")
F = torch.nn.functional
REDUCTIONS = ["none", "mean", "sum"]


def assert_matches_torch(loss, torch_loss, pred, target, *, class_axis=False, **options):
    """Value and gradient (for "none" under a random upstream gradient) equal torch's.

    ``class_axis``: minigrad's classes are last; torch's are second (moved for torch).
    """
    t_pred = torch.tensor(np.moveaxis(pred, -1, 1) if class_axis and pred.ndim > 2 else pred,
                          requires_grad=True)
    t_target = np.moveaxis(target, -1, 1) if class_axis and target.ndim == pred.ndim > 2 \
        else target
    expected = torch_loss(t_pred, torch.tensor(t_target), reduction=loss.reduction, **options)
    value = loss(pred, target)
    if loss.reduction == "none":
        upstream = np.random.default_rng(0).standard_normal(np.shape(value))
        expected.backward(torch.tensor(upstream))
        np.testing.assert_allclose(value, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        grad = loss.backward(upstream)
    else:
        expected.backward()
        assert isinstance(value, float)
        assert value == pytest.approx(expected.item(), rel=1e-10, abs=1e-12)
        grad = loss.backward()
    t_grad = t_pred.grad.numpy()
    if class_axis and pred.ndim > 2:
        t_grad = np.moveaxis(t_grad, 1, -1)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-10, atol=1e-12)


# -- regression losses on any shape ----------------------------------------------------

RESIDUAL_LOSSES = [
    (lambda r: mg.MSELoss(r), lambda p, t, reduction: F.mse_loss(p, t, reduction=reduction)),
    (lambda r: mg.L1Loss(r), lambda p, t, reduction: F.l1_loss(p, t, reduction=reduction)),
    (lambda r: mg.HuberLoss(r), lambda p, t, reduction: F.huber_loss(p, t, reduction=reduction)),
    (lambda r: mg.HuberLoss(r, delta=0.7),
     lambda p, t, reduction: F.huber_loss(p, t, reduction=reduction, delta=0.7)),
    (lambda r: mg.SmoothL1Loss(r),
     lambda p, t, reduction: F.smooth_l1_loss(p, t, reduction=reduction)),
    (lambda r: mg.SmoothL1Loss(r, beta=0.5),
     lambda p, t, reduction: F.smooth_l1_loss(p, t, reduction=reduction, beta=0.5)),
    (lambda r: mg.SmoothL1Loss(r, beta=0.0),
     lambda p, t, reduction: F.smooth_l1_loss(p, t, reduction=reduction, beta=0.0)),
]


@pytest.mark.parametrize("shape", [(5,), (3, 4, 2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("index", range(len(RESIDUAL_LOSSES)))
def test_regression_losses_match_torch_on_any_shape(index, reduction, shape):
    make, torch_loss = RESIDUAL_LOSSES[index]
    rng = np.random.default_rng(index)
    pred, target = rng.standard_normal(shape) * 2, rng.standard_normal(shape)
    target.flat[0] = pred.flat[0]  # a zero residual: L1's subgradient 0, as torch
    assert_matches_torch(make(reduction), torch_loss, pred, target)


@pytest.mark.parametrize("index", range(len(RESIDUAL_LOSSES)))
def test_none_backward_is_the_derivative_of_the_weighted_sum(index):
    make, _ = RESIDUAL_LOSSES[index]
    rng = np.random.default_rng(10 + index)
    target, upstream = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    loss = make("none")

    def fn(pred):
        return float(np.sum(upstream * loss(pred, target))), [loss.backward(upstream)]

    gradcheck(fn, rng.standard_normal((3, 4)) * 2)


def test_none_keeps_the_dtype_and_checks_the_upstream_shape():
    loss = mg.HuberLoss("none")
    value = loss(np.ones((2, 3), np.float32), np.zeros((2, 3)))
    assert value.dtype == np.float32 and value.shape == (2, 3)
    assert loss.backward(np.ones((2, 3))).dtype == np.float32
    np.testing.assert_array_equal(loss.backward(), np.ones((2, 3)))  # default: Σ ℓ's
    with pytest.raises(ValueError, match=r"HuberLoss\(reduction='none'\): backward expected a "
                                         r"real upstream gradient of shape \(2, 3\)"):
        loss.backward(np.ones(3))


def test_mean_and_sum_scale_by_a_scalar_upstream_gradient():
    loss = mg.L1Loss("sum")
    loss(np.array([1.0, -2.0]), np.zeros(2))
    np.testing.assert_array_equal(loss.backward(3.0), [3.0, -3.0])
    with pytest.raises(ValueError, match=r"L1Loss\(reduction='sum'\): backward expected a real "
                                         r"upstream gradient of shape \(\) \(a scalar\), got "
                                         r"float64 \(2,\)"):
        loss.backward(np.ones(2))


# -- BCEWithLogitsLoss(pos_weight) -----------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (2, 4, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [None, [0.5, 2.0, 3.0]])
def test_bce_pos_weight_matches_torch(pos_weight, reduction, shape):
    rng = np.random.default_rng(20)
    z, t = rng.standard_normal(shape) * 5, rng.random(shape)
    z.reshape(-1, 3)[0] = [1e4, -1e4, 40.0]
    t.reshape(-1, 3)[1] = [0.0, 1.0, 1.0]
    options = ({} if pos_weight is None
               else {"pos_weight": torch.tensor(pos_weight, dtype=torch.float64)})
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_matches_torch(mg.BCEWithLogitsLoss(reduction, pos_weight=pos_weight),
                             F.binary_cross_entropy_with_logits, z, t, **options)


def test_bce_pos_weight_gradient_is_the_derivative_of_its_value():
    rng = np.random.default_rng(21)
    t = rng.random((4, 2))
    loss = mg.BCEWithLogitsLoss(pos_weight=[3.0, 0.25])
    gradcheck(lambda z: (loss(z, t), [loss.backward()]), rng.standard_normal((4, 2)) * 3)


def test_bce_pos_weight_keeps_tiny_gradients():
    loss = mg.BCEWithLogitsLoss("sum", pos_weight=[2.0])
    loss(np.array([[700.0]]), np.array([[1.0]]))  # dℓ/dz = −2σ(−700), not a rounded 0
    assert loss.backward()[0, 0] == pytest.approx(-2 * np.exp(-700), rel=1e-12, abs=0)


# -- CrossEntropyLoss and NLLLoss -------------------------------------------------------

CE_OPTIONS = [
    {},
    {"weight": [0.2, 1.0, 3.0, 0.5]},
    {"ignore_index": 1},
    {"label_smoothing": 0.1},
    {"weight": [0.2, 1.0, 3.0, 0.5], "ignore_index": 2, "label_smoothing": 0.3},
    {"ignore_index": 0, "label_smoothing": 0.2},
]


def torch_options(options):
    return {k: torch.tensor(v, dtype=torch.float64) if k == "weight" else v
            for k, v in options.items()}


@pytest.mark.parametrize("shape", [(7,), (3, 5)])  # the batch shape: (N, C) and (N, T, C)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS, ids=str)
def test_cross_entropy_with_indices_matches_torch(options, reduction, shape):
    rng = np.random.default_rng(30)
    z, y = rng.standard_normal((*shape, 4)) * 3, rng.integers(0, 4, shape)
    z.reshape(-1, 4)[0] = [1e4, -1e4, 0.0, 3.0]
    y.reshape(-1)[:3] = [1, 2, 0]  # some of each ignore_index
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_matches_torch(mg.CrossEntropyLoss(reduction, **options), F.cross_entropy, z, y,
                             class_axis=True, **torch_options(options))


@pytest.mark.parametrize("shape", [(6,), (2, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [o for o in CE_OPTIONS if o.get("ignore_index", -1) < 0]
                         + [{"weight": [0.2, 1.0, 3.0, 0.5], "label_smoothing": 0.3}], ids=str)
def test_cross_entropy_with_probabilities_matches_torch(options, reduction, shape):
    rng = np.random.default_rng(31)
    z = rng.standard_normal((*shape, 4)) * 3
    t = rng.dirichlet(np.ones(4), shape)
    t.reshape(-1, 4)[0] *= 1.7  # a row not summing to 1
    assert_matches_torch(mg.CrossEntropyLoss(reduction, **options), F.cross_entropy, z, t,
                         class_axis=True, **torch_options(options))


def test_sequence_padding_is_ignored_as_torch_means_over_kept_positions():
    rng = np.random.default_rng(32)
    logits = rng.standard_normal((2, 5, 3))
    targets = np.array([[0, 2, 1, -100, -100], [1, 1, -100, -100, -100]])  # padded ends
    loss = mg.CrossEntropyLoss()
    value = loss(logits, targets)
    kept = targets != -100
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    assert value == pytest.approx(-log_p[kept, targets[kept]].mean(), rel=1e-13)  # over 5
    assert np.all(loss.backward()[~kept] == 0)
    assert_matches_torch(loss, F.cross_entropy, logits, targets, class_axis=True)


@pytest.mark.parametrize("options", CE_OPTIONS[:3] + CE_OPTIONS[4:5], ids=str)
@pytest.mark.parametrize("kind", ["indices", "probabilities"])
def test_cross_entropy_gradient_is_the_derivative_of_its_value(kind, options):
    options = {k: v for k, v in options.items() if kind == "indices" or k != "ignore_index"}
    rng = np.random.default_rng(33)
    target = rng.integers(0, 4, (3, 2)) if kind == "indices" else rng.random((3, 2, 4))
    loss = mg.CrossEntropyLoss("none", **options)
    upstream = rng.standard_normal((3, 2))

    def fn(z):
        return float(np.sum(upstream * loss(z, target))), [loss.backward(upstream)]

    gradcheck(fn, rng.standard_normal((3, 2, 4)) * 2)


@pytest.mark.parametrize("shape", [(6,), (2, 4)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": [0.5, 2.0, 1.5]}, {"ignore_index": 2},
                                     {"weight": [0.5, 2.0, 1.5], "ignore_index": 0}], ids=str)
def test_nll_matches_torch_and_composes_with_log_softmax(options, reduction, shape):
    rng = np.random.default_rng(40)
    z, y = rng.standard_normal((*shape, 3)), rng.integers(0, 3, shape)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    assert_matches_torch(mg.NLLLoss(reduction, **options), F.nll_loss, log_p, y,
                         class_axis=True, **torch_options(options))
    nll, ce = mg.NLLLoss(reduction, **options), mg.CrossEntropyLoss(reduction, **options)
    np.testing.assert_allclose(nll(log_p, y), ce(z, y), rtol=1e-12)


def test_every_target_ignored_gives_torchs_nan_mean_and_a_zero_gradient():
    loss = mg.CrossEntropyLoss(ignore_index=0)
    value = loss(np.zeros((2, 3)), np.zeros(2, dtype=int))
    expected = F.cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long),
                               ignore_index=0)
    assert np.isnan(value) and torch.isnan(expected)
    np.testing.assert_array_equal(loss.backward(), np.zeros((2, 3)))


def test_class_losses_keep_float32():
    for loss in (mg.CrossEntropyLoss("none", weight=[1, 2], label_smoothing=0.1),
                 mg.NLLLoss("none", weight=[1, 2])):
        value = loss(np.zeros((3, 2), np.float32), np.array([0, 1, 1]))
        assert value.dtype == np.float32
        assert loss.backward().dtype == np.float32


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "target", "error", "message"), [
    (mg.NLLLoss, np.zeros((2, 4), int), ValueError,
     r"NLLLoss\(reduction='mean'\) expected target of shape \(2, 3\) \(class indices, classes "
     r"last\) for a prediction of shape \(2, 3, 4\), got \(2, 4\)"),
    (mg.CrossEntropyLoss, np.zeros(2, int), ValueError,
     r"CrossEntropyLoss\(reduction='mean'\) expected target of shape \(2, 3\) \(class indices\) "
     r"or \(2, 3, 4\) \(probabilities\) .* got \(2,\)"),
    (mg.NLLLoss, np.full((2, 3), 4), ValueError,
     r"NLLLoss.* expected class indices in \[0, 4\) for 4 classes \(or ignore_index=-100\), "
     "got 4"),
    (mg.CrossEntropyLoss, np.full((2, 3), -1), ValueError, r"class indices in \[0, 4\).* got -1"),
    (mg.NLLLoss, np.zeros((2, 3)), TypeError,
     "NLLLoss.* expected integer class indices, got dtype float64"),
    (mg.CrossEntropyLoss, np.zeros((2, 3)), TypeError,
     r"CrossEntropyLoss.* expected integer class indices, got dtype float64 \(probability "
     r"targets have shape \(2, 3, 4\), classes last\)"),
])
def test_class_losses_refuse_bad_targets_naming_the_loss(make, target, error, message):
    with pytest.raises(error, match=message):
        make()(np.zeros((2, 3, 4)), target)


@pytest.mark.parametrize("make", [mg.CrossEntropyLoss, mg.NLLLoss])
def test_class_losses_refuse_weights_of_the_wrong_length_or_form(make):
    name = make.__name__
    with pytest.raises(ValueError, match=rf"{name}\(reduction='mean', weight=\[1.0, 2.0\]\) "
                                         r"expected weight of length 3 \(one per class"):
        make(weight=[1.0, 2.0])(np.zeros((2, 3)), np.zeros(2, int))
    with pytest.raises(ValueError, match=f"{name}: weight must be a non-empty 1-D real array"):
        make(weight=[[1.0]])
    with pytest.raises(ValueError, match=f"{name}: weight must be finite"):
        make(weight=[1.0, np.nan])
    with pytest.raises(ValueError, match=f"{name}: ignore_index must be an int"):
        make(ignore_index=1.5)


def test_bad_options_are_refused_naming_the_loss():
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss\(.*\) expected pos_weight of "
                                         "length 3"):
        mg.BCEWithLogitsLoss(pos_weight=[1.0, 2.0])(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="CrossEntropyLoss: label_smoothing must be a number "
                                         r"in \[0, 1\], got 1.5"):
        mg.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="HuberLoss: delta must be a finite number > 0"):
        mg.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be a finite number >= 0"):
        mg.SmoothL1Loss(beta=-1.0)
    with pytest.raises(ValueError, match="does not support ignore_index >= 0 with probability"):
        mg.CrossEntropyLoss(ignore_index=0)(np.zeros((2, 3)), np.full((2, 3), 1 / 3))


# -- fit -------------------------------------------------------------------------------


def test_fit_refuses_none_and_trains_with_sum_and_options():
    rng = np.random.default_rng(50)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    model = mg.Sequential(mg.Dense(3, 2, rng=0))
    opt = mg.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"fit: CrossEntropyLoss\(reduction='none'\) returns "
                                         "per-element losses"):
        mg.fit(model, mg.CrossEntropyLoss("none"), opt, X, y, epochs=1, progress=False)
    loss = mg.CrossEntropyLoss("sum", weight=[1.0, 2.0], label_smoothing=0.1)
    history = mg.fit(model, loss, opt, X, y, epochs=5, batch_size=4, rng=0, progress=False)
    assert history.history["loss"][-1] < history.history["loss"][0]
