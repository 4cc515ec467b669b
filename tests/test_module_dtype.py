"""``Module.to(dtype)``: parameters, gradients and floating buffers converted, integer
buffers kept, the outputs in the new dtype and close to the old ones; a round trip; an
optimizer made before the conversion refuses to step."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def model() -> mg.Sequential:
    return mg.Sequential(mg.Dense(4, 8, bias=True, rng=0), mg.BatchNorm1D(8), mg.Tanh(),
                         mg.LayerNorm(8, elementwise_affine=False),
                         mg.BatchNorm1D(8, affine=False), mg.Dense(8, 2, rng=1))


def batch() -> mg.Array:
    return np.random.default_rng(0).standard_normal((16, 4))


@pytest.mark.parametrize("spelling", ["positional", "keyword"])
def test_a_float64_model_converted_to_float32_computes_in_float32(spelling):
    x = batch()
    reference = model().eval()
    expected = reference(x)
    converted = model().eval()
    out = converted.to(np.float32) if spelling == "positional" else converted.to(
        dtype=np.float32)
    assert out is converted
    for name, param in converted.named_parameters():
        assert param.dtype == np.float32 and param.grad.dtype == np.float32, name
    buffers = dict(converted.named_buffers())
    assert buffers["1.running_mean"].dtype == np.float32
    assert buffers["1.num_batches_tracked"].dtype == np.int64  # a counter keeps its dtype
    assert converted[3].dtype == converted[4].dtype == np.float32  # layers without weights
    got = converted(x.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    converted.train()
    converted(x.astype(np.float32))
    grad_in = converted.backward(np.ones((16, 2), np.float32))
    assert grad_in.dtype == np.float32 and converted[0].weight.grad.dtype == np.float32


def test_the_round_trip_gives_the_float32_rounding_back_in_float64():
    original = model()
    state = original.state_dict()
    original.to(np.float32).to(np.float64)
    for name, value in original.state_dict().items():
        assert value.dtype == state[name].dtype, name
        np.testing.assert_array_equal(value, state[name].astype(np.float32).astype(
            state[name].dtype), err_msg=name)
    assert original(batch()).dtype == np.float64


def test_a_gradient_is_converted_with_its_parameter():
    dense = mg.Dense(3, 2, rng=0)
    dense(np.ones((2, 3)))
    dense.backward(np.ones((2, 2)))
    expected = dense.weight.grad.copy()
    dense.to(np.float32)
    assert dense.weight.grad.dtype == np.float32
    np.testing.assert_allclose(dense.weight.grad, expected, rtol=1e-7)


def test_an_optimizer_made_before_the_conversion_refuses_to_step():
    net = model()
    optimizer = mg.Adam(net.parameters())
    net.to(np.float32)
    net(batch().astype(np.float32))
    net.backward(np.ones((16, 2), np.float32))
    with pytest.raises(TypeError, match="converted after the optimizer was created"):
        optimizer.step()
    fresh = mg.Adam(net.parameters())
    fresh.step()
    assert net[0].weight.dtype == np.float32


@pytest.mark.parametrize("args, kwargs, match", [
    ((np.float16,), {}, "float16 is not supported"),
    ((np.int32,), {}, "must be a floating dtype"),
    (("torch",), {}, "must be a floating dtype"),
    ((np.float32,), {"dtype": np.float32}, "given twice"),
    ((), {}, "expected an array library"),
    ((None, "cpu"), {}, "expected an array library"),
])
def test_a_bad_conversion_raises_and_changes_nothing(args, kwargs, match):
    net = model()
    with pytest.raises(TypeError, match=match):
        net.to(*args, **kwargs)
    assert all(param.dtype == np.float64 for param in net.parameters())


def test_a_library_and_a_dtype_at_once():
    torch = pytest.importorskip("torch")
    net = model().eval().to(torch, dtype=np.float32)
    assert net[0].weight.data.dtype == torch.float32
    out = net(torch.from_numpy(batch().astype(np.float32)))
    np.testing.assert_allclose(out.numpy(), model().eval()(batch()), rtol=1e-5, atol=1e-5)
    assert net.to(np, dtype=np.float64)[0].weight.dtype == np.float64
