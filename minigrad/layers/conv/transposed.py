"""`ConvTranspose1D`, `ConvTranspose2D`, `ConvTranspose3D`: transposed convolutions, a
convolution's input gradient as a layer (one implementation for every number of axes).

Its forward is a convolution's backward and its backward a convolution's forward (see
`minigrad.layers.conv.conv`): col2im of ``Wᵀ @ x`` one kernel offset at a time, then the products
on `minigrad.layers.conv.windows.im2col` of the output's gradient.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.backend import grouped_matmul, reshape
from minigrad.core import Array, as_grad
from minigrad.layers.conv.conv import TransposedCache, _Conv
from minigrad.layers.conv.windows import (
    Window,
    as_sizes,
    channel_major,
    col2im,
    im2col,
    swap01,
    transpose_last,
)


class _ConvTransposeND(_Conv[TransposedCache]):
    """A transposed convolution over ``dims`` axes: the class notes of `ConvTranspose2D`."""

    transposed = True

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
        output_padding: int | tuple[int, ...] = 0, groups: int = 1, bias: bool = True,
        dilation: int | tuple[int, ...] = 1, padding_mode: str = "zeros", *,
        init: initializers.Initializer | None = None, rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        owner = type(self).__name__
        if isinstance(padding, str):
            raise ValueError(f"{owner}: padding must be an int or a tuple, got {padding!r}")
        if padding_mode != "zeros":  # PyTorch's transposed convolutions take only zeros
            raise ValueError(f"{owner}: padding_mode must be 'zeros' (the only one PyTorch's "
                             f"transposed convolutions take), got {padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, init, rng, dtype)
        self.output_padding = as_sizes(owner, "output_padding", output_padding, self.dims, 0)
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride,
                                                   self.dilation)):
            raise ValueError(
                f"{owner}: output_padding {self.output_padding} must be smaller "
                f"than the stride {self.stride} or the dilation {self.dilation}"
            )

    def _windows(self, size: tuple[int, ...]) -> tuple[Window, ...]:
        """The windows of the convolution this layer transposes: its input is our output."""
        windows = []
        for n, k, s, d, p, op in zip(size, self.kernel_size, self.stride, self.dilation,
                                     self._pads[0], self.output_padding):
            out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
            if out < 1:
                raise self._too_small(size, f"the output size would be {out} (below 1)")
            windows.append(Window(out, k, s, d, p, n))
        return tuple(windows)

    @override
    def forward(self, x: Array) -> Array:
        x = self._input(x)
        windows = self._windows(tuple(x.shape[2:]))
        bias = None if self.bias is None else self.bias.data
        fast = backend.convolve_transposed(x, self.weight.data, bias, windows, self.groups)
        src = channel_major(x, self.groups)
        if fast is not None:  # the same col2im by PyTorch's own kernel, on torch
            self.cache = (src, windows, tuple(x.shape))
            y: Array = fast
            return y
        y = backend.zeros_in_layout((self.out_channels, x.shape[0], *(w.size for w in windows)),
                                    x.dtype, self.weight.data)  # C order, as the weight
        col2im(y, self.weight.data, src, windows)
        self._add_bias(y)
        self.cache = (src, windows, tuple(x.shape))
        return swap01(y)

    @override
    def backward(self, grad_out: Array) -> Array:
        grad_in = self._backward(grad_out, input_grad=True)
        assert grad_in is not None
        return grad_in

    @override
    def backward_params(self, grad_out: Array) -> None:
        self._backward(grad_out, input_grad=False)

    def _backward(self, grad_out: Array, *, input_grad: bool) -> Array | None:
        """The class notes' three gradients (dL/dx with ``input_grad`` only) for
        ``G = grad_out``, per group; returns dL/dx or None."""
        src, windows, shape = self.saved()  # x as (G, C/G, P)
        out_shape = (shape[0], self.out_channels, *(w.size for w in windows))
        grad = as_grad(self, grad_out, out_shape, self.weight.dtype)
        x = swap01(reshape(src, (shape[1], shape[0], *shape[2:])))
        fast = backend.convolve_transposed_backward(
            x, self.weight.data, grad, windows, self.groups,
            bias=self.bias is not None, input_grad=input_grad)
        if fast is not None:  # PyTorch's kernels, on torch: added as below
            if self.weight.requires_grad:
                self.weight.grad += fast[0]
            if self.bias is not None and self.bias.requires_grad:
                self.bias.grad += fast[1]
            grad_in: Array | None = fast[2]
            return grad_in
        cols = im2col(grad, windows, self.groups)  # im2col(G): (G, K, P)
        if self.weight.requires_grad:  # frozen parameters accumulate nothing
            grad_w = grouped_matmul(src, transpose_last(cols))
            self.weight.grad += reshape(grad_w, self.weight.shape)     # dL/dW += x @ im2col(G)ᵀ
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += self._channel_sums(grad)                 # dL/db += Σ G
        if not input_grad:
            return None
        weight = reshape(self.weight.data, (self.groups, self.in_channels // self.groups, -1))
        grad_in = grouped_matmul(weight, cols)                         # dL/dx = W @ im2col(G)
        return swap01(reshape(grad_in, (shape[1], shape[0], *shape[2:])))

    def _add_bias(self, y: Array) -> None:
        """``y (O, N, ...) += b`` per output channel."""
        if self.bias is not None:
            y += backend.namespace(y).reshape(self.bias.data, (-1, *(1,) * (y.ndim - 1)))

    def _channel_sums(self, grad: Array) -> Array:
        """``Σ G`` over samples and positions, per channel ``(O,)``: a matrix-vector
        product with ones on G as ``(O, P)`` -- BLAS does it 3× faster than ``.sum(axis)``."""
        grouped = channel_major(grad, 1)
        xp = backend.namespace(grouped)
        ones = xp.ones(grouped.shape[2], dtype=grouped.dtype, device=backend.device(grouped))
        sums: Array = xp.reshape(xp.matmul(grouped, ones), (-1,))
        return sums

    @override
    def extra_repr(self) -> str:
        text = super().extra_repr()
        if any(self.output_padding):
            text += f", output_padding={self.output_padding}"
        return text


class ConvTranspose1D(_ConvTransposeND):
    """Transposed 1-D convolution ``(N, C_in, L) -> (N, C_out, L_out)``, as PyTorch's
    ``ConvTranspose1d``: `ConvTranspose2D` with one spatial axis,
    ``L_out = (L − 1)·s − 2p + d·(k − 1) + output_padding + 1``; weight
    ``(in_channels, out_channels / groups, k)``."""

    dims = 1
    axes = ("length",)


class ConvTranspose2D(_ConvTransposeND):
    """Transposed 2-D convolution ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``, as
    PyTorch's ``ConvTranspose2d``: the gradient of a `Conv2D` with respect to its input.

    ``H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1``, likewise ``W_out``.
    Forward is `Conv2D`'s input-gradient computation (col2im of ``Wᵀ @ x``, offset by
    offset); backward is `Conv2D`'s forward on ``G`` for ``dL/dx`` and its weight
    gradient with the roles of ``x`` and ``G`` swapped::

        dL/dx = W @ im2col(G)        dL/dW += x @ im2col(G)ᵀ        dL/db += Σ G

    Cache: the input, channel-major ``(G, C_in / G, N·H·W)``, the windows, its shape.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, dilation, groups, bias, init, rng, dtype
        As `Conv2D`; the weight is ``(in_channels, out_channels / groups, kH, kW)``.
    padding : int or (int, int) >= 0, default 0
        Removed from each side of the output (``"same"``/``"valid"`` are not accepted).
    output_padding : int or (int, int), default 0
        Added to one side of the output, to pick among the input sizes a strided
        `Conv2D` maps to one size; each must be below the stride or the dilation.
    padding_mode : "zeros"
        The only one PyTorch's transposed convolutions take (an argument for parity).

    Raises
    ------
    ValueError, TypeError, RuntimeError
        As `Conv2D`, plus an ``output_padding`` not below the stride or dilation, a
        ``padding_mode`` other than ``"zeros"``, and an output size below 1.
    """

    dims = 2
    axes = ("height", "width")


class ConvTranspose3D(_ConvTransposeND):
    """Transposed 3-D convolution ``(N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out)``,
    as PyTorch's ``ConvTranspose3d``: `ConvTranspose2D` with a third spatial axis, each
    output size ``(size − 1)·s − 2p + d·(k − 1) + output_padding + 1``; weight
    ``(in_channels, out_channels / groups, kD, kH, kW)``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> up = mg.ConvTranspose3D(4, 2, 2, stride=2, rng=0)
    >>> up(np.zeros((1, 4, 3, 4, 5))).shape, up.weight.shape
    ((1, 2, 6, 8, 10), (4, 2, 2, 2, 2))
    """

    dims = 3
    axes = ("depth", "height", "width")
