"""Convolutions on ``(N, C, *spatial)`` batches: `Conv1D`, `Conv2D`, `Conv3D` (and the
base of the transposed ones, `minigrad.layers.conv.transposed`).

Layouts are PyTorch's (and ONNX's): inputs NCL / NCHW, a convolution's weight
``(out, in / groups, *kernel)``, a transposed convolution's ``(in, out / groups,
*kernel)``, biases ``(out,)``; a ``state_dict`` crosses over without transposes.

A convolution is one matrix product on the column buffer of `minigrad.layers.conv.windows.im2col`
(``K = in / groups · ∏kernel`` rows, ``P = N · ∏out`` columns), per group ``g``::

    Y_g (out/groups, P) = W_g (out/groups, K) @ cols_g (K, P)

and its backward is two more::

    dL/dW_g += G_g @ cols_gᵀ                       (the weight gradient)
    dL/dx    = Σ_offsets k  shift_k(W_{g,k}ᵀ @ G_g)  (col2im, by slice-adds)

At stride 1 the second is itself a convolution -- of G, padded by ``d·(k − 1) − p``,
with the kernel flipped and its channel axes swapped -- so it is one im2col of G and
one matrix product, once the weight gradient has let go of its column buffer (when
G's buffer is no bigger). Otherwise it is done one kernel offset at a time,
adding each product into its slice of ``dL/dx``. Either way a convolution holds one
im2col-sized array at a time. A transposed convolution is the same pair of products
with forward and backward swapped.

Outputs are returned as ``(N, C, ...)`` views of channel-major ``(C, N, ...)`` products
(no transposing copy); the next layer's slices and elementwise operations read them as
they are.

A ``padding_mode`` other than ``"zeros"`` pads a copy of the input first
(`minigrad.layers.conv.padding.pad`) and convolves it unpadded; backward folds the padded
input's gradient back onto the input (`pad_backward`, the copy's adjoint).
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.backend import grouped_matmul, reshape
from minigrad.core import (
    Array,
    Layer,
    Parameter,
    as_batch,
    as_grad,
    check_count,
    check_parameter_dtype,
)
from minigrad.layers.conv.padding import check_pad_fits, check_padding_mode, pad, pad_backward
from minigrad.layers.conv.windows import (
    Window,
    as_sizes,
    batch_last,
    bias_apart,
    col2im,
    forward_columns,
    from_columns,
    im2col,
    matmul_nt,
    output_size,
    paddings,
    swap01,
    to_columns,
)

ConvCache = tuple[object, tuple[Window, ...], tuple[int, ...], Array]
"""What a fast kernel kept for the backward (`backend.convolve`; None for the layer's
own product, whose backward rebuilds the column buffer), the windows, the input's shape
and the input."""

TransposedCache = tuple[Array, tuple[Window, ...], tuple[int, ...]]
"""A transposed convolution's input, channel-major, the windows and the input's shape."""

CacheT = TypeVar("CacheT", ConvCache, TransposedCache)


class _Conv(Layer[CacheT], Generic[CacheT]):
    """What the convolutions and transposed convolutions share: arguments, parameters,
    input checks and repr. ``dims`` is the number of spatial axes."""

    dims: ClassVar[int]
    axes: ClassVar[tuple[str, ...]]  # names of the spatial axes, for messages
    transposed: ClassVar[bool] = False

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...], padding: int | tuple[int, ...] | str,
        dilation: int | tuple[int, ...], groups: int, bias: bool,
        init: initializers.Initializer | None, rng: initializers.SeedLike,
        dtype: npt.DTypeLike, padding_mode: str = "zeros",
    ) -> None:
        owner, dims = type(self).__name__, self.dims
        self.padding_mode = check_padding_mode(owner, padding_mode)
        self.in_channels = check_count(owner, "in_channels", in_channels, 1)
        self.out_channels = check_count(owner, "out_channels", out_channels, 1)
        self.groups = check_count(owner, "groups", groups, 1)
        for name, channels in (("in_channels", self.in_channels),
                               ("out_channels", self.out_channels)):
            if channels % self.groups:
                raise ValueError(f"{owner}: {name} ({channels}) must be divisible by "
                                 f"groups ({self.groups})")
        self.kernel_size = as_sizes(owner, "kernel_size", kernel_size, dims, 1)
        self.stride = as_sizes(owner, "stride", stride, dims, 1)
        self.dilation = as_sizes(owner, "dilation", dilation, dims, 1)
        self.padding: tuple[int, ...] | str = (
            padding if isinstance(padding, str) else as_sizes(owner, "padding", padding, dims, 0)
        )
        self._pads = paddings(owner, padding, dims, self.kernel_size, self.dilation,
                              self.stride)
        dtype = check_parameter_dtype(owner, dtype)
        first, second = ((self.in_channels, self.out_channels) if self.transposed
                         else (self.out_channels, self.in_channels))
        shape = (first, second // self.groups, *self.kernel_size)
        weight = initializers.draw(
            owner, init if init is not None else initializers.xavier_uniform(), shape, rng,
            dtype,
        )
        self.weight = Parameter(weight, name="weight")
        self.bias = Parameter(np.zeros(self.out_channels, dtype), name="bias") if bias else None

    def _input(self, x: Array) -> Array:
        return as_batch(self, x, shape=("batch", self.in_channels, *self.axes),
                        like=self.weight.data)

    def _too_small(self, size: tuple[int, ...], what: str) -> ValueError:
        return ValueError(f"{self!r}: {what}, for an input of spatial size "
                          f"{'×'.join(map(str, size))}")

    @override
    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        ones = (1,) * self.dims
        if self.stride != ones:
            text += f", stride={self.stride}"
        if self.padding not in ((0,) * self.dims, "valid"):
            text += f", padding={self.padding!r}"
        if self.dilation != ones:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        if self.bias is None:
            text += ", bias=False"
        if backend.numpy_dtype(self.weight.dtype) != np.float64:
            text += f", dtype={self.weight.dtype}"
        return text


class _ConvND(_Conv[ConvCache]):
    """A convolution (cross-correlation, as in every framework) over ``dims`` axes."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] | str = 0,
        dilation: int | tuple[int, ...] = 1, groups: int = 1, bias: bool = True,
        padding_mode: str = "zeros", *,
        init: initializers.Initializer | None = None, rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, init, rng, dtype, padding_mode)

    def _windows(self, size: tuple[int, ...]) -> tuple[Window, ...]:
        """The windows over an input of spatial ``size`` -- over its padded copy, padding
        0, when ``padding_mode`` is not ``"zeros"`` (found once per geometry)."""
        before, after = self._pads
        copied = self.padding_mode != "zeros"
        if copied:
            check_pad_fits(repr(self), self.padding_mode, size, before, after)
        found = _conv_windows(size, self.kernel_size, self.stride, self.dilation, before,
                              after, copied)
        if isinstance(found, str):
            raise self._too_small(size, found)
        return found

    @override
    def forward(self, x: Array) -> Array:
        x = self._input(x)
        windows = self._windows(tuple(x.shape[2:]))
        if self.padding_mode != "zeros":  # a padded copy, convolved unpadded
            x = pad(x, self.padding_mode, *self._pads)
        bias = None if self.bias is None else self.bias.data
        fast = backend.convolve(x, self.weight.data, bias, windows, self.groups,
                                keep=self.training)  # or None
        if fast is not None:  # the same product by a faster kernel (PyTorch's, Winograd's)
            y: Array = fast[0]
            self.cache = (fast[1], windows, tuple(x.shape), x)
            return y
        # With a bias, [W b] @ [cols; 1]: the bias is added by the product, not a pass
        # of its own over the output (and its gradient comes out of the weight's) --
        # unless no backward needs the row of ones and the output is small (`_bias_apart`).
        apart = bias is not None and not self.training and self._bias_apart(x.shape[0], windows)
        ones = bias is not None and not apart
        cols = forward_columns(x, windows, self.groups, ones=ones, evaluation=not self.training,
                               batch_last=self._batch_last(windows, x.shape[0]))
        # Only the input is kept, as PyTorch keeps it: backward rebuilds the columns (kept,
        # 9× a 3×3 kernel's input made a LeNet-5 step's peak 2.5× PyTorch's; 1.4× rebuilt).
        self.cache = (None, windows, tuple(x.shape), x)
        y = grouped_matmul(self._weight_matrix(ones), cols.matrix)  # [W b] @ [cols; 1], or W @ cols
        if apart:
            y += reshape(bias, (self.groups, -1, 1))                            # ... + b
        return cols.output(y, tuple(w.out for w in windows))

    def _batch_last(self, windows: tuple[Window, ...], batch: int) -> bool:
        """`batch_last` for this layer's columns (the same in forward and backward)."""
        return batch_last(windows, self.in_channels // self.groups * math.prod(self.kernel_size),
                          self.out_channels // self.groups, batch)

    def _bias_apart(self, batch: int, windows: tuple[Window, ...]) -> bool:
        """Whether an evaluation-mode forward adds the bias to ``W @ cols`` rather than
        computing ``[W b] @ [cols; 1]`` (the cost model: `bias_apart`): at batch 1 the
        digits CNN's layers took 4-9 % less, at batch 256 the joined product stays."""
        return bias_apart(batch, windows, self.in_channels // self.groups
                           * math.prod(self.kernel_size), self.out_channels // self.groups)

    def _weight_matrix(self, with_bias: bool) -> Array:
        """The weight as the product's left operand, ``(G, O/G, K)``, ``with_bias`` as a
        last column: ``[W_g b_g]``, ``(G, O/G, K + 1)``."""
        shape = (self.groups, self.out_channels // self.groups, -1)
        weight: Array = reshape(self.weight.data, shape)
        if not with_bias or self.bias is None:
            return weight
        joined: Array = backend.namespace(weight).concat(
            (weight, reshape(self.bias.data, shape)), axis=2)
        return joined

    @override
    def backward(self, grad_out: Array) -> Array:
        grad_in = self._backward(grad_out, input_grad=True)
        assert grad_in is not None
        if self.padding_mode != "zeros":  # dL/dx = padᵀ(dL/dx_padded): the bands folded back
            grad_in = pad_backward(grad_in, self.padding_mode, *self._pads)
        return grad_in

    @override
    def backward_params(self, grad_out: Array) -> None:
        self._backward(grad_out, input_grad=False)

    def _backward(self, grad_out: Array, *, input_grad: bool) -> Array | None:
        """The three gradients (dL/dx with ``input_grad`` only; of the padded copy, with
        a ``padding_mode``) for ``G = grad_out``, per group, on the columns of the
        forward's product; returns dL/dx or None."""
        if (fast := self._kernel_backward(grad_out, input_grad)) is not None:
            return fast[0]
        grad, g, cols = self._columns(grad_out)  # G; G as columns (G, O/G, P); [cols; 1]
        k = cols.shape[1] - (self.bias is not None)  # the weight's columns: C/G · ∏kernel
        products = matmul_nt(g, cols)  # G @ [cols; 1]ᵀ = [G @ colsᵀ | G @ 1ᵀ]  (G, O/G, K [+ 1])
        del g, cols  # both column buffers: let go of them before dL/dx, which builds its own
        if self.weight.requires_grad:  # frozen parameters accumulate nothing
            self.weight.grad += reshape(products[:, :, :k], self.weight.shape)  # dL/dW += G @ colsᵀ
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += reshape(products[:, :, k], (self.out_channels,))  # dL/db += Σ G
        if not input_grad:
            return None
        return self._input_grad(grad)                                   # dL/dx = col2im(Wᵀ @ G)

    def _kernel_backward(self, grad_out: Array, input_grad: bool) -> tuple[Array | None] | None:
        """The gradients by the kernel that computed the forward (`backend.convolve`), added
        to the parameters' as `_backward` adds its products: ``(dL/dx or None,)``; None
        when the forward was the layer's own product."""
        saved, windows, shape, x = self.saved()
        if not backend.has_conv_kernel(x, self.weight.data, windows, self.groups):
            return None
        grad = as_grad(self, grad_out, (shape[0], self.out_channels, *(w.out for w in windows)),
                       self.weight.dtype)
        grads = backend.convolve_backward(saved, x, self.weight.data, grad, windows, self.groups,
                                          bias=self.bias is not None, input_grad=input_grad)
        if self.weight.requires_grad:
            self.weight.grad += grads[0]
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += grads[1]
        return (grads[2],)

    def _columns(self, grad_out: Array) -> tuple[Array, Array, Array]:
        """``G`` validated, ``G`` as columns ``(G, O/G, P)`` in the column buffer's order,
        and the column buffer ``[cols; 1]``, rebuilt from the input."""
        _, windows, shape, x = self.saved()
        out_shape = (shape[0], self.out_channels, *(w.out for w in windows))
        grad = as_grad(self, grad_out, out_shape, self.weight.dtype)
        last = self._batch_last(windows, shape[0])
        cols = im2col(x, windows, self.groups, ones=self.bias is not None, batch_last=last)
        return grad, to_columns(grad, self.groups, last), cols

    def _input_grad(self, grad: Array) -> Array:
        """``dL/dx = col2im(Wᵀ @ G)``: at stride 1, when G's column buffer is no bigger
        than the input's (memory), as one convolution (`_input_grad_as_conv`); otherwise
        one product and slice-add per kernel offset (`col2im`) of G's columns in the
        forward's order (`to_columns`), into ``(C, N, *size)`` memory -- or ``(C, *size,
        N)`` when the columns run batch last, returned as an ``(N, C, *size)`` view."""
        _, windows, shape, _ = self.saved()
        if all(w.stride == 1 and w.pad <= w.dilation * (w.kernel - 1) for w in windows) and (
                self.out_channels * math.prod(shape[2:])
                <= self.in_channels * math.prod(w.out for w in windows)):
            return self._input_grad_as_conv(grad)
        last = self._batch_last(windows, shape[0])
        layout = (shape[1], *shape[2:], shape[0]) if last else (shape[1], shape[0], *shape[2:])
        # zeros on the weight's library and device, in C order (the weight is C order)
        grad_in = backend.zeros_in_layout(layout, grad.dtype, self.weight.data)
        col2im(grad_in, self.weight.data, to_columns(grad, self.groups, last), windows,
               batch_last=last)
        if not last:
            return swap01(grad_in)
        batch_first: Array = backend.namespace(grad_in).permute_dims(
            grad_in, (self.dims + 1, 0, *range(1, self.dims + 1)))
        return batch_first

    def _input_grad_as_conv(self, grad: Array) -> Array:
        """``dL/dx`` at stride 1 as one convolution of G with the flipped, transposed
        kernel over G padded by ``d·(k − 1) − p``: one im2col of G and one matrix product
        (K = out/groups · ∏kernel rows) -- 1.1-1.4× faster than a small product and a
        slice-add per kernel offset. The input's column buffer is gone by then (the
        weight gradient is done), so the two never coexist."""
        xp = backend.namespace(grad)
        windows, shape = self.saved()[1:3]
        full = tuple(Window(w.out, w.kernel, 1, w.dilation, w.dilation * (w.kernel - 1) - w.pad,
                            w.size) for w in windows)
        last = batch_last(full, self.out_channels // self.groups * math.prod(self.kernel_size),
                          self.in_channels // self.groups, shape[0])
        g_cols = im2col(grad, full, self.groups, batch_last=last)
        groups, per_group = self.groups, self.out_channels // self.groups
        w = xp.reshape(self.weight.data, (groups, per_group, *self.weight.shape[1:]))
        w = xp.flip(w, axis=tuple(range(3, 3 + self.dims)))  # W'[c, o, k] = W[o, c, -k]
        w = xp.permute_dims(w, (0, 2, 1, *range(3, 3 + self.dims)))
        w = xp.reshape(w, (groups, self.in_channels // groups, -1))
        return from_columns(grouped_matmul(w, g_cols), tuple(shape[2:]), last)


@functools.lru_cache(maxsize=256)  # a layer meets few input sizes; each took ~10 µs
def _conv_windows(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...], before: tuple[int, ...], after: tuple[int, ...],
                  copied: bool) -> tuple[Window, ...] | str:
    """`_ConvND._windows`' windows, or why the input is too small for them."""
    windows = []
    for n, k, s, d, p, q in zip(size, kernel, stride, dilation, before, after):
        if n + p + q < d * (k - 1) + 1:
            return (f"the input after padding ({n + p + q}) is smaller than the dilated "
                    f"kernel ({d * (k - 1) + 1})")
        out = output_size(n, k, s, d, p + q)
        windows.append(Window(n + p + q, k, s, d, 0, out) if copied
                       else Window(n, k, s, d, p, out))
    return tuple(windows)


class Conv1D(_ConvND):
    """1-D convolution over ``(N, C_in, L) -> (N, C_out, L_out)``, as PyTorch's ``Conv1d``.

    ``y[n, o, l] = b[o] + Σ_{c, k} W[o, c, k] · x_pad[n, g·C_in/G + c, l·s + k·d]`` for the
    group ``g`` of output channel ``o``; ``L_out = ⌊(L + 2p − d·(k − 1) − 1) / s⌋ + 1``.
    Everything else -- arguments, parameters, backward, cache, errors -- as `Conv2D`,
    with ints or 1-tuples for the sizes.
    """

    dims = 1
    axes = ("length",)


class Conv2D(_ConvND):
    """2-D convolution ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``, as PyTorch's
    ``Conv2d`` (a cross-correlation).

    ``y[n, o] = b[o] + Σ_{c, i, j} W[o, c, i, j] · x_pad[n, g·C_in/G + c, h·s + i·d, w·s + j·d]``,
    ``g`` the group of ``o``; ``H_out = ⌊(H + p_top + p_bottom − d·(kH − 1) − 1) / s⌋ + 1``
    and likewise ``W_out``. Forward is one matrix product on `im2col`'s buffer; backward
    ``dL/dW += G @ colsᵀ``, ``dL/db += Σ_{n,h,w} G``, ``dL/dx`` by col2im of ``Wᵀ @ G``
    one kernel offset at a time (see the module notes).

    Cache: the input, its shape and the window geometry (backward rebuilds the column
    buffer ``(C_in, kH, kW, N, H_out, W_out)`` from them, as PyTorch keeps only the
    input); with a fast kernel, what it keeps (Winograd: the transformed input).

    Parameters
    ----------
    in_channels, out_channels : int >= 1
        Both divisible by ``groups``.
    kernel_size, stride, dilation : int or (int, int), >= 1
    padding : int or (int, int) >= 0, "valid" or "same", default 0
        Added on both sides; ``"same"`` (stride 1 only) keeps the size, the odd extra
        row or column going after, as PyTorch does.
    groups : int >= 1, default 1
        Input and output channels split into ``groups`` independent convolutions.
    bias : bool, default True
        A ``bias`` parameter ``(out_channels,)``, zeros at first; ``bias=False`` leaves
        the attribute None, as in PyTorch.
    padding_mode : "zeros", "reflect", "replicate" or "circular", default "zeros"
        What the padding holds, as PyTorch's: zeros; the input mirrored about its edge
        (without repeating it; padding < the size); the edge repeated; the input
        wrapped around (padding <= the size). Any of them with ``"same"``.
    init : Initializer, default `init.xavier_uniform()`
        For ``weight (out_channels, in_channels / groups, kH, kW)``; fans count the
        receptive field.
    rng : int, numpy Generator or RandomState, optional
    dtype : float dtype, default float64

    Raises
    ------
    ValueError
        From the constructor: a size not >= 1 (padding >= 0), channels not divisible by
        ``groups``, a tuple of the wrong length, ``padding="same"`` with a stride > 1,
        an unknown ``padding_mode``. From ``forward``: wrong rank or channel count, an
        input smaller after padding than the dilated kernel, a reflect padding not
        below the input size (circular: above it); from ``backward``: a gradient
        not of the output's shape. Each names the layer and the numbers.
    TypeError
        Non-integer sizes, a non-floating ``dtype``, a bad ``init``; a non-real input.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> conv = mg.Conv2D(1, 4, 3, padding=1, rng=0)
    >>> conv(np.zeros((2, 1, 8, 8))).shape, conv.weight.shape
    ((2, 4, 8, 8), (4, 1, 3, 3))
    """

    dims = 2
    axes = ("height", "width")


class Conv3D(_ConvND):
    """3-D convolution ``(N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out)``, as
    PyTorch's ``Conv3d``: `Conv2D` with a third spatial axis (ints or 3-tuples for the
    sizes, weight ``(out_channels, in_channels / groups, kD, kH, kW)``), each output size
    ``⌊(size + p_before + p_after − d·(k − 1) − 1) / s⌋ + 1``. Everything else --
    arguments, ``padding_mode``, backward, cache, errors -- as `Conv2D`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> conv = mg.Conv3D(2, 4, 3, padding=1, padding_mode="replicate", rng=0)
    >>> conv(np.zeros((1, 2, 5, 6, 7))).shape, conv.weight.shape
    ((1, 4, 5, 6, 7), (4, 2, 3, 3, 3))
    """

    dims = 3
    axes = ("depth", "height", "width")
