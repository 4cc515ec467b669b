"""`summary`: a Keras-style table of a model's layers, output shapes and parameter counts.

>>> import minigrad as mg
>>> model = mg.Sequential(mg.Bias(), mg.Dense(3, 4, rng=0), mg.Sigmoid(), mg.Dense(4, 1, rng=0))
>>> text = mg.summary(model, (None, 2))
Sequential, input shape (None, 2)
===========================================
Layer (type)    Output shape        Param #
===========================================
0 (Bias)        (None, 3)                 0
1 (Dense)       (None, 4)                12
2 (Sigmoid)     (None, 4)                 0
3 (Dense)       (None, 1)                 4
===========================================
Total params: 16 (128 B)
Trainable params: 16
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, Buffer, Layer, MergeLayer, Module, Parameter


def _named_modules(module: Module[Any], prefix: str = "") -> Iterator[tuple[str, Module[Any]]]:
    """Every descendant under its dotted path, depth first (a shared one at each path)."""
    for name, child in module.named_children():
        path = prefix + name
        yield path, child
        yield from _named_modules(child, path + ".")


def _record_output_shapes(model: Layer[Any], x: Array) -> dict[int, list[tuple[int, ...]]]:
    """Run ``model(x)`` and return the output shape of every layer call, per layer object.

    Each layer's ``forward`` is shadowed for the run by an instance attribute that
    records the shape; the attribute is deleted afterwards, whatever happens.
    """
    shapes: dict[int, list[tuple[int, ...]]] = {}
    layers = {id(m): m for m in model.modules() if isinstance(m, (Layer, MergeLayer))}

    def recorder(layer: Layer[Any] | MergeLayer[Any]) -> Any:
        forward = layer.forward

        def record(*xs: Array) -> Array:
            y = forward(*xs)
            shapes.setdefault(id(layer), []).append(tuple(y.shape))
            return y

        return record

    try:
        for layer in layers.values():
            vars(layer)["forward"] = recorder(layer)
        model.forward(x)
    finally:
        for layer in layers.values():
            vars(layer).pop("forward", None)
    return shapes


def _param_count(module: Module[Any]) -> int:
    """Scalars in ``module``'s parameters and buffers (Keras counts both in "Param #")."""
    return sum(param.size for param in module.parameters()) + _buffer_count(module)


def _buffer_count(module: Module[Any]) -> int:
    return sum(math.prod(buffer.shape) for buffer in module.buffers())


def summary(
    model: Layer[Any], input_shape: Sequence[int | None], dtype: npt.DTypeLike | None = None
) -> str:
    """Print and return a table of ``model``: each layer, its output shape and its
    parameter count, then the totals.

    The output shapes come from one forward pass on zeros of shape
    ``(1, *input_shape[1:])`` and dtype ``dtype`` in evaluation mode (zeros are a valid
    batch of ids for a model that starts with an `Embedding`: pass an integer dtype);
    the zeros are made in the library and on the device of the model's first parameter
    (a model moved with `Module.to` is summarized where it lives); the batch dimension
    is shown as
    ``input_shape[0]`` (``None`` for "any"). The model is left as it was: its modes,
    and the per-use state a pending ``backward`` needs (`Module.stash`), are restored.

    Rows list every sub-module by dotted path (a container's row counts the parameters
    of everything inside it). A layer object used at several places appears at each,
    marked as shared, and its parameters count once in the totals. As in Keras, "Param
    #" counts the scalars of parameters and of buffers (`Buffer`: running statistics,
    counters); the footer splits them into trainable (the parameters with
    ``requires_grad``) and, when there are any, non-trainable (buffers and frozen
    parameters, see `Module.requires_grad_`).

    Parameters
    ----------
    model : Layer
    input_shape : sequence of int or None
        The input's shape including the batch dimension, e.g. ``(None, 64)``.
    dtype : dtype, optional
        Of the example input; default the model's first parameter's (float64 without
        parameters).

    Returns
    -------
    str
        The table, as printed.

    Raises
    ------
    ValueError
        ``input_shape`` is not a tuple or list ``(batch, features, ...)`` with at least
        one feature size, all ints > 0.
    TypeError
        ``dtype`` is not a real numeric dtype.

    Examples
    --------
    A model of token ids:

    >>> import numpy as np, minigrad as mg
    >>> lm = mg.Sequential(mg.Embedding(10, 4, rng=0), mg.LSTM(4, 8, rng=0))
    >>> _ = mg.summary(lm, (None, 5), dtype=np.int64)
    Sequential, input shape (None, 5)
    ============================================
    Layer (type)     Output shape        Param #
    ============================================
    0 (Embedding)    (None, 5, 4)             40
    1 (LSTM)         (None, 5, 8)            448
    ============================================
    Total params: 488 (3.8 KiB)
    Trainable params: 488
    """
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    batch, rest = (shape[0], shape[1:]) if shape else (None, ())
    features = tuple(
        int(d) for d in rest
        if isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
    )
    if not rest or len(features) != len(rest):
        raise ValueError(
            "summary: input_shape must be (batch, features, ...) with positive feature "
            f"sizes, e.g. (None, 64); got {input_shape!r}"
        )
    params = model.parameters()
    if dtype is None:
        dtype = backend.numpy_dtype(params[0].dtype) if params else np.dtype(np.float64)
    if np.dtype(dtype).kind not in "biuf":
        raise TypeError(f"summary: dtype must be a real numeric dtype, got {np.dtype(dtype)}")
    zeros: Array = np.zeros((1, *features), dtype=dtype)
    if params and backend.is_foreign(params[0].data):
        home = params[0].data
        zeros = backend.asarray(zeros, backend.namespace(home), backend.device(home))
    pending = model.stash()
    try:
        with model.mode(training=False):
            shapes = _record_output_shapes(model, zeros)
    finally:
        model.unstash(pending)

    def shown(out: tuple[int, ...]) -> str:
        return str((batch, *out[1:])).replace(",)", ")")

    named = list(_named_modules(model)) or [("", model)]
    calls = {key: iter(value) for key, value in shapes.items()}
    first_path: dict[int, str] = {}
    rows = []
    for path, module in named:
        out = next(calls.get(id(module), iter(())), None)
        kind = type(module).__name__
        if id(module) in first_path:
            kind += f", shared with {first_path[id(module)]}"
        first_path.setdefault(id(module), path)
        label = f"{path} ({kind})" if path else kind
        rows.append((label, "-" if out is None else shown(out), f"{_param_count(module):,}"))
    total = _param_count(model)
    non_trainable = total - model.num_parameters(trainable_only=True)  # buffers, frozen
    arrays: list[Parameter | Buffer] = [*params, *model.buffers()]
    size = sum(math.prod(item.shape) * backend.numpy_dtype(item.dtype).itemsize
               for item in arrays)
    footer = [f"Total params: {total:,} ({_bytes(size)})",
              f"Trainable params: {total - non_trainable:,}"]
    if non_trainable:  # buffers (running statistics, counters) and frozen parameters
        footer.append(f"Non-trainable params: {non_trainable:,}")
    text = _table(
        f"{type(model).__name__}, input shape {shown((1, *features))}",
        ("Layer (type)", "Output shape", "Param #"),
        rows,
        footer,
    )
    print(text)
    return text


def _table(
    title: str, header: tuple[str, str, str], rows: list[tuple[str, str, str]], footer: list[str]
) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    widths[1] = max(widths[1], 18)  # room for the usual shapes: tables line up

    def line(cells: tuple[str, str, str]) -> str:
        name, shape, count = cells
        return f"{name:<{widths[0]}}    {shape:<{widths[1]}}  {count:>{widths[2]}}"

    rule = "=" * (sum(widths) + 6)
    return "\n".join([title, rule, line(header), rule, *map(line, rows), rule, *footer])


def _bytes(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024**2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024**2:.1f} MiB"
