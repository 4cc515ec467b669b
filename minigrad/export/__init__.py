"""Leaving minigrad: `to_onnx` for deployment, `to_torch` for training at scale.

``import minigrad`` needs neither onnx nor torch: these functions import their
submodule -- and with it ``onnx`` (``pip install "minigrad[onnx]"``) or ``torch``
(``pip install "minigrad[torch]"``) -- when first called.

Each target has one registry of converters keyed by layer type, where every built-in
layer plugs in: ``minigrad.export.onnx.ONNX_CONVERTERS`` (fill it with
``@register_onnx(LayerType)``) and ``minigrad.export.torch.TORCH_CONVERTERS``
(``@register_torch(LayerType)``). Your own layer either gets registered there or
carries its converter as a method -- ``to_onnx(self, ctx, inputs) -> output name`` and
``to_torch(self, convert) -> torch.nn.Module`` (see docs/interop.md). A layer covered
by neither is refused with an error naming it and the hook, and nothing is written.

A model moved with ``Module.to`` (trained on torch tensors or a GPU) exports as it is:
the exporters read a NumPy copy (`on_numpy`), and `to_torch` returns a module on the
CPU -- move it with ``.to(device)``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Layer, Module
from minigrad.io.atomic import StrPath

if TYPE_CHECKING:
    import onnx
    import torch

__all__ = ["load_torch_state_dict", "to_onnx", "to_torch"]

_M = TypeVar("_M", bound=Module[Any])


def on_numpy(model: _M) -> _M:
    """``model`` itself, or -- for a model moved with `Module.to` (to torch tensors, a
    GPU, ...) -- a NumPy copy of it, which the exporters read; the model stays where
    it is. (So a model trained on a GPU exports as it is.)"""
    arrays = [p.data for p in model.parameters()] + [b.data for b in model.buffers()]
    if any(backend.is_foreign(array) for array in arrays):
        return copy.deepcopy(model).to(np)
    return model



def additive_mask(mask: object) -> np.ndarray[Any, Any]:
    """An attention layer's fixed ``attn_mask`` or ``key_padding_mask`` (any library) as
    the NumPy array both exporters add to the scores: ``−inf`` where a bool mask is True
    and 0 elsewhere; a floating one as it is."""
    array = backend.to_numpy(mask) if backend.is_foreign(mask) else np.asarray(mask)
    return np.where(array, -np.inf, 0.0) if array.dtype == np.bool_ else array

def to_onnx(
    model: Layer[Any],
    path: StrPath,
    *,
    input_shape: Sequence[int | None],
    opset: int | None = None,
    dtype: npt.DTypeLike | None = None,
) -> onnx.ModelProto:
    """Write ``model`` to ``path`` as an ONNX model computing its evaluation-mode output.

    The graph is built node by node from the model's structure (no tracing), checked
    with ``onnx.checker.check_model(full_check=True)`` and only then written, atomically
    (a temporary file renamed over ``path``): on any error there is no new file and an
    old one at ``path`` is untouched. The input is named ``"input"``, the output
    ``"output"``; a shared layer's parameters are one initializer, read at each use.

    Parameters
    ----------
    model : Layer
        Any model of built-in layers and containers, nested, and layers with a
        ``to_onnx`` hook or a registered converter.
    path : str or path-like
        Where to write the ``.onnx`` file (an existing file is replaced).
    input_shape : sequence of int or None
        The input's shape; ``None`` makes an axis dynamic -- ``(None, 64)``: any batch
        size (the batch axis is named ``"batch"``).
    opset : int, optional
        The ONNX opset, from 17 to the installed onnx's newest; default 17.
    dtype : float dtype, optional
        The dtype the graph computes in: its input (unless the model reads integer
        ids), output and initializers. Default: the parameters' one dtype (float64
        without parameters). Another than the parameters' -- ``np.float32`` for a
        float64 model, which onnxruntime's convolutions need -- exports a converted
        copy (`Module.to`); the model itself is not changed.

    Returns
    -------
    onnx.ModelProto
        The model written.

    Raises
    ------
    TypeError
        A layer with no converter (naming it, where it is, and the hook), a non-float
        ``dtype``.
    ValueError
        A bad ``input_shape`` or ``opset``; parameters of mixed dtypes; an input shape
        the model cannot take (minigrad's own error from a forward on zeros).
    ImportError
        onnx is not installed.
    """
    from minigrad.export import onnx as onnx_export

    return onnx_export.to_onnx(on_numpy(model), path, input_shape=input_shape, opset=opset,
                               dtype=dtype)


def to_torch(model: Module[Any]) -> torch.nn.Module:
    """An equivalent ``torch.nn.Module``, with the weights copied in PyTorch's layouts.

    `Sequential` becomes ``nn.Sequential``, `Graph` a ``GraphModule`` running its nodes in
    order; `Dense` becomes ``nn.Linear`` with the weight transposed to PyTorch's
    ``(out, in)``, `Bias` a ``PrependOnes`` module, the other layers their ``torch.nn``
    twins (docs/interop.md has the table). Same dtype, same outputs
    in training and evaluation mode (Dropout's masks aside), the minigrad model's
    state_dict keys (the recurrent layers' are PyTorch's own, ``weight_ih_l0``; but
    attention's ``out_proj.weight``, and the transformer layers' ``linear1.weight`` in
    PyTorch's ``(out, in)``; shared layers appear once per use, as PyTorch
    lists them); a
    layer shared in minigrad is one shared torch module. The copy starts in the mode of
    ``model``.

    Raises
    ------
    TypeError
        A layer with no converter, naming it and the ``to_torch`` hook.
    ImportError
        torch is not installed.
    """
    from minigrad.export import torch as torch_export

    return torch_export.to_torch(on_numpy(model))


def load_torch_state_dict(model: Module[Any], state_dict: Mapping[str, Any]) -> None:
    """Load a PyTorch ``state_dict`` -- as the module `to_torch` made for an equal model
    produces it -- into ``model``, converting layouts back (a Linear's ``(out, in)``
    weight to `Dense`'s ``(in, out)``).

    As strict as `minigrad.load`: everything is checked before anything is written,
    and missing or unexpected keys, shapes and dtypes that differ, and NaN or ±inf
    values are errors (the rule of ``Module.load_state_dict``). Values may be tensors
    (on any device) or arrays.

    Raises
    ------
    KeyError
        Missing or unexpected keys, named (the first 20 of each, and how many more).
    ValueError
        A shape or dtype mismatch, or a non-finite value, naming the key; the two
        copies of a shared layer's weight differ.
    TypeError
        A layer with no converter.
    """
    from minigrad.export import torch as torch_export

    torch_export.load_torch_state_dict(model, state_dict)
