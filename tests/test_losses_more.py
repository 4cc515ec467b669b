"""The losses of issue 22 -- BCELoss, KLDivLoss, PoissonNLLLoss, GaussianNLLLoss,
MarginRankingLoss, HingeEmbeddingLoss, SoftMarginLoss, MultiLabelSoftMarginLoss,
MultiMarginLoss, CosineEmbeddingLoss, TripletMarginLoss -- and BCEWithLogitsLoss(weight).

Every configuration of tests/loss_cases.py, every reduction: values and gradients against
torch.nn.functional and its autograd in float64 (to 1e-10; "none" under a random upstream
gradient), gradients against central finite differences, float32 kept, the tuple and
stacked forms of the multi-input losses alike, the tuple form on every array library.
Then the clamps and extremes, bad input, and fit.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import gradcheck
from tests.backends import LIBRARIES, get, library, namespace_name, put
from tests.loss_cases import CASES, as_pred, gradients, stackable

torch = pytest.importorskip("torch")
F = torch.nn.functional
STRICT = {"over": "raise", "invalid": "raise", "divide": "raise", "under": "ignore"}
WITH_REDUCTION = [(name, reduction) for name, case in CASES.items()
                  for reduction in case.reductions]


def draw(name):
    return CASES[name].data(np.random.default_rng(len(name)))


def tensor(value, grad=False):
    return torch.tensor(value, requires_grad=grad) if isinstance(value, np.ndarray) else value


# -- against PyTorch --------------------------------------------------------------------


@pytest.mark.parametrize(("name", "reduction"), WITH_REDUCTION, ids=str)
def test_matches_torch(name, reduction):
    case = CASES[name]
    inputs, target = draw(name)
    loss = case.make(reduction)
    with np.errstate(**STRICT):  # finite data never over- or underflows to a NaN
        value = loss(as_pred(loss, inputs), target)
    t_inputs = [tensor(x, grad=True) for x in inputs]
    expected = case.reference(*t_inputs, None if target is None else torch.tensor(target),
                              reduction)
    if reduction == "none":
        upstream = np.random.default_rng(1).standard_normal(np.shape(value))
        expected.backward(torch.tensor(upstream))
        assert value.dtype == np.float64 and value.shape == tuple(expected.shape)
        np.testing.assert_allclose(value, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    else:
        upstream = None
        expected.backward()
        assert type(value) is float
        assert value == pytest.approx(expected.item(), rel=1e-10, abs=1e-12)
    grads = gradients(loss, upstream)
    for x, t, grad in zip(inputs, t_inputs, grads, strict=True):
        if isinstance(x, np.ndarray):
            assert grad.shape == x.shape
            np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", [name for name, case in CASES.items()
                                  if case.finite_differences])
def test_gradients_are_the_derivatives_of_the_values(name):
    """Central differences of Σ upstream · ℓ ("none") for every input; "mean" and "sum"
    only scale it, which the torch test checks."""
    case = CASES[name]
    inputs, target = draw(name)
    loss = case.make("none")
    arrays = [i for i, x in enumerate(inputs) if isinstance(x, np.ndarray)]
    upstream = np.random.default_rng(2).standard_normal(np.shape(loss(as_pred(loss, inputs),
                                                                      target)))

    def fn(*perturbed):
        given = list(inputs)
        for i, x in zip(arrays, perturbed):
            given[i] = x
        value = float(np.sum(upstream * loss(as_pred(loss, tuple(given)), target)))
        grads = gradients(loss, upstream)
        return value, [grads[i] for i in arrays]

    gradcheck(fn, *[inputs[i] for i in arrays], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(CASES))
def test_float32_stays_float32(name):
    inputs, target = draw(name)
    loss = CASES[name].make("none")
    want = loss(as_pred(loss, inputs), target), gradients(loss)
    single = tuple(x.astype(np.float32) if isinstance(x, np.ndarray) else x for x in inputs)
    value = loss(as_pred(loss, single), target)
    assert value.dtype == np.float32
    for grad, expected in zip(gradients(loss), want[1]):
        assert grad.dtype == np.float32
        np.testing.assert_allclose(grad, expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())
    np.testing.assert_allclose(value, want[0], rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("name", [name for name in CASES if stackable(name)])
def test_the_stacked_form_is_the_tuple_form(name, reduction):
    inputs, target = draw(name)
    loss = CASES[name].make(reduction)
    upstream = None
    want = loss(as_pred(loss, inputs), target)
    if reduction == "none":
        upstream = np.random.default_rng(3).standard_normal(want.shape)
    grads = loss.backward_inputs(upstream)
    with pytest.raises(RuntimeError, match=re.escape(f"{loss!r}: forward got a tuple of inputs; "
                                                     "backward_inputs() returns")):
        loss.backward()
    stacked = as_pred(loss, inputs, stacked=True)
    np.testing.assert_array_equal(loss(stacked, target), want)
    np.testing.assert_array_equal(loss.backward(upstream),
                                  np.stack(grads, axis=loss.stack_axis))
    for grad, again in zip(grads, loss.backward_inputs(upstream)):  # either form
        np.testing.assert_array_equal(again, grad)


@pytest.mark.parametrize("lib_name", [name for name in LIBRARIES if name != "numpy"])
@pytest.mark.parametrize("name", [name for name in CASES if len(draw(name)[0]) > 1])
def test_the_tuple_form_on_every_library(name, lib_name):
    """The stacked forms and the one-input losses are in test_backend_training's table."""
    lib = library(lib_name)
    inputs, target = draw(name)
    home, moved = CASES[name].make("none"), CASES[name].make("none")
    want = home(as_pred(home, inputs), target)
    upstream = np.random.default_rng(4).standard_normal(want.shape)
    got = moved(tuple(put(x, lib) if isinstance(x, np.ndarray) else x for x in inputs),
                None if target is None else put(target, lib))
    np.testing.assert_allclose(get(got), want, rtol=1e-12, atol=1e-12)
    for grad, expected in zip(moved.backward_inputs(put(upstream, lib)),
                              home.backward_inputs(upstream)):
        assert namespace_name(grad) == namespace_name(got)
        np.testing.assert_allclose(get(grad), expected, rtol=1e-12, atol=1e-12)


def test_multi_margin_and_multilabel_take_any_batch_shape_with_classes_last():
    """PyTorch takes (N, C); minigrad any (..., C): the same as the rows flattened."""
    rng = np.random.default_rng(5)
    x, y, t = rng.standard_normal((2, 3, 4)), rng.integers(0, 4, (2, 3)), rng.random((2, 3, 4))
    for loss, target, flat in ((mg.MultiMarginLoss("none", p=2), y, y.reshape(6)),
                               (mg.MultiLabelSoftMarginLoss("none"), t, t.reshape(6, 4))):
        per_row = loss(x, target)
        grad = loss.backward()
        np.testing.assert_array_equal(per_row.reshape(6), loss(x.reshape(6, 4), flat))
        np.testing.assert_array_equal(grad.reshape(6, 4), loss.backward())


# -- clamps, extremes and stability ----------------------------------------------------


def test_bce_floors_log_at_minus_100_and_its_gradient_as_torch():
    x = np.array([0.0, 0.0, 1.0, 1.0, 1e-50, 1e-13, 0.5])
    t = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.3])
    loss = mg.BCELoss("none")
    with np.errstate(**STRICT):  # no log(0), no division by zero
        value = loss(x, t)
        grad = loss.backward()
    assert value.tolist()[:5] == [100.0, 0.0, 0.0, 100.0, 100.0]
    tx = torch.tensor(x, requires_grad=True)
    expected = F.binary_cross_entropy(tx, torch.tensor(t), reduction="none")
    expected.sum().backward()
    np.testing.assert_allclose(value, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-12)  # ±1/ε at 0 and 1
    assert abs(grad[0]) > 1e12 - 1e4


def test_kl_poisson_and_multilabel_take_no_log_of_zero():
    with np.errstate(**STRICT):
        kl = mg.KLDivLoss("sum")
        assert kl(np.log(np.array([0.5, 0.5])), np.array([1.0, 0.0])) == pytest.approx(math.log(2))
        np.testing.assert_array_equal(kl.backward(), [-1.0, -0.0])
        poisson = mg.PoissonNLLLoss("none", full=True)
        value = poisson(np.zeros(4), np.array([0.0, 1.0, 2.0, 3.0]))  # Stirling only for t > 1
        assert value[0] == 1.0 and value[1] == 1.0
        assert value[3] == pytest.approx(1 + 3 * math.log(3) - 3 + 0.5 * math.log(6 * math.pi))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logistic_losses_are_finite_and_exact_at_extreme_scores(dtype):
    x = np.array([800.0, -800.0, 1e4, -1e4, 40.0], dtype=dtype)
    y = np.array([-1.0, 1.0, -1.0, 1.0, 1.0])
    soft = mg.SoftMarginLoss("none")
    with np.errstate(**STRICT):
        value = soft(x, y)
        grad = soft.backward()
    # A confident wrong answer costs its score (PyTorch's log(1 + e^800) is inf), a
    # confident right one e^−40, not a rounded 0.
    np.testing.assert_allclose(value[:4], [800.0, 800.0, 1e4, 1e4], rtol=1e-7)
    assert value[4] == pytest.approx(math.exp(-40), rel=1e-6)
    np.testing.assert_array_equal(grad[:4], [1.0, -1.0, 1.0, -1.0])
    assert grad.dtype == dtype
    multi = mg.MultiLabelSoftMarginLoss("sum")
    with np.errstate(**STRICT):
        total = multi(x[None, :4], (y[None, :4] > 0).astype(dtype))
    assert total == pytest.approx((800 + 800 + 1e4 + 1e4) / 4, rel=1e-7)


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_cosine_and_triplet_losses_do_not_overflow_or_underflow_at_any_scale(scale):
    """Their norms are taken scaled: squares of 1e200 would be inf, of 1e-200 zero."""
    rng = np.random.default_rng(6)
    x1, x2, x3 = (rng.standard_normal((3, 4)) for _ in range(3))
    y = np.array([1.0, -1.0, -1.0])
    cosine = mg.CosineEmbeddingLoss("none", margin=-0.9)
    want = cosine((x1, x2), y)
    with np.errstate(**STRICT):
        scaled = cosine((x1 * 1e200, x2 * 1e200), y)  # tiny inputs: ε dominates, as torch's
    np.testing.assert_allclose(scaled, want, rtol=1e-10)  # ε's 1e-12 relative part is gone
    triplet = mg.TripletMarginLoss("none", margin=1.0, eps=0.0, p=3)
    unit = triplet((x1, x2, x3)) - 1.0  # d(a, p) − d(a, n), scale-free
    with np.errstate(**STRICT):
        value = triplet((x1 * scale, x2 * scale, x3 * scale))
        grads = triplet.backward_inputs()
    np.testing.assert_allclose(value, np.maximum(1.0 + unit * scale, 0.0), rtol=1e-12)
    assert all(np.isfinite(g).all() for g in grads)


def test_gaussian_nll_is_finite_where_its_value_is():
    """(μ − t)² = 1e400 overflows; (μ − t)²/v = 1e200 does not."""
    loss = mg.GaussianNLLLoss("none")
    with np.errstate(**STRICT):
        value = loss((np.array([1e200]), np.array([1e200])), np.array([0.0]))
        dmean, dvar = loss.backward_inputs()
    assert value[0] == pytest.approx(0.5 * (200 * math.log(10) + 1e200), rel=1e-12)
    assert dmean[0] == 1.0 and dvar[0] == pytest.approx(0.5 * (1e-200 - 1.0), rel=1e-12)


def test_gaussian_nll_var_shapes_and_gradient_shapes():
    rng = np.random.default_rng(7)
    mean, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss = mg.GaussianNLLLoss()
    want = loss((mean, 0.5), target)
    for var in (np.full((4, 3), 0.5), np.full(4, 0.5), np.full((4, 1), 0.5),
                np.full((1, 3), 0.5), 0.5, np.float64(0.5)):
        assert loss((mean, var), target) == pytest.approx(want, rel=1e-14)
        assert loss.backward_inputs()[1].shape == np.shape(var)


def test_triplet_swap_shares_a_tie_half_and_half_as_torch():
    a, n = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    loss = mg.TripletMarginLoss("sum", margin=5.0, eps=0.0, swap=True)
    loss((a, a.copy(), n))  # d(a, n) = d(p, n) = 1
    np.testing.assert_array_equal(loss.backward_inputs()[1], [[0.5, 0.0]])


# -- bad input ---------------------------------------------------------------------------


BAD_INPUTS = [
    (mg.BCELoss(), (np.array([0.5, 1.5]), np.ones(2)), ValueError,
     r"BCELoss\(reduction='mean'\) expected probabilities \(BCEWithLogitsLoss takes logits\) "
     r"in \[0.0, 1.0\], got values from 0.5 to 1.5"),
    (mg.BCELoss(), (np.array([0.5, np.nan]), np.ones(2)), ValueError, "expected probabilities"),
    (mg.BCELoss(weight=[1.0, 2.0, 3.0]), (np.full((2, 2), 0.5), np.ones((2, 2))), ValueError,
     r"expected weight broadcastable to the prediction's shape \(2, 2\), got shape \(3,\)"),
    (mg.BCEWithLogitsLoss(weight=np.ones((3, 2))), (np.zeros((2, 2)), np.ones((2, 2))),
     ValueError, r"BCEWithLogitsLoss\(reduction='mean', weight=.*\) expected weight "
                 r"broadcastable to the prediction's shape \(2, 2\)"),
    (mg.KLDivLoss(), (np.zeros(2), np.array([0.5, -0.5])), ValueError,
     r"KLDivLoss\(reduction='mean'\) expected target probabilities >= 0.0, got values from "
     r"-0.5 to 0.5"),
    (mg.PoissonNLLLoss(), (np.zeros(2), np.array([1.0, -1.0])), ValueError,
     r"PoissonNLLLoss\(reduction='mean'\) expected counts >= 0.0"),
    (mg.PoissonNLLLoss(log_input=False), (np.array([1.0, -1.0]), np.ones(2)), ValueError,
     r"expected rates \(log_input=False\) >= 0.0"),
    (mg.GaussianNLLLoss(), ((np.zeros(2), np.array([1.0, -1.0])), np.zeros(2)), ValueError,
     r"GaussianNLLLoss\(reduction='mean'\) expected variances >= 0.0"),
    (mg.GaussianNLLLoss(), ((np.zeros((4, 3)), np.ones((1, 1))), np.zeros((4, 3))), ValueError,
     r"expected var of shape \(4, 3\), \(4,\), \(4, 3\) with one axis of size 1, or a "
     r"number, got \(1, 1\)"),
    (mg.GaussianNLLLoss(), ((np.zeros((4, 3)), np.ones((4, 3))), np.zeros(4)), ValueError,
     r"expected target of shape \(4, 3\) \(the shape of the mean\), got \(4,\)"),
    (mg.GaussianNLLLoss(), (np.zeros((4, 3)), np.zeros(4)), ValueError,
     r"expected a tuple \(input, var\) or one array of shape \(\.\.\., 2\) stacking them on "
     r"axis -1, got shape \(4, 3\)"),
    (mg.MarginRankingLoss(), ((np.zeros(3), np.zeros(3), np.zeros(3)), np.ones(3)), ValueError,
     r"MarginRankingLoss\(reduction='mean'\) expected 2 inputs \(input1, input2\) or one "
     r"array stacking them, got a tuple of 3"),
    (mg.MarginRankingLoss(), ((np.zeros(3), np.zeros(2)), np.ones(3)), ValueError,
     r"expected inputs of one shape, got input1 \(3,\), input2 \(2,\)"),
    (mg.MarginRankingLoss(), ((np.zeros(3), np.zeros(3)), np.ones(2)), ValueError,
     r"expected target of shape \(3,\) \(the shape of each input\), got \(2,\)"),
    (mg.MarginRankingLoss(), ((np.zeros(3), ["a", "b", "c"]), np.ones(3)), TypeError,
     "expected a real prediction, got dtype <U1"),
    (mg.HingeEmbeddingLoss(), (np.zeros(3), np.array([1.0, 0.0, -1.0])), ValueError,
     r"HingeEmbeddingLoss\(reduction='mean'\) expected targets of 1 or -1, got 0.0"),
    (mg.MultiLabelSoftMarginLoss(), (np.float64(1.0), np.float64(1.0)), ValueError,
     r"expected a prediction of shape \(\.\.\., C\) \(classes last\), got a scalar"),
    (mg.MultiMarginLoss(), (np.zeros((2, 3)), np.array([0, 3])), ValueError,
     r"MultiMarginLoss\(reduction='mean'\) expected class indices in \[0, 3\) for 3 classes, "
     "got 3"),
    (mg.MultiMarginLoss(), (np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError,
     "expected integer class indices, got dtype float64"),
    (mg.MultiMarginLoss(), (np.zeros((2, 3)), np.array([[0], [1]])), ValueError,
     r"expected target of shape \(2,\) \(class indices, classes last\) for a prediction of "
     r"shape \(2, 3\), got \(2, 1\)"),
    (mg.MultiMarginLoss(weight=[1.0, 2.0]), (np.zeros((2, 3)), np.array([0, 1])), ValueError,
     r"expected weight of length 3 \(one per class, the last axis of pred \(2, 3\)\), got "
     r"shape \(2,\)"),
    (mg.CosineEmbeddingLoss(), ((np.ones((2, 3)), np.ones((2, 3))), np.array([1.0, 0.0])),
     ValueError, r"CosineEmbeddingLoss\(reduction='mean'\) expected targets of 1 or -1, got 0.0"),
    (mg.CosineEmbeddingLoss(), ((np.ones((2, 3)), np.ones((2, 3))), np.ones((2, 3))),
     ValueError, r"expected target of shape \(2,\) \(one per pair of vectors\), got \(2, 3\)"),
    (mg.CosineEmbeddingLoss(), ((np.ones(2), np.ones(2)), np.ones(())), None, None),
    (mg.CosineEmbeddingLoss(), ((np.array(1.0), np.array(1.0)), 1.0), ValueError,
     r"expected vectors of shape \(\.\.\., D\) \(features last\), got scalars"),
    (mg.TripletMarginLoss(), ((np.zeros((2, 3)),) * 3, np.zeros(2)), ValueError,
     r"TripletMarginLoss\(reduction='mean'\) takes no target \(anchor, positive and negative "
     r"are all predictions\), got ndarray"),
    (mg.TripletMarginLoss(), (np.zeros((4, 2, 3)), None), ValueError,
     r"expected a tuple \(anchor, positive, negative\) or one array of shape \(\.\.\., 3, D\) "
     r"stacking them on axis -2, got shape \(4, 2, 3\)"),
]


@pytest.mark.parametrize(("loss", "args", "error", "message"), BAD_INPUTS,
                         ids=[f"{type(b[0]).__name__}-{i}" for i, b in enumerate(BAD_INPUTS)])
def test_bad_input_is_refused_naming_the_loss_what_it_expected_and_got(loss, args, error,
                                                                       message):
    if error is None:  # the valid twin of the case above it
        loss(*args)
        return
    with pytest.raises(error, match=message):
        loss(*args)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: mg.KLDivLoss("batch"),  # type: ignore[arg-type]
     "KLDivLoss: reduction must be 'none', 'batchmean', 'mean' or 'sum', got 'batch'"),
    (lambda: mg.BCELoss("batchmean"),  # type: ignore[arg-type]
     "BCELoss: reduction must be 'none', 'mean' or 'sum'"),
    (lambda: mg.BCELoss(weight=[1.0, np.inf]), "BCELoss: weight must be finite"),
    (lambda: mg.BCEWithLogitsLoss(weight=[]), "BCEWithLogitsLoss: weight must be a non-empty"),
    (lambda: mg.PoissonNLLLoss(eps=-1.0), "PoissonNLLLoss: eps must be a finite number >= 0"),
    (lambda: mg.GaussianNLLLoss(eps=0.0), "GaussianNLLLoss: eps must be a finite number > 0"),
    (lambda: mg.MarginRankingLoss(margin=math.nan), "MarginRankingLoss: margin must be a finite"),
    (lambda: mg.HingeEmbeddingLoss(margin="1"),  # type: ignore[arg-type]
     "HingeEmbeddingLoss: margin must be a finite number, got '1'"),
    (lambda: mg.MultiMarginLoss(p=3), r"MultiMarginLoss: p must be 1 or 2, got 3"),
    (lambda: mg.MultiMarginLoss(p=True), r"MultiMarginLoss: p must be 1 or 2, got True"),
    (lambda: mg.MultiMarginLoss(weight=[[1.0]]),
     r"MultiMarginLoss: weight must be a non-empty 1-D real array, got float64 of shape \(1, 1\)"),
    (lambda: mg.TripletMarginLoss(margin=0.0), "TripletMarginLoss: margin must be a finite "
                                               "number > 0, got 0.0"),
    (lambda: mg.TripletMarginLoss(p=0.5), "TripletMarginLoss: p must be a finite number >= 1"),
    (lambda: mg.TripletMarginLoss(eps=-1e-6), "TripletMarginLoss: eps must be a finite number"),
])
def test_bad_options_are_refused_naming_the_loss(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_backward_needs_a_forward_and_the_multi_input_losses_one_library():
    for loss in (mg.BCELoss(), mg.TripletMarginLoss(), mg.GaussianNLLLoss()):
        with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
            loss.backward()
    with pytest.raises(TypeError, match=r"CosineEmbeddingLoss\(reduction='mean'\) got input1 as "
                                        r"numpy\.ndarray and input2 as torch\.Tensor on cpu; pass "
                                        "all of one library and device"):
        mg.CosineEmbeddingLoss()((np.ones((2, 3)), torch.ones(2, 3)), np.ones(2))
    loss = mg.KLDivLoss("none")
    loss(np.zeros((2, 2)), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=r"backward expected a real upstream gradient of shape "
                                         r"\(2, 2\)"):
        loss.backward(np.ones(2))


def test_reprs_show_the_options_that_differ_from_the_defaults():
    assert repr(mg.KLDivLoss("batchmean", log_target=True)) == (
        "KLDivLoss(reduction='batchmean', log_target=True)")
    assert repr(mg.BCEWithLogitsLoss(pos_weight=[2.0], weight=0.5)) == (
        "BCEWithLogitsLoss(reduction='mean', pos_weight=[2.0], weight=0.5)")
    assert repr(mg.MultiMarginLoss("sum", p=2, weight=[1, 2])) == (
        "MultiMarginLoss(reduction='sum', p=2, weight=[1.0, 2.0])")
    assert repr(mg.TripletMarginLoss(margin=0.5, p=1, swap=True)) == (
        "TripletMarginLoss(reduction='mean', margin=0.5, p=1.0, swap=True)")
    assert repr(mg.PoissonNLLLoss(log_input=False, full=True, eps=0.1)) == (
        "PoissonNLLLoss(reduction='mean', log_input=False, full=True, eps=0.1)")
    assert repr(mg.GaussianNLLLoss()) == "GaussianNLLLoss(reduction='mean')"


# -- fit ---------------------------------------------------------------------------------


def test_fit_trains_a_mean_and_variance_model_on_the_stacked_gaussian_nll():
    rng = np.random.default_rng(8)
    X = rng.uniform(-1, 1, (64, 1))
    y = 2 * X[:, 0] + rng.standard_normal(64) * 0.3
    model = mg.Graph({
        "mean": (mg.Dense(1, 1, rng=0), "input"),
        "raw": (mg.Dense(1, 1, rng=1), "input"),
        "var": (mg.Softplus(), "raw"),
        "out": (mg.Concat(), ("mean", "var")),  # (N, 2): mean and variance
    })
    history = mg.fit(model, mg.GaussianNLLLoss(), mg.Adam(model.parameters(), lr=0.05), X, y,
                     epochs=40, batch_size=16, rng=0, progress=False)
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.5


def test_fit_trains_a_siamese_ranking_model_and_refuses_triplets_clearly():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((48, 2, 3))  # pairs of items of 3 features
    truth = np.array([1.0, -2.0, 0.5])
    y = np.sign(X[:, 0] @ truth - X[:, 1] @ truth)  # 1: the first item ranks higher
    model = mg.Sequential(mg.Dense(3, 1, rng=0), mg.Flatten())  # one scorer for both: (N, 2)
    loss = mg.MarginRankingLoss(margin=0.1)
    history = mg.fit(model, loss, mg.SGD(model.parameters(), lr=0.1), X, y, epochs=20,
                     batch_size=8, rng=0, progress=False)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    embed = mg.Sequential(mg.Dense(3, 2, rng=0))
    with pytest.raises(ValueError, match=r"TripletMarginLoss.* takes no target"):
        mg.fit(embed, mg.TripletMarginLoss(), mg.SGD(embed.parameters(), lr=0.1),
               rng.standard_normal((8, 3, 3)), np.zeros(8), epochs=1, progress=False)


def test_a_triplet_step_by_hand_on_the_stacked_form():
    rng = np.random.default_rng(10)
    embed = mg.Sequential(mg.Dense(4, 2, rng=0))
    X = rng.standard_normal((16, 3, 4))  # (anchor, positive, negative) per row
    loss_fn, opt = mg.TripletMarginLoss(), mg.SGD(embed.parameters(), lr=0.05)
    first = loss_fn(embed(X))
    for _ in range(20):
        loss_fn(embed(X))
        opt.zero_grad()
        embed.backward_params(loss_fn.backward())  # (16, 3, 2), as the model's output
        opt.step()
    assert loss_fn(embed(X)) < first
