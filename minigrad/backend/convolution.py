"""Convolution kernels faster than the conv layers' readable im2col products, behind one
seam: `convolve` and `convolve_backward` (`convolve_transposed` and its backward for the
transposed convolutions).

`minigrad.layers.conv.conv` writes a convolution as its math -- one matrix product on the
column buffer of ``im2col``, and two more for the backward pass -- which is the reference
every kernel here is tested against (``tests/test_conv_fast_paths.py``). A layer asks
`convolve` first; where a kernel applies it returns the output (and what its backward
needs), and ``None`` where none does, so the layer computes its products:

* **PyTorch tensors** (CPU or CUDA): ``torch.nn.functional.conv1d/2d/3d`` for the
  forward pass and ``torch.nn.grad.conv*d_input`` / ``conv*d_weight`` for the two
  gradients -- PyTorch's own convolutions (oneDNN, cuDNN), not slices of a tensor one
  kernel offset at a time. Any stride, dilation, padding and groups. A transposed
  convolution (`convolve_transposed`) is the same two gradients with the roles swapped.
* **NumPy**, stride-1 3×3 convolutions of one group with enough channels: Winograd's
  F(2×2, 3×3) (`minigrad.backend.winograd`), 2.25× fewer multiplications, for the
  forward pass and both gradients.

The windows are passed as the layers' ``Window`` records (`Geometry` names the fields
read): per spatial axis the input size, kernel, stride, dilation, padding before, and
the output size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from minigrad.backend import winograd
from minigrad.backend.namespaces import _library


class Geometry(Protocol):
    """One spatial axis of a convolution: output ``o`` reads input ``o·stride +
    k·dilation − pad`` for kernel offset ``k`` (`minigrad.layers.conv.windows.Window`)."""

    @property
    def size(self) -> int: ...
    @property
    def kernel(self) -> int: ...
    @property
    def stride(self) -> int: ...
    @property
    def dilation(self) -> int: ...
    @property
    def pad(self) -> int: ...
    @property
    def out(self) -> int: ...


Gradients = tuple[Any, Any, Any]
"""``dL/dW``, ``dL/db`` (None without a bias) and ``dL/dx`` (None when not asked for)."""

WINOGRAD_MIN_CHANNELS = 32
"""Input and output channels from which Winograd pays on NumPy. The products it saves
grow as ``C·O``, its transforms (memory-bound NumPy passes over 4× the input and output)
as ``C + O``. Measured (forward + backward, float32, batch 32, one thread, CPU time,
against the im2col products): 16→32 on 28×28 lost (23-31 vs 19-21 ms); 32→32 on 8×8
2.3 vs 2.7 ms, 32→64 on 4×4 1.2 vs 1.9 ms, 48→48 on 16×16 15-17 vs 18-32 ms, 64→64
on 16×16 25-31 vs 30-34 ms, 128→128 39 vs 52-57 ms and 256→256 (batch 8) 63-66 vs
92-95 ms won. Those were whole-batch transforms; in parts (`winograd.batch_parts`), 15
interleaved rounds later gave 32→32 on 8×8 at batch 32 2.66 vs 2.68 ms and 32→64 on 4×4
1.30 vs 1.26 ms -- even, which is where `WINOGRAD_MIN_TILES` now draws the line."""


WINOGRAD_MIN_TILES = 512
"""2×2 output tiles over the batch (``N·⌈H_out/2⌉·⌈W_out/2⌉``) from which Winograd pays:
its transforms are some twenty NumPy calls whatever the size, which small batches do
not repay. Measured (float32, one thread, CPU time; eval forward, im2col against
Winograd): 32→32 on 8×8 at batch 1 (16 tiles) 0.09 against 0.16 ms, batch 4 (64)
0.16 against 0.37, batch 16 (256) 0.44 against 0.52, batch 32 (512) even; batch 256
(4096) 11.1 against 7.8."""


_enabled = [True]


@contextlib.contextmanager
def fast_kernels(enabled: bool) -> Iterator[None]:
    """Within the block, convolutions use these kernels (True, the default) or only the
    layers' own im2col products (False): the reference the kernels are tested against.
    Not thread-safe: a switch for tests and benchmarks."""
    before = _enabled[0]
    _enabled[0] = enabled
    try:
        yield
    finally:
        _enabled[0] = before


def kernels_enabled() -> bool:
    """Whether the fast kernels are on (`fast_kernels`); the pooling kernels ask too."""
    return _enabled[0]


def has_conv_kernel(x: Any, weight: Any, windows: Sequence[Geometry], groups: int) -> bool:
    """Whether `convolve` has a kernel for this convolution (and `convolve_backward`)."""
    return _enabled[0] and (
        _library(x) == "torch" or _winograd_applies(x, weight, windows, groups))


def convolve(x: Any, weight: Any, bias: Any, windows: Sequence[Geometry], groups: int, *,
             keep: bool = True) -> tuple[Any, Any] | None:
    """``y = W ⋆ x + b`` by a fast kernel: ``(y, saved)``, ``saved`` what
    `convolve_backward` takes back (None without ``keep``: the backward, if any, then
    recomputes it); None where no kernel applies."""
    if not _enabled[0]:
        return None
    if type(x) is not np.ndarray and _library(x) == "torch":
        return _torch_convolve(x, weight, bias, windows, groups), None
    if _winograd_applies(x, weight, windows, groups):
        return winograd.convolve(x, weight, bias, _pads(windows), _outs(windows), keep=keep)
    return None


def convolve_backward(saved: Any, x: Any, weight: Any, grad: Any, windows: Sequence[Geometry],
                      groups: int, *, bias: bool, input_grad: bool) -> Gradients:
    """The gradients of a convolution `convolve` computed (`has_conv_kernel`), from the
    input ``x``, ``saved`` and the output's gradient ``grad``."""
    if _library(x) == "torch":
        return _torch_backward(x, weight, grad, windows, groups, bias=bias, input_grad=input_grad)
    pads = _pads(windows)
    grad_w, grad_b = winograd.weight_gradient(grad, x, pads, saved)
    grad_in = winograd.input_gradient(grad, weight, pads, (windows[0].size, windows[1].size)
                                      ) if input_grad else None
    return grad_w, grad_b if bias else None, grad_in


def _pads(windows: Sequence[Geometry]) -> tuple[int, int]:
    return windows[0].pad, windows[1].pad


def _outs(windows: Sequence[Geometry]) -> tuple[int, int]:
    return windows[0].out, windows[1].out


def _winograd_applies(x: Any, weight: Any, windows: Sequence[Geometry], groups: int) -> bool:
    """NumPy float32 or float64 arrays, one group, 2-D, 3×3, stride 1, no dilation,
    padding 0-2 (the input gradient's ``2 − p`` is a padding too), enough channels
    (`WINOGRAD_MIN_CHANNELS`) and tiles (`WINOGRAD_MIN_TILES`)."""
    return (  # the tiles first: a batch-1 call is decided by them alone
        groups == 1 and len(windows) == 2
        and x.shape[0] * winograd.tiles(windows[0].out) * winograd.tiles(windows[1].out)
        >= WINOGRAD_MIN_TILES
        and type(x) is np.ndarray and type(weight) is np.ndarray and x.dtype == weight.dtype
        and x.dtype in (np.float32, np.float64)
        and all(w.kernel == 3 and w.stride == 1 and w.dilation == 1 and 0 <= w.pad <= 2
                for w in windows)
        and min(weight.shape[0], weight.shape[1]) >= WINOGRAD_MIN_CHANNELS
    )


def convolve_transposed(x: Any, weight: Any, bias: Any, windows: Sequence[Geometry],
                        groups: int) -> Any | None:
    """The transposed convolution of ``x`` (the input gradient of the convolution whose
    ``windows`` map our output to ``x``), plus ``bias``, by PyTorch's kernel on torch
    tensors; None elsewhere (the layer's col2im is the computation)."""
    if not (_enabled[0] and _library(x) == "torch" and _symmetric(windows)):
        return None
    import torch.nn.grad as conv_grad

    input_of: tuple[Callable[..., Any], ...] = (
        conv_grad.conv1d_input, conv_grad.conv2d_input, conv_grad.conv3d_input)
    shape = (x.shape[0], weight.shape[1] * groups, *(w.size for w in windows))
    y = input_of[len(windows) - 1](shape, weight, x, [w.stride for w in windows],
                                   [w.pad for w in windows], [w.dilation for w in windows],
                                   groups)
    return y if bias is None else y + bias.reshape(-1, *(1,) * len(windows))


def convolve_transposed_backward(x: Any, weight: Any, grad: Any, windows: Sequence[Geometry],
                                 groups: int, *, bias: bool, input_grad: bool
                                 ) -> Gradients | None:
    """The gradients of `convolve_transposed` (None where it did not apply): ``dL/dx`` is
    the convolution of ``grad``, ``dL/dW`` the convolution's weight gradient with ``grad``
    as its input and ``x`` as its output's gradient."""
    if not (_enabled[0] and _library(x) == "torch" and _symmetric(windows)):
        return None
    import torch.nn.grad as conv_grad

    dims = len(windows)
    weight_of: tuple[Callable[..., Any], ...] = (
        conv_grad.conv1d_weight, conv_grad.conv2d_weight, conv_grad.conv3d_weight)
    grad_w = weight_of[dims - 1](grad, weight.shape, x, [w.stride for w in windows],
                                 [w.pad for w in windows], [w.dilation for w in windows],
                                 groups)
    grad_b = grad.sum(dim=(0, *range(2, 2 + dims))) if bias else None
    grad_in = _torch_convolve(grad, weight, None, windows, groups) if input_grad else None
    return grad_w, grad_b, grad_in


def _symmetric(windows: Sequence[Geometry]) -> bool:
    """PyTorch's symmetric padding gives the windows' output size."""
    return all(w.pad >= 0 and (w.size + 2 * w.pad - w.dilation * (w.kernel - 1) - 1)
               // w.stride + 1 == w.out for w in windows)


# -- PyTorch ---------------------------------------------------------------------------


def _torch_layout(x: Any, windows: Sequence[Geometry]) -> tuple[Any, list[int]]:
    """``x`` and the symmetric padding PyTorch's convolutions take: the layers' own when
    it gives their output size, else ``x`` padded explicitly (``"same"`` with an even
    kernel pads one more after) and no padding."""
    needed = [(w.out - 1) * w.stride + w.dilation * (w.kernel - 1) + 1 - w.size - w.pad
              for w in windows]  # the zeros the last window reads past the end
    if all(after <= w.pad and (w.size + 2 * w.pad - w.dilation * (w.kernel - 1) - 1)
           // w.stride + 1 == w.out for w, after in zip(windows, needed)):
        return x, [w.pad for w in windows]
    from torch.nn import functional

    widths = [side for w, after in zip(reversed(windows), reversed(needed))
              for side in (w.pad, max(after, 0))]  # F.pad: the last axis first
    return functional.pad(x, widths), [0] * len(windows)


def _torch_convolve(x: Any, weight: Any, bias: Any, windows: Sequence[Geometry],
                    groups: int) -> Any:
    from torch.nn import functional

    source, padding = _torch_layout(x, windows)
    conv = (functional.conv1d, functional.conv2d, functional.conv3d)[len(windows) - 1]
    return conv(source, weight, bias, [w.stride for w in windows], padding,
                [w.dilation for w in windows], groups)


def _torch_backward(x: Any, weight: Any, grad: Any, windows: Sequence[Geometry], groups: int,
                    *, bias: bool, input_grad: bool) -> Gradients:
    import torch.nn.grad as conv_grad

    dims = len(windows)
    source, padding = _torch_layout(x, windows)
    stride, dilation = [w.stride for w in windows], [w.dilation for w in windows]
    weight_of: tuple[Callable[..., Any], ...] = (
        conv_grad.conv1d_weight, conv_grad.conv2d_weight, conv_grad.conv3d_weight)
    grad_w = weight_of[dims - 1](source, weight.shape, grad, stride, padding, dilation, groups)
    grad_b = grad.sum(dim=(0, *range(2, 2 + dims))) if bias else None
    if not input_grad:
        return grad_w, grad_b, None
    input_of: tuple[Callable[..., Any], ...] = (
        conv_grad.conv1d_input, conv_grad.conv2d_input, conv_grad.conv3d_input)
    grad_in = input_of[dims - 1](source.shape, weight, grad, stride, padding, dilation, groups)
    if source is not x:  # padded explicitly: the padding's gradient is dropped
        index = [slice(None), slice(None), *(slice(w.pad, w.pad + w.size) for w in windows)]
        grad_in = grad_in[tuple(index)]
    return grad_w, grad_b, grad_in
