"""Torch converters of the N-D and sequence layers. Imported (and so registered) by
`minigrad.export.torch`.

Convolution, pooling, normalization and `Embedding` become their ``torch.nn``
namesakes, with minigrad's state under the same keys and layouts. The recurrent layers
become subclasses of ``nn.RNN``/``nn.LSTM``/``nn.GRU(batch_first=True)`` (PyTorch's keys,
``weight_ih_l0``...) returning minigrad's output -- every step, or the last one
``(N, H)`` without ``return_sequences``; the attention layers subclasses of
``nn.MultiheadAttention(batch_first=True)`` called as minigrad's (``out_proj_weight`` is
PyTorch's ``out_proj.weight``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from minigrad.core import Array
from minigrad.export.torch.convert import (
    TORCH_CONVERTERS,
    TORCH_STATE_CONVERTERS,
    Convert,
    made_as,
    register_torch,
    same_state,
    torch_dtype,
)
from minigrad.layers.attention import CrossAttention, MultiHeadAttention
from minigrad.layers.conv.conv import Conv1D, Conv2D
from minigrad.layers.conv.pooling import AvgPool1D, AvgPool2D, GlobalAvgPool2D, MaxPool1D, MaxPool2D
from minigrad.layers.conv.transposed import ConvTranspose2D
from minigrad.layers.embedding import Embedding
from minigrad.layers.normalization import (
    BatchNorm1D,
    BatchNorm2D,
    BatchNorm3D,
    GroupNorm,
    InstanceNorm1D,
    InstanceNorm2D,
    InstanceNorm3D,
    LayerNorm,
    RMSNorm,
)
from minigrad.layers.recurrent.cells import GRU, LSTM, RNN
from minigrad.layers.reshape import Flatten, Reshape


class MeanOverPositions(nn.Module):
    """minigrad's `GlobalAvgPool2D`: ``(N, C, H, W) -> (N, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class ReshapeSamples(nn.Module):
    """minigrad's `Reshape`: each sample to ``shape`` (one -1 allowed)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def _with_state(make: Any) -> Any:
    """A converter: ``make(layer, dtype)`` built holding ``layer``'s own state."""
    def convert(layer: Any, convert: Convert) -> nn.Module:
        dtype = torch_dtype(layer.weight.dtype if getattr(layer, "weight", None) is not None
                            else layer.dtype)
        module: nn.Module = made_as(lambda: make(layer, dtype), layer.state_dict())
        return module

    return convert


class ExplicitPadding(nn.Module):
    """Mixed into ``nn.Conv1d``/``nn.Conv2d`` (built with padding 0): pads the input
    first, by ``pads`` (``F.pad``'s order: the last axis first, before and after) --
    ``padding="same"`` with an even dilated kernel puts the odd one after, which
    PyTorch's own ``"same"`` does too, with a warning at every call."""

    pads: list[int]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = super().forward(nn.functional.pad(x, self.pads))
        return out


class PaddedConv1d(ExplicitPadding, nn.Conv1d):
    """minigrad's `Conv1D` with uneven padding."""


class PaddedConv2d(ExplicitPadding, nn.Conv2d):
    """minigrad's `Conv2D` with uneven padding."""


def _conv(layer: Conv1D | Conv2D, dtype: torch.dtype) -> nn.Module:
    before, after = layer._pads  # "same" resolved
    even = before == after
    kind: Any = ((nn.Conv1d if even else PaddedConv1d) if isinstance(layer, Conv1D)
                 else nn.Conv2d if even else PaddedConv2d)
    module: nn.Module = kind(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                  before if even else 0, layer.dilation, layer.groups, layer.bias is not None,
                  dtype=dtype)
    if isinstance(module, ExplicitPadding):
        module.pads = [size for pair in zip(before[::-1], after[::-1]) for size in pair]
    return module


def _channel_norm(module: Any) -> Any:
    """A batch or instance norm's ``nn`` module ``module`` built as the layer is."""
    return lambda layer, dtype: module(
        layer.num_features, layer.eps, layer.momentum, layer.affine, layer.track_running_stats,
        dtype=dtype, bias=layer.bias is not None)


_NORMS: list[tuple[type[Any], Any]] = [
    (BatchNorm1D, _channel_norm(nn.BatchNorm1d)),
    (BatchNorm2D, _channel_norm(nn.BatchNorm2d)),
    (BatchNorm3D, _channel_norm(nn.BatchNorm3d)),
    (InstanceNorm1D, _channel_norm(nn.InstanceNorm1d)),
    (InstanceNorm2D, _channel_norm(nn.InstanceNorm2d)),
    (InstanceNorm3D, _channel_norm(nn.InstanceNorm3d)),
    (LayerNorm, lambda layer, dtype: nn.LayerNorm(
        layer.normalized_shape, layer.eps, layer.elementwise_affine,
        bias=layer.bias is not None, dtype=dtype)),
    (RMSNorm, lambda layer, dtype: nn.RMSNorm(
        layer.normalized_shape, layer.eps, layer.elementwise_affine, dtype=dtype)),
    (GroupNorm, lambda layer, dtype: nn.GroupNorm(
        layer.num_groups, layer.num_channels, layer.eps, layer.affine,
        bias=layer.bias is not None, dtype=dtype)),
]
"""The normalization layers: their ``nn`` namesakes, same arguments, keys and buffers."""

_SAME_STATE: list[tuple[type[Any], Any]] = [
    (Conv1D, _conv),
    (Conv2D, _conv),
    (ConvTranspose2D, lambda layer, dtype: nn.ConvTranspose2d(
        layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
        layer.output_padding, layer.groups, layer.bias is not None, layer.dilation,
        dtype=dtype)),
    (Embedding, lambda layer, dtype: nn.Embedding(
        layer.num_embeddings, layer.embedding_dim, layer.padding_idx, dtype=dtype)),
]
for _type, _make in [*_SAME_STATE, *_NORMS]:
    TORCH_CONVERTERS[_type] = _with_state(_make)
    TORCH_STATE_CONVERTERS[_type] = same_state

_STATELESS: list[tuple[type[Any], Any]] = [
    (MaxPool1D, lambda layer: nn.MaxPool1d(layer.kernel_size, layer.stride, layer.padding)),
    (MaxPool2D, lambda layer: nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding)),
    (AvgPool1D, lambda layer: nn.AvgPool1d(layer.kernel_size, layer.stride, layer.padding,
                                           count_include_pad=True)),
    (AvgPool2D, lambda layer: nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding,
                                           count_include_pad=True)),
    (GlobalAvgPool2D, lambda layer: MeanOverPositions()),
    (Flatten, lambda layer: nn.Flatten()),
    (Reshape, lambda layer: ReshapeSamples(layer.sample_shape)),
]


def _stateless(make: Any) -> Any:
    return lambda layer, convert: make(layer)


for _type, _make in _STATELESS:
    TORCH_CONVERTERS[_type] = _stateless(_make)


# -- recurrent -------------------------------------------------------------------------


class MinigradSequenceOutput(nn.Module):
    """Mixed into a batch-first ``nn.RNN``/``LSTM``/``GRU``: the output minigrad's layer
    returns -- every step ``(N, T, H)``, or the last ``(N, H)``."""

    return_sequences: bool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps: torch.Tensor = super().forward(x)[0]
        return steps if self.return_sequences else steps[:, -1]


class RNNModule(MinigradSequenceOutput, nn.RNN):  # type: ignore[misc]
    """minigrad's `RNN`."""


class LSTMModule(MinigradSequenceOutput, nn.LSTM):  # type: ignore[misc]
    """minigrad's `LSTM`."""


class GRUModule(MinigradSequenceOutput, nn.GRU):  # type: ignore[misc]
    """minigrad's `GRU`."""


_RECURRENT: dict[type[Any], type[MinigradSequenceOutput]] = {RNN: RNNModule, LSTM: LSTMModule,
                                                 GRU: GRUModule}


def _recurrent_state(layer: RNN | LSTM | GRU, state: dict[str, Array]) -> dict[str, Array]:
    return {key.removesuffix("_l0"): value for key, value in state.items()}


def _recurrent(layer: RNN | LSTM | GRU, convert: Convert) -> nn.Module:
    options: dict[str, Any] = {"batch_first": True, "dtype": torch_dtype(layer.weight_ih.dtype)}
    if isinstance(layer, RNN):
        options["nonlinearity"] = layer.nonlinearity
    kind: Any = _RECURRENT[type(layer)]
    module: MinigradSequenceOutput = made_as(
        lambda: kind(layer.input_size, layer.hidden_size, **options),
        {f"{key}_l0": value for key, value in layer.state_dict().items()})
    module.return_sequences = layer.return_sequences
    return module


for _type in _RECURRENT:
    TORCH_CONVERTERS[_type] = _recurrent
    TORCH_STATE_CONVERTERS[_type] = _recurrent_state


# -- attention -------------------------------------------------------------------------


class _Attention(nn.MultiheadAttention):
    causal: bool

    def attend(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        # PyTorch's bool attn_mask: True where a query may *not* attend (key j > query i).
        mask = None
        if self.causal:
            mask = torch.ones(query.shape[1], context.shape[1], dtype=torch.bool,
                              device=query.device).triu(1)
        out: torch.Tensor = super().forward(query, context, context, need_weights=False,
                                            attn_mask=mask)[0]
        return out


class SelfAttentionModule(_Attention):
    """minigrad's `MultiHeadAttention`: ``mha(x, x, x)``, its output alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.attend(x, x)


class CrossAttentionModule(_Attention):
    """minigrad's `CrossAttention`: ``mha(query, context, context)``, its output alone."""

    def forward(self, query: torch.Tensor, context: torch.Tensor  # type: ignore[override]
                ) -> torch.Tensor:
        return self.attend(query, context)


_OUT_PROJ = {"out_proj_weight": "out_proj.weight", "out_proj_bias": "out_proj.bias"}


def _attention_state(layer: MultiHeadAttention | CrossAttention, state: dict[str, Array]
                     ) -> dict[str, Array]:
    back = {torch_key: key for key, torch_key in _OUT_PROJ.items()}
    return {back.get(key, key): value for key, value in state.items()}


def _attention(layer: MultiHeadAttention | CrossAttention, convert: Convert) -> nn.Module:
    kind: type[_Attention] = (SelfAttentionModule if isinstance(layer, MultiHeadAttention)
                              else CrossAttentionModule)
    state = {_OUT_PROJ.get(key, key): value for key, value in layer.state_dict().items()}
    module = made_as(lambda: kind(layer.embed_dim, layer.num_heads, dropout=layer.dropout,
                                  bias=layer.in_proj_bias is not None, batch_first=True,
                                  dtype=torch_dtype(layer.in_proj_weight.dtype)), state)
    module.causal = layer.causal
    return module


for _type in (MultiHeadAttention, CrossAttention):
    register_torch(_type, state=_attention_state)(_attention)
