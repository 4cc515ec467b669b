"""Models shared by the export tests: every built-in layer alone, the examples' models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import minigrad as mg

WIDTH = 5  # the input width of every single-layer case
EXPORT_SHAPE = (None, WIDTH)
RUN_BATCH = 7  # not the 2 rows to_onnx's validation forward uses


def copy_as(module: Any, dtype: Any) -> Any:
    """The same model with its weights in ``dtype`` (layers without parameters reused)."""
    if isinstance(module, mg.Sequential):
        return mg.Sequential(*(copy_as(layer, dtype) for layer in module))
    if isinstance(module, mg.Graph):
        return mg.Graph([(name, (copy_as(layer, dtype), module.inputs[name]))
                         for name, layer in module.nodes.items()], output=module.output)
    if isinstance(module, mg.Dense):
        weight = module.weight.data
        return mg.Dense(module.in_features, module.out_features, dtype=dtype,
                        init=lambda shape, rng, dtype: weight.astype(dtype))
    return module


def graph_of(merge: Any, dtype: Any = np.float64, width: int = WIDTH) -> mg.Graph:
    """``merge(Dense(x), Tanh(x))``: a merge layer between two branches."""
    return mg.Graph({
        "fc": (mg.Dense(width, width, rng=3, dtype=dtype), "input"),
        "act": (mg.Tanh(), "input"),
        "out": (merge, ("fc", "act")),
    })


def randomized(model: Any, seed: int = 1) -> Any:
    """``model`` with every float parameter and buffer drawn at random (variances in
    [0.5, 2]): zeros and ones would hide a bias or a running statistic left out."""
    rng = np.random.default_rng(seed)
    for name, value in [*model.named_parameters(), *model.named_buffers()]:
        if value.data.dtype.kind == "f":
            draw = (rng.uniform(0.5, 2.0, value.shape) if name.endswith("running_var")
                    else 0.5 * rng.standard_normal(value.shape))
            value.data[...] = draw.astype(value.data.dtype)
    return model


Factory = Callable[[Any], mg.Layer[Any]]
F32_ONLY_IN_ORT = {  # onnxruntime (1.32) has no float64 kernel for their ops
    "Conv1D", "Conv2D strided", "Conv2D same groups", "Conv2D dilated", "ConvTranspose2D",
    "AvgPool1D", "AvgPool2D", "GlobalAvgPool2D", "GELU", "RNN", "RNN relu last",
    "LSTM", "LSTM last", "GRU", "GRU last",
}


def _merge(make: Callable[[], Any], width: int = WIDTH) -> Factory:
    return lambda dtype: graph_of(make(), dtype, width)


def _cross_attention(causal: bool) -> Factory:
    """Queries from the input, context from tanh of it (one graph input)."""
    return lambda dtype: mg.Graph({
        "context": (mg.Tanh(), "input"),
        "attend": (mg.CrossAttention(4, 2, causal=causal, rng=0, dtype=dtype),
                   ("input", "context")),
    })


SEQ = (5, 4)  # (T, features) of the sequence cases
LAYERS: dict[str, tuple[Factory, tuple[int, ...]]] = {
    "Dense": (lambda dt: mg.Dense(WIDTH, 3, rng=0, dtype=dt), (WIDTH,)),
    "Dense bias": (lambda dt: mg.Dense(WIDTH, 3, bias=True, rng=0, dtype=dt), (WIDTH,)),
    "Dense N-D": (lambda dt: mg.Dense(4, 3, bias=True, rng=0, dtype=dt), (3, 4)),
    "Bias": (lambda dt: mg.Bias(), (WIDTH,)),
    "Identity": (lambda dt: mg.Identity(), (WIDTH,)),
    "Sigmoid": (lambda dt: mg.Sigmoid(), (WIDTH,)),
    "Tanh": (lambda dt: mg.Tanh(), (WIDTH,)),
    "ReLU": (lambda dt: mg.ReLU(), (WIDTH,)),
    "LeakyReLU": (lambda dt: mg.LeakyReLU(0.2), (WIDTH,)),
    "Softmax": (lambda dt: mg.Softmax(), (WIDTH,)),
    "Softmax axis": (lambda dt: mg.Softmax(axis=1), (3, 4)),
    "GELU": (lambda dt: mg.GELU(), (WIDTH,)),
    "GELU tanh": (lambda dt: mg.GELU("tanh"), (WIDTH,)),
    "SiLU": (lambda dt: mg.SiLU(), (WIDTH,)),
    "Softplus": (lambda dt: mg.Softplus(beta=2.0, threshold=1.5), (WIDTH,)),
    "ELU": (lambda dt: mg.ELU(0.7), (WIDTH,)),
    "LogSoftmax": (lambda dt: mg.LogSoftmax(), (WIDTH,)),
    "LogSoftmax axis": (lambda dt: mg.LogSoftmax(axis=1), (3, 4)),
    "Dropout": (lambda dt: mg.Dropout(0.5, rng=0), (WIDTH,)),
    "Add": (_merge(mg.Add), (WIDTH,)),
    "Concat": (_merge(mg.Concat), (WIDTH,)),
    "Concat axis": (_merge(lambda: mg.Concat(axis=1), 4), (3, 4)),
    "Conv1D": (lambda dt: mg.Conv1D(2, 3, 3, padding=1, rng=0, dtype=dt), (2, 6)),
    "Conv2D strided": (lambda dt: mg.Conv2D(2, 4, 3, stride=2, padding=1, rng=0, dtype=dt),
                       (2, 5, 5)),
    "Conv2D same groups": (lambda dt: mg.Conv2D(4, 2, (2, 3), padding="same", groups=2,
                                                rng=0, dtype=dt), (4, 4, 5)),
    "Conv2D dilated": (lambda dt: mg.Conv2D(2, 2, 3, dilation=2, bias=False, rng=0,
                                            dtype=dt), (2, 6, 6)),
    "ConvTranspose2D": (lambda dt: mg.ConvTranspose2D(2, 3, 3, stride=2, padding=1,
                                                      output_padding=1, rng=0, dtype=dt),
                        (2, 3, 3)),
    "MaxPool1D": (lambda dt: mg.MaxPool1D(2), (2, 6)),
    "MaxPool2D": (lambda dt: mg.MaxPool2D(3, stride=2, padding=1), (2, 5, 5)),
    "AvgPool1D": (lambda dt: mg.AvgPool1D(3, stride=1, padding=1), (2, 6)),
    "AvgPool2D": (lambda dt: mg.AvgPool2D(2, padding=1), (2, 5, 5)),
    "GlobalAvgPool2D": (lambda dt: mg.GlobalAvgPool2D(), (2, 3, 4)),
    "Flatten": (lambda dt: mg.Flatten(), (2, 3, 4)),
    "Reshape": (lambda dt: mg.Reshape(3, -1), (12,)),
    "BatchNorm1D": (lambda dt: mg.BatchNorm1D(WIDTH, dtype=dt), (WIDTH,)),
    "BatchNorm1D (N, C, L)": (lambda dt: mg.BatchNorm1D(3, momentum=None, dtype=dt), (3, 4)),
    "BatchNorm1D no stats": (lambda dt: mg.BatchNorm1D(3, track_running_stats=False,
                                                       dtype=dt), (3, 4)),
    "BatchNorm2D": (lambda dt: mg.BatchNorm2D(2, eps=1e-3, dtype=dt), (2, 3, 3)),
    "BatchNorm2D no affine": (lambda dt: mg.BatchNorm2D(2, affine=False, dtype=dt),
                              (2, 3, 3)),
    "LayerNorm": (lambda dt: mg.LayerNorm(4, dtype=dt), (3, 4)),
    "LayerNorm 2-D": (lambda dt: mg.LayerNorm((3, 4), eps=1e-3, dtype=dt), (3, 4)),
    "LayerNorm no affine": (lambda dt: mg.LayerNorm(4, elementwise_affine=False, dtype=dt),
                            (3, 4)),
    "GroupNorm": (lambda dt: mg.GroupNorm(2, 4, dtype=dt), (4, 3)),
    "GroupNorm 2-D": (lambda dt: mg.GroupNorm(2, 4, eps=1e-3, dtype=dt), (4, 2, 3)),
    # the normalization options (issue 21)
    "BatchNorm2D weight only": (lambda dt: mg.BatchNorm2D(2, bias=False, dtype=dt), (2, 3, 3)),
    "BatchNorm3D": (lambda dt: mg.BatchNorm3D(2, momentum=None, dtype=dt), (2, 2, 3, 2)),
    "BatchNorm3D no stats": (lambda dt: mg.BatchNorm3D(2, affine=False,
                                                       track_running_stats=False, dtype=dt),
                             (2, 2, 3, 2)),
    "InstanceNorm1D": (lambda dt: mg.InstanceNorm1D(3, dtype=dt), (3, 4)),
    "InstanceNorm2D affine": (lambda dt: mg.InstanceNorm2D(2, affine=True, dtype=dt),
                              (2, 3, 3)),
    "InstanceNorm2D weight only": (lambda dt: mg.InstanceNorm2D(2, affine=True, bias=False,
                                                                dtype=dt), (2, 3, 3)),
    "InstanceNorm3D running stats": (lambda dt: mg.InstanceNorm3D(
        2, affine=True, track_running_stats=True, dtype=dt), (2, 2, 3, 2)),
    "LayerNorm no bias": (lambda dt: mg.LayerNorm((3, 4), bias=False, dtype=dt), (3, 4)),
    "GroupNorm weight only": (lambda dt: mg.GroupNorm(2, 4, bias=False, dtype=dt), (4, 3)),
    "GroupNorm no affine": (lambda dt: mg.GroupNorm(2, 4, affine=False, dtype=dt), (4, 3)),
    "RMSNorm": (lambda dt: mg.RMSNorm(4, dtype=dt), (3, 4)),
    "RMSNorm 2-D eps": (lambda dt: mg.RMSNorm((3, 4), eps=1e-3, dtype=dt), (3, 4)),
    "RMSNorm no affine": (lambda dt: mg.RMSNorm(4, elementwise_affine=False, dtype=dt),
                          (3, 4)),
    "Embedding": (lambda dt: mg.Embedding(10, 3, padding_idx=0, rng=0, dtype=dt), (4,)),
    "RNN": (lambda dt: mg.RNN(4, 3, rng=0, dtype=dt), SEQ),
    "RNN relu last": (lambda dt: mg.RNN(4, 3, "relu", return_sequences=False, rng=0,
                                        dtype=dt), SEQ),
    "LSTM": (lambda dt: mg.LSTM(4, 3, rng=0, dtype=dt), SEQ),
    "LSTM last": (lambda dt: mg.LSTM(4, 3, return_sequences=False, rng=0, dtype=dt), SEQ),
    "GRU": (lambda dt: mg.GRU(4, 3, rng=0, dtype=dt), SEQ),
    "GRU last": (lambda dt: mg.GRU(4, 3, return_sequences=False, rng=0, dtype=dt), SEQ),
    "MultiHeadAttention": (lambda dt: mg.MultiHeadAttention(4, 2, rng=0, dtype=dt), SEQ),
    "MultiHeadAttention causal": (lambda dt: mg.MultiHeadAttention(4, 2, causal=True, rng=0,
                                                                   dtype=dt), SEQ),
    "MultiHeadAttention no bias": (lambda dt: mg.MultiHeadAttention(4, 1, bias=False, rng=0,
                                                                    dtype=dt), SEQ),
    "CrossAttention": (_cross_attention(False), SEQ),
    "CrossAttention causal": (_cross_attention(True), SEQ),
}
"""Each built-in layer (and its variants) in the smallest model that holds it (a merge
layer needs a Graph): a factory taking the dtype, and the sample shape."""


def layer_case(name: str, dtype: Any) -> tuple[mg.Layer[Any], tuple[int, ...]]:
    """The model of case ``name`` in ``dtype``, its weights random, and its sample shape."""
    make, sample = LAYERS[name]
    return randomized(make(dtype)), sample


def layer_input(name: str, dtype: Any, rows: int = RUN_BATCH, seed: int = 0) -> mg.Array:
    """A batch for case ``name``: integer ids for an Embedding, else normal floats."""
    sample = LAYERS[name][1]
    rng = np.random.default_rng(seed)
    if name == "Embedding":
        return rng.integers(0, 10, (rows, *sample)).astype(np.int64)
    return rng.standard_normal((rows, *sample)).astype(dtype)


def example_models() -> dict[str, tuple[mg.Layer[Any], int]]:
    """The examples' float64 models of flat samples, and their input widths."""
    import blog_net
    import digits
    import residual_mlp
    import spirals
    import xor

    return {
        "blog net": (blog_net.build_model(), 3),
        "digits MLP": (digits.build_model(), 64),
        "residual MLP": (residual_mlp.build(residual=True), residual_mlp.FEATURES),
        "XOR": (xor.build_model(), 2),
        "spirals": (spirals.build_model(), 2),
    }


CHAR_VOCAB, CHAR_T = 11, 6  # a tiny char_lm: its vocabulary and window length


def shaped_example_models() -> dict[str, tuple[mg.Layer[Any], tuple[int, ...]]]:
    """The examples' float32 models of images and of character ids (char_lm's two models
    in a tiny `Config`; the transformer holds char_lm's own layer, `Positions`), and
    their sample shapes. Built afresh at each call, the same weights each time."""
    import char_lm
    import digits_cnn
    import mnist_cnn

    def char_model(kind: str) -> mg.Layer[Any]:
        config = char_lm.Config(model=kind, embed=8, hidden=6, blocks=1, heads=2,
                                seq_len=CHAR_T)
        return char_lm.build_model(config, CHAR_VOCAB)

    return {
        "digits CNN": (digits_cnn.build_model(0), (1, 8, 8)),
        "MNIST CNN": (mnist_cnn.build_model(0), (1, 28, 28)),
        "char LSTM": (char_model("lstm"), (CHAR_T,)),
        "char transformer": (char_model("transformer"), (CHAR_T,)),
    }


EXAMPLE_CLASSES = {"digits MLP": 10, "spirals": 3, "digits CNN": 10, "MNIST CNN": 10,
                   "char LSTM": CHAR_VOCAB, "char transformer": CHAR_VOCAB}
"""The classifiers among the examples' models (logits, class axis last) and their class
counts; the other models regress one output."""


def example_input(name: str, sample: tuple[int, ...], rows: int = RUN_BATCH,
                  seed: int = 0) -> mg.Array:
    """A batch for a shaped example: character ids (int64), or pixels in [0, 1)."""
    rng = np.random.default_rng(seed)
    if name.startswith("char"):
        return rng.integers(0, CHAR_VOCAB, (rows, *sample))
    return rng.uniform(0, 1, (rows, *sample)).astype(np.float32)


def batch(width: int, dtype: Any, rows: int = RUN_BATCH, seed: int = 0) -> mg.Array:
    return np.random.default_rng(seed).standard_normal((rows, width)).astype(dtype)


def shared_model() -> mg.Sequential:
    """One Dense used twice: ``d(tanh(d(x)))``."""
    dense = mg.Dense(WIDTH, WIDTH, rng=0)
    return mg.Sequential(dense, mg.Tanh(), dense)
