"""The cells' recurrences -- what `RNN`, `LSTM` and `GRU` (and their one-step layers
`RNNCell`, `LSTMCell`, `GRUCell`) differ in: one step forward over the whole batch, and
its derivative, run over time by `minigrad.layers.recurrent.loop`.

Inside a recurrence every step's array has a column per sample (the batch on the last
axis): ``h_t`` is ``(P, N)``, the pre-activations ``z_t = xw_t + W_hh h_{t−1}`` are
``(G·H, N)``, so each gate is a contiguous block of rows -- the layout the step's
elementwise work runs fastest on (NumPy's ufuncs on a block of columns, ``z[:, h:2h]``,
go row by row: 3-5× slower at these sizes). The loop hands in the input projection
``xw_t = W_ih x_t + b_ih (+ b_hh)`` of all steps ``(T, G·H, N)`` and turns the results
back into rows.

Every recurrence adds ``W_hh h_{t−1}`` step by step and returns the pre-activation
gradients ``dZx`` (for ``W_ih``, ``b_ih``, the input) and ``dZh`` (for ``W_hh``,
``b_hh``) of every step, from which the loop forms every weight gradient as one product
over all steps (``dZh = dZx`` except in the GRU, whose candidate multiplies the hidden
part by ``r``). The formulas are in each class.

On every array library: the step loops over time only (it is the recurrence), each step
a few whole-batch products and elementwise calls of the standard. On NumPy a step makes
no temporary: the products are written into a step buffer (`minigrad.backend.matmul_into`),
the elementwise results into the per-step arrays (`minigrad.backend.compute_into`, NumPy's
``out=``) and the gates' nonlinearities in place (`minigrad.backend.gates_into`); the LSTM
adds ``W_hh h_{t−1}`` into the projection's own buffer and keeps its gates there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

from minigrad import backend
from minigrad.backend import compute_into
from minigrad.core import Array, Parameter

__all__ = ["GRURecurrence", "LSTMRecurrence", "RNNRecurrence", "Recurrence", "Weights",
           "columns", "side_by_side"]


def columns(v: Array, n: int) -> Array:
    """The vector ``v`` repeated as ``n`` columns, ``(len(v), n)``, in memory: a bias
    added to every step's ``(G·H, N)`` array (adding ``v[:, None]`` directly broadcasts
    along the short last axis, NumPy's slowest pass)."""
    tile: Array = backend.empty_like_shape(v, (v.shape[0], n))
    tile[...] = backend.reshape(v, (-1, 1))
    return tile


def side_by_side(steps: Array) -> Array:
    """Every step's ``(F, N)`` array of ``steps (T, F, N)`` side by side, ``(F, T·N)``
    (a copy): column ``t·N + n`` is sample ``n`` of step ``t``, the order of the loop's
    input rows -- so a sum over steps and samples is one matrix product."""
    xp = backend.namespace(steps)
    t, f, n = steps.shape
    flat: Array = backend.reshape(xp.permute_dims(steps, (1, 0, 2)), (f, t * n))
    return flat


class Weights:
    """The parameters of one direction of one layer -- PyTorch's ``weight_ih_l{k}``,
    ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (``_reverse`` for the reverse
    direction) and the LSTM's projection ``weight_hr_l{k}`` -- as the recurrence reads
    them. ``bias_ih``, ``bias_hh`` are None without bias, ``hr`` None without projection."""

    def __init__(self, ih: Parameter, hh: Parameter, bias_ih: Parameter | None,
                 bias_hh: Parameter | None, hr: Parameter | None = None) -> None:
        self.ih, self.hh, self.bias_ih, self.bias_hh, self.hr = ih, hh, bias_ih, bias_hh, hr


Scan = tuple[Array, tuple[Array, ...], tuple[Array, ...]]
"""A forward scan: the hidden states ``h_0 .. h_T`` ``(T+1, P, N)``, the final state, and
what the backward needs per step."""


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
        """Run the recurrence on the projected inputs ``xw (T, G·H, N)`` from ``state``
        (arrays ``(P, N)``, ``(H, N)``)."""

    @abstractmethod
    def scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...], w: Weights,
                      dfinal: tuple[Array, ...] | None) -> tuple[Array, Array, tuple[Array, ...]]:
        """Given dL/dh_t from above ``(T, P, N)`` and dL/d(final state) (None: zero),
        return ``dZx``, ``dZh`` ``(T, G·H, N)`` and dL/d(initial state). Accumulates the
        gradients of the parameters only it reads (the LSTM's ``W_hr``)."""

    @staticmethod
    def _carried(likes: tuple[Array, ...], dfinal: tuple[Array, ...] | None) -> list[Array]:
        """The gradients carried into the last step: dL/d(final state), or zeros."""
        if dfinal is not None:
            return list(dfinal)
        return [backend.namespace(like).zeros_like(like) for like in likes]


class RNNRecurrence(Recurrence):
    """The Elman RNN's recurrence ``h_t = f(xw_t + W_hh h_{t−1})``, ``f`` tanh or ReLU;
    its backward is `RNN`'s docstring. Cache: every ``h_t``.
    """

    def __init__(self, hidden_size: int, nonlinearity: Literal["tanh", "relu"]) -> None:
        super().__init__(hidden_size)
        self.nonlinearity = nonlinearity

    def scan(self, xw: Array, state: tuple[Array, ...], w: Weights) -> Scan:
        t, h, n = xw.shape
        hs = backend.empty_like_shape(xw, (t + 1, h, n))
        hs[0, ...] = state[0]
        recurrent = backend.empty_like_shape(xw, (h, n))  # W_hh h_{t−1} of a step
        for step in range(t):
            after = np.s_[step + 1, ...]
            backend.matmul_into(w.hh.data, hs[step, ...], recurrent)
            compute_into(hs, after, "add", xw[step, ...], recurrent)
            if self.nonlinearity == "tanh":
                compute_into(hs, after, "tanh", hs[after])
            else:
                compute_into(hs, after, "maximum", hs[after], 0.0)
        return hs, (hs[t, ...],), ()

    def scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...], w: Weights,
                      dfinal: tuple[Array, ...] | None) -> tuple[Array, Array, tuple[Array, ...]]:
        xp = backend.namespace(dhs)
        dz = backend.empty_like_shape(hs, tuple(dhs.shape))
        (dh_carry,) = self._carried((hs[0, ...],), dfinal)
        dh_back = backend.empty_like_shape(hs, tuple(dhs.shape[1:]))  # W_hhᵀ dZ_t
        w_hh_t = w.hh.data.T
        for step in range(dhs.shape[0] - 1, -1, -1):
            h = hs[step + 1, ...]
            slope = 1.0 - h * h if self.nonlinearity == "tanh" else xp.astype(h > 0, h.dtype)
            compute_into(dz, np.s_[step, ...], "multiply", dhs[step, ...] + dh_carry, slope)
            backend.matmul_into(w_hh_t, dz[step, ...], dh_back)
            dh_carry = dh_back
        return dz, dz, (dh_carry,)


class LSTMRecurrence(Recurrence):
    """LSTM, gates in PyTorch's order (i, f, g, o), with an optional projection
    ``W_hr (P, H)`` of the hidden state (PyTorch's ``proj_size`` P)::

        [i f g o] = [σ σ tanh σ](xw_t + W_hh h_{t−1})
        c_t = f ⊙ c_{t−1} + i ⊙ g        m_t = o ⊙ tanh(c_t)        h_t = (W_hr) m_t

    BPTT, with ``dh = G_t + W_hhᵀ dZ_{t+1}``, ``dm = (W_hrᵀ) dh`` and ``dc = dc_{t+1} ⊙
    f_{t+1} + dm ⊙ o ⊙ (1 − tanh²c_t)``: ``dZ_t = [dc⊙g·i(1−i), dc⊙c_{t−1}·f(1−f),
    dc⊙i·(1−g²), dm⊙tanh c_t·o(1−o)]``; ``dL/dW_hr = Σ_t dh_t m_tᵀ``.

    Cache: every ``h_t``, ``c_t``, gate and ``tanh c_t`` (and ``m_t``, ``dh_t`` with a
    projection).
    """

    gates = 4
    states = 2

    def __init__(self, hidden_size: int, proj_size: int = 0) -> None:
        super().__init__(hidden_size)
        self.out_size = proj_size or hidden_size

    def scan(self, xw: Array, state: tuple[Array, ...], w: Weights) -> Scan:
        t, _, n = xw.shape
        h = self.hidden_size
        hs = backend.empty_like_shape(xw, (t + 1, self.out_size, n))
        cs = backend.empty_like_shape(xw, (t + 1, h, n))
        hs[0, ...], cs[0, ...] = state
        acts = xw  # the gate buffer: xw_t, then z_t, then [i f g o], in place, step by step
        tanh_c = backend.empty_like_shape(xw, (t, h, n))
        ms = None if w.hr is None else backend.empty_like_shape(xw, (t, h, n))  # m_t
        recurrent = backend.empty_like_shape(xw, (4 * h, n))  # W_hh h_{t−1} of a step
        input_gate = backend.empty_like_shape(xw, (h, n))     # i ⊙ g of a step
        for step in range(t):
            now, after = np.s_[step, ...], np.s_[step + 1, ...]
            backend.matmul_into(w.hh.data, hs[step, ...], recurrent)
            compute_into(acts, now, "add", acts[now], recurrent)  # z_t = xw_t + W_hh h_{t−1}
            backend.gates_into(acts, now, acts[now], tanh_rows=slice(2 * h, 3 * h))
            a = acts[now]
            # c_t = f ⊙ c_{t−1} + i ⊙ g        m_t = o ⊙ tanh(c_t)
            compute_into(cs, after, "multiply", a[h:2 * h, :], cs[step, ...])
            compute_into(input_gate, ..., "multiply", a[:h, :], a[2 * h:3 * h, :])
            compute_into(cs, after, "add", cs[after], input_gate)
            compute_into(tanh_c, now, "tanh", cs[after])
            if w.hr is None or ms is None:  # h_t = m_t
                compute_into(hs, after, "multiply", a[3 * h:, :], tanh_c[now])
            else:  # h_t = W_hr m_t
                compute_into(ms, now, "multiply", a[3 * h:, :], tanh_c[now])
                hs[after] = w.hr.data @ ms[now]
        return hs, (hs[t, ...], cs[t, ...]), (acts, cs, tanh_c) + (() if ms is None else (ms,))

    def scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...], w: Weights,
                      dfinal: tuple[Array, ...] | None) -> tuple[Array, Array, tuple[Array, ...]]:
        acts, cs, tanh_c = steps[:3]
        t, n, h = dhs.shape[0], dhs.shape[2], self.hidden_size
        dz = backend.empty_like_shape(acts, tuple(acts.shape))
        dh_carry, dc_carry = self._carried((hs[0, ...], cs[0, ...]), dfinal)
        dh_all = None if w.hr is None else backend.empty_like_shape(hs, tuple(dhs.shape))
        # one step's arrays, rewritten every step: dh, dc, the gates' slopes, and what
        # reaches step t−1 (dL/dh_{t−1} = W_hhᵀ dZ_t, dL/dc_{t−1} = dc ⊙ f)
        dh, dh_back = (backend.empty_like_shape(hs, (self.out_size, n)) for _ in range(2))
        dc, dc_back = (backend.empty_like_shape(cs, (h, n)) for _ in range(2))
        slope = backend.empty_like_shape(acts, (4 * h, n))
        m = hs[1:, ...] if w.hr is None else steps[3]  # m_t = o ⊙ tanh c_t
        w_hh_t = w.hh.data.T
        for step in range(t - 1, -1, -1):
            a, tc, now = acts[step, ...], tanh_c[step, ...], np.s_[step, ...]
            i, f, g, o = a[:h, :], a[h:2 * h, :], a[2 * h:3 * h, :], a[3 * h:, :]
            compute_into(dh, ..., "add", dhs[now], dh_carry)  # dh = G_t + W_hhᵀ dZ_{t+1}
            dm = dh
            if w.hr is not None and dh_all is not None:
                dh_all[now] = dh
                dm = w.hr.data.T @ dh
            # dc = dm ⊙ o ⊙ (1 − tanh² c_t) + dc_{t+1} ⊙ f_{t+1}, o(1 − tanh² c) = o − m ⊙ tanh c
            compute_into(dc, ..., "multiply", m[now], tc)
            compute_into(dc, ..., "subtract", o, dc)
            compute_into(dc, ..., "multiply", dc, dm)
            compute_into(dc, ..., "add", dc, dc_carry)
            # dZ_t = [dc ⊙ g, dc ⊙ c_{t−1}, dc ⊙ i, dm ⊙ tanh c_t] ⊙ [σ'(i), σ'(f), 1 − g², σ'(o)]
            compute_into(dz, np.s_[step, :h, :], "multiply", dc, g)
            compute_into(dz, np.s_[step, h:2 * h, :], "multiply", dc, cs[now])
            compute_into(dz, np.s_[step, 2 * h:3 * h, :], "multiply", dc, i)
            compute_into(dz, np.s_[step, 3 * h:, :], "multiply", dm, tc)
            compute_into(slope, ..., "subtract", 1.0, a)  # σ' = a(1 − a) for i, f, o
            compute_into(slope, ..., "multiply", slope, a)
            compute_into(slope, np.s_[2 * h:3 * h, :], "multiply", g, g)  # tanh' = 1 − g²
            compute_into(slope, np.s_[2 * h:3 * h, :], "subtract", 1.0, slope[2 * h:3 * h, :])
            compute_into(dz, now, "multiply", dz[now], slope)
            compute_into(dc_back, ..., "multiply", dc, f)
            backend.matmul_into(w_hh_t, dz[now], dh_back)
            dh_carry, dc_carry = dh_back, dc_back
        if w.hr is not None and dh_all is not None:  # dL/dW_hr += Σ_t dh_t m_tᵀ
            w.hr.accumulate_matmul(side_by_side(dh_all), side_by_side(steps[3]).T)
        return dz, dz, (dh_carry, dc_carry)


class GRURecurrence(Recurrence):
    """The GRU's recurrence, gates in PyTorch's order (r, z, n), ``b_{hr,hz}`` folded
    into ``xw`` and ``b_hn`` kept inside ``r ⊙ (W_hn h_{t−1} + b_hn)``; the formulas
    forward and back are `GRU`'s docstring.

    Cache: every ``h_t``, ``r``, ``z``, ``n`` and ``W_hn h_{t−1} + b_hn``.
    """

    gates = 3

    def folded_bias(self, b_hh: Array) -> Array:
        folded: Array = backend.namespace(b_hh).asarray(b_hh, copy=True)
        folded[2 * self.hidden_size:] = 0.0  # b_hn stays inside r ⊙ (W_hn h + b_hn)
        return folded

    def scan(self, xw: Array, state: tuple[Array, ...], w: Weights) -> Scan:
        t, _, n = xw.shape
        h = self.hidden_size
        hs = backend.empty_like_shape(xw, (t + 1, h, n))
        hs[0, ...] = state[0]
        rz = backend.empty_like_shape(xw, (t, 2 * h, n))
        cand = backend.empty_like_shape(xw, (t, h, n))
        hidden_n = backend.empty_like_shape(xw, (t, h, n))
        hw = backend.empty_like_shape(xw, (3 * h, n))  # W_hh h_{t−1} of a step
        b_hn = None if w.bias_hh is None else columns(w.bias_hh.data[2 * h:], n)
        for step in range(t):
            now, after = np.s_[step, ...], np.s_[step + 1, ...]
            backend.matmul_into(w.hh.data, hs[step, ...], hw)
            compute_into(rz, now, "add", hw[:2 * h, :], xw[step, :2 * h, :])
            backend.gates_into(rz, now, rz[now])  # [r z] = σ(...)
            if b_hn is None:
                hidden_n[now] = hw[2 * h:, :]
            else:
                compute_into(hidden_n, now, "add", hw[2 * h:, :], b_hn)
            compute_into(cand, now, "multiply", rz[step, :h, :], hidden_n[now])
            compute_into(cand, now, "add", cand[now], xw[step, 2 * h:, :])
            compute_into(cand, now, "tanh", cand[now])
            # h_t = n + z ⊙ (h_{t−1} − n)
            compute_into(hs, after, "subtract", hs[step, ...], cand[now])
            compute_into(hs, after, "multiply", hs[after], rz[step, h:, :])
            compute_into(hs, after, "add", hs[after], cand[now])
        return hs, (hs[t, ...],), (rz, cand, hidden_n)

    def scan_backward(self, dhs: Array, hs: Array, steps: tuple[Array, ...], w: Weights,
                      dfinal: tuple[Array, ...] | None) -> tuple[Array, Array, tuple[Array, ...]]:
        rz, cand, hidden_n = steps
        t, h, n = dhs.shape
        dzx = backend.empty_like_shape(hs, (t, 3 * h, n))
        dzh = backend.empty_like_shape(hs, (t, 3 * h, n))
        (dh_carry,) = self._carried((hs[0, ...],), dfinal)
        # one step's arrays, rewritten every step
        dh, dh_back, spare = (backend.empty_like_shape(hs, (h, n)) for _ in range(3))
        slope = backend.empty_like_shape(hs, (2 * h, n))
        w_hh_t = w.hh.data.T
        for step in range(t - 1, -1, -1):
            now, rows_n = np.s_[step, ...], np.s_[step, 2 * h:, :]
            r, z, c = rz[step, :h, :], rz[step, h:, :], cand[now]
            compute_into(dh, ..., "add", dhs[now], dh_carry)  # dh = G_t + dL/dh_t from t+1
            # dZn = dh ⊙ (1 − z) ⊙ (1 − n²)
            compute_into(dzx, rows_n, "multiply", c, c)
            compute_into(dzx, rows_n, "subtract", 1.0, dzx[rows_n])
            compute_into(spare, ..., "subtract", 1.0, z)
            compute_into(dzx, rows_n, "multiply", dzx[rows_n], spare)
            compute_into(dzx, rows_n, "multiply", dzx[rows_n], dh)
            dn = dzx[rows_n]
            # [dZr dZz] = [dZn ⊙ (W_hn h_{t−1} + b_hn), dh ⊙ (h_{t−1} − n)] ⊙ σ'([r z])
            compute_into(dzx, np.s_[step, :h, :], "multiply", dn, hidden_n[now])
            compute_into(dzx, np.s_[step, h:2 * h, :], "subtract", hs[now], c)
            compute_into(dzx, np.s_[step, h:2 * h, :], "multiply", dzx[step, h:2 * h, :], dh)
            compute_into(slope, ..., "subtract", 1.0, rz[now])  # σ' = a(1 − a)
            compute_into(slope, ..., "multiply", slope, rz[now])
            compute_into(dzx, np.s_[step, :2 * h, :], "multiply", dzx[step, :2 * h, :], slope)
            dzh[step, :2 * h, :] = dzx[step, :2 * h, :]
            compute_into(dzh, rows_n, "multiply", dn, r)  # dZhn = dZn ⊙ r
            # dL/dh_{t−1} = dh ⊙ z + W_hhᵀ dZh
            backend.matmul_into(w_hh_t, dzh[now], dh_back)
            compute_into(spare, ..., "multiply", dh, z)
            compute_into(dh_back, ..., "add", dh_back, spare)
            dh_carry = dh_back
        return dzx, dzh, (dh_carry,)
