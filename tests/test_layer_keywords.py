"""Every built-in layer with parameters takes ``rng=`` and ``dtype=`` keywords, and
``init=`` when its initial values are drawn at random, as `Dense` does -- and each of
them does what it says."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from test_builtin_contract import BUILTINS, ID_BUILTINS

import minigrad as mg

# class -> the positional arguments of a small instance
ARGS: dict[type, tuple[object, ...]] = {
    mg.Dense: (3, 2),
    mg.Embedding: (5, 3),
    mg.RNN: (3, 2),
    mg.LSTM: (3, 2),
    mg.GRU: (3, 2),
    mg.RNNCell: (3, 2),
    mg.LSTMCell: (3, 2),
    mg.GRUCell: (3, 2),
    mg.MultiHeadAttention: (4, 2),
    mg.CrossAttention: (4, 2),
    mg.TransformerEncoderLayer: (4, 2, 6),
    mg.TransformerDecoderLayer: (4, 2, 6),
    mg.BatchNorm1D: (3,),
    mg.BatchNorm2D: (3,),
    mg.LayerNorm: ((2, 3),),
    mg.GroupNorm: (2, 4),
    mg.BatchNorm3D: (3,),
    mg.InstanceNorm1D: (3, 1e-5, 0.1, True),
    mg.RMSNorm: ((2, 3),),
    mg.Conv1D: (2, 3, 3),
    mg.Conv2D: (2, 3, 3),
    mg.ConvTranspose2D: (2, 3, 3),
    mg.Conv3D: (2, 3, 3),
    mg.ConvTranspose1D: (2, 3, 3),
    mg.ConvTranspose3D: (2, 3, 3),
    mg.PReLU: (3,),
}


def parameterized_builtins() -> set[type]:
    """Every exported layer class (not a container) whose instances have parameters."""
    found = set()
    for factory, _ in [*BUILTINS.values(), *ID_BUILTINS.values()]:
        layer = factory()
        if not isinstance(layer, (mg.Sequential, mg.Graph)) and layer.parameters():
            found.add(type(layer))
    return found


def test_every_parameterized_builtin_is_listed() -> None:
    assert parameterized_builtins() - set(ARGS) == set(), "add these to ARGS"


def params(layer: mg.Module) -> dict[str, np.ndarray]:
    return {name: p.data for name, p in layer.named_parameters()}


@pytest.mark.parametrize("cls", list(ARGS), ids=lambda cls: cls.__name__)
def test_rng_and_dtype_are_keywords_that_work(cls: type) -> None:
    keywords = {name for name, p in inspect.signature(cls).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert {"rng", "dtype"} <= keywords, cls
    args = ARGS[cls]
    small = cls(*args, rng=0, dtype=np.float32)
    assert small.parameters()
    assert all(p.dtype == np.float32 for p in small.parameters())
    assert all(b.dtype == np.float32 for b in small.buffers() if b.dtype.kind == "f")
    first, again = params(cls(*args, rng=0)), params(cls(*args, rng=0))
    other = params(cls(*args, rng=1))
    assert all(np.array_equal(first[k], again[k]) for k in first)  # rng=0 reproduces
    with pytest.raises(ValueError, match="rng must be"):
        cls(*args, rng="seed")
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        cls(*args, dtype=np.int32)
    random = any(not np.array_equal(first[k], other[k]) for k in first)
    if random:  # drawn at random: the draw is the user's to choose
        assert "init" in keywords, f"{cls.__name__} draws its parameters; it needs init="
        zeroed = params(cls(*args, init=mg.init.zeros(), rng=0))
        assert any(first[k].any() and not zeroed[k].any() for k in first), \
            "init= reaches no parameter"
    else:  # fixed initial values (as PyTorch's): nothing to draw, so no init=
        assert "init" not in keywords
