"""The attention layers: `MultiHeadAttention` (self-attention, a `Layer`: one input, so it
fits a `Sequential`) and `CrossAttention` (separate query, key and value, a `MergeLayer`:
a `Graph` node of two or three inputs). Both are ``torch.nn.MultiheadAttention(...,
batch_first=True)``: the same parameters, names and layouts, the same formulas
(`minigrad.layers.attention.kernel`) and masks (`minigrad.layers.attention.masks`).

A PyTorch call ``mha(x, x, x)`` is ``MultiHeadAttention(...)(x)``; ``mha(q, k, v)`` is
``CrossAttention(...)(q, k, v)``. The output comes alone (PyTorch's ``need_weights=False``);
with ``need_weights=True`` the attention weights are kept in ``last_attn_weights``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.core import Array, Layer, MergeLayer, check_arity
from minigrad.layers.attention.kernel import KEY, QUERY, VALUE, AttentionCache, MultiHeadKernel


def check_batch_first(owner: str, batch_first: object) -> None:
    """minigrad's sequences are ``(N, T, E)``: PyTorch's ``batch_first=True`` only."""
    if batch_first is not True:
        raise ValueError(f"{owner}: batch_first must be True (minigrad's sequences are "
                         f"(N, T, E); transpose a (T, N, E) batch first), got {batch_first!r}")




class MultiHeadAttention(MultiHeadKernel, Layer[AttentionCache]):
    """Multi-head self-attention on ``(N, T, E)``, as ``torch.nn.MultiheadAttention(E, h,
    batch_first=True)`` called as ``mha(x, x, x)`` (formulas: the module docstring of
    `minigrad.layers.attention.kernel`).

    ``forward(x, key_padding_mask=None, *, attn_mask=None, is_causal=False,
    need_weights=False, average_attn_weights=True)``.

    Shapes: ``(N, T, E) -> (N, T, E)``; ``in_proj_weight (3E, E)``, ``in_proj_bias (3E,)``,
    ``bias_k``, ``bias_v (1, 1, E)``, ``out_proj_weight (E, E)``, ``out_proj_bias (E,)``.
    (PyTorch's ``kdim``/``vdim`` need keys of another width than the queries': that is
    `CrossAttention`.)

    Cache: the input rows, Q, K, V per head, P, the dropout multiplier, and the heads'
    output.

    Parameters
    ----------
    embed_dim : int
        E, the width of the input and of the output.
    num_heads : int
        h; must divide ``embed_dim``.
    causal : bool, default False
        Hide later keys from each query (``j > i``) in every call.
    bias : bool, default True
        Learn ``in_proj_bias (3E,)`` and ``out_proj_bias (E,)`` (zeros); False: None.
    dropout : float in [0, 1), default 0
        Dropout on the attention weights, in training mode only.
    add_bias_kv : bool, default False
        Learn ``bias_k``, ``bias_v (1, 1, E)`` (N(0, 1/E)): one more key and value, after
        the sequence's, visible to every query.
    add_zero_attn : bool, default False
        One more key and value of zeros, after those.
    batch_first : True
        PyTorch's keyword; minigrad is batch-first (False is refused).
    init : Initializer, optional
        Draws the weights, called with ``(fan_in, fan_out)`` (``(E, 3E)``, ``(E, E)``), stored
        transposed; default PyTorch's (Xavier uniform, and U(±1/√E)).
    rng : int, numpy Generator or RandomState, optional
        The weights and the dropout masks.
    dtype : float dtype, default float64

    Call options (keyword arguments of ``forward``, all PyTorch's)
    ----------------------------------------------------------------
    attn_mask : array, optional
        ``(L, S)`` or ``(N·num_heads, L, S)``, bool (True = hidden) or floating (added to
        the scores); default the layer's ``attn_mask`` attribute (None).
    key_padding_mask : array, optional
        ``(N, S)``, bool (True = padding) or floating; default the layer's
        ``key_padding_mask`` attribute (None). Setting the attributes is how masks reach
        a layer inside a container.
    is_causal : bool, default False
        Hide key ``j`` from query ``i`` when ``j > i`` (added to ``attn_mask``, if any; PyTorch
        takes ``is_causal`` as a hint that ``attn_mask`` is that mask, so the two agree
        when you pass PyTorch that mask).
    need_weights : bool, default False
        Keep the attention weights, after dropout, in ``last_attn_weights``: ``(N, L, S')``
        averaged over the heads, or ``(N, num_heads, L, S')`` without
        ``average_attn_weights`` (``S'`` counts the extra keys); None otherwise.
    average_attn_weights : bool, default True

    Raises
    ------
    ValueError
        ``embed_dim % num_heads != 0`` or another bad argument; an input not of shape
        ``(N, T, E)`` or with ``T = 0``; a mask of the wrong shape; a query with every key
        masked; a gradient not of the output's shape.
    TypeError
        A non-bool flag, a non-real input, a mask neither bool nor floating, a
        non-floating ``dtype``.
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
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        batch_first: bool = True,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        check_batch_first("MultiHeadAttention", batch_first)
        self._setup("MultiHeadAttention", embed_dim, num_heads, causal=causal, bias=bias,
                    dropout=dropout, add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn,
                    kdim=None, vdim=None, init=init, rng=rng, dtype=dtype)

    @override
    def forward(self, x: Array, key_padding_mask: object = None, *, attn_mask: object = None,
                is_causal: bool = False, need_weights: bool = False,
                average_attn_weights: bool = True) -> Array:
        options = self._options(attn_mask, key_padding_mask, is_causal, need_weights,
                                average_attn_weights, "MultiHeadAttention")
        x = self._input(self, x, "input", self.embed_dim)
        rows = backend.namespace(x).reshape(x, (-1, self.embed_dim))
        assert self.in_proj_weight is not None  # self-attention: kdim = vdim = E
        qkv = self._project(rows, self.in_proj_weight, slice(None))  # Q ‖ K ‖ V at once
        e = self.embed_dim
        y, self.cache = self._attend(self, qkv[:, :e], qkv[:, e:2 * e], qkv[:, 2 * e:],
                                     x.shape[0], (rows,), options)
        return y

    @override
    def __call__(self, x: npt.ArrayLike, key_padding_mask: object = None, *,
                 attn_mask: object = None, is_causal: bool = False,
                 need_weights: bool = False, average_attn_weights: bool = True) -> Array:
        return self.forward(x, key_padding_mask, attn_mask=attn_mask,  # type: ignore[arg-type]
                            is_causal=is_causal, need_weights=need_weights,
                            average_attn_weights=average_attn_weights)

    def _backward(self, grad_out: Array, input_grad: bool) -> Array | None:
        cache = self.saved()
        d_qkv = backend.namespace(grad_out).concat(
            list(self._attend_backward(self, grad_out, cache)), axis=1)
        assert self.in_proj_weight is not None
        d_rows = self._project_backward(cache[0][0], d_qkv, self.in_proj_weight, slice(None),
                                        input_grad)
        if d_rows is None:
            return None
        n, t = cache[1].shape[0], cache[1].shape[2]
        grad_in: Array = backend.namespace(d_rows).reshape(d_rows, (n, t, self.embed_dim))
        return grad_in

    @override
    def backward(self, grad_out: Array) -> Array:
        grad_in = self._backward(grad_out, input_grad=True)
        assert grad_in is not None
        return grad_in

    @override
    def backward_params(self, grad_out: Array) -> None:
        self._backward(grad_out, input_grad=False)

    @override
    def extra_repr(self) -> str:
        return self._describe()


class CrossAttention(MultiHeadKernel, MergeLayer[AttentionCache]):
    """Multi-head attention of queries ``(N, L, E)`` over keys ``(N, S, kdim)`` and values
    ``(N, S, vdim)``, as ``torch.nn.MultiheadAttention(E, h, kdim=kdim, vdim=vdim,
    batch_first=True)`` called as ``mha(query, key, value)``: a merge layer of three
    inputs ``(query, key, value)``, or of two, ``(query, context)``, for ``mha(query,
    context, context)`` (an encoder-decoder's cross-attention).

    ``forward(query, key, value, *, attn_mask=None, key_padding_mask=None,
    is_causal=False, need_weights=False, average_attn_weights=True)`` (or
    ``forward(query, context, ...)``); backward returns one gradient per input:
    ``(dL/dquery, dL/dkey, dL/dvalue)`` or ``(dL/dquery, dL/dcontext)``.

    Parameters: PyTorch's, as `MultiHeadAttention`'s. With ``kdim = vdim = E`` (the
    default) ``W_q, W_k, W_v`` are the row blocks of ``in_proj_weight (3E, E)``; otherwise
    they are ``q_proj_weight (E, E)``, ``k_proj_weight (E, kdim)``, ``v_proj_weight (E,
    vdim)`` and ``in_proj_weight`` is None, as PyTorch has them.

    Shapes: ``(N, L, E), (N, S, kdim), (N, S, vdim) -> (N, L, E)``.

    Cache: as `MultiHeadAttention`'s (the rows of each input).

    Call options (masks, ``need_weights``): as `MultiHeadAttention`'s.

    Parameters
    ----------
    embed_dim, num_heads : int
        As `MultiHeadAttention`.
    causal, bias, add_bias_kv, add_zero_attn : bool, default False, True, False, False
        As `MultiHeadAttention`.
    dropout : float in [0, 1), default 0
    batch_first : True
    init : Initializer, optional
    rng : int, numpy Generator or RandomState, optional
    dtype : float dtype, default float64
        As `MultiHeadAttention`.
    kdim, vdim : int, optional
        The widths of the key and of the value; default ``embed_dim``. Two inputs
        (``context``) need ``kdim == vdim``.

    Raises
    ------
    ValueError
        As `MultiHeadAttention`; also inputs of different batch sizes, a key and a value
        of different lengths, two inputs with ``kdim != vdim``.
    TypeError, RuntimeError
        As `MultiHeadAttention`.
    """

    min_inputs = 2
    max_inputs = 3

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        causal: bool = False,
        bias: bool = True,
        dropout: float = 0.0,
        *,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = True,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        check_batch_first("CrossAttention", batch_first)
        self._setup("CrossAttention", embed_dim, num_heads, causal=causal, bias=bias,
                    dropout=dropout, add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn,
                    kdim=kdim, vdim=vdim, init=init, rng=rng, dtype=dtype)

    @override
    def forward(self, *xs: Array, attn_mask: object = None, key_padding_mask: object = None,
                is_causal: bool = False, need_weights: bool = False,
                average_attn_weights: bool = True) -> Array:
        check_arity(self, len(xs))
        options = self._options(attn_mask, key_padding_mask, is_causal, need_weights,
                                average_attn_weights, "CrossAttention")
        if len(xs) == 2 and self.kdim != self.vdim:
            raise ValueError(f"{self!r}: kdim ({self.kdim}) != vdim ({self.vdim}) needs a key "
                             f"and a value of their own: call it on (query, key, value)")
        query = self._input(self, xs[0], "query", self.embed_dim)
        key = self._input(self, xs[1], "key", self.kdim)
        value = key if len(xs) == 2 else self._input(self, xs[2], "value", self.vdim)
        if not query.shape[0] == key.shape[0] == value.shape[0] or \
                key.shape[1] != value.shape[1]:
            raise ValueError(f"{self!r}: query (N, L, E), key (N, S, kdim) and value (N, S, "
                             f"vdim) must agree on N and S, got {tuple(query.shape)}, "
                             f"{tuple(key.shape)} and {tuple(value.shape)}")
        xp = backend.namespace(query)
        rows = tuple(xp.reshape(x, (-1, x.shape[2])) for x in (query, key, value)[:len(xs)])
        q, k, v = (self._project(rows[min(part, len(rows) - 1)], *self._weight(part))
                   for part in (QUERY, KEY, VALUE))  # a context is both key and value
        y, self.cache = self._attend(self, q, k, v, query.shape[0], rows, options)
        return y

    @override
    def __call__(self, *xs: npt.ArrayLike, attn_mask: object = None,
                 key_padding_mask: object = None, is_causal: bool = False,
                 need_weights: bool = False, average_attn_weights: bool = True) -> Array:
        return self.forward(*xs, attn_mask=attn_mask,  # type: ignore[arg-type]
                            key_padding_mask=key_padding_mask, is_causal=is_causal,
                            need_weights=need_weights, average_attn_weights=average_attn_weights)

    @override
    def backward(self, grad_out: Array) -> tuple[Array, ...]:
        cache = self.saved()
        rows = cache[0]
        grads = self._attend_backward(self, grad_out, cache)
        inputs = [self._project_backward(rows[min(part, len(rows) - 1)], grads[part],
                                         *self._weight(part)) for part in (QUERY, KEY, VALUE)]
        d_query, d_key, d_value = (g for g in inputs if g is not None)
        n, t_q = cache[1].shape[0], cache[1].shape[2]
        xp = backend.namespace(d_query)
        d_query = xp.reshape(d_query, (n, t_q, self.embed_dim))
        if len(rows) == 2:  # the context is both the key and the value
            return d_query, xp.reshape(d_key + d_value, (n, -1, self.kdim))
        return (d_query, xp.reshape(d_key, (n, -1, self.kdim)),
                xp.reshape(d_value, (n, -1, self.vdim)))

    @override
    def extra_repr(self) -> str:
        return self._describe()


__all__ = ["CrossAttention", "MultiHeadAttention", "check_batch_first"]
