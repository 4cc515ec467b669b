"""PyTorch's transformer layers, composed of minigrad's: `TransformerEncoderLayer` (a
`Layer`) and `TransformerDecoderLayer` (a `MergeLayer` of ``(tgt, memory)``).

Each holds its sub-layers under PyTorch's names -- ``self_attn``, ``multihead_attn``,
``linear1``, ``dropout``, ``linear2``, ``norm1``..``norm3``, ``dropout1``..``dropout3``,
``activation`` -- so the state dict has PyTorch's keys (``self_attn.in_proj_weight``,
``linear1.weight``, ``norm1.weight``; minigrad's own layouts, as everywhere: `Dense`'s
weight is ``(in, out)`` and attention's out-projection is ``out_proj_weight``; the
exporters map both). Forward calls the sub-layers; backward calls their backward in
reverse, adding the gradients of the residual branches::

    post-norm (norm_first=False)           pre-norm (norm_first=True)
    x = norm1(x + SA(x))                   x = x + SA(norm1(x))
    x = norm2(x + CA(x, memory))           x = x + CA(norm2(x), memory)      (decoder)
    x = norm3(x + FF(x))                   x = x + FF(norm3(x))              (norm2 in
                                                                              the encoder)
    SA(x) = dropout1(self_attn(x, x, x))   CA = dropout2(multihead_attn(x, memory, memory))
    FF(x) = dropout3(linear2(dropout(activation(linear1(x)))))   (dropout2 in the encoder)

Backward of ``y = x + B(x)`` is ``g + B'(g)``; of ``y = norm(x + B(x))``, with ``h =
norm'(g)``, ``h + B'(h)``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

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
    as_grad,
    check_arity,
    check_bool,
    check_count,
    check_number,
    check_positive,
)
from minigrad.core.nd import as_nd
from minigrad.layers.activations import GELU, ReLU
from minigrad.layers.attention.layers import CrossAttention, MultiHeadAttention, check_batch_first
from minigrad.layers.dense import Dense
from minigrad.layers.normalization import LayerNorm
from minigrad.layers.regularization import Dropout


def _activation(owner: str, activation: object) -> Layer[Any]:
    """PyTorch's ``"relu"`` or ``"gelu"`` as a layer, or the given layer instance."""
    if isinstance(activation, Layer):
        return activation
    if activation == "relu":
        return ReLU()
    if activation == "gelu":
        return GELU()
    raise ValueError(f"{owner}: activation must be 'relu', 'gelu' or a minigrad Layer "
                     f"instance (such as mg.SiLU()), got {activation!r}")


class _TransformerLayer(Module[tuple[int, ...]]):
    """What both layers share: the constructor (PyTorch's arguments, checked, and the
    sub-layers built in PyTorch's order), the feed-forward block, the norms and the
    dropouts."""

    rng: initializers.RNG
    norm1: LayerNorm
    norm2: LayerNorm
    dropout1: Dropout
    dropout2: Dropout

    misplaced_switches: ClassVar[dict[str, str]]
    """Masks and flags that are forward's arguments or the attention layers' attributes,
    refused as this layer's attributes, each with its real switch."""

    attends_to_memory: ClassVar[bool]
    """Whether the layer also attends to a second input, the encoder's output (the
    decoder: a ``multihead_attn`` and a third norm and dropout)."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Layer[Any] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = True,
        norm_first: bool = False,
        bias: bool = True,
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        # The arguments are checked before any sub-layer is built, so errors name this layer.
        name = type(self).__name__
        check_batch_first(name, batch_first)
        self.d_model = d_model = check_count(name, "d_model", d_model, 1)
        self.nhead = nhead = check_count(name, "nhead", nhead, 1)
        if d_model % nhead:
            raise ValueError(f"{name}: d_model ({d_model}) must be divisible by nhead ({nhead})")
        self.dim_feedforward = check_count(name, "dim_feedforward", dim_feedforward, 1)
        check_number(name, "dropout", dropout, "a number in [0, 1)", lambda v: 0 <= v < 1)
        eps = check_positive(name, "layer_norm_eps", layer_norm_eps)
        self.norm_first = check_bool(name, "norm_first", norm_first)
        check_bool(name, "bias", bias)
        activation_layer = _activation(name, activation)
        self.rng = initializers.make_rng(rng)
        # The sub-layers in PyTorch's order, which the state dict lists them in.
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            init=init, rng=self.rng, dtype=dtype)
        if self.attends_to_memory:
            self.multihead_attn = CrossAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 init=init, rng=self.rng, dtype=dtype)
        self.linear1 = self._linear(d_model, self.dim_feedforward, bias, init, dtype)
        self.dropout = Dropout(dropout, rng=self.rng)
        self.linear2 = self._linear(self.dim_feedforward, d_model, bias, init, dtype)
        norms = 3 if self.attends_to_memory else 2
        for index in range(1, norms + 1):
            setattr(self, f"norm{index}", LayerNorm(d_model, eps, bias=bias, dtype=dtype))
        for index in range(1, norms + 1):
            setattr(self, f"dropout{index}", Dropout(dropout, rng=self.rng))
        self.activation = activation_layer

    def _linear(self, fan_in: int, fan_out: int, bias: bool,
                init: initializers.Initializer | None, dtype: npt.DTypeLike) -> Dense:
        """PyTorch's ``nn.Linear``: weight and bias U(±1/√fan_in) (with ``init``: the
        weight drawn by it, the bias zero)."""
        bound = 1 / math.sqrt(fan_in)
        linear = Dense(fan_in, fan_out, bias=bias, rng=self.rng, dtype=dtype,
                       init=init if init is not None else initializers.uniform(-bound, bound))
        if init is None and linear.bias is not None:
            linear.bias.data[...] = self.rng.uniform(-bound, bound, fan_out)
        return linear

    def _input(self, x: object, what: str) -> Array:
        return as_nd(self, x, expected=f"(batch, T, {self.d_model}) for the {what}",
                     ndims=(3,), sizes={2: self.d_model}, like=self.linear1.weight.data)

    def _feedforward(self, x: Array, last_dropout: Dropout) -> Array:
        return last_dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _feedforward_backward(self, g: Array, last_dropout: Dropout) -> Array:
        g = self.linear2.backward(last_dropout.backward(g))
        return self.linear1.backward(self.activation.backward(self.dropout.backward(g)))

    def _describe(self) -> str:
        """The size arguments, then the options that differ from PyTorch's defaults."""
        text = f"{self.d_model}, nhead={self.nhead}, dim_feedforward={self.dim_feedforward}"
        if self.dropout.p != 0.1:
            text += f", dropout={self.dropout.p}"
        activation = self.activation
        if type(activation) is GELU and activation.approximate == "none":
            text += ", activation='gelu'"
        elif type(activation) is not ReLU:
            text += f", activation={activation!r}"
        if self.norm1.eps != 1e-5:
            text += f", layer_norm_eps={self.norm1.eps}"
        if self.norm_first:
            text += ", norm_first=True"
        if self.linear1.bias is None:
            text += ", bias=False"
        dtype = self.linear1.weight.dtype
        if backend.numpy_dtype(dtype) != np.float64:
            text += f", dtype={dtype}"
        return text

    if not TYPE_CHECKING:  # hidden from type checkers, which would then allow any name
        def __setattr__(self, name: str, value: object) -> None:
            # A forward argument set as an attribute would be silently ignored; say where
            # the switch is (one dict lookup per assignment).
            where = self.misplaced_switches.get(name)
            if where is not None:
                raise AttributeError(
                    f"{type(self).__name__}: {name} is not a setting of this layer (setting "
                    f"it would do nothing); pass it to forward, or, in a container, set "
                    f"layer.{where}")
            super().__setattr__(name, value)

    @override
    def extra_repr(self) -> str:
        return self._describe()


class TransformerEncoderLayer(_TransformerLayer, Layer[tuple[int, ...]]):
    """``torch.nn.TransformerEncoderLayer(..., batch_first=True)``: self-attention and a
    feed-forward block, each with a residual connection and a LayerNorm (after it, or
    before it with ``norm_first``); see the module docstring for the formulas.

    ``forward(src, *, src_mask=None, src_key_padding_mask=None, is_causal=False)``: the
    masks of `MultiHeadAttention` (``attn_mask``, ``key_padding_mask``, ``is_causal``). In a
    container, which passes the input alone, set them on the attention layer instead
    (``layer.self_attn.key_padding_mask = ...``: the mask of every call that passes none;
    ``layer.self_attn.causal = True``: causal on every call). Setting a mask or flag on
    this layer itself (``layer.src_mask = ...``, ``layer.is_causal = True``) is refused
    with an `AttributeError` naming the real switch, as it would do nothing.

    Shapes: ``(N, T, d_model) -> (N, T, d_model)``.

    Cache: the input's shape; the sub-layers keep their own.

    Parameters
    ----------
    d_model, nhead : int
        The width and the number of heads (``nhead`` divides ``d_model``).
    dim_feedforward : int, default 2048
    dropout : float in [0, 1), default 0.1
        On the attention weights, after the activation and on each branch (training only).
    activation : "relu", "gelu" or a Layer, default "relu"
    layer_norm_eps : float, default 1e-5
    batch_first : True
        minigrad is batch-first (PyTorch's default, False, is refused).
    norm_first : bool, default False
    bias : bool, default True
        ``False``: no bias in the attention projections, the linear layers or the norms
        (PyTorch's meaning).
    init : Initializer, optional
        Draws every weight (the biases then start at zero); default PyTorch's.
    rng : int, numpy Generator or RandomState, optional
        The weights and the dropout masks.
    dtype : float dtype, default float64

    Raises
    ------
    ValueError
        A bad argument (naming it); an input not ``(N, T, d_model)``; bad masks.
    TypeError
        A non-bool flag; a non-real input; a mask neither bool nor floating.
    AttributeError
        Setting a forward argument (a mask or ``is_causal``) as an attribute.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    attends_to_memory = False
    misplaced_switches: ClassVar[dict[str, str]] = {
        "src_mask": "self_attn.attn_mask", "attn_mask": "self_attn.attn_mask",
        "src_key_padding_mask": "self_attn.key_padding_mask",
        "key_padding_mask": "self_attn.key_padding_mask",
        "is_causal": "self_attn.causal = True", "causal": "self_attn.causal = True"}

    def _self_attention(self, x: Array, masks: dict[str, Any]) -> Array:
        return self.dropout1(self.self_attn(x, **masks))

    @override
    def forward(self, src: Array, *, src_mask: object = None,
                src_key_padding_mask: object = None, is_causal: bool = False) -> Array:
        x = self._input(src, "input")
        masks = {"attn_mask": src_mask, "key_padding_mask": src_key_padding_mask,
                 "is_causal": is_causal}
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), masks)
            x = x + self._feedforward(self.norm2(x), self.dropout2)
        else:
            x = self.norm1(x + self._self_attention(x, masks))
            x = self.norm2(x + self._feedforward(x, self.dropout2))
        self.cache = tuple(x.shape)
        return x

    @override
    def __call__(self, src: npt.ArrayLike, *, src_mask: object = None,
                 src_key_padding_mask: object = None, is_causal: bool = False) -> Array:
        return self.forward(src, src_mask=src_mask,  # type: ignore[arg-type]
                            src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)

    @override
    def backward(self, grad_out: Array) -> Array:
        g = as_grad(self, grad_out, self.saved(), self.linear1.weight.dtype)

        def attention_backward(g: Array) -> Array:
            return self.self_attn.backward(self.dropout1.backward(g))

        if self.norm_first:
            g = g + self.norm2.backward(self._feedforward_backward(g, self.dropout2))
            return g + self.norm1.backward(attention_backward(g))
        g = self.norm2.backward(g)
        g = g + self._feedforward_backward(g, self.dropout2)
        g = self.norm1.backward(g)
        return g + attention_backward(g)


class TransformerDecoderLayer(_TransformerLayer, MergeLayer[tuple[int, ...]]):
    """``torch.nn.TransformerDecoderLayer(..., batch_first=True)``: self-attention on the
    target, cross-attention over the encoder's output (``memory``) and a feed-forward
    block, each with a residual connection and a LayerNorm; a merge layer of two inputs,
    ``(tgt, memory)`` (see the module docstring for the formulas).

    ``forward(tgt, memory, *, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``;
    backward returns ``(dL/dtgt, dL/dmemory)``. In a container, which passes ``(tgt,
    memory)`` alone, set the masks on the attention layers instead, for every call that
    passes none: ``dec.self_attn.causal = True`` (a causal decoder, ``tgt_is_causal``),
    ``dec.self_attn.attn_mask``/``key_padding_mask`` (``tgt_mask``,
    ``tgt_key_padding_mask``), ``dec.multihead_attn.key_padding_mask`` (the memory's
    padding) and ``.attn_mask`` (``memory_mask``). Setting such a name on the layer
    itself (``dec.tgt_is_causal = True``) is refused with an `AttributeError` naming the
    real switch, as it would do nothing.

    Shapes: ``(N, T, d_model), (N, S, d_model) -> (N, T, d_model)``.

    Cache: the target's shape; the sub-layers keep their own.

    Parameters, Raises: as `TransformerEncoderLayer` (``multihead_attn`` is a
    `CrossAttention`; there are three norms and three dropouts); also inputs of
    different batch sizes.

    >>> import numpy as np, minigrad as mg
    >>> dec = mg.TransformerDecoderLayer(8, 2, 16, dropout=0.0, rng=0)
    >>> dec.self_attn.causal = True            # as forward(..., tgt_is_causal=True)
    >>> tgt, memory = np.ones((1, 3, 8)), np.ones((1, 5, 8))
    >>> np.allclose(dec(tgt, memory), dec(tgt, memory, tgt_mask=np.triu(np.ones((3, 3), bool), 1)))
    True
    """

    min_inputs = 2
    max_inputs = 2
    attends_to_memory = True
    misplaced_switches: ClassVar[dict[str, str]] = {
        "tgt_mask": "self_attn.attn_mask", "attn_mask": "self_attn.attn_mask",
        "tgt_key_padding_mask": "self_attn.key_padding_mask",
        "key_padding_mask": "self_attn.key_padding_mask",
        "tgt_is_causal": "self_attn.causal = True", "is_causal": "self_attn.causal = True",
        "causal": "self_attn.causal = True",
        "memory_mask": "multihead_attn.attn_mask",
        "memory_key_padding_mask": "multihead_attn.key_padding_mask",
        "memory_is_causal": "multihead_attn.causal = True"}
    norm3: LayerNorm
    dropout3: Dropout

    @override
    def forward(self, *xs: Array, tgt_mask: object = None, memory_mask: object = None,
                tgt_key_padding_mask: object = None, memory_key_padding_mask: object = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Array:
        check_arity(self, len(xs))
        x, memory = self._input(xs[0], "target"), self._input(xs[1], "memory")

        def self_attention(x: Array) -> Array:
            return self.dropout1(self.self_attn(
                x, attn_mask=tgt_mask, key_padding_mask=tgt_key_padding_mask,
                is_causal=tgt_is_causal))

        def cross_attention(x: Array) -> Array:
            return self.dropout2(self.multihead_attn(
                x, memory, attn_mask=memory_mask, key_padding_mask=memory_key_padding_mask,
                is_causal=memory_is_causal))

        if self.norm_first:
            x = x + self_attention(self.norm1(x))
            x = x + cross_attention(self.norm2(x))
            x = x + self._feedforward(self.norm3(x), self.dropout3)
        else:
            x = self.norm1(x + self_attention(x))
            x = self.norm2(x + cross_attention(x))
            x = self.norm3(x + self._feedforward(x, self.dropout3))
        self.cache = tuple(x.shape)
        return x

    @override
    def __call__(self, *xs: npt.ArrayLike, tgt_mask: object = None,
                 memory_mask: object = None, tgt_key_padding_mask: object = None,
                 memory_key_padding_mask: object = None, tgt_is_causal: bool = False,
                 memory_is_causal: bool = False) -> Array:
        return self.forward(*xs, tgt_mask=tgt_mask, memory_mask=memory_mask,  # type: ignore[arg-type]
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @override
    def backward(self, grad_out: Array) -> tuple[Array, ...]:
        g = as_grad(self, grad_out, self.saved(), self.linear1.weight.dtype)

        def self_attention_backward(g: Array) -> Array:
            return self.self_attn.backward(self.dropout1.backward(g))

        def cross_attention_backward(g: Array) -> tuple[Array, ...]:
            return self.multihead_attn.backward(self.dropout2.backward(g))

        if self.norm_first:
            g = g + self.norm3.backward(self._feedforward_backward(g, self.dropout3))
            d_x, d_memory = cross_attention_backward(g)
            g = g + self.norm2.backward(d_x)
            return g + self.norm1.backward(self_attention_backward(g)), d_memory
        g = self.norm3.backward(g)
        g = g + self._feedforward_backward(g, self.dropout3)
        g = self.norm2.backward(g)
        d_x, d_memory = cross_attention_backward(g)
        g = self.norm1.backward(g + d_x)
        return g + self_attention_backward(g), d_memory
