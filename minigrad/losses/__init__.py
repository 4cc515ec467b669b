"""Losses: ``forward(pred, target) -> L`` and ``backward() -> dL/dpred``. They know no layers.

* `loss` -- the base `Loss`, its reductions (``"mean"``, ``"sum"``, ``"none"``) and the
  checks of predictions and targets every loss shares;
* `regression` -- `MSELoss`, `L1Loss`, `HuberLoss`, `SmoothL1Loss`;
* `classification` -- `BCEWithLogitsLoss`, `CrossEntropyLoss`, `NLLLoss` (class axis last);
* `probabilistic` -- `BCELoss`, `KLDivLoss`, `PoissonNLLLoss`, `GaussianNLLLoss`;
* `margin` -- `MarginRankingLoss`, `HingeEmbeddingLoss`, `SoftMarginLoss`,
  `MultiLabelSoftMarginLoss`, `MultiMarginLoss`;
* `embedding` -- `CosineEmbeddingLoss`, `TripletMarginLoss`;
* `multi_input` -- `MultiInputLoss`, the base of the losses of several predictions
  (given as a tuple, or stacked in one array); `shared` -- what those modules share.
"""

from minigrad.losses.classification import BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss
from minigrad.losses.embedding import CosineEmbeddingLoss, TripletMarginLoss
from minigrad.losses.loss import Loss
from minigrad.losses.margin import (
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    SoftMarginLoss,
)
from minigrad.losses.multi_input import MultiInputLoss
from minigrad.losses.probabilistic import BCELoss, GaussianNLLLoss, KLDivLoss, PoissonNLLLoss
from minigrad.losses.regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "Loss",
    "MSELoss",
    "MarginRankingLoss",
    "MultiInputLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
]
