"""Bad input gets a clear error naming the layer -- never a silent wrong answer."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg


def blog_model() -> mg.Sequential:
    return mg.Sequential(mg.Bias(), mg.Dense(4, 3, rng=0), mg.Sigmoid(), mg.Bias(),
                         mg.Dense(4, 1, rng=1), mg.Identity())


def test_dense_wrong_feature_count_names_layer_expected_and_got():
    with pytest.raises(ValueError) as info:
        mg.Dense(4, 3, rng=0)(np.zeros((6, 3)))
    assert str(info.value) == "Dense(4→3) expected input of shape (batch, 4), got (6, 3)"


def test_error_inside_sequential_names_index_and_type():
    with pytest.raises(ValueError, match=re.escape(
        "at Sequential[1]: Dense(4→3) expected input of shape (batch, 4), got (6, 5)"
    )):
        blog_model()(np.zeros((6, 4)))


def test_error_inside_nested_sequential_gives_the_full_path():
    inner = mg.Sequential(mg.Identity(), mg.Dense(2, 2, rng=0))
    outer = mg.Sequential(mg.Identity(), inner)
    with pytest.raises(ValueError, match=re.escape("at Sequential[1][1]: Dense(2→2)")):
        outer(np.zeros((3, 5)))


@pytest.mark.parametrize("shape", [(6,), (2, 3, 3), ()])
@pytest.mark.parametrize("layer", [mg.Dense(3, 2, rng=0), mg.Bias(), mg.Sigmoid(), mg.Identity()],
                         ids=repr)
def test_non_2d_input_is_refused_not_broadcast(layer, shape):
    with pytest.raises(ValueError, match=re.escape(f"{layer!r} expected input of shape")):
        layer(np.zeros(shape))


@pytest.mark.parametrize(
    "bad",
    [np.array([["a", "b"]]), np.array([[1 + 2j, 0j]]), np.array([[object(), object()]])],
    ids=["str", "complex", "object"],
)
def test_non_real_dtypes_are_type_errors(bad):
    for layer in (mg.Dense(2, 2, rng=0), mg.Sigmoid()):
        with pytest.raises(TypeError, match=re.escape(repr(layer))):
            layer(bad)


def test_empty_and_ragged_inputs_are_value_errors():
    with pytest.raises(ValueError, match="empty input"):
        mg.Dense(2, 2, rng=0)(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=re.escape("Dense(2→2)")):
        mg.Dense(2, 2, rng=0)([[1.0, 2.0], [3.0]])


def test_lists_and_tuples_are_accepted():
    layer = mg.Dense(2, 1, rng=0)
    np.testing.assert_array_equal(layer([[1, 2]]), layer(np.array([[1.0, 2.0]])))
    np.testing.assert_array_equal(layer(((1, 2),)), layer(np.array([[1.0, 2.0]])))


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


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_sgd_rejects_bad_learning_rates(lr):
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        mg.SGD(mg.Dense(2, 2, rng=0).parameters(), lr=lr)


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
    with pytest.raises(ValueError, match="must be a positive int"):
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
