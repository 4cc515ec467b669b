"""Layers on sliding windows over ``(N, C, *spatial)`` batches, PyTorch's layout.

* `windows` -- the kernels they share: window geometry, ``im2col``/``col2im``, each a
  loop over the *kernel offsets* only (never over samples or positions);
* `conv` -- `Conv1D`, `Conv2D`, `Conv3D`: ``Y = W @ cols`` and its two gradients;
* `padding` -- the non-zero ``padding_mode`` copies (reflect, replicate, circular) and
  their adjoints;
* `transposed` -- `ConvTranspose1D`/`2D`/`3D`: the convolution's backward as a forward;
* `pooling` -- max and average pooling over windows, 1-D to 3-D, with PyTorch's options
  (`pool_windows`: their output sizes, divisors and indices);
* `adaptive` -- pooling to a chosen output size (adaptive average and maximum), and the
  global averages;
* `unpooling` -- max unpooling, from a max pool's indices.
"""

from minigrad.layers.conv.adaptive import (
    AdaptiveAvgPool1D,
    AdaptiveAvgPool2D,
    AdaptiveAvgPool3D,
    AdaptiveMaxPool1D,
    AdaptiveMaxPool2D,
    AdaptiveMaxPool3D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalAvgPool3D,
)
from minigrad.layers.conv.conv import Conv1D, Conv2D, Conv3D
from minigrad.layers.conv.pooling import (
    AvgPool1D,
    AvgPool2D,
    AvgPool3D,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
)
from minigrad.layers.conv.transposed import ConvTranspose1D, ConvTranspose2D, ConvTranspose3D
from minigrad.layers.conv.unpooling import MaxUnpool1D, MaxUnpool2D, MaxUnpool3D

__all__ = [
    "AdaptiveAvgPool1D",
    "AdaptiveAvgPool2D",
    "AdaptiveAvgPool3D",
    "AdaptiveMaxPool1D",
    "AdaptiveMaxPool2D",
    "AdaptiveMaxPool3D",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "ConvTranspose1D",
    "ConvTranspose2D",
    "ConvTranspose3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "MaxUnpool1D",
    "MaxUnpool2D",
    "MaxUnpool3D",
]
