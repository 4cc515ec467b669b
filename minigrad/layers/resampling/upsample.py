"""`Upsample`: PyTorch's ``nn.Upsample`` (``interpolate``) over ``(N, C, *spatial)`` batches."""

from __future__ import annotations

from typing import Any

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, Layer, as_batch, as_grad
from minigrad.layers.resampling.interpolation import (
    AxisPlan,
    axis_plan,
    output_length,
    resample,
    resample_backward,
)

MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,),
         "bicubic": (2,), "trilinear": (3,)}
"""Each mode and the numbers of spatial axes it takes (PyTorch's)."""

UpsampleCache = tuple[tuple[AxisPlan, ...], tuple[int, ...], np.dtype[Any]]
"""The axes' plans, the input's shape and dtype."""


def _sizes(owner: str, name: str, value: object, kind: type) -> tuple[Any, ...] | None:
    """``value`` (one number or a tuple of them, each > 0) as a tuple; None stays None."""
    if value is None:
        return None
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    allowed = (int, np.integer) if kind is int else (int, float, np.integer, np.floating)
    if not items or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, allowed)
                        or not v > 0 for v in items):
        what = "an int >= 1" if kind is int else "a number > 0"
        raise ValueError(f"{owner}: {name} must be {what} or a tuple of them, got {value!r}")
    return tuple(kind(v) for v in items)


class Upsample(Layer[UpsampleCache]):
    """Resampling of ``(N, C, *spatial)`` to a size or by a factor, as PyTorch's
    ``nn.Upsample`` -- the same indices, weights and output sizes, so results match.

    Per spatial axis of size ``n``: the output size is ``size``, or ``⌊n · scale_factor⌋``;
    each output ``i`` reads the source coordinate ``s = scale · i`` (``nearest``,
    ``align_corners=True``) or ``scale · (i + ½) − ½`` (linear and cubic), ``scale``
    being ``1 / scale_factor`` when a factor is given (``recompute_scale_factor`` not
    True), else ``n / n_out`` -- ``(n − 1) / (n_out − 1)`` with ``align_corners``. Then:

    * ``nearest``: ``y[i] = x[min(⌊s⌋, n − 1)]`` (PyTorch's, which is not centred);
      ``nearest-exact``: ``x[min(⌊scale · (i + ½)⌋, n − 1)]``;
    * ``linear``/``bilinear``/``trilinear``: ``(1 − λ) · x[⌊s⌋] + λ · x[⌊s⌋ + 1]``,
      ``λ = s − ⌊s⌋``, per axis (the edge repeated);
    * ``bicubic``: Keys' cubic convolution (``A = −0.75``) on ``x[⌊s⌋ − 1 … ⌊s⌋ + 2]``,
      the edges repeated.

    Every mode is a weighted gather per axis (see
    `minigrad.layers.resampling.interpolation`); backward is its adjoint,
    ``dL/dx[j] = Σ_{i reads j} w · G[i]``, with no parameters.

    Cache: the axes' index/weight plans, the input's shape and dtype. The ``mode``
    argument is kept as ``interpolation`` (minigrad's ``Module.mode`` is the
    training-mode context).

    Parameters
    ----------
    size : int or tuple of ints >= 1, optional
        The output's spatial size (one int: every axis).
    scale_factor : float or tuple of floats > 0, optional
        The factor per axis; exactly one of ``size`` and ``scale_factor``.
    mode : str, default "nearest"
        ``"nearest"``, ``"nearest-exact"`` (any of 1-3 spatial axes), ``"linear"`` (1),
        ``"bilinear"``, ``"bicubic"`` (2) or ``"trilinear"`` (3).
    align_corners : bool, optional
        Linear and cubic modes only: map the corner pixels' centres onto each other
        (default False, PyTorch's).
    recompute_scale_factor : bool, optional
        True: compute the scale from the output size, as if ``size`` had been given
        (only with ``scale_factor``).

    Raises
    ------
    ValueError
        From the constructor: both or neither of ``size`` and ``scale_factor``, a
        non-positive size or factor, an unknown mode, ``align_corners`` with a nearest
        mode or not a bool, ``recompute_scale_factor=True`` with ``size``. From
        ``forward``: an input rank the mode does not take, a tuple not of one entry
        per spatial axis, an output size below 1. Each names the layer.
    TypeError
        A non-real input.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.Upsample(scale_factor=2)(np.array([[[1.0, 2.0]]]))
    array([[[1., 1., 2., 2.]]])
    >>> mg.Upsample(scale_factor=2, mode="linear")(np.array([[[1.0, 2.0]]]))
    array([[[1.  , 1.25, 1.75, 2.  ]]])
    """

    def __init__(
        self, size: int | tuple[int, ...] | None = None,
        scale_factor: float | tuple[float, ...] | None = None, mode: str = "nearest",
        align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
    ) -> None:
        owner = "Upsample"
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{owner}: give exactly one of size and scale_factor, got "
                             f"size={size!r}, scale_factor={scale_factor!r}")
        if not isinstance(mode, str) or mode not in MODES:
            raise ValueError(f"{owner}: mode must be one of {', '.join(map(repr, MODES))}, "
                             f"got {mode!r}")
        if align_corners is not None and (
                not isinstance(align_corners, (bool, np.bool_)) or mode.startswith("nearest")):
            raise ValueError(f"{owner}: align_corners must be None or a bool, and only with "
                             f"the interpolating modes (linear, bilinear, bicubic, trilinear), "
                             f"got align_corners={align_corners!r} with mode={mode!r}")
        if recompute_scale_factor is not None and not isinstance(recompute_scale_factor,
                                                                 (bool, np.bool_)):
            raise ValueError(f"{owner}: recompute_scale_factor must be None or a bool, got "
                             f"{recompute_scale_factor!r}")
        if recompute_scale_factor and size is not None:
            raise ValueError(f"{owner}: recompute_scale_factor=True is only meaningful with "
                             "scale_factor, not with an explicit size")
        sizes, factors = _sizes(owner, "size", size, int), _sizes(owner, "scale_factor",
                                                                  scale_factor, float)
        # PyTorch's attributes, as given (a tuple stays a tuple, one number one number)
        self.size = sizes if isinstance(size, (tuple, list)) or sizes is None else sizes[0]
        self.scale_factor = (factors if isinstance(scale_factor, (tuple, list))
                             or factors is None else factors[0])
        self.interpolation = mode  # not `mode`: Module.mode is the training-mode context
        self.align_corners = None if align_corners is None else bool(align_corners)
        self.recompute_scale_factor = (None if recompute_scale_factor is None
                                       else bool(recompute_scale_factor))

    def _per_axis(self, value: Any, dims: int, name: str,
                  shape: tuple[int, ...]) -> tuple[Any, ...]:
        """``size`` or ``scale_factor`` for each of ``dims`` axes."""
        if not isinstance(value, tuple):
            return (value,) * dims
        if len(value) != dims:
            raise ValueError(f"{self!r}: {name} has {len(value)} entries, the input "
                             f"{shape} has {dims} spatial axes")
        return value

    def geometry(self, shape: tuple[int, ...]) -> tuple[tuple[int, ...],
                                                         tuple[float | None, ...]]:
        """Each spatial axis' output size, and the factor its scale comes from (None:
        from the sizes), for an input of ``shape`` (validated)."""
        dims = len(shape) - 2
        if dims not in MODES[self.interpolation]:
            ranks = " or ".join(str(d + 2) for d in MODES[self.interpolation])
            raise ValueError(f"{self!r}: mode {self.interpolation!r} takes inputs of rank "
                             f"{ranks} (N, C, *spatial), got shape {shape}")
        sizes = shape[2:]
        factors: tuple[float | None, ...]
        if self.size is not None:
            outs, factors = self._per_axis(self.size, dims, "size", shape), (None,) * dims
        else:
            given = self._per_axis(self.scale_factor, dims, "scale_factor", shape)
            outs, factors = tuple(output_length(n, f) for n, f in zip(sizes, given)), given
            if self.recompute_scale_factor:
                factors = (None,) * dims  # the scale from the sizes, as with size
        if min(outs) < 1:
            raise ValueError(f"{self!r}: the output size would be {outs} (below 1) for an "
                             f"input of spatial size {'×'.join(map(str, sizes))}")
        if self.interpolation == "nearest" and dims == 2:
            # PyTorch's 2-D nearest kernel copies an axis that keeps its size and halves
            # the index of one that doubles, whatever the factor: the scale from the sizes
            factors = tuple(None if out in (n, 2 * n) else factor
                            for n, out, factor in zip(sizes, outs, factors))
        return outs, factors

    def plans(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[AxisPlan, ...]:
        """The plan of each spatial axis of an input of ``shape`` (validated)."""
        outs, factors = self.geometry(shape)
        return tuple(axis_plan(self.kind, n, out, bool(self.align_corners), factor, dtype.name)
                     for n, out, factor in zip(shape[2:], outs, factors))

    @property
    def kind(self) -> str:
        """The one-axis interpolation: ``nearest``, ``nearest-exact``, ``linear``, ``cubic``."""
        return {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(
            self.interpolation, self.interpolation)

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x)
        shape = tuple(x.shape)
        plans = self.plans(shape, backend.numpy_dtype(x.dtype))
        self.cache = (plans, shape, x.dtype)
        return resample(x, plans)  # y = Σ_taps w · x[idx], axis after axis

    @override
    def backward(self, grad_out: Array) -> Array:
        plans, shape, dtype = self.saved()
        g = as_grad(self, grad_out, (*shape[:2], *(p.out for p in plans)), dtype)
        return resample_backward(g, plans)  # dL/dx[j] = Σ_{i reads j} w · G[i]

    @override
    def extra_repr(self) -> str:
        text = (f"size={self.size!r}" if self.size is not None
                else f"scale_factor={self.scale_factor!r}")
        text += f", mode={self.interpolation!r}"
        if self.align_corners is not None:
            text += f", align_corners={self.align_corners}"
        if self.recompute_scale_factor is not None:
            text += f", recompute_scale_factor={self.recompute_scale_factor}"
        return text
