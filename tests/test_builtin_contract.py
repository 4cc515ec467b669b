"""Every built-in layer, merge layer and container meets the contract of `check_layer`.

To cover a new built-in, add one line to `BUILTINS`: a name, a factory, and the shapes
of its example inputs (one shape per input) -- or, for a layer of integer ids, to
`ID_BUILTINS` with its example ids. `test_every_exported_layer_is_listed` fails until an
exported layer class has a line. (tests/test_bad_input.py runs its catalogue over
`BUILTINS`; the ids' own bad inputs are tested in tests/test_embedding.py.)
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.layer_contract import check_layer


def residual_block(width: int, seed: int) -> mg.Graph:
    return mg.Graph({
        "fc": (mg.Dense(width, width, rng=seed), "input"),
        "act": (mg.Sigmoid(), "fc"),
        "out": (mg.Add(), ("input", "act")),
    })


def unpool_after_pool(pool_type: type, unpool_type: type, shape: tuple[int, ...]) -> mg.Module:
    """A max unpooling layer reading a pool (kernel 2) that has run once on ``shape``."""
    pool = pool_type(2, return_indices=True)
    pool(np.random.default_rng(0).standard_normal(shape))
    return unpool_type(2, indices_from=pool, output_size=shape[2:])


# name -> (factory, input shapes)
BUILTINS: dict[str, tuple[Callable[[], mg.Module], list[tuple[int, ...]]]] = {
    "Dense": (lambda: mg.Dense(3, 2, rng=0), [(4, 3)]),
    "Dense-float32": (lambda: mg.Dense(3, 2, rng=0, dtype=np.float32), [(4, 3)]),
    "Bias": (lambda: mg.Bias(), [(4, 3)]),
    "Identity": (lambda: mg.Identity(), [(4, 3)]),
    "Sigmoid": (lambda: mg.Sigmoid(), [(4, 3)]),
    "ReLU": (lambda: mg.ReLU(), [(4, 3)]),
    "LeakyReLU": (lambda: mg.LeakyReLU(0.1), [(4, 3)]),
    "Tanh": (lambda: mg.Tanh(), [(4, 3)]),
    "Softmax": (lambda: mg.Softmax(), [(4, 3)]),
    "Dropout-eval": (lambda: mg.Dropout(0.5, rng=0).eval(), [(4, 3)]),
    "Add": (lambda: mg.Add(), [(4, 3), (4, 3)]),
    "Add-3": (lambda: mg.Add(), [(2, 2), (2, 2), (2, 2)]),
    "Concat": (lambda: mg.Concat(), [(4, 3), (4, 1)]),
    "Concat-axis1": (lambda: mg.Concat(axis=1), [(2, 3, 2), (2, 1, 2), (2, 2, 2)]),
    "Sequential": (lambda: mg.Sequential(mg.Bias(), mg.Dense(4, 2, rng=1), mg.Sigmoid()),
                   [(4, 3)]),
    "Graph": (lambda: residual_block(3, 2), [(4, 3)]),
    # sequence models
    "BatchNorm1D": (lambda: mg.BatchNorm1D(3), [(4, 3)]),
    "BatchNorm1D-NCL": (lambda: mg.BatchNorm1D(2), [(3, 2, 2)]),
    "BatchNorm1D-eval": (lambda: mg.BatchNorm1D(3).eval(), [(4, 3)]),
    "BatchNorm2D": (lambda: mg.BatchNorm2D(2), [(2, 2, 2, 2)]),
    "LayerNorm": (lambda: mg.LayerNorm(3), [(2, 2, 3)]),
    "GroupNorm": (lambda: mg.GroupNorm(2, 4), [(2, 4, 2)]),
    "BatchNorm3D": (lambda: mg.BatchNorm3D(2, bias=False), [(2, 2, 2, 1, 2)]),
    "InstanceNorm1D": (lambda: mg.InstanceNorm1D(2, affine=True), [(2, 2, 3)]),
    "InstanceNorm2D-eval": (lambda: mg.InstanceNorm2D(2, track_running_stats=True).eval(),
                            [(2, 2, 2, 2)]),
    "InstanceNorm3D": (lambda: mg.InstanceNorm3D(2), [(2, 2, 2, 1, 2)]),
    "LayerNorm-no-bias": (lambda: mg.LayerNorm(3, bias=False), [(2, 2, 3)]),
    "RMSNorm": (lambda: mg.RMSNorm((2, 3)), [(2, 2, 3)]),
    "GELU": (lambda: mg.GELU(), [(4, 3)]),
    "GELU-tanh": (lambda: mg.GELU("tanh"), [(4, 3)]),
    "SiLU": (lambda: mg.SiLU(), [(4, 3)]),
    "Softplus": (lambda: mg.Softplus(beta=2.0), [(4, 3)]),
    "ELU": (lambda: mg.ELU(0.5), [(4, 3)]),
    "LogSoftmax": (lambda: mg.LogSoftmax(), [(4, 3)]),
    "RNN": (lambda: mg.RNN(3, 2, rng=0), [(2, 3, 3)]),
    "LSTM": (lambda: mg.LSTM(3, 2, rng=0), [(2, 3, 3)]),
    "LSTM-last": (lambda: mg.LSTM(3, 2, return_sequences=False, rng=0), [(2, 3, 3)]),
    "GRU": (lambda: mg.GRU(3, 2, rng=0), [(2, 3, 3)]),
    "LSTM-2-layers-bidirectional-proj": (
        lambda: mg.LSTM(3, 3, num_layers=2, bidirectional=True, proj_size=2, rng=0),
        [(2, 3, 3)]),
    "GRU-bidirectional-last-nobias": (
        lambda: mg.GRU(3, 2, False, bidirectional=True, bias=False, rng=0), [(2, 3, 3)]),
    "RNNCell": (lambda: mg.RNNCell(3, 2, rng=0), [(4, 3)]),
    "LSTMCell": (lambda: mg.LSTMCell(3, 2, rng=0), [(4, 3)]),
    "GRUCell": (lambda: mg.GRUCell(3, 2, rng=0), [(4, 3)]),
    "MultiHeadAttention": (lambda: mg.MultiHeadAttention(4, 2, causal=True, rng=0),
                           [(2, 3, 4)]),
    "CrossAttention": (lambda: mg.CrossAttention(4, 2, rng=0), [(2, 3, 4), (2, 2, 4)]),
    "TransformerEncoderLayer": (lambda: mg.TransformerEncoderLayer(4, 2, 6, rng=0).eval(),
                                [(2, 3, 4)]),
    "TransformerDecoderLayer": (lambda: mg.TransformerDecoderLayer(4, 2, 6, rng=0).eval(),
                                [(2, 3, 4), (2, 2, 4)]),
    # N-D: images (N, C, H, W) and sequences (N, C, L), small enough for finite differences
    "Dense-bias-3d": (lambda: mg.Dense(3, 2, bias=True, rng=0), [(2, 4, 3)]),
    "Bias-3d": (lambda: mg.Bias(), [(2, 2, 3)]),
    "ReLU-4d": (lambda: mg.ReLU(), [(2, 2, 3, 3)]),
    "Softmax-axis1": (lambda: mg.Softmax(axis=1), [(2, 3, 2, 2)]),
    "Add-4d": (lambda: mg.Add(), [(2, 2, 3, 3), (2, 2, 3, 3)]),
    "Concat-channels": (lambda: mg.Concat(axis=1), [(2, 1, 3, 3), (2, 2, 3, 3)]),
    "Conv2D": (lambda: mg.Conv2D(2, 3, 3, padding=1, rng=0), [(2, 2, 4, 4)]),
    "Conv2D-strided-groups": (
        lambda: mg.Conv2D(4, 4, (2, 3), stride=2, dilation=(1, 2), groups=2, rng=0),
        [(2, 4, 5, 6)]),
    "Conv2D-narrowing": (lambda: mg.Conv2D(3, 2, 3, padding=1, rng=0), [(2, 3, 4, 4)]),
    "Conv2D-float32": (lambda: mg.Conv2D(1, 2, 2, bias=False, rng=0, dtype=np.float32),
                       [(2, 1, 3, 3)]),
    "Conv1D": (lambda: mg.Conv1D(2, 3, 3, padding="same", rng=0), [(2, 2, 5)]),
    "ConvTranspose2D": (
        lambda: mg.ConvTranspose2D(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2,
                                   rng=0), [(2, 2, 3, 3)]),
    "MaxPool2D": (lambda: mg.MaxPool2D(2), [(2, 2, 4, 4)]),
    "MaxPool2D-padded": (lambda: mg.MaxPool2D(3, stride=2, padding=1), [(1, 2, 5, 5)]),
    "MaxPool1D": (lambda: mg.MaxPool1D(2), [(2, 2, 5)]),
    "AvgPool2D": (lambda: mg.AvgPool2D(3, stride=2, padding=1), [(1, 2, 5, 5)]),
    "AvgPool1D": (lambda: mg.AvgPool1D(2, stride=1), [(2, 2, 5)]),
    "GlobalAvgPool2D": (lambda: mg.GlobalAvgPool2D(), [(2, 3, 2, 2)]),
    "MaxPool3D-options": (lambda: mg.MaxPool3D(2, stride=(1, 2, 2), padding=(1, 0, 1),
                                               dilation=(1, 2, 1), return_indices=True,
                                               ceil_mode=True), [(2, 1, 3, 5, 4)]),
    "AvgPool3D-options": (lambda: mg.AvgPool3D(3, stride=2, padding=1, ceil_mode=True,
                                               count_include_pad=False), [(1, 2, 4, 4, 5)]),
    "AvgPool2D-divisor": (lambda: mg.AvgPool2D(2, padding=1, divisor_override=3),
                          [(1, 2, 3, 4)]),
    "AdaptiveAvgPool1D": (lambda: mg.AdaptiveAvgPool1D(3), [(2, 2, 5)]),
    "AdaptiveAvgPool2D": (lambda: mg.AdaptiveAvgPool2D((3, None)), [(2, 2, 5, 3)]),
    "AdaptiveAvgPool3D": (lambda: mg.AdaptiveAvgPool3D((2, 1, 3)), [(1, 2, 3, 3, 4)]),
    "AdaptiveMaxPool1D": (lambda: mg.AdaptiveMaxPool1D(4), [(2, 2, 7)]),
    "AdaptiveMaxPool2D": (lambda: mg.AdaptiveMaxPool2D((3, 2), return_indices=True),
                          [(2, 2, 5, 3)]),
    "AdaptiveMaxPool3D": (lambda: mg.AdaptiveMaxPool3D((2, None, 3)), [(1, 2, 3, 2, 4)]),
    "GlobalAvgPool1D": (lambda: mg.GlobalAvgPool1D(), [(2, 3, 4)]),
    "GlobalAvgPool3D": (lambda: mg.GlobalAvgPool3D(), [(2, 3, 2, 2, 3)]),
    "MaxUnpool1D": (lambda: unpool_after_pool(mg.MaxPool1D, mg.MaxUnpool1D, (2, 2, 6)),
                    [(2, 2, 3)]),
    "MaxUnpool2D": (lambda: unpool_after_pool(mg.MaxPool2D, mg.MaxUnpool2D, (2, 2, 4, 5)),
                    [(2, 2, 2, 2)]),
    "MaxUnpool3D": (lambda: unpool_after_pool(mg.MaxPool3D, mg.MaxUnpool3D, (1, 2, 4, 2, 4)),
                    [(1, 2, 2, 1, 2)]),
    "Flatten": (lambda: mg.Flatten(), [(2, 3, 2, 2)]),
    "Reshape": (lambda: mg.Reshape(2, -1), [(2, 3, 4)]),
    "Conv3D-reflect": (lambda: mg.Conv3D(2, 2, 2, padding=1, padding_mode="reflect", rng=0),
                       [(1, 2, 3, 2, 3)]),
    "Conv2D-circular-same": (lambda: mg.Conv2D(2, 2, (2, 3), padding="same",
                                               padding_mode="circular", rng=0), [(2, 2, 3, 4)]),
    "ConvTranspose1D": (lambda: mg.ConvTranspose1D(2, 2, 3, stride=2, output_padding=1,
                                                   rng=0), [(2, 2, 3)]),
    "ConvTranspose3D": (lambda: mg.ConvTranspose3D(2, 2, 2, stride=(2, 1, 1), dilation=2,
                                                   output_padding=(1, 1, 0), rng=0),
                        [(1, 2, 2, 2, 2)]),
    "Upsample-bilinear": (lambda: mg.Upsample(scale_factor=1.5, mode="bilinear"),
                          [(2, 2, 3, 2)]),
    "Upsample-nearest": (lambda: mg.Upsample(size=5), [(2, 2, 3)]),
    "PixelShuffle": (lambda: mg.PixelShuffle(2), [(2, 4, 2, 3)]),
    "PixelUnshuffle": (lambda: mg.PixelUnshuffle(2), [(2, 1, 4, 2)]),
    # PyTorch's further activations and reshaping options (issue 21)
    "PReLU": (lambda: mg.PReLU(), [(4, 3)]),
    "PReLU-channels": (lambda: mg.PReLU(2, init=-0.3), [(2, 2, 3, 2)]),
    "ReLU6": (lambda: mg.ReLU6(), [(4, 3)]),
    "Hardtanh": (lambda: mg.Hardtanh(-0.5, 2.0), [(4, 3)]),
    "Hardsigmoid": (lambda: mg.Hardsigmoid(), [(4, 3)]),
    "Hardswish": (lambda: mg.Hardswish(), [(4, 3)]),
    "Threshold": (lambda: mg.Threshold(0.1, 20.0), [(4, 3)]),
    "Mish": (lambda: mg.Mish(), [(4, 3)]),
    "SELU": (lambda: mg.SELU(), [(4, 3)]),
    "CELU": (lambda: mg.CELU(0.5), [(4, 3)]),
    "Softsign": (lambda: mg.Softsign(), [(4, 3)]),
    "Tanhshrink": (lambda: mg.Tanhshrink(), [(4, 3)]),
    "LogSigmoid": (lambda: mg.LogSigmoid(), [(4, 3)]),
    "Softmin-axis1": (lambda: mg.Softmin(dim=1), [(2, 3, 2)]),
    "GLU": (lambda: mg.GLU(), [(4, 4)]),
    "GLU-dim1": (lambda: mg.GLU(dim=1), [(2, 4, 3)]),
    "Flatten-middle": (lambda: mg.Flatten(2, 3), [(2, 2, 3, 2)]),
    "Unflatten": (lambda: mg.Unflatten(-1, (2, -1)), [(2, 3, 4)]),
}

IDS = np.array([[0, 3, 3], [4, 1, 0]])  # repeated ids: their gradients must add up

# name -> (factory, example ids). No padding_idx here: its row gets no gradient by design,
# which finite differences would flag; tests/test_embedding.py checks it against PyTorch.
ID_BUILTINS: dict[str, tuple[Callable[[], mg.Module], np.ndarray]] = {
    "Embedding": (lambda: mg.Embedding(5, 3, rng=0), IDS),
    "Embedding-float32": (lambda: mg.Embedding(5, 3, rng=0, dtype=np.float32), IDS),
    "Sequential-ids": (lambda: mg.Sequential(mg.Embedding(5, 3, rng=0),
                                             mg.LSTM(3, 2, return_sequences=False, rng=1),
                                             mg.Dense(2, 2, rng=2)), IDS),
}


@pytest.mark.parametrize("name", list(BUILTINS))
def test_builtin_meets_the_layer_contract(name):
    factory, shapes = BUILTINS[name]
    rng = np.random.default_rng(len(name))
    check_layer(factory(), *(2 * rng.standard_normal(shape) for shape in shapes))


@pytest.mark.parametrize("name", list(ID_BUILTINS))
def test_builtin_of_ids_meets_the_layer_contract(name):
    factory, ids = ID_BUILTINS[name]
    check_layer(factory(), ids)  # ids go in uncast; the parameters are checked


def test_every_exported_layer_is_listed():
    exported = {
        # a copy: a lazily imported submodule joins the package's namespace meanwhile
        value for value in list(vars(mg).values())
        # not a generic alias (mg.Array): Python 3.10 takes one for a class
        if inspect.isclass(value) and not isinstance(value, types.GenericAlias)
        and issubclass(value, (mg.Layer, mg.MergeLayer))
        and not inspect.isabstract(value)
    }
    listed = {type(factory()) for factory, _ in [*BUILTINS.values(), *ID_BUILTINS.values()]}
    assert exported - listed == set(), "add these to BUILTINS (or ID_BUILTINS)"
