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
    "minigrad.core": (
        "Array", "Buffer", "Layer", "MergeLayer", "Module", "Parameter", "retain_graph",
    ),
    "minigrad.io": ("load", "load_checkpoint", "save", "save_checkpoint"),
    "minigrad.layers.activations": (
        "CELU", "ELU", "GELU", "GLU", "SELU", "Activation", "Hardsigmoid", "Hardswish",
        "Hardtanh", "InputActivation", "LeakyReLU", "LogSigmoid", "LogSoftmax", "Mish", "PReLU",
        "ReLU", "ReLU6", "Sigmoid", "SiLU", "Softmax", "Softmin", "Softplus", "Softsign",
        "Tanh", "Tanhshrink", "Threshold",
    ),
    "minigrad.layers.attention": (
        "CrossAttention", "MultiHeadAttention", "TransformerDecoderLayer",
        "TransformerEncoderLayer",
    ),
    "minigrad.layers.conv": (
        "AvgPool1D", "AvgPool2D", "Conv1D", "Conv2D", "Conv3D", "ConvTranspose1D",
        "ConvTranspose2D", "ConvTranspose3D", "GlobalAvgPool2D", "MaxPool1D", "MaxPool2D",
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
    "minigrad.layers.normalization": (
        "BatchNorm1D", "BatchNorm2D", "BatchNorm3D", "GroupNorm", "InstanceNorm1D",
        "InstanceNorm2D", "InstanceNorm3D", "LayerNorm", "RMSNorm",
    ),
    "minigrad.layers.recurrent": ("GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"),
    "minigrad.layers.regularization": ("Dropout",),
    "minigrad.layers.resampling": ("PixelShuffle", "PixelUnshuffle", "Upsample"),
    "minigrad.layers.reshape": ("Flatten", "Reshape", "Unflatten"),
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
    from minigrad.core import Array, Buffer, Layer, MergeLayer, Module, Parameter, retain_graph
    from minigrad.io import load, load_checkpoint, save, save_checkpoint
    from minigrad.layers.activations import (
        CELU,
        ELU,
        GELU,
        GLU,
        SELU,
        Activation,
        Hardsigmoid,
        Hardswish,
        Hardtanh,
        InputActivation,
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
    from minigrad.layers.attention import (
        CrossAttention,
        MultiHeadAttention,
        TransformerDecoderLayer,
        TransformerEncoderLayer,
    )
    from minigrad.layers.conv import (
        AvgPool1D,
        AvgPool2D,
        Conv1D,
        Conv2D,
        Conv3D,
        ConvTranspose1D,
        ConvTranspose2D,
        ConvTranspose3D,
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
    from minigrad.layers.normalization import (
        BatchNorm1D,
        BatchNorm2D,
        BatchNorm3D,
        GroupNorm,
        InstanceNorm1D,
        InstanceNorm2D,
        InstanceNorm3D,
        LayerNorm,
        RMSNorm,
    )
    from minigrad.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
    from minigrad.layers.regularization import Dropout
    from minigrad.layers.resampling import PixelShuffle, PixelUnshuffle, Upsample
    from minigrad.layers.reshape import Flatten, Reshape, Unflatten
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
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "GRU",
    "LBFGS",
    "LSTM",
    "RNN",
    "SELU",
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
    "BatchNorm3D",
    "Bias",
    "Buffer",
    "Callback",
    "Concat",
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "ConvTranspose1D",
    "ConvTranspose2D",
    "ConvTranspose3D",
    "CosineEmbeddingLoss",
    "CrossAttention",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GaussianNLLLoss",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "Graph",
    "GroupNorm",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "HingeEmbeddingLoss",
    "History",
    "HuberLoss",
    "Identity",
    "InputActivation",
    "InstanceNorm1D",
    "InstanceNorm2D",
    "InstanceNorm3D",
    "KLDivLoss",
    "L1Loss",
    "LSTMCell",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "LearningRateScheduler",
    "LogSigmoid",
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
    "Mish",
    "ModelCheckpoint",
    "Module",
    "MultiHeadAttention",
    "MultiInputLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NAdam",
    "NLLLoss",
    "Optimizer",
    "PReLU",
    "ParamGroup",
    "Parameter",
    "PixelShuffle",
    "PixelUnshuffle",
    "PoissonNLLLoss",
    "RAdam",
    "RMSNorm",
    "RMSprop",
    "RNNCell",
    "ReLU",
    "ReLU6",
    "Reshape",
    "Rprop",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Threshold",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
    "TripletMarginLoss",
    "Unflatten",
    "Upsample",
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
    "retain_graph",
    "save",
    "save_checkpoint",
    "summary",
    "testing",
]

if not TYPE_CHECKING:  # a module __getattr__ would let mypy accept any misspelt name
    __getattr__, __dir__ = lazy_exports(globals(), _HOMES)
