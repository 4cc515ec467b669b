"""minigrad: a small, typed neural-network framework on NumPy with hand-written backward passes.

>>> import numpy as np, minigrad as mg
>>> model = mg.Sequential(
...     mg.Bias(), mg.Dense(3, 3, rng=0), mg.Sigmoid(), mg.Bias(), mg.Dense(4, 1, rng=1)
... )
>>> model(np.zeros((5, 2))).shape
(5, 1)
"""

from minigrad import init, testing
from minigrad.activations import Sigmoid
from minigrad.base import Array, Layer, Module, Parameter
from minigrad.containers import Sequential
from minigrad.layers import Bias, Dense, Identity
from minigrad.losses import Loss, MSELoss
from minigrad.optimizers import SGD, Optimizer

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Array",
    "Bias",
    "Dense",
    "Identity",
    "Layer",
    "Loss",
    "MSELoss",
    "Module",
    "Optimizer",
    "Parameter",
    "Sequential",
    "Sigmoid",
    "__version__",
    "init",
    "testing",
]
