"""`to_onnx`: a minigrad model as an ONNX graph, built node by node from its structure.

No tracing: each layer has a *converter* that appends its ONNX nodes to an `OnnxContext`,
and containers convert their children in order (`Sequential`) or in their plan (`Graph`).
The graph computes the model's evaluation-mode function (`Dropout` is the identity).

Where a layer's converter comes from, in this order:

1. the layer's own method ``to_onnx(self, ctx, inputs) -> str`` -- the hook for your
   layers: ``inputs`` are the names of its input values (one for a `Layer`, several for a
   `MergeLayer`); emit nodes with ``ctx.node`` and return the name of the output value;
2. the registry `ONNX_CONVERTERS`, keyed by the layer's exact type -- where the built-in
   layers plug in (``@register_onnx(Conv2d)`` on a function ``(layer, ctx, inputs) -> str``),
   and how to cover a third party's layer without editing it.

A subclass of a built-in layer is *not* converted as its parent (it may compute something
else): it needs its own hook or registration. A layer with neither is refused, naming it
and the hook, before anything is written.

The input's element type is the model's float dtype unless the layer reading the input
says otherwise in `ONNX_INPUT_DTYPES` (``Embedding`` does: its input holds integer ids).

The package: `convert` (the registry, `OnnxContext`, `to_onnx`, the structural layers'
converters); one module of converters per layer family (`activations`, `nd`: convolution,
normalization, reshaping, embedding; `pooling`; `sequence`: recurrent; `attention`: attention
and transformer layers),
registered below, explicitly, once the registry exists.
"""

# The built-in converters of the other families: importing a module registers them.
from minigrad.export.onnx import activations, attention, nd, pooling, sequence  # noqa: F401
from minigrad.export.onnx.convert import (
    DEFAULT_OPSET,
    MIN_OPSET,
    ONNX_CONVERTERS,
    ONNX_INPUT_DTYPES,
    OnnxContext,
    OnnxConverter,
    register_onnx,
    to_onnx,
)

__all__ = [
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "ONNX_CONVERTERS",
    "ONNX_INPUT_DTYPES",
    "OnnxContext",
    "OnnxConverter",
    "register_onnx",
    "to_onnx",
]
