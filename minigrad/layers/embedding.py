"""`Embedding`: a lookup table from integer ids to learned vectors.

On every array library: the ids must be of the table's library and device (any integer
dtype); the lookup is the standard's ``take``, and its gradient, a scatter-add of rows,
goes through `minigrad.backend.scatter_add_rows`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.backend import assign_rows, scatter_add_rows, take_rows
from minigrad.core import (
    Array,
    Layer,
    Parameter,
    as_grad,
    check_bool,
    check_count,
    check_number,
    check_parameter_dtype,
    check_positive,
    check_same_place,
)

EmbeddingCache = tuple[Array, tuple[int, ...]]
"""The ids of the latest forward (flattened) and their shape."""


class Embedding(Layer[EmbeddingCache]):
    """A table of ``num_embeddings`` vectors of width ``D``, looked up by integer id, as
    ``torch.nn.Embedding``: ``y[..., :] = W[ids[...], :]``.

    Shapes: ``ids (*) -> y (*, D)`` for integer ids of any shape; ``W = weight``
    ``(num_embeddings, D)``.

    With ``max_norm``, forward first renormalizes, *in place*, each looked-up row whose
    ``norm_type``-norm exceeds it, as PyTorch's ``embedding_renorm_``::

        W[i] ← W[i] · max_norm / (‖W[i]‖ + 1e-7)    where ‖W[i]‖ > max_norm

    (in evaluation mode too; not differentiated), then looks up the renormalized rows.

    Backward: ``dL/dW[i] += Σ_{k : ids_k = i} G_k`` -- the rows of ``G`` of every
    occurrence of ``i`` summed (by `backend.scatter_add_rows`), none for ``padding_idx``;
    with ``scale_grad_by_freq``, that sum divided by ``count(i)``, the occurrences of
    ``i`` in the batch. The ids are discrete, so the returned input gradient is zeros of
    the ids' shape; `backward_params` skips it.

    Cache: the ids (flattened) and their shape.

    Parameters
    ----------
    num_embeddings, embedding_dim : int
        The number of ids and ``D`` (each >= 1).
    padding_idx : int, optional
        An id whose row starts at zero and gets no gradient (negative counts from the
        end, as in PyTorch).
    max_norm : float > 0, optional
        Renormalize the looked-up rows to at most this norm (above), in place.
    norm_type : float > 0, default 2
        The ``p`` of the p-norm ``max_norm`` bounds (``inf``: the largest ``|W[i, j]|``).
    scale_grad_by_freq : bool, default False
        Divide each row's gradient by how often its id occurs in the batch.
    init : Initializer, default ``init.normal(1.0)``
        Draws the table, shape ``(num_embeddings, D)`` (PyTorch's N(0, 1)).
    rng : int, numpy Generator or RandomState, optional
    dtype : float dtype, default float64

    Raises
    ------
    TypeError
        Non-integer ids (floats and bools included), or ids of another array library or
        device than the table; a non-floating ``dtype``; an ``init`` returning the wrong
        array; ``scale_grad_by_freq`` not a bool.
    ValueError
        Ids out of ``[0, num_embeddings)``, empty ids, a bad argument (``max_norm`` not a
        finite number > 0, ``norm_type`` not a number > 0...), a gradient not of shape ``(*, D)``.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        self.num_embeddings = check_count("Embedding", "num_embeddings", num_embeddings, 1)
        self.embedding_dim = check_count("Embedding", "embedding_dim", embedding_dim, 1)
        self.padding_idx: int | None = None
        if padding_idx is not None:
            n = self.num_embeddings
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)) \
                    or not -n <= padding_idx < n:
                raise ValueError(f"Embedding: padding_idx must be an int in [-{n}, {n}), "
                                 f"got {padding_idx!r}")
            self.padding_idx = int(padding_idx) % n
        self.max_norm = None if max_norm is None else check_positive("Embedding", "max_norm",
                                                                      max_norm)
        self.norm_type = check_number("Embedding", "norm_type", norm_type,
                                      "a number > 0 (inf: the max-norm)", lambda v: v > 0)
        self.scale_grad_by_freq = check_bool("Embedding", "scale_grad_by_freq",
                                             scale_grad_by_freq)
        dtype = check_parameter_dtype("Embedding", dtype)
        shape = (self.num_embeddings, self.embedding_dim)
        draw = init if init is not None else initializers.normal(1.0)
        table = draw(shape, initializers.make_rng(rng), dtype)
        if not isinstance(table, np.ndarray) or (table.shape, table.dtype) != (shape, dtype):
            raise TypeError(f"Embedding: init {draw!r} must return an array of shape {shape} "
                            f"and dtype {dtype}, got shape {np.shape(table)}")
        if self.padding_idx is not None:
            table[self.padding_idx] = 0
        self.weight = Parameter(table, name="weight")

    def _ids(self, ids: object) -> Array:
        table = self.weight.data
        if backend.is_foreign(ids) or backend.is_foreign(table):
            check_same_place(self, ids, table, "array of ids")
            array: Any = ids
        else:
            array = np.asarray(ids)
        if backend.numpy_dtype(array.dtype).kind not in "iu":
            raise TypeError(f"{self!r} expected integer ids, got dtype {array.dtype}")
        shape = tuple(array.shape)
        if not shape or math.prod(shape) == 0:
            raise ValueError(f"{self!r} expected a non-empty array of ids, got shape {shape}")
        xp = backend.namespace(array)
        low, high = int(xp.min(array)), int(xp.max(array))
        if low < 0 or high >= self.num_embeddings:
            bad = low if low < 0 else high
            raise ValueError(f"{self!r} got id {bad}, outside [0, {self.num_embeddings})")
        checked: Array = array
        return checked

    @override
    def forward(self, x: Array) -> Array:
        ids = self._ids(x)
        flat = backend.index_vector(ids)
        rows = take_rows(self.weight.data, flat)  # y[i] = W[ids[i]]
        if self.max_norm is not None:
            rows = self._renormalize(flat, rows)
        self.cache = (flat, tuple(ids.shape))
        y: Array = backend.reshape(rows, (*ids.shape, self.embedding_dim))
        return y

    def _renormalize(self, flat: Array, rows: Array) -> Array:
        """Rows ``W[ids]`` whose norm exceeds ``max_norm`` scaled to it, written back into
        ``W`` in place (PyTorch's ``embedding_renorm_``); returns the rows as they now are.
        A repeated id's rows are equal, and so are their scales: it is renormalized once."""
        assert self.max_norm is not None
        xp = backend.namespace(rows)
        norms = xp.linalg.vector_norm(rows, axis=1, keepdims=True, ord=self.norm_type)
        over = norms > self.max_norm
        if not bool(xp.any(over)):
            return rows
        scale = xp.where(over, self.max_norm / (norms + 1e-7), 1.0)  # ‖W[i]‖ → max_norm
        rows = rows * scale
        assign_rows(self.weight.data, flat, rows)
        return rows

    @override
    def backward(self, grad_out: Array) -> Array:
        self.backward_params(grad_out)
        table = self.weight.data
        grad_in: Array = backend.namespace(table).zeros(self.saved()[1], dtype=table.dtype,
                                                        device=backend.device(table))
        return grad_in

    @override
    def backward_params(self, grad_out: Array) -> None:
        flat, shape = self.saved()
        g = as_grad(self, grad_out, (*shape, self.embedding_dim), self.weight.dtype)
        g = backend.namespace(g).reshape(g, (-1, self.embedding_dim))
        if not self.weight.requires_grad:  # frozen: nothing accumulates
            return
        if self.scale_grad_by_freq:  # G_k / count(ids_k)
            xp, place = backend.namespace(g), backend.device(g)
            counts = xp.zeros((self.num_embeddings, 1), dtype=g.dtype, device=place)
            scatter_add_rows(counts, flat, xp.ones((flat.shape[0], 1), dtype=g.dtype,
                                                   device=place))
            g = g / take_rows(counts, flat)
        if self.padding_idx is not None:
            keep = flat != self.padding_idx
            flat, g = flat[keep], g[keep]
            if flat.shape[0] == 0:
                return
        scatter_add_rows(self.weight.grad, flat, g)  # dL/dW[ids[i]] += G[i]

    @override
    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
            if self.norm_type != 2:
                text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        if backend.numpy_dtype(self.weight.dtype) != np.float64:
            text += f", dtype={self.weight.dtype}"
        return text
