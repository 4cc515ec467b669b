"""Recurrent layers, batch-first, with PyTorch's gate order and parameter layout:
`RNN`, `LSTM`, `GRU`.

Shared by all three: the input projection of every time step is one matrix product
``X W_ihᵀ + b_ih`` over all ``N·T`` rows (time-major, so each step reads a contiguous
slab); the recurrence then adds ``h_{t−1} W_hhᵀ (+ b_hh)`` step by step. Backward is
backpropagation through time: one reverse sweep computes the gradient ``dZ_t`` of
every step's pre-activations, after which every weight gradient is again one product
over all steps::

    dL/dW_ih += dZxᵀ X        dL/dW_hh += dZhᵀ H_prev        dL/dX = dZx W_ih
    dL/db_ih += Σ dZx         dL/db_hh += Σ dZh

(``dZh = dZx`` except in the GRU, whose candidate multiplies the hidden part by ``r``).

Initial and final state: ``forward(x, initial_state=...)`` starts from a given state
(zeros by default): an array ``(N, H)`` for `RNN` and `GRU`, a pair ``(h0, c0)`` for
`LSTM`. After a forward, ``layer.final_state`` holds the last state in the same form
(for the next chunk of a long sequence, or a decoder), and after a backward
``layer.initial_state_grad`` holds dL/d(initial state). Gradients flow back only
through the layer's output, not into ``final_state``.

On every array library: the step loops over time only (it is the recurrence), each step
a few whole-batch products and elementwise calls of the standard; the writes into the
per-step arrays go through `minigrad.backend.compute_into` (NumPy's ``out=``, where the
cell's step spends its time). An initial state must be of the layer's library and device.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.backend import compute_into, sigmoid
from minigrad.base import (
    Array,
    Layer,
    Parameter,
    as_grad,
    check_count,
    check_parameter_dtype,
    check_same_place,
)
from minigrad.nd import as_nd

State: TypeAlias = "Array | tuple[Array, Array]"
"""A recurrent state: ``h`` (RNN, GRU) or ``(h, c)`` (LSTM), each ``(N, H)``."""

RecurrentCache = tuple[Array, Array, tuple[Array, ...], tuple[int, ...]]
"""The time-major input ``(T·N, D)``, the hidden states ``h_0 .. h_T`` ``(T+1, N, H)``,
what the cell's backward needs per step, and the input's shape."""


class _Recurrent(Layer[RecurrentCache]):
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
            if backend.is_foreign(part) or type(like) is not np.ndarray:
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
        return _copy(y)  # C order; and hs stays private

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
        self.weight_ih.accumulate_matmul(dzx2.T, time_major)
        self.weight_hh.accumulate_matmul(dzh2.T, xp.reshape(hs[:t, ...], (t * n, h)))
        self.bias_ih.grad += xp.sum(dzx2, axis=0)
        self.bias_hh.grad += xp.sum(dzh2, axis=0)
        if not input_grad:
            return None
        dx = xp.reshape(dzx2 @ self.weight_ih.data, (t, n, d))
        return _copy(xp.permute_dims(dx, (1, 0, 2)))

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


def _copy(array: Array) -> Array:
    """A C-ordered copy of ``array`` (NumPy), or a copy in its own library."""
    copied: Array
    if type(array) is np.ndarray:
        copied = array.copy()
        return copied
    copied = backend.namespace(array).asarray(array, copy=True)
    return copied


class RNN(_Recurrent):
    """Elman RNN, as ``torch.nn.RNN(batch_first=True)``: ``h_t = f(x_t W_ihᵀ + b_ih +
    h_{t−1} W_hhᵀ + b_hh)``, ``f`` tanh or ReLU.

    BPTT: ``dZ_t = (G_t + dZ_{t+1} W_hh) ⊙ f'(h_t)``, with ``f' = 1 − h²`` (tanh) or
    ``[h > 0]`` (ReLU).

    Shapes: ``(N, T, D) -> (N, T, H)`` or ``(N, H)``; ``weight_ih (H, D)``, ``weight_hh
    (H, H)``, ``bias_ih``, ``bias_hh (H,)``.

    Cache: the time-major input and every ``h_t``.
    Parameters
    ----------
    input_size, hidden_size : int
        D and H (each >= 1).
    nonlinearity : {"tanh", "relu"}, default "tanh"
    return_sequences : bool, default True
        Return every step's ``h_t`` ``(N, T, H)``; False: only ``h_T`` ``(N, H)``.
    init : Initializer, optional
        Draws ``weight_ih`` and ``weight_hh``, called with the shapes ``(D, G·H)`` and
        ``(H, G·H)`` (fan in, fan out) and stored transposed; default PyTorch's
        U(−1/√H, 1/√H), which the biases always use.
    rng : int, numpy Generator or RandomState, optional
    dtype : float dtype, default float64

    Raises
    ------
    ValueError
        A bad argument; an input not of shape ``(N, T, D)`` or with ``T = 0``; an
        initial state of the wrong shape; a gradient not of the output's shape.
    TypeError
        A non-real input, a malformed ``initial_state``, a non-floating ``dtype``.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        return_sequences: bool = True,
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, return_sequences, init=init, rng=rng,
                         dtype=dtype)

    @override
    def _scan(self, xw: Array, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...],
                                                                   tuple[Array, ...]]:
        t, n, _ = xw.shape
        hs = backend.empty_like_shape(xw, (t + 1, n, self.hidden_size))
        hs[0, ...] = state[0]
        w_hh_t = self.weight_hh.data.T
        for step in range(t):
            z = hs[step, ...] @ w_hh_t
            z += xw[step, ...]
            if self.nonlinearity == "tanh":
                compute_into(hs, np.s_[step + 1, ...], "tanh", z)
            else:
                compute_into(hs, np.s_[step + 1, ...], "maximum", z, 0.0)
        return hs, (hs[t, ...],), ()

    @override
    def _scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...]
                       ) -> tuple[Array, Array, tuple[Array, ...]]:
        xp = backend.namespace(dhs)
        t = dhs.shape[0]
        dz = backend.empty_like_shape(hs, tuple(dhs.shape))
        dh_next = xp.zeros_like(hs[0, ...])
        w_hh = self.weight_hh.data
        for step in range(t - 1, -1, -1):
            h = hs[step + 1, ...]
            slope = 1.0 - h * h if self.nonlinearity == "tanh" else xp.astype(h > 0, h.dtype)
            compute_into(dz, np.s_[step, ...], "multiply", dhs[step, ...] + dh_next, slope)
            dh_next = dz[step, ...] @ w_hh
        return dz, dz, (dh_next,)

    @override
    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"


class LSTM(_Recurrent):
    """Long short-term memory, as ``torch.nn.LSTM(batch_first=True)``; gates in PyTorch's
    order (i, f, g, o) in the rows of ``weight_ih (4H, D)``, ``weight_hh (4H, H)``::

        [i f g o] = [σ σ tanh σ](x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)
        c_t = f ⊙ c_{t−1} + i ⊙ g        h_t = o ⊙ tanh(c_t)

    BPTT, with ``dh = G_t + dZ_{t+1} W_hh`` and ``dc = dc_{t+1} ⊙ f_{t+1} + dh ⊙ o ⊙ (1 −
    tanh²c_t)``: ``dZ_t = [dc⊙g·i(1−i), dc⊙c_{t−1}·f(1−f), dc⊙i·(1−g²), dh⊙tanh c_t·o(1−o)]``.

    Shapes: ``(N, T, D) -> (N, T, H)`` or ``(N, H)``. State ``(h, c)``.

    Cache: the time-major input, every ``h_t``, ``c_t``, gate and ``tanh c_t``.

    Parameters, Raises: as `RNN` (no ``nonlinearity``).
    """

    gates = 4
    states = 2

    @override
    def _scan(self, xw: Array, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...],
                                                                   tuple[Array, ...]]:
        t, n, _ = xw.shape
        h = self.hidden_size
        hs = backend.empty_like_shape(xw, (t + 1, n, h))
        cs = backend.empty_like_shape(xw, (t + 1, n, h))
        hs[0, ...], cs[0, ...] = state
        acts = backend.empty_like_shape(xw, tuple(xw.shape))
        tanh_c = backend.empty_like_shape(xw, (t, n, h))
        w_hh_t = self.weight_hh.data.T
        for step in range(t):
            z = hs[step, ...] @ w_hh_t
            z += xw[step, ...]
            acts[step, ...] = sigmoid(z)  # one contiguous pass; g's columns are redone below
            compute_into(acts, np.s_[step, :, 2 * h:3 * h], "tanh", z[:, 2 * h:3 * h])
            a = acts[step, ...]
            # c_t = f ⊙ c_{t−1} + i ⊙ g        h_t = o ⊙ tanh(c_t)
            compute_into(cs, np.s_[step + 1, ...], "multiply", a[:, h:2 * h], cs[step, ...])
            compute_into(cs, np.s_[step + 1, ...], "add", cs[step + 1, ...],
                         a[:, :h] * a[:, 2 * h:3 * h])
            compute_into(tanh_c, np.s_[step, ...], "tanh", cs[step + 1, ...])
            compute_into(hs, np.s_[step + 1, ...], "multiply", a[:, 3 * h:], tanh_c[step, ...])
        return hs, (hs[t, ...], cs[t, ...]), (acts, cs, tanh_c)

    @override
    def _scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...]
                       ) -> tuple[Array, Array, tuple[Array, ...]]:
        acts, cs, tanh_c = steps
        h = self.hidden_size
        dz = backend.empty_like_shape(acts, tuple(acts.shape))
        dh_next = backend.namespace(hs).zeros_like(hs[0, ...])
        dc_next = backend.namespace(hs).zeros_like(hs[0, ...])
        w_hh = self.weight_hh.data
        for step in range(dhs.shape[0] - 1, -1, -1):
            a, tc = acts[step, ...], tanh_c[step, ...]
            i, f, g, o = a[:, :h], a[:, h:2 * h], a[:, 2 * h:3 * h], a[:, 3 * h:]
            dh = dhs[step, ...] + dh_next
            dc = dh * o * (1.0 - tc * tc)
            dc += dc_next
            compute_into(dz, np.s_[step, :, :h], "multiply", dc, g)
            compute_into(dz, np.s_[step, :, h:2 * h], "multiply", dc, cs[step, ...])
            compute_into(dz, np.s_[step, :, 2 * h:3 * h], "multiply", dc, i)
            compute_into(dz, np.s_[step, :, 3 * h:], "multiply", dh, tc)
            slope = a * (1.0 - a)  # σ' for i, f, o; g's columns are redone below
            compute_into(slope, np.s_[:, 2 * h:3 * h], "subtract", 1.0, g * g)
            compute_into(dz, np.s_[step, ...], "multiply", dz[step, ...], slope)
            dc_next = dc * f
            dh_next = dz[step, ...] @ w_hh
        return dz, dz, (dh_next, dc_next)


class GRU(_Recurrent):
    """Gated recurrent unit, as ``torch.nn.GRU(batch_first=True)``; gates in PyTorch's
    order (r, z, n) in the rows of ``weight_ih (3H, D)``, ``weight_hh (3H, H)``::

        r, z = σ(x_t W_{ir,iz}ᵀ + b_{ir,iz} + h_{t−1} W_{hr,hz}ᵀ + b_{hr,hz})
        n = tanh(x_t W_inᵀ + b_in + r ⊙ (h_{t−1} W_hnᵀ + b_hn))
        h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

    BPTT, with ``dh = G_t + (dL/dh_t from step t+1)``, ``dn = dh ⊙ (1 − z)(1 − n²)``:
    ``dZx_t = [dn⊙(h_{t−1}W_hnᵀ + b_hn)·r(1−r), dh⊙(h_{t−1} − n)·z(1−z), dn]``, ``dZh_t``
    the same but ``dn ⊙ r`` in the last block, and ``dL/dh_{t−1} = dh ⊙ z + dZh_t W_hh``.

    Shapes: ``(N, T, D) -> (N, T, H)`` or ``(N, H)``.

    Cache: the time-major input, every ``h_t``, ``r``, ``z``, ``n`` and
    ``h_{t−1}W_hnᵀ + b_hn``.

    Parameters, Raises: as `RNN` (no ``nonlinearity``).
    """

    gates = 3

    @override
    def _folded_bias(self) -> Array:
        b_hh = self.bias_hh.data
        folded: Array = backend.namespace(b_hh).asarray(b_hh, copy=True)
        folded[2 * self.hidden_size:] = 0.0  # b_hn stays inside r ⊙ (h W_hnᵀ + b_hn)
        return folded

    @override
    def _scan(self, xw: Array, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...],
                                                                   tuple[Array, ...]]:
        t, n, _ = xw.shape
        h = self.hidden_size
        hs = backend.empty_like_shape(xw, (t + 1, n, h))
        hs[0, ...] = state[0]
        rz = backend.empty_like_shape(xw, (t, n, 2 * h))
        cand = backend.empty_like_shape(xw, (t, n, h))
        hidden_n = backend.empty_like_shape(xw, (t, n, h))
        w_hh_t = self.weight_hh.data.T
        b_hn = self.bias_hh.data[2 * h:]
        for step in range(t):
            hw = hs[step, ...] @ w_hh_t
            gates = hw[:, :2 * h]
            gates += xw[step, :, :2 * h]
            rz[step, ...] = sigmoid(gates)
            compute_into(hidden_n, np.s_[step, ...], "add", hw[:, 2 * h:], b_hn)
            compute_into(cand, np.s_[step, ...], "multiply", rz[step, :, :h], hidden_n[step, ...])
            compute_into(cand, np.s_[step, ...], "add", cand[step, ...], xw[step, :, 2 * h:])
            compute_into(cand, np.s_[step, ...], "tanh", cand[step, ...])
            # h_t = n + z ⊙ (h_{t−1} − n)
            compute_into(hs, np.s_[step + 1, ...], "subtract", hs[step, ...], cand[step, ...])
            compute_into(hs, np.s_[step + 1, ...], "multiply", hs[step + 1, ...], rz[step, :, h:])
            compute_into(hs, np.s_[step + 1, ...], "add", hs[step + 1, ...], cand[step, ...])
        return hs, (hs[t, ...],), (rz, cand, hidden_n)

    @override
    def _scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...]
                       ) -> tuple[Array, Array, tuple[Array, ...]]:
        rz, cand, hidden_n = steps
        t, n, h = dhs.shape
        dzx = backend.empty_like_shape(hs, (t, n, 3 * h))
        dzh = backend.empty_like_shape(hs, (t, n, 3 * h))
        dh_next = backend.namespace(hs).zeros_like(hs[0, ...])
        w_hh = self.weight_hh.data
        for step in range(t - 1, -1, -1):
            r, z, c = rz[step, :, :h], rz[step, :, h:], cand[step, ...]
            dh = dhs[step, ...] + dh_next
            dn = dh * (1.0 - z) * (1.0 - c * c)
            compute_into(dzx, np.s_[step, :, :h], "multiply", dn * hidden_n[step, ...],
                         r * (1.0 - r))
            compute_into(dzx, np.s_[step, :, h:2 * h], "multiply", dh * (hs[step, ...] - c),
                         z * (1.0 - z))
            dzx[step, :, 2 * h:] = dn
            dzh[step, :, :2 * h] = dzx[step, :, :2 * h]
            compute_into(dzh, np.s_[step, :, 2 * h:], "multiply", dn, r)
            dh_next = dh * z + dzh[step, ...] @ w_hh
        return dzx, dzh, (dh_next,)
