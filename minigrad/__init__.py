"""minigrad: a small, typed neural-network framework on NumPy with hand-written backward passes.

>>> import numpy as np, minigrad as mg
>>> model = mg.Sequential(
...     mg.Bias(), mg.Dense(3, 3, rng=0), mg.Sigmoid(), mg.Bias(), mg.Dense(4, 1, rng=1)
... )
>>> model(np.zeros((5, 2))).shape
(5, 1)
"""

from minigrad import export, init, lr_scheduler, testing
from minigrad.activations import (
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
from minigrad.adaptive import Adagrad, Adam, AdamW, RMSprop
from minigrad.attention import CrossAttention, MultiHeadAttention
from minigrad.base import Array, Buffer, Layer, MergeLayer, Module, Parameter
from minigrad.callbacks import Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint
from minigrad.checkpoint import load_checkpoint, save_checkpoint
from minigrad.classification import BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss
from minigrad.clip import clip_grad_norm, clip_grad_value
from minigrad.containers import Sequential
from minigrad.conv import Conv1D, Conv2D
from minigrad.conv_transpose import ConvTranspose2D
from minigrad.data import batches
from minigrad.embedding import Embedding
from minigrad.graph import Graph
from minigrad.history import History
from minigrad.io import load, save
from minigrad.layers import Bias, Dense, Identity
from minigrad.losses import HuberLoss, L1Loss, Loss, MSELoss, SmoothL1Loss
from minigrad.merge import Add, Concat
from minigrad.metrics import accuracy
from minigrad.normalization import BatchNorm1D, BatchNorm2D, GroupNorm, LayerNorm
from minigrad.optimizers import SGD, Optimizer, ParamGroup
from minigrad.pooling import AvgPool1D, AvgPool2D, GlobalAvgPool2D, MaxPool1D, MaxPool2D
from minigrad.recurrent import GRU, LSTM, RNN
from minigrad.regularization import Dropout
from minigrad.reshape import Flatten, Reshape
from minigrad.summary import summary
from minigrad.training import fit, predict

__version__ = "0.1.0"

__all__ = [
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "SGD",
    "Activation",
    "Adagrad",
    "Adam",
    "AdamW",
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
    "NLLLoss",
    "Optimizer",
    "ParamGroup",
    "Parameter",
    "RMSprop",
    "ReLU",
    "Reshape",
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
