"""to_onnx and to_torch for PyTorch's further activations, Flatten/Unflatten's axes and
Embedding's options (issue 21): each runs in onnxruntime as in minigrad (both float
dtypes, the default and the newest opset, a dynamic batch), and becomes the same
``torch.nn`` module, which computes, trains and hands its state back alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from export_helpers import RUN_BATCH, randomized

import minigrad as mg
from minigrad.export import load_torch_state_dict, to_onnx, to_torch

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}

CASES: dict[str, tuple[Any, tuple[int, ...]]] = {  # name -> (factory of dtype, sample shape)
    "PReLU": (lambda dt: mg.PReLU(dtype=dt), (5,)),
    "PReLU channels": (lambda dt: mg.PReLU(3, init=0.1, dtype=dt), (3, 4)),
    "PReLU channels 2-D": (lambda dt: mg.PReLU(2, dtype=dt), (2, 3, 3)),
    "PReLU channels (N, C)": (lambda dt: mg.PReLU(5, dtype=dt), (5,)),
    "ReLU6": (lambda dt: mg.ReLU6(), (5,)),
    "Hardtanh": (lambda dt: mg.Hardtanh(-0.5, 2.0), (5,)),
    "Hardsigmoid": (lambda dt: mg.Hardsigmoid(), (5,)),
    "Hardswish": (lambda dt: mg.Hardswish(), (5,)),
    "Threshold": (lambda dt: mg.Threshold(0.1, 20.0), (5,)),
    "Mish": (lambda dt: mg.Mish(), (5,)),
    "SELU": (lambda dt: mg.SELU(), (5,)),
    "CELU": (lambda dt: mg.CELU(0.5), (5,)),
    "CELU negative": (lambda dt: mg.CELU(-2.0), (5,)),
    "Softsign": (lambda dt: mg.Softsign(), (5,)),
    "Tanhshrink": (lambda dt: mg.Tanhshrink(), (5,)),
    "LogSigmoid": (lambda dt: mg.LogSigmoid(), (5,)),
    "Softmin": (lambda dt: mg.Softmin(), (5,)),
    "Softmin dim": (lambda dt: mg.Softmin(dim=1), (3, 4)),
    "Softplus negative": (lambda dt: mg.Softplus(-2.0, -1.0), (5,)),
    "Softplus zero threshold": (lambda dt: mg.Softplus(0.5, 0.0), (5,)),
    "GLU": (lambda dt: mg.GLU(), (6,)),
    "GLU dim": (lambda dt: mg.GLU(dim=1), (4, 3)),
    "Flatten start": (lambda dt: mg.Flatten(2), (3, 2, 2)),
    "Flatten middle": (lambda dt: mg.Flatten(1, 2), (2, 3, 4)),
    "Flatten negative": (lambda dt: mg.Flatten(-2, -1), (2, 3, 4)),
    "Unflatten": (lambda dt: mg.Unflatten(1, (2, -1)), (6,)),
    "Unflatten middle": (lambda dt: mg.Unflatten(-2, (3, 1)), (3, 4)),
    "Embedding max_norm": (lambda dt: mg.Embedding(10, 3, max_norm=0.6, rng=0, dtype=dt),
                           (4,)),
    "Embedding p=1 freq": (lambda dt: mg.Embedding(10, 3, padding_idx=0, max_norm=0.8,
                                                   norm_type=1.0, scale_grad_by_freq=True,
                                                   rng=0, dtype=dt), (4,)),
    "Embedding max-norm": (lambda dt: mg.Embedding(10, 3, max_norm=0.5,
                                                   norm_type=float("inf"), rng=0, dtype=dt),
                           (4,)),
    "Embedding freq": (lambda dt: mg.Embedding(10, 3, scale_grad_by_freq=True, rng=0,
                                               dtype=dt), (4,)),
}


def case(name: str, dtype: Any) -> mg.Layer:
    return randomized(CASES[name][0](dtype))  # random slopes, tables with rows over max_norm


def case_input(name: str, dtype: Any, rows: int = RUN_BATCH) -> np.ndarray:
    rng = np.random.default_rng(len(name))
    sample = CASES[name][1]
    if name.startswith("Embedding"):
        return rng.integers(0, 10, (rows, *sample)).astype(np.int64)
    x = 3 * rng.standard_normal((rows, *sample))
    x.flat[:4] = [0.0, 3.0, -3.0, 6.0]  # kinks, where a wrong one-sided choice would show
    return x.astype(dtype)


@pytest.mark.parametrize("opset", [17, 21])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_onnx_runs_as_in_minigrad_with_a_dynamic_batch(name, dtype, opset, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = case(name, dtype)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_shape=(None, *CASES[name][1]), opset=opset, dtype=dtype)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for rows in (RUN_BATCH, 1):  # not the 2 rows of to_onnx's validation forward
        x = case_input(name, dtype, rows)
        (out,) = session.run(None, {"input": x})
        expected = mg.predict(model, x)
        assert out.dtype == expected.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[dtype])


def test_the_onnx_embedding_renormalizes_as_minigrads_first_forward(tmp_path):
    """Exported before any forward, with rows over max_norm: the graph renormalizes them
    on the fly, as minigrad's first forward does in place."""
    ort = pytest.importorskip("onnxruntime")
    model = case("Embedding max_norm", np.float64)
    ids = case_input("Embedding max_norm", np.float64)
    assert np.any(np.linalg.norm(model.weight.data[ids.ravel()], axis=1) > 0.6)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_shape=(None, 4))
    (out,) = ort.InferenceSession(str(path)).run(None, {"input": ids})
    np.testing.assert_allclose(out, model(ids), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_to_torch_computes_the_same_and_hands_the_state_back(name, dtype):
    torch = pytest.importorskip("torch")
    model = case(name, dtype)
    module = to_torch(model)
    x = case_input(name, dtype)
    out = module(torch.from_numpy(x)).detach().numpy()  # renormalizes torch's table too
    expected = model(x)
    assert out.dtype == expected.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[dtype])
    mirror = CASES[name][0](dtype)
    load_torch_state_dict(mirror, module.state_dict())
    for key, value in model.state_dict().items():  # the renormalized tables agree
        np.testing.assert_allclose(mirror.state_dict()[key], value, rtol=0,
                                   atol=TOLERANCE[dtype], err_msg=key)


@pytest.mark.parametrize("name", [name for name in CASES
                                  if name.startswith(("PReLU", "Embedding"))])
def test_one_training_step_moves_the_weights_as_in_torch(name):
    torch = pytest.importorskip("torch")
    model = case(name, np.float64)
    module = to_torch(model)
    x = case_input(name, np.float64)
    weights = np.random.default_rng(2).standard_normal(model(x).shape)  # L = Σ y ⊙ R
    model.zero_grad()
    model.backward(weights)
    mg.SGD(model.parameters(), lr=0.5).step()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5)
    optimizer.zero_grad()
    (module(torch.from_numpy(x)) * torch.from_numpy(weights)).sum().backward()
    optimizer.step()
    fresh = CASES[name][0](np.float64)
    load_torch_state_dict(fresh, module.state_dict())
    np.testing.assert_allclose(fresh.weight.data, model.weight.data, rtol=0, atol=1e-12)
    assert not np.allclose(model.weight.data, case(name, np.float64).weight.data)


def test_the_torch_modules_have_pytorchs_options():
    pytest.importorskip("torch")
    embedding = to_torch(mg.Embedding(6, 2, 1, 0.5, 3.0, True, rng=0))
    assert (embedding.padding_idx, embedding.max_norm, embedding.norm_type,
            embedding.scale_grad_by_freq) == (1, 0.5, 3.0, True)
    prelu = to_torch(mg.PReLU(4, init=0.1))
    assert prelu.num_parameters == 4 and list(prelu.state_dict()) == ["weight"]
    flatten = to_torch(mg.Flatten(2, -2))
    assert (flatten.start_dim, flatten.end_dim) == (2, -2)
    assert to_torch(mg.Unflatten(1, (2, -1))).unflattened_size == (2, -1)
    assert repr(to_torch(mg.Hardtanh(-2, 3))) == "Hardtanh(min_val=-2.0, max_val=3.0)"
    assert to_torch(mg.GLU(1)).dim == to_torch(mg.Softmin(1)).dim == 1


@pytest.mark.parametrize("opset", [17, 21])
def test_onnx_glu_halves_a_dynamic_axis_of_any_size(opset, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = mg.GLU(dim=1)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_shape=(None, None, 3), opset=opset)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for length in (2, 8):
        x = np.random.default_rng(length).standard_normal((3, length, 3))
        (out,) = session.run(None, {"input": x})
        np.testing.assert_allclose(out, model(x), rtol=0, atol=1e-12)
