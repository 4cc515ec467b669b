"""Bad input gets a clear error naming the layer -- never a silent wrong answer."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_builtin_contract import BUILTINS

import minigrad as mg


def blog_model() -> mg.Sequential:
    return mg.Sequential(mg.Bias(), mg.Dense(4, 3, rng=0), mg.Sigmoid(), mg.Bias(),
                         mg.Dense(4, 1, rng=1), mg.Identity())


def test_dense_wrong_feature_count_names_layer_expected_and_got():
    with pytest.raises(ValueError) as info:
        mg.Dense(4, 3, rng=0)(np.zeros((6, 3)))
    assert str(info.value) == "Dense(4→3) expected input of shape (batch, ..., 4), got (6, 3)"


def test_error_inside_sequential_names_index_and_type():
    with pytest.raises(ValueError, match=re.escape(
        "at Sequential[1]: Dense(4→3) expected input of shape (batch, ..., 4), got (6, 5)"
    )):
        blog_model()(np.zeros((6, 4)))


def test_error_inside_nested_sequential_gives_the_full_path():
    inner = mg.Sequential(mg.Identity(), mg.Dense(2, 2, rng=0))
    outer = mg.Sequential(mg.Identity(), inner)
    with pytest.raises(ValueError, match=re.escape("at Sequential[1][1]: Dense(2→2)")):
        outer(np.zeros((3, 5)))


# -- the catalogue, over every built-in (tests/test_builtin_contract.py's BUILTINS) --------

TARGETS = {**BUILTINS, "Dropout-train": (lambda: mg.Dropout(0.5, rng=0), [(4, 3)])}


def example(name: str) -> tuple[mg.Module, list[np.ndarray]]:
    factory, shapes = TARGETS[name]
    rng = np.random.default_rng(len(name))
    return factory(), [rng.standard_normal(shape) for shape in shapes]


def named(layer: mg.Module) -> str:
    """What an error from ``layer`` must name: the layer, or the path into a container."""
    if isinstance(layer, (mg.Sequential, mg.Graph)):
        return re.escape(f"at {type(layer).__name__}[")
    return re.escape(repr(layer))


def with_input(inputs: list[np.ndarray], index: int, value: object) -> list[object]:
    return [value if i == index else x for i, x in enumerate(inputs)]


@pytest.mark.parametrize("name", list(TARGETS))
def test_nested_lists_and_tuples_are_accepted_as_arrays(name):
    layer, inputs = example(name)
    expected = layer(*inputs)
    layer, _ = example(name)  # fresh: Dropout draws the same mask again
    np.testing.assert_array_equal(layer(*[x.tolist() for x in inputs]), expected)
    layer, _ = example(name)
    np.testing.assert_array_equal(layer(*[tuple(map(tuple, x)) for x in inputs]), expected)


NOT_REAL = {
    "str": lambda x: x.astype(str),
    "complex": lambda x: x.astype(complex),
    "object": lambda x: x.astype(object),
}


@pytest.mark.parametrize("kind", list(NOT_REAL))
@pytest.mark.parametrize("name", list(TARGETS))
def test_non_real_inputs_are_type_errors_naming_the_layer(name, kind):
    layer, inputs = example(name)
    for index, x in enumerate(inputs):
        bad = NOT_REAL[kind](x)
        with pytest.raises(TypeError, match=named(layer) + ".* expected a real numeric input, "
                                            f"got dtype {re.escape(str(bad.dtype))}"):
            layer(*with_input(inputs, index, bad))


@pytest.mark.parametrize("name", list(TARGETS))
def test_empty_and_ragged_inputs_are_value_errors_naming_the_layer(name):
    layer, inputs = example(name)
    for index, x in enumerate(inputs):
        with pytest.raises(ValueError, match=named(layer) + ".* got an empty input of shape "
                                             + re.escape(str((0, *x.shape[1:])))):
            layer(*with_input(inputs, index, x[:0]))
        with pytest.raises(ValueError, match=named(layer) + ".* expected input of shape"):
            layer(*with_input(inputs, index, [[1.0, 2.0], [3.0]]))  # ragged


@pytest.mark.parametrize("name", list(TARGETS))
def test_inputs_below_rank_2_are_refused_not_broadcast(name):
    layer, inputs = example(name)
    for index, x in enumerate(inputs):
        for bad in (x.reshape(-1), x.reshape(-1)[0]):  # 1-D, 0-d: no sample axis
            with pytest.raises(ValueError, match=named(layer) + ".* expected input of shape "
                               rf"\(batch, .*\)( for the \w+)?, got {re.escape(str(bad.shape))}"):
                layer(*with_input(inputs, index, bad))


@pytest.mark.parametrize("kind", [np.int64, np.int8, np.uint16, np.bool_])
@pytest.mark.parametrize("name", list(TARGETS))
def test_bool_and_int_inputs_compute_in_the_layer_dtype(name, kind):
    layer, inputs = example(name)
    values = [np.round(2 * x) for x in inputs]  # small integers, exact in every dtype
    if kind is np.bool_:
        values = [v > 0 for v in values]
    elif np.dtype(kind).kind == "u":
        values = [np.abs(v) for v in values]
    layer_dtype = np.float32 if name.endswith("float32") else np.float64
    expected = layer(*[v.astype(layer_dtype) for v in values])
    layer, _ = example(name)
    got = layer(*[v.astype(kind) for v in values])
    assert got.dtype == layer_dtype
    np.testing.assert_array_equal(got, expected)


# -- losses ------------------------------------------------------------------------------

LOSSES = {  # name -> (loss, prediction shape, a valid target for a prediction of that shape)
    "MSELoss": (mg.MSELoss, (4, 2), lambda rng: rng.normal(size=(4, 2))),
    "BCEWithLogitsLoss": (mg.BCEWithLogitsLoss, (4, 2),
                          lambda rng: (rng.random((4, 2)) > 0.5).astype(float)),
    "CrossEntropyLoss": (mg.CrossEntropyLoss, (4, 3), lambda rng: rng.integers(0, 3, 4)),
    "CrossEntropyLoss-probabilities": (mg.CrossEntropyLoss, (4, 3),
                                       lambda rng: rng.dirichlet(np.ones(3), 4)),
    "KLDivLoss": (mg.KLDivLoss, (4, 2), lambda rng: rng.dirichlet(np.ones(2), 4)),
    "PoissonNLLLoss": (mg.PoissonNLLLoss, (4, 2), lambda rng: rng.poisson(2.0, (4, 2))),
    "HingeEmbeddingLoss": (mg.HingeEmbeddingLoss, (4, 2),
                           lambda rng: np.where(rng.random((4, 2)) > 0.5, 1.0, -1.0)),
    "SoftMarginLoss": (mg.SoftMarginLoss, (4, 2), lambda rng: rng.choice([-1.0, 1.0], (4, 2))),
    "MultiLabelSoftMarginLoss": (mg.MultiLabelSoftMarginLoss, (4, 3),
                                 lambda rng: rng.integers(0, 2, (4, 3))),
    "MultiMarginLoss": (mg.MultiMarginLoss, (4, 3), lambda rng: rng.integers(0, 3, 4)),
}


def loss_example(name: str) -> tuple[mg.Loss, np.ndarray, np.ndarray]:
    make, shape, target = LOSSES[name]
    rng = np.random.default_rng(len(name))
    return make(), rng.normal(size=shape), target(rng)


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_accept_nested_lists_and_tuples(name):
    loss, pred, target = loss_example(name)
    expected = loss(pred, target), loss.backward()
    for convert in (lambda a: a.tolist(), lambda a: tuple(np.asarray(a).tolist())):
        assert loss(convert(pred), convert(target)) == expected[0]
        np.testing.assert_array_equal(loss.backward(), expected[1])


@pytest.mark.parametrize("kind", list(NOT_REAL))
@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_refuse_non_real_predictions_and_targets(name, kind):
    loss, pred, target = loss_example(name)
    with pytest.raises(TypeError, match=re.escape(f"{loss!r} expected a real prediction")):
        loss(NOT_REAL[kind](pred), target)
    with pytest.raises(TypeError, match=re.escape(f"{loss!r} expected ")):
        loss(pred, NOT_REAL[kind](target))


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_refuse_empty_predictions(name):
    loss, pred, target = loss_example(name)
    with pytest.raises(ValueError, match=re.escape(f"{loss!r} got an empty prediction of shape "
                                                   f"(0, {pred.shape[1]})")):
        loss(pred[:0], target[:0])


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_refuse_a_target_of_another_shape_instead_of_broadcasting(name):
    loss, pred, target = loss_example(name)
    for bad in (target[:1], target[..., None], target.T, target[:, :1] if target.ndim == 2
                else target[:, None]):
        if bad.shape == target.shape:
            continue
        with pytest.raises(ValueError, match=re.escape(f"{loss!r} expected target of shape")):
            loss(pred, bad)


# -- fit and predict ---------------------------------------------------------------------


def test_fit_and_predict_accept_nested_lists_and_tuples():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))
    runs = []
    for convert in (np.asarray, lambda a: a.tolist(), lambda a: tuple(map(tuple, a))):
        model = blog_model()
        history = mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), convert(X),
                         convert(y), epochs=2, batch_size=4, rng=0, progress=False,
                         validation_data=(convert(X[:3]), convert(y[:3])))
        runs.append((history.history, model.state_dict(), mg.predict(model, convert(X))))
    for history, state, pred in runs[1:]:
        assert history == runs[0][0]
        for key in state:
            np.testing.assert_array_equal(state[key], runs[0][1][key])
        np.testing.assert_array_equal(pred, runs[0][2])


def test_backward_before_forward_is_a_runtime_error_naming_the_layer():
    with pytest.raises(RuntimeError, match=re.escape("Dense(4→3): backward() called before")):
        mg.Dense(4, 3, rng=0).backward(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match=re.escape("at Sequential[5]: Identity()")):
        blog_model().backward(np.zeros((6, 1)))


def test_backward_with_wrong_gradient_shape():
    model = blog_model()
    model(np.zeros((6, 3)))
    with pytest.raises(ValueError, match=re.escape(
        "at Sequential[5]: Identity().backward expected a gradient of shape (6, 1)"
    )):
        model.backward(np.zeros((6, 2)))
    dense = mg.Dense(4, 3, rng=0)
    dense(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=re.escape("Dense(4→3).backward expected a gradient "
                                                   "of shape (2, 3)")):
        dense.backward(np.zeros((3, 2)))


def test_mse_refuses_mismatched_shapes_instead_of_broadcasting():
    with pytest.raises(ValueError, match=re.escape(
        "MSELoss(reduction='mean') expected target of shape (6, 1) (the shape of pred), got (6,)"
    )):
        mg.MSELoss()(np.zeros((6, 1)), np.zeros(6))


def test_loss_backward_before_forward():
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward"):
        mg.MSELoss().backward()


def test_optimizer_rejects_empty_duplicate_and_non_parameters():
    dense = mg.Dense(2, 2, rng=0)
    with pytest.raises(ValueError, match="empty parameter list"):
        mg.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        mg.SGD([dense.weight, dense.weight], lr=0.1)
    with pytest.raises(TypeError, match="not a Parameter"):
        mg.SGD([dense.weight.data], lr=0.1)  # type: ignore[list-item]


@pytest.mark.parametrize("args", [(0, 3), (3, -1), (2.5, 3), (True, 3)])
def test_dense_rejects_bad_sizes(args):
    with pytest.raises(ValueError, match="must be an int >= 1"):
        mg.Dense(*args)


def test_dense_rejects_integer_dtype():
    with pytest.raises(TypeError, match="floating dtype"):
        mg.Dense(2, 2, dtype=np.int64)


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError, match="argument 1 must be a Layer, got function"):
        mg.Sequential(mg.Identity(), lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("got the class Sigmoid; did you mean Sigmoid()")):
        mg.Sequential(mg.Sigmoid)  # type: ignore[arg-type]


def test_load_state_dict_errors_name_the_key_and_leave_model_unchanged():
    model = blog_model()
    before = model.state_dict()
    bad = dict(before)
    bad["1.weight"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=re.escape("'1.weight' has shape (3, 3)")):
        model.load_state_dict(bad)
    bad = dict(before, **{"4.weight": before["4.weight"].astype(np.float32)})
    with pytest.raises(ValueError, match=re.escape("'4.weight' has dtype float32")):
        model.load_state_dict(bad)
    with pytest.raises(KeyError, match=re.escape("missing keys ['4.weight']")):
        model.load_state_dict({"1.weight": before["1.weight"] + 1})
    with pytest.raises(KeyError, match=re.escape("unexpected keys ['9.weight']")):
        model.load_state_dict(dict(before, **{"9.weight": np.zeros(1)}))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_more_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="rng must be None, an int >= 0"):
        mg.Dense(2, 2, rng=-1)
    with pytest.raises(ValueError, match="rng must be None, an int >= 0"):
        mg.Dense(2, 2, rng=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="input_shape must be"):
        mg.summary(mg.Sequential(mg.Dense(3, 1, rng=0)), 3)  # type: ignore[arg-type]
    assert "(None, 1)" in mg.summary(mg.Sequential(mg.Dense(3, 1, rng=0)), (None, np.int64(3)))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*rectangular target"):
        mg.CrossEntropyLoss()(np.zeros((2, 2)), [[0, 1], [1]])
    loss = mg.BCEWithLogitsLoss()
    assert loss(np.float64(2.0), 1.0) == pytest.approx(np.log1p(np.exp(-2.0)))
    assert loss.backward() == pytest.approx(1 / (1 + np.exp(-2.0)) - 1)
    with pytest.raises(ValueError, match="C-contiguous array of shape \\(2, 2\\) and dtype "
                                         "float32"):
        mg.Dense(2, 2, rng=0, dtype=np.float32).weight.grad = np.zeros((2, 2))
    with pytest.raises(TypeError, match=r"init .* must return an array of shape"):
        mg.Dense(2, 2, init=lambda shape, rng, dtype: np.zeros(shape), dtype=np.float32)


def test_rng_takes_what_default_rng_takes():
    seq = np.random.SeedSequence(5)
    a = mg.Dense(3, 3, rng=seq).weight.data
    b = mg.Dense(3, 3, rng=np.random.SeedSequence(5)).weight.data
    np.testing.assert_array_equal(a, b)
    mg.Dense(2, 2, rng=np.random.PCG64(1))
    with pytest.raises(ValueError, match="rng must be None"):
        mg.Dense(2, 2, rng=1.5)  # type: ignore[arg-type]
