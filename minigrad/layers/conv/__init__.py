"""Layers on sliding windows over ``(N, C, *spatial)`` batches, PyTorch's layout.

* `windows` -- the kernels they share: window geometry, ``im2col``/``col2im``, each a
  loop over the *kernel offsets* only (never over samples or positions);
* `conv` -- `Conv1D`, `Conv2D`: ``Y = W @ cols`` and its two gradients;
* `transposed` -- `ConvTranspose2D`: the convolution's backward as a forward;
* `pooling` -- max and average pooling, and global average pooling.
"""

from minigrad.layers.conv.conv import Conv1D, Conv2D
from minigrad.layers.conv.pooling import (
    AvgPool1D,
    AvgPool2D,
    GlobalAvgPool2D,
    MaxPool1D,
    MaxPool2D,
)
from minigrad.layers.conv.transposed import ConvTranspose2D

__all__ = [
    "AvgPool1D",
    "AvgPool2D",
    "Conv1D",
    "Conv2D",
    "ConvTranspose2D",
    "GlobalAvgPool2D",
    "MaxPool1D",
    "MaxPool2D",
]
