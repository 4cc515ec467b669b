"""Two level-1 BLAS routines, ``axpy`` and ``axpby``, from NumPy's own OpenBLAS.

NumPy has no fused ``y ← α x + β y``: its ufuncs make one pass per operation, so an
update like SGD's momentum step (``b ← μ b + g``, then ``θ ← θ − γ b``) takes four passes
over the arrays where a fused kernel takes two. BLAS has those fused kernels, and NumPy's
PyPI wheels ship an OpenBLAS (``scipy-openblas64``) that exports them; this module calls
them through `ctypes` -- the same library, so the same threads and the same
``threadpoolctl`` limits as NumPy's matrix products.

It is an optional fast path of `minigrad.kernels` (the optimizers' seam), never needed:
`routines()` is None unless the library is found, exports the ILP64 symbols
(``scipy_cblas_{s,d}axp{y,by}64_``) and passes a self-test when first needed; on a NumPy
built against another BLAS (conda's MKL, Accelerate) the kernels simply keep their
ufunc form. Only writable, C-contiguous float32/float64 arrays of one shape and dtype
that do not overlap, with nonzero coefficients, are handed to BLAS -- `fused` checks
it -- and only large ones, where the saved passes outweigh the `ctypes` call (~1.5 µs).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from typing import Any

import numpy as np

MIN_SIZE = 1 << 14
"""Elements from which a fused BLAS pass beats two ufunc passes plus the `ctypes` call."""

_Int = ctypes.c_int64  # ILP64: the "64_" symbols take 64-bit sizes and strides


class Routines:
    """``cblas_?axpy`` and ``cblas_?axpby`` of one OpenBLAS library, by dtype."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._axpy: dict[np.dtype[Any], Any] = {}
        self._axpby: dict[np.dtype[Any], Any] = {}
        for prefix, scalar, dtype in (("s", ctypes.c_float, np.float32),
                                      ("d", ctypes.c_double, np.float64)):
            axpy = getattr(library, f"scipy_cblas_{prefix}axpy64_")
            axpy.argtypes = [_Int, scalar, ctypes.c_void_p, _Int, ctypes.c_void_p, _Int]
            axpy.restype = None
            axpby = getattr(library, f"scipy_cblas_{prefix}axpby64_")
            axpby.argtypes = [_Int, scalar, ctypes.c_void_p, _Int, scalar, ctypes.c_void_p,
                              _Int]
            axpby.restype = None
            self._axpy[np.dtype(dtype)] = axpy
            self._axpby[np.dtype(dtype)] = axpby

    def supports(self, dtype: np.dtype[Any]) -> bool:
        """Whether there are routines for ``dtype`` (float32 and float64)."""
        return dtype in self._axpy

    def axpy(self, alpha: float, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> None:
        """``y ← α x + y`` in place (arrays that `fused` accepts)."""
        self._axpy[y.dtype](y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)

    def axpby(self, alpha: float, x: np.ndarray[Any, Any], beta: float,
              y: np.ndarray[Any, Any]) -> None:
        """``y ← α x + β y`` in place (arrays that `fused` accepts)."""
        self._axpby[y.dtype](y.size, alpha, x.ctypes.data, 1, beta, y.ctypes.data, 1)


def fused(y: np.ndarray[Any, Any], x: Any, *scalars: float) -> Routines | None:
    """The routines, if ``y ← f(x, y)`` with the coefficients ``scalars`` can go to BLAS:
    both plain NumPy arrays of one float32/float64 dtype and shape, C-contiguous and
    aligned, at least `MIN_SIZE` elements, ``y`` writable, ``x`` either ``y`` itself or
    not overlapping it, and no coefficient 0 -- OpenBLAS skips a term whose coefficient
    is 0, so a NaN or inf there would vanish where the ufuncs (and PyTorch) give NaN
    (SGD with lr = 0 at a warm-up's first step); else None."""
    if (y.size < MIN_SIZE or type(x) is not np.ndarray or type(y) is not np.ndarray
            or not all(scalars)):
        return None
    found = routines()
    if (
        found is not None and x.shape == y.shape and x.dtype == y.dtype
        and found.supports(y.dtype) and y.flags.c_contiguous and x.flags.c_contiguous
        and x.flags.aligned and y.flags.aligned and y.flags.writeable
        and (x is y or not np.may_share_memory(x, y))
    ):
        return found
    return None


def _numpy_openblas() -> ctypes.CDLL | None:
    """NumPy's bundled scipy-openblas64 (already loaded by NumPy: the same instance)."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (KeyError, TypeError):  # an older NumPy, or a build without the record
        return None
    if blas.get("name") != "scipy-openblas" or "USE64BITINT" not in str(
            blas.get("openblas configuration", "")):
        return None
    package = os.path.dirname(np.__file__)
    found = sorted(
        glob.glob(os.path.join(package, os.pardir, "numpy.libs", "libscipy_openblas64_*"))
        + glob.glob(os.path.join(package, ".dylibs", "libscipy_openblas64_*"))
    )
    for path in found:
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _load() -> Routines | None:
    """The routines, if found and they compute what they should (else None)."""
    try:
        library = _numpy_openblas()
        if library is None:
            return None
        found = Routines(library)
        for dtype in (np.float32, np.float64):
            x, y = np.arange(1, 4, dtype=dtype), np.full(3, 10, dtype=dtype)
            found.axpy(2.0, x, y)  # 10 + 2x
            found.axpby(-1.0, x, 0.5, y)  # (10 + 2x)/2 − x = 5
            if y.tolist() != [5.0, 5.0, 5.0]:
                return None
        return found
    except (AttributeError, OSError, ValueError):  # a symbol missing, a library unloadable
        return None


@functools.cache
def routines() -> Routines | None:
    """The routines of NumPy's OpenBLAS, loaded on first use (None: not available)."""
    return _load()
