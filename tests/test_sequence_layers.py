"""Normalization, recurrent and attention layers and the new activations against PyTorch
(float64, 1e-9: forward, input gradient, every parameter gradient), plus their bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.layers.activations import erfc

torch = pytest.importorskip("torch")
TOL = 1e-9


def close(a, b) -> None:
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)


def copy_into(torch_params, ours) -> None:
    with torch.no_grad():
        for t, p in zip(torch_params, ours):
            t.copy_(torch.tensor(p.data))


def step(m, t, x, g, **kwargs):
    """One forward+backward of both; returns (ours, torch's) output and input gradient."""
    xt = torch.tensor(x, requires_grad=True)
    yt = t(xt)
    yt.backward(torch.tensor(g))
    y = m(x)
    return y, yt, m.backward(g), xt.grad


# -- normalization -------------------------------------------------------------------------

@pytest.mark.parametrize(("ours", "theirs", "shape"), [
    (mg.BatchNorm1D, torch.nn.BatchNorm1d, (5, 3)),
    (mg.BatchNorm1D, torch.nn.BatchNorm1d, (4, 3, 2)),
    (mg.BatchNorm2D, torch.nn.BatchNorm2d, (3, 3, 2, 2)),
])
@pytest.mark.parametrize("momentum", [0.2, None])
def test_batchnorm_matches_torch_in_training_and_eval(ours, theirs, shape, momentum) -> None:
    rng = np.random.default_rng(0)
    m, t = ours(3, momentum=momentum), theirs(3, momentum=momentum).double()
    m.weight.data[:] = rng.standard_normal(3)
    m.bias.data[:] = rng.standard_normal(3)
    copy_into([t.weight, t.bias], [m.weight, m.bias])
    for _ in range(3):  # several training forwards move the running statistics
        m.zero_grad()
        t.zero_grad()
        x, g = 2 * rng.standard_normal(shape) + 1, rng.standard_normal(shape)
        y, yt, dx, dxt = step(m, t, x, g)
        close(y, yt)
        close(dx, dxt)
        close(m.weight.grad, t.weight.grad)
        close(m.bias.grad, t.bias.grad)
    close(m.running_mean.data, t.running_mean)
    close(m.running_var.data, t.running_var)
    assert int(m.num_batches_tracked.data) == int(t.num_batches_tracked) == 3
    m.eval()
    t.eval()
    m.zero_grad()
    t.zero_grad()
    x, g = rng.standard_normal(shape), rng.standard_normal(shape)
    y, yt, dx, dxt = step(m, t, x, g)
    close(y, yt)
    close(dx, dxt)
    close(m.weight.grad, t.weight.grad)


def test_batchnorm_without_running_stats_or_affine_matches_torch() -> None:
    rng = np.random.default_rng(1)
    m = mg.BatchNorm1D(3, affine=False, track_running_stats=False).eval()
    t = torch.nn.BatchNorm1d(3, affine=False, track_running_stats=False).double().eval()
    assert m.running_mean is None and m.weight is None and not m.buffers()
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y, yt, dx, dxt = step(m, t, x, g)
    close(y, yt)
    close(dx, dxt)


@pytest.mark.parametrize(("ours", "theirs"), [
    (lambda: mg.LayerNorm((3, 4)), lambda: torch.nn.LayerNorm((3, 4))),
    (lambda: mg.LayerNorm(4, eps=1e-3), lambda: torch.nn.LayerNorm(4, eps=1e-3)),
    (lambda: mg.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4)),
    (lambda: mg.GroupNorm(1, 4), lambda: torch.nn.GroupNorm(1, 4)),
])
def test_layer_and_group_norm_match_torch(ours, theirs) -> None:
    rng = np.random.default_rng(2)
    m, t = ours(), theirs().double()
    m.weight.data[...] = rng.standard_normal(m.weight.shape)
    m.bias.data[...] = rng.standard_normal(m.bias.shape)
    copy_into([t.weight, t.bias], [m.weight, m.bias])
    x, g = 3 * rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((2, 4, 3, 4))
    y, yt, dx, dxt = step(m, t, x, g)
    close(y, yt)
    close(dx, dxt)
    close(m.weight.grad, t.weight.grad)
    close(m.bias.grad, t.bias.grad)


def test_layer_norm_without_affine_and_on_strided_arrays_matches_torch() -> None:
    rng = np.random.default_rng(5)
    m, t = mg.LayerNorm((3, 4), elementwise_affine=False), torch.nn.LayerNorm(
        (3, 4), elementwise_affine=False).double()
    # a strided input and gradient (views of transposed arrays): no contiguity assumed
    x = (2 + 3 * rng.standard_normal((4, 3, 2, 5))).transpose(3, 2, 1, 0)  # (5, 2, 3, 4)
    g = rng.standard_normal((4, 3, 2, 5)).transpose(3, 2, 1, 0)
    assert not x.flags.c_contiguous and not g.flags.c_contiguous
    y, yt, dx, dxt = step(m, t, x, g)
    close(y, yt)
    close(dx, dxt)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e16])
def test_float32_layer_norm_is_accurate_at_any_scale(scale) -> None:
    """No r³ is formed: at σ ~ 1e16 it would underflow in float32."""
    rng = np.random.default_rng(7)
    x = (scale * rng.standard_normal((4, 8))).astype(np.float32)
    g = rng.standard_normal((4, 8)).astype(np.float32)
    m, t = mg.LayerNorm(8, dtype=np.float32), torch.nn.LayerNorm(8)
    dx = (m(x), m.backward(g))[1]
    xt = torch.from_numpy(x).requires_grad_()
    t(xt).backward(torch.from_numpy(g))
    np.testing.assert_allclose(dx * scale, xt.grad.numpy() * scale, rtol=1e-4, atol=1e-4)


def test_float32_layer_norm_stays_float32() -> None:
    m = mg.LayerNorm(8, dtype=np.float32)
    x = np.random.default_rng(6).standard_normal((3, 8)).astype(np.float32)
    y = m(x)
    assert y.dtype == m.weight.grad.dtype == np.float32
    assert m.backward(np.ones_like(y)).dtype == np.float32
    assert m.weight.grad.dtype == m.bias.grad.dtype == np.float32


def test_batchnorm_buffers_survive_save_and_load(tmp_path) -> None:
    rng = np.random.default_rng(3)
    model = mg.Sequential(mg.Dense(2, 3, rng=0), mg.BatchNorm1D(3))
    for _ in range(3):
        model(rng.standard_normal((8, 2)))
    model.eval()
    x = rng.standard_normal((5, 2))
    expected = model(x)
    mg.save(model, tmp_path / "bn.npz")
    fresh = mg.Sequential(mg.Dense(2, 3, rng=1), mg.BatchNorm1D(3))
    mg.load(fresh, tmp_path / "bn.npz")
    fresh.eval()
    np.testing.assert_array_equal(fresh(x), expected)
    assert {"1.running_mean", "1.running_var", "1.num_batches_tracked"} <= set(
        fresh.state_dict())
    assert all(not isinstance(p, mg.Buffer) for p in fresh.parameters())


def test_float32_batchnorm_stays_float32() -> None:
    m = mg.BatchNorm2D(2, dtype=np.float32)
    y = m(np.ones((2, 2, 2, 2), np.float32) + np.arange(2, dtype=np.float32))
    assert y.dtype == m.running_var.dtype == np.float32
    assert m.backward(np.ones_like(y)).dtype == np.float32


# -- activations ------------------------------------------------------------------------------

def test_erfc_is_float64_exact() -> None:
    xs = np.concatenate([np.linspace(-30, 30, 6001), [0.0, 0.46875, 4.0, -4.0, 26.5, 1e10]])
    reference = np.array([math.erfc(v) for v in xs])
    np.testing.assert_allclose(erfc(xs), reference, rtol=2e-15, atol=1e-300)


@pytest.mark.parametrize(("ours", "theirs"), [
    (mg.GELU(), torch.nn.GELU()),
    (mg.GELU("tanh"), torch.nn.GELU("tanh")),
    (mg.SiLU(), torch.nn.SiLU()),
    (mg.Softplus(), torch.nn.Softplus()),
    (mg.Softplus(beta=2.0, threshold=3.0), torch.nn.Softplus(beta=2.0, threshold=3.0)),
    (mg.ELU(0.5), torch.nn.ELU(0.5)),
    (mg.LogSoftmax(), torch.nn.LogSoftmax(-1)),
    (mg.LogSoftmax(axis=0), torch.nn.LogSoftmax(0)),
], ids=repr)
def test_new_activations_match_torch(ours, theirs) -> None:
    rng = np.random.default_rng(4)
    x, g = 6 * rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    x[0, :3] = [-40.0, 40.0, 0.0]
    y, yt, dx, dxt = step(ours, theirs, x, g)
    close(y, yt)
    close(dx, dxt)
    assert ours(x.astype(np.float32)).dtype == np.float32


def test_float32_gelu_is_float32_accurate_and_matches_torch() -> None:
    x64 = np.concatenate([np.linspace(-12, 12, 24001), [-40.0, 40.0, 0.0]])[None, :]
    x = x64.astype(np.float32)
    layer = mg.GELU()
    y, dx = layer(x), layer.backward(np.ones_like(x))
    assert y.dtype == dx.dtype == np.float32
    exact = mg.GELU()
    y64, dx64 = exact(x.astype(np.float64)), exact.backward(np.ones_like(x64))
    # Φ within 1.5e-7 (A&S 7.1.26), so y = x·Φ within 1.5e-7·|x| plus float32 rounding
    scale = np.maximum(np.abs(x64), 1.0)
    assert np.all(np.abs(y - y64) <= 2.5e-7 * scale)
    assert np.all(np.abs(dx - dx64) <= 2.5e-7 * scale)
    tail = (x64 < -6) & (x64 > -12)  # Φ(x) < 1e-9: no cancellation to 0 in 1 − (...)
    np.testing.assert_allclose(y[tail], y64[tail], rtol=0.04)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.gelu(xt)
    yt.backward(torch.ones_like(yt))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=4e-6)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=4e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_and_silu_are_quiet_and_exact_on_huge_inputs(dtype) -> None:
    """The derivative is formed in forward: no x² may overflow there (warnings are errors)."""
    big = np.finfo(dtype).max / 4
    x = np.array([[-big, -1e20, 1e20, big]], dtype)
    for layer in (mg.GELU(), mg.GELU("tanh"), mg.SiLU()):
        y = layer(x)
        np.testing.assert_array_equal(y, np.where(x > 0, x, 0))
        np.testing.assert_array_equal(layer.backward(np.ones_like(x)), (x > 0).astype(dtype))


def test_gelu_and_silu_take_sequences() -> None:
    assert mg.GELU()(np.ones((2, 3, 4))).shape == (2, 3, 4)


# -- recurrent ------------------------------------------------------------------------------

RECURRENT = [
    (lambda **kw: mg.RNN(4, 3, rng=1, **kw), lambda: torch.nn.RNN(4, 3, batch_first=True)),
    (lambda **kw: mg.RNN(4, 3, "relu", rng=1, **kw),
     lambda: torch.nn.RNN(4, 3, nonlinearity="relu", batch_first=True)),
    (lambda **kw: mg.LSTM(4, 3, rng=1, **kw), lambda: torch.nn.LSTM(4, 3, batch_first=True)),
    (lambda **kw: mg.GRU(4, 3, rng=1, **kw), lambda: torch.nn.GRU(4, 3, batch_first=True)),
]
NAMES = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]  # PyTorch's own


@pytest.mark.parametrize(("ours", "theirs"), RECURRENT, ids=["rnn", "rnn-relu", "lstm", "gru"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_bptt_matches_torch(ours, theirs, return_sequences, with_state) -> None:
    rng = np.random.default_rng(5)
    m, t = ours(return_sequences=return_sequences), theirs().double()
    copy_into([getattr(t, n) for n in NAMES], [getattr(m, n) for n in NAMES])
    lstm = isinstance(m, mg.LSTM)
    x = rng.standard_normal((2, 5, 4))
    xt = torch.tensor(x, requires_grad=True)
    state = state_t = None
    if with_state:
        raw = [rng.standard_normal((2, 3)) for _ in range(2 if lstm else 1)]
        tensors = [torch.tensor(a[None], requires_grad=True) for a in raw]
        state = tuple(raw) if lstm else raw[0]
        state_t = tuple(tensors) if lstm else tensors[0]
    out, final_t = t(xt, state_t)
    yt = out if return_sequences else out[:, -1]
    g = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(g))
    y = m.forward(x, initial_state=state)
    close(y, yt)
    close(m.backward(g), xt.grad)
    for name in NAMES:
        close(getattr(m, name).grad, getattr(t, name).grad)
    finals = m.final_state if lstm else (m.final_state,)
    for ours_final, theirs_final in zip(finals, final_t if lstm else (final_t,)):
        close(ours_final, theirs_final[0])
    if with_state:
        grads = m.initial_state_grad if lstm else (m.initial_state_grad,)
        for ours_grad, tensor in zip(grads, tensors):
            close(ours_grad, tensor.grad[0])


def test_recurrent_float32_and_bad_input() -> None:
    lstm = mg.LSTM(2, 3, dtype=np.float32, rng=0)
    assert lstm(np.ones((1, 2, 2), np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"LSTM\(2, 3.*\(batch, T, 2\), got \(1, 2, 5\)"):
        lstm(np.ones((1, 2, 5)))
    with pytest.raises(ValueError, match="empty input"):
        lstm(np.ones((1, 0, 2)))
    with pytest.raises(TypeError, match=r"initial_state must be a pair \(h0, c0\)"):
        lstm(np.ones((1, 2, 2)), initial_state=np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"initial_state must be an array .* got shape \(2, 3\)"):
        mg.GRU(2, 3, rng=0)(np.ones((1, 2, 2)), initial_state=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="nonlinearity"):
        mg.RNN(2, 3, "sigmoid")


# -- attention ------------------------------------------------------------------------------

def torch_mha(m, e, heads):
    t = torch.nn.MultiheadAttention(e, heads, batch_first=True).double()
    copy_into([t.in_proj_weight, t.in_proj_bias, t.out_proj.weight, t.out_proj.bias],
              [m.in_proj_weight, m.in_proj_bias, m.out_proj_weight, m.out_proj_bias])
    return t


def check_attention_grads(m, t) -> None:
    close(m.in_proj_weight.grad, t.in_proj_weight.grad)
    close(m.in_proj_bias.grad, t.in_proj_bias.grad)
    close(m.out_proj_weight.grad, t.out_proj.weight.grad)
    close(m.out_proj_bias.grad, t.out_proj.bias.grad)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_self_attention_matches_torch(causal, padded) -> None:
    rng = np.random.default_rng(6)
    n, length, e, heads = 2, 5, 8, 2
    m = mg.MultiHeadAttention(e, heads, causal=causal, rng=0)
    m.in_proj_bias.data[:] = rng.standard_normal(3 * e)
    m.out_proj_bias.data[:] = rng.standard_normal(e)
    t = torch_mha(m, e, heads)
    x, g = rng.standard_normal((n, length, e)), rng.standard_normal((n, length, e))
    mask = None
    if padded:
        mask = np.zeros((n, length), bool)
        mask[0, 3:] = mask[1, 4:] = True
    xt = torch.tensor(x, requires_grad=True)
    attn_mask = torch.triu(torch.ones(length, length, dtype=torch.bool), 1) if causal else None
    yt, _ = t(xt, xt, xt, key_padding_mask=None if mask is None else torch.tensor(mask),
              attn_mask=attn_mask, need_weights=False)
    yt.backward(torch.tensor(g))
    close(m.forward(x, key_padding_mask=mask), yt)
    close(m.backward(g), xt.grad)
    check_attention_grads(m, t)


def test_cross_attention_matches_torch_in_a_graph() -> None:
    rng = np.random.default_rng(7)
    m = mg.CrossAttention(8, 4, rng=0)
    m.in_proj_bias.data[:] = rng.standard_normal(24)
    t = torch_mha(m, 8, 4)
    q, c = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 6, 8))
    qt, ct = torch.tensor(q, requires_grad=True), torch.tensor(c, requires_grad=True)
    yt, _ = t(qt, ct, ct, need_weights=False)
    g = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(g))
    close(m(q, c), yt)
    dq, dc = m.backward(g)
    close(dq, qt.grad)
    close(dc, ct.grad)
    check_attention_grads(m, t)


def test_attention_bad_input() -> None:
    with pytest.raises(ValueError, match=r"embed_dim \(6\) must be divisible by num_heads \(4\)"):
        mg.MultiHeadAttention(6, 4)
    m = mg.MultiHeadAttention(4, 2, rng=0)
    with pytest.raises(ValueError, match=r"MultiHeadAttention\(4, num_heads=2\) expected"):
        m(np.ones((2, 3, 5)))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(N, S\)"):
        m(np.ones((2, 3, 4)), key_padding_mask=np.zeros((2, 4), bool))
    with pytest.raises(TypeError, match=r"must be a bool array .* or a floating one"):
        m(np.ones((2, 3, 4)), key_padding_mask=np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match="every key masked"):
        m(np.ones((2, 3, 4)), key_padding_mask=np.ones((2, 3), bool))


def test_attention_dropout_only_in_training() -> None:
    m = mg.MultiHeadAttention(4, 2, dropout=0.5, rng=0)
    x = np.random.default_rng(8).standard_normal((2, 6, 4))
    assert not np.allclose(m(x), m(x))
    m.eval()
    np.testing.assert_array_equal(m(x), m(x))


def test_norm_bad_input() -> None:
    with pytest.raises(ValueError, match=r"BatchNorm2D\(3\) expected input of shape \(batch, 3,"):
        mg.BatchNorm2D(3)(np.ones((2, 4, 2, 2)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        mg.BatchNorm1D(3)(np.ones((1, 3)))
    with pytest.raises(ValueError,
                       match=r"LayerNorm\(\(4,\)\) expected input of shape \(batch, \.\.\., 4\)"):
        mg.LayerNorm(4)(np.ones((2, 3)))
    with pytest.raises(ValueError, match="must divide"):
        mg.GroupNorm(3, 4)
