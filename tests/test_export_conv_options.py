"""The convolution options and resampling layers leave minigrad: to ONNX (run in
onnxruntime, dynamic batch) and to PyTorch (same outputs, one training step alike, state
dicts both ways)."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import RUN_BATCH, randomized

import minigrad as mg

KERNEL_SAME = (2, 3)  # an even kernel: "same" puts the odd padding after

CASES = {
    "Conv1D reflect": (lambda dt: mg.Conv1D(2, 3, 3, padding=2, padding_mode="reflect",
                                            rng=0, dtype=dt), (2, 6)),
    "Conv2D replicate same": (lambda dt: mg.Conv2D(2, 4, KERNEL_SAME, padding="same",
                                                   padding_mode="replicate", rng=0, dtype=dt),
                              (2, 5, 4)),
    "Conv2D circular strided": (lambda dt: mg.Conv2D(4, 2, 3, stride=2, padding=(1, 2),
                                                     dilation=(1, 2), groups=2,
                                                     padding_mode="circular", rng=0, dtype=dt),
                                (4, 5, 6)),
    "Conv2D reflect same dilated": (lambda dt: mg.Conv2D(2, 2, 3, padding="same", dilation=2,
                                                         padding_mode="reflect", rng=0,
                                                         dtype=dt), (2, 6, 5)),
    "Conv3D": (lambda dt: mg.Conv3D(2, 3, (2, 3, 2), stride=(1, 2, 1), padding=1, rng=0,
                                    dtype=dt), (2, 4, 5, 3)),
    "Conv3D same": (lambda dt: mg.Conv3D(2, 2, (2, 3, 3), padding="same", bias=False, rng=0,
                                         dtype=dt), (2, 3, 4, 3)),
    "Conv3D circular": (lambda dt: mg.Conv3D(2, 2, 3, padding=1, padding_mode="circular",
                                             rng=0, dtype=dt), (2, 3, 4, 3)),
    "ConvTranspose1D": (lambda dt: mg.ConvTranspose1D(2, 4, 3, stride=2, padding=1,
                                                      output_padding=1, groups=2, rng=0,
                                                      dtype=dt), (2, 5)),
    "ConvTranspose2D dilated": (lambda dt: mg.ConvTranspose2D(2, 3, 3, stride=(2, 1),
                                                              output_padding=(1, 1),
                                                              dilation=2, rng=0, dtype=dt),
                                (2, 3, 4)),
    "ConvTranspose2D dilated past the end": (
        lambda dt: mg.ConvTranspose2D(2, 3, (3, 2), stride=1, padding=(0, 1),
                                      output_padding=(1, 2), dilation=(2, 3), rng=0,
                                      dtype=dt), (2, 3, 4)),
    "ConvTranspose3D": (lambda dt: mg.ConvTranspose3D(2, 2, 2, stride=2, padding=(0, 1, 0),
                                                      output_padding=(1, 0, 0), rng=0,
                                                      dtype=dt), (2, 2, 3, 2)),
    "Upsample nearest": (lambda dt: mg.Upsample(scale_factor=2), (2, 3, 4)),
    "Upsample nearest 1-D size": (lambda dt: mg.Upsample(size=7), (2, 3)),
    "Upsample nearest 3-D": (lambda dt: mg.Upsample(scale_factor=(1.5, 2, 0.5)), (2, 2, 3, 4)),
    "Upsample nearest-exact": (lambda dt: mg.Upsample(size=(5, 7), mode="nearest-exact"),
                               (2, 3, 4)),
    "Upsample linear": (lambda dt: mg.Upsample(scale_factor=2.5, mode="linear"), (2, 4)),
    "Upsample bilinear size": (lambda dt: mg.Upsample(size=(5, 3), mode="bilinear"), (2, 3, 4)),
    "Upsample bilinear corners": (lambda dt: mg.Upsample(scale_factor=(2, 1.5),
                                                         mode="bilinear", align_corners=True),
                                  (2, 3, 4)),
    "Upsample bicubic": (lambda dt: mg.Upsample(scale_factor=2, mode="bicubic"), (2, 3, 4)),
    "Upsample bicubic corners recompute": (
        lambda dt: mg.Upsample(scale_factor=1.7, mode="bicubic", align_corners=True,
                               recompute_scale_factor=True), (2, 3, 4)),
    "Upsample trilinear": (lambda dt: mg.Upsample(scale_factor=(2, 1, 1.5), mode="trilinear"),
                           (2, 2, 3, 4)),
    "PixelShuffle": (lambda dt: mg.PixelShuffle(2), (8, 3, 2)),
    "PixelShuffle 5-D": (lambda dt: mg.PixelShuffle(3), (2, 9, 2, 1)),
    "PixelUnshuffle": (lambda dt: mg.PixelUnshuffle(2), (3, 4, 6)),
}
"""Each new layer and option in the smallest model that holds it: a factory taking the
dtype, and the sample shape."""

F32_ONLY = {name for name in CASES if name.startswith(("Conv", "Upsample"))}
"""onnxruntime has no float64 Conv, ConvTranspose or Resize kernel."""


def case(name, dtype):
    make, sample = CASES[name]
    return randomized(make(dtype)), sample


def batch(name, dtype, rows=RUN_BATCH, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, *CASES[name][1])).astype(dtype)


# -- ONNX ------------------------------------------------------------------------------


@pytest.mark.parametrize("opset", [17, 21])  # circular padding: Slice/Concat, then Pad wrap
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_each_option_runs_in_onnxruntime_as_in_minigrad(name, dtype, opset, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from minigrad.export import to_onnx

    model, sample = case(name, dtype)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_shape=(None, *sample), opset=opset, dtype=dtype)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    x = batch(name, dtype)  # RUN_BATCH rows: not the export's probe batch

    def run():
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {"input": x})[0]

    if dtype == np.float64 and name in F32_ONLY:  # a valid file ORT cannot run
        with pytest.raises(Exception, match=r"NOT_IMPLEMENTED|not support double"):
            run()
        return
    out = run()
    expected = mg.predict(model, x)
    assert out.dtype == expected.dtype == dtype
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("opset", [17, 19])
@pytest.mark.parametrize("mode, op", [("reflect", "Pad"), ("replicate", "Pad"),
                                      ("circular", None)])
def test_a_padding_mode_is_a_pad_before_an_unpadded_conv(mode, op, opset, tmp_path):
    pytest.importorskip("onnx")
    from minigrad.export import to_onnx

    model = mg.Conv2D(1, 1, 3, padding=1, padding_mode=mode, rng=0, dtype=np.float32)
    proto = to_onnx(model, tmp_path / "m.onnx", input_shape=(None, 1, 4, 4), opset=opset)
    ops = [node.op_type for node in proto.graph.node]
    expected = op or ("Pad" if opset >= 19 else "Concat")  # wrap needs opset 19
    assert expected in ops and ops[-2:] == ["Conv", "Identity"]
    conv = proto.graph.node[-2]
    assert [a.ints for a in conv.attribute if a.name == "pads"] == [[0, 0, 0, 0]]


@pytest.mark.parametrize("scale, size", [(2, None), (2.5, None), (None, 7), (0.5, None),
                                         (2.3, None), (1.2, None)])  # the last two: an axis
# doubled or kept by a factor other than 2 or 1, which PyTorch computes from the sizes
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic"])
def test_upsample_matches_onnxruntime_over_scales_and_sizes(mode, scale, size, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from minigrad.export import to_onnx

    model = mg.Upsample(size=size, scale_factor=scale, mode=mode)
    for shape in [(3, 5), (6, 4), (2, 7)]:
        path = tmp_path / f"{shape}.onnx"
        to_onnx(model, path, input_shape=(None, 2, *shape), dtype=np.float32)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x = np.random.default_rng(1).standard_normal((3, 2, *shape)).astype(np.float32)
        np.testing.assert_allclose(session.run(None, {"input": x})[0], mg.predict(model, x),
                                   rtol=0, atol=1e-5, err_msg=str(shape))


# -- PyTorch ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_each_option_computes_in_torch_as_in_minigrad(name, dtype):
    torch = pytest.importorskip("torch")
    from minigrad.export import to_torch

    model, _ = case(name, dtype)
    module = to_torch(model)
    x = batch(name, dtype)
    with torch.no_grad():
        out = module(torch.from_numpy(x)).numpy()
    expected = model(x)
    assert out.dtype == expected.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", CASES)
def test_each_option_trains_one_step_in_torch_as_in_minigrad(name):
    torch = pytest.importorskip("torch")
    from minigrad.export import load_torch_state_dict, to_torch

    model, _ = case(name, np.float64)
    module = to_torch(model)
    x = batch(name, np.float64)
    xt = torch.from_numpy(x).requires_grad_()
    weights = np.random.default_rng(2).standard_normal(model(x).shape)  # L = Σ y ⊙ R
    model.zero_grad()
    grad_x = model.backward(weights)
    (module(xt) * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for key, param in model.named_parameters():
        np.testing.assert_allclose(param.grad, module.get_parameter(key).grad.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=key)
    # and the state crosses back
    fresh = randomized(CASES[name][0](np.float64), seed=7)
    load_torch_state_dict(fresh, module.state_dict())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value, err_msg=key)


def test_a_padding_mode_becomes_torchs_own():
    torch = pytest.importorskip("torch")
    from minigrad.export import to_torch

    module = to_torch(mg.Conv3D(1, 2, 3, padding="same", padding_mode="reflect", rng=0))
    assert type(module) is torch.nn.Conv3d and module.padding_mode == "reflect"
    assert module.padding == "same"
    upsample = to_torch(mg.Upsample(scale_factor=(2.0, 3.0), mode="bicubic",
                                    align_corners=True))
    assert isinstance(upsample, torch.nn.Upsample)
    assert (upsample.mode, upsample.scale_factor, upsample.align_corners) == (
        "bicubic", (2.0, 3.0), True)
