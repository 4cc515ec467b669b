"""Activations: parameter-free elementwise layers (and softmax along an axis), the learned
`PReLU` and the gated `GLU`.

By what their derivative needs, and by shape:

* `from_output` -- `Activation`: ``f'(x)`` is a function of the output ``y`` (σ' = y(1 − y),
  tanh' = 1 − y², ...), so forward caches ``y``: `Sigmoid`, `Tanh`, `ReLU`, `LeakyReLU`,
  `ELU`, `Softmax`, `Softmin`, `LogSoftmax`, `LogSigmoid`;
* `from_input` -- `InputActivation`: ``f'(x)`` needs ``x`` (GELU's Φ(x) + x φ(x)), so
  forward computes ``f'(x)`` with ``f(x)`` and caches it: `GELU`, `SiLU`, `Softplus`,
  `Mish`, `SELU`, `CELU`, `Softsign`, `Tanhshrink`;
* `piecewise` -- defined by cases, with PyTorch's derivatives at the kinks: `Hardtanh`,
  `ReLU6` (from the output), `Hardsigmoid`, `Hardswish`, `Threshold` (from the input)
  and `PReLU`, whose slopes are parameters;
* `gated` -- `GLU`, which halves an axis: one half gates the other.
"""

from minigrad.backend import sigmoid
from minigrad.layers.activations.from_input import (
    CELU,
    GELU,
    SELU,
    InputActivation,
    Mish,
    SiLU,
    Softplus,
    Softsign,
    Tanhshrink,
    erfc,
)
from minigrad.layers.activations.from_output import (
    ELU,
    Activation,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Softmin,
    Tanh,
)
from minigrad.layers.activations.gated import GLU
from minigrad.layers.activations.piecewise import (
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    PReLU,
    ReLU6,
    Threshold,
)

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "SELU",
    "Activation",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "InputActivation",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Threshold",
    "erfc",
    "sigmoid",
]
