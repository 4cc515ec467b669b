"""`TransformerEncoderLayer` and `TransformerDecoderLayer` against PyTorch's in float64:
outputs, input gradients and every parameter's gradient (rtol 1e-7) over a grid of
options and masks; PyTorch's state dict keys; finite differences (`check_layer`); bad
arguments."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import check_layer

torch = pytest.importorskip("torch")

N, T, S, D, HEADS, FF = 2, 4, 3, 6, 2, 5
RTOL, ATOL = 1e-7, 1e-10


def close(actual, expected) -> None:
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def torch_key(key: str) -> str:
    return key.replace("out_proj_", "out_proj.")


def torch_value(key: str, value: np.ndarray) -> np.ndarray:
    """minigrad's layout as PyTorch's: `Dense`'s (in, out) weight is Linear's (out, in)."""
    return value.T if key.startswith("linear") and key.endswith("weight") else value


def twins(decoder: bool, seed: int = 0, **options):
    """A randomized minigrad layer and PyTorch's with its weights, both in evaluation
    mode (dropout 0.1 by default: the identity there, in both)."""
    kind = mg.TransformerDecoderLayer if decoder else mg.TransformerEncoderLayer
    layer = kind(D, HEADS, FF, rng=seed, **options)
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data[...] = 0.5 * rng.standard_normal(p.shape)
    torch_kind = torch.nn.TransformerDecoderLayer if decoder else torch.nn.TransformerEncoderLayer
    activation = options.pop("activation", "relu")
    if isinstance(activation, mg.Layer):
        activation = torch.nn.SiLU()
    twin = torch_kind(D, HEADS, FF, batch_first=True, dtype=torch.float64,
                      activation=activation, **options)
    twin.load_state_dict({torch_key(k): torch.tensor(torch_value(k, v))
                          for k, v in layer.state_dict().items()}, strict=True)
    return layer.eval(), twin.eval()


def check_parameter_grads(layer, twin) -> None:
    theirs = dict(twin.named_parameters())
    assert {torch_key(k) for k, _ in layer.named_parameters()} == set(theirs)
    for key, p in layer.named_parameters():
        close(p.grad, torch_value(key, theirs[torch_key(key)].grad.numpy()))


def self_masks(kind: str, rng: np.random.Generator, length: int):
    """(minigrad's, PyTorch's) keyword arguments of one attention's masks."""
    if kind == "none":
        return {}, {}
    if kind == "causal":
        causal = np.triu(np.ones((length, length), bool), 1)
        return {"mask": causal, "is_causal": True}, {"mask": causal, "is_causal": True}
    if kind == "float + padding":
        padding = np.zeros((N, length), bool)
        padding[1, length - 1:] = True
        mask = rng.standard_normal((length, length))
        return ({"mask": mask, "key_padding_mask": padding},
                {"mask": mask, "key_padding_mask": np.where(padding, -np.inf, 0.0)})
    raise AssertionError(kind)


def named(prefix: str, masks: dict, causal_name: str) -> dict:
    return {(causal_name if key == "is_causal" else f"{prefix}_{key}"): value
            for key, value in masks.items()}


def as_torch(options: dict) -> dict:
    return {key: torch.tensor(value) if isinstance(value, np.ndarray) else value
            for key, value in options.items()}


GRID = [  # (norm_first, activation)
    (False, "relu"),
    (True, "relu"),
    (False, "gelu"),
    (True, mg.SiLU()),
]


@pytest.mark.parametrize("mask_kind", ["none", "causal", "float + padding"])
@pytest.mark.parametrize("norm_first,activation", GRID)
def test_encoder_layer_matches_torch(norm_first, activation, mask_kind) -> None:
    layer, twin = twins(False, norm_first=norm_first, activation=activation)
    rng = np.random.default_rng(1)
    ours, theirs = self_masks(mask_kind, rng, T)
    x = rng.standard_normal((N, T, D))
    xt = torch.tensor(x, requires_grad=True)
    y_torch = twin(xt, **as_torch(named("src", theirs, "is_causal")))
    y = layer(x, **named("src", ours, "is_causal"))
    close(y, y_torch)
    g = rng.standard_normal(y.shape)
    y_torch.backward(torch.tensor(g))
    close(layer.backward(g), xt.grad)
    check_parameter_grads(layer, twin)


@pytest.mark.parametrize("mask_kind", ["none", "causal", "float + padding"])
@pytest.mark.parametrize("norm_first,activation", GRID)
def test_decoder_layer_matches_torch(norm_first, activation, mask_kind) -> None:
    layer, twin = twins(True, norm_first=norm_first, activation=activation)
    rng = np.random.default_rng(2)
    ours, theirs = self_masks(mask_kind, rng, T)
    options, torch_options = named("tgt", ours, "tgt_is_causal"), named("tgt", theirs,
                                                                        "tgt_is_causal")
    if mask_kind != "none":  # the memory's masks too
        memory_mask = rng.standard_normal((T, S))
        padding = np.array([[False, False, True], [False, False, False]])
        options.update(memory_mask=memory_mask, memory_key_padding_mask=padding)
        torch_options.update(memory_mask=memory_mask,
                             memory_key_padding_mask=np.where(padding, -np.inf, 0.0))
    x, memory = rng.standard_normal((N, T, D)), rng.standard_normal((N, S, D))
    xt, mt = torch.tensor(x, requires_grad=True), torch.tensor(memory, requires_grad=True)
    y_torch = twin(xt, mt, **as_torch(torch_options))
    y = layer(x, memory, **options)
    close(y, y_torch)
    g = rng.standard_normal(y.shape)
    y_torch.backward(torch.tensor(g))
    d_x, d_memory = layer.backward(g)
    close(d_x, xt.grad)
    close(d_memory, mt.grad)
    check_parameter_grads(layer, twin)


def test_defaults_and_state_dict_are_pytorchs() -> None:
    layer = mg.TransformerDecoderLayer(8, 2, rng=0)
    twin = torch.nn.TransformerDecoderLayer(8, 2, batch_first=True)
    assert [torch_key(k) for k in layer.state_dict()] == list(twin.state_dict())
    assert (layer.dim_feedforward, layer.dropout.p, layer.norm1.eps, layer.norm_first) == \
        (2048, 0.1, 1e-5, False)
    assert isinstance(layer.activation, mg.ReLU)
    for key, value in twin.state_dict().items():  # the same shapes, and initial scales
        ours = torch_value(key, layer.state_dict()[key.replace("out_proj.", "out_proj_")])
        assert ours.shape == tuple(value.shape), key
        if key.startswith("linear"):  # U(±1/√fan_in), the bias too
            fan_in = twin.state_dict()[key.split(".")[0] + ".weight"].shape[1]
            bound = 1 / np.sqrt(fan_in)
            assert bound * 0.9 < np.abs(ours).max() <= bound, key


def test_dropout_in_training_mode_is_random_and_seeded() -> None:
    x = np.random.default_rng(3).standard_normal((N, T, D))
    layer = mg.TransformerEncoderLayer(D, HEADS, FF, dropout=0.5, rng=4)
    first = layer(x)
    assert not np.allclose(first, layer(x))
    np.testing.assert_array_equal(first, mg.TransformerEncoderLayer(D, HEADS, FF, dropout=0.5,
                                                                     rng=4)(x))
    layer.eval()
    np.testing.assert_array_equal(layer(x), layer(x))


@pytest.mark.parametrize("decoder", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_layers_meet_the_layer_contract(decoder, norm_first) -> None:
    kind = mg.TransformerDecoderLayer if decoder else mg.TransformerEncoderLayer
    layer = kind(4, 2, 5, dropout=0.0, activation="gelu", norm_first=norm_first, rng=0)
    layer.self_attn.attn_mask = np.triu(np.ones((3, 3), bool), 1)  # masks reach the check
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((2, 3, 4))] + ([rng.standard_normal((2, 2, 4))] if decoder
                                                 else [])
    check_layer(layer, *inputs)


def test_an_encoder_stack_is_a_sequential() -> None:
    """PyTorch's nn.TransformerEncoder of two layers, in minigrad's containers."""
    layers = [mg.TransformerEncoderLayer(D, HEADS, FF, rng=seed).eval() for seed in (0, 1)]
    x = np.random.default_rng(6).standard_normal((N, T, D))
    np.testing.assert_array_equal(mg.Sequential(*layers)(x), layers[1](layers[0](x)))


@pytest.mark.parametrize("kwargs,error,message", [
    ({"batch_first": False}, ValueError,
     r"TransformerEncoderLayer: batch_first must be True .* got False"),
    ({"bias": 1}, TypeError, r"TransformerEncoderLayer: bias must be a bool"),
    ({"activation": "tanh"}, ValueError,
     r"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a minigrad Layer"),
    ({"activation": mg.ReLU}, ValueError, r"activation must be"),  # the class, not a layer
    ({"dropout": -0.1}, ValueError, r"TransformerEncoderLayer: dropout must be a number"),
    ({"layer_norm_eps": 0}, ValueError, r"TransformerEncoderLayer: layer_norm_eps must be"),
    ({"norm_first": 1}, TypeError, r"TransformerEncoderLayer: norm_first must be a bool"),
    ({"dim_feedforward": 0}, ValueError, r"TransformerEncoderLayer: dim_feedforward must be"),
    ({"nhead": 4}, ValueError, r"d_model \(6\) must be divisible by nhead \(4\)"),
])
def test_bad_arguments_are_refused_at_construction(kwargs, error, message) -> None:
    arguments = {"d_model": 6, "nhead": 2, **kwargs}
    with pytest.raises(error, match=message):
        mg.TransformerEncoderLayer(**arguments)


def test_bad_inputs_and_masks_are_refused_in_forward() -> None:
    decoder = mg.TransformerDecoderLayer(4, 2, 6, rng=0)
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer\(4, nhead=2, "
                                         r"dim_feedforward=6\) expected input of shape "
                                         r"\(batch, T, 4\) for the memory"):
        decoder(np.ones((2, 3, 4)), np.ones((2, 3, 5)))
    with pytest.raises(ValueError, match=r"must agree on N and S"):
        decoder(np.ones((2, 3, 4)), np.ones((3, 3, 4)))
    with pytest.raises(ValueError, match=r"attn_mask must have shape"):
        decoder(np.ones((2, 3, 4)), np.ones((2, 5, 4)), memory_mask=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"takes exactly 2 inputs, got 1"):
        decoder(np.ones((2, 3, 4)))
    encoder = mg.TransformerEncoderLayer(4, 2, 6, rng=0)
    with pytest.raises(TypeError, match=r"key_padding_mask must be a bool array"):
        encoder(np.ones((2, 3, 4)), src_key_padding_mask=np.zeros((2, 3), int))
