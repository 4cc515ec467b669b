"""Training on top of the layers: everything a training run needs besides the math.

* `fit` -- `fit`, the training loop; `epoch` -- its training and validation passes;
* `predict` -- `predict`;
* `parallel` -- `ParallelStrategy`, `ParallelRun`: what `fit` needs from a data-parallel
  strategy (`minigrad.distributed.DataParallel`, which plugs in from above);
* `data` -- `batches`: the mini-batches of one epoch;
* `sources` -- what `fit` and `predict` draw batches from: arrays, a map-style dataset,
  an iterable of batches;
* `weights` -- ``sample_weight`` and ``class_weight``: the weighted loss of a batch;
* `callbacks` -- `Callback`, `EarlyStopping`, `LearningRateScheduler`, `ModelCheckpoint`;
* `history` -- `History` and the progress shown while training;
* `metrics` -- `accuracy`, and `Metric`: what a metric is;
* `summary` -- `summary`: a Keras-style table of a model.
"""

from minigrad.training.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
)
from minigrad.training.data import batches
from minigrad.training.fit import fit
from minigrad.training.history import History
from minigrad.training.metrics import accuracy
from minigrad.training.predict import predict
from minigrad.training.summary import summary

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "accuracy",
    "batches",
    "fit",
    "predict",
    "summary",
]
