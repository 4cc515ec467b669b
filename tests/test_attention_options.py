"""PyTorch's options of ``nn.MultiheadAttention`` on minigrad's attention layers:
``kdim``/``vdim``, ``add_bias_kv``, ``add_zero_attn``, ``bias``, every kind of mask,
``is_causal`` and the attention weights -- against PyTorch in float64 (outputs, the
gradients of the query, key and value and of every parameter, rtol 1e-7), and against
finite differences (`check_layer`)."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import check_layer

torch = pytest.importorskip("torch")

N, L, S, E, HEADS = 2, 4, 5, 6, 3
RTOL, ATOL = 1e-7, 1e-10


def close(actual, expected) -> None:
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def randomized(layer, seed: int = 0):
    """``layer`` with every parameter drawn at random (zero biases would hide a bias
    left out)."""
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data[...] = 0.5 * rng.standard_normal(p.shape)
    return layer


def torch_twin(layer) -> torch.nn.MultiheadAttention:
    """``nn.MultiheadAttention`` with ``layer``'s options and weights, in float64."""
    twin = torch.nn.MultiheadAttention(
        layer.embed_dim, layer.num_heads, bias=layer.in_proj_bias is not None,
        add_bias_kv=layer.bias_k is not None, add_zero_attn=layer.add_zero_attn,
        kdim=layer.kdim, vdim=layer.vdim, batch_first=True, dtype=torch.float64)
    state = {key.replace("out_proj_", "out_proj."): torch.tensor(value)
             for key, value in layer.state_dict().items()}
    twin.load_state_dict(state, strict=True)
    return twin


def check_parameter_grads(layer, twin) -> None:
    theirs = dict(twin.named_parameters())
    assert {k.replace("out_proj_", "out_proj.") for k, _ in layer.named_parameters()} == \
        set(theirs)
    for key, p in layer.named_parameters():
        close(p.grad, theirs[key.replace("out_proj_", "out_proj.")].grad)


def masks(kind: str, rng: np.random.Generator, t_q: int = L, t_k: int = S) -> dict:
    """The masks of case ``kind``: minigrad's and PyTorch's keyword arguments."""
    if kind == "none":
        return {}
    if kind == "bool attn":
        mask = rng.random((t_q, t_k)) < 0.3
        mask[:, 0] = False  # every query sees a key
        return {"attn_mask": mask}
    if kind == "float attn 3-D":
        return {"attn_mask": rng.standard_normal((N * HEADS, t_q, t_k))}
    if kind == "bool padding":
        padding = np.zeros((N, t_k), bool)
        padding[0, 3:] = padding[1, 4:] = True
        return {"key_padding_mask": padding}
    if kind == "float padding + bool attn":  # mixed types, as PyTorch allows
        return {"key_padding_mask": rng.standard_normal((N, t_k)),
                "attn_mask": np.triu(np.ones((t_q, t_k), bool), 2)}
    if kind == "causal":  # PyTorch needs the mask with its is_causal hint
        return {"is_causal": True, "attn_mask": np.triu(np.ones((t_q, t_k), bool), 1)}
    raise AssertionError(kind)


MASKS = ["none", "bool attn", "float attn 3-D", "bool padding", "float padding + bool attn",
         "causal"]
OPTIONS = [  # (bias, add_bias_kv, add_zero_attn, kdim, vdim)
    (True, False, False, None, None),
    (False, False, False, None, None),
    (True, True, False, None, None),
    (True, False, True, None, None),
    (True, True, True, 3, 7),
    (False, True, True, 4, 4),
]


def torch_options(options: dict) -> dict:
    """The masks as PyTorch takes them: tensors, and of one type (it warns that mixing a
    bool and a float mask is deprecated; minigrad takes the mix, so PyTorch gets the bool
    one as the float mask it means)."""
    masks = [value for value in options.values() if isinstance(value, np.ndarray)]
    mixed = len({mask.dtype == bool for mask in masks}) > 1
    return {key: torch.tensor(np.where(value, -np.inf, 0.0) if mixed and value.dtype == bool
                              else value) if isinstance(value, np.ndarray) else value
            for key, value in options.items()}


def torch_call(twin, inputs, options):
    tensors = [torch.tensor(x, requires_grad=True) for x in inputs]
    given = torch_options(options)
    y, weights = twin(*tensors, **given, need_weights=True, average_attn_weights=False)
    return tensors, y, weights


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("bias,add_bias_kv,add_zero_attn,kdim,vdim", OPTIONS)
def test_cross_attention_matches_torch(bias, add_bias_kv, add_zero_attn, kdim, vdim,
                                       mask_kind) -> None:
    rng = np.random.default_rng(len(mask_kind) + 7 * (kdim or 0))
    layer = randomized(mg.CrossAttention(E, HEADS, bias=bias, add_bias_kv=add_bias_kv,
                                         add_zero_attn=add_zero_attn, kdim=kdim, vdim=vdim,
                                         rng=0))
    twin = torch_twin(layer)
    inputs = [rng.standard_normal((N, L, E)), rng.standard_normal((N, S, layer.kdim)),
              rng.standard_normal((N, S, layer.vdim))]
    options = masks(mask_kind, rng)
    tensors, y_torch, weights = torch_call(twin, inputs, options)
    y = layer(*inputs, **options, need_weights=True, average_attn_weights=False)
    close(y, y_torch)
    close(layer.last_attn_weights, weights)  # (N, h, L, S + extra keys)
    assert layer.last_attn_weights.shape == (N, HEADS, L, S + add_bias_kv + add_zero_attn)
    g = rng.standard_normal(y.shape)
    y_torch.backward(torch.tensor(g))
    for mine, theirs in zip(layer.backward(g), tensors, strict=True):
        close(mine, theirs.grad)
    check_parameter_grads(layer, twin)


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("bias,add_bias_kv,add_zero_attn", [(True, False, False),
                                                           (False, True, True),
                                                           (True, True, False)])
def test_self_attention_matches_torch(bias, add_bias_kv, add_zero_attn, mask_kind) -> None:
    rng = np.random.default_rng(len(mask_kind))
    layer = randomized(mg.MultiHeadAttention(E, HEADS, bias=bias, add_bias_kv=add_bias_kv,
                                             add_zero_attn=add_zero_attn, rng=0))
    twin = torch_twin(layer)
    x = rng.standard_normal((N, L, E))
    options = masks(mask_kind, rng, L, L)
    xt = torch.tensor(x, requires_grad=True)
    # PyTorch's defaults: need_weights, averaged over the heads
    y_torch, weights = twin(xt, xt, xt, **torch_options(options))
    y = layer(x, **options, need_weights=True)
    close(y, y_torch)
    close(layer.last_attn_weights, weights)
    g = rng.standard_normal(y.shape)
    y_torch.backward(torch.tensor(g))
    close(layer.backward(g), xt.grad)
    check_parameter_grads(layer, twin)


def test_two_inputs_are_query_and_context() -> None:
    rng = np.random.default_rng(1)
    layer = randomized(mg.CrossAttention(E, HEADS, add_bias_kv=True, kdim=5, vdim=5, rng=0))
    twin = torch_twin(layer)
    q, c = rng.standard_normal((N, L, E)), rng.standard_normal((N, S, 5))
    qt, ct = torch.tensor(q, requires_grad=True), torch.tensor(c, requires_grad=True)
    y_torch = twin(qt, ct, ct, need_weights=False)[0]
    close(layer(q, c), y_torch)
    assert layer.last_attn_weights is None  # not asked for
    g = rng.standard_normal((N, L, E))
    y_torch.backward(torch.tensor(g))
    d_query, d_context = layer.backward(g)
    close(d_query, qt.grad)
    close(d_context, ct.grad)
    check_parameter_grads(layer, twin)


def test_dropout_in_evaluation_mode_equals_torch() -> None:
    rng = np.random.default_rng(2)
    layer = randomized(mg.MultiHeadAttention(E, HEADS, dropout=0.4, add_zero_attn=True, rng=0))
    twin = torch_twin(layer).eval()
    x = rng.standard_normal((N, L, E))
    xt = torch.tensor(x)
    close(layer.eval()(x), twin(xt, xt, xt, need_weights=False)[0])


def test_dropout_in_training_drops_the_weights_it_reports() -> None:
    layer = mg.MultiHeadAttention(E, HEADS, dropout=0.5, rng=0)
    x = np.random.default_rng(3).standard_normal((N, L, E))
    layer(x, need_weights=True, average_attn_weights=False)
    weights = layer.last_attn_weights
    assert (weights == 0).any()  # dropped entries, the others scaled by 2
    assert not np.allclose(weights.sum(-1), 1)


def test_masks_set_on_the_layer_are_the_default_of_every_call() -> None:
    """How masks reach a layer inside a container: its attributes."""
    rng = np.random.default_rng(4)
    options = {"attn_mask": rng.standard_normal((L, L)),
               "key_padding_mask": np.array([[False] * 3 + [True], [False] * 4])}
    layer = mg.MultiHeadAttention(E, HEADS, rng=0)
    x = rng.standard_normal((N, L, E))
    expected = layer(x, **options)
    layer.attn_mask, layer.key_padding_mask = options["attn_mask"], options["key_padding_mask"]
    np.testing.assert_array_equal(mg.Sequential(mg.Identity(), layer)(x), expected)
    assert not np.allclose(expected, mg.MultiHeadAttention(E, HEADS, rng=0)(x))


def test_causal_layer_and_is_causal_call_agree() -> None:
    x = np.random.default_rng(5).standard_normal((N, L, E))
    np.testing.assert_array_equal(mg.MultiHeadAttention(E, HEADS, causal=True, rng=0)(x),
                                  mg.MultiHeadAttention(E, HEADS, rng=0)(x, is_causal=True))


def test_cross_attention_reads_three_nodes_of_a_graph() -> None:
    rng = np.random.default_rng(6)
    attention = mg.CrossAttention(E, HEADS, kdim=4, vdim=5, rng=0)
    graph = mg.Graph({
        "key": (mg.Dense(E, 4, rng=1), "input"),
        "value": (mg.Dense(E, 5, rng=2), "input"),
        "attend": (attention, ("input", "key", "value")),
    })
    x = rng.standard_normal((N, L, E))
    np.testing.assert_allclose(graph(x), attention(x, graph["key"](x), graph["value"](x)))
    check_layer(graph, x)


CHECKED = {
    "self, bias_kv, zero attn, float mask": (
        lambda: mg.MultiHeadAttention(4, 2, add_bias_kv=True, add_zero_attn=True, rng=0),
        {"attn_mask": np.random.default_rng(0).standard_normal((3, 3))}, [(2, 3, 4)]),
    "self, causal, padding, no bias": (
        lambda: mg.MultiHeadAttention(4, 2, causal=True, bias=False, rng=0),
        {"key_padding_mask": np.array([[False, False, True], [False, False, False]])},
        [(2, 3, 4)]),
    "cross, kdim, vdim, bias_kv, 3-D mask": (
        lambda: mg.CrossAttention(4, 2, add_bias_kv=True, kdim=3, vdim=5, rng=0),
        {"attn_mask": np.random.default_rng(1).random((4, 2, 4)) < 0.3},
        [(2, 2, 4), (2, 4, 3), (2, 4, 5)]),
    "cross, context, zero attn, causal": (
        lambda: mg.CrossAttention(4, 1, add_zero_attn=True, causal=True, kdim=2, vdim=2, rng=0),
        {}, [(2, 3, 4), (2, 3, 2)]),
}


@pytest.mark.parametrize("name", CHECKED)
def test_options_meet_the_layer_contract(name) -> None:
    """Finite differences (every input and parameter) with the masks set on the layer."""
    make, fixed, shapes = CHECKED[name]
    layer = make()
    for key, value in fixed.items():
        setattr(layer, key, value)
    rng = np.random.default_rng(len(name))
    check_layer(layer, *(rng.standard_normal(shape) for shape in shapes))


# -- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,message", [
    ({"add_bias_kv": 1}, TypeError, r"MultiHeadAttention: add_bias_kv must be a bool, got 1"),
    ({"add_zero_attn": "yes"}, TypeError, r"add_zero_attn must be a bool"),
    ({"causal": None}, TypeError, r"causal must be a bool"),
    ({"bias": 0}, TypeError, r"bias must be a bool"),
    ({"dropout": 1.0}, ValueError, r"dropout must be a number in \[0, 1\), got 1.0"),
    ({"batch_first": False}, ValueError, r"batch_first must be True .* got False"),
])
def test_bad_arguments_are_refused_at_construction(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        mg.MultiHeadAttention(4, 2, **kwargs)


@pytest.mark.parametrize("kwargs,message", [
    ({"kdim": 0}, r"CrossAttention: kdim must be"),
    ({"vdim": 2.5}, r"CrossAttention: vdim must be"),
    ({"kdim": True}, r"CrossAttention: kdim must be"),
])
def test_bad_widths_are_refused_at_construction(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        mg.CrossAttention(4, 2, **kwargs)


def test_bad_masks_are_refused_in_forward() -> None:
    layer = mg.CrossAttention(4, 2, kdim=3, rng=0)
    q, k, v = np.ones((2, 3, 4)), np.ones((2, 5, 3)), np.ones((2, 5, 4))
    name = re.escape(repr(layer))
    with pytest.raises(ValueError, match=name + r": attn_mask must have shape \(L, S\) = "
                                              r"\(3, 5\) or \(N·num_heads, L, S\) = \(4, 3, 5\), "
                                              r"got \(5, 3\)"):
        layer(q, k, v, attn_mask=np.zeros((5, 3), bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape .* got \(2, 3, 5\)"):
        layer(q, k, v, attn_mask=np.zeros((2, 3, 5)))  # N, not N·heads
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(N, S\) = \(2, 5\)"):
        layer(q, k, v, key_padding_mask=np.zeros((2, 3), bool))
    with pytest.raises(TypeError, match=name + r": attn_mask must be a bool array .* got "
                                              r"dtype int64"):
        layer(q, k, v, attn_mask=np.zeros((3, 5), np.int64))
    with pytest.raises(TypeError, match=r"is_causal must be a bool"):
        layer(q, k, v, is_causal="yes")
    with pytest.raises(ValueError, match=r"every key masked"):
        layer(q, k, v, attn_mask=np.full((3, 5), -np.inf))
    with pytest.raises(ValueError, match=r"every key masked"):  # causal and padding together
        layer(q, k, v, is_causal=True, key_padding_mask=np.eye(2, 5, dtype=bool))


def test_bad_inputs_are_refused_in_forward() -> None:
    layer = mg.CrossAttention(4, 2, kdim=3, vdim=5, rng=0)
    with pytest.raises(ValueError, match=r"kdim \(3\) != vdim \(5\) .* \(query, key, value\)"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, T, 3\) for the key"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 5, 5)))
    with pytest.raises(ValueError, match=r"must agree on N and S"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 3)), np.ones((2, 6, 5)))
    with pytest.raises(ValueError, match=r"must agree on N and S"):
        layer(np.ones((2, 3, 4)), np.ones((3, 5, 3)), np.ones((3, 5, 5)))
    with pytest.raises(ValueError, match=r"takes 2 to 3 inputs, got 4"):
        layer(*[np.ones((2, 3, 4))] * 4)


def test_repr_names_the_options() -> None:
    layer = mg.CrossAttention(4, 2, add_bias_kv=True, add_zero_attn=True, kdim=3, bias=False)
    assert repr(layer) == ("CrossAttention(4, num_heads=2, kdim=3, add_bias_kv=True, "
                           "add_zero_attn=True, bias=False)")
    assert [name for name, _ in layer.named_parameters()] == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "bias_k", "bias_v",
        "out_proj_weight"]


def test_initial_values_follow_pytorch() -> None:
    """Xavier-uniform projections (separate ones each with its own fans), N(0, 1/E) bias_k."""
    layer = mg.CrossAttention(64, 4, add_bias_kv=True, kdim=16, rng=0)
    for weight, fan_in in ((layer.q_proj_weight, 64), (layer.k_proj_weight, 16)):
        bound = np.sqrt(6 / (fan_in + 64))
        assert np.abs(weight.data).max() <= bound
        assert np.abs(weight.data).max() > 0.95 * bound
    assert 0.7 / 8 < layer.bias_k.data.std() < 1.3 / 8



# -- other array libraries -------------------------------------------------------------------

@pytest.mark.parametrize("lib_name", ["array_api_strict", "torch"])
def test_options_and_masks_run_on_other_array_libraries(lib_name) -> None:
    """The new options (finite differences on the library too), and masks of the library."""
    from tests.backends import get, library, put

    lib = library(lib_name)
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 2, 3)),
              rng.standard_normal((2, 2, 5))]
    layer = mg.CrossAttention(4, 2, causal=True, add_bias_kv=True, add_zero_attn=True, kdim=3,
                              vdim=5, rng=0)
    check_layer(layer, *inputs, backends=[lib])
    options = {"attn_mask": rng.standard_normal((4, 3, 2)),
               "key_padding_mask": np.array([[False, True], [False, False]])}
    expected = layer(*inputs, **options, need_weights=True)
    weights = layer.last_attn_weights
    moved = copy.deepcopy(layer).to(lib)
    out = moved(*[put(x, lib) for x in inputs], **{k: put(v, lib) for k, v in options.items()},
                need_weights=True)
    np.testing.assert_allclose(get(out), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(get(moved.last_attn_weights), weights, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="attn_mask"):  # a NumPy mask for a moved layer
        moved(*[put(x, lib) for x in inputs], attn_mask=options["attn_mask"])
