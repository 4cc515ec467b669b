"""The (batch, ...) contract of the older layers against PyTorch (float64), and CNNs end
to end: in a Graph, through summary, save/load and `fit` on the digits."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")
F = torch.nn.functional


def grads(layer, reference, *xs: np.ndarray, seed: int = 0):
    """(y, input gradients) of ``layer`` and of the torch function ``reference``."""
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    expected = reference(*ts)
    y = layer(*xs)
    g = np.random.default_rng(seed).standard_normal(y.shape)
    expected.backward(torch.from_numpy(g))
    got = layer.backward(g)
    got = got if isinstance(got, tuple) else (got,)
    return (y, expected.detach().numpy()), [(a, t.grad.numpy()) for a, t in zip(got, ts)]


def assert_matches(layer, reference, *xs):
    (y, y_ref), pairs = grads(layer, reference, *xs)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-12)
    for got, want in pairs:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


X4 = np.random.default_rng(0).standard_normal((2, 3, 4, 5))


@pytest.mark.parametrize(("layer", "reference"), [
    (mg.ReLU(), F.relu),
    (mg.Sigmoid(), torch.sigmoid),
    (mg.Tanh(), torch.tanh),
    (mg.LeakyReLU(0.1), lambda t: F.leaky_relu(t, 0.1)),
    (mg.Softmax(), lambda t: F.softmax(t, dim=-1)),
    (mg.Softmax(axis=1), lambda t: F.softmax(t, dim=1)),
    (mg.Identity(), lambda t: t * 1),
    (mg.Dropout(0.5).eval(), lambda t: t * 1),
    (mg.Bias(), lambda t: torch.cat([torch.ones(*t.shape[:-1], 1, dtype=t.dtype), t], -1)),
], ids=repr)
def test_elementwise_and_last_axis_layers_on_4d(layer, reference):
    assert_matches(layer, reference, X4)


def test_dense_maps_the_last_axis_like_linear():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    dense = mg.Dense(5, 6, bias=True, rng=0)
    dense.bias.data[:] = np.arange(6.0)
    linear = torch.nn.Linear(5, 6, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(dense.weight.data.T))
        linear.bias.copy_(torch.from_numpy(dense.bias.data))
    assert_matches(dense, linear, x)
    np.testing.assert_allclose(dense.weight.grad, linear.weight.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(dense.bias.grad, linear.bias.grad.numpy(), atol=1e-12)
    assert repr(dense) == "Dense(5→6, bias=True)"
    assert mg.Dense(2, 3).bias is None and [n for n, _ in dense.named_parameters()] == [
        "weight", "bias"]


def test_dropout_in_training_masks_any_rank():
    drop = mg.Dropout(0.5, rng=0)
    y = drop(X4)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 2 * X4[kept])
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(drop.backward(np.ones_like(y)), 2.0 * kept)


def test_add_and_concat_on_images():
    a, b = X4, X4[:, :2] * 3
    assert_matches(mg.Add(), torch.add, a, a + 1)
    assert_matches(mg.Concat(axis=1), lambda s, t: torch.cat([s, t], 1), a, b)
    assert_matches(mg.Concat(axis=-2), lambda s, t: torch.cat([s, t], -2), a, a[:, :, :1])


def small_cnn(seed: int = 0, dtype=np.float64) -> mg.Sequential:
    rng = np.random.default_rng(seed)
    return mg.Sequential(
        mg.Conv2D(1, 4, 3, padding=1, rng=rng, dtype=dtype), mg.ReLU(), mg.MaxPool2D(2),
        mg.Conv2D(4, 8, 3, padding=1, rng=rng, dtype=dtype), mg.ReLU(), mg.MaxPool2D(2),
        mg.Flatten(), mg.Dense(32, 10, bias=True, rng=rng, dtype=dtype),
    )


def test_residual_conv_block_and_channel_concat_in_a_graph():
    block = mg.Graph({
        "conv": (mg.Conv2D(3, 3, 3, padding="same", rng=0), "input"),
        "act": (mg.ReLU(), "conv"),
        "res": (mg.Add(), ("input", "act")),
        "side": (mg.Conv2D(3, 2, 1, rng=1), "input"),
        "out": (mg.Concat(axis=1), ("res", "side")),
    })
    mg.testing.check_layer(block, np.random.default_rng(2).standard_normal((2, 3, 3, 3)))
    assert block(X4).shape == (2, 5, 4, 5)


def test_summary_shows_image_shapes():
    text = mg.summary(small_cnn(), (None, 1, 8, 8))
    assert "(None, 4, 8, 8)" in text and "(None, 8, 2, 2)" in text and "(None, 32)" in text
    assert f"Total params: {4 * 9 + 4 + 8 * 4 * 9 + 8 + 32 * 10 + 10:,}" in text


def test_save_and_load_a_cnn(tmp_path):
    model, other = small_cnn(0), small_cnn(1)
    x = np.random.default_rng(3).standard_normal((2, 1, 8, 8))
    mg.save(model, tmp_path / "cnn.npz")
    mg.load(other, tmp_path / "cnn.npz")
    np.testing.assert_array_equal(other(x), model(x))


def test_a_small_cnn_learns_the_digits_through_fit():
    sklearn = pytest.importorskip("sklearn.datasets")
    X, y = sklearn.load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    model = small_cnn(0, np.float32)
    optimizer = mg.Adam(model.parameters(), lr=1e-2)
    history = mg.fit(model, mg.CrossEntropyLoss(), optimizer, X[:1200], y[:1200], epochs=3,
                     batch_size=16, rng=0, progress=False)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    predictions = mg.predict(model, X[1200:])
    assert predictions.shape == (len(X) - 1200, 10) and predictions.dtype == np.float32
    assert mg.accuracy(predictions, y[1200:]) > 0.85
