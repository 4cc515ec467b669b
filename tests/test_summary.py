"""`mg.summary`: the rows, shapes and counts of the table, and a model left as it was."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg


def rows(text):
    """``{label: (output shape, param count)}`` parsed back from the table body."""
    parsed = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(.+?\)) {2,}(\(.*?\)|-) +([\d,]+)", line)
        if match:
            parsed[match[1]] = (match[2], int(match[3].replace(",", "")))
    return parsed


def totals(text):
    total = re.search(r"Total params: ([\d,]+)", text)[1]
    trainable = re.search(r"Trainable params: ([\d,]+)", text)[1]
    return int(total.replace(",", "")), int(trainable.replace(",", ""))


def test_rows_show_each_layer_its_output_shape_and_its_parameters(capsys):
    model = mg.Sequential(mg.Bias(), mg.Dense(64, 32, rng=0), mg.Sigmoid(), mg.Bias(),
                          mg.Dense(33, 10, rng=1))
    with pytest.raises(ValueError):  # Bias makes 65 inputs: the model rejects 64
        mg.summary(model, (None, 64))
    model = mg.Sequential(mg.Bias(), mg.Dense(65, 32, rng=0), mg.Sigmoid(), mg.Bias(),
                          mg.Dense(33, 10, rng=1))
    text = mg.summary(model, (None, 64))
    assert capsys.readouterr().out == text + "\n"
    assert text.splitlines()[0] == "Sequential, input shape (None, 64)"
    assert rows(text) == {
        "0 (Bias)": ("(None, 65)", 0),
        "1 (Dense)": ("(None, 32)", 65 * 32),
        "2 (Sigmoid)": ("(None, 32)", 0),
        "3 (Bias)": ("(None, 33)", 0),
        "4 (Dense)": ("(None, 10)", 33 * 10),
    }
    assert totals(text) == (65 * 32 + 33 * 10,) * 2
    assert f"({(65 * 32 + 33 * 10) * 8 / 1024:.1f} KiB)" in text


def test_nested_and_shared_layers_count_once_in_the_totals():
    block = mg.Sequential(mg.Dense(4, 4, rng=0), mg.Sigmoid())
    model = mg.Sequential(mg.Bias(), mg.Dense(3, 4, rng=1), block, block,
                          mg.Dense(4, 1, rng=2, dtype=np.float64))
    text = mg.summary(model, (8, 2))
    assert rows(text) == {
        "0 (Bias)": ("(8, 3)", 0),
        "1 (Dense)": ("(8, 4)", 12),
        "2 (Sequential)": ("(8, 4)", 16),
        "2.0 (Dense)": ("(8, 4)", 16),
        "2.1 (Sigmoid)": ("(8, 4)", 0),
        "3 (Sequential, shared with 2)": ("(8, 4)", 16),
        "3.0 (Dense, shared with 2.0)": ("(8, 4)", 16),
        "3.1 (Sigmoid, shared with 2.1)": ("(8, 4)", 0),
        "4 (Dense)": ("(8, 1)", 4),
    }
    assert totals(text) == (12 + 16 + 4, 12 + 16 + 4)


def test_a_single_layer_is_its_own_row():
    text = mg.summary(mg.Dense(5, 2, rng=0, dtype=np.float32), (None, 5))
    assert "Dense    " in text and "(None, 2)" in text
    assert "Total params: 10 (40 B)" in text


def test_the_model_is_left_as_it_was():
    """Modes, and the caches a pending backward needs, survive a summary in between."""
    model = mg.Sequential(mg.Bias(), mg.Dense(3, 3, rng=0), mg.Sigmoid(), mg.Dense(3, 1, rng=1))
    model[2].eval()  # a mixed mode, to be kept
    modes = [m.training for m in model.modules()]
    x = np.random.default_rng(0).normal(size=(5, 2))
    grad_out = np.ones((5, 1))
    model(x)
    model.zero_grad()
    expected = model.backward(grad_out), [p.grad.copy() for p in model.parameters()]

    model(x)
    model.zero_grad()
    mg.summary(model, (None, 2))
    got = model.backward(grad_out), [p.grad.copy() for p in model.parameters()]
    np.testing.assert_array_equal(got[0], expected[0])
    for a, b in zip(got[1], expected[1]):
        np.testing.assert_array_equal(a, b)
    assert [m.training for m in model.modules()] == modes
    assert all("forward" not in vars(m) for m in model.modules())


def test_dropout_is_off_and_its_rng_untouched():
    dropout = mg.Dropout(0.5, rng=0)
    model = mg.Sequential(mg.Dense(3, 3, rng=0), dropout)
    state = dropout.rng.bit_generator.state
    assert "(None, 3)" in mg.summary(model, (None, 3))
    assert dropout.rng.bit_generator.state == state
    assert dropout.training


def test_a_failing_forward_leaves_no_trace():
    model = mg.Sequential(mg.Dense(3, 3, rng=0), mg.Sigmoid())
    with pytest.raises(ValueError, match=r"at Sequential\[0\]: Dense\(3→3\) expected"):
        mg.summary(model, (None, 4))
    assert all("forward" not in vars(m) for m in model.modules())
    assert model.training and model[0].cache is None


@pytest.mark.parametrize("shape", [(None,), (None, 0), (None, -2), (None, 2.5), ()])
def test_bad_input_shapes_are_refused(shape):
    with pytest.raises(ValueError, match="input_shape must be"):
        mg.summary(mg.Dense(2, 2, rng=0), shape)


def test_summary_records_merge_layer_output_shapes():
    graph = mg.Graph({"a": (mg.Dense(3, 2, rng=0), "input"), "b": (mg.Dense(3, 4, rng=1), "input"),
                      "out": (mg.Concat(), ("a", "b"))})
    text = mg.summary(graph, (None, 3))
    row = next(line for line in text.splitlines() if line.startswith("out (Concat)"))
    assert "(None, 6)" in row


def test_buffers_are_counted_as_non_trainable_params(capsys):
    model = mg.Sequential(mg.Conv2D(1, 2, 3, rng=0), mg.BatchNorm2D(2))
    text = mg.summary(model, (None, 1, 5, 5))
    # Conv2D: 2·1·3·3 + 2 = 20; BatchNorm2D: weight, bias (2 + 2) and buffers
    # running_mean, running_var (2 + 2) and num_batches_tracked (1)
    assert re.search(r"1 \(BatchNorm2D\) +\(None, 2, 3, 3\) +9\n", text)
    assert "Total params: 29 " in text
    assert "Trainable params: 24\n" in text
    assert "Non-trainable params: 5" in text
