"""Normalization layers: standardize groups of values, then a per-feature affine map.

* `standardization` -- the math they share (``x̂ = (x − μ)/√(σ² + ε)`` and its
  backward) and their common layer, `Normalization`;
* `norms` -- `BatchNorm1D`, `BatchNorm2D`, `LayerNorm`, `GroupNorm`: which values form a
  group, and the running statistics of batch normalization.
"""

from minigrad.layers.normalization.norms import BatchNorm1D, BatchNorm2D, GroupNorm, LayerNorm

__all__ = ["BatchNorm1D", "BatchNorm2D", "GroupNorm", "LayerNorm"]
