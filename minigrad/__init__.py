"""minigrad: a small, typed neural-network framework on NumPy with hand-written backward passes.

>>> import numpy as np, minigrad as mg
>>> model = mg.Sequential(
...     mg.Bias(), mg.Dense(3, 3, rng=0), mg.Sigmoid(), mg.Bias(), mg.Dense(4, 1, rng=1)
... )
>>> model(np.zeros((5, 2))).shape
(5, 1)
"""

from minigrad import init, testing
from minigrad.activations import Activation, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from minigrad.base import Array, Buffer, Layer, MergeLayer, Module, Parameter
from minigrad.containers import Sequential
from minigrad.conv import Conv1D, Conv2D, ConvTranspose2D
from minigrad.data import batches
from minigrad.graph import Graph
from minigrad.io import load, save
from minigrad.layers import Bias, Dense, Identity
from minigrad.losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from minigrad.merge import Add, Concat
from minigrad.metrics import accuracy
from minigrad.optimizers import SGD, Adam, Optimizer
from minigrad.pooling import AvgPool1D, AvgPool2D, GlobalAvgPool2D, MaxPool1D, MaxPool2D
from minigrad.regularization import Dropout
from minigrad.reshape import Flatten, Reshape
from minigrad.summary import summary
from minigrad.training import Callback, EarlyStopping, History, fit, predict

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Activation",
    "Adam",
    "Add",
    "Array",
    "AvgPool1D",
    "AvgPool2D",
    "BCEWithLogitsLoss",
    "Bias",
    "Buffer",
    "Callback",
    "Concat",
    "Conv1D",
    "Conv2D",
    "ConvTranspose2D",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Flatten",
    "GlobalAvgPool2D",
    "Graph",
    "History",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MSELoss",
    "MaxPool1D",
    "MaxPool2D",
    "MergeLayer",
    "Module",
    "Optimizer",
    "Parameter",
    "ReLU",
    "Reshape",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "__version__",
    "accuracy",
    "batches",
    "fit",
    "init",
    "load",
    "predict",
    "save",
    "summary",
    "testing",
]
