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


def graph_of(merge: Any) -> mg.Graph:
    """``merge(Dense(x), Tanh(x))``: a merge layer between two branches."""
    return mg.Graph({
        "fc": (mg.Dense(WIDTH, WIDTH, rng=3), "input"),
        "act": (mg.Tanh(), "input"),
        "out": (merge, ("fc", "act")),
    })


LAYERS: dict[str, Callable[[], mg.Layer[Any]]] = {
    "Dense": lambda: mg.Dense(WIDTH, 3, rng=0),
    "Bias": mg.Bias,
    "Identity": mg.Identity,
    "Sigmoid": mg.Sigmoid,
    "Tanh": mg.Tanh,
    "ReLU": mg.ReLU,
    "LeakyReLU": lambda: mg.LeakyReLU(0.2),
    "Softmax": mg.Softmax,
    "Dropout": lambda: mg.Dropout(0.5, rng=0),
    "Add": lambda: graph_of(mg.Add()),
    "Concat": lambda: graph_of(mg.Concat()),
}
"""Each built-in layer in the smallest model that holds it (a merge layer needs a Graph)."""


def example_models() -> dict[str, tuple[mg.Layer[Any], int]]:
    """The examples' models and their input widths."""
    import blog_net
    import digits
    import residual_mlp

    return {
        "blog net": (blog_net.build_model(), 3),
        "digits MLP": (digits.build_model(), 64),
        "residual MLP": (residual_mlp.build(residual=True), residual_mlp.FEATURES),
    }


def batch(width: int, dtype: Any, rows: int = RUN_BATCH, seed: int = 0) -> mg.Array:
    return np.random.default_rng(seed).standard_normal((rows, width)).astype(dtype)


def shared_model() -> mg.Sequential:
    """One Dense used twice: ``d(tanh(d(x)))``."""
    dense = mg.Dense(WIDTH, WIDTH, rng=0)
    return mg.Sequential(dense, mg.Tanh(), dense)
