"""Buffers: non-trainable state carried by state_dict and load_state_dict, unseen by optimizers."""

import numpy as np
import pytest

import minigrad as mg


class Counter(mg.Layer):
    """Identity that counts its forwards in a buffer and scales by a parameter."""

    def __init__(self) -> None:
        self.scale = mg.Parameter(np.ones(2), "scale")
        self.count = mg.Buffer(np.zeros((), dtype=np.int64), "count")

    def forward(self, x: mg.Array) -> mg.Array:
        self.count.data += 1
        self.cache = x
        return x * self.scale.data

    def backward(self, grad_out: mg.Array) -> mg.Array:
        self.scale.grad += (grad_out * self.saved()).sum(axis=0)
        return grad_out * self.scale.data


def test_buffers_are_in_state_dict_but_not_parameters() -> None:
    model = mg.Sequential(Counter(), Counter())
    model(np.ones((3, 2)))
    assert [name for name, _ in model.named_buffers()] == ["0.count", "1.count"]
    assert all(not isinstance(p, mg.Buffer) for p in model.parameters())
    state = model.state_dict()
    assert state["0.count"] == 1 and state["0.count"].dtype == np.int64
    assert set(state) == {"0.scale", "0.count", "1.scale", "1.count"}


def test_load_state_dict_restores_buffers_and_checks_them() -> None:
    source, target = Counter(), Counter()
    source(np.ones((1, 2)))
    source(np.ones((1, 2)))
    target.load_state_dict(source.state_dict())
    assert target.count.data == 2
    with pytest.raises(ValueError, match=r"'count'.*the buffer has dtype int64"):
        target.load_state_dict({"scale": np.ones(2), "count": np.zeros(())})


def test_buffer_refuses_non_numeric_data() -> None:
    with pytest.raises(TypeError, match="Buffer 'b' needs a real numeric dtype"):
        mg.Buffer(np.array(["a"]), "b")
