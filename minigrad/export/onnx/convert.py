"""The registry and context of every converter, the converters of the structural
layers and containers, and `to_onnx` itself."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, TypeVar

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper, numpy_helper

from minigrad.containers.graph import INPUT, Graph
from minigrad.containers.sequential import Sequential
from minigrad.core import Array, Buffer, Layer, MergeLayer, Module, Parameter
from minigrad.io.atomic import StrPath, atomic_write
from minigrad.layers.dense import Bias, Dense, Identity
from minigrad.layers.merge import Add, Concat
from minigrad.layers.regularization import Dropout

MIN_OPSET = 17
"""The oldest opset `to_onnx` writes (`LayerNormalization` needs 17)."""
DEFAULT_OPSET = 17
"""The opset written by default: the oldest allowed, so the most runtimes load the file
(onnxruntime 1.13 and newer)."""

OnnxConverter = Callable[[Any, "OnnxContext", list[str]], str]
"""``converter(layer, ctx, inputs) -> output``: emit ``layer``'s nodes on the value names
``inputs``; return its output's value name."""

ONNX_CONVERTERS: dict[type[Module[Any]], OnnxConverter] = {}
"""Layer type -> its converter; fill it with `register_onnx`."""

ONNX_INPUT_DTYPES: dict[type[Module[Any]], Callable[[Any], np.dtype[Any]]] = {}
"""Layer type -> the dtype of the model input it reads, when that is not the model's float
dtype (an ``Embedding`` reads integer ids: ``lambda layer: np.dtype(np.int64)``)."""

HOOK = "to_onnx"
"""The name of the method by which a layer converts itself."""

M = TypeVar("M", bound=Module[Any])
ConverterFor = Callable[[M, "OnnxContext", list[str]], str]
"""The converter of one layer type ``M``."""


def register_onnx(layer_type: type[M]) -> Callable[[ConverterFor[M]], ConverterFor[M]]:
    """Decorator: make ``function(layer, ctx, inputs) -> output`` the converter of
    ``layer_type`` (exactly that type, not its subclasses)."""

    def decorate(function: ConverterFor[M]) -> ConverterFor[M]:
        ONNX_CONVERTERS[layer_type] = function
        return function

    return decorate


class OnnxContext:
    """The graph under construction, and what converters build it with.

    Attributes
    ----------
    dtype : numpy dtype
        The model's float dtype; ``elem_type`` is the matching ONNX element type.
    opset : int
        The ONNX opset being written (an op's version to target).
    nodes, initializers : lists
        The ``NodeProto`` and ``TensorProto`` made so far, in order.
    values : dict
        Value name -> minigrad's evaluation-mode value there on a probe batch of zeros
        (2 rows for a dynamic axis): `shape` reads the shapes converters need.
    """

    def __init__(self, dtype: np.dtype[Any], opset: int, model: Module[Any]) -> None:
        self.dtype = dtype
        self.elem_type: int = helper.np_dtype_to_tensor_dtype(dtype)
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        # A parameter's (or buffer's) initializer is named by its state_dict key, and made
        # once: a shared layer's uses all read the same one.
        self._parameter_names = {id(p): name for name, p in [*model.named_parameters(),
                                                             *model.named_buffers()]}
        self._emitted: set[int] = set()
        self._taken: set[str] = {INPUT, "output", *self._parameter_names.values()}
        self._scope: list[str] = []
        self.values: dict[str, Array] = {}

    def fresh(self, hint: str) -> str:
        """A value or node name not used yet: ``"<path of the layer>/<hint>"``."""
        base = "/".join([*filter(None, self._scope), hint])
        name, count = base, 1
        while name in self._taken:
            count += 1
            name = f"{base}_{count}"
        self._taken.add(name)
        return name

    def node(self, op_type: str, inputs: Sequence[str], **attributes: Any) -> str:
        """Append one ``op_type`` node (ONNX's default domain) reading ``inputs``;
        return the name of its single output."""
        return self.node_outputs(op_type, inputs, 1, **attributes)[0]

    def node_outputs(
        self, op_type: str, inputs: Sequence[str], count: int, **attributes: Any
    ) -> list[str]:
        """Like `node`, for an op with ``count`` outputs (``""`` inputs are omitted
        optional ones); return their names."""
        outputs = [self.fresh(op_type if count == 1 else f"{op_type}.{i}") for i in range(count)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs,
                                           name=outputs[0], **attributes))
        return outputs

    def parameter(self, param: Parameter | Buffer) -> str:
        """The initializer holding ``param``'s values (named by its state_dict key); a
        `Buffer` (BatchNorm's running statistics) too."""
        name = self._parameter_names.get(id(param))
        if name is None:
            raise ValueError(f"to_onnx: {param!r} is not a parameter of the model")
        if id(param) not in self._emitted:
            self._emitted.add(id(param))
            self.initializers.append(numpy_helper.from_array(param.data, name))
        return name

    def constant(self, value: npt.ArrayLike, hint: str, dtype: npt.DTypeLike | None = None) -> str:
        """An initializer holding ``value`` (in ``dtype``; by default the model's dtype)."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of value ``name`` on the probe batch (its rank is the real one; a
        dynamic axis shows the probe's size, 2)."""
        return tuple(self.values[name].shape)

    def ints(self, values: Sequence[int], hint: str = "shape") -> str:
        """An int64 initializer: shapes, axes, sizes."""
        return self.constant(list(values), hint, np.int64)

    def reduce_mean(self, x: str, axes: Sequence[int]) -> str:
        """``mean(x)`` over ``axes``, dims kept."""
        return self._reduce("ReduceMean", x, axes, keepdims=True)

    def reduce_max(self, x: str, axes: Sequence[int], *, keepdims: bool) -> str:
        """``max(x)`` over ``axes``, dims kept or dropped."""
        return self._reduce("ReduceMax", x, axes, keepdims=keepdims)

    def _reduce(self, op_type: str, x: str, axes: Sequence[int], *, keepdims: bool) -> str:
        """A reduction whose axes are an attribute before opset 18 and an input from 18
        on (ReduceMean, ReduceMax; not ReduceSum, whose axes moved in opset 13)."""
        if self.opset < 18:
            return self.node(op_type, [x], axes=list(axes), keepdims=int(keepdims))
        return self.node(op_type, [x, self.ints(axes, "axes")], keepdims=int(keepdims))

    def convert(self, module: Module[Any], inputs: list[str], where: str) -> str:
        """Emit ``module``'s nodes (a child at ``where``: ``"0"``, ``"fc"``) on ``inputs``;
        return its output. Containers call this for each child."""
        self._scope.append(where)
        try:
            hook = getattr(module, HOOK, None)
            if callable(hook):
                output = hook(self, inputs)
            else:
                converter = ONNX_CONVERTERS.get(type(module))
                if converter is None:
                    raise TypeError(unsupported(module, "/".join(filter(None, self._scope))))
                output = converter(module, self, inputs)
        finally:
            self._scope.pop()
        if not isinstance(output, str):
            raise TypeError(f"to_onnx: the converter of {module!r} must return the name of "
                            f"its output value, got {output!r}")
        if output not in self.values and isinstance(module, (Layer, MergeLayer)):
            self.values[output] = module.forward(*[self.values[name] for name in inputs])
        return output


def unsupported(module: Module[Any], path: str) -> str:
    """The message for a layer nothing can convert."""
    kind = type(module)
    return (
        f"to_onnx: {module!r} at {path or 'the top'} ({kind.__module__}.{kind.__qualname__}) "
        f"has no ONNX converter; give it a method {HOOK}(self, ctx, inputs) -> output name, "
        f"or register one with @minigrad.export.onnx.register_onnx({kind.__name__}) "
        "(see docs/interop.md). Nothing was written."
    )


# -- the model-level function ------------------------------------------------------------


def to_onnx(
    model: Layer[Any],
    path: StrPath,
    *,
    input_shape: Sequence[int | None],
    opset: int | None = None,
    dtype: npt.DTypeLike | None = None,
) -> onnx.ModelProto:
    """Write ``model`` as an ONNX model to ``path`` (atomically) and return it.

    See ``minigrad.export.to_onnx`` for the parameters; this is its implementation.
    """
    shape = _check_input_shape(input_shape)
    opset = DEFAULT_OPSET if opset is None else opset
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"to_onnx: opset must be an int from {MIN_OPSET} to {newest} "
                         f"(this onnx's newest), got {opset!r}")
    model = _converted(model, dtype)
    float_dtype = _model_dtype(model, dtype)
    input_dtype = _input_dtype(model, float_dtype)
    probe = _probe(model, shape, input_dtype)

    ctx = OnnxContext(float_dtype, opset, model)
    ctx.values[INPUT] = _probe_input(shape, input_dtype)
    with model.mode(training=False):
        try:
            result = ctx.convert(model, [INPUT], "")
        finally:
            model.clear_cache()
    ctx.nodes.append(helper.make_node("Identity", [result], ["output"], name="output"))
    dims = [("batch" if axis == 0 else f"dim{axis}") if size is None else size
            for axis, size in enumerate(shape)]
    out_dims: list[int | str | None] = list(probe.shape)
    if any(size is None for size in shape[1:]):  # a free sample axis (a sequence's
        out_dims[1:] = [None] * (len(out_dims) - 1)  # length): which output axes follow
        # it is not known here, so they are left free rather than fixed at the probe's
    if shape[0] is None:  # the batch axis stays symbolic when it is the input's
        out_dims[0] = "batch" if probe.shape[0] == _PROBE_BATCH else None
    graph = helper.make_graph(
        ctx.nodes, type(model).__name__,
        [helper.make_tensor_value_info(INPUT, helper.np_dtype_to_tensor_dtype(input_dtype), dims)],
        [helper.make_tensor_value_info("output", helper.np_dtype_to_tensor_dtype(probe.dtype),
                                       out_dims)],
        ctx.initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="minigrad",
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto, full_check=True)  # also infers and checks every shape
    data = proto.SerializeToString()

    def write(file: BinaryIO) -> None:
        file.write(data)

    atomic_write(os.path.realpath(os.fspath(path)), write, owner="to_onnx", writer="to_onnx",
                 ours=_is_minigrad_onnx)
    return proto


def _is_minigrad_onnx(path: str) -> bool:
    """Whether ``path`` holds an ONNX model `to_onnx` wrote (its producer is minigrad): the
    only non-empty file `to_onnx` replaces, as `mg.save` replaces only its own files."""
    with open(path, "rb") as file:
        # `to_onnx` writes ir_version, field 1, first: any other first byte is not ours,
        # and a large foreign file is not read whole to find that out.
        if file.read(1) != b"\x08":
            return False
        file.seek(0)
        data = file.read()
    try:
        proto = onnx.ModelProto.FromString(data)
    except Exception:  # protobuf's DecodeError (untyped, so unnamed here): not a model
        return False
    return bool(proto.producer_name == "minigrad" and proto.HasField("graph"))


_PROBE_BATCH = 2  # rows of the validation forward when the batch axis is free


def _check_input_shape(input_shape: object) -> tuple[int | None, ...]:
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) or not (
        input_shape and all(
            item is None or (isinstance(item, (int, np.integer)) and not isinstance(item, bool)
                             and item >= 1)
            for item in input_shape)
    ):
        raise ValueError("to_onnx: input_shape must be a non-empty sequence of ints >= 1 "
                         f"or None (a dynamic axis, the batch first), got {input_shape!r}")
    return tuple(None if item is None else int(item) for item in input_shape)


def _converted(model: Layer[Any], dtype: npt.DTypeLike | None) -> Layer[Any]:
    """``model`` itself, or -- when ``dtype`` is a float dtype some parameter, floating
    buffer or parameterless layer's own ``dtype`` is not in -- a copy converted to it
    (``to_onnx(float64_model, ..., dtype=np.float32)``): the user's model is never
    changed."""
    if dtype is None:
        return model
    wanted = np.dtype(dtype)
    if wanted.kind != "f":
        raise TypeError(f"to_onnx: dtype must be a floating dtype, got {wanted}")
    dtypes = [p.data.dtype for p in model.parameters()] + [b.data.dtype for b in model.buffers()]
    dtypes += [vars(module)["dtype"] for module in model.modules()  # a parameterless layer's
               if isinstance(vars(module).get("dtype"), np.dtype)]
    if all(found == wanted for found in dtypes if found.kind == "f"):
        return model
    if wanted not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"to_onnx: dtype {wanted}: a model's parameters convert to float32 "
                        "or float64 only (see Module.to)")
    converted: Layer[Any] = copy.deepcopy(model).to(wanted)
    return converted


def _model_dtype(model: Module[Any], dtype: npt.DTypeLike | None) -> np.dtype[Any]:
    """The one float dtype of the parameters (``dtype``, else float64, without any);
    refused when they mix dtypes."""
    found = {param.dtype for param in model.parameters()}
    if len(found) > 1:
        raise ValueError(f"to_onnx: the model's parameters mix dtypes {sorted(map(str, found))}; "
                         "an exported graph computes in one")
    # a dtype given is a float one (checked by _converted), the parameters' if any
    return found.pop() if found else np.dtype(np.float64) if dtype is None else np.dtype(dtype)


def first_layers(module: Module[Any]) -> list[Module[Any]]:
    """The layers that read a container's input directly (the module itself otherwise)."""
    if isinstance(module, Sequential):
        return first_layers(module.layers[0])
    if isinstance(module, Graph):
        return [first for name, layer in module.nodes.items() if INPUT in module.inputs[name]
                for first in first_layers(layer)]
    return [module]


def _input_dtype(model: Module[Any], float_dtype: np.dtype[Any]) -> np.dtype[Any]:
    """What the input holds: `ONNX_INPUT_DTYPES`' word for the first layers, else floats."""
    wanted = set()
    for layer in first_layers(model):
        rule = ONNX_INPUT_DTYPES.get(type(layer))
        wanted.add(float_dtype if rule is None else np.dtype(rule(layer)))
    if len(wanted) > 1:
        raise ValueError(f"to_onnx: the layers reading the input want dtypes "
                         f"{sorted(map(str, wanted))}; one input has one")
    return wanted.pop()


def _probe_input(shape: tuple[int | None, ...], dtype: np.dtype[Any]) -> Array:
    return np.zeros(tuple(_PROBE_BATCH if size is None else size for size in shape), dtype)


def _probe(model: Layer[Any], shape: tuple[int | None, ...], dtype: np.dtype[Any]) -> Array:
    """One evaluation-mode forward on zeros of ``shape``: minigrad's own, clear error
    for an input it cannot take, and the output's shape and dtype."""
    with model.mode(training=False):
        try:
            return model.forward(_probe_input(shape, dtype))
        finally:
            model.clear_cache()


# -- the built-in layers ----------------------------------------------------------------


@register_onnx(Dense)
def _dense(layer: Dense, ctx: OnnxContext, inputs: list[str]) -> str:
    # y = x @ W with W (in, out), minigrad's layout: MatMul needs no transpose (Gemm would
    # want 2-D inputs; MatMul takes any leading axes).
    y = ctx.node("MatMul", [inputs[0], ctx.parameter(layer.weight)])
    return y if layer.bias is None else ctx.node("Add", [y, ctx.parameter(layer.bias)])


@register_onnx(Bias)
def _bias(layer: Bias, ctx: OnnxContext, inputs: list[str]) -> str:
    # [1 | x]: ones of x's shape with the last axis 1, whatever the batch size.
    leading = ctx.node("Shape", inputs, end=-1)
    one = ctx.constant([1], "one", np.int64)
    ones_shape = ctx.node("Concat", [leading, one], axis=0)
    value = helper.make_tensor("value", ctx.elem_type, [1], [1])
    ones = ctx.node("ConstantOfShape", [ones_shape], value=value)
    return ctx.node("Concat", [ones, inputs[0]], axis=-1)


@register_onnx(Identity)
def _identity(layer: Identity | Dropout, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Identity", inputs)


ONNX_CONVERTERS[Dropout] = _identity  # evaluation mode: the identity


@register_onnx(Add)
def _add(layer: Add, ctx: OnnxContext, inputs: list[str]) -> str:
    total = inputs[0]
    for other in inputs[1:]:
        total = ctx.node("Add", [total, other])
    return total


@register_onnx(Concat)
def _concat(layer: Concat, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Concat", inputs, axis=layer.axis)


@register_onnx(Sequential)
def _sequential(model: Sequential, ctx: OnnxContext, inputs: list[str]) -> str:
    value = inputs[0]
    for index, layer in enumerate(model.layers):
        value = ctx.convert(layer, [value], str(index))
    return value


@register_onnx(Graph)
def _graph(model: Graph, ctx: OnnxContext, inputs: list[str]) -> str:
    values = {INPUT: inputs[0]}
    for name, layer in model.nodes.items():  # execution order
        values[name] = ctx.convert(layer, [values[s] for s in model.inputs[name]], name)
    return values[model.output]

