"""The layer loop shared by the recurrent layers (`minigrad.layers.recurrent.cells`): `Recurrent`.

It owns the parameters in PyTorch's layout, the input projection over all steps at
once, the initial and final state, and backpropagation through time around the
per-step scan that each cell (`RNN`, `LSTM`, `GRU`) implements; the module docstring of
`minigrad.layers.recurrent.cells` gives the math.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.core import (
    Array,
    Layer,
    Parameter,
    as_grad,
    check_count,
    check_parameter_dtype,
    check_same_place,
)
from minigrad.core.nd import as_nd

State: TypeAlias = "Array | tuple[Array, Array]"
"""A recurrent state: ``h`` (RNN, GRU) or ``(h, c)`` (LSTM), each ``(N, H)``."""

RecurrentCache = tuple[Array, Array, tuple[Array, ...], tuple[int, ...]]
"""The time-major input ``(T·N, D)``, the hidden states ``h_0 .. h_T`` ``(T+1, N, H)``,
what the cell's backward needs per step, and the input's shape."""


class Recurrent(Layer[RecurrentCache]):
    """Parameters, validation, the input projection and the weight gradients; a
    subclass gives the cell: `_scan` forward over time and `_scan_backward`."""

    gates: int = 1
    states: int = 1  # arrays in a state: 1 (h) or 2 (h, c)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        return_sequences: bool = True,
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        name = type(self).__name__
        self.input_size = check_count(name, "input_size", input_size, 1)
        self.hidden_size = check_count(name, "hidden_size", hidden_size, 1)
        self.return_sequences = bool(return_sequences)
        dtype = check_parameter_dtype(name, dtype)
        width = self.gates * self.hidden_size
        bound = 1 / math.sqrt(self.hidden_size)
        uniform = initializers.uniform(-bound, bound)  # PyTorch's default for all four
        draw = init if init is not None else uniform
        generator = initializers.make_rng(rng)

        def weight(fan_in: int, label: str) -> Parameter:
            # Initializers take (fan_in, fan_out); PyTorch stores (fan_out, fan_in).
            array = draw((fan_in, width), generator, dtype)
            if not isinstance(array, np.ndarray) or array.shape != (fan_in, width) \
                    or array.dtype != dtype:
                raise TypeError(f"{name}: init {draw!r} must return an array of shape "
                                f"{(fan_in, width)} and dtype {dtype}, got shape "
                                f"{np.shape(array)}")
            return Parameter(array.T, label)

        self.weight_ih = weight(self.input_size, "weight_ih")
        self.weight_hh = weight(self.hidden_size, "weight_hh")
        self.bias_ih = Parameter(uniform((width,), generator, dtype), "bias_ih")
        self.bias_hh = Parameter(uniform((width,), generator, dtype), "bias_hh")
        self.final_state: State | None = None
        self.initial_state_grad: State | None = None

    # -- the cell (subclasses) -----------------------------------------------------------
    @abstractmethod
    def _scan(self, xw: Array, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...],
                                                                   tuple[Array, ...]]:
        """Run the recurrence on the projected inputs ``xw (T, N, G·H)``; return the hidden
        states ``(T+1, N, H)`` (``h_0`` first), the final state, and the per-step cache."""

    @abstractmethod
    def _scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...]
                       ) -> tuple[Array, Array, tuple[Array, ...]]:
        """Given dL/dh_t from above ``(T, N, H)``, return ``dZx``, ``dZh`` ``(T, N, G·H)``
        and dL/d(initial state)."""

    # -- shared ------------------------------------------------------------------------
    def _state(self, initial_state: State | None, n: int) -> tuple[Array, ...]:
        like = self.weight_hh.data
        xp = backend.namespace(like)
        shape = (n, self.hidden_size)
        if initial_state is None:
            return tuple(xp.zeros(shape, dtype=like.dtype, device=backend.device(like))
                         for _ in range(self.states))
        parts = (initial_state,) if self.states == 1 else initial_state
        form = "an array (N, H)" if self.states == 1 else "a pair (h0, c0) of arrays (N, H)"
        if not isinstance(parts, tuple) or len(parts) != self.states:
            raise TypeError(f"{self!r}: initial_state must be {form}, got "
                            f"{type(initial_state).__name__}")
        arrays = []
        for part in parts:
            if backend.is_foreign(part) or backend.is_foreign(like):
                check_same_place(self, part, like, "initial_state")
            array: Any = part if backend.is_foreign(part) else np.asarray(part)
            if tuple(array.shape) != shape or backend.numpy_dtype(array.dtype).kind \
                    not in "biuf":
                raise ValueError(f"{self!r}: initial_state must be {form} with "
                                 f"(N, H) = {shape}, got shape {tuple(array.shape)}, dtype "
                                 f"{array.dtype}")
            arrays.append(xp.astype(array, like.dtype))
        return tuple(arrays)

    def _public(self, state: tuple[Array, ...]) -> State:
        return state[0] if self.states == 1 else (state[0], state[1])

    @override
    def forward(self, x: Array, initial_state: State | None = None) -> Array:
        """``x (N, T, D) -> (N, T, H)`` (or ``(N, H)``, the last step, without
        ``return_sequences``); ``initial_state``: see the module docstring."""
        w_ih = self.weight_ih.data
        x = as_nd(self, x, expected=f"(batch, T, {self.input_size})", ndims=(3,),
                  sizes={2: self.input_size}, dtype=w_ih.dtype)
        xp = backend.namespace(x)
        n, t, d = x.shape
        state = self._state(initial_state, n)
        time_major = xp.reshape(xp.permute_dims(x, (1, 0, 2)), (t * n, d))
        bias = self.bias_ih.data + self._folded_bias()
        xw = xp.reshape(time_major @ w_ih.T + bias, (t, n, -1))
        hs, final, steps = self._scan(xw, state)
        self.final_state = self._public(final)
        self.cache = (time_major, hs, steps, (n, t, d))
        y = xp.permute_dims(hs[1:, ...], (1, 0, 2)) if self.return_sequences else final[0]
        out: Array = backend.owned_copy(y)  # C order; and hs stays private
        return out

    @override
    def __call__(self, x: npt.ArrayLike, initial_state: State | None = None) -> Array:
        return self.forward(x, initial_state)  # type: ignore[arg-type]  # validated there

    def _folded_bias(self) -> Array:
        """The part of ``b_hh`` that can join ``b_ih`` in the input projection: all of it
        (GRU: all but ``b_hn``)."""
        return self.bias_hh.data

    def _backward(self, grad_out: Array, *, input_grad: bool) -> Array | None:
        time_major, hs, steps, (n, t, d) = self.saved()
        xp = backend.namespace(hs)
        h = self.hidden_size
        if self.return_sequences:
            g = as_grad(self, grad_out, (n, t, h), hs.dtype)
            dhs = xp.permute_dims(g, (1, 0, 2))
        else:
            g = as_grad(self, grad_out, (n, h), hs.dtype)
            dhs = xp.zeros((t, n, h), dtype=hs.dtype, device=backend.device(hs))
            dhs[t - 1, ...] = g
        dzx, dzh, dstate = self._scan_backward(dhs, hs, steps)
        self.initial_state_grad = self._public(dstate)
        dzx2, dzh2 = xp.reshape(dzx, (t * n, -1)), xp.reshape(dzh, (t * n, -1))
        h_prev = xp.reshape(hs[:t, ...], (t * n, h))  # h_0 .. h_(T-1), one row per (t, n)
        self.weight_ih.accumulate_matmul(dzx2.T, time_major)  # dL/dW_ih += dZxᵀ x
        self.weight_hh.accumulate_matmul(dzh2.T, h_prev)      # dL/dW_hh += dZhᵀ h_(t-1)
        if self.bias_ih.requires_grad:  # frozen parameters accumulate nothing
            self.bias_ih.grad += xp.sum(dzx2, axis=0)         # dL/db_ih += Σ dZx
        if self.bias_hh.requires_grad:
            self.bias_hh.grad += xp.sum(dzh2, axis=0)         # dL/db_hh += Σ dZh
        if not input_grad:
            return None
        dx = xp.reshape(dzx2 @ self.weight_ih.data, (t, n, d))  # dL/dx = dZx W_ih
        grad_in: Array = backend.owned_copy(xp.permute_dims(dx, (1, 0, 2)))
        return grad_in

    @override
    def backward(self, grad_out: Array) -> Array:
        grad_in = self._backward(grad_out, input_grad=True)
        assert grad_in is not None
        return grad_in

    @override
    def backward_params(self, grad_out: Array) -> None:
        self._backward(grad_out, input_grad=False)

    @override
    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.return_sequences:
            text += ", return_sequences=False"
        if backend.numpy_dtype(self.weight_ih.dtype) != np.float64:
            text += f", dtype={self.weight_ih.dtype}"
        return text

