"""Normalization layers: standardize groups of values, then a per-feature affine map.

* `standardization` -- the math they share (``x̂ = (x − μ)/√(σ² + ε)`` and its
  backward) and their common bases, `AffineNormalization` and `Normalization`;
* `batch_norm` -- `BatchNorm1D`, `BatchNorm2D`, `BatchNorm3D` (a group per channel,
  over the batch) and the running statistics they share with instance norm;
* `instance_norm` -- `InstanceNorm1D`, `InstanceNorm2D`, `InstanceNorm3D` (a group per
  sample and channel) and `GroupNorm` (per sample, blocks of channels);
* `layer_norm` -- `LayerNorm` and `RMSNorm` (a group per sample's trailing axes), on a
  fused kernel of their own.
"""

from minigrad.layers.normalization.batch_norm import BatchNorm1D, BatchNorm2D, BatchNorm3D
from minigrad.layers.normalization.instance_norm import (
    GroupNorm,
    InstanceNorm1D,
    InstanceNorm2D,
    InstanceNorm3D,
)
from minigrad.layers.normalization.layer_norm import LayerNorm, RMSNorm

__all__ = [
    "BatchNorm1D",
    "BatchNorm2D",
    "BatchNorm3D",
    "GroupNorm",
    "InstanceNorm1D",
    "InstanceNorm2D",
    "InstanceNorm3D",
    "LayerNorm",
    "RMSNorm",
]
