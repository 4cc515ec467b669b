"""State that is not an array per parameter: `ExtraState` saves and loads it beside the
base `Optimizer`'s, and `ScalarState` is the common case -- numbers per parameter, as
PyTorch keeps in 0-d tensors (NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``)."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, Parameter
from minigrad.optim.groups import ParamsLike
from minigrad.optim.optimizer import Optimizer


class ExtraState(Optimizer):
    """An optimizer whose `state_dict` has keys of its own besides the base's.

    Subclasses name them in `extra_state` (the values as NumPy arrays) and check a
    loaded copy in `check_extra_state`, which returns what writes it: `load_state_dict`
    checks these keys, then loads the rest through the base (which checks everything
    else), then writes them -- so on any error nothing has changed.
    """

    @abstractmethod
    def extra_state(self) -> dict[str, Array]:
        """The extra keys and their values (NumPy arrays without Python objects)."""

    @abstractmethod
    def check_extra_state(self, owner: str, state: Mapping[str, Array]) -> Callable[[], None]:
        """Check the extra keys' values in ``state`` (all present, as NumPy arrays) and
        return a function that writes them; `ValueError` naming the key if one is bad."""

    def state_dict(self) -> dict[str, Array]:
        """The base's `Optimizer.state_dict` and the keys of `extra_state`."""
        return {**super().state_dict(), **self.extra_state()}

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """The base's `Optimizer.load_state_dict`, with the keys of `extra_state`
        checked first and written last."""
        owner = f"{type(self).__name__}.load_state_dict"
        names = self.extra_state().keys()
        missing = sorted(names - state.keys())
        if missing:
            raise KeyError(f"{owner}: missing keys {missing}")
        extra = {name: _as_numpy(state[name]) for name in names}
        write = self.check_extra_state(owner, extra)
        super().load_state_dict({k: v for k, v in state.items() if k not in names})
        write()


class ScalarState(ExtraState):
    """An optimizer with numbers per parameter, `scalars` (finite, >= 0), saved as 0-d
    float64 arrays ``"state.{i}.{name}"`` next to the per-parameter arrays."""

    scalar_names: ClassVar[tuple[str, ...]] = ()
    """The names of the numbers each parameter has."""

    def __init__(self, params: ParamsLike, defaults: Mapping[str, Any]) -> None:
        super().__init__(params, defaults)
        self.scalars: dict[Parameter, dict[str, float]] = {
            param: {name: self.initial_scalar(name, group.hyper) for name in self.scalar_names}
            for group in self.param_groups for param in group.params
        }

    @abstractmethod
    def initial_scalar(self, name: str, hyper: Mapping[str, Any]) -> float:
        """The starting value of scalar ``name`` in a group with these hyperparameters."""

    def extra_state(self) -> dict[str, Array]:
        return {f"state.{i}.{name}": np.array(value, dtype=np.float64)
                for i, param in enumerate(self.params)
                for name, value in self.scalars[param].items()}

    def check_extra_state(self, owner: str, state: Mapping[str, Array]) -> Callable[[], None]:
        loaded: dict[Parameter, dict[str, float]] = {}
        for i, param in enumerate(self.params):
            loaded[param] = {}
            for name in self.scalar_names:
                key = f"state.{i}.{name}"
                value = state[key]
                if value.shape != () or value.dtype != np.float64:
                    raise ValueError(f"{owner}: {key!r} must be a 0-d float64 array, got shape "
                                     f"{value.shape} and dtype {value.dtype}")
                number = float(value)
                if not (math.isfinite(number) and number >= 0):
                    raise ValueError(f"{owner}: {key!r} must be finite and >= 0, got {number}")
                loaded[param][name] = number

        def write() -> None:
            for param, values in loaded.items():
                self.scalars[param].update(values)

        return write


def _as_numpy(value: npt.ArrayLike) -> Array:
    """A loaded value as a NumPy array (from NumPy or another library)."""
    return backend.to_numpy(value) if backend.is_foreign(value) else np.asarray(value)
