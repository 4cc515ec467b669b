"""The recurrent sequence layers `RNN`, `LSTM`, `GRU`, batch-first, as ``torch.nn.RNN``/
``LSTM``/``GRU(batch_first=True)`` with every option of PyTorch's: ``num_layers``,
``bidirectional``, ``bias``, ``dropout`` between layers, the RNN's ``nonlinearity``,
the LSTM's ``proj_size``. Their shared machinery is `Recurrent`.

Composition: layer ``k`` of ``L`` runs the one-direction loop of
`minigrad.layers.recurrent.loop` forwards in time and, if bidirectional, again on its
input reversed in time; the two directions' outputs are concatenated on the feature axis
(forward first), and that -- after dropout, in training -- is layer ``k+1``'s input::

    y⁽⁰⁾ = x        y⁽ᵏ⁺¹⁾ = [→h⁽ᵏ⁾(m⁽ᵏ⁾ ⊙ y⁽ᵏ⁾) ‖ ←h⁽ᵏ⁾(m⁽ᵏ⁾ ⊙ y⁽ᵏ⁾)]

with ``m⁽⁰⁾ = 1`` and ``m⁽ᵏ⁾`` inverted dropout masks (``k ≥ 1``, training only). Backward
runs the same composition in reverse: each direction's input gradient (flipped back for
the reverse one) is summed into the layer's, multiplied by the mask, and handed down.

Parameters, with PyTorch's names and layouts: for each layer ``k`` and direction (suffix
``""`` or ``"_reverse"``), ``weight_ih_l{k}`` ``(G·H, D_k)`` (``D_0 = D``, then
``directions·P``), ``weight_hh_l{k}`` ``(G·H, P)``, ``bias_ih_l{k}``, ``bias_hh_l{k}``
``(G·H,)`` (without ``bias=False``), and the LSTM's ``weight_hr_l{k}`` ``(P, H)`` (with
``proj_size=P``; otherwise ``P = H``). ``G`` is 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r,
z, n). So ``state_dict()`` is ``torch.nn.LSTM(...).state_dict()``'s keys and shapes.

States: ``forward(x, initial_state=...)`` starts from a given state (zeros by default)
-- an array ``h0`` (RNN, GRU) or a pair ``(h0, c0)`` (LSTM) -- in PyTorch's layout
``(L·directions, N, P)`` (``c``: ``(L·directions, N, H)``), index ``directions·k + d``;
the single-layer unidirectional layer drops the leading axis of 1: ``(N, H)``, as
before. After a forward, ``layer.final_state`` holds the last state in the same form,
and after a backward ``layer.initial_state_grad`` holds dL/d(initial state);
``backward(g, final_state_grad=...)`` adds a gradient arriving at the final state (from
a later chunk, or from a loss on it).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.core import (
    Array,
    as_grad,
    check_count,
    check_number,
    check_parameter_dtype,
)
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
from minigrad.layers.recurrent.recurrences import Recurrence, Weights

__all__ = ["Recurrent", "RecurrentCache"]

RecurrentCache = tuple[tuple[DirectionCache, ...], tuple[Array | None, ...], tuple[int, ...]]
"""Each (layer, direction)'s cache, the dropout multipliers of layers 1 .. L−1 (None
where none was applied), the input's shape."""


class Recurrent(StatefulLayer[RecurrentCache]):
    """Options, parameters, states, the composition of layers and directions and its
    backward; a subclass gives the cell (`_recurrence`) and its docstring."""

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
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        name = type(self).__name__
        self.input_size = check_count(name, "input_size", input_size, 1)
        self.hidden_size = check_count(name, "hidden_size", hidden_size, 1)
        self.num_layers = check_count(name, "num_layers", num_layers, 1)
        self.bias = _check_flag(name, "bias", bias)
        self.bidirectional = _check_flag(name, "bidirectional", bidirectional)
        self.return_sequences = bool(return_sequences)
        self.dropout = check_number(name, "dropout", dropout, "a number in [0, 1]",
                                    lambda p: 0 <= p <= 1)
        self.proj_size = check_count(name, "proj_size", proj_size, 0)
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"{name}: proj_size must be in [0, hidden_size) = [0, "
                             f"{self.hidden_size}), got {proj_size!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.cell = self._recurrence()
        dtype = check_parameter_dtype(name, dtype)
        self.rng = initializers.make_rng(rng)  # the weights, then the dropout masks
        draws = ParameterDraws(name, self.hidden_size, init, self.rng, dtype)
        width, out = self.cell.gates * self.hidden_size, self.cell.out_size
        for layer in range(self.num_layers):  # PyTorch's order of parameters
            fan_in = self.input_size if layer == 0 else self.directions * out
            for direction in range(self.directions):
                suffix = self._suffix(layer, direction)
                for param in (draws.weight(width, fan_in, "weight_ih" + suffix),
                              draws.weight(width, out, "weight_hh" + suffix)):
                    setattr(self, param.name, param)
                if self.bias:
                    for kind in ("bias_ih", "bias_hh"):
                        setattr(self, kind + suffix, draws.bias(width, kind + suffix))
                if self.proj_size:
                    weight_hr = draws.weight(out, self.hidden_size, "weight_hr" + suffix)
                    setattr(self, weight_hr.name, weight_hr)
        self.final_state: State | None = None
        self.initial_state_grad: State | None = None

    def _recurrence(self) -> Recurrence:
        """The cell: its sizes and options."""
        raise NotImplementedError  # every concrete layer says which

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def weights(self, layer: int, direction: int) -> Weights:
        """The parameters of ``layer``'s forward (0) or reverse (1) direction."""
        suffix = self._suffix(layer, direction)

        def get(kind: str) -> Any:  # a Parameter, or None where the option has none
            return getattr(self, kind + suffix, None)

        return Weights(get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"),
                       get("weight_hr"))

    # -- states ---------------------------------------------------------------------------
    def _state_shapes(self, n: int) -> tuple[tuple[int, ...], ...]:
        lead = () if self.num_layers * self.directions == 1 else (
            self.num_layers * self.directions,)
        shapes = ((*lead, n, self.cell.out_size), (*lead, n, self.hidden_size))
        return shapes[:self.cell.states]

    def _split(self, state: object, n: int, what: str) -> list[tuple[Array, ...]] | None:
        """A state in the public form as one tuple per (layer, direction); None stays."""
        if state is None:
            return None
        parts = check_state(self, state, self._state_shapes(n), self.weights(0, 0).hh.data,
                            what)
        count = self.num_layers * self.directions
        return [parts] if count == 1 else [tuple(p[i, ...] for p in parts)
                                           for i in range(count)]

    def _join(self, states: list[tuple[Array, ...]]) -> State:
        """The public form of one state per (layer, direction)."""
        if len(states) == 1:
            parts = states[0]
        else:
            xp = backend.namespace(states[0][0])
            parts = tuple(xp.stack([s[j] for s in states]) for j in range(len(states[0])))
        return parts[0] if len(parts) == 1 else (parts[0], parts[1])

    # -- forward --------------------------------------------------------------------------
    @override
    def forward(self, x: Array, initial_state: State | None = None) -> Array:
        """``x (N, T, D) -> (N, T, directions·P)``, or without ``return_sequences`` the
        final ``h`` of each direction of the last layer, concatenated, ``(N,
        directions·P)``; ``initial_state``: see the module docstring."""
        like = self.weights(0, 0).ih.data
        x = as_nd(self, x, expected=f"(batch, T, {self.input_size})", ndims=(3,),
                  sizes={2: self.input_size}, dtype=like.dtype)
        xp = backend.namespace(x)
        n = x.shape[0]
        starts = self._split(initial_state, n, "initial_state")
        if starts is None:
            zeros = [xp.zeros(shape[-2:], dtype=like.dtype, device=backend.device(like))
                     for shape in self._state_shapes(n)]
            starts = [tuple(zeros)] * (self.num_layers * self.directions)
        layer_in = xp.permute_dims(x, (1, 0, 2))  # (T, N, D): time-major
        caches: list[DirectionCache] = []
        masks: list[Array | None] = []
        finals: list[tuple[Array, ...]] = []
        for layer in range(self.num_layers):
            if layer > 0:
                layer_in, mask = self._dropout(layer_in)
                masks.append(mask)
            outputs = []
            for direction in range(self.directions):
                # the reverse direction reads its input, and writes its output, flipped
                seq = xp.flip(layer_in, axis=0) if direction else layer_in
                hs, final, cache = run_direction(
                    self.cell, self.weights(layer, direction), seq,
                    starts[layer * self.directions + direction])
                outputs.append(xp.flip(hs[1:, ...], axis=0) if direction else hs[1:, ...])
                caches.append(cache)
                finals.append(final)
            layer_in = outputs[0] if len(outputs) == 1 else xp.concat(outputs, axis=2)
        self.final_state = self._join(finals)
        self.cache = (tuple(caches), tuple(masks), tuple(x.shape))
        if self.return_sequences:
            y = xp.permute_dims(layer_in, (1, 0, 2))
        else:
            last = [final[0] for final in finals[-self.directions:]]
            y = last[0] if len(last) == 1 else xp.concat(last, axis=1)
        out: Array = backend.owned_copy(y)  # C order; and the cached states stay private
        return out

    @override
    def __call__(self, x: npt.ArrayLike, initial_state: State | None = None) -> Array:
        return self.forward(x, initial_state)  # type: ignore[arg-type]  # validated there

    def _dropout(self, x: Array) -> tuple[Array, Array | None]:
        """Inverted dropout on a layer's input ``(T, N, F)`` in training mode: the mask
        is ``rng.random((N, T, F)) >= p`` (batch-first, as the user sees the sequence),
        the kept units scaled by ``1/(1 − p)`` (all dropped for ``p = 1``)."""
        if not self.training or self.dropout == 0:
            return x, None
        t, n, f = x.shape
        keep = np.transpose(self.rng.random((n, t, f)) >= self.dropout, (1, 0, 2))
        scale = 0.0 if self.dropout == 1 else 1 / (1 - self.dropout)
        multiplier = backend.asarray_like(  # drawn in NumPy, moved where x lives
            np.multiply(keep, scale, dtype=backend.numpy_dtype(x.dtype)), x)
        return x * multiplier, multiplier

    # -- backward -------------------------------------------------------------------------
    @override
    def _backward(self, grad_out: Array, final_state_grad: State | None, *,
                  input_grad: bool) -> Array | None:
        caches, masks, (n, t, _) = self.saved()
        hs = caches[0][1]
        xp = backend.namespace(hs)
        p, directions = self.cell.out_size, self.directions
        if self.return_sequences:
            dy = xp.permute_dims(as_grad(self, grad_out, (n, t, directions * p), hs.dtype),
                                 (1, 0, 2))
        else:  # the final h of each direction: step T−1 forwards, step 0 in reverse
            g = as_grad(self, grad_out, (n, directions * p), hs.dtype)
            dy = xp.zeros((t, n, directions * p), dtype=hs.dtype, device=backend.device(hs))
            for direction in range(directions):
                dy[0 if direction else t - 1, :, direction * p:(direction + 1) * p] = \
                    g[:, direction * p:(direction + 1) * p]
        dfinals = self._split(final_state_grad, n, "final_state_grad")
        dstates: list[tuple[Array, ...]] = [()] * (self.num_layers * directions)
        d_in: Array | None = None
        for layer in range(self.num_layers - 1, -1, -1):
            d_in = None
            for direction in range(directions):
                index = layer * directions + direction
                dhs = dy[:, :, direction * p:(direction + 1) * p]
                dx, dstate = run_direction_backward(
                    self.cell, self.weights(layer, direction), caches[index],
                    xp.flip(dhs, axis=0) if direction else dhs,
                    None if dfinals is None else dfinals[index],
                    input_grad=input_grad or layer > 0)
                dstates[index] = dstate
                if dx is not None:
                    dx = xp.flip(dx, axis=0) if direction else dx
                    d_in = dx if d_in is None else d_in + dx
            if layer > 0:
                mask = masks[layer - 1]
                dy = d_in if mask is None else d_in * mask
        self.initial_state_grad = self._join(dstates)
        if not input_grad or d_in is None:
            return None
        grad_in: Array = backend.owned_copy(xp.permute_dims(d_in, (1, 0, 2)))
        return grad_in

    @override
    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        options = {"num_layers": (self.num_layers, 1), "bias": (self.bias, True),
                   "dropout": (self.dropout, 0.0), "bidirectional": (self.bidirectional, False),
                   "proj_size": (self.proj_size, 0), "nonlinearity": (self.nonlinearity, "tanh"),
                   "return_sequences": (self.return_sequences, True)}
        for key, (value, default) in options.items():
            if value != default:
                text += f", {key}={value!r}"
        dtype = self.weights(0, 0).ih.dtype
        if backend.numpy_dtype(dtype) != np.float64:
            text += f", dtype={dtype}"
        return text


def _check_flag(owner: str, name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return bool(value)

