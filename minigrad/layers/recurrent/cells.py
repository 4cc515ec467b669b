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

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.backend import compute_into
from minigrad.core import Array
from minigrad.layers.recurrent.loop import Recurrent, RecurrentCache, State

__all__ = ["GRU", "LSTM", "RNN", "Recurrent", "RecurrentCache", "State"]


def _gates(target: Array, key: Any, z: Array, scale: Array | float,
           shift: Array | float) -> None:
    """``target[key] = tanh(z ⊙ s) ⊙ s + shift`` (``z`` is overwritten): with ``s = ½``,
    ``shift = ½`` that is ``σ(z) = (1 + tanh(z/2))/2``, and ``s = 1``, ``shift = 0``
    leaves ``tanh z`` -- every gate of a cell in one ``tanh`` pass over the row.

    Why not `minigrad.backend.sigmoid` and a second ``tanh``: NumPy's ``exp`` is half
    as fast as its ``tanh`` and ``σ`` needs four passes and an overflow check, so the
    LSTM's gates took 39 µs a step (float32, 32 × 512) where this takes 14. The identity
    is exact; in rounding it keeps σ's absolute error (half an ulp of 1) rather than
    its relative error in the far negative tail, which gates never need.
    """
    z *= scale
    compute_into(target, key, "tanh", z)
    compute_into(target, key, "multiply", target[key], scale)
    compute_into(target, key, "add", target[key], shift)


class RNN(Recurrent):
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


class LSTM(Recurrent):
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
        half = np.full(4 * h, 0.5, backend.numpy_dtype(xw.dtype))  # ½ for i, f, o; 1 for g
        half[2 * h:3 * h] = 1.0
        scale = backend.move(half, backend.namespace(xw), backend.device(xw))
        shift = 1.0 - scale  # σ for i, f, o: (1 + tanh(z/2))/2; g: tanh z
        for step in range(t):
            z = hs[step, ...] @ w_hh_t
            z += xw[step, ...]
            _gates(acts, np.s_[step, ...], z, scale, shift)
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


class GRU(Recurrent):
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
            _gates(rz, np.s_[step, ...], gates, 0.5, 0.5)
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
