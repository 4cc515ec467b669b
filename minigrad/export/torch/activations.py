"""Torch converters of the activations: each becomes its ``torch.nn`` namesake with the
same options (`PReLU`'s ``weight`` under the same key and layout). Imported (and so
registered) by `minigrad.export.torch`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from minigrad.core import Module
from minigrad.export.torch.convert import (
    Convert,
    made_as,
    register_stateless,
    register_torch,
    same_state,
    torch_dtype,
)
from minigrad.layers.activations import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)

_STATELESS: list[tuple[type[Module[Any]], Callable[[Any], nn.Module]]] = [
    (Sigmoid, lambda layer: nn.Sigmoid()),
    (Tanh, lambda layer: nn.Tanh()),
    (ReLU, lambda layer: nn.ReLU()),
    (LeakyReLU, lambda layer: nn.LeakyReLU(layer.negative_slope)),
    (Softmax, lambda layer: nn.Softmax(dim=layer.axis)),
    (LogSoftmax, lambda layer: nn.LogSoftmax(dim=layer.axis)),
    (GELU, lambda layer: nn.GELU(approximate=layer.approximate)),
    (SiLU, lambda layer: nn.SiLU()),
    (Softplus, lambda layer: nn.Softplus(layer.beta, layer.threshold)),
    (ELU, lambda layer: nn.ELU(layer.alpha)),
    # PyTorch's further activations (issue 21)
    (ReLU6, lambda layer: nn.ReLU6()),
    (Hardtanh, lambda layer: nn.Hardtanh(layer.min_val, layer.max_val)),
    (Hardsigmoid, lambda layer: nn.Hardsigmoid()),
    (Hardswish, lambda layer: nn.Hardswish()),
    (Threshold, lambda layer: nn.Threshold(layer.threshold, layer.value)),
    (Mish, lambda layer: nn.Mish()),
    (SELU, lambda layer: nn.SELU()),
    (CELU, lambda layer: nn.CELU(layer.alpha)),
    (Softsign, lambda layer: nn.Softsign()),
    (Tanhshrink, lambda layer: nn.Tanhshrink()),
    (LogSigmoid, lambda layer: nn.LogSigmoid()),
    (Softmin, lambda layer: nn.Softmin(dim=layer.dim)),
    (GLU, lambda layer: nn.GLU(dim=layer.dim)),
]


for _type, _make in _STATELESS:
    register_stateless(_type, _make)


@register_torch(PReLU, state=same_state)
def _prelu(layer: PReLU, convert: Convert) -> nn.Module:
    return made_as(lambda: nn.PReLU(layer.channels, dtype=torch_dtype(layer.weight.dtype)),
                   layer.state_dict())
