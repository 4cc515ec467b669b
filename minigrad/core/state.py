"""`checked_state`: what `Module.load_state_dict` checks before it writes anything."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core.checks import check_finite_state, name_list
from minigrad.core.parameter import Array, Buffer, Parameter

if TYPE_CHECKING:
    from minigrad.core.module import Module


def checked_state(
    module: Module[Any], state: Mapping[str, npt.ArrayLike], strict: bool
) -> tuple[list[str], list[str], Callable[[], None]]:
    """The missing and unexpected keys of ``state`` for ``module``, and the function that
    writes it; raises as `Module.load_state_dict` says, having written nothing."""
    owner = f"{type(module).__name__}.load_state_dict"
    params: dict[str, Parameter | Buffer] = dict(module.named_parameters())
    params.update(module.named_buffers())
    missing = sorted(params.keys() - state.keys())
    unexpected = sorted(state.keys() - params.keys())
    if strict and (missing or unexpected):
        raise KeyError(
            f"{owner}: missing keys {name_list(missing)}, "
            f"unexpected keys {name_list(unexpected)}"
        )
    def kind(target: Parameter | Buffer) -> str:
        return "parameter" if isinstance(target, Parameter) else "buffer"

    updates: list[tuple[Parameter | Buffer, Array]] = []
    for name, param in params.items():
        if name not in state:
            continue
        value = backend.to_numpy(state[name]) if backend.is_foreign(state[name]) else (
            np.asarray(state[name]))
        if value.shape != param.shape:
            raise ValueError(
                f"{owner}: {name!r} has shape "
                f"{value.shape}, the {kind(param)} has shape {param.shape}"
            )
        if value.dtype != backend.numpy_dtype(param.dtype):
            raise ValueError(
                f"{owner}: {name!r} has dtype "
                f"{value.dtype}, the {kind(param)} has dtype {param.dtype}"
            )
        check_finite_state(owner, repr(name), value)
        updates.append((param, value))

    def write() -> None:
        for param, value in updates:
            if type(param.data) is np.ndarray:
                np.copyto(param.data, value)
            else:  # in place, so the array (and any reference to it) stays
                param.data[...] = backend.asarray(value, backend.namespace(param.data),
                                                  backend.device(param.data))

    return missing, unexpected, write
