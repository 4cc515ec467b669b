"""`Layer` (one input) and `MergeLayer` (several inputs): a `Module` with a hand-written
``forward``/``backward`` pair, and `check_arity`."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy.typing as npt

from minigrad.core.module import CacheT, Module
from minigrad.core.parameter import Array


class Layer(Module[CacheT]):
    """A module with one input: ``forward(x) -> y`` and ``backward(dL/dy) -> dL/dx``.

    Subclasses implement `forward` and `backward`; calling the layer is `forward`.
    """

    @abstractmethod
    def forward(self, x: Array) -> Array:
        """Compute the output for a batch ``x`` and cache what ``backward`` needs.

        Parameters
        ----------
        x : ndarray, shape (N, *sample_shape)
            A batch of N samples; each layer states the sample shape it takes
            (`Dense`: ``(..., in_features)``, `Conv2D`: ``(C, H, W)``).

        Returns
        -------
        ndarray, shape (N, *output_sample_shape)

        Raises
        ------
        TypeError, ValueError
            Built-in layers raise these, naming themselves, for an input that is not
            a non-empty real batch of the shape they take.
        """

    @abstractmethod
    def backward(self, grad_out: Array) -> Array:
        """Given dL/d(output) of the latest forward, accumulate parameter gradients
        and return dL/d(input).

        Parameters
        ----------
        grad_out : ndarray, shape of the latest output
            ``G = dL/dy``; not modified.

        Returns
        -------
        ndarray, shape of the latest input
            dL/dx; may be ``grad_out`` itself or a view of it, so do not modify it.

        Raises
        ------
        RuntimeError
            Before any ``forward``, or a second time through one forward once a
            container has released it (see `saved`, `minigrad.retain_graph`).
        TypeError, ValueError
            Built-in layers raise these, naming themselves, for a gradient that is not
            real or not of the latest output's shape.
        """

    def backward_params(self, grad_out: Array) -> None:
        """Like `backward` when dL/d(input) is not wanted -- for the model's input, in
        a training step: accumulate the parameter gradients only.

        This default calls `backward` and drops its result; layers override it to skip
        computing the input gradient (for `Dense`, one of its two equal backward matmuls:
        half its backward, a third of its training step's matmuls).
        """
        self.backward(grad_out)

    def __call__(self, x: npt.ArrayLike) -> Array:
        return self.forward(x)  # type: ignore[arg-type]  # layers validate their input


class MergeLayer(Module[CacheT]):
    """A module with several inputs: ``forward(x_1, ..., x_k) -> y`` and
    ``backward(dL/dy) -> (dL/dx_1, ..., dL/dx_k)``, one gradient per input, in order.

    Merge layers (`Add`, `Concat`, yours) join the branches of a `Graph`. A merge layer
    is not a `Layer` -- that promises one input and one returned gradient -- but shares
    all of `Module`: parameters, modes, state and the per-use cache. Calling one is
    `forward`.

    Attributes
    ----------
    min_inputs, max_inputs : int, int or None
        How many inputs the layer takes (class attributes; ``max_inputs=None``: no
        limit), enforced by `check_arity`: a `Graph` checks each node at construction,
        the built-in merge layers check again in ``forward``.
    """

    min_inputs: int = 2
    max_inputs: int | None = None

    @abstractmethod
    def forward(self, *xs: Any) -> Array:
        """Combine the batches ``xs`` into one output and cache what ``backward`` needs.

        Override it with the inputs you take, named -- ``forward(self, a, b)`` -- or as
        ``*xs``. The inputs are typed ``Any`` here so that both are valid overrides under
        ``mypy --strict``: ``*xs: Array`` would promise that every merge layer accepts
        any number of arrays, which a two-input layer does not, so naming them would be
        an override error. The count is checked at run time, by `check_arity`.
        """

    @abstractmethod
    def backward(self, grad_out: Array) -> tuple[Array, ...]:
        """Given dL/d(output) of the latest forward, accumulate parameter gradients
        and return dL/d(input) for each input of that forward, in order."""

    def __call__(self, *xs: npt.ArrayLike) -> Array:
        return self.forward(*xs)  # layers validate their inputs


def check_arity(layer: Layer[Any] | MergeLayer[Any], count: int) -> None:
    """Raise `ValueError` naming ``layer`` unless it takes ``count`` inputs: a `Layer`
    takes one, a `MergeLayer` from ``min_inputs`` to ``max_inputs``."""
    if isinstance(layer, MergeLayer):
        low, high = layer.min_inputs, layer.max_inputs
    else:
        low, high = 1, 1
    if low <= count and (high is None or count <= high):
        return
    if high is None:
        takes = f"at least {low} inputs"
    elif low == high:
        takes = f"exactly {low} input{'' if low == 1 else 's'}"
    else:
        takes = f"{low} to {high} inputs"
    raise ValueError(f"{layer!r} takes {takes}, got {count}")

