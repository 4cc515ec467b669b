"""Optimizers: they see `Parameter`s in parameter groups, never layers.

``step()`` updates every ``param.data`` in place from ``param.grad`` (so references
held elsewhere stay valid); ``zero_grad()`` clears the gradients. The update rules are
PyTorch's (``torch.optim``), written out in each class: `SGD` in `minigrad.optim.sgd`;
`Adam`, `AdamW`, `RMSprop` and `Adagrad` in `minigrad.optim.adaptive`; `NAdam`, `RAdam`
and `Adamax` in `minigrad.optim.adam_variants`; `Adadelta`, `Rprop`, `ASGD` and
`LBFGS` (which steps with a closure) each in its own module. The base
`Optimizer` is in `minigrad.optim.optimizer`, parameter groups and `Hyperparameter` in
`minigrad.optim.groups`, gradient clipping in `minigrad.optim.clip`, learning-rate
schedules in `minigrad.optim.lr_scheduler` (also importable as `minigrad.lr_scheduler`).

Parameters come in *groups*, PyTorch's form: a plain iterable of parameters is one
group; a list of dicts ``{"params": [...], "lr": ...}`` gives each group its own
hyperparameters, the constructor's arguments being the defaults. The common one-liner
keeps weight decay off biases and normalization weights (the 1-D parameters):

>>> import numpy as np, minigrad as mg
>>> params = [mg.Parameter(np.ones((3, 4)), name="weight"), mg.Parameter(np.zeros(4), name="bias")]
>>> opt = mg.SGD([{"params": [p for p in params if p.data.ndim > 1]},
...               {"params": [p for p in params if p.data.ndim <= 1], "weight_decay": 0.0}],
...              lr=0.1, momentum=0.9, weight_decay=1e-4)
>>> [(group["weight_decay"], [p.name for p in group["params"]]) for group in opt.param_groups]
[(0.0001, ['weight']), (0.0, ['bias'])]

(A model's named parameters select by name the same way:
``[p for name, p in model.named_parameters() if "norm" in name]``.) An empty group is
allowed -- a filter may match nothing -- but not an optimizer without parameters.

An optimizer's state -- step count, each group's hyperparameters and per-parameter
arrays such as momentum buffers -- is a flat ``dict[str, ndarray]`` (`Optimizer.state_dict`),
so it can be saved into an ``.npz`` next to the model's and training resumes exactly:

>>> w = mg.Parameter(np.ones(3), name="w")
>>> opt = mg.Adam([w], lr=0.1)
>>> w.grad[...] = 1.0
>>> opt.step()
>>> state = opt.state_dict()
>>> state["param_groups.0.lr"], state["step"], sorted(k for k in state if k.startswith("state."))
(array(0.1), array(1), ['state.0.exp_avg', 'state.0.exp_avg_sq'])
>>> w.data
array([0.9, 0.9, 0.9])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minigrad.core.exports import lazy_exports

_HOMES: dict[str, tuple[str, ...]] = {  # where each name of __all__ is defined
    "minigrad.optim.adadelta": ("Adadelta",),
    "minigrad.optim.adam_variants": ("Adamax", "NAdam", "RAdam"),
    "minigrad.optim.adaptive": ("Adagrad", "Adam", "AdamW", "RMSprop"),
    "minigrad.optim.asgd": ("ASGD",),
    "minigrad.optim.clip": ("clip_grad_norm", "clip_grad_value"),
    "minigrad.optim.groups": ("Hyperparameter", "ParamGroup", "ParamsLike", "check_bool"),
    "minigrad.optim.lbfgs": ("LBFGS",),
    "minigrad.optim.optimizer": ("Optimizer",),
    "minigrad.optim.rprop": ("Rprop",),
    "minigrad.optim.sgd": ("SGD",),
}

if TYPE_CHECKING:
    from minigrad.optim.adadelta import Adadelta
    from minigrad.optim.adam_variants import Adamax, NAdam, RAdam
    from minigrad.optim.adaptive import Adagrad, Adam, AdamW, RMSprop
    from minigrad.optim.asgd import ASGD
    from minigrad.optim.clip import clip_grad_norm, clip_grad_value
    from minigrad.optim.groups import Hyperparameter, ParamGroup, ParamsLike, check_bool
    from minigrad.optim.lbfgs import LBFGS
    from minigrad.optim.optimizer import Optimizer
    from minigrad.optim.rprop import Rprop
    from minigrad.optim.sgd import SGD

__all__ = [
    "ASGD",
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Hyperparameter",
    "NAdam",
    "Optimizer",
    "ParamGroup",
    "ParamsLike",
    "RAdam",
    "RMSprop",
    "Rprop",
    "check_bool",
    "clip_grad_norm",
    "clip_grad_value",
]

if not TYPE_CHECKING:  # a module __getattr__ would let mypy accept any misspelt name
    __getattr__, __dir__ = lazy_exports(globals(), _HOMES)
