"""to_onnx(..., dtype=np.float32) exports a float64 model as float32 -- initializers, the
graph's input and output -- from a converted copy, the model left as it was: run in
onnxruntime against the float64 model's outputs at float32 tolerance (convolutions,
recurrences and pooling included, which onnxruntime runs only in float32)."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import LAYERS, RUN_BATCH, layer_case, layer_input, shaped_example_models

import minigrad as mg
from minigrad.export import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

FLOAT = 1  # onnx.TensorProto.FLOAT


def export_and_run(model, sample, x, tmp_path):
    path = tmp_path / "model.onnx"
    before = {name: value.copy() for name, value in model.state_dict().items()}
    proto = to_onnx(model, path, input_shape=(None, *sample), dtype=np.float32)
    state = model.state_dict()  # the model itself is unchanged: float64, same values
    assert all(state[name].dtype == value.dtype and np.array_equal(state[name], value)
               for name, value in before.items())
    floats = [t for t in proto.graph.initializer if t.data_type in (FLOAT, 11)]  # 11: DOUBLE
    assert all(t.data_type == FLOAT for t in floats)
    assert proto.graph.output[0].type.tensor_type.elem_type == FLOAT
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = x if x.dtype.kind != "f" else x.astype(np.float32)
    if x.dtype.kind == "f":
        assert proto.graph.input[0].type.tensor_type.elem_type == FLOAT
    (out,) = session.run(None, {"input": feed})
    assert out.dtype == np.float32
    return out


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_each_float64_layer_exports_as_float32(name, tmp_path):
    model, sample = layer_case(name, np.float64)
    x = layer_input(name, np.float64)
    expected = mg.predict(model, x)
    assert expected.dtype == np.float64
    out = export_and_run(model, sample, x, tmp_path)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * scale)


def test_a_float64_conv_model_runs_in_onnxruntime_as_float32(tmp_path):
    model, sample = shaped_example_models()["digits CNN"]
    model.to(np.float64)
    x = np.random.default_rng(0).uniform(0, 1, (RUN_BATCH, *sample))
    expected = mg.predict(model, x)
    out = export_and_run(model, sample, x, tmp_path)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    # and float64, onnxruntime's conv cannot run it: the reason for dtype=
    to_onnx(model, tmp_path / "f64.onnx", input_shape=(None, *sample))
    with pytest.raises(Exception, match=r"NOT_IMPLEMENTED|not support double"):
        ort.InferenceSession(str(tmp_path / "f64.onnx"), providers=["CPUExecutionProvider"])


def test_float64_export_of_a_float32_model_and_refusals(tmp_path):
    model = mg.Sequential(mg.Dense(4, 3, rng=0, dtype=np.float32), mg.Tanh())
    proto = to_onnx(model, tmp_path / "m.onnx", input_shape=(None, 4), dtype=np.float64)
    assert proto.graph.input[0].type.tensor_type.elem_type == 11
    assert model[0].weight.dtype == np.float32
    x = np.random.default_rng(1).standard_normal((3, 4))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0],
                               mg.predict(model, x.astype(np.float32)), rtol=1e-6)
    with pytest.raises(TypeError, match=r"to_onnx: dtype float16: .* float32 or float64 only"):
        to_onnx(model, tmp_path / "h.onnx", input_shape=(None, 4), dtype=np.float16)
    with pytest.raises(TypeError, match="to_onnx: dtype must be a floating dtype, got int64"):
        to_onnx(model, tmp_path / "i.onnx", input_shape=(None, 4), dtype=np.int64)
    mixed = mg.Sequential(mg.Dense(4, 3, rng=0, dtype=np.float32), mg.Dense(3, 2, rng=0))
    to_onnx(mixed, tmp_path / "x.onnx", input_shape=(None, 4), dtype=np.float32)  # unified
    assert mixed[1].weight.dtype == np.float64
