"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: same names, arguments,
defaults and values after every ``step()``.

A scheduler is built on an optimizer (it performs its first step then, setting the
epoch-0 learning rate) and ``step()`` is called after each ``optimizer.step()`` -- once
per epoch or once per batch, as the schedule is meant; `fit` does either through the
`minigrad.LearningRateScheduler` callback. Each writes ``group["lr"]`` of every
parameter group, in PyTorch's *chainable* form (the new rate from the current one),
so two schedulers on one optimizer compose as they do in PyTorch.

>>> import numpy as np, minigrad as mg
>>> opt = mg.SGD([mg.Parameter(np.zeros(2))], lr=0.1)
>>> schedule = mg.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
>>> rates = []
>>> for epoch in range(5):
...     rates.append(opt.lr)      # ... one epoch of training with this rate ...
...     schedule.step()
>>> rates
[0.1, 0.1, 0.05, 0.05, 0.025]

`state_dict` holds what changes as a schedule runs (epoch and step counters, base and
last rates, plateau counters) as flat arrays, so it can be saved with `mg.save`; the
constructor's arguments are not saved -- rebuild the scheduler the same way. Every
array is finite: a value that may be infinite (`ReduceLROnPlateau`'s ``best`` starts
at ±inf) is stored as a finite number plus ``<name>_infinite`` (−1, 0 or +1), so the
state passes `mg.load`'s refusal of non-finite arrays.
"""

from minigrad.optim.lr_scheduler.base import LRScheduler
from minigrad.optim.lr_scheduler.onecycle import OneCycleLR
from minigrad.optim.lr_scheduler.plateau import ReduceLROnPlateau
from minigrad.optim.lr_scheduler.schedules import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    SequentialLR,
    StepLR,
)

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
