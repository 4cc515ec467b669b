"""The example must reproduce the blog post's own algorithm, number for number."""

from __future__ import annotations

import blog_net
import numpy as np


def post_sigmoid(x, derivative=False):
    if derivative:
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


def run_post_algorithm(iterations):
    """The post's script, kept in its own style: global seed, hstack, outer products."""
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]])
    y = np.array([[0, 1, 0, 1, 1, 0]]).T
    state = np.random.get_state()
    np.random.seed(1)
    alpha = 0.1
    num_hidden = 3
    hidden_weights = 2 * np.random.random((X.shape[1] + 1, num_hidden)) - 1
    output_weights = 2 * np.random.random((num_hidden + 1, y.shape[1])) - 1
    np.random.set_state(state)
    output_layer_outputs = None
    for _ in range(iterations):
        input_layer_outputs = np.hstack((np.ones((X.shape[0], 1)), X))
        hidden_layer_outputs = np.hstack(
            (np.ones((X.shape[0], 1)), post_sigmoid(np.dot(input_layer_outputs, hidden_weights)))
        )
        output_layer_outputs = np.dot(hidden_layer_outputs, output_weights)
        output_error = output_layer_outputs - y
        hidden_error = (
            hidden_layer_outputs[:, 1:]
            * (1 - hidden_layer_outputs[:, 1:])
            * np.dot(output_error, output_weights.T[:, 1:])
        )
        hidden_pd = input_layer_outputs[:, :, np.newaxis] * hidden_error[:, np.newaxis, :]
        output_pd = hidden_layer_outputs[:, :, np.newaxis] * output_error[:, np.newaxis, :]
        total_hidden_gradient = np.average(hidden_pd, axis=0)
        total_output_gradient = np.average(output_pd, axis=0)
        hidden_weights += -alpha * total_hidden_gradient
        output_weights += -alpha * total_output_gradient
    return output_layer_outputs, hidden_weights, output_weights


def test_initial_weights_are_the_posts():
    _, hidden, output = run_post_algorithm(0)
    model = blog_net.build_model()
    np.testing.assert_array_equal(model[1].weight.data, hidden)
    np.testing.assert_array_equal(model[4].weight.data, output)


def test_main_matches_the_post_to_1e9(capsys):
    expected_pred, hidden, output = run_post_algorithm(blog_net.ITERATIONS)
    model = blog_net.build_model()
    pred = blog_net.train(model)
    np.testing.assert_allclose(pred, expected_pred, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model[1].weight.data, hidden, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model[4].weight.data, output, rtol=0, atol=1e-9)

    printed_pred = blog_net.main()
    np.testing.assert_allclose(printed_pred, expected_pred, rtol=0, atol=1e-9)
    out = capsys.readouterr().out
    assert out.startswith("Output After Training: \n[[")
    # The net learned the labels.
    np.testing.assert_allclose(printed_pred.ravel(), [0, 1, 0, 1, 1, 0], atol=0.01)


def test_import_has_no_side_effects_and_global_rng_untouched(capsys):
    state = np.random.get_state()
    blog_net.train(blog_net.build_model(), iterations=3)
    after = np.random.get_state()
    assert capsys.readouterr().out == ""
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2] == after[2]
