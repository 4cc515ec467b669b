"""to_onnx: every built-in layer and each example's model run in onnxruntime as in minigrad."""

from __future__ import annotations

import os

import numpy as np
import pytest
from export_helpers import (
    EXPORT_SHAPE,
    F32_ONLY_IN_ORT,
    LAYERS,
    RUN_BATCH,
    WIDTH,
    batch,
    copy_as,
    example_input,
    example_models,
    layer_case,
    layer_input,
    shaped_example_models,
    shared_model,
)
from packaging.version import Version

import minigrad as mg
from minigrad.export import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}
# onnxruntime before 1.31 fuses SiLU's x·σ(x) into com.microsoft.QuickGelu, which has no
# float64 kernel; Python 3.10's newest onnxruntime is 1.23 (CI's floor run).
F32_ONLY_HERE = F32_ONLY_IN_ORT | (
    {"SiLU"} if Version(ort.__version__).release < (1, 31) else set()
)


def run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return out


def check_against_predict(model, width, x_dtype, tmp_path, **options):
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_shape=(None, width), **options)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    x = batch(width, x_dtype)
    out = run(path, x)
    expected = mg.predict(model, x)
    assert out.dtype == expected.dtype == x_dtype
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[x_dtype])


@pytest.mark.parametrize("opset", [17, 21])  # the default; the newest onnxruntime 1.18 loads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LAYERS)
def test_each_builtin_layer_runs_as_in_minigrad(name, dtype, opset, tmp_path):
    model, sample = layer_case(name, dtype)
    model.train()  # exported in evaluation mode whatever the model's mode: Dropout is x
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_shape=(None, *sample), opset=opset, dtype=dtype)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    assert model.training  # and the model's own mode is left alone
    x = layer_input(name, dtype)
    if dtype == np.float64 and name in F32_ONLY_HERE:  # a valid file ORT cannot run
        with pytest.raises(Exception, match=r"NOT_IMPLEMENTED|not support double"):
            run(path, x)
        return
    out = run(path, x)
    expected = mg.predict(model, x)
    assert out.dtype == expected.dtype == dtype
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[dtype])


def test_causal_attention_masks_for_any_sequence_length(tmp_path):
    model, _ = layer_case("MultiHeadAttention causal", np.float32)
    to_onnx(model, tmp_path / "m.onnx", input_shape=(None, None, 4))
    for length in (1, 3, 8):
        x = np.random.default_rng(length).standard_normal((2, length, 4)).astype(np.float32)
        np.testing.assert_allclose(run(tmp_path / "m.onnx", x), mg.predict(model, x),
                                   rtol=0, atol=1e-5)


def test_batch_norm_reads_the_running_statistics_as_initializers(tmp_path):
    model, _ = layer_case("BatchNorm2D", np.float32)
    proto = to_onnx(model, tmp_path / "m.onnx", input_shape=(None, 2, 3, 3))
    assert [node.op_type for node in proto.graph.node] == ["BatchNormalization", "Identity"]
    names = {init.name for init in proto.graph.initializer}
    assert names == {"weight", "bias", "running_mean", "running_var"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(example_models()))
def test_example_models_run_as_in_minigrad(name, dtype, tmp_path):
    model, width = example_models()[name]
    check_against_predict(copy_as(model, dtype), width, dtype, tmp_path)


@pytest.mark.parametrize("name", list(shaped_example_models()))
def test_image_and_character_models_run_as_in_minigrad(name, tmp_path):
    model, sample = shaped_example_models()[name]
    proto = to_onnx(model, tmp_path / "m.onnx", input_shape=(None, *sample))
    ids = name.startswith("char")
    assert proto.graph.input[0].type.tensor_type.elem_type == (
        onnx.TensorProto.INT64 if ids else onnx.TensorProto.FLOAT)
    x = example_input(name, sample)  # RUN_BATCH rows, not the export's probe batch
    out = run(tmp_path / "m.onnx", x)
    expected = mg.predict(model, x)
    assert out.dtype == expected.dtype == np.float32
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_a_user_layer_with_parameters_exports_itself_at_any_length(tmp_path):
    # char_lm's Positions (its to_onnx hook) slices its table to the input's length.
    model, _ = shaped_example_models()["char transformer"]
    proto = to_onnx(model, tmp_path / "m.onnx", input_shape=(None, None))
    assert "1.weight" in {init.name for init in proto.graph.initializer}
    assert "1/Slice" in {node.name for node in proto.graph.node}
    for length in (1, 4, 6):
        x = example_input("char transformer", (length,), seed=length)
        np.testing.assert_allclose(run(tmp_path / "m.onnx", x), mg.predict(model, x),
                                   rtol=0, atol=1e-5)


def test_newest_opset_works_too(tmp_path):
    model, width = example_models()["residual MLP"]
    newest = onnx.defs.onnx_opset_version()
    check_against_predict(copy_as(model, np.float32), width, np.float32, tmp_path,
                          opset=min(newest, 21))  # what onnxruntime >= 1.18 loads


def test_default_opset_is_17_and_the_batch_axis_is_dynamic(tmp_path):
    proto = to_onnx(mg.Sequential(mg.Bias(), mg.Dense(6, 2, rng=0)), tmp_path / "m.onnx",
                    input_shape=(None, WIDTH))
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", WIDTH]
    out_dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in out_dims] == ["batch", 2]
    for rows in (1, 2, 300):
        assert run(tmp_path / "m.onnx", batch(WIDTH, np.float64, rows)).shape == (rows, 2)


def test_a_fixed_batch_size_is_fixed(tmp_path):
    to_onnx(mg.Sequential(mg.Dense(WIDTH, 2, rng=0)), tmp_path / "m.onnx",
            input_shape=(4, WIDTH))
    assert run(tmp_path / "m.onnx", batch(WIDTH, np.float64, 4)).shape == (4, 2)
    with pytest.raises(Exception, match="dimension"):
        run(tmp_path / "m.onnx", batch(WIDTH, np.float64, RUN_BATCH))


def test_a_shared_layer_is_one_initializer_read_twice(tmp_path):
    model = shared_model()
    proto = to_onnx(model, tmp_path / "m.onnx", input_shape=EXPORT_SHAPE)
    assert [init.name for init in proto.graph.initializer] == ["0.weight"]
    assert [node.op_type for node in proto.graph.node].count("MatMul") == 2
    x = batch(WIDTH, np.float64)
    np.testing.assert_allclose(run(tmp_path / "m.onnx", x), mg.predict(model, x), atol=1e-12)


class Square(mg.Activation):
    """A user's layer: ``y = x²``, with the hook."""

    def function(self, x):
        return x * x

    def gradient(self, y, g):
        raise NotImplementedError  # not needed here

    def to_onnx(self, ctx, inputs):
        return ctx.node("Mul", [inputs[0], inputs[0]])


class Cube(mg.Activation):
    """A user's layer without the hook."""

    def function(self, x):
        return x * x * x

    def gradient(self, y, g):
        raise NotImplementedError


def test_a_user_layer_with_the_hook_is_exported(tmp_path):
    model = mg.Sequential(mg.Dense(WIDTH, 3, rng=0), Square(), mg.Bias())
    check_against_predict(model, WIDTH, np.float64, tmp_path)


def test_a_registered_converter_covers_a_layer_without_the_hook(tmp_path, monkeypatch):
    from minigrad.export import onnx as onnx_export

    monkeypatch.setitem(onnx_export.ONNX_CONVERTERS, Cube,
                        lambda layer, ctx, inputs: ctx.node("Pow", [inputs[0],
                                                                    ctx.constant(3, "three")]))
    check_against_predict(mg.Sequential(Cube()), WIDTH, np.float64, tmp_path)


@pytest.mark.parametrize("layer", [Cube(), type("MyDense", (mg.Dense,), {})(WIDTH, 2)],
                         ids=["user layer", "subclass of a built-in"])
def test_a_layer_without_a_converter_is_refused_and_nothing_is_written(layer, tmp_path):
    model = mg.Sequential(mg.Dense(WIDTH, WIDTH, rng=0), mg.Graph({"x": (layer, "input")}))
    target = tmp_path / "model.onnx"
    with pytest.raises(TypeError) as info:
        to_onnx(model, target, input_shape=EXPORT_SHAPE)
    message = str(info.value)
    assert repr(layer) in message and "at 1/x " in message
    assert "to_onnx(self, ctx, inputs)" in message and "register_onnx" in message
    assert os.listdir(tmp_path) == []  # no file, no temporary file

    target.write_bytes(b"an older export")
    with pytest.raises(TypeError):
        to_onnx(model, target, input_shape=EXPORT_SHAPE)
    assert target.read_bytes() == b"an older export"
    assert os.listdir(tmp_path) == ["model.onnx"]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"input_shape": (None, 4)}, ValueError, r"Dense\(5→3\) expected input of shape"),
        ({"input_shape": ()}, ValueError, "input_shape must be"),
        ({"input_shape": (0, WIDTH)}, ValueError, "input_shape must be"),
        ({"input_shape": EXPORT_SHAPE, "opset": 16}, ValueError, "opset must be an int from 17"),
        ({"input_shape": EXPORT_SHAPE, "dtype": np.float16}, TypeError, "float32 or float64"),
        ({"input_shape": EXPORT_SHAPE, "dtype": np.int64}, TypeError, "floating dtype"),
    ],
)
def test_bad_arguments_are_refused_before_writing(options, error, match, tmp_path):
    with pytest.raises(error, match=match):
        to_onnx(mg.Sequential(mg.Dense(WIDTH, 3, rng=0)), tmp_path / "m.onnx", **options)
    assert os.listdir(tmp_path) == []


def test_mixed_parameter_dtypes_are_refused(tmp_path):
    model = mg.Sequential(mg.Dense(WIDTH, 3, dtype=np.float32, rng=0), mg.Dense(3, 2, rng=0))
    with pytest.raises(ValueError, match="mix dtypes"):
        to_onnx(model, tmp_path / "m.onnx", input_shape=EXPORT_SHAPE)


def test_the_input_dtype_follows_the_first_layers_rule(tmp_path, monkeypatch):
    # How Embedding will declare integer ids: one rule for the layer reading the input.
    from minigrad.export import onnx as onnx_export

    monkeypatch.setitem(onnx_export.ONNX_INPUT_DTYPES, mg.Identity,
                        lambda layer: np.dtype(np.int64))
    monkeypatch.setitem(onnx_export.ONNX_CONVERTERS, mg.Identity,
                        lambda layer, ctx, inputs: ctx.node("Cast", inputs, to=ctx.elem_type))
    model = mg.Sequential(mg.Identity(), mg.Dense(WIDTH, 2, rng=0))
    proto = to_onnx(model, tmp_path / "m.onnx", input_shape=EXPORT_SHAPE)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    ids = np.arange(RUN_BATCH * WIDTH, dtype=np.int64).reshape(RUN_BATCH, WIDTH)
    np.testing.assert_allclose(run(tmp_path / "m.onnx", ids), mg.predict(model, ids))


def test_the_export_example_agrees_across_runtimes(capsys):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import export

    agreement = export.main(epochs=1, timing_batches=2)
    assert agreement["onnxruntime"] <= 1e-5 and agreement["torch"] <= 1e-5
    out = capsys.readouterr().out
    assert "onnxruntime" in out and "torch" in out and "per batch" in out
