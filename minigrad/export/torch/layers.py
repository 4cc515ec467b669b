"""Torch converters of the N-D and sequence layers. Imported (and so registered) by
`minigrad.export.torch`.

Convolution (with its ``padding_mode``), resampling, normalization and `Embedding` become
their ``torch.nn`` namesakes (pooling: `minigrad.export.torch.pooling`), with minigrad's
state under the same keys and layouts. The recurrent layers become subclasses of
``nn.RNN``/``nn.LSTM``/``nn.GRU(batch_first=True)`` with the same options (their keys are
PyTorch's, ``weight_ih_l0``...) returning minigrad's output -- every step, or the final ``h``
of each direction without ``return_sequences``; the cells ``nn.RNNCell``/``LSTMCell``/``GRUCell``
(the LSTM's returning ``h``). (The attention layers: `attention`.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from minigrad.export.torch.convert import (
    TORCH_CONVERTERS,
    TORCH_STATE_CONVERTERS,
    Convert,
    made_as,
    register_stateless,
    same_state,
    torch_dtype,
)
from minigrad.layers.conv.conv import Conv1D, Conv2D, Conv3D
from minigrad.layers.conv.transposed import ConvTranspose1D, ConvTranspose2D, ConvTranspose3D
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
from minigrad.layers.recurrent.step import GRUCell, LSTMCell, RNNCell
from minigrad.layers.resampling import PixelShuffle, PixelUnshuffle, Upsample
from minigrad.layers.reshape import Flatten, Reshape, Unflatten


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


class PaddedConv3d(ExplicitPadding, nn.Conv3d):
    """minigrad's `Conv3D` with uneven padding."""


_CONVS: dict[type[Any], tuple[type[nn.Module], type[nn.Module]]] = {
    Conv1D: (nn.Conv1d, PaddedConv1d), Conv2D: (nn.Conv2d, PaddedConv2d),
    Conv3D: (nn.Conv3d, PaddedConv3d)}
_TRANSPOSED: dict[type[Any], type[nn.Module]] = {
    ConvTranspose1D: nn.ConvTranspose1d, ConvTranspose2D: nn.ConvTranspose2d,
    ConvTranspose3D: nn.ConvTranspose3d}


def _conv(layer: Conv1D | Conv2D | Conv3D, dtype: torch.dtype) -> nn.Module:
    before, after = layer._pads  # "same" resolved
    plain, padded = _CONVS[type(layer)]
    if layer.padding_mode != "zeros":  # PyTorch pads a copy, the odd one after, itself
        return plain(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                     layer.padding, layer.dilation, layer.groups, layer.bias is not None,
                     layer.padding_mode, dtype=dtype)
    even = before == after
    kind: Any = plain if even else padded
    module: nn.Module = kind(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                  before if even else 0, layer.dilation, layer.groups, layer.bias is not None,
                  dtype=dtype)
    if isinstance(module, ExplicitPadding):
        module.pads = [size for pair in zip(before[::-1], after[::-1]) for size in pair]
    return module


def _conv_transpose(layer: ConvTranspose1D | ConvTranspose2D | ConvTranspose3D,
                    dtype: torch.dtype) -> nn.Module:
    module: nn.Module = _TRANSPOSED[type(layer)](
        layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
        layer.output_padding, layer.groups, layer.bias is not None, layer.dilation,
        dtype=dtype)
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
    *((kind, _conv) for kind in _CONVS),
    *((kind, _conv_transpose) for kind in _TRANSPOSED),
    (Embedding, lambda layer, dtype: nn.Embedding(
        layer.num_embeddings, layer.embedding_dim, layer.padding_idx, layer.max_norm,
        layer.norm_type, layer.scale_grad_by_freq, dtype=dtype)),
]
for _type, _make in [*_SAME_STATE, *_NORMS]:
    TORCH_CONVERTERS[_type] = _with_state(_make)
    TORCH_STATE_CONVERTERS[_type] = same_state

_STATELESS: list[tuple[type[Any], Any]] = [
    (Upsample, lambda layer: nn.Upsample(
        layer.size, layer.scale_factor, layer.interpolation, layer.align_corners,
        layer.recompute_scale_factor)),
    (PixelShuffle, lambda layer: nn.PixelShuffle(layer.upscale_factor)),
    (PixelUnshuffle, lambda layer: nn.PixelUnshuffle(layer.downscale_factor)),
    (Flatten, lambda layer: nn.Flatten(layer.start_dim, layer.end_dim)),
    (Unflatten, lambda layer: nn.Unflatten(layer.dim, layer.unflattened_size)),
    (Reshape, lambda layer: ReshapeSamples(layer.sample_shape)),
]


for _type, _make in _STATELESS:
    register_stateless(_type, _make)


# -- recurrent -------------------------------------------------------------------------


class MinigradSequenceOutput(nn.Module):
    """Mixed into a batch-first ``nn.RNN``/``LSTM``/``GRU``: the output minigrad's layer
    returns -- every step ``(N, T, directions·P)``, or the final ``h`` of each direction
    of the last layer, joined ``(N, directions·P)``."""

    return_sequences: bool
    bidirectional: bool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, final = super().forward(x)
        if self.return_sequences:
            out: torch.Tensor = steps
            return out
        h_n = final[0] if isinstance(final, tuple) else final  # the LSTM's is (h_n, c_n)
        return torch.cat(list(h_n[-2 if self.bidirectional else -1:]), dim=1)


class RNNModule(MinigradSequenceOutput, nn.RNN):  # type: ignore[misc]
    """minigrad's `RNN`."""


class LSTMModule(MinigradSequenceOutput, nn.LSTM):  # type: ignore[misc]
    """minigrad's `LSTM`."""


class GRUModule(MinigradSequenceOutput, nn.GRU):  # type: ignore[misc]
    """minigrad's `GRU`."""


_RECURRENT: dict[type[Any], type[MinigradSequenceOutput]] = {RNN: RNNModule, LSTM: LSTMModule,
                                                 GRU: GRUModule}


def _recurrent(layer: RNN | LSTM | GRU, convert: Convert) -> nn.Module:
    options: dict[str, Any] = {
        "num_layers": layer.num_layers, "bias": layer.bias, "batch_first": True,
        "dropout": layer.dropout, "bidirectional": layer.bidirectional,
        "dtype": torch_dtype(layer.weights(0, 0).ih.dtype)}
    if isinstance(layer, RNN):
        options["nonlinearity"] = layer.nonlinearity
    if isinstance(layer, LSTM):
        options["proj_size"] = layer.proj_size
    kind: Any = _RECURRENT[type(layer)]
    module: MinigradSequenceOutput = made_as(
        lambda: kind(layer.input_size, layer.hidden_size, **options), layer.state_dict())
    module.return_sequences = layer.return_sequences
    return module


class LSTMCellModule(nn.LSTMCell):
    """minigrad's `LSTMCell`: the new ``h`` alone (``final_state`` is minigrad's own)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        h: torch.Tensor = super().forward(x)[0]
        return h


def _cell(layer: RNNCell | LSTMCell | GRUCell, convert: Convert) -> nn.Module:
    options: dict[str, Any] = {"bias": layer.bias_ih is not None,
                               "dtype": torch_dtype(layer.weight_ih.dtype)}
    if isinstance(layer, RNNCell):
        options["nonlinearity"] = layer.nonlinearity
    kind: Any = {RNNCell: nn.RNNCell, LSTMCell: LSTMCellModule, GRUCell: nn.GRUCell}[type(layer)]
    module: nn.Module = made_as(lambda: kind(layer.input_size, layer.hidden_size, **options),
                                layer.state_dict())
    return module


for _type in _RECURRENT:  # PyTorch's keys and layouts: the state crosses as it is
    TORCH_CONVERTERS[_type] = _recurrent
    TORCH_STATE_CONVERTERS[_type] = same_state
for _cell_type in (RNNCell, LSTMCell, GRUCell):
    TORCH_CONVERTERS[_cell_type] = _cell
    TORCH_STATE_CONVERTERS[_cell_type] = same_state

