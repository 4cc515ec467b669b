"""Max-pooling by PyTorch's own kernel on torch tensors, behind the windows' seam.

`minigrad.layers.conv.pool_windows.max_pool` compares the window's kernel offsets one strided
slice at a time -- the readable reference, and what NumPy runs. On PyTorch tensors that
is several small kernel launches (and Python calls) per offset, so `max_pool` here asks
``torch.nn.functional.max_pool1d/2d/3d`` (``return_indices=True``) for the maxima and
turns each maximum's flat input index into the number of its kernel offset -- the
``which`` the reference returns, so both backward passes read the same cache.
`max_pool_values` is the maxima alone (an evaluation-mode forward);
`max_pool_backward` adds each output's gradient at its maximum's input position with
one ``scatter_add_``. Ties and NaNs: PyTorch's rules, which the reference copies.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from minigrad.backend.convolution import Geometry, kernels_enabled
from minigrad.backend.namespaces import _library


def _applies(x: Any, windows: Sequence[Geometry]) -> bool:
    """A torch tensor, every kernel offset meeting the input (so offsets number
    ``i·kW + j``, as `offsets` numbers them), padding PyTorch accepts (at most half the
    kernel) and PyTorch's output size for it (``floor`` mode); off within
    ``fast_kernels(False)``, as the convolutions' kernels."""
    return kernels_enabled() and _library(x) == "torch" and 1 <= len(windows) <= 3 and all(
        0 <= 2 * w.pad <= w.dilation * (w.kernel - 1) + 1
        and (w.size + 2 * w.pad - w.dilation * (w.kernel - 1) - 1) // w.stride + 1 == w.out
        and all(_meets(w, k) for k in range(w.kernel))
        for w in windows)


def _meets(w: Geometry, k: int) -> bool:
    """Whether kernel offset ``k`` reads the input for some output (not only padding)."""
    first = max(0, -((k * w.dilation - w.pad) // w.stride))  # first o reading index >= 0
    return first < w.out and first * w.stride + k * w.dilation - w.pad <= w.size - 1


def max_pool(x: Any, windows: Sequence[Geometry]) -> tuple[Any, Any] | None:
    """The window maxima of ``x (N, C, *size)`` and the kernel offset number of each
    (int64), as `minigrad.layers.conv.pool_windows.max_pool`; None where it does not apply."""
    if not _applies(x, windows):
        return None
    from torch.nn import functional

    pool = (functional.max_pool1d, functional.max_pool2d, functional.max_pool3d)[len(windows) - 1]
    best, flat = pool(x, [w.kernel for w in windows], [w.stride for w in windows],
                      [w.pad for w in windows], [w.dilation for w in windows],
                      return_indices=True)
    start, _, number = _flat_positions(tuple(windows), x.device)
    return best, number[flat - start]


def max_pool_values(x: Any, windows: Sequence[Geometry]) -> Any | None:
    """The window maxima alone, as `minigrad.layers.conv.pool_windows.max_pool_values`
    (one ``max_pool1d/2d/3d`` call, no indices); None where it does not apply."""
    if not _applies(x, windows):
        return None
    from torch.nn import functional

    pool = (functional.max_pool1d, functional.max_pool2d, functional.max_pool3d)[len(windows) - 1]
    return pool(x, [w.kernel for w in windows], [w.stride for w in windows],
                [w.pad for w in windows], [w.dilation for w in windows])


def max_pool_backward(grad: Any, which: Any, windows: Sequence[Geometry],
                      shape: tuple[int, ...]) -> Any | None:
    """``dL/dx``: each output's gradient added at its maximum's input position (one
    ``scatter_add_``), as `minigrad.layers.conv.pool_windows.max_pool_backward`."""
    if not _applies(grad, windows):
        return None
    import torch

    start, shift, _ = _flat_positions(tuple(windows), grad.device)
    flat = start + shift[which]  # the maxima's flat input positions
    grad_in = torch.zeros(shape, dtype=grad.dtype, device=grad.device)
    grad_in.view(shape[0], shape[1], -1).scatter_add_(
        2, flat.reshape(shape[0], shape[1], -1), grad.reshape(shape[0], shape[1], -1))
    return grad_in


@functools.lru_cache(maxsize=64)
def _flat_positions(windows: tuple[Geometry, ...], device: Any) -> tuple[Any, Any, Any]:
    """The flat input position (row-major over the spatial axes) where each output's
    window starts, ``(*out)``, how far kernel offset ``k`` lies from it, ``(∏kernel,)``
    in `offsets` order -- output ``o``'s offset ``k`` reads ``start[o] + shift[k]`` --
    and the inverse, ``number[shift[k]] = k``. Kept per geometry and device (small
    tensors; building them took ~0.2 ms a call, as long as the pooling itself)."""
    import torch

    dims, stride = len(windows), 1
    start = torch.zeros((1,) * dims, dtype=torch.int64, device=device)
    shift = torch.zeros((1,) * dims, dtype=torch.int64, device=device)
    for axis in reversed(range(dims)):  # a loop over the (1-3) spatial axes
        w, along = windows[axis], [1] * dims
        along[axis] = -1
        start = start + (torch.arange(w.out, device=device) * w.stride - w.pad).view(along) * stride
        shift = shift + (torch.arange(w.kernel, device=device) * w.dilation).view(along) * stride
        stride *= w.size
    shift = shift.reshape(-1)
    number = shift.new_zeros(int(shift.max()) + 1)
    number[shift] = torch.arange(len(shift), device=device)
    return start, shift, number
