"""ONNX converters of the recurrent layers: `RNN`, `LSTM`, `GRU` (ONNX's own ops; the
attention layers are in `attention`). Imported (and so registered) by `minigrad.export.onnx`.

Layouts: minigrad is batch-first ``(N, T, ·)``, ONNX's recurrent ops are time-major
``(T, N, ·)`` (a Transpose each way). The gate blocks of minigrad's (PyTorch's) weights
are reordered: LSTM (i, f, g, o) -> ONNX's (i, o, f, c); GRU (r, z, n) -> (z, r, h), with
``linear_before_reset=1`` -- PyTorch's candidate ``tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ +
b_hn))``. ONNX's bias is ``W_b ‖ R_b``: minigrad's ``bias_ih ‖ bias_hh``.
"""

from __future__ import annotations

from minigrad.core import Parameter
from minigrad.export.onnx.convert import ONNX_CONVERTERS, OnnxContext
from minigrad.layers.recurrent.cells import GRU, LSTM, RNN

_GATE_ORDER: dict[type, list[int]] = {RNN: [0], LSTM: [0, 3, 1, 2], GRU: [1, 0, 2]}
"""For each layer type: ONNX's gate blocks, as indices into minigrad's."""


def _gates(ctx: OnnxContext, param: Parameter, order: list[int], hidden: int) -> str:
    """``param``'s gate blocks (rows of ``hidden``) in ONNX's ``order``."""
    if order == sorted(order):
        return ctx.parameter(param)
    blocks = ctx.node_outputs("Split", [ctx.parameter(param), ctx.ints([hidden] * len(order),
                                                                        "split")],
                              len(order), axis=0)
    return ctx.node("Concat", [blocks[i] for i in order], axis=0)


def _recurrent(layer: RNN | LSTM | GRU, ctx: OnnxContext, inputs: list[str]) -> str:
    order, hidden = _GATE_ORDER[type(layer)], layer.hidden_size
    axis0 = ctx.ints([0], "axes")
    w, r, b_ih, b_hh = (_gates(ctx, p, order, hidden) for p in (
        layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh))
    bias = ctx.node("Concat", [b_ih, b_hh], axis=0)
    operands = [ctx.node("Transpose", inputs, perm=[1, 0, 2])]  # (T, N, D)
    operands += [ctx.node("Unsqueeze", [value, axis0]) for value in (w, r, bias)]
    attributes: dict[str, object] = {"hidden_size": hidden}
    if isinstance(layer, RNN):
        attributes["activations"] = ["Tanh" if layer.nonlinearity == "tanh" else "Relu"]
    if isinstance(layer, GRU):
        attributes["linear_before_reset"] = 1
    op = type(layer).__name__
    outputs = ctx.node_outputs(op, operands, 3 if isinstance(layer, LSTM) else 2,
                               **attributes)
    if not layer.return_sequences:  # Y_h (1, N, H) -> (N, H)
        return ctx.node("Squeeze", [outputs[1], axis0])
    # Y (T, 1, N, H) -> (N, T, H)
    steps = ctx.node("Squeeze", [outputs[0], ctx.ints([1], "axes")])
    return ctx.node("Transpose", [steps], perm=[1, 0, 2])


for _type in _GATE_ORDER:
    ONNX_CONVERTERS[_type] = _recurrent
