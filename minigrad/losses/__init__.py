"""Losses: ``forward(pred, target) -> L`` and ``backward() -> dL/dpred``. They know no layers.

* `loss` -- the base `Loss`, its reductions (``"mean"``, ``"sum"``, ``"none"``) and the
  checks of predictions and targets every loss shares;
* `regression` -- `MSELoss`, `L1Loss`, `HuberLoss`, `SmoothL1Loss`;
* `classification` -- `BCEWithLogitsLoss`, `CrossEntropyLoss`, `NLLLoss` (class axis last).
"""

from minigrad.losses.classification import BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss
from minigrad.losses.loss import Loss
from minigrad.losses.regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss

__all__ = [
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "L1Loss",
    "Loss",
    "MSELoss",
    "NLLLoss",
    "SmoothL1Loss",
]
