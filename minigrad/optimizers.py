"""Optimizers: they see a flat list of `Parameter`s, never layers.

``step()`` updates every ``param.data`` in place from ``param.grad`` (so references
held elsewhere stay valid); ``zero_grad()`` clears the gradients. The update rules are
PyTorch's (``torch.optim.SGD`` and ``torch.optim.Adam``), written out in each class.

An optimizer's state -- hyperparameters, step count and per-parameter arrays such as
momentum buffers -- is a flat ``dict[str, ndarray]`` (`Optimizer.state_dict`), so it
can be saved into an ``.npz`` next to the model's and training resumes exactly:

>>> import numpy as np, minigrad as mg
>>> w = mg.Parameter(np.ones(3), name="w")
>>> opt = mg.Adam([w], lr=0.1)
>>> w.grad[...] = 1.0
>>> opt.step()
>>> state = opt.state_dict()
>>> state["lr"], state["step"], sorted(key for key in state if key.startswith("state."))
(array(0.1), array(1), ['state.0.exp_avg', 'state.0.exp_avg_sq'])
>>> w.data
array([0.9, 0.9, 0.9])
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar, overload

import numpy as np
import numpy.typing as npt
from typing_extensions import Self

from minigrad.base import (
    Array,
    Parameter,
    check_non_negative,
    check_number,
    check_positive,
)

T = TypeVar("T")


class Hyperparameter(Generic[T]):
    """An optimizer setting read and assigned as an attribute (``opt.lr = 0.01``).

    Assigning validates the new value together with the others, by the constructor's
    rules, and allocates any state it needs (``opt.momentum = 0.9`` on a plain SGD
    creates the momentum buffers); a bad value raises `ValueError` and changes nothing.
    """

    def __set_name__(self, owner: type[Optimizer], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, optimizer: None, owner: type[Optimizer]) -> Self: ...
    @overload
    def __get__(self, optimizer: Optimizer, owner: type[Optimizer]) -> T: ...
    def __get__(self, optimizer: Optimizer | None, owner: type[Optimizer]) -> T | Self:
        if optimizer is None:
            return self
        value: T = optimizer._hyper[self.name]
        return value

    def __set__(self, optimizer: Optimizer, value: T) -> None:
        optimizer._configure({**optimizer._hyper, self.name: value})


class Optimizer(ABC):
    """Base: the parameter list, hyperparameters, per-parameter state and scratch space.

    A subclass validates its hyperparameters in `_validated`, names the per-parameter
    arrays it keeps in `_state_names`, passes its constructor's hyperparameters to
    `_configure`, and implements `step`; `state_dict` and `load_state_dict` then work
    unchanged. Hyperparameters are `Hyperparameter` attributes: ``opt.lr = 0.01``
    changes the learning rate from the next step, validated like the constructor's.

    Parameters
    ----------
    params : iterable of Parameter
        What to train, each once (e.g. ``model.parameters()``).

    Attributes
    ----------
    params : list of Parameter
    steps : int
        Number of `step` calls so far (Adam's bias correction uses it).
    state : dict of str to list of ndarray
        Per-parameter arrays by name, one per parameter in ``params`` order, each
        shaped like its parameter: e.g. ``state["exp_avg"][i]``.

    Raises
    ------
    ValueError
        An empty ``params``, or a parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    def __init__(self, params: Iterable[Parameter]) -> None:
        self.params: list[Parameter] = list(params)
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen: set[int] = set()
        for index, param in enumerate(self.params):
            if not isinstance(param, Parameter):
                raise TypeError(
                    f"{name}: params[{index}] is a {type(param).__name__}, not a Parameter"
                )
            if id(param) in seen:
                raise ValueError(f"{name}: params[{index}] ({param.name!r}) appears twice")
            seen.add(id(param))
        self.steps = 0
        self.state: dict[str, list[Array]] = {}
        self._hyper: dict[str, Any] = {}
        # Scratch buffers, per dtype and slot, as large as the largest parameter: an
        # update such as `data -= lr * grad` is done as two in-place ufuncs through a
        # view of one, so a step allocates nothing parameter-sized.
        self._sizes: dict[np.dtype[Any], int] = {}
        for param in self.params:
            self._sizes[param.dtype] = max(param.size, self._sizes.get(param.dtype, 0))
        self._scratch: dict[tuple[np.dtype[Any], int], Array] = {}
        self._work = [self.scratch(param) for param in self.params]  # slot 0, per parameter

    def scratch(self, param: Parameter, slot: int = 0) -> Array:
        """A reusable temporary shaped like ``param`` (contents undefined).

        Different slots are different memory; each is allocated on first use.
        """
        key = (param.dtype, slot)
        buffer = self._scratch.get(key)
        if buffer is None:
            buffer = self._scratch[key] = np.empty(self._sizes[param.dtype], param.dtype)
        return buffer[: param.size].reshape(param.shape)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero (lazily: see `Parameter`)."""
        for param in self.params:
            param.zero_grad()

    @abstractmethod
    def step(self) -> None:
        """Update every parameter from its gradient, in place."""

    # -- hyperparameters and state -----------------------------------------------------
    @abstractmethod
    def _validated(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        """``hyper`` checked against the constructor's rules and normalized (floats,
        bools); raises ValueError naming the first bad one."""

    @abstractmethod
    def _state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        """Names of the per-parameter arrays these (validated) hyperparameters need."""

    def _configure(self, hyper: Mapping[str, Any]) -> None:
        """Validate ``hyper``, then set it as attributes and (re)allocate the state
        arrays it needs (new ones as zeros). Nothing is set if validation fails."""
        values = self._validated(hyper)
        names = self._state_names(values)
        self._hyper = values
        self.state = {
            name: self.state[name] if name in self.state
            else [np.zeros_like(param.data) for param in self.params]
            for name in names
        }

    def hyperparameters(self) -> dict[str, Any]:
        """The current hyperparameters by name, e.g. ``{"lr": 0.1, ...}``."""
        return dict(self._hyper)

    def state_dict(self) -> dict[str, Array]:
        """A copy of the full state as a flat mapping of names to arrays.

        Keys: ``"optimizer"`` (the class name, a 0-d string array), ``"step"`` (0-d
        int64), each hyperparameter (0-d float64 or bool; ``betas`` has shape (2,)),
        and ``"state.{i}.{name}"`` for the per-parameter arrays, ``i`` indexing
        ``params``. Every value is an ndarray without Python objects, so the dict
        can go straight into ``np.savez`` and be read back with ``allow_pickle=False``.
        """
        state: dict[str, Array] = {
            "optimizer": np.array(type(self).__name__),
            "step": np.array(self.steps, dtype=np.int64),
        }
        for name, value in self.hyperparameters().items():
            state[name] = np.array(value)
        for name, arrays in self.state.items():
            for index, array in enumerate(arrays):
                state[f"state.{index}.{name}"] = array.copy()
        return state

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Restore what `state_dict` returned (possibly via ``.npz``), in place.

        Everything is checked before anything is written, so on error the optimizer is
        unchanged: the optimizer type, the keys, each array's shape and dtype (per-
        parameter arrays must match their parameter), and the hyperparameters' values
        (the constructor's rules). Hyperparameters are restored too, as in PyTorch.

        Raises
        ------
        KeyError
            Missing or unexpected keys, naming them.
        ValueError
            Another optimizer's state, or a shape, dtype or value that does not fit,
            naming the key.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        missing = [key for key in ("optimizer", *self._hyper) if key not in state]
        if missing:
            raise KeyError(f"{owner}: missing keys {missing}")
        kind = np.asarray(state["optimizer"])
        if kind.shape != () or kind.dtype.kind != "U" or str(kind) != type(self).__name__:
            raise ValueError(
                f"{owner}: 'optimizer' is {kind.tolist()!r}, expected {type(self).__name__!r} "
                f"(this is not the state of a {type(self).__name__})"
            )
        loaded: dict[str, Any] = {}
        for name, current in self.hyperparameters().items():
            value = _checked(owner, name, state[name], np.asarray(current))
            loaded[name] = tuple(value.tolist()) if value.ndim else value.item()
        try:
            hyper = self._validated(loaded)
        except ValueError as exc:
            raise ValueError(f"{owner}: {exc}") from None
        names = self._state_names(hyper)
        expected = {"optimizer", "step", *hyper} | {
            f"state.{index}.{name}" for name in names for index in range(len(self.params))
        }
        missing = sorted(expected - state.keys())
        unexpected = sorted(state.keys() - expected)
        if missing or unexpected:
            raise KeyError(f"{owner}: missing keys {missing}, unexpected keys {unexpected}")
        steps = _checked(owner, "step", state["step"], np.array(0, dtype=np.int64)).item()
        if steps < 0:
            raise ValueError(f"{owner}: 'step' must be >= 0, got {steps}")
        arrays = {
            name: [
                _checked(owner, f"state.{index}.{name}", state[f"state.{index}.{name}"],
                         param.data)
                for index, param in enumerate(self.params)
            ]
            for name in names
        }
        self._configure(hyper)
        self.steps = int(steps)
        for name, values in arrays.items():
            for target, value in zip(self.state[name], values):
                np.copyto(target, value)

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self.hyperparameters().items())
        return f"{type(self).__name__}({settings})"


def _checked(owner: str, key: str, value: npt.ArrayLike, like: Array) -> Array:
    """``value`` as an array with ``like``'s shape and dtype, or ValueError naming ``key``."""
    array = np.asarray(value)
    if array.shape != like.shape:
        raise ValueError(
            f"{owner}: {key!r} has shape {array.shape}, expected {like.shape}"
        )
    if array.dtype != like.dtype:
        raise ValueError(f"{owner}: {key!r} has dtype {array.dtype}, expected {like.dtype}")
    return array


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    PyTorch's rule (``torch.optim.SGD`` with ``dampening=0``), for each parameter θ with
    gradient g, learning rate γ, momentum μ and weight decay λ::

        g ← g + λ θ                  (if λ ≠ 0: L2 penalty λ‖θ‖²/2)
        b ← μ b + g                  (if μ ≠ 0; b starts at 0, so the first b is g)
        g ← g + μ b   if nesterov    else   g ← b
        θ ← θ − γ g

    With the defaults this is plain ``θ ← θ − γ g``, the cheapest path.

    State: ``"momentum_buffer"`` (b) per parameter when ``momentum > 0``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float > 0
    momentum : float ≥ 0, default 0
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0``. Keyword-only (its position differs
        from PyTorch's, where ``dampening`` comes first).
    weight_decay : float ≥ 0, default 0

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included), or ``nesterov`` without momentum;
        an empty ``params``, or a parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    lr = Hyperparameter[float]()
    momentum = Hyperparameter[float]()
    nesterov = Hyperparameter[bool]()
    weight_decay = Hyperparameter[float]()

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        *,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        self._configure(
            {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay}
        )

    def _validated(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        momentum = check_non_negative("SGD", "momentum", hyper["momentum"])
        nesterov = hyper["nesterov"]
        if not isinstance(nesterov, (bool, np.bool_)):
            raise ValueError(f"SGD: nesterov must be a bool, got {nesterov!r}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        return {
            "lr": check_positive("SGD", "lr", hyper["lr"]),
            "momentum": momentum,
            "nesterov": bool(nesterov),
            "weight_decay": check_non_negative("SGD", "weight_decay", hyper["weight_decay"]),
        }

    def _state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if hyper["momentum"] else ()

    def step(self) -> None:
        self.steps += 1
        hyper = self._hyper  # one dict read each, not three descriptor calls: hot path
        lr, momentum, decay = hyper["lr"], hyper["momentum"], hyper["weight_decay"]
        if not (momentum or decay):  # plain SGD: the hot path of small nets
            for param, update in zip(self.params, self._work):
                np.multiply(param.grad, lr, out=update)
                param.data -= update
            return
        buffers = self.state.get("momentum_buffer")
        for index, (param, update) in enumerate(zip(self.params, self._work)):
            grad = param.grad
            if decay:
                grad = np.multiply(param.data, decay, out=self.scratch(param, 1))
                grad += param.grad
            if buffers is not None:
                buffer = buffers[index]
                buffer *= momentum
                buffer += grad
                if hyper["nesterov"]:
                    np.multiply(buffer, momentum, out=update)
                    update += grad
                    grad = update
                else:
                    grad = buffer
            np.multiply(grad, lr, out=update)
            param.data -= update


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with optional L2 weight decay, as ``torch.optim.Adam``.

    For each parameter θ with gradient g, at step t = 1, 2, ...::

        g ← g + λ θ                       (if λ ≠ 0: L2 decay through the gradient,
                                           not AdamW's decoupled decay)
        m ← β₁ m + (1 − β₁) g             (m, v start at 0)
        v ← β₂ v + (1 − β₂) g²
        m̂ = m / (1 − β₁ᵗ)     v̂ = v / (1 − β₂ᵗ)
        θ ← θ − γ m̂ / (√v̂ + ε)

    State: ``"exp_avg"`` (m) and ``"exp_avg_sq"`` (v) per parameter.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float > 0, default 1e-3
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
    eps : float ≥ 0, default 1e-8
    weight_decay : float ≥ 0, default 0

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included); an empty ``params``, or a
        parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    lr = Hyperparameter[float]()
    betas = Hyperparameter[tuple[float, float]]()
    eps = Hyperparameter[float]()
    weight_decay = Hyperparameter[float]()

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        self._configure({"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def _validated(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        betas = hyper["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair of numbers in [0, 1), got {betas!r}")
        return {
            "lr": check_positive("Adam", "lr", hyper["lr"]),
            "betas": tuple(
                check_number(
                    "Adam", f"betas[{i}]", beta, "a number in [0, 1)", lambda v: 0 <= v < 1
                )
                for i, beta in enumerate(betas)
            ),
            "eps": check_non_negative("Adam", "eps", hyper["eps"]),
            "weight_decay": check_non_negative("Adam", "weight_decay", hyper["weight_decay"]),
        }

    def _state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        decay, eps = self.weight_decay, self.eps
        # θ ← θ − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε), the same as above, in
        # PyTorch's order of operations.
        step_size = self.lr / (1 - beta1**self.steps)
        sqrt_correction2 = math.sqrt(1 - beta2**self.steps)
        moments = zip(self.params, self._work, self.state["exp_avg"], self.state["exp_avg_sq"])
        for param, tmp, exp_avg, exp_avg_sq in moments:
            grad = param.grad
            if decay:
                grad = np.multiply(param.data, decay, out=self.scratch(param, 1))
                grad += param.grad
            exp_avg *= beta1
            exp_avg += np.multiply(grad, 1 - beta1, out=tmp)
            exp_avg_sq *= beta2
            np.multiply(grad, grad, out=tmp)
            tmp *= 1 - beta2
            exp_avg_sq += tmp
            np.sqrt(exp_avg_sq, out=tmp)
            tmp /= sqrt_correction2
            tmp += eps
            np.divide(exp_avg, tmp, out=tmp)
            tmp *= step_size
            param.data -= tmp
