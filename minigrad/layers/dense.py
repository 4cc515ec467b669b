"""Structural layers: `Dense` (the weights), `Bias` (the bias node) and `Identity`."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.backend import matmul, reshape, sum_rows
from minigrad.core import (
    Array,
    Layer,
    Parameter,
    as_batch,
    as_grad,
    check_count,
    check_parameter_dtype,
)


class Dense(Layer[Array]):
    """Fully connected layer on the last axis: ``y = x @ W`` (``+ b`` with ``bias=True``).

    By default there is no bias: pair it with a `Bias` in front to get an affine map,
    as in the blog post. ``bias=True`` adds a ``bias`` parameter instead -- the affine
    layer of PyTorch's ``Linear`` and Keras' ``Dense``, and what lets weight decay skip
    biases.

    Shapes: ``x (N, ..., in_features) -> y (N, ..., out_features)``, leading axes kept
    (PyTorch's ``Linear`` rule); ``W (in_features, out_features)``, ``b (out_features,)``.

    Backward, for upstream gradient ``G = dL/dy``, with the leading axes flattened into
    rows (``x``: (M, in), ``G``: (M, out))::

        dL/dW += x.T @ G        dL/db += Σ_rows G        dL/dx = G @ W.T

    (`backward_params` skips the last: the model's input needs no gradient.)

    Cache: the input ``x`` (in the layer's dtype).

    Parameters
    ----------
    in_features, out_features : int
        Width of the input and of the output (each >= 1).
    bias : bool, default False
        Add a ``bias`` parameter of shape ``(out_features,)``, initialized to zeros.
    init : Initializer, default `init.xavier_uniform()`
        Glorot uniform, Keras' default: keeps activations' variance steady through
        sigmoid/tanh layers. Use `init.he_normal()` before ReLUs.
    rng : int, numpy Generator or RandomState, optional
        Source of the initial weights; None draws fresh OS entropy.
    dtype : float dtype, default float64
        Dtype of ``W`` and of all computation in this layer.

    Raises
    ------
    ValueError
        From the constructor: ``in_features`` or ``out_features`` not an int >= 1.
        From ``forward``/``backward``: an input of the wrong shape or an empty one, or
        a gradient not of the latest output's shape (naming the layer).
    TypeError
        From the constructor: a non-floating or float16 ``dtype`` (see
        `check_parameter_dtype`), or an ``init`` that does not
        return an ndarray of shape ``(in_features, out_features)`` and dtype ``dtype``.
        From ``forward``/``backward``: a non-real input or gradient (naming the layer).
    RuntimeError
        ``backward`` (or `backward_params`) before any ``forward``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = False,
        *,
        init: initializers.Initializer | None = None,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        self.in_features = check_count("Dense", "in_features", in_features, 1)
        self.out_features = check_count("Dense", "out_features", out_features, 1)
        dtype = check_parameter_dtype("Dense", dtype)
        shape = (self.in_features, self.out_features)
        weight = initializers.draw(
            "Dense", init if init is not None else initializers.xavier_uniform(), shape, rng,
            dtype,
        )
        self.weight = Parameter(weight, name="weight")
        self.bias = Parameter(np.zeros(shape[1], dtype), name="bias") if bias else None

    @override
    def forward(self, x: Array) -> Array:
        x = self.cache = as_batch(self, x, features=self.in_features, like=self.weight.data)
        y: Array = matmul(x, self.weight.data)                  # y = x @ W
        if self.bias is not None:
            y += self.bias.data                                 #     + b
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        g = self._parameter_gradients(grad_out)
        grad_in: Array = matmul(g, self.weight.data.T)          # dL/dx = G @ W.T
        return grad_in

    @override
    def backward_params(self, grad_out: Array) -> None:
        self._parameter_gradients(grad_out)

    def _parameter_gradients(self, grad_out: Array) -> Array:
        """Accumulate the class notes' dL/dW and dL/db for the upstream gradient
        ``G = grad_out``; returns ``G``, validated."""
        x = self.saved()
        g = as_grad(self, grad_out, (*x.shape[:-1], self.out_features), x.dtype)
        rows_x, rows_g = (x, g) if x.ndim == 2 else (_rows(x), _rows(g))
        self.weight.accumulate_matmul(rows_x.T, rows_g)         # dL/dW += x.T @ G
        if self.bias is not None and self.bias.requires_grad:  # frozen: nothing accumulates
            self.bias.grad += sum_rows(rows_g)                  # dL/db += Σ_rows G
        return g

    @override
    def extra_repr(self) -> str:
        dtype = self.weight.dtype
        return f"{self.in_features}→{self.out_features}" + (
            ", bias=True" if self.bias is not None else ""
        ) + ("" if backend.numpy_dtype(dtype) == np.float64 else f", dtype={dtype}")


def _rows(a: Array) -> Array:
    """``(N, ..., f) -> (N·…, f)``: every position of every sample a row (a view for a
    contiguous array)."""
    rows: Array = reshape(a, (-1, a.shape[-1]))
    return rows


OutputSpec = tuple[tuple[int, ...], np.dtype[Any]]
"""Shape and dtype of a parameter-free layer's last output: all its backward needs."""


class Bias(Layer[OutputSpec]):
    """The blog post's *bias node*: prepend a constant 1 on the last axis.

    ``x (N, ..., d) -> [1 | x] (N, ..., d + 1)``. The next `Dense` then learns the bias
    as the first row of its weight. Backward drops the constant's gradient:
    ``dL/dx = G[..., 1:]`` (a view, no copy). Parameter-free.

    Cache: the output's shape and dtype, to validate the incoming gradient.

    Raises
    ------
    TypeError, ValueError
        From ``forward``: an input that is not a non-empty real batch of rank >= 2;
        from ``backward``: a non-real gradient, or one not of shape ``(N, ..., d + 1)``.
        Both name the layer.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x)
        out: Array = backend.empty_like_shape(x, (*x.shape[:-1], x.shape[-1] + 1))
        out[..., 0] = 1.0
        out[..., 1:] = x
        self.cache = (out.shape, out.dtype)
        return out

    @override
    def backward(self, grad_out: Array) -> Array:
        return as_grad(self, grad_out, *self.saved())[..., 1:]


class Identity(Layer[OutputSpec]):
    """``y = x``; ``dL/dx = dL/dy``. Useful as an explicit linear output activation.

    Shapes: ``(N, ...) -> (N, ...)``, any rank >= 2; the output is the input itself
    (after validation, bool/int cast to float64), not a copy.

    Cache: the output's shape and dtype, to validate the incoming gradient.

    Raises
    ------
    TypeError, ValueError
        From ``forward``: an input that is not a non-empty real batch of rank >= 2;
        from ``backward``: a non-real gradient, or one not of the output's shape. Both
        name the layer.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x)
        self.cache = (x.shape, x.dtype)
        return x

    @override
    def backward(self, grad_out: Array) -> Array:
        return as_grad(self, grad_out, *self.saved())
