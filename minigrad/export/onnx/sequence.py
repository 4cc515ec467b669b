"""ONNX converters of the recurrent layers: `RNN`, `LSTM`, `GRU` and their one-step cells
(ONNX's own ops; the attention layers are in `attention`). Imported (and so registered)
by `minigrad.export.onnx`.

Layouts: minigrad is batch-first ``(N, T, ·)``, ONNX's recurrent ops are time-major
``(T, N, ·)`` (a Transpose each way). The gate blocks of minigrad's (PyTorch's) weights
are reordered: LSTM (i, f, g, o) -> ONNX's (i, o, f, c); GRU (r, z, n) -> (z, r, h), with
``linear_before_reset=1`` -- PyTorch's candidate ``tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ +
b_hn))``. ONNX's bias is ``W_b ‖ R_b``: minigrad's ``bias_ih ‖ bias_hh`` (omitted, so
zero, for ``bias=False``).

The options: each of ``num_layers`` layers is one op, chained (its output reshaped to
``(T, N, directions·P)``, the next one's input); a bidirectional layer is one op with
``direction="bidirectional"``, its weights stacked forward first; dropout is the
identity (ONNX models compute the evaluation mode). ONNX's LSTM has no projection, so an
LSTM with ``proj_size`` is built of a ``Scan`` per direction whose body is one step
(``MatMul``, ``Sigmoid``, ``Tanh``, ``Mul``, ``Add``; the reverse direction scans
backwards). A cell is its op on a sequence of one step.
"""

from __future__ import annotations

from onnx import helper

from minigrad.core import Parameter
from minigrad.export.onnx.convert import ONNX_CONVERTERS, OnnxContext
from minigrad.layers.recurrent.cells import GRU, LSTM, RNN
from minigrad.layers.recurrent.recurrences import Weights
from minigrad.layers.recurrent.step import GRUCell, LSTMCell, RNNCell

_GATE_ORDER: dict[str, list[int]] = {"RNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}
"""For each op: ONNX's gate blocks, as indices into minigrad's."""

_OP = {RNN: "RNN", LSTM: "LSTM", GRU: "GRU", RNNCell: "RNN", LSTMCell: "LSTM", GRUCell: "GRU"}


def _gates(ctx: OnnxContext, param: Parameter, order: list[int], hidden: int) -> str:
    """``param``'s gate blocks (rows of ``hidden``) in ONNX's ``order``."""
    if order == sorted(order):
        return ctx.parameter(param)
    blocks = ctx.node_outputs("Split", [ctx.parameter(param), ctx.ints([hidden] * len(order),
                                                                        "split")],
                              len(order), axis=0)
    return ctx.node("Concat", [blocks[i] for i in order], axis=0)


def _recurrent_op(layer: RNN | LSTM | GRU | RNNCell | LSTMCell | GRUCell, ctx: OnnxContext,
                  x: str, directions: list[Weights]) -> tuple[str, str]:
    """One ONNX RNN/LSTM/GRU op on the time-major ``x (T, N, D)`` with one `Weights` per
    direction; return ``Y (T, N, directions·H)`` and ``Y_h (directions, N, H)``."""
    op, hidden = _OP[type(layer)], layer.hidden_size
    order, axis0 = _GATE_ORDER[op], ctx.ints([0], "axes")

    def stacked(values: list[str]) -> str:  # (directions, ·, ·)
        values = [ctx.node("Unsqueeze", [value, axis0]) for value in values]
        return values[0] if len(values) == 1 else ctx.node("Concat", values, axis=0)

    operands = [x] + [stacked([_gates(ctx, getattr(w, kind), order, hidden)
                               for w in directions]) for kind in ("ih", "hh")]
    if directions[0].bias_ih is not None:
        operands.append(stacked([ctx.node("Concat", [
            _gates(ctx, p, order, hidden) for p in (w.bias_ih, w.bias_hh) if p is not None],
            axis=0) for w in directions]))
    attributes: dict[str, object] = {"hidden_size": hidden}
    if len(directions) == 2:
        attributes["direction"] = "bidirectional"
    if op == "RNN":
        attributes["activations"] = ["Tanh" if layer.nonlinearity == "tanh" else "Relu"] * len(
            directions)
    if op == "GRU":
        attributes["linear_before_reset"] = 1
    y, y_h = ctx.node_outputs(op, operands, 2, **attributes)[:2]
    # Y (T, directions, N, H) -> (T, N, directions·H)
    y = ctx.node("Transpose", [y], perm=[0, 2, 1, 3])
    return ctx.node("Reshape", [y, ctx.ints([0, 0, len(directions) * hidden])]), y_h


def _projected_lstm(layer: LSTM, ctx: OnnxContext, x: str, w: Weights, reverse: bool
                    ) -> tuple[str, str]:
    """One direction of an LSTM with ``proj_size``, as a ``Scan`` over ``x (T, N, D)``
    whose body is one step; return ``Y (T, N, P)`` and ``h_T (N, P)``."""
    assert w.hr is not None
    h, p = layer.hidden_size, layer.proj_size

    def transposed(param: Parameter) -> str:
        return ctx.node("Transpose", [ctx.parameter(param)], perm=[1, 0])

    xw = ctx.node("MatMul", [x, transposed(w.ih)])  # (T, N, 4H), every step at once
    if w.bias_ih is not None and w.bias_hh is not None:
        xw = ctx.node("Add", [xw, ctx.node("Add", [ctx.parameter(w.bias_ih),
                                                   ctx.parameter(w.bias_hh)])])
    r_t, hr_t = transposed(w.hh), transposed(w.hr)
    batch = ctx.node("Shape", [x], start=1, end=2)  # [N]

    def zeros(width: int) -> str:
        shape = ctx.node("Concat", [batch, ctx.ints([width])], axis=0)
        return ctx.node("ConstantOfShape", [shape],
                        value=helper.make_tensor("value", ctx.elem_type, [1], [0]))

    split = ctx.ints([h] * 4, "split")
    name = ctx.fresh("step")  # the body's values, named apart from the outer graph's

    def v(label: str) -> str:
        return f"{name}/{label}"

    body = [
        helper.make_node("MatMul", [v("h"), r_t], [v("hr")]),
        helper.make_node("Add", [v("hr"), v("xw")], [v("z")]),
        helper.make_node("Split", [v("z"), split], [v(g) for g in "ifgo"], axis=1),
        *(helper.make_node("Sigmoid", [v(g)], [v(g + "σ")]) for g in "ifo"),
        helper.make_node("Tanh", [v("g")], [v("gσ")]),
        helper.make_node("Mul", [v("fσ"), v("c")], [v("fc")]),
        helper.make_node("Mul", [v("iσ"), v("gσ")], [v("ig")]),
        helper.make_node("Add", [v("fc"), v("ig")], [v("c_next")]),
        helper.make_node("Tanh", [v("c_next")], [v("tanh_c")]),
        helper.make_node("Mul", [v("oσ"), v("tanh_c")], [v("m")]),
        helper.make_node("MatMul", [v("m"), hr_t], [v("h_next")]),
        helper.make_node("Identity", [v("h_next")], [v("y")]),
    ]
    values = {label: helper.make_tensor_value_info(v(label), ctx.elem_type, None)
              for label in ("h", "c", "xw", "h_next", "c_next", "y")}
    graph = helper.make_graph(body, name, [values["h"], values["c"], values["xw"]],
                              [values["h_next"], values["c_next"], values["y"]])
    direction = [1 if reverse else 0]
    h_t, _, y = ctx.node_outputs("Scan", [zeros(p), zeros(h), xw], 3, body=graph,
                                 num_scan_inputs=1, scan_input_directions=direction,
                                 scan_output_directions=direction)
    return y, h_t


def _recurrent(layer: RNN | LSTM | GRU, ctx: OnnxContext, inputs: list[str]) -> str:
    x = ctx.node("Transpose", inputs, perm=[1, 0, 2])  # (T, N, D)
    finals: list[str] = []
    for k in range(layer.num_layers):  # dropout between layers: the identity here
        directions = [layer.weights(k, d) for d in range(layer.directions)]
        if isinstance(layer, LSTM) and layer.proj_size:
            runs = [_projected_lstm(layer, ctx, x, w, bool(d)) for d, w in enumerate(directions)]
            ys, finals = [y for y, _ in runs], [final for _, final in runs]
            x = ys[0] if len(ys) == 1 else ctx.node("Concat", ys, axis=2)
        else:
            x, y_h = _recurrent_op(layer, ctx, x, directions)
            finals = ctx.node_outputs("Split", [y_h, ctx.ints([1] * len(directions), "split")],
                                      len(directions), axis=0)
            finals = [ctx.node("Squeeze", [final, ctx.ints([0], "axes")]) for final in finals]
    if not layer.return_sequences:  # the final h of each direction (N, P), joined
        return finals[0] if len(finals) == 1 else ctx.node("Concat", finals, axis=1)
    return ctx.node("Transpose", [x], perm=[1, 0, 2])  # (N, T, directions·P)


def _cell(layer: RNNCell | LSTMCell | GRUCell, ctx: OnnxContext, inputs: list[str]) -> str:
    """A one-step sequence ``(1, N, D)`` through the op; its ``Y_h`` is ``h' (N, H)``."""
    axis0 = ctx.ints([0], "axes")
    w = Weights(layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh)
    _, y_h = _recurrent_op(layer, ctx, ctx.node("Unsqueeze", [inputs[0], axis0]), [w])
    return ctx.node("Squeeze", [y_h, axis0])


for _type in (RNN, LSTM, GRU):
    ONNX_CONVERTERS[_type] = _recurrent
for _cell_type in (RNNCell, LSTMCell, GRUCell):
    ONNX_CONVERTERS[_cell_type] = _cell
