"""Multi-head scaled dot-product attention with PyTorch's parameter layout:
`MultiHeadAttention` (self-attention, a layer) and `CrossAttention` (queries from one
branch, keys and values from another: a merge layer for a `Graph`).

With ``E = embed_dim`` split into ``h`` heads of ``d = E/h``, and the rows of
``in_proj_weight (3E, E)`` giving ``W_q``, ``W_k``, ``W_v``::

    Q = x_q W_qᵀ + b_q    K = x_c W_kᵀ + b_k    V = x_c W_vᵀ + b_v      (split into heads)
    S = Q Kᵀ / √d   (−∞ where masked)      P = softmax(S)   (over the keys, stable)
    y = concat_heads(P V) W_oᵀ + b_o                                  (W_o = out_proj_weight)

``x_c = x_q = x`` for self-attention. A *causal* mask hides key ``j`` from query
``i`` when ``j > i``; ``key_padding_mask`` (bool ``(N, T_k)``, True = padding, as in
PyTorch) hides padded keys from every query. Dropout (training mode) drops entries
of ``P`` and rescales the rest by ``1/(1 − p)``.

Backward, with ``Ĝ = dL/d(PV)`` per head::

    dV = Pᵀ Ĝ     dP = Ĝ Vᵀ     dS = P ⊙ (dP − Σ_keys dP ⊙ P) / √d
    dQ = dS K     dK = dSᵀ Q     then the projections' own products.

On every array library: standard calls only; the causal mask compares ``arange``s
(``j <= i``), a key padding mask must be a bool array of the input's library and
device, and the dropout masks are drawn in NumPy from the layer's ``rng`` and moved.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.core import (
    Array,
    Layer,
    MergeLayer,
    Module,
    Parameter,
    as_grad,
    check_arity,
    check_count,
    check_number,
    check_parameter_dtype,
    check_same_place,
)
from minigrad.core.nd import as_nd

AttentionCache = tuple[Array, Array, Array, Array, Array, Array | None, Array, Array]
"""Query rows ``(N·T_q, E)``, context rows ``(N·T_k, E)``, Q, K, V per head, the dropout
multiplier (or None), P, and the heads' output ``(N·T_q, E)``."""


class _Attention:
    """Parameters and the shared kernel of both attention layers."""

    def _setup(
        self,
        name: str,
        embed_dim: int,
        num_heads: int,
        causal: bool,
        bias: bool,
        dropout: float,
        init: initializers.Initializer | None,
        rng: initializers.SeedLike,
        dtype: npt.DTypeLike,
    ) -> None:
        self.embed_dim = check_count(name, "embed_dim", embed_dim, 1)
        self.num_heads = check_count(name, "num_heads", num_heads, 1)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"{name}: embed_dim ({self.embed_dim}) must be divisible by "
                             f"num_heads ({self.num_heads})")
        self.head_dim = self.embed_dim // self.num_heads
        self.causal = bool(causal)
        self.dropout = check_number(name, "dropout", dropout, "a number in [0, 1)",
                                    lambda v: 0 <= v < 1)
        dtype = check_parameter_dtype(name, dtype)
        e = self.embed_dim
        self.rng = initializers.make_rng(rng)

        def weight(fan_out: int, default: initializers.Initializer, label: str) -> Parameter:
            draw = init if init is not None else default
            array = draw((e, fan_out), self.rng, dtype)  # (fan_in, fan_out), stored transposed
            if not isinstance(array, np.ndarray) or array.shape != (e, fan_out) \
                    or array.dtype != dtype:
                raise TypeError(f"{name}: init {draw!r} must return an array of shape "
                                f"{(e, fan_out)} and dtype {dtype}, got shape {np.shape(array)}")
            return Parameter(array.T, label)

        # PyTorch: Xavier-uniform in-projection, U(±1/√E) out-projection, zero biases.
        self.in_proj_weight = weight(3 * e, initializers.xavier_uniform(), "in_proj_weight")
        self.out_proj_weight = weight(e, initializers.uniform(-1 / math.sqrt(e), 1 / math.sqrt(e)),
                                      "out_proj_weight")
        self.in_proj_bias = Parameter(np.zeros(3 * e, dtype), "in_proj_bias") if bias else None
        self.out_proj_bias = Parameter(np.zeros(e, dtype), "out_proj_bias") if bias else None

    def _heads(self, rows: Array, n: int) -> Array:
        """``(N·T, E) -> (N, h, T, d)``."""
        xp = backend.namespace(rows)
        heads: Array = xp.permute_dims(
            xp.reshape(rows, (n, -1, self.num_heads, self.head_dim)), (0, 2, 1, 3))
        return heads

    def _rows(self, heads: Array) -> Array:
        """``(N, h, T, d) -> (N·T, E)``."""
        n, _, t, _ = heads.shape
        xp = backend.namespace(heads)
        rows: Array = xp.reshape(xp.permute_dims(heads, (0, 2, 1, 3)), (n * t, self.embed_dim))
        return rows

    def _input(self, layer: Module[Any], x: object, what: str) -> Array:
        return as_nd(layer, x, expected=f"(batch, T, {self.embed_dim}) for the {what}", ndims=(3,),
                     sizes={2: self.embed_dim}, like=self.in_proj_weight.data)

    def _keep(self, layer: Module[Any], x: Array, t_q: int, t_k: int,
              key_padding_mask: object) -> Array | None:
        """The bool mask of visible keys, broadcastable to ``(N, h, T_q, T_k)``, or None
        (in the library of the input ``x``)."""
        xp = backend.namespace(x)
        n = x.shape[0]
        keep: Array | None = None
        if self.causal:  # key j visible from query i when j <= i
            where = backend.device(x)
            keep = xp.arange(t_k, device=where)[None, :] <= xp.arange(t_q, device=where)[:, None]
        if key_padding_mask is not None:
            if backend.is_foreign(key_padding_mask) or backend.is_foreign(x):
                check_same_place(layer, key_padding_mask, x, "key_padding_mask")
                mask: Any = key_padding_mask
            else:
                mask = np.asarray(key_padding_mask)
            if backend.numpy_dtype(mask.dtype) != np.bool_:
                raise TypeError(f"{layer!r}: key_padding_mask must be a bool array (True = "
                                f"padding), got dtype {mask.dtype}")
            if tuple(mask.shape) != (n, t_k):
                raise ValueError(f"{layer!r}: key_padding_mask must have shape (N, T_k) = "
                                 f"{(n, t_k)}, got {tuple(mask.shape)}")
            visible = xp.reshape(xp.logical_not(mask), (n, 1, 1, t_k))
            keep = visible if keep is None else xp.logical_and(keep, visible)
        if keep is not None and not bool(xp.all(xp.any(keep, axis=-1))):
            raise ValueError(f"{layer!r}: some query has every key masked (its attention "
                             f"would be undefined)")
        return keep

    def _attend(self, layer: Module[Any], xq: Array, xc: Array, q_rows: Array, kv_rows: Array,
                key_padding_mask: object, training: bool) -> tuple[Array, AttentionCache]:
        """``y`` from the projected rows (``Q`` and ``[K V]``), and the cache."""
        xp = backend.namespace(xq)
        n, t_q, _ = xq.shape
        t_k = xc.shape[1]
        e = self.embed_dim
        q = self._heads(q_rows, n)
        k = self._heads(kv_rows[:, :e], n)
        v = self._heads(kv_rows[:, e:], n)
        scores = (q @ k.mT) / math.sqrt(self.head_dim)
        keep = self._keep(layer, xq, t_q, t_k, key_padding_mask)
        if keep is not None:
            scores = xp.where(keep, scores, -math.inf)
        scores -= xp.max(scores, axis=-1, keepdims=True)
        probs: Array = backend.compute_reusing(scores, "exp", scores)
        probs /= xp.sum(probs, axis=-1, keepdims=True)
        multiplier: Array | None = None
        if training and self.dropout > 0:
            multiplier = backend.asarray_like(  # drawn in NumPy, moved where the input lives
                np.multiply(self.rng.random(tuple(probs.shape)) >= self.dropout,
                            1 / (1 - self.dropout), dtype=backend.numpy_dtype(probs.dtype)), xq)
        dropped: Array = probs if multiplier is None else probs * multiplier
        context = self._rows(dropped @ v)
        y: Array = context @ self.out_proj_weight.data.T
        if self.out_proj_bias is not None:
            y += self.out_proj_bias.data
        rows_q, rows_c = xp.reshape(xq, (-1, e)), xp.reshape(xc, (-1, e))
        return xp.reshape(y, (n, t_q, e)), (rows_q, rows_c, q, k, v, multiplier, probs, context)

    def _attend_backward(self, layer: Module[Any], grad_out: Array, cache: AttentionCache
                         ) -> tuple[Array, Array]:
        """Accumulate ``W_o``, ``b_o`` gradients; return dL/dQ rows and dL/d[K V] rows."""
        _, _, q, k, v, multiplier, probs, context = cache
        xp = backend.namespace(q)
        n, _, t_q, _ = q.shape
        g = xp.reshape(as_grad(layer, grad_out, (n, t_q, self.embed_dim), q.dtype), (n * t_q, -1))
        self.out_proj_weight.accumulate_matmul(g.T, context)
        if self.out_proj_bias is not None and self.out_proj_bias.requires_grad:
            self.out_proj_bias.grad += xp.sum(g, axis=0)
        g_heads = self._heads(g @ self.out_proj_weight.data, n)
        dropped: Array = probs if multiplier is None else probs * multiplier
        dv = dropped.mT @ g_heads
        dp = g_heads @ v.mT
        if multiplier is not None:
            dp *= multiplier
        ds = dp - xp.sum(dp * probs, axis=-1, keepdims=True)
        ds *= probs
        ds /= math.sqrt(self.head_dim)
        dq = self._rows(ds @ k)
        dk = self._rows(ds.mT @ q)
        return dq, xp.concat([dk, self._rows(dv)], axis=1)

    def _accumulate_in_proj(self, rows: Array, d_rows: Array, part: slice) -> None:
        if self.in_proj_weight.requires_grad:  # frozen parameters accumulate nothing
            self.in_proj_weight.grad[part, ...] += d_rows.T @ rows
        if self.in_proj_bias is not None and self.in_proj_bias.requires_grad:
            self.in_proj_bias.grad[part] += backend.namespace(d_rows).sum(d_rows, axis=0)

    def _project(self, rows: Array, part: slice) -> Array:
        out: Array = rows @ self.in_proj_weight.data[part, ...].T
        if self.in_proj_bias is not None:
            out += self.in_proj_bias.data[part]
        return out

    def _describe(self) -> str:
        text = f"{self.embed_dim}, num_heads={self.num_heads}"
        if self.causal:
            text += ", causal=True"
        if self.in_proj_bias is None:
            text += ", bias=False"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if backend.numpy_dtype(self.in_proj_weight.dtype) != np.float64:
            text += f", dtype={self.in_proj_weight.dtype}"
        return text




class MultiHeadAttention(_Attention, Layer[AttentionCache]):
    """Multi-head self-attention on ``(N, T, E)``, as ``torch.nn.MultiheadAttention(E, h,
    batch_first=True)`` called as ``mha(x, x, x)`` (see the module docstring).

    ``forward(x, key_padding_mask=None)``; in a container the mask is None.

    Shapes: ``(N, T, E) -> (N, T, E)``; ``in_proj_weight (3E, E)``, ``in_proj_bias (3E,)``,
    ``out_proj_weight (E, E)``, ``out_proj_bias (E,)``.

    Cache: the input rows, Q, K, V per head, the attention weights P, the dropout
    multiplier, and the heads' output.
    Parameters
    ----------
    embed_dim : int
        E, the width of every input and of the output.
    num_heads : int
        h; must divide ``embed_dim``.
    causal : bool, default False
        Hide later keys from each query (``j > i``).
    bias : bool, default True
        Learn ``in_proj_bias (3E,)`` and ``out_proj_bias (E,)`` (zeros); False: None.
    dropout : float in [0, 1), default 0
        Dropout on the attention weights, in training mode only.
    init : Initializer, optional
        Draws both weights, called with ``(E, 3E)`` and ``(E, E)`` (fan in, fan out)
        and stored transposed; default PyTorch's (Xavier uniform, and U(±1/√E)).
    rng : int, numpy Generator or RandomState, optional
        The weights and the dropout masks.
    dtype : float dtype, default float64

    Raises
    ------
    ValueError
        ``embed_dim % num_heads != 0`` or another bad argument; an input not of shape
        ``(N, T, E)`` or with ``T = 0``; a key padding mask of the wrong shape; a query
        with every key masked; a gradient not of the output's shape.
    TypeError
        A non-real input, a non-bool mask, a non-floating ``dtype``.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        causal: bool = False,
        bias: bool = True,
        dropout: float = 0.0,
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        self._setup("MultiHeadAttention", embed_dim, num_heads, causal, bias, dropout, init,
                    rng, dtype)

    @override
    def forward(self, x: Array, key_padding_mask: Array | None = None) -> Array:
        x = self._input(self, x, "input")
        rows = backend.namespace(x).reshape(x, (-1, self.embed_dim))
        qkv = self._project(rows, slice(None))
        y, self.cache = self._attend(self, x, x, qkv[:, :self.embed_dim],
                                     qkv[:, self.embed_dim:], key_padding_mask, self.training)
        return y

    @override
    def __call__(self, x: npt.ArrayLike, key_padding_mask: Array | None = None) -> Array:
        return self.forward(x, key_padding_mask)  # type: ignore[arg-type]  # validated there

    def _backward(self, grad_out: Array) -> Array:
        cache = self.saved()
        dq, dkv = self._attend_backward(self, grad_out, cache)
        d_qkv: Array = backend.namespace(dq).concat([dq, dkv], axis=1)
        self._accumulate_in_proj(cache[0], d_qkv, slice(None))
        return d_qkv

    @override
    def backward(self, grad_out: Array) -> Array:
        d_qkv = self._backward(grad_out)
        n, t = self.saved()[2].shape[0], self.saved()[2].shape[2]
        grad_in: Array = backend.namespace(d_qkv).reshape(d_qkv @ self.in_proj_weight.data,
                                                          (n, t, -1))
        return grad_in

    @override
    def backward_params(self, grad_out: Array) -> None:
        self._backward(grad_out)

    @override
    def extra_repr(self) -> str:
        return self._describe()


class CrossAttention(_Attention, MergeLayer[AttentionCache]):
    """Multi-head attention of queries ``(N, T_q, E)`` over a context ``(N, T_k, E)``, as
    ``torch.nn.MultiheadAttention(E, h, batch_first=True)`` called as ``mha(query,
    context, context)``: a merge layer of two inputs, ``(query, context)``, for a `Graph`
    (an encoder-decoder's cross-attention). The same parameters as
    `MultiHeadAttention`: ``W_q`` acts on the query, ``W_k``, ``W_v`` on the context.

    ``forward(query, context, key_padding_mask=None)`` (mask ``(N, T_k)``); backward
    returns ``(dL/dquery, dL/dcontext)``.

    Shapes: ``(N, T_q, E), (N, T_k, E) -> (N, T_q, E)``.

    Cache: as `MultiHeadAttention`'s.

    Parameters, Raises: as `MultiHeadAttention`; also `ValueError` for a query and a
    context of different batch sizes.
    """

    min_inputs = 2
    max_inputs = 2

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        causal: bool = False,
        bias: bool = True,
        dropout: float = 0.0,
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        self._setup("CrossAttention", embed_dim, num_heads, causal, bias, dropout, init,
                    rng, dtype)

    @override
    def forward(self, *xs: Array, key_padding_mask: Array | None = None) -> Array:
        check_arity(self, len(xs))
        query, context = self._input(self, xs[0], "query"), self._input(self, xs[1], "context")
        if query.shape[0] != context.shape[0]:
            raise ValueError(f"{self!r}: query and context must have the same batch size, "
                             f"got {query.shape} and {context.shape}")
        e = self.embed_dim
        xp = backend.namespace(query)
        q_rows = self._project(xp.reshape(query, (-1, e)), slice(0, e))
        kv_rows = self._project(xp.reshape(context, (-1, e)), slice(e, None))
        y, self.cache = self._attend(self, query, context, q_rows, kv_rows, key_padding_mask,
                                     self.training)
        return y

    @override
    def __call__(self, *xs: npt.ArrayLike, key_padding_mask: Array | None = None) -> Array:
        return self.forward(*xs, key_padding_mask=key_padding_mask)  # type: ignore[arg-type]

    @override
    def backward(self, grad_out: Array) -> tuple[Array, ...]:
        cache = self.saved()
        rows_q, rows_c, q, k = cache[:4]
        dq, dkv = self._attend_backward(self, grad_out, cache)
        e = self.embed_dim
        self._accumulate_in_proj(rows_q, dq, slice(0, e))
        self._accumulate_in_proj(rows_c, dkv, slice(e, None))
        w = self.in_proj_weight.data
        xp = backend.namespace(w)
        n, t_q, t_k = q.shape[0], q.shape[2], k.shape[2]
        d_query = xp.reshape(dq @ w[:e, ...], (n, t_q, e))
        d_context = xp.reshape(dkv @ w[e:, ...], (n, t_k, e))
        return d_query, d_context

    @override
    def extra_repr(self) -> str:
        return self._describe()
