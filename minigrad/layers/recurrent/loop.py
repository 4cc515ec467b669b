"""The time loop of one direction of one recurrent layer, shared by every recurrent layer:
`run_direction` and its derivative `run_direction_backward`; and what the layers share
around it: drawing the parameters (`ParameterDraws`) and reading a state
(`check_state`).

One direction is the loop minigrad has always had: the input projection of every step
as one matrix product ``X W_ihᵀ + b_ih (+ b_hh)`` over all ``T·N`` rows (time-major,
so each step reads a contiguous slab), then the cell's recurrence
(`minigrad.layers.recurrent.recurrences`) step by step. Backward is backpropagation
through time: the recurrence's reverse sweep gives the gradient ``dZ_t`` of every step's
pre-activations, after which every weight gradient is again one product over all
steps::

    dL/dW_ih += dZxᵀ X        dL/dW_hh += dZhᵀ H_prev        dL/dX = dZx W_ih
    dL/db_ih += Σ dZx         dL/db_hh += Σ dZh

A stacked or bidirectional layer (`minigrad.layers.recurrent.stacked`) runs this loop
once per layer and direction -- the reverse direction on its input flipped in time --
and a one-step cell (`minigrad.layers.recurrent.step`) runs it on one step.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import numpy as np

from minigrad import backend
from minigrad import init as initializers
from minigrad.core import Array, Layer, Parameter, check_same_place
from minigrad.layers.recurrent.recurrences import Recurrence, Weights

__all__ = ["DirectionCache", "ParameterDraws", "State", "check_state", "run_direction",
           "run_direction_backward"]

State: TypeAlias = "Array | tuple[Array, Array]"
"""A recurrent state: ``h`` (RNN, GRU) or ``(h, c)`` (LSTM)."""

DirectionCache = tuple[Array, Array, tuple[Array, ...]]
"""One direction's input rows ``(T·N, D)`` in its order of time, its hidden states
``h_0 .. h_T`` ``(T+1, N, P)``, and what its recurrence keeps per step."""


def run_direction(cell: Recurrence, w: Weights, x: Array, state: tuple[Array, ...]
                  ) -> tuple[Array, tuple[Array, ...], DirectionCache]:
    """Run one direction over time on the time-major input ``x (T, N, D)``, in the
    direction's own order of time, from ``state``; return the hidden states ``h_0 ..
    h_T`` ``(T+1, N, P)``, the final state and the cache of its backward."""
    t, n, d = x.shape
    rows = backend.reshape(x, (t * n, d))
    xw = rows @ w.ih.data.T
    if w.bias_ih is not None and w.bias_hh is not None:
        xw += w.bias_ih.data + cell.folded_bias(w.bias_hh.data)
    hs, final, steps = cell.scan(backend.reshape(xw, (t, n, -1)), state, w)
    return hs, final, (rows, hs, steps)


def run_direction_backward(cell: Recurrence, w: Weights, cache: DirectionCache, dhs: Array,
                           dfinal: tuple[Array, ...] | None, *, input_grad: bool
                           ) -> tuple[Array | None, tuple[Array, ...]]:
    """Backpropagation through time of `run_direction`: given dL/dh_t ``(T, N, P)`` (in
    the direction's order of time) and dL/d(final state) (None: zero), accumulate the
    weight gradients and return dL/dx ``(T, N, D)`` (None unless ``input_grad``) and
    dL/d(initial state)."""
    rows, hs, steps = cache
    xp = backend.namespace(hs)
    t, n, p = dhs.shape
    dzx, dzh, dstate = cell.scan_backward(dhs, hs, steps, w, dfinal)
    dzx2, dzh2 = backend.reshape(dzx, (t * n, -1)), backend.reshape(dzh, (t * n, -1))
    h_prev = backend.reshape(hs[:t, ...], (t * n, p))  # h_0 .. h_(T-1), a row per (t, n)
    w.ih.accumulate_matmul(dzx2.T, rows)    # dL/dW_ih += dZxᵀ x
    w.hh.accumulate_matmul(dzh2.T, h_prev)  # dL/dW_hh += dZhᵀ h_(t-1)
    if w.bias_ih is not None and w.bias_ih.requires_grad:  # frozen: nothing accumulates
        w.bias_ih.grad += xp.sum(dzx2, axis=0)              # dL/db_ih += Σ dZx
    if w.bias_hh is not None and w.bias_hh.requires_grad:
        w.bias_hh.grad += xp.sum(dzh2, axis=0)              # dL/db_hh += Σ dZh
    if not input_grad:
        return None, dstate
    return backend.reshape(dzx2 @ w.ih.data, (t, n, rows.shape[1])), dstate  # dZx W_ih


class ParameterDraws:
    """Draws a recurrent layer's parameters in PyTorch's layouts: every weight from
    ``init`` (default PyTorch's U(−1/√H, 1/√H)), called with ``(fan_in, fan_out)`` and
    stored transposed ``(fan_out, fan_in)``; every bias from U(−1/√H, 1/√H)."""

    def __init__(self, owner: str, hidden_size: int, init: initializers.Initializer | None,
                 generator: initializers.RNG, dtype: np.dtype[Any]) -> None:
        bound = 1 / math.sqrt(hidden_size)
        self.uniform = initializers.uniform(-bound, bound)
        self.draw = init if init is not None else self.uniform
        self.owner, self.generator, self.dtype = owner, generator, dtype

    def weight(self, fan_out: int, fan_in: int, name: str) -> Parameter:
        array = self.draw((fan_in, fan_out), self.generator, self.dtype)
        if not isinstance(array, np.ndarray) or array.shape != (fan_in, fan_out) \
                or array.dtype != self.dtype:
            raise TypeError(f"{self.owner}: init {self.draw!r} must return an array of shape "
                            f"{(fan_in, fan_out)} and dtype {self.dtype}, got shape "
                            f"{np.shape(array)}")
        return Parameter(array.T, name)

    def bias(self, size: int, name: str) -> Parameter:
        return Parameter(self.uniform((size,), self.generator, self.dtype), name)


def check_state(layer: Layer[Any], state: object, shapes: tuple[tuple[int, ...], ...],
                like: Array, what: str = "initial_state") -> tuple[Array, ...]:
    """``state`` -- an array (one shape in ``shapes``) or a pair ``(h, c)`` (two) -- as
    arrays in ``like``'s dtype; it must be of ``like``'s library and device.

    Raises
    ------
    TypeError
        Not an array, or not a pair of them (for two shapes); another library or device.
    ValueError
        Another shape, or a non-real dtype -- naming ``layer``, ``what`` and the shapes.
    """
    parts = (state,) if len(shapes) == 1 else state
    pair = "(h0, c0)" if what == "initial_state" else "(h, c)"
    form = (f"an array {shapes[0]}" if len(shapes) == 1
            else f"a pair {pair} of arrays {shapes[0]} and {shapes[1]}")
    if not isinstance(parts, tuple) or len(parts) != len(shapes):
        raise TypeError(f"{layer!r}: {what} must be {form}, got {type(state).__name__}")
    xp = backend.namespace(like)
    arrays = []
    for part, shape in zip(parts, shapes):
        if backend.is_foreign(part) or backend.is_foreign(like):
            check_same_place(layer, part, like, what)
        array: Any = part if backend.is_foreign(part) else np.asarray(part)
        if tuple(array.shape) != shape or backend.numpy_dtype(array.dtype).kind not in "biuf":
            raise ValueError(f"{layer!r}: {what} must be {form}, got shape "
                             f"{tuple(array.shape)}, dtype {array.dtype}")
        arrays.append(xp.astype(array, like.dtype))
    return tuple(arrays)

