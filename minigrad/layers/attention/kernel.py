"""Multi-head attention's parameters and its shared forward and backward, with PyTorch's
formulas and layouts (``torch.nn.MultiheadAttention``, ``batch_first=True``).

With ``E = embed_dim`` split into ``h`` heads of ``d = E/h``, a query ``(N, L, E)``, a
key ``(N, S, kdim)`` and a value ``(N, S, vdim)``::

    Q = x_q W_qᵀ + b_q    K = x_k W_kᵀ + b_k    V = x_v W_vᵀ + b_v      (split into heads)
    K ← [K ; bias_k ; 0]   V ← [V ; bias_v ; 0]       (add_bias_kv, add_zero_attn: extra keys)
    S = Q Kᵀ / √d + M      P = softmax(S)   (over the keys, stable)    M: the masks, summed
    y = concat_heads(P V) W_oᵀ + b_o                                  (W_o = out_proj_weight)

``W_q, W_k, W_v`` are the row blocks of ``in_proj_weight (3E, E)`` when ``kdim = vdim =
E``, else the separate ``q_proj_weight (E, E)``, ``k_proj_weight (E, kdim)``,
``v_proj_weight (E, vdim)`` (PyTorch's rule); ``b_q ‖ b_k ‖ b_v = in_proj_bias (3E,)``.
The masks are `minigrad.layers.attention.masks`'s. Dropout (training mode only) drops
entries of ``P`` and rescales the rest by ``1/(1 − p)``.

Backward, with ``Ĝ = dL/d(PV)`` per head and ``D`` the dropout multiplier::

    dV = (P⊙D)ᵀ Ĝ     dP = (Ĝ Vᵀ) ⊙ D     dS = P ⊙ (dP − Σ_keys dP ⊙ P) / √d
    dQ = dS K         dK = dSᵀ Q          then the extra keys' rows and the projections'
                                          own products (dW_q = dQᵀ x_q, dx_q = dQ W_q).

On every array library: standard calls only; the dropout masks are drawn in NumPy from
the layer's ``rng`` and moved where the input lives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad import init as initializers
from minigrad.core import (
    Array,
    Module,
    Parameter,
    as_grad,
    check_bool,
    check_count,
    check_number,
    check_parameter_dtype,
)
from minigrad.core.nd import as_nd
from minigrad.layers.attention.masks import additive_mask

AttentionCache = tuple[tuple[Array, ...], Array, Array, Array, Array | None, Array, Array]
"""The inputs' rows (what the projections read), Q, K, V per head (K, V with their extra
keys), the dropout multiplier (or None), P, and the heads' output ``(N·L, E)``."""

QUERY, KEY, VALUE = 0, 1, 2
"""The parts of the in-projection: its row blocks, or its separate weights."""


class MultiHeadKernel:
    """The parameters and the shared kernel of `MultiHeadAttention` and `CrossAttention`.

    Attributes besides the parameters: ``attn_mask`` and ``key_padding_mask`` (None; set
    them to mask the calls that pass none, e.g. in a container), ``last_attn_weights``
    (the latest forward's, when it was asked for them).
    """

    def _setup(
        self,
        name: str,
        embed_dim: int,
        num_heads: int,
        *,
        causal: bool,
        bias: bool,
        dropout: float,
        add_bias_kv: bool,
        add_zero_attn: bool,
        kdim: int | None,
        vdim: int | None,
        init: initializers.Initializer | None,
        rng: initializers.SeedLike,
        dtype: npt.DTypeLike,
    ) -> None:
        self.embed_dim = e = check_count(name, "embed_dim", embed_dim, 1)
        self.num_heads = check_count(name, "num_heads", num_heads, 1)
        if e % self.num_heads:
            raise ValueError(f"{name}: embed_dim ({e}) must be divisible by "
                             f"num_heads ({self.num_heads})")
        self.head_dim = e // self.num_heads
        self.kdim = e if kdim is None else check_count(name, "kdim", kdim, 1)
        self.vdim = e if vdim is None else check_count(name, "vdim", vdim, 1)
        self.causal = check_bool(name, "causal", causal)
        bias = check_bool(name, "bias", bias)
        self.add_zero_attn = check_bool(name, "add_zero_attn", add_zero_attn)
        add_bias_kv = check_bool(name, "add_bias_kv", add_bias_kv)
        self.dropout = check_number(name, "dropout", dropout, "a number in [0, 1)",
                                    lambda v: 0 <= v < 1)
        dtype = check_parameter_dtype(name, dtype)
        self.rng = initializers.make_rng(rng)

        def weight(fan_in: int, fan_out: int, default: initializers.Initializer,
                   label: str) -> Parameter:  # drawn (fan_in, fan_out), stored transposed
            drawn = initializers.draw(name, init if init is not None else default,
                                      (fan_in, fan_out), self.rng, dtype)
            return Parameter(drawn.T, label)

        # PyTorch's: Xavier-uniform in-projection(s), U(±1/√E) out-projection, zero
        # biases, N(0, 1/E) (Xavier normal) bias_k and bias_v.
        xavier = initializers.xavier_uniform()
        self.in_proj_weight: Parameter | None = None
        self.q_proj_weight: Parameter | None = None
        self.k_proj_weight: Parameter | None = None
        self.v_proj_weight: Parameter | None = None
        if self.kdim == e and self.vdim == e:
            self.in_proj_weight = weight(e, 3 * e, xavier, "in_proj_weight")
        else:
            self.q_proj_weight = weight(e, e, xavier, "q_proj_weight")
            self.k_proj_weight = weight(self.kdim, e, xavier, "k_proj_weight")
            self.v_proj_weight = weight(self.vdim, e, xavier, "v_proj_weight")
        self.in_proj_bias = Parameter(np.zeros(3 * e, dtype), "in_proj_bias") if bias else None
        self.bias_k: Parameter | None = None
        self.bias_v: Parameter | None = None
        if add_bias_kv:
            normal = initializers.normal(1 / math.sqrt(e))
            self.bias_k = Parameter(normal((1, 1, e), self.rng, dtype), "bias_k")
            self.bias_v = Parameter(normal((1, 1, e), self.rng, dtype), "bias_v")
        bound = 1 / math.sqrt(e)
        self.out_proj_weight = weight(e, e, initializers.uniform(-bound, bound),
                                      "out_proj_weight")
        self.out_proj_bias = Parameter(np.zeros(e, dtype), "out_proj_bias") if bias else None
        self.attn_mask: object = None
        self.key_padding_mask: object = None
        self.last_attn_weights: Array | None = None

    # -- the in-projection ---------------------------------------------------------------
    def _weight(self, part: int) -> tuple[Parameter, slice]:
        """``W_q``, ``W_k`` or ``W_v``: a parameter and the rows of it that hold it."""
        if self.in_proj_weight is not None:
            e = self.embed_dim
            return self.in_proj_weight, slice(part * e, (part + 1) * e)
        separate = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[part]
        assert separate is not None, "separate weights exist when in_proj_weight does not"
        return separate, slice(None)

    def _project(self, rows: Array, weight: Parameter, part: slice) -> Array:
        """``x Wᵀ + b`` for the rows ``part`` of ``weight`` (and of ``in_proj_bias``)."""
        out: Array = rows @ weight.data[part, ...].T
        if self.in_proj_bias is not None:
            out += self.in_proj_bias.data[self._bias_rows(weight, part)]
        return out

    def _bias_rows(self, weight: Parameter, part: slice) -> slice:
        """The rows of ``in_proj_bias`` that go with the rows ``part`` of ``weight``."""
        if weight is self.in_proj_weight:
            return part
        e = self.embed_dim
        index = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight].index(weight)
        return slice(index * e, (index + 1) * e)

    def _project_backward(self, rows: Array, d_rows: Array, weight: Parameter, part: slice,
                          input_grad: bool = True) -> Array | None:
        """Accumulate ``dW += dᵀ x`` and ``db += Σ d`` for the rows ``part``; return
        ``dx = d W`` (None without ``input_grad``)."""
        if weight.requires_grad:  # frozen parameters accumulate nothing
            if part == slice(None):
                weight.accumulate_matmul(d_rows.T, rows)
            else:
                weight.grad[part, ...] += d_rows.T @ rows
        if self.in_proj_bias is not None and self.in_proj_bias.requires_grad:
            xp = backend.namespace(d_rows)
            self.in_proj_bias.grad[self._bias_rows(weight, part)] += xp.sum(d_rows, axis=0)
        if not input_grad:
            return None
        grad_in: Array = d_rows @ weight.data[part, ...]
        return grad_in

    # -- heads -----------------------------------------------------------------------------
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

    def _extra_keys(self, heads: Array, bias: Parameter | None) -> Array:
        """``[K ; bias_k ; 0]`` (or V's): the heads with the learned and the zero key."""
        xp = backend.namespace(heads)
        n, h, _, d = heads.shape
        parts = [heads]
        if bias is not None:
            parts.append(xp.broadcast_to(xp.reshape(bias.data, (1, h, 1, d)), (n, h, 1, d)))
        if self.add_zero_attn:
            parts.append(xp.zeros((n, h, 1, d), dtype=heads.dtype, device=backend.device(heads)))
        return heads if len(parts) == 1 else xp.concat(parts, axis=2)

    @property
    def extra_keys(self) -> int:
        """How many keys the layer appends to the given ones (``bias_k``, the zero key)."""
        return int(self.bias_k is not None) + int(self.add_zero_attn)

    def _input(self, layer: Module[Any], x: object, what: str, width: int) -> Array:
        like = self.out_proj_weight.data
        return as_nd(layer, x, expected=f"(batch, T, {width}) for the {what}", ndims=(3,),
                     sizes={2: width}, like=like)

    # -- attention ---------------------------------------------------------------------------
    def _attend(
        self, layer: Module[Any], q_rows: Array, k_rows: Array, v_rows: Array, n: int,
        inputs: tuple[Array, ...], options: dict[str, Any],
    ) -> tuple[Array, AttentionCache]:
        """``y (N, L, E)`` from the projected rows, and the cache; ``options`` are the
        call's masks and ``need_weights``, ``average_attn_weights``."""
        xp = backend.namespace(q_rows)
        q = self._heads(q_rows, n)
        k = self._extra_keys(self._heads(k_rows, n), self.bias_k)
        v = self._extra_keys(self._heads(v_rows, n), self.bias_v)
        t_q, t_k = q.shape[2], k_rows.shape[0] // n
        scores = (q @ k.mT) / math.sqrt(self.head_dim)
        mask = additive_mask(
            layer, scores, (n, self.num_heads, t_q, t_k),
            attn_mask=options["attn_mask"], key_padding_mask=options["key_padding_mask"],
            causal=self.causal or options["is_causal"], extra_keys=self.extra_keys)
        if mask is not None:
            scores += mask
        top = xp.max(scores, axis=-1, keepdims=True)
        if mask is not None and bool(xp.any(top == -math.inf)):
            raise ValueError(f"{layer!r}: some query has every key masked (its attention "
                             f"would be undefined)")
        scores -= top
        probs: Array = backend.compute_reusing(scores, "exp", scores)
        probs /= xp.sum(probs, axis=-1, keepdims=True)
        multiplier: Array | None = None
        if layer.training and self.dropout > 0:
            multiplier = backend.asarray_like(  # drawn in NumPy, moved where the input lives
                np.multiply(self.rng.random(tuple(probs.shape)) >= self.dropout,
                            1 / (1 - self.dropout), dtype=backend.numpy_dtype(probs.dtype)),
                q_rows)
        dropped: Array = probs if multiplier is None else probs * multiplier
        self.last_attn_weights = None
        if options["need_weights"]:  # PyTorch's: after dropout, averaged over the heads
            self.last_attn_weights = (xp.mean(dropped, axis=1)
                                      if options["average_attn_weights"] else dropped)
        context = self._rows(dropped @ v)
        y: Array = context @ self.out_proj_weight.data.T
        if self.out_proj_bias is not None:
            y += self.out_proj_bias.data
        return xp.reshape(y, (n, t_q, self.embed_dim)), (inputs, q, k, v, multiplier, probs,
                                                         context)

    def _options(self, attn_mask: object, key_padding_mask: object, is_causal: bool,
                 need_weights: bool, average_attn_weights: bool, name: str) -> dict[str, Any]:
        """A call's options; the masks default to the layer's ``attn_mask`` and
        ``key_padding_mask`` attributes."""
        return {
            "attn_mask": self.attn_mask if attn_mask is None else attn_mask,
            "key_padding_mask": (self.key_padding_mask if key_padding_mask is None
                                 else key_padding_mask),
            "is_causal": check_bool(name, "is_causal", is_causal),
            "need_weights": check_bool(name, "need_weights", need_weights),
            "average_attn_weights": check_bool(name, "average_attn_weights",
                                               average_attn_weights),
        }

    def _attend_backward(self, layer: Module[Any], grad_out: Array, cache: AttentionCache
                         ) -> tuple[Array, Array, Array]:
        """Accumulate the gradients of ``W_o``, ``b_o``, ``bias_k``, ``bias_v``; return
        dL/dQ, dL/dK, dL/dV as rows ``(N·T, E)`` (of the given keys only)."""
        _, q, k, v, multiplier, probs, context = cache
        xp = backend.namespace(q)
        n, _, t_q, _ = q.shape
        g = xp.reshape(as_grad(layer, grad_out, (n, t_q, self.embed_dim), q.dtype), (n * t_q, -1))
        self.out_proj_weight.accumulate_matmul(g.T, context)        # dW_o = Gᵀ C
        if self.out_proj_bias is not None and self.out_proj_bias.requires_grad:
            self.out_proj_bias.grad += xp.sum(g, axis=0)            # db_o = Σ G
        g_heads = self._heads(g @ self.out_proj_weight.data, n)    # Ĝ
        dropped: Array = probs if multiplier is None else probs * multiplier
        dv = dropped.mT @ g_heads
        dp = g_heads @ v.mT
        if multiplier is not None:
            dp *= multiplier
        ds = dp - xp.sum(dp * probs, axis=-1, keepdims=True)
        ds *= probs
        ds /= math.sqrt(self.head_dim)
        dq = self._rows(ds @ k)
        dk = ds.mT @ q
        t_k = k.shape[2] - self.extra_keys
        for bias, grad in ((self.bias_k, dk), (self.bias_v, dv)):
            if bias is not None and bias.requires_grad:  # the key after the given ones
                bias.grad += xp.reshape(xp.sum(grad[:, :, t_k, :], axis=0), bias.shape)
        return dq, self._rows(dk[:, :, :t_k, :]), self._rows(dv[:, :, :t_k, :])

    def _describe(self) -> str:
        text = f"{self.embed_dim}, num_heads={self.num_heads}"
        for name, default in (("kdim", self.embed_dim), ("vdim", self.embed_dim)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        for flag, on in (("causal", self.causal), ("add_bias_kv", self.bias_k is not None),
                         ("add_zero_attn", self.add_zero_attn)):
            if on:
                text += f", {flag}=True"
        if self.in_proj_bias is None:
            text += ", bias=False"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if backend.numpy_dtype(self.out_proj_weight.dtype) != np.float64:
            text += f", dtype={self.out_proj_weight.dtype}"
        return text
