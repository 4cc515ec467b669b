"""Normalization of each sample's trailing axes: `LayerNorm` and `RMSNorm`.

Both take the last ``len(normalized_shape)`` axes of every sample as one row of ``F``
values and rescale it; layer norm centres it first::

    LayerNorm:  y = γ ⊙ (x − μ) / √(σ² + ε) + β       μ, σ² the row's mean and variance
    RMSNorm:    y = γ ⊙ x / √(mean(x²) + ε)

One kernel computes both, with ``d`` the centred row (layer norm) or the row itself
(RMS norm) and ``r = 1/√(mean(d²) + ε)`` (`row_norm`): the affine map is fused with the
rescaling, ``y = (r γᵀ) ⊙ d + β``, the outer product ``M = r γᵀ`` (`backend.outer`)
kept for backward. Why: NumPy broadcasts a per-row value (``× r``) at about half the speed of
an elementwise product of two arrays (its inner loop runs over a short row with a
stride-0 operand), and this form has one such pass, ``x − μ``, where ``x̂ = d · r`` and
``γ ⊙ x̂`` had two. Backward (`row_norm_backward`), with ``P = G ⊙ d``, ``a = G γ / F``
and ``b = P γ / F`` (matrix-vector products; ``Ĝ = G ⊙ γ`` and ``x̂`` are never formed),
is the general ``r (Ĝ − mean(Ĝ) − x̂ · mean(Ĝ ⊙ x̂))`` of
`minigrad.layers.normalization.standardization` (without ``mean(Ĝ)`` for RMS norm)::

    dL/dx = M ⊙ G − d ⊙ r³ b − r a      dL/dγ = rᵀ P      dL/dβ = 1ᵀ G

(without the affine map γ = 1: ``M = r``, ``a`` and ``b`` are row means). Formulas,
defaults and parameter names follow PyTorch.
"""


from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad.backend import matmul, reduce_sum
from minigrad.core import (
    Array,
    Parameter,
    as_grad,
    check_count,
    check_positive,
)
from minigrad.core.nd import as_nd
from minigrad.init import SeedLike
from minigrad.layers.normalization.standardization import AffineNormalization, variance

_MAX_NDIM = 64

RowNormCache = tuple[Array, Array, Array]
"""``d`` ``(R, F)`` (the centred rows, or the rows), ``r = 1/√(mean(d²) + ε)`` ``(R, 1)``
and the scale ``M = r γᵀ`` ``(R, F)`` (``r`` itself without a weight)."""


def row_norm(rows: Array, eps: float, weight: Array | None, bias: Array | None,
             *, centre: bool) -> tuple[Array, RowNormCache]:
    """``y = M ⊙ d + β`` for ``rows (R, F)``, each row its own group, and the cache of
    `row_norm_backward`; ``centre``: ``d = x − μ`` (layer norm), else ``d = x``."""
    if centre:
        mean = reduce_sum(rows, (1,)) / rows.shape[1]   # μ
        centred = rows - mean                           # d = x − μ
    else:
        centred = rows
    inv_std = variance(centred, (1,), eps)[1]           # r = 1/√(mean(d²) + ε)
    if weight is None:
        return centred * inv_std, (centred, inv_std, inv_std)
    scale = backend.outer(inv_std, weight)              # M = r γᵀ
    y = scale * centred                                 # y = M ⊙ d + β
    if bias is not None:
        y += backend.reshape(bias, (-1,))
    return y, (centred, inv_std, scale)


def row_norm_backward(g: Array, cache: RowNormCache, weight: Parameter | None,
                      bias: Parameter | None, *, centre: bool) -> Array:
    """``dL/dx`` of `row_norm` for ``g = dL/dy (R, F)``, adding ``dL/dγ``, ``dL/dβ`` to
    the parameters' gradients (frozen ones accumulate nothing)."""
    centred, inv_std, scale = cache
    reshape = backend.reshape
    count = g.shape[1]
    product = g * centred                                                  # P = G ⊙ d
    if bias is not None and bias.requires_grad:
        bias.grad += reshape(reduce_sum(g, (0,)), bias.shape)              # dL/dβ = 1ᵀ G
    if weight is None:
        mean_g = reduce_sum(g, (1,)) / count                               # a
        along = reduce_sum(product, (1,)) / count                          # b
    else:
        gamma = reshape(weight.data, (-1,))
        if weight.requires_grad:
            weight.grad += reshape(matmul(reshape(inv_std, (-1,)), product),
                                   weight.shape)                           # dL/dγ = rᵀ P
        mean_g = reshape(matmul(g, gamma), (-1, 1)) / count                # a = G γ / F
        along = reshape(matmul(product, gamma), (-1, 1)) / count           # b = P γ / F
    # r³ b one factor at a time: r³ alone under- or overflows in float32 (σ above ~1e13,
    # or a constant row with a tiny ε)
    along *= inv_std
    along *= inv_std
    along *= inv_std
    grad_in = scale * g                                                    # M ⊙ G
    backend.subtract_row_scaled(grad_in, centred, along, spare=product)   # − d ⊙ r³ b
    if centre:
        grad_in -= mean_g * inv_std                                        # − r a
    return grad_in


def _shape_tuple(owner: str, shape: int | Sequence[int]) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not dims:
        raise ValueError(f"{owner}: normalized_shape must not be empty")
    return tuple(check_count(owner, "normalized_shape", d, 1) for d in dims)


class _RowNormalization(AffineNormalization[RowNormCache]):
    """Normalization of the last ``len(normalized_shape)`` axes: `LayerNorm`, `RMSNorm`."""

    centre: bool = True  # layer norm subtracts the mean; RMS norm does not
    bias_option: bool = True  # whether it takes ``bias`` (RMS norm has none)
    default_eps: float | None  # PyTorch's, left out of the repr
    eps: float | None

    def __init__(self, normalized_shape: int | Sequence[int], elementwise_affine: bool,
                 bias: bool, rng: SeedLike, dtype: npt.DTypeLike) -> None:
        self.normalized_shape = _shape_tuple(type(self).__name__, normalized_shape)
        self._init_affine(self.normalized_shape, elementwise_affine, bias, rng, dtype,
                          affine="elementwise_affine")
        self.elementwise_affine = self.weight is not None

    def _eps(self, dtype: object) -> float:
        """The ε to compute with, for a (validated) input of ``dtype``."""
        assert self.eps is not None  # RMSNorm's eps=None is resolved in its override
        return self.eps

    def _validate(self, x: object) -> Array:
        k = len(self.normalized_shape)
        return as_nd(
            self, x, expected=f"(batch, ..., {', '.join(map(str, self.normalized_shape))})",
            ndims=range(k + 1, _MAX_NDIM + 1),
            sizes={-k + i: size for i, size in enumerate(self.normalized_shape)},
            dtype=self._dtype(), like=self._like(),
        )

    @override
    def forward(self, x: Array) -> Array:
        x = self._validate(x)
        rows = backend.reshape(x, (-1, math.prod(self.normalized_shape)))
        weight, bias = self.weight, self.bias
        y, (centred, inv_std, scale) = row_norm(
            rows, self._eps(x.dtype), None if weight is None else weight.data,
            None if bias is None else bias.data, centre=self.centre)
        self.cache = (backend.reshape(centred, tuple(x.shape)), inv_std, scale)
        reshaped: Array = backend.reshape(y, tuple(x.shape))
        return reshaped

    @override
    def backward(self, grad_out: Array) -> Array:
        centred, inv_std, scale = self.saved()
        g = as_grad(self, grad_out, tuple(centred.shape), centred.dtype)
        rows = (-1, math.prod(self.normalized_shape))
        grad_in = row_norm_backward(backend.reshape(g, rows),
                                    (backend.reshape(centred, rows), inv_std, scale),
                                    self.weight, self.bias, centre=self.centre)
        reshaped: Array = backend.reshape(grad_in, tuple(g.shape))
        return reshaped

    @override
    def extra_repr(self) -> str:
        text = f"{self.normalized_shape}"
        if self.eps != self.default_eps:
            text += f", eps={self.eps}"
        return text + self._affine_repr("elementwise_affine", bias=self.bias_option)


class LayerNorm(_RowNormalization):
    """Layer normalization over the last axes, as ``torch.nn.LayerNorm``.

    Each sample's last ``len(normalized_shape)`` axes are standardized with their own
    mean and biased variance, then ``y = γ ⊙ x̂ + β`` elementwise (γ, β of shape
    ``normalized_shape``). The same in training and evaluation; no buffers. See the
    module docstring for backward.

    Shapes: ``(*, *normalized_shape) -> same``, at least one leading axis.

    Cache: the centred input ``x − μ`` (not ``x̂``: the affine map is fused with the
    standardization, see `minigrad.layers.normalization.layer_norm.row_norm`),
    ``r = 1/√(σ² + ε)`` and ``M = r γᵀ`` (an array of the input's size: one outer
    product fewer in backward).

    Parameters
    ----------
    normalized_shape : int or sequence of int
        The trailing shape to normalize over.
    eps : float, default 1e-5
        Added to the variance; > 0.
    elementwise_affine : bool, default True
        Learn ``weight`` (ones) and ``bias`` (zeros); False: both are None.
    bias : bool, default True
        With ``elementwise_affine``, False learns only ``weight`` (``bias`` is None).
    rng : seed, optional
        As `BatchNorm1D` (nothing is drawn).
    dtype : float dtype, default float64

    Raises
    ------
    ValueError, TypeError, RuntimeError
        As `BatchNorm1D`, for an input that does not end in ``normalized_shape``.
    """

    default_eps: float | None = 1e-5
    eps: float

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        rng: SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        self.eps = check_positive("LayerNorm", "eps", eps)
        super().__init__(normalized_shape, elementwise_affine, bias, rng, dtype)


class RMSNorm(_RowNormalization):
    """Root-mean-square normalization over the last axes, as ``torch.nn.RMSNorm``.

    Each sample's last ``len(normalized_shape)`` axes are divided by their root mean
    square -- not centred -- then scaled: ``y = γ ⊙ x / √(mean(x²) + ε)`` (γ of shape
    ``normalized_shape``; no bias). The same in training and evaluation; no buffers.
    See the module docstring for backward: layer norm's without ``μ``, so without the
    ``− r a`` term. A row whose squares overflow the dtype is rescaled first, as in
    layer norm (`minigrad.layers.normalization.standardization.variance`).

    Shapes: ``(*, *normalized_shape) -> same``, at least one leading axis.

    Cache: the input rows ``x``, ``r = 1/√(mean(x²) + ε)`` and ``M = r γᵀ``.

    Parameters
    ----------
    normalized_shape : int or sequence of int
        The trailing shape to normalize over.
    eps : float or None, default None
        Added to the mean square; > 0. None: the machine epsilon of the dtype computed
        in (``np.finfo(dtype).eps``, PyTorch's ``torch.finfo(x.dtype).eps``), read at
        each forward, so a model cast to float32 uses float32's.
    elementwise_affine : bool, default True
        Learn ``weight`` (ones); False: it is None.
    rng : seed, optional
        As `BatchNorm1D` (nothing is drawn).
    dtype : float dtype, default float64

    Raises
    ------
    ValueError, TypeError, RuntimeError
        As `LayerNorm`.
    """

    centre = False
    bias_option = False
    default_eps = None

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        *,
        rng: SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        self.eps: float | None = None if eps is None else check_positive("RMSNorm", "eps", eps)
        super().__init__(normalized_shape, elementwise_affine, False, rng, dtype)

    @override
    def _eps(self, dtype: object) -> float:
        if self.eps is not None:
            return self.eps
        return float(np.finfo(backend.numpy_dtype(dtype)).eps)
