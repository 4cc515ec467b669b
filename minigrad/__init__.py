"""minigrad: a small, typed neural-network framework on NumPy with hand-written backward passes.

>>> import numpy as np, minigrad as mg
>>> model = mg.Sequential(
...     mg.Bias(), mg.Dense(3, 3, rng=0), mg.Sigmoid(), mg.Bias(), mg.Dense(4, 1, rng=1)
... )
>>> model(np.zeros((5, 2))).shape
(5, 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minigrad.core.exports import lazy_exports

__version__ = "0.1.0"

# Where each public name is defined, family by family. ``import minigrad`` imports none of
# these modules: the first use of a name -- ``mg.Dense``, ``from minigrad import Dense`` --
# imports its module (`minigrad.core.exports`), so a script pays only for the families it
# uses. A new public name goes in three places: its family's entry here, the import under
# TYPE_CHECKING below (what type checkers and the API reference read) and ``__all__``;
# tests/test_lazy_imports.py names any name missing from one of them. (Subpackages and
# modules -- ``mg.export``, ``mg.init`` -- are imported on first use by their names.)
_HOMES: dict[str, tuple[str, ...]] = {
    "minigrad.containers": ("Graph", "Sequential"),
    "minigrad.core": ("Array", "Buffer", "Layer", "MergeLayer", "Module", "Parameter"),
    "minigrad.io": ("load", "load_checkpoint", "save", "save_checkpoint"),
    "minigrad.layers.activations": (
        "ELU", "GELU", "Activation", "InputActivation", "LeakyReLU", "LogSoftmax", "ReLU",
        "Sigmoid", "SiLU", "Softmax", "Softplus", "Tanh",
    ),
    "minigrad.layers.attention": ("CrossAttention", "MultiHeadAttention"),
    "minigrad.layers.conv": (
        "AvgPool1D", "AvgPool2D", "Conv1D", "Conv2D", "ConvTranspose2D", "GlobalAvgPool2D",
        "MaxPool1D", "MaxPool2D",
    ),
    "minigrad.layers.conv.adaptive": (
        "AdaptiveAvgPool1D", "AdaptiveAvgPool2D", "AdaptiveAvgPool3D", "AdaptiveMaxPool1D",
        "AdaptiveMaxPool2D", "AdaptiveMaxPool3D", "GlobalAvgPool1D", "GlobalAvgPool3D",
    ),
    "minigrad.layers.conv.pooling": ("AvgPool3D", "MaxPool3D"),
    "minigrad.layers.conv.unpooling": ("MaxUnpool1D", "MaxUnpool2D", "MaxUnpool3D"),
    "minigrad.layers.dense": ("Bias", "Dense", "Identity"),
    "minigrad.layers.embedding": ("Embedding",),
    "minigrad.layers.merge": ("Add", "Concat"),
    "minigrad.layers.normalization": ("BatchNorm1D", "BatchNorm2D", "GroupNorm", "LayerNorm"),
    "minigrad.layers.recurrent": ("GRU", "LSTM", "RNN"),
    "minigrad.layers.regularization": ("Dropout",),
    "minigrad.layers.reshape": ("Flatten", "Reshape"),
    "minigrad.losses": (
        "BCELoss", "BCEWithLogitsLoss", "CosineEmbeddingLoss", "CrossEntropyLoss",
        "GaussianNLLLoss", "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss", "Loss",
        "MarginRankingLoss", "MSELoss", "MultiInputLoss", "MultiLabelSoftMarginLoss",
        "MultiMarginLoss", "NLLLoss", "PoissonNLLLoss", "SmoothL1Loss", "SoftMarginLoss",
        "TripletMarginLoss",
    ),
    "minigrad.optim": (
        "ASGD", "LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "Adamax", "AdamW", "NAdam",
        "Optimizer", "ParamGroup", "RAdam", "RMSprop", "Rprop", "clip_grad_norm",
        "clip_grad_value",
    ),
    "minigrad.training": (
        "Callback", "EarlyStopping", "History", "LearningRateScheduler", "ModelCheckpoint",
        "accuracy", "batches",
    ),
    # Functions named as their modules, from those modules: what mypy can tell apart.
    "minigrad.training.fit": ("fit",),
    "minigrad.training.predict": ("predict",),
    "minigrad.training.summary": ("summary",),
}

if TYPE_CHECKING:
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
    from minigrad.layers.conv.adaptive import (
        AdaptiveAvgPool1D,
        AdaptiveAvgPool2D,
        AdaptiveAvgPool3D,
        AdaptiveMaxPool1D,
        AdaptiveMaxPool2D,
        AdaptiveMaxPool3D,
        GlobalAvgPool1D,
        GlobalAvgPool3D,
    )
    from minigrad.layers.conv.pooling import AvgPool3D, MaxPool3D
    from minigrad.layers.conv.unpooling import MaxUnpool1D, MaxUnpool2D, MaxUnpool3D
    from minigrad.layers.dense import Bias, Dense, Identity
    from minigrad.layers.embedding import Embedding
    from minigrad.layers.merge import Add, Concat
    from minigrad.layers.normalization import BatchNorm1D, BatchNorm2D, GroupNorm, LayerNorm
    from minigrad.layers.recurrent import GRU, LSTM, RNN
    from minigrad.layers.regularization import Dropout
    from minigrad.layers.reshape import Flatten, Reshape
    from minigrad.losses import (
        BCELoss,
        BCEWithLogitsLoss,
        CosineEmbeddingLoss,
        CrossEntropyLoss,
        GaussianNLLLoss,
        HingeEmbeddingLoss,
        HuberLoss,
        KLDivLoss,
        L1Loss,
        Loss,
        MarginRankingLoss,
        MSELoss,
        MultiInputLoss,
        MultiLabelSoftMarginLoss,
        MultiMarginLoss,
        NLLLoss,
        PoissonNLLLoss,
        SmoothL1Loss,
        SoftMarginLoss,
        TripletMarginLoss,
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
    )
    from minigrad.training.fit import fit
    from minigrad.training.predict import predict
    from minigrad.training.summary import summary

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
    "AdaptiveAvgPool1D",
    "AdaptiveAvgPool2D",
    "AdaptiveAvgPool3D",
    "AdaptiveMaxPool1D",
    "AdaptiveMaxPool2D",
    "AdaptiveMaxPool3D",
    "Add",
    "Array",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "BCELoss",
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
    "CosineEmbeddingLoss",
    "CrossAttention",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Embedding",
    "Flatten",
    "GaussianNLLLoss",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "Graph",
    "GroupNorm",
    "HingeEmbeddingLoss",
    "History",
    "HuberLoss",
    "Identity",
    "InputActivation",
    "KLDivLoss",
    "L1Loss",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "LearningRateScheduler",
    "LogSoftmax",
    "Loss",
    "MSELoss",
    "MarginRankingLoss",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "MaxUnpool1D",
    "MaxUnpool2D",
    "MaxUnpool3D",
    "MergeLayer",
    "ModelCheckpoint",
    "Module",
    "MultiHeadAttention",
    "MultiInputLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NAdam",
    "NLLLoss",
    "Optimizer",
    "ParamGroup",
    "Parameter",
    "PoissonNLLLoss",
    "RAdam",
    "RMSprop",
    "ReLU",
    "Reshape",
    "Rprop",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "Softmax",
    "Softplus",
    "Tanh",
    "TripletMarginLoss",
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

if not TYPE_CHECKING:  # a module __getattr__ would let mypy accept any misspelt name
    __getattr__, __dir__ = lazy_exports(globals(), _HOMES)
