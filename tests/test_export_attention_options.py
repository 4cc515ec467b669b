"""The attention options and the transformer layers leave minigrad: to PyTorch (`to_torch`,
`load_torch_state_dict` both ways, PyTorch's own modules' state dicts) and to ONNX (run in
onnxruntime, with a dynamic batch), computing as in minigrad."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad.export import load_torch_state_dict, to_onnx, to_torch

torch = pytest.importorskip("torch")

T, E = 4, 6
TOLERANCE = {np.float32: 2e-5, np.float64: 1e-12}


def randomized(model: Any, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = (0.5 * rng.standard_normal(p.shape)).astype(p.data.dtype)
    return model


def with_attributes(layer: Any, **attributes: Any) -> Any:
    for key, value in attributes.items():
        setattr(layer, key, value)
    return layer


def in_graph(layer: Any, sources: tuple[str, ...]) -> mg.Graph:
    """``layer`` reading the input and nodes named ``"<name>_<width>"``: a `Dense` of the
    input to that width."""
    nodes: dict[str, Any] = {}
    for source in sources:
        if source != "input":
            width = int(source.split("_")[1])
            nodes[source] = (mg.Dense(E, width, rng=width), "input")
    nodes["out"] = (layer, sources)
    return mg.Graph(nodes)


MASK = np.random.default_rng(9).standard_normal((T, T))
CASES: dict[str, Callable[[], mg.Module]] = {
    "self: bias_kv, zero attn, causal, float mask": lambda: with_attributes(
        mg.MultiHeadAttention(E, 2, causal=True, add_bias_kv=True, add_zero_attn=True, rng=0),
        attn_mask=MASK),
    "self: no bias, bool mask": lambda: with_attributes(
        mg.MultiHeadAttention(E, 3, bias=False, rng=0), attn_mask=np.triu(np.ones((T, T), bool),
                                                                          2)),
    "cross: kdim, vdim, bias_kv, causal": lambda: in_graph(
        mg.CrossAttention(E, 3, causal=True, add_bias_kv=True, kdim=5, vdim=7, rng=0),
        ("input", "k_5", "v_7")),
    "cross: context, zero attn, no bias": lambda: in_graph(
        mg.CrossAttention(E, 2, add_zero_attn=True, bias=False, kdim=4, vdim=4, rng=0),
        ("input", "c_4")),
    "encoder: post-norm, relu": lambda: mg.TransformerEncoderLayer(E, 2, 8, rng=0),
    "encoder: pre-norm, SiLU, causal": lambda: causal_encoder(mg.TransformerEncoderLayer(
        E, 3, 8, activation=mg.SiLU(), norm_first=True, rng=0)),
    "decoder: post-norm, memory mask": lambda: in_graph(with_decoder_masks(
        mg.TransformerDecoderLayer(E, 2, 8, rng=0)), ("input", "m_6")),
    "decoder: pre-norm, gelu": lambda: in_graph(
        mg.TransformerDecoderLayer(E, 2, 8, activation="gelu", norm_first=True, rng=0),
        ("input", "m_6")),
}
GELU_CASES = {"decoder: pre-norm, gelu"}  # onnxruntime has no float64 Erf


def causal_encoder(layer: mg.TransformerEncoderLayer) -> mg.TransformerEncoderLayer:
    layer.self_attn.causal = True  # the attention's own flag: every call is causal
    return layer


def with_decoder_masks(layer: mg.TransformerDecoderLayer) -> mg.TransformerDecoderLayer:
    layer.self_attn.causal = True
    layer.multihead_attn.attn_mask = np.random.default_rng(8).random((T, T)) < 0.3
    layer.multihead_attn.attn_mask[:, 0] = False
    return layer


def case(name: str, dtype: Any) -> Any:
    return randomized(CASES[name]()).to(dtype)


def batch(rows: int, dtype: Any, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, T, E)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_to_torch_computes_as_in_minigrad(name, dtype) -> None:
    model = case(name, dtype).eval()
    module = to_torch(model).eval()
    x = batch(5, dtype)
    with torch.no_grad():
        out = module(torch.from_numpy(x)).numpy()
    expected = model(x)
    assert out.dtype == expected.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("name", CASES)
def test_state_dicts_cross_over_both_ways(name) -> None:
    model = case(name, np.float64)
    state = to_torch(model).state_dict()
    mirror = randomized(copy.deepcopy(model), seed=5)
    load_torch_state_dict(mirror, state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(mirror.state_dict()[key], value, err_msg=key)


@pytest.mark.parametrize("decoder", [False, True])
def test_transformer_layers_become_pytorchs_and_load_its_weights(decoder) -> None:
    """PyTorch's own layer, initialized by PyTorch, loads into minigrad's and computes the
    same; `to_torch` makes a subclass of it."""
    torch.manual_seed(0)
    kind = torch.nn.TransformerDecoderLayer if decoder else torch.nn.TransformerEncoderLayer
    theirs = kind(E, 2, 8, norm_first=decoder, batch_first=True, dtype=torch.float64).eval()
    ours = (mg.TransformerDecoderLayer if decoder else mg.TransformerEncoderLayer)(
        E, 2, 8, norm_first=decoder, rng=0).eval()
    load_torch_state_dict(ours, theirs.state_dict())
    inputs = [batch(3, np.float64, seed) for seed in range(1 + decoder)]
    with torch.no_grad():
        expected = theirs(*[torch.from_numpy(x) for x in inputs]).numpy()
    np.testing.assert_allclose(ours(*inputs), expected, rtol=0, atol=1e-12)
    module = to_torch(ours)
    assert isinstance(module, kind)
    assert list(module.state_dict()) == list(theirs.state_dict())


def test_key_padding_mask_set_on_the_layer_goes_along_at_its_batch_size() -> None:
    padding = np.array([[False, False, True, True], [False] * 4, [False, True, True, True]])
    layer = with_attributes(randomized(mg.MultiHeadAttention(E, 2, rng=0)),
                            key_padding_mask=padding)
    x = batch(3, np.float64)
    with torch.no_grad():
        out = to_torch(layer)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, layer(x), rtol=0, atol=1e-12)


# -- ONNX ----------------------------------------------------------------------------------

def run_onnx(path: Any, x: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_onnx_runs_as_in_minigrad_for_any_batch(name, dtype, tmp_path) -> None:
    pytest.importorskip("onnx")
    model = case(name, dtype)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, input_shape=(None, T, E), dtype=dtype)
    if dtype == np.float64 and name in GELU_CASES:
        with pytest.raises(Exception, match=r"NOT_IMPLEMENTED|not support double"):
            run_onnx(path, batch(5, dtype))
        return
    for rows in (1, 5):  # the batch is dynamic
        x = batch(rows, dtype)
        out = run_onnx(path, x)
        expected = mg.predict(model, x)
        assert out.dtype == expected.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[dtype])


def test_onnx_causal_with_extra_keys_masks_any_length(tmp_path) -> None:
    """The causal mask is built for the running length, the extra keys visible."""
    pytest.importorskip("onnx")
    layer = randomized(mg.MultiHeadAttention(E, 2, causal=True, add_bias_kv=True,
                                             add_zero_attn=True, rng=0))
    path = tmp_path / "model.onnx"
    to_onnx(layer, path, input_shape=(None, None, E))
    x = np.random.default_rng(1).standard_normal((2, 7, E))
    np.testing.assert_allclose(run_onnx(path, x), mg.predict(layer, x), rtol=0, atol=1e-12)


def test_onnx_bakes_a_key_padding_mask_at_its_batch_size(tmp_path) -> None:
    pytest.importorskip("onnx")
    padding = np.array([[False, False, True, True], [False] * 4])
    layer = with_attributes(randomized(mg.MultiHeadAttention(E, 2, rng=0)),
                            key_padding_mask=padding)
    path = tmp_path / "model.onnx"
    to_onnx(layer, path, input_shape=(2, T, E))
    x = batch(2, np.float64)
    np.testing.assert_allclose(run_onnx(path, x), mg.predict(layer, x), rtol=0, atol=1e-12)
