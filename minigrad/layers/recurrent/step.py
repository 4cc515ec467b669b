"""One step of a recurrence as a layer of its own: `RNNCell`, `LSTMCell`, `GRUCell`, as
``torch.nn.RNNCell``/``LSTMCell``/``GRUCell`` (parameters ``weight_ih (G·H, D)``,
``weight_hh (G·H, H)``, ``bias_ih``, ``bias_hh (G·H,)``), for loops of one's own -- a
decoder that feeds back its output, attention over an encoder at every step.

How a cell receives and returns its state is how the sequence layers do, on one step:
``cell(x, initial_state)`` takes the input ``(N, D)`` and the state before the step
(``h``, or ``(h, c)`` for the LSTM; zeros if omitted), returns the new ``h (N, H)``, and
leaves the new state in ``cell.final_state`` (``(h, c)`` for the LSTM). Backward takes
dL/dh and optionally ``final_state_grad``, the gradient arriving at the new state from
the next step (for `LSTMCell` the only way ``c`` receives one), and leaves dL/d(state
before) in ``cell.initial_state_grad`` -- what the previous step's backward takes as its
``final_state_grad``. A cell used at every step of a loop is one layer used several
times: `Module.stash` after each step's forward, `Module.unstash` before its backward
(docs/sequences.md has the loop).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.core import Array, as_grad, check_count, check_parameter_dtype
from minigrad.core.nd import as_nd
from minigrad.layers.recurrent.loop import (
    DirectionCache,
    ParameterDraws,
    State,
    StatefulLayer,
    check_state,
    run_direction,
    run_direction_backward,
)
from minigrad.layers.recurrent.recurrences import (
    GRURecurrence,
    LSTMRecurrence,
    Recurrence,
    RNNRecurrence,
    Weights,
)

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RecurrentCell"]


class RecurrentCell(StatefulLayer[DirectionCache]):
    """Parameters, states and the one step (the one-direction loop on ``T = 1``); a
    subclass gives the cell (`_recurrence`)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        name = type(self).__name__
        self.input_size = check_count(name, "input_size", input_size, 1)
        self.hidden_size = check_count(name, "hidden_size", hidden_size, 1)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"{name}: bias must be a bool, got {bias!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.cell = self._recurrence()
        draws = ParameterDraws(name, self.hidden_size, init, initializers.make_rng(rng),
                               check_parameter_dtype(name, dtype))
        width = self.cell.gates * self.hidden_size
        self.weight_ih = draws.weight(width, self.input_size, "weight_ih")
        self.weight_hh = draws.weight(width, self.hidden_size, "weight_hh")
        self.bias_ih = draws.bias(width, "bias_ih") if bias else None
        self.bias_hh = draws.bias(width, "bias_hh") if bias else None
        self.final_state: State | None = None
        self.initial_state_grad: State | None = None

    def _recurrence(self) -> Recurrence:
        raise NotImplementedError  # every concrete cell says which

    def _weights(self) -> Weights:
        return Weights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def _state(self, state: object, n: int, what: str) -> tuple[Array, ...]:
        shapes = ((n, self.hidden_size),) * self.cell.states
        return check_state(self, state, shapes, self.weight_hh.data, what)

    def _public(self, state: tuple[Array, ...]) -> State:
        return state[0] if len(state) == 1 else (state[0], state[1])

    @override
    def forward(self, x: Array, initial_state: State | None = None) -> Array:
        """``x (N, D) -> h (N, H)``, from ``initial_state`` (zeros if None)."""
        like = self.weight_hh.data
        x = as_nd(self, x, expected=f"(batch, {self.input_size})", ndims=(2,),
                  sizes={1: self.input_size}, dtype=like.dtype)
        xp = backend.namespace(x)
        if initial_state is None:
            zeros = xp.zeros((x.shape[0], self.hidden_size), dtype=like.dtype,
                             device=backend.device(like))
            state = (zeros,) * self.cell.states
        else:
            state = self._state(initial_state, x.shape[0], "initial_state")
        _, final, self.cache = run_direction(self.cell, self._weights(),
                                             xp.expand_dims(x, axis=0), state)
        self.final_state = self._public(final)
        h: Array = backend.owned_copy(final[0])
        return h

    @override
    def __call__(self, x: npt.ArrayLike, initial_state: State | None = None) -> Array:
        return self.forward(x, initial_state)  # type: ignore[arg-type]  # validated there

    @override
    def _backward(self, grad_out: Array, final_state_grad: State | None, *,
                  input_grad: bool) -> Array | None:
        cache = self.saved()
        hs = cache[1]
        xp = backend.namespace(hs)
        g = as_grad(self, grad_out, tuple(hs.shape[1:]), hs.dtype)
        dfinal = (None if final_state_grad is None
                  else self._state(final_state_grad, hs.shape[1], "final_state_grad"))
        dx, dstate = run_direction_backward(self.cell, self._weights(), cache,
                                            xp.expand_dims(g, axis=0), dfinal,
                                            input_grad=input_grad)
        self.initial_state_grad = self._public(dstate)
        if dx is None:
            return None
        grad_in: Array = backend.owned_copy(dx[0, ...])
        return grad_in

    @override
    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias_ih is None:
            text += ", bias=False"
        if self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        if backend.numpy_dtype(self.weight_ih.dtype) != np.float64:
            text += f", dtype={self.weight_ih.dtype}"
        return text


class RNNCell(RecurrentCell):
    """One step of the Elman RNN, as ``torch.nn.RNNCell``: ``h' = f(x W_ihᵀ + b_ih + h
    W_hhᵀ + b_hh)``, ``f`` tanh or ReLU (the math of `RNN`, on one step).

    Shapes: ``x (N, D)``, state ``h (N, H)`` -> ``h' (N, H)``; ``weight_ih (H, D)``,
    ``weight_hh (H, H)``, ``bias_ih``, ``bias_hh (H,)``. States: the module docstring.

    Cache: the input row block, ``h`` and ``h'``.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H (each >= 1).
    bias : bool, default True
        False: no ``bias_ih``, ``bias_hh`` (they are None).
    nonlinearity : {"tanh", "relu"}, default "tanh"
    init : Initializer, optional
        Draws the weights, called with ``(fan_in, fan_out)`` and stored transposed;
        default PyTorch's U(−1/√H, 1/√H), which the biases always use.
    rng : int, numpy Generator or RandomState, optional
    dtype : float dtype, default float64

    Raises
    ------
    ValueError
        A bad argument (naming the layer and the value); an input not of shape ``(N,
        D)``; a state of the wrong shape; a gradient not of the output's shape.
    TypeError
        A non-bool ``bias``, a non-real input, a malformed state, a non-floating
        ``dtype``.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, nonlinearity=nonlinearity, init=init,
                         rng=rng, dtype=dtype)

    @override
    def _recurrence(self) -> Recurrence:
        return RNNRecurrence(self.hidden_size, self.nonlinearity)


class LSTMCell(RecurrentCell):
    """One step of the LSTM, as ``torch.nn.LSTMCell`` (the math of `LSTM`, on one step):
    state ``(h, c)``, each ``(N, H)``; returns ``h'``, and ``final_state`` is ``(h', c')``.

    ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh (4H,)``, gates
    (i, f, g, o). Cache: the input row block, ``h``, ``h'``, ``c``, ``c'``, the gates
    and ``tanh c'``.

    Parameters, Raises: as `RNNCell` (no ``nonlinearity``).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, init=init, rng=rng, dtype=dtype)

    @override
    def _recurrence(self) -> Recurrence:
        return LSTMRecurrence(self.hidden_size)


class GRUCell(RecurrentCell):
    """One step of the GRU, as ``torch.nn.GRUCell`` (the math of `GRU`, on one step):
    state ``h (N, H)`` -> ``h' (N, H)``.

    ``weight_ih (3H, D)``, ``weight_hh (3H, H)``, ``bias_ih``, ``bias_hh (3H,)``, gates
    (r, z, n). Cache: the input row block, ``h``, ``h'``, ``r``, ``z``, ``n`` and ``h
    W_hnᵀ + b_hn``.

    Parameters, Raises: as `RNNCell` (no ``nonlinearity``).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, init=init, rng=rng, dtype=dtype)

    @override
    def _recurrence(self) -> Recurrence:
        return GRURecurrence(self.hidden_size)
