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

from __future__ import annotations

from typing import TYPE_CHECKING

from minigrad.core.exports import lazy_exports

_HOMES: dict[str, tuple[str, ...]] = {  # where each name of __all__ is defined
    "minigrad.losses.classification": ("BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"),
    "minigrad.losses.embedding": ("CosineEmbeddingLoss", "TripletMarginLoss"),
    "minigrad.losses.loss": ("Loss",),
    "minigrad.losses.margin": (
        "HingeEmbeddingLoss", "MarginRankingLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss",
        "SoftMarginLoss",
    ),
    "minigrad.losses.multi_input": ("MultiInputLoss",),
    "minigrad.losses.probabilistic": ("BCELoss", "GaussianNLLLoss", "KLDivLoss", "PoissonNLLLoss"),
    "minigrad.losses.regression": ("HuberLoss", "L1Loss", "MSELoss", "SmoothL1Loss"),
}

if TYPE_CHECKING:
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

if not TYPE_CHECKING:  # a module __getattr__ would let mypy accept any misspelt name
    __getattr__, __dir__ = lazy_exports(globals(), _HOMES)
