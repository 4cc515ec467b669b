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
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import init as initializers
from minigrad.activations import sigmoid
from minigrad.base import Array, Layer, Parameter, as_grad, check_count, check_parameter_dtype
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
    def _state(self, initial_state: State | None, n: int, dtype: np.dtype[Any]
               ) -> tuple[Array, ...]:
        shape = (n, self.hidden_size)
        if initial_state is None:
            return tuple(np.zeros(shape, dtype) for _ in range(self.states))
        parts = (initial_state,) if self.states == 1 else initial_state
        form = "an array (N, H)" if self.states == 1 else "a pair (h0, c0) of arrays (N, H)"
        if not isinstance(parts, tuple) or len(parts) != self.states:
            raise TypeError(f"{self!r}: initial_state must be {form}, got "
                            f"{type(initial_state).__name__}")
        arrays = tuple(np.asarray(part) for part in parts)
        for array in arrays:
            if array.shape != shape or array.dtype.kind not in "biuf":
                raise ValueError(f"{self!r}: initial_state must be {form} with "
                                 f"(N, H) = {shape}, got shape {array.shape}, dtype "
                                 f"{array.dtype}")
        return tuple(array.astype(dtype) for array in arrays)

    def _public(self, state: tuple[Array, ...]) -> State:
        return state[0] if self.states == 1 else (state[0], state[1])

    @override
    def forward(self, x: Array, initial_state: State | None = None) -> Array:
        """``x (N, T, D) -> (N, T, H)`` (or ``(N, H)``, the last step, without
        ``return_sequences``); ``initial_state``: see the module docstring."""
        w_ih = self.weight_ih.data
        x = as_nd(self, x, expected=f"(batch, T, {self.input_size})", ndims=(3,),
                  sizes={2: self.input_size}, dtype=w_ih.dtype)
        n, t, d = x.shape
        state = self._state(initial_state, n, w_ih.dtype)
        time_major = x.transpose(1, 0, 2).reshape(t * n, d)
        bias = self.bias_ih.data + self._folded_bias()
        xw = (np.dot(time_major, w_ih.T) + bias).reshape(t, n, -1)
        hs, final, steps = self._scan(xw, state)
        self.final_state = self._public(final)
        self.cache = (time_major, hs, steps, x.shape)
        y: Array = hs[1:].transpose(1, 0, 2) if self.return_sequences else final[0]
        out: Array = y.copy()  # C order; and hs stays private
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
        h = self.hidden_size
        if self.return_sequences:
            g = as_grad(self, grad_out, (n, t, h), hs.dtype)
            dhs = g.transpose(1, 0, 2)
        else:
            g = as_grad(self, grad_out, (n, h), hs.dtype)
            dhs = np.zeros((t, n, h), hs.dtype)
            dhs[-1] = g
        dzx, dzh, dstate = self._scan_backward(dhs, hs, steps)
        self.initial_state_grad = self._public(dstate)
        dzx2, dzh2 = dzx.reshape(t * n, -1), dzh.reshape(t * n, -1)
        self.weight_ih.accumulate_matmul(dzx2.T, time_major)
        self.weight_hh.accumulate_matmul(dzh2.T, hs[:-1].reshape(t * n, h))
        self.bias_ih.grad += dzx2.sum(axis=0)
        self.bias_hh.grad += dzh2.sum(axis=0)
        if not input_grad:
            return None
        dx: Array = np.dot(dzx2, self.weight_ih.data).reshape(t, n, d)
        grad_in: Array = dx.transpose(1, 0, 2).copy()
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
        if self.weight_ih.dtype != np.float64:
            text += f", dtype={self.weight_ih.dtype}"
        return text




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
        hs = np.empty((t + 1, n, self.hidden_size), xw.dtype)
        hs[0] = state[0]
        w_hh_t = self.weight_hh.data.T
        for step in range(t):
            z = np.dot(hs[step], w_hh_t)
            z += xw[step]
            if self.nonlinearity == "tanh":
                np.tanh(z, out=hs[step + 1])
            else:
                np.maximum(z, 0, out=hs[step + 1])
        return hs, (hs[t],), ()

    @override
    def _scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...]
                       ) -> tuple[Array, Array, tuple[Array, ...]]:
        dz = np.empty_like(dhs)
        dh_next = np.zeros_like(dhs[0])
        w_hh = self.weight_hh.data
        for step in reversed(range(dhs.shape[0])):
            h = hs[step + 1]
            slope = 1 - h * h if self.nonlinearity == "tanh" else h > 0
            np.multiply(dhs[step] + dh_next, slope, out=dz[step])
            dh_next = np.dot(dz[step], w_hh)
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
        hs = np.empty((t + 1, n, h), xw.dtype)
        cs = np.empty_like(hs)
        hs[0], cs[0] = state
        acts = np.empty_like(xw)
        tanh_c = np.empty((t, n, h), xw.dtype)
        w_hh_t = self.weight_hh.data.T
        for step in range(t):
            z = np.dot(hs[step], w_hh_t)
            z += xw[step]
            a = acts[step]
            a[...] = sigmoid(z)  # one contiguous pass; g's columns are redone below
            np.tanh(z[:, 2 * h:3 * h], out=a[:, 2 * h:3 * h])
            c = cs[step + 1]
            np.multiply(a[:, h:2 * h], cs[step], out=c)
            c += a[:, :h] * a[:, 2 * h:3 * h]
            np.tanh(c, out=tanh_c[step])
            np.multiply(a[:, 3 * h:], tanh_c[step], out=hs[step + 1])
        return hs, (hs[t], cs[t]), (acts, cs, tanh_c)

    @override
    def _scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...]
                       ) -> tuple[Array, Array, tuple[Array, ...]]:
        acts, cs, tanh_c = steps
        h = self.hidden_size
        dz = np.empty_like(acts)
        dh_next = np.zeros_like(dhs[0])
        dc_next = np.zeros_like(dhs[0])
        w_hh = self.weight_hh.data
        for step in reversed(range(dhs.shape[0])):
            a, tc, d = acts[step], tanh_c[step], dz[step]
            i, f, g, o = a[:, :h], a[:, h:2 * h], a[:, 2 * h:3 * h], a[:, 3 * h:]
            dh = dhs[step] + dh_next
            dc = dh * o * (1 - tc * tc)
            dc += dc_next
            np.multiply(dc, g, out=d[:, :h])
            np.multiply(dc, cs[step], out=d[:, h:2 * h])
            np.multiply(dc, i, out=d[:, 2 * h:3 * h])
            np.multiply(dh, tc, out=d[:, 3 * h:])
            slope = a * (1 - a)  # σ' for i, f, o; g's columns are redone below
            np.subtract(1, g * g, out=slope[:, 2 * h:3 * h])
            d *= slope
            dc_next = dc * f
            dh_next = np.dot(d, w_hh)
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
        folded: Array = self.bias_hh.data.copy()
        folded[2 * self.hidden_size:] = 0  # b_hn stays inside r ⊙ (h W_hnᵀ + b_hn)
        return folded

    @override
    def _scan(self, xw: Array, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...],
                                                                   tuple[Array, ...]]:
        t, n, _ = xw.shape
        h = self.hidden_size
        hs = np.empty((t + 1, n, h), xw.dtype)
        hs[0] = state[0]
        rz = np.empty((t, n, 2 * h), xw.dtype)
        cand = np.empty((t, n, h), xw.dtype)
        hidden_n = np.empty((t, n, h), xw.dtype)
        w_hh_t = self.weight_hh.data.T
        b_hn = self.bias_hh.data[2 * h:]
        for step in range(t):
            hw = np.dot(hs[step], w_hh_t)
            gates = hw[:, :2 * h]
            gates += xw[step, :, :2 * h]
            rz[step] = sigmoid(gates)
            np.add(hw[:, 2 * h:], b_hn, out=hidden_n[step])
            c = cand[step]
            np.multiply(rz[step, :, :h], hidden_n[step], out=c)
            c += xw[step, :, 2 * h:]
            np.tanh(c, out=c)
            # h_t = n + z ⊙ (h_{t−1} − n)
            np.subtract(hs[step], c, out=hs[step + 1])
            hs[step + 1] *= rz[step, :, h:]
            hs[step + 1] += c
        return hs, (hs[t],), (rz, cand, hidden_n)

    @override
    def _scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...]
                       ) -> tuple[Array, Array, tuple[Array, ...]]:
        rz, cand, hidden_n = steps
        t, n, h = dhs.shape
        dzx = np.empty((t, n, 3 * h), dhs.dtype)
        dzh = np.empty_like(dzx)
        dh_next = np.zeros_like(dhs[0])
        w_hh = self.weight_hh.data
        for step in reversed(range(t)):
            r, z, c = rz[step, :, :h], rz[step, :, h:], cand[step]
            dh = dhs[step] + dh_next
            dn = dh * (1 - z) * (1 - c * c)
            dx, dhid = dzx[step], dzh[step]
            np.multiply(dn * hidden_n[step], r * (1 - r), out=dx[:, :h])
            np.multiply(dh * (hs[step] - c), z * (1 - z), out=dx[:, h:2 * h])
            dx[:, 2 * h:] = dn
            dhid[:, :2 * h] = dx[:, :2 * h]
            np.multiply(dn, r, out=dhid[:, 2 * h:])
            dh_next = dh * z + np.dot(dhid, w_hh)
        return dzx, dzh, (dh_next,)
