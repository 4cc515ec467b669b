"""Activations: parameter-free elementwise layers (and softmax along the last axis).

Two kinds, by what their derivative needs:

* `from_output` -- `Activation`: ``f'(x)`` is a function of the output ``y`` (σ' = y(1 − y),
  tanh' = 1 − y², ...), so forward caches ``y``: `Sigmoid`, `Tanh`, `ReLU`, `LeakyReLU`,
  `ELU`, `Softplus`, `Softmax`, `LogSoftmax`;
* `from_input` -- `InputActivation`: ``f'(x)`` needs ``x`` (GELU's Φ(x) + x φ(x)), so
  forward computes ``f'(x)`` with ``f(x)`` and caches it: `GELU`, `SiLU`.
"""

from minigrad.backend import sigmoid
from minigrad.layers.activations.from_input import GELU, InputActivation, SiLU, erfc
from minigrad.layers.activations.from_output import (
    ELU,
    Activation,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)

__all__ = [
    "ELU",
    "GELU",
    "Activation",
    "InputActivation",
    "LeakyReLU",
    "LogSoftmax",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "erfc",
    "sigmoid",
]
