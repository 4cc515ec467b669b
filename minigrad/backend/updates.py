"""In-place update kernels: the optimizers' and clipping's seam. Every update rule is
written once against `UpdateKernels` (``a ← a + α x``, ``a ← β a + α x``, ...); each
library gets its fastest allocation-free form: NumPy through ufuncs' ``out=`` and a
scratch buffer, PyTorch through its fused in-place methods; any other library through
the standard's operators. Part of `minigrad.backend`, which re-exports all of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.backend.namespaces import Namespace, _library, asarray, device, namespace


class UpdateKernels:
    """The in-place array updates optimizers are written with, one table per library.

    An update rule is written once against these methods (``k = update_kernels(θ)``;
    ``k.lerp_(m, g, 1 - β₁, tmp)``...); each library gets its fastest allocation-free
    form. This class is the standard's fallback -- in-place operators (``a += b``) and
    ``a[...] = expr``, which may allocate temporaries -- and runs on any compliant
    namespace (``array_api_strict``, CuPy). NumPy's table writes through ufuncs'
    ``out=`` into ``tmp``; PyTorch's calls its fused in-place methods (``add_``,
    ``lerp_``, ``addcmul_``, ``addcdiv_``) and ignores ``tmp``.

    Every method writes its first argument (``*_`` methods) or ``out`` (``*_into``);
    ``tmp`` is a scratch array of the operands' shape, dtype and library, distinct from
    every operand unless a method says otherwise; its contents are destroyed. Scalars
    are Python floats, so they never change an array's dtype.
    """

    def __init__(self, xp: Namespace) -> None:
        self.xp = xp

    def add_(self, a: Any, x: Any, alpha: float, tmp: Any) -> None:
        """``a ← a + α x`` (``x`` may be ``tmp``)."""
        a += x if alpha == 1 else alpha * x

    def add_into(self, x: Any, y: Any, alpha: float, out: Any) -> None:
        """``out ← x + α y`` (``out`` distinct from ``x`` and ``y``)."""
        out[...] = x + alpha * y

    def scale_add_(self, a: Any, x: Any, alpha: float, beta: float, tmp: Any) -> None:
        """``a ← β a + α x`` (a momentum buffer's decay and increment in one)."""
        a *= beta
        self.add_(a, x, alpha, tmp)

    def lerp_(self, a: Any, end: Any, weight: float, tmp: Any) -> None:
        """``a ← a + w (end − a)``: a running mean (torch's ``lerp_``)."""
        a += weight * (end - a)

    def addcmul_(self, a: Any, x: Any, y: Any, value: float, tmp: Any,
                 beta: float = 1.0) -> None:
        """``a ← β a + v x y`` (a running mean of squares, with ``β`` its decay)."""
        if beta != 1:
            a *= beta
        a += x * y * value

    def addcmul_into(self, base: Any, x: Any, y: Any, value: float, out: Any) -> None:
        """``out ← base + v x y`` (``out`` distinct from the operands)."""
        out[...] = base + x * y * value

    def addcdiv_(self, a: Any, x: Any, y: Any, value: float, tmp: Any) -> None:
        """``a ← a + v x / y`` (``y`` may be ``tmp``)."""
        a += x / y * value

    def sqrt_into(self, x: Any, out: Any) -> None:
        """``out ← √x`` (``out`` may be ``x``)."""
        out[...] = self.xp.sqrt(x)

    def maximum_(self, a: Any, b: Any) -> None:
        """``a ← max(a, b)``, elementwise."""
        a[...] = self.xp.maximum(a, b)

    def clip_(self, a: Any, low: float, high: float) -> None:
        """``a ← min(max(a, low), high)``, elementwise."""
        a[...] = self.xp.clip(a, low, high)

    # (NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD: copies, quotients, signs, masks)
    def copy_(self, a: Any, x: Any) -> None:
        """``a ← x``."""
        a[...] = x

    def mul_into(self, x: Any, y: Any, out: Any) -> None:
        """``out ← x y`` (``out`` may be ``x`` or ``y``)."""
        out[...] = x * y

    def div_into(self, x: Any, y: Any, out: Any) -> None:
        """``out ← x / y``, ``y`` an array or a float (``out`` may be ``x`` or ``y``)."""
        out[...] = x / y

    def abs_into(self, x: Any, out: Any) -> None:
        """``out ← |x|`` (``out`` may be ``x``)."""
        out[...] = self.xp.abs(x)

    def sign_into(self, x: Any, out: Any) -> None:
        """``out ← sign(x)``: −1, 0 or 1, and NaN for NaN -- but 0 on PyTorch, whose
        ``sign`` gives that (``out`` may be ``x``)."""
        out[...] = self.xp.sign(x)

    def reciprocal_(self, a: Any) -> None:
        """``a ← 1 / a``."""
        a[...] = 1 / a

    def sign_select_into(self, x: Any, negative: float, zero: float, positive: float,
                         out: Any, mask: Any) -> None:
        """``out ← negative, zero or positive`` where ``x < 0``, ``= 0``, ``> 0`` (NaN
        stays NaN), and ``mask ← x < 0``; ``out`` may be ``x``. The three values must be
        > 0 (factors, as Rprop's). ``mask`` is a boolean array of ``x``'s shape and
        library, which NumPy and PyTorch write the selection through."""
        xp = self.xp
        sign = xp.sign(x)
        mask[...] = sign < 0
        out[...] = xp.where(sign > 0, positive,
                            xp.where(mask, negative, xp.where(sign == 0, zero, sign)))

    def fill_where_(self, a: Any, mask: Any, value: float) -> None:
        """``a ← value`` where the boolean ``mask`` is true."""
        a[...] = self.xp.where(mask, value, a)


class _NumpyKernels(UpdateKernels):
    """NumPy: ufuncs with ``out=``, through ``tmp``; nothing is allocated."""

    def add_(self, a: Any, x: Any, alpha: float, tmp: Any) -> None:
        if alpha == 1:
            a += x
        else:
            a += np.multiply(x, alpha, out=tmp)

    def add_into(self, x: Any, y: Any, alpha: float, out: Any) -> None:
        np.multiply(y, alpha, out=out)
        out += x

    def lerp_(self, a: Any, end: Any, weight: float, tmp: Any) -> None:
        np.subtract(end, a, out=tmp)
        tmp *= weight
        a += tmp

    def addcmul_(self, a: Any, x: Any, y: Any, value: float, tmp: Any,
                 beta: float = 1.0) -> None:
        np.multiply(x, y, out=tmp)
        if beta != 1:
            a *= beta
        if value != 1:
            tmp *= value
        a += tmp

    def addcmul_into(self, base: Any, x: Any, y: Any, value: float, out: Any) -> None:
        np.multiply(x, y, out=out)
        if value == -1:  # a subtraction: one pass fewer
            np.subtract(base, out, out=out)
        else:
            out *= value
            out += base

    def addcdiv_(self, a: Any, x: Any, y: Any, value: float, tmp: Any) -> None:
        np.divide(x, y, out=tmp)
        self.add_(a, tmp, value, tmp)

    def sqrt_into(self, x: Any, out: Any) -> None:
        np.sqrt(x, out=out)

    def maximum_(self, a: Any, b: Any) -> None:
        np.maximum(a, b, out=a)

    def clip_(self, a: Any, low: float, high: float) -> None:
        np.clip(a, low, high, out=a)

    def copy_(self, a: Any, x: Any) -> None:
        np.copyto(a, x)

    def mul_into(self, x: Any, y: Any, out: Any) -> None:
        np.multiply(x, y, out=out)

    def div_into(self, x: Any, y: Any, out: Any) -> None:
        np.divide(x, y, out=out)

    def abs_into(self, x: Any, out: Any) -> None:
        np.abs(x, out=out)

    def sign_into(self, x: Any, out: Any) -> None:
        np.sign(x, out=out)

    def reciprocal_(self, a: Any) -> None:
        np.reciprocal(a, out=a)

    def sign_select_into(self, x: Any, negative: float, zero: float, positive: float,
                         out: Any, mask: Any) -> None:
        # x clipped to [−1, 1] keeps each sign and NaN (as sign would, but PyTorch's
        # sign makes NaN 0); then each value is written where its sign is: since the
        # values are > 0, a value written never matches a later test (NaN matches none).
        np.clip(x, -1.0, 1.0, out=out)
        np.greater(out, 0, out=mask)
        np.copyto(out, positive, where=mask)
        np.equal(out, 0, out=mask)
        np.copyto(out, zero, where=mask)
        np.less(out, 0, out=mask)
        np.copyto(out, negative, where=mask)

    def fill_where_(self, a: Any, mask: Any, value: float) -> None:
        np.copyto(a, value, where=mask)


class _TorchKernels(UpdateKernels):
    """PyTorch: its fused in-place methods and ``out=`` functions; nothing is allocated."""

    def __init__(self, xp: Namespace) -> None:
        import torch

        super().__init__(xp)
        self.torch = torch

    def add_(self, a: Any, x: Any, alpha: float, tmp: Any) -> None:
        a.add_(x, alpha=alpha)

    def add_into(self, x: Any, y: Any, alpha: float, out: Any) -> None:
        self.torch.add(x, y, alpha=alpha, out=out)

    def scale_add_(self, a: Any, x: Any, alpha: float, beta: float, tmp: Any) -> None:
        a.mul_(beta).add_(x, alpha=alpha)

    def lerp_(self, a: Any, end: Any, weight: float, tmp: Any) -> None:
        a.lerp_(end, weight)

    def addcmul_(self, a: Any, x: Any, y: Any, value: float, tmp: Any,
                 beta: float = 1.0) -> None:
        if beta != 1:
            a.mul_(beta)
        a.addcmul_(x, y, value=value)

    def addcmul_into(self, base: Any, x: Any, y: Any, value: float, out: Any) -> None:
        self.torch.addcmul(base, x, y, value=value, out=out)

    def addcdiv_(self, a: Any, x: Any, y: Any, value: float, tmp: Any) -> None:
        a.addcdiv_(x, y, value=value)

    def sqrt_into(self, x: Any, out: Any) -> None:
        self.torch.sqrt(x, out=out)

    def maximum_(self, a: Any, b: Any) -> None:
        self.torch.maximum(a, b, out=a)

    def clip_(self, a: Any, low: float, high: float) -> None:
        a.clamp_(low, high)

    def copy_(self, a: Any, x: Any) -> None:
        a.copy_(x)

    def mul_into(self, x: Any, y: Any, out: Any) -> None:
        self.torch.mul(x, y, out=out)

    def div_into(self, x: Any, y: Any, out: Any) -> None:
        self.torch.div(x, y, out=out)

    def abs_into(self, x: Any, out: Any) -> None:
        self.torch.abs(x, out=out)

    def sign_into(self, x: Any, out: Any) -> None:
        self.torch.sign(x, out=out)

    def reciprocal_(self, a: Any) -> None:
        a.reciprocal_()

    def sign_select_into(self, x: Any, negative: float, zero: float, positive: float,
                         out: Any, mask: Any) -> None:
        torch = self.torch  # as NumPy's: clamped, not sign (NaN stays), values > 0
        torch.clamp(x, -1.0, 1.0, out=out)
        torch.gt(out, 0, out=mask)
        out.masked_fill_(mask, positive)
        torch.eq(out, 0, out=mask)
        out.masked_fill_(mask, zero)
        torch.lt(out, 0, out=mask)
        out.masked_fill_(mask, negative)

    def fill_where_(self, a: Any, mask: Any, value: float) -> None:
        a.masked_fill_(mask, value)


_NUMPY_KERNELS = _NumpyKernels(np)
_KERNELS: dict[type, UpdateKernels] = {np.ndarray: _NUMPY_KERNELS}


def update_kernels(array: Any) -> UpdateKernels:
    """The `UpdateKernels` for ``array``'s library (one table per array type, cached).

    Raises
    ------
    TypeError
        ``array`` is not an array of a library minigrad knows (as `namespace`).
    """
    kernels = _KERNELS.get(type(array))
    if kernels is None:
        xp = namespace(array)
        table = _TorchKernels if _library(array) == "torch" else UpdateKernels
        kernels = _KERNELS[type(array)] = _NUMPY_KERNELS if xp is np else table(xp)
    return kernels


def assign(target: Any, values: np.ndarray[Any, Any]) -> None:
    """``target[...] = values`` for a NumPy ``values`` of ``target``'s shape and dtype,
    in place in ``target``'s library and device (so references to it stay valid)."""
    if type(target) is np.ndarray:
        np.copyto(target, values)
    else:
        target[...] = asarray(values, namespace(target), device(target))


def vector_norm(array: Any, ord: float) -> float:
    """The ``ord``-norm of all of ``array``'s entries (0 for an empty array), as a float:
    ``max |x|`` for ``ord=inf``, else ``(Σ |x|^ord)^(1/ord)``, in ``array``'s dtype."""
    if math.prod(array.shape) == 0:
        return 0.0
    if type(array) is np.ndarray:
        return float(np.linalg.norm(array.ravel(), ord=ord))
    return float(namespace(array).linalg.vector_norm(array, ord=ord))
