"""The pooling layers with PyTorch's options, exported: to ONNX (run in onnxruntime with a
dynamic batch, as in minigrad) and to PyTorch (``nn.MaxPool3d``, ``nn.AdaptiveAvgPool2d``...,
computing as in minigrad)."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import RUN_BATCH

import minigrad as mg

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from minigrad.export import to_onnx, to_torch  # noqa: E402  (needs onnx and torch)


def encoder_decoder(pool_type, unpool_type, sample, **pool_options):
    """pool -> tanh -> unpool with the pool's indices, back to the sample's size."""
    pool = pool_type(**pool_options, return_indices=True)
    unpool = unpool_type(pool.kernel_size, pool.stride, pool.padding, indices_from=pool,
                         output_size=sample[1:])
    return mg.Sequential(pool, mg.Tanh(), unpool)


# name -> (model factory, sample shape (C, *spatial))
CASES = {
    "MaxPool1D ceil dilated": (lambda: mg.MaxPool1D(3, 2, 1, dilation=2, ceil_mode=True), (2, 9)),
    "MaxPool2D ceil": (lambda: mg.MaxPool2D(3, 2, 1, ceil_mode=True), (2, 6, 6)),
    "MaxPool2D dilated": (lambda: mg.MaxPool2D((3, 2), (1, 2), (1, 0), dilation=(2, 1)),
                          (2, 7, 6)),
    "MaxPool3D": (lambda: mg.MaxPool3D(2, ceil_mode=True), (2, 5, 5, 4)),
    "AvgPool1D ceil no pad": (lambda: mg.AvgPool1D(3, 2, 1, ceil_mode=True,
                                                   count_include_pad=False), (2, 8)),
    "AvgPool2D ceil": (lambda: mg.AvgPool2D(3, 2, 1, ceil_mode=True), (2, 6, 6)),
    "AvgPool2D divisor": (lambda: mg.AvgPool2D(3, 2, 1, ceil_mode=True, divisor_override=5),
                          (2, 6, 6)),
    "AvgPool3D ceil no pad": (lambda: mg.AvgPool3D(3, 2, 1, ceil_mode=True,
                                                   count_include_pad=False), (2, 6, 5, 4)),
    "AdaptiveAvgPool1D": (lambda: mg.AdaptiveAvgPool1D(3), (2, 7)),
    "AdaptiveAvgPool2D": (lambda: mg.AdaptiveAvgPool2D((3, None)), (2, 7, 6)),
    "AdaptiveAvgPool2D global": (lambda: mg.AdaptiveAvgPool2D(1), (2, 7, 6)),
    "AdaptiveAvgPool3D": (lambda: mg.AdaptiveAvgPool3D((3, 1, 4)), (2, 7, 6, 5)),
    "AdaptiveMaxPool1D": (lambda: mg.AdaptiveMaxPool1D(4), (2, 9)),
    "AdaptiveMaxPool2D": (lambda: mg.AdaptiveMaxPool2D((3, 4)), (2, 7, 6)),
    "AdaptiveMaxPool2D global": (lambda: mg.AdaptiveMaxPool2D(1), (2, 7, 6)),
    "AdaptiveMaxPool3D": (lambda: mg.AdaptiveMaxPool3D((2, None, 3)), (2, 5, 4, 7)),
    "GlobalAvgPool1D": (lambda: mg.GlobalAvgPool1D(), (3, 7)),
    "GlobalAvgPool3D": (lambda: mg.GlobalAvgPool3D(), (3, 4, 3, 5)),
    "MaxUnpool1D": (lambda: encoder_decoder(mg.MaxPool1D, mg.MaxUnpool1D, (2, 9),
                                            kernel_size=3, stride=3, padding=1), (2, 9)),
    "MaxUnpool2D": (lambda: encoder_decoder(mg.MaxPool2D, mg.MaxUnpool2D, (2, 7, 5),
                                            kernel_size=2), (2, 7, 5)),
    "MaxUnpool3D": (lambda: encoder_decoder(mg.MaxPool3D, mg.MaxUnpool3D, (2, 4, 6, 4),
                                            kernel_size=2), (2, 4, 6, 4)),
}


def batch(sample, dtype, rows=RUN_BATCH):
    return np.random.default_rng(0).standard_normal((rows, *sample)).astype(dtype)


def run_onnx(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return out


@pytest.mark.parametrize("opset", [17, 21])
@pytest.mark.parametrize("name", CASES)
def test_each_case_runs_in_onnxruntime_as_in_minigrad(name, opset, tmp_path):
    make, sample = CASES[name]
    model = make()
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_shape=(None, *sample), opset=opset, dtype=np.float32)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    for rows in (RUN_BATCH, 1):  # the batch axis is dynamic
        x = batch(sample, np.float32, rows)
        out = run_onnx(path, x)
        expected = mg.predict(model, x)
        assert out.dtype == expected.dtype == np.float32
        assert out.shape == expected.shape
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["MaxPool3D", "AdaptiveMaxPool2D", "AdaptiveAvgPool3D",
                                  "MaxUnpool2D"])
def test_float64_cases_run_in_onnxruntime_too(name, tmp_path):
    make, sample = CASES[name]
    model = make()
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_shape=(None, *sample), dtype=np.float64)
    x = batch(sample, np.float64)
    if name == "MaxUnpool2D":  # onnxruntime (1.32) has no float64 MaxUnpool: a valid file
        with pytest.raises(Exception, match="NOT_IMPLEMENTED"):
            run_onnx(path, x)
        return
    np.testing.assert_allclose(run_onnx(path, x), mg.predict(model, x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_each_case_converts_to_torch_and_computes_as_in_minigrad(name):
    make, sample = CASES[name]
    model = make()
    mirror = to_torch(model)
    x = batch(sample, np.float64)
    with torch.no_grad():
        out = mirror(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, mg.predict(model, x), rtol=1e-7, atol=1e-12)


def test_torch_modules_are_pytorchs_namesakes_with_the_options():
    pool = to_torch(mg.MaxPool3D(3, 2, 1, dilation=2, ceil_mode=True))
    assert isinstance(pool, torch.nn.MaxPool3d)
    assert (pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode) == (
        (3, 3, 3), (2, 2, 2), (1, 1, 1), (2, 2, 2), True)
    avg = to_torch(mg.AvgPool2D(2, padding=1, ceil_mode=True, count_include_pad=False,
                                divisor_override=3))
    assert isinstance(avg, torch.nn.AvgPool2d)
    assert (avg.ceil_mode, avg.count_include_pad, avg.divisor_override) == (True, False, 3)
    adaptive = to_torch(mg.AdaptiveAvgPool2D((3, None)))
    assert isinstance(adaptive, torch.nn.AdaptiveAvgPool2d)
    assert adaptive.output_size == (3, None)
    assert isinstance(to_torch(mg.AdaptiveMaxPool1D(2)), torch.nn.AdaptiveMaxPool1d)
    assert isinstance(to_torch(mg.MaxUnpool2D(2)), torch.nn.MaxUnpool2d)


def test_the_unpool_reads_the_converted_pool_itself():
    model = CASES["MaxUnpool2D"][0]()
    mirror = to_torch(model)
    assert mirror[2].source[0] is mirror[0]  # the same module, not a copy
    assert [name for name, _ in mirror.named_children()] == ["0", "1", "2"]
    assert dict(mirror.state_dict()) == {}


def test_an_unpool_without_its_pool_in_the_model_is_refused(tmp_path):
    pool = mg.MaxPool2D(2, return_indices=True)
    model = mg.Sequential(mg.Identity(), mg.MaxUnpool2D(2, indices_from=pool))
    pool(np.zeros((2, 2, 4, 4)))
    with pytest.raises(TypeError, match="needs its indices_from pool converted before it"):
        to_onnx(model, tmp_path / "model.onnx", input_shape=(None, 2, 2, 2))
    assert not (tmp_path / "model.onnx").exists()
