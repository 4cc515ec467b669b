"""The cells' recurrences -- what `RNN`, `LSTM` and `GRU` (and their one-step layers
`RNNCell`, `LSTMCell`, `GRUCell`) differ in: one step forward over the whole batch, and
its derivative, run over time by `minigrad.layers.recurrent.loop`.

Every recurrence sees the input projection ``xw_t = x_t W_ihᵀ + b_ih (+ b_hh)`` of all
steps already made (one matrix product, by the loop), adds ``h_{t−1} W_hhᵀ`` step by
step, and returns the pre-activation gradients ``dZx`` (for ``W_ih``, ``b_ih``, the
input) and ``dZh`` (for ``W_hh``, ``b_hh``) of every step, from which the loop forms
every weight gradient as one product over all steps (``dZh = dZx`` except in the GRU,
whose candidate multiplies the hidden part by ``r``). The formulas are in each class.

On every array library: the step loops over time only (it is the recurrence), each step
a few whole-batch products and elementwise calls of the standard; the writes into the
per-step arrays go through `minigrad.backend.compute_into` (NumPy's ``out=``, where the
step spends its time).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

import numpy as np

from minigrad import backend
from minigrad.backend import compute_into
from minigrad.core import Array, Parameter

__all__ = ["GRURecurrence", "LSTMRecurrence", "RNNRecurrence", "Recurrence", "Weights"]


class Weights:
    """The parameters of one direction of one layer -- PyTorch's ``weight_ih_l{k}``,
    ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (``_reverse`` for the reverse
    direction) and the LSTM's projection ``weight_hr_l{k}`` -- as the recurrence reads
    them. ``bias_ih``, ``bias_hh`` are None without bias, ``hr`` None without projection."""

    def __init__(self, ih: Parameter, hh: Parameter, bias_ih: Parameter | None,
                 bias_hh: Parameter | None, hr: Parameter | None = None) -> None:
        self.ih, self.hh, self.bias_ih, self.bias_hh, self.hr = ih, hh, bias_ih, bias_hh, hr


Scan = tuple[Array, tuple[Array, ...], tuple[Array, ...]]
"""A forward scan: the hidden states ``h_0 .. h_T`` ``(T+1, N, P)``, the final state, and
what the backward needs per step."""


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


class Recurrence(ABC):
    """One cell's recurrence on given `Weights`; it holds only its sizes and options.

    ``gates`` blocks of ``hidden_size`` rows in ``W_ih``, ``W_hh``; ``states`` arrays in a
    state (1: ``h``; 2: the LSTM's ``(h, c)``); ``out_size`` the width ``P`` of ``h``
    (``hidden_size``, or the LSTM's ``proj_size``)."""

    gates: int = 1
    states: int = 1

    def __init__(self, hidden_size: int) -> None:
        self.hidden_size = hidden_size
        self.out_size = hidden_size

    def folded_bias(self, b_hh: Array) -> Array:
        """The part of ``b_hh`` that can join ``b_ih`` in the input projection: all of it
        (GRU: all but ``b_hn``)."""
        return b_hh

    @abstractmethod
    def scan(self, xw: Array, state: tuple[Array, ...], w: Weights) -> Scan:
        """Run the recurrence on the projected inputs ``xw (T, N, G·H)`` from ``state``."""

    @abstractmethod
    def scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...], w: Weights,
                      dfinal: tuple[Array, ...] | None) -> tuple[Array, Array, tuple[Array, ...]]:
        """Given dL/dh_t from above ``(T, N, P)`` and dL/d(final state) (None: zero),
        return ``dZx``, ``dZh`` ``(T, N, G·H)`` and dL/d(initial state). Accumulates the
        gradients of the parameters only it reads (the LSTM's ``W_hr``)."""

    @staticmethod
    def _carried(likes: tuple[Array, ...], dfinal: tuple[Array, ...] | None) -> list[Array]:
        """The gradients carried into the last step: dL/d(final state), or zeros."""
        if dfinal is not None:
            return list(dfinal)
        return [backend.namespace(like).zeros_like(like) for like in likes]


class RNNRecurrence(Recurrence):
    """The Elman RNN's recurrence ``h_t = f(xw_t + h_{t−1} W_hhᵀ)``, ``f`` tanh or ReLU;
    its backward is `RNN`'s docstring. Cache: every ``h_t``.
    """

    def __init__(self, hidden_size: int, nonlinearity: Literal["tanh", "relu"]) -> None:
        super().__init__(hidden_size)
        self.nonlinearity = nonlinearity

    def scan(self, xw: Array, state: tuple[Array, ...], w: Weights) -> Scan:
        t, n, _ = xw.shape
        hs = backend.empty_like_shape(xw, (t + 1, n, self.hidden_size))
        hs[0, ...] = state[0]
        w_hh_t = w.hh.data.T
        for step in range(t):
            z = hs[step, ...] @ w_hh_t
            z += xw[step, ...]
            if self.nonlinearity == "tanh":
                compute_into(hs, np.s_[step + 1, ...], "tanh", z)
            else:
                compute_into(hs, np.s_[step + 1, ...], "maximum", z, 0.0)
        return hs, (hs[t, ...],), ()

    def scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...], w: Weights,
                      dfinal: tuple[Array, ...] | None) -> tuple[Array, Array, tuple[Array, ...]]:
        xp = backend.namespace(dhs)
        dz = backend.empty_like_shape(hs, tuple(dhs.shape))
        (dh_next,) = self._carried((hs[0, ...],), dfinal)
        w_hh = w.hh.data
        for step in range(dhs.shape[0] - 1, -1, -1):
            h = hs[step + 1, ...]
            slope = 1.0 - h * h if self.nonlinearity == "tanh" else xp.astype(h > 0, h.dtype)
            compute_into(dz, np.s_[step, ...], "multiply", dhs[step, ...] + dh_next, slope)
            dh_next = dz[step, ...] @ w_hh
        return dz, dz, (dh_next,)


class LSTMRecurrence(Recurrence):
    """LSTM, gates in PyTorch's order (i, f, g, o), with an optional projection
    ``W_hr (P, H)`` of the hidden state (PyTorch's ``proj_size`` P)::

        [i f g o] = [σ σ tanh σ](xw_t + h_{t−1} W_hhᵀ)
        c_t = f ⊙ c_{t−1} + i ⊙ g        m_t = o ⊙ tanh(c_t)        h_t = m_t (W_hrᵀ)

    BPTT, with ``dh = G_t + dZ_{t+1} W_hh``, ``dm = dh (W_hr)`` and ``dc = dc_{t+1} ⊙
    f_{t+1} + dm ⊙ o ⊙ (1 − tanh²c_t)``: ``dZ_t = [dc⊙g·i(1−i), dc⊙c_{t−1}·f(1−f),
    dc⊙i·(1−g²), dm⊙tanh c_t·o(1−o)]``; ``dL/dW_hr = Σ_t dh_tᵀ m_t``.

    Cache: every ``h_t``, ``c_t``, gate and ``tanh c_t`` (and ``m_t``, ``dh_t`` with a
    projection).
    """

    gates = 4
    states = 2

    def __init__(self, hidden_size: int, proj_size: int = 0) -> None:
        super().__init__(hidden_size)
        self.out_size = proj_size or hidden_size

    def scan(self, xw: Array, state: tuple[Array, ...], w: Weights) -> Scan:
        t, n, _ = xw.shape
        h = self.hidden_size
        hs = backend.empty_like_shape(xw, (t + 1, n, self.out_size))
        cs = backend.empty_like_shape(xw, (t + 1, n, h))
        hs[0, ...], cs[0, ...] = state
        acts = backend.empty_like_shape(xw, tuple(xw.shape))
        tanh_c = backend.empty_like_shape(xw, (t, n, h))
        ms = None if w.hr is None else backend.empty_like_shape(xw, (t, n, h))  # m_t
        w_hh_t = w.hh.data.T
        half = np.full(4 * h, 0.5, backend.numpy_dtype(xw.dtype))  # ½ for i, f, o; 1 for g
        half[2 * h:3 * h] = 1.0
        scale = backend.move(half, backend.namespace(xw), backend.device(xw))
        shift = 1.0 - scale  # σ for i, f, o: (1 + tanh(z/2))/2; g: tanh z
        for step in range(t):
            z = hs[step, ...] @ w_hh_t
            z += xw[step, ...]
            _gates(acts, np.s_[step, ...], z, scale, shift)
            a = acts[step, ...]
            # c_t = f ⊙ c_{t−1} + i ⊙ g        m_t = o ⊙ tanh(c_t)
            compute_into(cs, np.s_[step + 1, ...], "multiply", a[:, h:2 * h], cs[step, ...])
            compute_into(cs, np.s_[step + 1, ...], "add", cs[step + 1, ...],
                         a[:, :h] * a[:, 2 * h:3 * h])
            compute_into(tanh_c, np.s_[step, ...], "tanh", cs[step + 1, ...])
            if w.hr is None or ms is None:  # h_t = m_t
                compute_into(hs, np.s_[step + 1, ...], "multiply", a[:, 3 * h:],
                             tanh_c[step, ...])
            else:  # h_t = m_t W_hrᵀ
                compute_into(ms, np.s_[step, ...], "multiply", a[:, 3 * h:], tanh_c[step, ...])
                hs[step + 1, ...] = ms[step, ...] @ w.hr.data.T
        return hs, (hs[t, ...], cs[t, ...]), (acts, cs, tanh_c) + (() if ms is None else (ms,))

    def scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...], w: Weights,
                      dfinal: tuple[Array, ...] | None) -> tuple[Array, Array, tuple[Array, ...]]:
        acts, cs, tanh_c = steps[:3]
        xp = backend.namespace(hs)
        t, n, h = dhs.shape[0], dhs.shape[1], self.hidden_size
        dz = backend.empty_like_shape(acts, tuple(acts.shape))
        dh_next, dc_next = self._carried((hs[0, ...], cs[0, ...]), dfinal)
        dh_all = None if w.hr is None else backend.empty_like_shape(hs, tuple(dhs.shape))
        w_hh = w.hh.data
        for step in range(t - 1, -1, -1):
            a, tc = acts[step, ...], tanh_c[step, ...]
            i, f, g, o = a[:, :h], a[:, h:2 * h], a[:, 2 * h:3 * h], a[:, 3 * h:]
            dh = dhs[step, ...] + dh_next
            dm = dh
            if w.hr is not None and dh_all is not None:
                dh_all[step, ...] = dh
                dm = dh @ w.hr.data
            dc = dm * o * (1.0 - tc * tc)
            dc += dc_next
            compute_into(dz, np.s_[step, :, :h], "multiply", dc, g)
            compute_into(dz, np.s_[step, :, h:2 * h], "multiply", dc, cs[step, ...])
            compute_into(dz, np.s_[step, :, 2 * h:3 * h], "multiply", dc, i)
            compute_into(dz, np.s_[step, :, 3 * h:], "multiply", dm, tc)
            slope = a * (1.0 - a)  # σ' for i, f, o; g's columns are redone below
            compute_into(slope, np.s_[:, 2 * h:3 * h], "subtract", 1.0, g * g)
            compute_into(dz, np.s_[step, ...], "multiply", dz[step, ...], slope)
            dc_next = dc * f
            dh_next = dz[step, ...] @ w_hh
        if w.hr is not None and dh_all is not None:  # dL/dW_hr += Σ_t dh_tᵀ m_t
            w.hr.accumulate_matmul(xp.reshape(dh_all, (t * n, -1)).T,
                                   xp.reshape(steps[3], (t * n, h)))
        return dz, dz, (dh_next, dc_next)


class GRURecurrence(Recurrence):
    """The GRU's recurrence, gates in PyTorch's order (r, z, n), ``b_{hr,hz}`` folded
    into ``xw`` and ``b_hn`` kept inside ``r ⊙ (h_{t−1} W_hnᵀ + b_hn)``; the formulas
    forward and back are `GRU`'s docstring.

    Cache: every ``h_t``, ``r``, ``z``, ``n`` and ``h_{t−1}W_hnᵀ + b_hn``.
    """

    gates = 3

    def folded_bias(self, b_hh: Array) -> Array:
        folded: Array = backend.namespace(b_hh).asarray(b_hh, copy=True)
        folded[2 * self.hidden_size:] = 0.0  # b_hn stays inside r ⊙ (h W_hnᵀ + b_hn)
        return folded

    def scan(self, xw: Array, state: tuple[Array, ...], w: Weights) -> Scan:
        t, n, _ = xw.shape
        h = self.hidden_size
        hs = backend.empty_like_shape(xw, (t + 1, n, h))
        hs[0, ...] = state[0]
        rz = backend.empty_like_shape(xw, (t, n, 2 * h))
        cand = backend.empty_like_shape(xw, (t, n, h))
        hidden_n = backend.empty_like_shape(xw, (t, n, h))
        w_hh_t = w.hh.data.T
        b_hn = None if w.bias_hh is None else w.bias_hh.data[2 * h:]
        for step in range(t):
            hw = hs[step, ...] @ w_hh_t
            gates = hw[:, :2 * h]
            gates += xw[step, :, :2 * h]
            _gates(rz, np.s_[step, ...], gates, 0.5, 0.5)
            if b_hn is None:
                hidden_n[step, ...] = hw[:, 2 * h:]
            else:
                compute_into(hidden_n, np.s_[step, ...], "add", hw[:, 2 * h:], b_hn)
            compute_into(cand, np.s_[step, ...], "multiply", rz[step, :, :h], hidden_n[step, ...])
            compute_into(cand, np.s_[step, ...], "add", cand[step, ...], xw[step, :, 2 * h:])
            compute_into(cand, np.s_[step, ...], "tanh", cand[step, ...])
            # h_t = n + z ⊙ (h_{t−1} − n)
            compute_into(hs, np.s_[step + 1, ...], "subtract", hs[step, ...], cand[step, ...])
            compute_into(hs, np.s_[step + 1, ...], "multiply", hs[step + 1, ...], rz[step, :, h:])
            compute_into(hs, np.s_[step + 1, ...], "add", hs[step + 1, ...], cand[step, ...])
        return hs, (hs[t, ...],), (rz, cand, hidden_n)

    def scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...], w: Weights,
                      dfinal: tuple[Array, ...] | None) -> tuple[Array, Array, tuple[Array, ...]]:
        rz, cand, hidden_n = steps
        t, n, h = dhs.shape
        dzx = backend.empty_like_shape(hs, (t, n, 3 * h))
        dzh = backend.empty_like_shape(hs, (t, n, 3 * h))
        (dh_next,) = self._carried((hs[0, ...],), dfinal)
        w_hh = w.hh.data
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
