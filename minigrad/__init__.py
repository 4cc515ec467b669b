"""minigrad: a small, typed neural-network framework on NumPy with hand-written backward passes.

>>> import numpy as np, minigrad as mg
>>> model = mg.Sequential(
...     mg.Bias(), mg.Dense(3, 3, rng=0), mg.Sigmoid(), mg.Bias(), mg.Dense(4, 1, rng=1)
... )
>>> model(np.zeros((5, 2))).shape
(5, 1)
"""

from minigrad import export, init, lr_scheduler, testing
from minigrad.containers import Graph, Sequential
from minigrad.core import Array, Buffer, Layer, MergeLayer, Module, Parameter
from minigrad.io import load, load_checkpoint, save, save_checkpoint
from minigrad.layers.activations import (
    ELU,
    GELU,
    Activation,
    InputActivation,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from minigrad.layers.attention import CrossAttention, MultiHeadAttention
from minigrad.layers.conv import (
    AvgPool1D,
    AvgPool2D,
    Conv1D,
    Conv2D,
    ConvTranspose2D,
    GlobalAvgPool2D,
    MaxPool1D,
    MaxPool2D,
)
from minigrad.layers.dense import Bias, Dense, Identity
from minigrad.layers.embedding import Embedding
from minigrad.layers.merge import Add, Concat
from minigrad.layers.normalization import BatchNorm1D, BatchNorm2D, GroupNorm, LayerNorm
from minigrad.layers.recurrent import GRU, LSTM, RNN
from minigrad.layers.regularization import Dropout
from minigrad.layers.reshape import Flatten, Reshape
from minigrad.losses import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from minigrad.optim import (
    ASGD,
    LBFGS,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    Optimizer,
    ParamGroup,
    RAdam,
    RMSprop,
    Rprop,
    clip_grad_norm,
    clip_grad_value,
)
from minigrad.training import (
    Callback,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    accuracy,
    batches,
    fit,
    predict,
    summary,
)

__version__ = "0.1.0"

__all__ = [
    "ASGD",
    "ELU",
    "GELU",
    "GRU",
    "LBFGS",
    "LSTM",
    "RNN",
    "SGD",
    "Activation",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Add",
    "Array",
    "AvgPool1D",
    "AvgPool2D",
    "BCEWithLogitsLoss",
    "BatchNorm1D",
    "BatchNorm2D",
    "Bias",
    "Buffer",
    "Callback",
    "Concat",
    "Conv1D",
    "Conv2D",
    "ConvTranspose2D",
    "CrossAttention",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Embedding",
    "Flatten",
    "GlobalAvgPool2D",
    "Graph",
    "GroupNorm",
    "History",
    "HuberLoss",
    "Identity",
    "InputActivation",
    "L1Loss",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "LearningRateScheduler",
    "LogSoftmax",
    "Loss",
    "MSELoss",
    "MaxPool1D",
    "MaxPool2D",
    "MergeLayer",
    "ModelCheckpoint",
    "Module",
    "MultiHeadAttention",
    "NAdam",
    "NLLLoss",
    "Optimizer",
    "ParamGroup",
    "Parameter",
    "RAdam",
    "RMSprop",
    "ReLU",
    "Reshape",
    "Rprop",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Tanh",
    "__version__",
    "accuracy",
    "batches",
    "clip_grad_norm",
    "clip_grad_value",
    "export",
    "fit",
    "init",
    "load",
    "load_checkpoint",
    "lr_scheduler",
    "predict",
    "save",
    "save_checkpoint",
    "summary",
    "testing",
]
