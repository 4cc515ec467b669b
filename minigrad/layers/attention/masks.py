"""The masks of attention, as PyTorch takes them, turned into one additive mask.

Every mask hides keys from queries. PyTorch's conventions, all of them:

* ``attn_mask``: ``(L, S)`` for every sample and head, or ``(N·h, L, S)`` per sample
  and head (row ``n·h + head``); bool (True = *hidden*) or floating (*added* to the
  scores: ``−inf`` hides, any other value biases);
* ``key_padding_mask``: ``(N, S)``, bool (True = padding, hidden) or floating (added);
* causal (``is_causal=True`` in a call, or the layer's ``causal=True``): key ``j`` is
  hidden from query ``i`` when ``j > i``.

`additive_mask` validates them and sums them into one floating array ``M``
broadcastable to the scores ``(N, h, L, S')``, a bool mask contributing ``−inf`` where
True and 0 elsewhere; the scores become ``Q Kᵀ/√d + M``. ``S' = S + extra``: keys that
the layer appends (``bias_k``, the zero key of ``add_zero_attn``) are visible to every
query (PyTorch pads each mask with a column of zeros/False for them).

A mask must be an array of the input's library and device (a NumPy array, or anything
``np.asarray`` takes, for NumPy input); it is a constant, so backward has nothing to do
with it beyond the probabilities it zeroed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import backend
from minigrad.core import Array, Module, check_same_place


def _as_mask(layer: Module[Any], mask: object, like: Array, what: str) -> Any:
    """``mask`` as an array of ``like``'s library, checked to be bool or floating."""
    if backend.is_foreign(mask) or backend.is_foreign(like):
        check_same_place(layer, mask, like, what)
        array: Any = mask
    else:
        array = np.asarray(mask)
    kind = backend.numpy_dtype(array.dtype).kind
    if kind not in "bf":
        raise TypeError(f"{layer!r}: {what} must be a bool array (True = hidden) or a "
                        f"floating one (added to the scores), got dtype {array.dtype}")
    return array


def _additive(mask: Any, like: Array) -> Array:
    """A bool mask as ``−inf`` where True and 0 elsewhere; a floating one in ``like``'s
    dtype."""
    xp = backend.namespace(like)
    if backend.numpy_dtype(mask.dtype) == np.bool_:
        zeros = xp.zeros(tuple(mask.shape), dtype=like.dtype, device=backend.device(like))
        hidden: Array = xp.where(mask, zeros - math.inf, zeros)
        return hidden
    converted: Array = xp.astype(mask, like.dtype)
    return converted


def additive_mask(
    layer: Module[Any],
    like: Array,
    shape: tuple[int, int, int, int],
    *,
    attn_mask: object = None,
    key_padding_mask: object = None,
    causal: bool = False,
    extra_keys: int = 0,
) -> Array | None:
    """The sum of the given masks, broadcastable to the scores ``(N, h, L, S + extra_keys)``,
    in ``like``'s library, device and dtype; None when there is no mask.

    Parameters
    ----------
    layer : Module
        Named in the messages.
    like : array
        The queries (their library, device and floating dtype).
    shape : (N, h, L, S)
        Batch, heads, query and key lengths (without the layer's extra keys).
    attn_mask, key_padding_mask : array, optional
        See the module docstring.
    causal : bool
        Hide key ``j`` from query ``i`` when ``j > i``.
    extra_keys : int
        Keys appended after the ``S`` given ones, visible to every query.

    Raises
    ------
    ValueError
        A mask of another shape than those above (naming the expected ones).
    TypeError
        A mask neither bool nor floating, or of another library or device.
    """
    n, heads, t_q, t_k = shape
    xp = backend.namespace(like)
    where = backend.device(like)
    total: Array | None = None

    def add(part: Array) -> None:
        nonlocal total
        total = part if total is None else total + part

    if causal:  # key j hidden from query i when j > i
        later = xp.arange(t_k, device=where)[None, :] > xp.arange(t_q, device=where)[:, None]
        add(_additive(later, like))
    if attn_mask is not None:
        mask = _as_mask(layer, attn_mask, like, "attn_mask")
        if tuple(mask.shape) == (t_q, t_k):
            add(_additive(mask, like))
        elif tuple(mask.shape) == (n * heads, t_q, t_k):
            add(xp.reshape(_additive(mask, like), (n, heads, t_q, t_k)))
        else:
            raise ValueError(f"{layer!r}: attn_mask must have shape (L, S) = {(t_q, t_k)} or "
                             f"(N·num_heads, L, S) = {(n * heads, t_q, t_k)}, got "
                             f"{tuple(mask.shape)}")
    if key_padding_mask is not None:
        mask = _as_mask(layer, key_padding_mask, like, "key_padding_mask")
        if tuple(mask.shape) != (n, t_k):
            raise ValueError(f"{layer!r}: key_padding_mask must have shape (N, S) = "
                             f"{(n, t_k)}, got {tuple(mask.shape)}")
        add(xp.reshape(_additive(mask, like), (n, 1, 1, t_k)))
    if total is None or not extra_keys:
        return total
    visible = xp.zeros((*total.shape[:-1], extra_keys), dtype=like.dtype, device=where)
    padded: Array = xp.concat([total, visible], axis=-1)
    return padded
