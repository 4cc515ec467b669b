"""The normalization options (issue 21) leave minigrad: to ONNX (run in onnxruntime at
several batch sizes, after training moved the running statistics) and to PyTorch (the
modules PyTorch itself would build, and trained state loaded back both ways)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.export import load_torch_state_dict, to_onnx, to_torch

C = 3

# name -> (factory taking the dtype, sample shape); every option of every new layer
CASES = {
    "BatchNorm3D": (lambda dt: mg.BatchNorm3D(C, dtype=dt), (C, 2, 3, 2)),
    "BatchNorm3D momentum=None": (lambda dt: mg.BatchNorm3D(C, momentum=None, dtype=dt),
                                  (C, 2, 3, 2)),
    "BatchNorm3D no stats": (lambda dt: mg.BatchNorm3D(C, track_running_stats=False,
                                                       dtype=dt), (C, 2, 3, 2)),
    "BatchNorm1D weight only": (lambda dt: mg.BatchNorm1D(C, bias=False, dtype=dt), (C, 4)),
    "BatchNorm2D no affine": (lambda dt: mg.BatchNorm2D(C, affine=False, dtype=dt), (C, 3, 2)),
    "InstanceNorm1D": (lambda dt: mg.InstanceNorm1D(C, dtype=dt), (C, 5)),
    "InstanceNorm2D affine": (lambda dt: mg.InstanceNorm2D(C, affine=True, dtype=dt),
                              (C, 3, 2)),
    "InstanceNorm3D weight only": (lambda dt: mg.InstanceNorm3D(
        C, affine=True, bias=False, dtype=dt), (C, 2, 2, 3)),
    "InstanceNorm1D tracked": (lambda dt: mg.InstanceNorm1D(
        C, momentum=0.3, affine=True, track_running_stats=True, dtype=dt), (C, 5)),
    "InstanceNorm2D tracked, no affine": (lambda dt: mg.InstanceNorm2D(
        C, track_running_stats=True, dtype=dt), (C, 3, 2)),
    "LayerNorm no bias": (lambda dt: mg.LayerNorm(4, bias=False, dtype=dt), (2, 4)),
    "LayerNorm 2-D no bias": (lambda dt: mg.LayerNorm((2, 4), 1e-3, True, False, dtype=dt),
                              (2, 4)),
    "GroupNorm weight only": (lambda dt: mg.GroupNorm(1, C, bias=False, dtype=dt), (C, 4)),
    "RMSNorm": (lambda dt: mg.RMSNorm(4, dtype=dt), (2, 4)),
    "RMSNorm 2-D eps": (lambda dt: mg.RMSNorm((2, 4), eps=1e-2, dtype=dt), (2, 4)),
    "RMSNorm no affine": (lambda dt: mg.RMSNorm(4, elementwise_affine=False, dtype=dt), (3, 4)),
}


def trained(name, dtype, steps=3):
    """Case ``name`` with random parameters, after ``steps`` training forwards (which move
    the running statistics), in evaluation mode."""
    make, sample = CASES[name]
    layer = make(dtype)
    rng = np.random.default_rng(len(name))
    for p in layer.parameters():
        p.data[...] = rng.uniform(0.5, 1.5, p.shape)
    for _ in range(steps):
        layer(rng.normal(1.0, 2.0, (4, *sample)).astype(dtype))
    return layer.eval(), sample


def batch(sample, rows, dtype, seed=0):
    return np.random.default_rng(seed).normal(0.5, 1.5, (rows, *sample)).astype(dtype)


# -- ONNX -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(CASES))
def test_onnx_runs_as_minigrad_at_every_batch_size(name, dtype, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    layer, sample = trained(name, dtype)
    path = tmp_path / "norm.onnx"
    to_onnx(layer, path, input_shape=(None, *sample), dtype=dtype)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for rows in (2, 5, 9):  # the batch axis is dynamic
        x = batch(sample, rows, dtype, seed=rows)
        (out,) = session.run(None, {"input": x})
        expected = mg.predict(layer, x)
        assert out.dtype == expected.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=0,
                                   atol=1e-5 if dtype == np.float32 else 1e-12)


def op_types(layer, sample, dtype, tmp_path):
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "ops.onnx"
    to_onnx(layer, path, input_shape=(None, *sample), dtype=dtype)
    return [node.op_type for node in onnx.load(path).graph.node]


def test_onnx_uses_the_normalization_ops_where_onnxruntime_has_them(tmp_path):
    onnx = pytest.importorskip("onnx")
    f32 = np.float32
    instance = op_types(mg.InstanceNorm2D(C, dtype=f32), (C, 2, 2), f32, tmp_path)
    assert instance == ["InstanceNormalization", "Identity"]
    tracked = op_types(mg.InstanceNorm1D(C, track_running_stats=True, dtype=f32), (C, 4),
                       f32, tmp_path)
    assert tracked == ["BatchNormalization", "Identity"]
    # composed in float64 (onnxruntime has no float64 kernel; ε is a float32 attribute)
    assert "InstanceNormalization" not in op_types(mg.InstanceNorm2D(C), (C, 2, 2),
                                                   np.float64, tmp_path)
    # LayerNorm without bias: LayerNormalization without its optional B input
    path = tmp_path / "ln.onnx"
    to_onnx(mg.LayerNorm(4, bias=False, dtype=f32), path, input_shape=(None, 4))
    (node,) = [n for n in onnx.load(path).graph.node if n.op_type == "LayerNormalization"]
    assert len(node.input) == 2
    # BatchNorm without bias: BatchNormalization with B = zeros
    path = tmp_path / "bn.onnx"
    to_onnx(mg.BatchNorm1D(C, bias=False, dtype=f32), path, input_shape=(None, C))
    model = onnx.load(path)
    (node,) = [n for n in model.graph.node if n.op_type == "BatchNormalization"]
    shift = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}[node.input[2]]
    np.testing.assert_array_equal(shift, np.zeros(C, f32))
    # RMSNorm, composed below opset 23's RMSNormalization
    assert op_types(mg.RMSNorm(4, dtype=f32), (4,), f32, tmp_path) == [
        "Mul", "ReduceMean", "Add", "Sqrt", "Div", "Mul", "Identity"]


def test_onnx_rms_norm_eps_none_is_the_exported_dtypes_epsilon(tmp_path):
    """A row of one tiny value: ε dominates, so the exported ε shows in the output."""
    ort = pytest.importorskip("onnxruntime")
    x = np.zeros((1, 4))
    x[0, 0] = 1e-7
    for dtype in (np.float32, np.float64):
        layer = mg.RMSNorm(4, elementwise_affine=False, dtype=dtype)
        path = tmp_path / f"rms-{np.dtype(dtype).name}.onnx"
        to_onnx(layer, path, input_shape=(None, 4), dtype=dtype)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {"input": x.astype(dtype)})
        want = 1e-7 / np.sqrt(1e-14 / 4 + np.finfo(dtype).eps)
        np.testing.assert_allclose(out[0, 0], want, rtol=1e-5)


# -- PyTorch ----------------------------------------------------------------------------


def expected_module(name, torch):
    """What PyTorch builds for case ``name``, by hand."""
    nn = torch.nn
    return {
        "BatchNorm3D": nn.BatchNorm3d(C),
        "BatchNorm3D momentum=None": nn.BatchNorm3d(C, momentum=None),
        "BatchNorm3D no stats": nn.BatchNorm3d(C, track_running_stats=False),
        "BatchNorm1D weight only": nn.BatchNorm1d(C, bias=False),
        "BatchNorm2D no affine": nn.BatchNorm2d(C, affine=False),
        "InstanceNorm1D": nn.InstanceNorm1d(C),
        "InstanceNorm2D affine": nn.InstanceNorm2d(C, affine=True),
        "InstanceNorm3D weight only": nn.InstanceNorm3d(C, affine=True, bias=False),
        "InstanceNorm1D tracked": nn.InstanceNorm1d(C, momentum=0.3, affine=True,
                                                    track_running_stats=True),
        "InstanceNorm2D tracked, no affine": nn.InstanceNorm2d(C, track_running_stats=True),
        "LayerNorm no bias": nn.LayerNorm(4, bias=False),
        "LayerNorm 2-D no bias": nn.LayerNorm((2, 4), 1e-3, True, False),
        "GroupNorm weight only": nn.GroupNorm(1, C, bias=False),
        "RMSNorm": nn.RMSNorm(4),
        "RMSNorm 2-D eps": nn.RMSNorm((2, 4), eps=1e-2),
        "RMSNorm no affine": nn.RMSNorm(4, elementwise_affine=False),
    }[name]


@pytest.mark.parametrize("name", list(CASES))
def test_to_torch_builds_the_module_pytorch_would(name):
    torch = pytest.importorskip("torch")
    layer, _ = trained(name, np.float64)
    module = to_torch(layer)
    want = expected_module(name, torch)
    assert type(module) is type(want)
    assert repr(module) == repr(want)  # every option: eps, momentum, affine, bias, tracking
    assert set(module.state_dict()) == set(want.state_dict())


@pytest.mark.parametrize("name", list(CASES))
def test_trained_state_crosses_both_ways_and_computes_the_same(name):
    """minigrad trains, PyTorch evaluates; PyTorch trains, minigrad evaluates."""
    torch = pytest.importorskip("torch")
    layer, sample = trained(name, np.float64)
    module = to_torch(layer).eval()
    x = batch(sample, 5, np.float64, seed=1)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), layer(x),
                                   rtol=1e-12, atol=1e-12)
    # train the torch module on its own for a few steps, then load its state into a
    # fresh minigrad layer: the same evaluation outputs
    module.train()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1) if list(
        module.parameters()) else None
    rng = np.random.default_rng(2)
    for _ in range(3):
        xt = torch.from_numpy(rng.normal(0.0, 3.0, (4, *sample)))
        out = module(xt)
        if optimizer is not None:
            optimizer.zero_grad()
            (out * out).sum().backward()
            optimizer.step()
    module.eval()
    fresh = CASES[name][0](np.float64).eval()
    load_torch_state_dict(fresh, module.state_dict())
    with torch.no_grad():
        np.testing.assert_allclose(fresh(x), module(torch.from_numpy(x)).numpy(),
                                   rtol=1e-12, atol=1e-12)
    for key, value in module.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value.numpy(), err_msg=key)
