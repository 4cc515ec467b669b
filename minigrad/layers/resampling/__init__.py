"""Layers that change the spatial resolution of ``(N, C, *spatial)`` batches by a fixed
rule, with no parameters:

* `interpolation` -- the kernels: each mode of PyTorch's ``interpolate`` as weighted
  gathers along one axis, and their adjoint;
* `upsample` -- `Upsample` (nearest, linear, bilinear, bicubic, trilinear);
* `pixel_shuffle` -- `PixelShuffle`, `PixelUnshuffle` (channels to space and back).
"""

from minigrad.layers.resampling.pixel_shuffle import PixelShuffle, PixelUnshuffle
from minigrad.layers.resampling.upsample import Upsample

__all__ = ["PixelShuffle", "PixelUnshuffle", "Upsample"]
