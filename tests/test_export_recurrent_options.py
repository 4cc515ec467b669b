"""Every option of the recurrent layers, and the one-step cells, leave minigrad: to ONNX
(run in onnxruntime at several batch sizes and lengths, as minigrad computes them) and to
PyTorch (``to_torch`` the same function; ``load_torch_state_dict`` both ways)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

F32 = np.float32

LAYERS = {
    "LSTM 2 layers bidirectional": lambda dt: mg.LSTM(4, 5, num_layers=2, bidirectional=True,
                                                      rng=0, dtype=dt),
    "LSTM bidirectional last": lambda dt: mg.LSTM(4, 5, False, bidirectional=True, rng=0,
                                                  dtype=dt),
    "LSTM 3 layers dropout no bias": lambda dt: mg.LSTM(4, 5, num_layers=3, dropout=0.5,
                                                        bias=False, rng=0, dtype=dt),
    "LSTM proj": lambda dt: mg.LSTM(4, 5, proj_size=3, rng=0, dtype=dt),
    "LSTM proj 2 layers bidirectional last": lambda dt: mg.LSTM(
        4, 5, False, num_layers=2, bidirectional=True, proj_size=2, rng=0, dtype=dt),
    "LSTM proj no bias bidirectional": lambda dt: mg.LSTM(
        4, 5, bidirectional=True, proj_size=4, bias=False, rng=0, dtype=dt),
    "GRU 3 layers bidirectional": lambda dt: mg.GRU(4, 5, num_layers=3, bidirectional=True,
                                                    dropout=0.2, rng=0, dtype=dt),
    "GRU no bias last": lambda dt: mg.GRU(4, 5, False, num_layers=2, bias=False, rng=0,
                                          dtype=dt),
    "RNN relu 2 layers bidirectional": lambda dt: mg.RNN(4, 5, "relu", num_layers=2,
                                                         bidirectional=True, rng=0, dtype=dt),
    "RNN tanh no bias last bidirectional": lambda dt: mg.RNN(4, 5, return_sequences=False,
                                                             bidirectional=True, bias=False,
                                                             rng=0, dtype=dt),
}
CELLS = {
    "RNNCell": lambda dt: mg.RNNCell(4, 5, rng=0, dtype=dt),
    "RNNCell relu no bias": lambda dt: mg.RNNCell(4, 5, False, "relu", rng=0, dtype=dt),
    "LSTMCell": lambda dt: mg.LSTMCell(4, 5, rng=0, dtype=dt),
    "LSTMCell no bias": lambda dt: mg.LSTMCell(4, 5, False, rng=0, dtype=dt),
    "GRUCell": lambda dt: mg.GRUCell(4, 5, rng=0, dtype=dt),
    "GRUCell no bias": lambda dt: mg.GRUCell(4, 5, False, rng=0, dtype=dt),
}


def randomized(layer: mg.Layer) -> mg.Layer:
    rng = np.random.default_rng(1)
    for param in layer.parameters():
        param.data[...] = 0.5 * rng.standard_normal(param.shape)
    return layer


def sample_shapes(name: str) -> list[tuple[int, ...]]:
    """Several batch sizes (and sequence lengths): the axes the export left dynamic."""
    return [(7, 4), (1, 4), (3, 4)] if name in CELLS else [(7, 6, 4), (1, 2, 4), (3, 9, 4)]


@pytest.mark.parametrize("name", [*LAYERS, *CELLS])
def test_onnx_runs_as_minigrad_at_any_batch_and_length(name, tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from minigrad.export import to_onnx

    layer = randomized({**LAYERS, **CELLS}[name](F32))
    layer.train()  # exported in evaluation mode whatever the mode: dropout is the identity
    path = tmp_path / "model.onnx"
    dynamic = (None, 4) if name in CELLS else (None, None, 4)
    to_onnx(layer, path, input_shape=dynamic)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(2)
    for shape in sample_shapes(name):
        x = rng.standard_normal(shape).astype(F32)
        (out,) = session.run(None, {"input": x})
        expected = mg.predict(layer, x)
        assert out.dtype == expected.dtype == F32 and out.shape == expected.shape
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_the_projected_lstm_is_a_scan_and_the_others_are_onnx_ops(tmp_path) -> None:
    pytest.importorskip("onnx")
    from minigrad.export import to_onnx

    ops = {}
    for name in ("LSTM proj 2 layers bidirectional last", "GRU 3 layers bidirectional"):
        proto = to_onnx(LAYERS[name](F32), tmp_path / "m.onnx", input_shape=(None, None, 4))
        ops[name] = [node.op_type for node in proto.graph.node]
    assert ops["LSTM proj 2 layers bidirectional last"].count("Scan") == 4  # 2 × 2
    assert "LSTM" not in ops["LSTM proj 2 layers bidirectional last"]
    assert ops["GRU 3 layers bidirectional"].count("GRU") == 3  # one op per layer


@pytest.mark.parametrize("name", [*LAYERS, *CELLS])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_to_torch_computes_the_same_and_states_cross_both_ways(name, training) -> None:
    torch = pytest.importorskip("torch")
    from minigrad.export import load_torch_state_dict, to_torch

    layer = randomized({**LAYERS, **CELLS}[name](np.float64)).train(training)
    module = to_torch(layer)
    assert module.training == training
    if getattr(layer, "dropout", 0) and training:  # random masks: compare in eval
        layer.eval()
        module.eval()
    x = np.random.default_rng(3).standard_normal(sample_shapes(name)[0])
    with torch.no_grad():
        out = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, layer(x), rtol=1e-12, atol=1e-12)
    # the options are PyTorch's own
    for option in ("num_layers", "bidirectional", "proj_size", "nonlinearity", "bias",
                   "dropout"):
        if hasattr(module, option) and isinstance(layer, mg.layers.recurrent.cells.Recurrent):
            assert getattr(module, option) == getattr(layer, option)
    # PyTorch's state into minigrad, and minigrad's keys are PyTorch's
    state = {key: 2 * value for key, value in module.state_dict().items()}
    load_torch_state_dict(layer, state)
    assert list(layer.state_dict()) == list(state)
    for key, value in layer.state_dict().items():
        np.testing.assert_array_equal(value, state[key].numpy())
    with torch.no_grad():
        np.testing.assert_allclose(to_torch(layer.eval())(torch.from_numpy(x)).numpy(),
                                   layer(x), rtol=1e-12, atol=1e-12)


def test_a_bidirectional_tagger_exports_both_ways(tmp_path) -> None:
    """The example's model shape -- Embedding, bidirectional LSTM, Dense -- in a container."""
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from minigrad.export import to_onnx, to_torch

    model = mg.Sequential(mg.Embedding(6, 4, rng=0, dtype=F32),
                          mg.LSTM(4, 5, num_layers=2, bidirectional=True, rng=1, dtype=F32),
                          mg.Dense(10, 3, rng=2, dtype=F32))
    ids = np.random.default_rng(4).integers(0, 6, (5, 7))
    expected = mg.predict(model, ids)
    to_onnx(model, tmp_path / "tagger.onnx", input_shape=(None, None))
    session = ort.InferenceSession(str(tmp_path / "tagger.onnx"),
                                   providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": ids})[0], expected, atol=1e-5)
    with torch.no_grad():
        out = to_torch(model.eval())(torch.from_numpy(ids)).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)
