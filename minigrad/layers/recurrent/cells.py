"""The recurrent sequence layers, batch-first, with PyTorch's options, formulas and
parameter layouts: `RNN`, `LSTM`, `GRU` -- each a `Recurrent` (the stacking of layers and
directions, `minigrad.layers.recurrent.stacked`) of its cell's recurrence
(`minigrad.layers.recurrent.recurrences`)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import init as initializers
from minigrad.layers.recurrent.loop import State
from minigrad.layers.recurrent.recurrences import (
    GRURecurrence,
    LSTMRecurrence,
    Recurrence,
    RNNRecurrence,
)
from minigrad.layers.recurrent.stacked import Recurrent, RecurrentCache

__all__ = ["GRU", "LSTM", "RNN", "Recurrent", "RecurrentCache", "State"]


class RNN(Recurrent):
    """Elman RNN, as ``torch.nn.RNN(batch_first=True)``: ``h_t = f(x_t W_ihᵀ + b_ih +
    h_{t−1} W_hhᵀ + b_hh)``, ``f`` tanh or ReLU.

    BPTT: ``dZ_t = (G_t + dZ_{t+1} W_hh) ⊙ f'(h_t)``, with ``f' = 1 − h²`` (tanh) or
    ``[h > 0]`` (ReLU).

    Shapes: ``(N, T, D) -> (N, T, directions·H)``, or ``(N, directions·H)`` without
    ``return_sequences``. Parameters ``weight_ih_l{k} (H, D_k)``, ``weight_hh_l{k} (H,
    H)``, ``bias_ih_l{k}``, ``bias_hh_l{k} (H,)``, ``_reverse`` for the reverse direction;
    states ``(num_layers·directions, N, H)`` (``(N, H)`` for one layer, one direction):
    see `minigrad.layers.recurrent.stacked`.

    Cache: per layer and direction the time-major input and every ``h_t``; the dropout
    masks.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H (each >= 1).
    nonlinearity : {"tanh", "relu"}, default "tanh"
    return_sequences : bool, default True
        Every step's output ``(N, T, directions·H)``; False: the final ``h`` of each
        direction of the last layer, concatenated, ``(N, directions·H)`` -- for one
        direction, the last step.
    num_layers : int >= 1, default 1
        Stacked layers, each reading the output of the one below.
    bias : bool, default True
        False: no ``bias_ih_l{k}``, ``bias_hh_l{k}``.
    dropout : float in [0, 1], default 0
        Dropout on the input of every layer but the first, in training mode only (as
        PyTorch: none after the last layer, so none at all for ``num_layers=1``).
    bidirectional : bool, default False
        Run every layer in both directions of time, outputs concatenated (forward first).
    init : Initializer, optional
        Draws the weights, called with ``(fan_in, fan_out)`` and stored transposed;
        default PyTorch's U(−1/√H, 1/√H), which the biases always use.
    rng : int, numpy Generator or RandomState, optional
        The parameters, then the dropout masks.
    dtype : float dtype, default float64

    Raises
    ------
    ValueError
        A bad argument (naming the layer and the value); an input not of shape ``(N, T,
        D)`` or with ``T = 0``; a state of the wrong shape; a gradient not of the
        output's shape.
    TypeError
        A non-bool ``bias`` or ``bidirectional``, a non-real input, a malformed state, a
        non-floating ``dtype``.
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
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        super().__init__(input_size, hidden_size, return_sequences, num_layers=num_layers,
                         bias=bias, dropout=dropout, bidirectional=bidirectional,
                         nonlinearity=nonlinearity, init=init, rng=rng, dtype=dtype)

    @override
    def _recurrence(self) -> Recurrence:
        return RNNRecurrence(self.hidden_size, self.nonlinearity)


class LSTM(Recurrent):
    """Long short-term memory, as ``torch.nn.LSTM(batch_first=True)``; gates in PyTorch's
    order (i, f, g, o) in the rows of ``weight_ih_l{k} (4H, D_k)``, ``weight_hh_l{k}
    (4H, P)``::

        [i f g o] = [σ σ tanh σ](x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)
        c_t = f ⊙ c_{t−1} + i ⊙ g        h_t = o ⊙ tanh(c_t)   (then W_hrᵀ: proj_size)

    BPTT, with ``dh = G_t + dZ_{t+1} W_hh`` and ``dc = dc_{t+1} ⊙ f_{t+1} + dh ⊙ o ⊙ (1 −
    tanh²c_t)``: ``dZ_t = [dc⊙g·i(1−i), dc⊙c_{t−1}·f(1−f), dc⊙i·(1−g²), dh⊙tanh c_t·o(1−o)]``
    (with a projection, ``dh W_hr`` in place of ``dh``: `LSTMRecurrence`).

    Shapes: ``(N, T, D) -> (N, T, directions·P)`` or ``(N, directions·P)``; ``P`` is
    ``proj_size`` or ``H``. State ``(h, c)``: ``h (num_layers·directions, N, P)``, ``c
    (num_layers·directions, N, H)``, each ``(N, ·)`` for one layer, one direction.

    Cache: per layer and direction the time-major input, every ``h_t``, ``c_t``, gate
    and ``tanh c_t`` (with a projection also ``o ⊙ tanh c_t`` and ``dL/dh_t``); the
    dropout masks.

    Parameters, Raises: as `RNN` (no ``nonlinearity``), and

    Parameters
    ----------
    proj_size : int in [0, hidden_size), default 0
        Positive: every ``h_t`` projected to ``P = proj_size`` features by ``weight_hr_l{k}
        (P, H)`` (PyTorch's LSTM with projections).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        return_sequences: bool = True,
        *,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        super().__init__(input_size, hidden_size, return_sequences, num_layers=num_layers,
                         bias=bias, dropout=dropout, bidirectional=bidirectional,
                         proj_size=proj_size, init=init, rng=rng, dtype=dtype)

    @override
    def _recurrence(self) -> Recurrence:
        return LSTMRecurrence(self.hidden_size, self.proj_size)


class GRU(Recurrent):
    """Gated recurrent unit, as ``torch.nn.GRU(batch_first=True)``; gates in PyTorch's
    order (r, z, n) in the rows of ``weight_ih_l{k} (3H, D_k)``, ``weight_hh_l{k} (3H,
    H)``::

        r, z = σ(x_t W_{ir,iz}ᵀ + b_{ir,iz} + h_{t−1} W_{hr,hz}ᵀ + b_{hr,hz})
        n = tanh(x_t W_inᵀ + b_in + r ⊙ (h_{t−1} W_hnᵀ + b_hn))
        h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

    BPTT, with ``dh = G_t + (dL/dh_t from step t+1)``, ``dn = dh ⊙ (1 − z)(1 − n²)``:
    ``dZx_t = [dn⊙(h_{t−1}W_hnᵀ + b_hn)·r(1−r), dh⊙(h_{t−1} − n)·z(1−z), dn]``, ``dZh_t``
    the same but ``dn ⊙ r`` in the last block, and ``dL/dh_{t−1} = dh ⊙ z + dZh_t W_hh``.

    Shapes: ``(N, T, D) -> (N, T, directions·H)`` or ``(N, directions·H)``.

    Cache: per layer and direction the time-major input, every ``h_t``, ``r``, ``z``,
    ``n`` and ``h_{t−1}W_hnᵀ + b_hn``; the dropout masks.

    Parameters, Raises: as `RNN` (no ``nonlinearity``).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        return_sequences: bool = True,
        *,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        super().__init__(input_size, hidden_size, return_sequences, num_layers=num_layers,
                         bias=bias, dropout=dropout, bidirectional=bidirectional, init=init,
                         rng=rng, dtype=dtype)

    @override
    def _recurrence(self) -> Recurrence:
        return GRURecurrence(self.hidden_size)
