"""Nothing bad gets in, nothing is half-done -- in memory: one non-finite rule for every
state, hyperparameters an optimizer can compute with, parameter groups that refuse what
they would ignore, normalization that survives large values, losses and merges that
refuse what has no meaning, messages that say what is true, and a documented layer style
that runs warning-free on every backend.
"""

from __future__ import annotations

import doctest
import math
import re
import warnings

import numpy as np
import pytest
from conftest import ROOT

import minigrad as mg
from minigrad.testing import check_layer

NON_FINITE = re.escape("holds non-finite values (NaN or ±inf)")


def net(seed=0):
    return mg.Sequential(mg.Dense(3, 4, rng=seed), mg.Tanh(), mg.Dense(4, 1, rng=seed + 1))


def assert_state_equal(got, want):
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


# -- one non-finite rule for every way a state comes in ---------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_load_state_dict_refuses_non_finite_values_as_mg_load_does(tmp_path, bad):
    model = net()
    before = model.state_dict()
    state = dict(before)
    state["2.weight"] = state["2.weight"].copy()
    state["2.weight"][1, 0] = bad
    with pytest.raises(ValueError, match=rf"'2\.weight' {NON_FINITE}: 1 of 4"):
        model.load_state_dict(state)
    assert_state_equal(model.state_dict(), before)
    diverged = net()
    diverged[2].weight.data[1, 0] = bad
    mg.save(diverged, tmp_path / "diverged.npz")
    with pytest.raises(ValueError, match=rf"entry '2\.weight' {NON_FINITE}: 1 of 4"):
        mg.load(model, tmp_path / "diverged.npz")


def test_load_torch_state_dict_refuses_non_finite_values():
    torch = pytest.importorskip("torch")
    model = net()
    before = model.state_dict()
    state = mg.export.to_torch(net(1)).state_dict()
    state["0.weight"] = state["0.weight"].clone()
    state["0.weight"][2, 1] = torch.inf
    with pytest.raises(ValueError, match=rf"load_torch_state_dict: '0\.weight' {NON_FINITE}"):
        mg.export.load_torch_state_dict(model, state)
    assert_state_equal(model.state_dict(), before)


def test_an_optimizer_state_obeys_the_same_rule():
    model = net()
    opt = mg.Adam(model.parameters())
    state = opt.state_dict()
    state["state.0.exp_avg"] = np.full((3, 4), np.nan)
    with pytest.raises(ValueError, match=rf"'state\.0\.exp_avg' {NON_FINITE}: 12 of 12"):
        opt.load_state_dict(state)


# -- hyperparameters an optimizer can compute with ---------------------------------------


DIVIDING_EPS = [mg.Adam, mg.AdamW, mg.RMSprop, mg.Adagrad, mg.NAdam, mg.RAdam, mg.Adamax,
                mg.Adadelta]


@pytest.mark.parametrize("cls", DIVIDING_EPS, ids=lambda cls: cls.__name__)
def test_eps_that_divides_must_be_positive(cls):
    param = mg.Parameter(np.ones(3))
    with pytest.raises(ValueError, match=rf"{cls.__name__}: eps must be a finite number > 0"):
        cls([param], eps=0.0)
    opt = cls([param], eps=1e-8)
    for assign in (lambda: setattr(opt, "eps", 0.0),
                   lambda: opt.param_groups[0].__setitem__("eps", 0.0),
                   lambda: setattr(opt.param_groups[0], "eps", 0.0)):
        with pytest.raises(ValueError, match="eps must be a finite number > 0"):
            assign()
    assert opt.param_groups[0]["eps"] == 1e-8
    state = opt.state_dict()
    state["param_groups.0.eps"] = np.array(0.0)
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        opt.load_state_dict(state)
    param.grad[...] = 0.0  # the step that made weights NaN with eps = 0
    opt.step()
    assert np.isfinite(param.data).all()


# -- parameter groups: attribute writes validated, unknown ones refused ----------------


def test_a_group_hyperparameter_set_as_an_attribute_is_validated():
    opt = mg.SGD([mg.Parameter(np.ones(2))], lr=0.1, momentum=0.9)
    group = opt.param_groups[0]
    with pytest.raises(ValueError, match="SGD: lr must be a finite number >= 0, got nan"):
        group.lr = math.nan
    assert group["lr"] == 0.1 and opt.lr == 0.1
    group.lr = 0.5
    assert group["lr"] == 0.5 and group.lr == 0.5 and opt.lr == 0.5
    with pytest.raises(AttributeError, match=r"SGD param group has no attribute 'lrr'; its keys "
                                             r"are \['params', 'lr', 'momentum', 'dampening', "
                                             r"'nesterov', 'weight_decay', 'maximize'\]"):
        group.lrr = 0.5
    with pytest.raises(AttributeError, match="no attribute 'lrr'"):
        group.lrr  # noqa: B018
    with pytest.raises(TypeError, match="params cannot be replaced"):
        group.params = []
    assert not hasattr(group, "lrr") and group["lr"] == 0.5


# -- fit: the stop says what is true; a non-module model or loss is refused at the call --


class Snapshot(mg.Callback):
    """What the model and optimizer hold as each batch begins."""

    def on_train_batch_begin(self, batch):
        self.params = {n: p.data.copy() for n, p in self.model.named_parameters()}
        self.grads = {n: p.grad.copy() for n, p in self.model.named_parameters()}
        self.buffers = {n: np.array(b.data) for n, b in self.model.named_buffers()}
        self.optimizer_state = self.optimizer.state_dict()


def test_the_non_finite_stop_says_what_the_batch_changed():
    model = mg.Sequential(mg.Dense(2, 3, rng=0), mg.BatchNorm1D(3), mg.Dense(3, 1, rng=1))
    opt = mg.Adam(model.parameters(), lr=0.01)
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = np.zeros((8, 1))
    y[6] = 1e200  # finite data whose loss is not: the second batch
    snapshot = Snapshot()
    with pytest.raises(FloatingPointError) as caught:
        mg.fit(model, mg.MSELoss(), opt, X, y, epochs=1, batch_size=4, shuffle=False,
               progress=False, callbacks=[snapshot])
    message = str(caught.value)
    assert "batch 2/2" in message and "before this batch's backward and step" in message
    assert "gradients and the optimizer's state are as they were before this batch" in message
    # All true: nothing of this batch reached the parameters, gradients or optimizer ...
    assert_state_equal({n: p.data for n, p in model.named_parameters()}, snapshot.params)
    assert_state_equal({n: p.grad for n, p in model.named_parameters()}, snapshot.grads)
    assert_state_equal(opt.state_dict(), snapshot.optimizer_state)
    # ... but its forward did move the running statistics, and the message says so.
    assert "'1.running_mean', '1.running_var', '1.num_batches_tracked'" in message
    assert not np.array_equal(model[1].running_mean.data, snapshot.buffers["1.running_mean"])
    plain = net()
    with pytest.raises(FloatingPointError) as caught:
        mg.fit(plain, mg.MSELoss(), mg.SGD(plain.parameters(), lr=0.1), X[:, :1].repeat(3, 1),
               y, epochs=1, batch_size=4, shuffle=False, progress=False)
    assert "buffers" not in str(caught.value)  # none to speak of


def test_fit_predict_and_check_layer_refuse_what_is_not_a_module_at_the_call():
    model, X, y = net(), np.zeros((4, 3)), np.zeros((4, 1))
    opt = mg.SGD(model.parameters(), lr=0.1)
    calls = [
        (lambda: mg.fit(lambda x: x, mg.MSELoss(), opt, X, y, epochs=1),
         "fit: model must be a minigrad Layer", "got function"),
        (lambda: mg.fit(model, lambda a, b: 0.0, opt, X, y, epochs=1),
         "fit: loss_fn must be a minigrad Loss", "got function"),
        (lambda: mg.fit(model, mg.MSELoss(), "adam", X, y, epochs=1),
         "fit: optimizer must be a minigrad Optimizer", "got str"),
        (lambda: mg.fit(model, mg.MSELoss, opt, X, y, epochs=1),
         "fit: loss_fn must be", "did you mean MSELoss()?"),
        (lambda: mg.predict(lambda x: x, X), "predict: model must be a minigrad Layer",
         "got function"),
        (lambda: check_layer(lambda x: x, X), "check_layer: layer must be a minigrad Layer or "
         "MergeLayer", "got function"),
    ]
    for call, expected, got in calls:
        with pytest.raises(TypeError) as caught:
            call()
        assert expected in str(caught.value) and got in str(caught.value), str(caught.value)


# -- errors that list keys list at most 20 ---------------------------------------------


def test_errors_listing_keys_show_twenty_and_count_the_rest(tmp_path):
    model = net()
    state = {**model.state_dict(), **{f"extra.{i:02d}": np.zeros(1) for i in range(57)}}
    with pytest.raises(KeyError) as caught:
        model.load_state_dict(state)
    message = str(caught.value)
    assert "'extra.19'" in message and "'extra.20'" not in message
    assert "and 37 more" in message
    opt = mg.SGD(model.parameters(), lr=0.1)
    with pytest.raises(KeyError, match="and 37 more"):
        opt.load_state_dict({**opt.state_dict(), **{f"extra.{i:02d}": np.zeros(1)
                                                     for i in range(57)}})
    wide = mg.Graph({f"n{i:02d}": (mg.Identity(), "input") for i in range(40)} | {
        "out": (mg.Add(), tuple(f"n{i:02d}" for i in range(40)))})
    with pytest.raises(KeyError, match=r"'n19' and 21 more\)"):
        wide["nope"]
    scheduler = mg.lr_scheduler.StepLR(opt, step_size=1)
    with pytest.raises(KeyError, match="and 37 more"):
        scheduler.load_state_dict({**scheduler.state_dict(),
                                   **{f"extra.{i:02d}": np.zeros(1) for i in range(57)}})
    torch = pytest.importorskip("torch")
    with pytest.raises(KeyError, match="and 37 more"):
        mg.export.load_torch_state_dict(model, {
            **mg.export.to_torch(model).state_dict(),
            **{f"extra.{i:02d}": torch.zeros(1) for i in range(57)}})


# -- normalization: finite inputs give finite, right outputs ----------------------------


NORMS = {
    "LayerNorm": (lambda dtype: mg.LayerNorm(4, dtype=dtype), (1, 4)),
    "GroupNorm": (lambda dtype: mg.GroupNorm(2, 4, dtype=dtype), (1, 4, 2)),
    "BatchNorm1D": (lambda dtype: mg.BatchNorm1D(2, dtype=dtype), (4, 2)),
    "BatchNorm2D": (lambda dtype: mg.BatchNorm2D(1, dtype=dtype), (4, 1, 1, 2)),
}


@pytest.mark.parametrize("name", NORMS)
@pytest.mark.parametrize(("dtype", "big"), [(np.float32, 1e30), (np.float64, 1e200)])
def test_normalization_of_values_whose_squares_overflow(name, dtype, big):
    """[big, −big, 0, 1] in each group: σ² overflows the dtype (1e60 in float32, 1e400 in
    float64), σ does not; the outputs are √2, −√2 and nearly 0, as in exact arithmetic."""
    make, shape = NORMS[name]
    values = np.array([big, -big, 0.0, 1.0])
    x = np.resize(values, shape).astype(dtype)
    if name.startswith("BatchNorm"):  # a channel's values run down the batch
        x = np.moveaxis(np.resize(values, shape[::-1]).astype(dtype), -1, 0).reshape(shape)
    layer = make(dtype)
    y = layer(x)  # no overflow warning either (the suite turns warnings into errors)
    assert y.dtype == dtype and np.isfinite(y).all()
    centred = x.astype(np.float64) - 0.25 * big  # mean (big − big + 0 + 1)/4 ≈ 1/4 (· big)
    expected = np.sign(centred) * np.where(np.abs(x) == big, math.sqrt(2), 0.0)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    grad = layer.backward(np.ones_like(y) * np.arange(y.size).reshape(y.shape).astype(dtype))
    assert np.isfinite(grad).all()
    assert all(np.isfinite(p.grad).all() for p in layer.parameters())


@pytest.mark.parametrize("library", ["torch", "array_api_strict"])
@pytest.mark.parametrize("name", NORMS)
def test_normalization_of_such_values_on_other_libraries(name, library):
    lib = pytest.importorskip(library)
    make, shape = NORMS[name]
    x = np.resize(np.array([1e30, -1e30, 0.0, 1.0]), shape).astype(np.float32)
    home = make(np.float32)
    want = home(x)
    away = make(np.float32).to(lib)
    y = away(lib.asarray(x))
    away.backward(lib.asarray(np.ones(shape, np.float32)))
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-6, atol=1e-6)


# -- losses and merges refuse what has no meaning ---------------------------------------


def test_class_weights_must_not_be_negative():
    for make in (lambda: mg.CrossEntropyLoss(weight=-np.ones(3)),
                 lambda: mg.NLLLoss(weight=[1.0, -0.5, 1.0]),
                 lambda: mg.BCEWithLogitsLoss(pos_weight=[-1.0])):
        with pytest.raises(ValueError, match="must be finite and >= 0"):
            make()
    mg.CrossEntropyLoss(weight=[0.0, 1.0, 2.0])  # a class may weigh nothing


@pytest.mark.parametrize(("logit", "what"), [(np.inf, "a +inf logit"), (np.nan, "a NaN logit")])
def test_cross_entropy_refuses_logits_without_a_softmax(logit, what):
    z = np.zeros((3, 4))
    z[2, 1] = logit
    loss = mg.CrossEntropyLoss()
    with pytest.raises(ValueError, match=re.escape(f"CrossEntropyLoss(reduction='mean') got "
                                                   f"{what} at position (2,)")):
        loss(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"every logit -inf at position \(0,\)"):
        loss(np.full((2, 3), -np.inf), np.array([0, 1]))


def test_cross_entropy_gives_pytorchs_values_on_masked_logits():
    torch = pytest.importorskip("torch")
    z = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, 0.5], [0.0, -np.inf, 1.0]])
    y = np.array([0, 1, 1])  # the last target is a masked class: an infinite loss
    for reduction in ("none", "sum"):
        got = mg.CrossEntropyLoss(reduction=reduction)(z, y)
        want = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y),
                                                 reduction=reduction)
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12)


def test_concat_refuses_the_batch_axis():
    with pytest.raises(ValueError, match="Concat: axis 0 is the batch axis"):
        mg.Concat(axis=0)
    concat = mg.Concat(axis=-2)  # fine on images, the batch axis of (N, d)
    assert concat(np.ones((2, 3, 4)), np.ones((2, 1, 4))).shape == (2, 4, 4)
    with pytest.raises(ValueError, match=r"Concat\(axis=-2\) on inputs of shapes \(2, 3\), "
                                         r"\(1, 3\): Concat: axis 0 is the batch axis"):
        concat(np.ones((2, 3)), np.ones((1, 3)))


# -- backward without a forward says what happened ----------------------------------------


def test_backward_after_the_cache_was_cleared_says_so():
    model = net()
    X, y = np.zeros((4, 3)), np.zeros((4, 1))
    mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
           progress=False)
    with pytest.raises(RuntimeError, match=r"at Sequential\[2\]: Dense\(4→1\): backward\(\) "
                                           r"called before forward\(\): .*cache was cleared "
                                           r".*the end of fit"):
        model.backward(np.ones((4, 1)))


def test_a_second_backward_after_one_forward_raises_unless_retained():
    """What is true in this codebase: a container's backward releases the caches (as
    PyTorch frees its graph); inside retain_graph a second one adds the gradients again."""
    model = net()
    x, g = np.random.default_rng(0).normal(size=(5, 3)), np.ones((5, 1))
    model(x)
    model.zero_grad()
    with mg.retain_graph():
        first = model.backward(g).copy()
        once = [p.grad.copy() for p in model.parameters()]
        np.testing.assert_array_equal(model.backward(g), first)
    for param, grad in zip(model.parameters(), once):
        np.testing.assert_allclose(param.grad, 2 * grad, rtol=1e-15)
    model.backward(g)
    with pytest.raises(RuntimeError, match="second time"):
        model.backward(g)


# -- the documented layer style runs warning-free on every backend -----------------------


def test_the_layers_of_the_extending_page_run_warning_free_after_to_torch():
    torch = pytest.importorskip("torch")
    page = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(page, {}, "extending.md", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test, out=lambda text: None, clear_globs=False)
    assert runner.failures == 0
    layers = test.globs
    models = {
        "Swish": mg.Sequential(layers["Swish"]()),
        "PReLU": mg.Sequential(layers["PReLU"](3)),
        "Residual": mg.Sequential(layers["Residual"](3, rng=0)),
        "Twice": mg.Sequential(layers["Twice"]()),
        "TypedSwish": mg.Sequential(layers["TypedSwish"]()),
        "Gate": mg.Graph({"a": (mg.Dense(3, 3, rng=0), "input"),
                          "gated": (layers["Gate"](), ("input", "a"))}),
    }
    x = np.random.default_rng(0).normal(size=(4, 3))
    for name, model in models.items():
        want = model(x)
        model.to(torch)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = model(torch.tensor(x))
            model.backward(torch.ones_like(y))
        assert isinstance(y, torch.Tensor), name
        np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, err_msg=name)
