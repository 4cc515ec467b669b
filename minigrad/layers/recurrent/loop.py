"""The time loop of one direction of one recurrent layer, shared by every recurrent layer:
`run_direction` and its derivative `run_direction_backward`; and what the layers share
around it: drawing the parameters (`ParameterDraws`) and reading a state
(`check_state`).

One direction is the loop minigrad has always had: the input projection of every step
made before the loop, then the cell's recurrence
(`minigrad.layers.recurrent.recurrences`) step by step. The recurrence works with a
column per sample, so the projection is made in that layout, ``xw_t = W_ih x_t + b_ih
(+ b_hh)`` ``(G·H, N)`` for every step (one batched product), and the hidden states
come back in rows ``(T+1, N, P)``. Backward is backpropagation through time:
the recurrence's reverse sweep gives the gradient ``dZ_t`` of every step's
pre-activations; with every step's columns side by side (``dZx``, ``dZh`` ``(G·H,
T·N)``, ``H_prev`` ``(P, T·N)``, the input rows ``X`` ``(T·N, D)``) every weight
gradient is again one product over all steps::

    dL/dW_ih += dZx X        dL/dW_hh += dZh H_prevᵀ        dL/dX = dZxᵀ W_ih
    dL/db_ih += Σ dZx        dL/db_hh += Σ dZh

A stacked or bidirectional layer (`minigrad.layers.recurrent.stacked`) runs this loop
once per layer and direction -- the reverse direction on its input flipped in time --
and a one-step cell (`minigrad.layers.recurrent.step`) runs it on one step.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias, TypeVar

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.core import Array, Layer, Parameter, check_same_place
from minigrad.layers.recurrent.recurrences import Recurrence, Weights, columns, side_by_side

__all__ = ["DirectionCache", "ParameterDraws", "State", "StatefulLayer", "check_state",
           "run_direction", "run_direction_backward"]

State: TypeAlias = "Array | tuple[Array, Array]"
"""A recurrent state: ``h`` (RNN, GRU) or ``(h, c)`` (LSTM)."""

DirectionCache = tuple[Array, Array, Array, tuple[Array, ...]]
"""One direction's input rows ``(T·N, D)`` in its order of time, its hidden states
``h_0 .. h_T`` in rows ``(T+1, N, P)`` and as the recurrence made them ``(T+1, P, N)``,
and what its recurrence keeps per step."""


CacheT = TypeVar("CacheT")


class StatefulLayer(Layer[CacheT]):
    """What `RecurrentCell` and `Recurrent` share: ``backward`` and ``backward_params`` are
    one `_backward`, with or without dL/dx, that also takes dL/d(final state)."""

    def _backward(self, grad_out: Array, final_state_grad: State | None, *,
                  input_grad: bool) -> Array | None:
        """dL/dx (None when not ``input_grad``), the parameters' gradients accumulated
        and ``initial_state_grad`` set."""
        raise NotImplementedError

    @override
    def backward(self, grad_out: Array, final_state_grad: State | None = None) -> Array:
        """dL/dx from dL/d(output) (and dL/d(final state), in ``final_state_grad``'s
        form)."""
        grad_in = self._backward(grad_out, final_state_grad, input_grad=True)
        assert grad_in is not None
        return grad_in

    @override
    def backward_params(self, grad_out: Array, final_state_grad: State | None = None) -> None:
        self._backward(grad_out, final_state_grad, input_grad=False)


def run_direction(cell: Recurrence, w: Weights, x: Array, state: tuple[Array, ...]
                  ) -> tuple[Array, tuple[Array, ...], DirectionCache]:
    """Run one direction over time on the time-major input ``x (T, N, D)``, in the
    direction's own order of time, from ``state``; return the hidden states ``h_0 ..
    h_T`` ``(T+1, N, P)``, the final state and the cache of its backward."""
    xp = backend.namespace(x)
    t, n, d = x.shape
    rows = backend.reshape(x, (t * n, d))
    xw = xp.matmul(w.ih.data, xp.permute_dims(backend.reshape(rows, (t, n, d)), (0, 2, 1)))
    if w.bias_ih is not None and w.bias_hh is not None:
        xw += columns(w.bias_ih.data + cell.folded_bias(w.bias_hh.data), n)
    hs, final, steps = cell.scan(xw, _transposed(state), w)
    # in memory as rows: one small transpose per step, where transposing (T+1, P, N)
    # straight into the layer's (N, T, P) output gathers element by element (3× slower)
    hs_rows = backend.owned_copy(xp.permute_dims(hs, (0, 2, 1)))
    return hs_rows, _transposed(final), (rows, hs_rows, hs, steps)


def run_direction_backward(cell: Recurrence, w: Weights, cache: DirectionCache, dhs: Array,
                           dfinal: tuple[Array, ...] | None, *, input_grad: bool
                           ) -> tuple[Array | None, tuple[Array, ...]]:
    """Backpropagation through time of `run_direction`: given dL/dh_t ``(T, N, P)`` (in
    the direction's order of time) and dL/d(final state) (None: zero), accumulate the
    weight gradients and return dL/dx ``(T, N, D)`` (None unless ``input_grad``) and
    dL/d(initial state)."""
    rows, _, hs, steps = cache
    xp = backend.namespace(hs)
    t, n, _ = dhs.shape
    dzx, dzh, dstate = cell.scan_backward(
        backend.owned_copy(xp.permute_dims(dhs, (0, 2, 1))), hs, steps, w,
        None if dfinal is None else _transposed(dfinal))
    dzx2 = side_by_side(dzx)  # (G·H, T·N): a column per (t, n)
    dzh2 = dzx2 if dzh is dzx else side_by_side(dzh)
    w.ih.accumulate_matmul(dzx2, rows)                      # dL/dW_ih += dZx X
    w.hh.accumulate_matmul(dzh2, side_by_side(hs[:t, ...]).T)  # dL/dW_hh += dZh H_prevᵀ
    if w.bias_ih is not None and w.bias_hh is not None:
        db_ih = _row_sums(dzx2)
        if w.bias_ih.requires_grad:  # frozen: nothing accumulates
            w.bias_ih.grad += db_ih                            # dL/db_ih += Σ dZx
        if w.bias_hh.requires_grad:
            w.bias_hh.grad += db_ih if dzh is dzx else _row_sums(dzh2)  # dL/db_hh += Σ dZh
    if not input_grad:
        return None, _transposed(dstate)
    dx = backend.reshape(dzx2.T @ w.ih.data, (t, n, rows.shape[1]))  # dZxᵀ W_ih
    return dx, _transposed(dstate)


def _row_sums(a: Array) -> Array:
    """The sum of each row of the matrix ``a`` (`minigrad.backend.reduce_sum`: on NumPy a
    product with ones, 2× NumPy's ``sum`` here)."""
    sums: Array = backend.reshape(backend.reduce_sum(a, (1,)), (-1,))
    return sums


def _transposed(state: tuple[Array, ...]) -> tuple[Array, ...]:
    """Each ``(N, F)`` array of a state as ``(F, N)``, or back (views)."""
    return tuple(s.T for s in state)


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

