"""`minigrad.lr_scheduler`, the documented import path of the learning-rate schedules
(as ``torch.optim.lr_scheduler``); they live with the optimizers, in
`minigrad.optim.lr_scheduler`."""

from minigrad.optim.lr_scheduler import *  # noqa: F403 -- the same names, by design
from minigrad.optim.lr_scheduler import __all__ as __all__
