"""Winograd's minimal filtering F(2×2, 3×3): a stride-1 3×3 convolution in 2.25× fewer
multiplications, on NumPy arrays (what cuDNN and oneDNN run for these layers).

Each 2×2 block of outputs is computed from the 4×4 tile of input under it (tiles
overlap by 2), in a transformed space where the convolution is an elementwise product
(Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016)::

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A          g: 3×3 kernel, d: 4×4 tile, Y: 2×2 outputs

The 16 entries ``ξ`` of the transformed tile are independent, so summing over input
channels makes them 16 matrix products, ``M_ξ (O, T) = U_ξ (O, C) @ V_ξ (C, T)`` over
the ``T`` tiles of the batch -- 16 multiplications for 4 outputs, against 36 for the
direct product (``4 · 9``). The transforms (B, G, A: entries 0, ±1, ±½) are sums and
differences, done separably (columns, then rows) as whole-array operations.

The backward pass is the same kernel's pieces:

* ``dL/dx`` is a stride-1 3×3 convolution too -- of ``G`` padded by ``2 − p``, with the
  kernel flipped and its channel axes swapped -- so it is `convolve` again;
* ``dL/dW`` is the adjoint of the product: ``dU_ξ = M'_ξ @ V_ξᵀ`` with ``M' = A dY Aᵀ``
  per tile of the output's gradient, then ``dL/dW = Gᵀ dU G`` (``V``: the forward's
  transformed input, kept); ``dL/db = Σ dY`` comes out of ``M'`` (its entry (1, 1) is
  each tile's sum).

Layout: the tiles run over ``(tile row, tile column, n)``, the batch innermost, so every
transform step works on runs of ``N`` (or more) contiguous numbers rather than on
stride-2 rows of a few (1.6 → 0.5 ms per transform, 64 channels on 16×16, batch 32);
the output is copied once into the conv layers' channel-major ``(C, N, H, W)`` layout,
the bias added by that copy. The batch is transformed and multiplied a part at a time
(`batch_parts`), so that the transforms' temporaries stay in cache. Rounding differs
from the direct product's only by the transforms' few additions (float32: ~1e-6
relative).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
"""The kernel transform: ``U = G g Gᵀ`` (4×4 from 3×3)."""

_G2 = np.kron(_G, _G)
"""``G g Gᵀ`` on a flattened kernel: ``vec(U) = (G ⊗ G) vec(g)``, ``(16, 9)``: the transforms
of all ``O·C`` kernels are one matrix product (a loop of 3×3 products costs ~100× more)."""


def tiles(size: int) -> int:
    """The tiles along an axis of ``size`` outputs: one per 2 outputs (the last may
    hang over the end; its extra output is computed on zeros and dropped)."""
    return (size + 1) // 2


def kernel_transform(weight: Array) -> Array:
    """``U_ξ = (G g Gᵀ)_ξ`` for each kernel ``g = weight[o, c]``: ``(16, O, C)``."""
    o, c = weight.shape[:2]
    u: Array = (_G2.astype(weight.dtype) @ weight.reshape(o * c, 9).T).reshape(16, o, c)
    return u


def kernel_gradient(du: Array) -> Array:
    """``dL/dg = Gᵀ dU G``: the gradient of `kernel_transform`, ``(16, O, C) -> (O, C, 3, 3)``."""
    o, c = du.shape[1:]
    grad: Array = (du.reshape(16, o * c).T @ _G2.astype(du.dtype)).reshape(o, c, 3, 3)
    return grad


def input_transform(x: Array, pads: tuple[int, int], out: tuple[int, int]) -> Array:
    """``V_ξ = (Bᵀ d B)_ξ`` for every 4×4 tile ``d`` of ``x (N, C, H, W)`` padded by
    ``pads`` (top, left) and zeros below and right: ``(16, C, T)``, for outputs
    ``out = (H_out, W_out)``, tiles over ``(tile row, tile column, n)``.

    ``Bᵀ`` maps a line ``d0..d3`` to ``(d0 − d2, d1 + d2, d2 − d1, d1 − d3)``; it is
    applied along the columns of the zero-framed input (one strided slice per tap),
    then along the rows."""
    n, c, h, w = x.shape
    rows, cols = tiles(out[0]), tiles(out[1])
    frame = np.zeros((c, 2 * rows + 2, 2 * cols + 2, n), x.dtype)
    top, left = pads
    fit_h, fit_w = min(h, frame.shape[1] - top), min(w, frame.shape[2] - left)
    frame[:, top:top + fit_h, left:left + fit_w, :] = _batch_last(x[:, :, :fit_h, :fit_w])
    across = np.empty((4, c, frame.shape[1], cols, n), x.dtype)  # Bᵀ along the columns
    _b_transposed([frame[:, :, k:k + 2 * cols:2, :] for k in range(4)], across)
    v = np.empty((16, c, rows * cols * n), x.dtype)
    down = v.reshape(4, 4, c, rows, cols, n)  # [a, b]: Bᵀ along the rows, then columns
    _b_transposed([across[:, :, k:k + 2 * rows:2] for k in range(4)], down)
    return v


def _batch_last(a: Array) -> Array:
    """``a (N, C, H, W)`` as ``(C, H, W, N)``, to copy from: the kernel's layout, batch
    innermost. From batch-major memory (each sample's values together, as most layers
    hand them over) that copy gathers each value from another sample, C·H·W values
    apart; one copy to channel-major memory first moves runs of H·W values, and the
    gather then steps H·W apart. Interleaved, float32, one thread, batch-major input:
    32→32 on 8×8 at batch 256, `convolve` 12.0 → 10.8 ms and `weight_gradient` 17.3 →
    14.1; 32→64 on 4×4 at batch 128, 1.29 → 1.18 and 1.67 → 1.19; 64→64 on 16×16 at
    batch 32, even."""
    if a.shape[0] > 1 and a.strides[0] > a.strides[1]:  # batch-major: channel-major first
        a = np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    moved: Array = a.transpose(1, 2, 3, 0)
    return moved


def _b_transposed(taps: list[Array], out: Array) -> None:
    """``out[0..3] = Bᵀ (taps[0..3])``: ``t0 − t2, t1 + t2, t2 − t1, t1 − t3``."""
    np.subtract(taps[0], taps[2], out=out[0])
    np.add(taps[1], taps[2], out=out[1])
    np.subtract(taps[2], taps[1], out=out[2])
    np.subtract(taps[1], taps[3], out=out[3])


def output_transform(m: Array, out: tuple[int, int], bias: Array | None, into: Array) -> None:
    """``Y = Aᵀ M A (+ b)`` per tile, from ``M (16, O, T)``, written to ``into (O, n,
    H_out, W_out)`` (channel-major: the conv layers' output layout).

    ``Aᵀ`` maps ``m0..m3`` to ``(m0 + m1 + m2, m1 − m2 − m3)``: along the rows into
    ``z``, then along the columns straight into the tiles' 2×2 blocks."""
    channels, batch = into.shape[:2]
    rows, cols = tiles(out[0]), tiles(out[1])
    m6 = m.reshape(4, 4, channels, rows, cols, batch)
    z = np.empty((2, 4, channels, rows, cols, batch), m.dtype)  # [r, b]
    _a_transposed(m6, z)
    blocks = np.empty((channels, rows, 2, cols, 2, batch), m.dtype)  # y[o, 2i + r, 2j + s, n]
    _a_transposed(z.transpose(1, 0, 2, 3, 4, 5), blocks.transpose(4, 2, 0, 1, 3, 5))
    full = blocks.reshape(channels, 2 * rows, 2 * cols, batch)[:, :out[0], :out[1], :]
    moved = full.transpose(0, 3, 1, 2)
    if bias is None:
        into[...] = moved
    else:
        np.add(moved, bias.reshape(-1, 1, 1, 1), out=into)


def _a_transposed(m: Array, out: Array) -> None:
    """``out[0] = m0 + m1 + m2``, ``out[1] = m1 − m2 − m3`` along the first axis."""
    np.add(m[0], m[1], out=out[0])
    out[0] += m[2]
    np.subtract(m[1], m[2], out=out[1])
    out[1] -= m[3]


def gradient_transform(grad: Array, rows: int, cols: int) -> Array:
    """``M' = A dY Aᵀ`` per 2×2 block of ``grad (N, O, H_out, W_out)`` (zeros where a
    tile hangs over the end): ``(16, O, T)``, the adjoint of `output_transform`.

    ``A`` maps ``y0, y1`` to ``(y0, y0 + y1, y0 − y1, −y1)``: along the columns, then
    the rows."""
    n, o, h, w = grad.shape
    frame = np.zeros((o, rows, 2, cols, 2, n), grad.dtype)
    frame.reshape(o, 2 * rows, 2 * cols, n)[:, :h, :w, :] = _batch_last(grad)
    across = np.empty((2, 4, o, rows, cols, n), grad.dtype)  # [r, b]
    _a(frame.transpose(4, 2, 0, 1, 3, 5), across.transpose(1, 0, 2, 3, 4, 5))  # s, r first
    m = np.empty((16, o, rows * cols * n), grad.dtype)
    _a(across, m.reshape(4, 4, o, rows, cols, n))
    return m


def _a(y: Array, out: Array) -> None:
    """``out[0..3] = (y0, y0 + y1, y0 − y1, −y1)`` along the first axis (of two)."""
    out[0] = y[0]
    np.add(y[0], y[1], out=out[1])
    np.subtract(y[0], y[1], out=out[2])
    np.negative(y[1], out=out[3])


def batch_parts(x: Array, out: tuple[int, int]) -> list[slice]:
    """The batch in parts of `PART_BYTES` of transformed input, `PART_MIN_SAMPLES` samples
    at least."""
    per_sample = 16 * x.shape[1] * tiles(out[0]) * tiles(out[1]) * x.itemsize
    size = max(PART_MIN_SAMPLES, PART_BYTES // per_sample)
    return [slice(start, start + size) for start in range(0, x.shape[0], size)]


PART_BYTES = 1 << 21
"""The kernel works on the batch a part at a time: its transforms are memory-bound
passes, whose temporaries stay in cache on a part of about 2 MiB of ``V`` -- but they
run along the batch axis (innermost), so a part of too few samples makes their runs
short. Measured (float32, one thread, CPU time, best of 7; eval forward / forward +
backward, ms), whole batch against these parts: 32→32 on 8×8, batch 256: 15.8 / 22.6
against 7.8 / 22.2 (64 samples); 64→64 on 8×8, batch 256: 26.7 / 56.8 against 18.6 /
50.6 (32); 64→64 on 16×16, batch 128: 53.1 / 143 against 38.2 / 106 (16); parts of 2
samples there cost 2.2× the whole batch."""

PART_MIN_SAMPLES = 16
"""The fewest samples in a part (but the last): runs of 16 float32 fill a cache line."""


def convolve(x: Array, weight: Array, bias: Array | None, pads: tuple[int, int],
             out: tuple[int, int], *, keep: bool = True) -> tuple[Array, list[Array] | None]:
    """The 3×3, stride-1 convolution of ``x (N, C, H, W)`` padded by ``pads`` (top,
    left; zeros beyond the input below and right) with ``weight (O, C, 3, 3)``, plus
    ``bias``: ``(N, O, *out)``, and (with ``keep``) the transformed input ``V`` of each
    part of the batch (`batch_parts`) for `weight_gradient`."""
    u = kernel_transform(weight)
    y = np.empty((weight.shape[0], x.shape[0], *out), x.dtype)
    kept = []
    for part in batch_parts(x, out):
        v = input_transform(x[part], pads, out)
        output_transform(np.matmul(u, v), out, bias, y[:, part])  # 16 products (O, C) @ (C, T)
        if keep:
            kept.append(v)
    as_batch_first: Array = y.swapaxes(0, 1)
    return as_batch_first, kept if keep else None


def input_gradient(grad: Array, weight: Array, pads: tuple[int, int],
                   size: tuple[int, int]) -> Array:
    """``dL/dx (N, C, *size)``: the convolution of ``grad`` padded by ``2 − p`` with the
    flipped kernel, its channel axes swapped (``W'[c, o] = W[o, c, ::-1, ::-1]``)."""
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    return convolve(grad, flipped, None, (2 - pads[0], 2 - pads[1]), size, keep=False)[0]


def weight_gradient(grad: Array, x: Array, pads: tuple[int, int], kept: list[Array] | None
                    ) -> tuple[Array, Array]:
    """``dL/dW (O, C, 3, 3)`` and ``dL/db (O,)`` from ``grad (N, O, H_out, W_out)`` and
    the forward's ``V`` (``kept``; transformed again from ``x`` when it was let go of):
    ``dU_ξ = Σ_parts M'_ξ @ V_ξᵀ``, ``dL/dW = Gᵀ dU G``; ``dL/db`` the tiles' sums,
    entry (1, 1) of ``M'``."""
    out = (grad.shape[2], grad.shape[3])
    rows, cols = tiles(out[0]), tiles(out[1])
    du = np.zeros((16, grad.shape[1], x.shape[1]), grad.dtype)
    grad_b = np.zeros(grad.shape[1], grad.dtype)
    for index, part in enumerate(batch_parts(x, out)):
        v = kept[index] if kept is not None else input_transform(x[part], pads, out)
        m = gradient_transform(grad[part], rows, cols)
        du += np.matmul(m, v.transpose(0, 2, 1))  # 16 products (O, T) @ (T, C)
        grad_b += m[5] @ np.ones(m.shape[2], m.dtype)
    return kernel_gradient(du), grad_b
