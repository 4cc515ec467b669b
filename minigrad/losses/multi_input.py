"""`MultiInputLoss`: the base of the losses of several predictions -- PyTorch's
``margin_ranking_loss(x1, x2, y)``, ``cosine_embedding_loss(x1, x2, y)``,
``triplet_margin_loss(anchor, positive, negative)``, ``gaussian_nll_loss(input, target,
var)`` -- inside minigrad's ``forward(pred, target)`` / ``backward() -> dL/dpred``.

``pred`` comes in one of two forms:

* **a tuple (or list) of the inputs**, in PyTorch's order: ``loss((x1, x2), y)``. Then
  `MultiInputLoss.backward_inputs` returns one gradient per input, each of its input's
  shape: ``g1, g2 = loss.backward_inputs()``.
* **one array stacking them** on the loss's `stack_axis` -- what a single model's output
  gives ``fit``: ``(..., 2)`` for (x1, x2) or (mean, var) (axis -1), ``(..., 3, D)`` for
  the triplet's (anchor, positive, negative) of ``D`` features (axis -2). Then
  ``backward`` returns ``dL/dpred`` of the stacked shape, which ``model.backward``
  takes, so ``mg.fit(model, loss, ...)`` trains with these losses like any other (not
  `TripletMarginLoss`, which has no target while ``fit`` always passes one).

``backward`` is the `Loss` contract (one array, dL/dpred): after a tuple ``pred`` it
raises and names ``backward_inputs``, which works after either form. A nested list is
read as the tuple form; pass the stacked form as an array.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, TypeAlias

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, CacheT
from minigrad.losses.loss import Loss, as_prediction

Inputs: TypeAlias = npt.ArrayLike | tuple[npt.ArrayLike, ...] | list[npt.ArrayLike]
"""A `MultiInputLoss`'s ``pred``: a tuple (or list) of its inputs, or one array stacking
them."""


class MultiInputLoss(Loss[CacheT]):
    """A loss of the several predictions `inputs`, given as a tuple or stacked on
    `stack_axis` (see the module docstring).

    Subclasses call `split` in ``forward`` and implement `backward_inputs`.

    Raises
    ------
    ValueError
        From ``forward``: a tuple of another length than `inputs`, or a stacked array
        whose `stack_axis` does not have that length; empty inputs.
    TypeError
        From ``forward``: non-real inputs, or inputs of different libraries or devices
        (naming both).
    RuntimeError
        ``backward`` after a tuple ``pred`` (use `backward_inputs`), or before any
        ``forward``.
    """

    inputs: ClassVar[tuple[str, ...]]
    """The names of the predictions, in PyTorch's order."""
    stack_axis: ClassVar[int]
    """The axis of the stacked form that holds them: -1 for elementwise inputs, -2 for
    vectors (features last)."""
    _stacked: bool = False

    def split(self, pred: Inputs) -> tuple[Array, ...]:
        """``pred`` as its inputs, non-empty real arrays of one library, device and
        dtype (the promotion of theirs), remembering which form it came in. A Python
        number in a tuple stands for a constant array (GaussianNLLLoss's ``var=0.5``)."""
        count = len(self.inputs)
        if isinstance(pred, (tuple, list)):
            if len(pred) != count:
                raise ValueError(f"{self!r} expected {count} inputs ({', '.join(self.inputs)})"
                                 f" or one array stacking them, got a {type(pred).__name__} of "
                                 f"{len(pred)}")
            self._stacked = False
            return self._together(list(pred))
        stacked = as_prediction(self, pred)
        axis = self.stack_axis
        if stacked.ndim < -axis or stacked.shape[axis] != count:
            template = "(..., " + ", ".join([str(count)] + ["D"] * (-axis - 1)) + ")"
            raise ValueError(f"{self!r} expected a tuple ({', '.join(self.inputs)}) or one "
                             f"array of shape {template} stacking them on axis {axis}, got "
                             f"shape {tuple(stacked.shape)}")
        self._stacked = True
        rest = (slice(None),) * (-axis - 1)  # the feature axes after it
        indices: list[tuple[Any, ...]] = [(Ellipsis, i, *rest) for i in range(count)]
        return tuple(stacked[index] for index in indices)

    def _together(self, items: list[Any]) -> tuple[Array, ...]:
        """The tuple form's inputs checked to be of one place and promoted to one dtype."""
        numbers = [isinstance(item, (int, float)) and not isinstance(item, bool)
                   for item in items]
        arrays = {i: as_prediction(self, item) for i, item in enumerate(items)
                  if not numbers[i]}
        if not arrays:
            raise TypeError(f"{self!r} expected arrays, got only Python numbers")
        first_index = next(iter(arrays))
        first = arrays[first_index]
        for i, array in arrays.items():
            if not backend.same_place(array, first) and (backend.is_foreign(array)
                                                         or backend.is_foreign(first)):
                raise TypeError(
                    f"{self!r} got {self.inputs[first_index]} as {backend.describe(first)} "
                    f"and {self.inputs[i]} as {backend.describe(array)}; pass all of one "
                    "library and device (minigrad never copies across them behind your back)")
        xp = backend.namespace(first)
        dtype = xp.result_type(*arrays.values())
        out: list[Array] = []
        for i, item in enumerate(items):
            if numbers[i]:  # a constant, in the arrays' library, device and dtype
                out.append(backend.asarray(np.asarray(item, backend.numpy_dtype(dtype)), xp,
                                           backend.device(first)))
            else:
                out.append(arrays[i] if arrays[i].dtype == dtype else xp.astype(arrays[i], dtype))
        return tuple(out)

    def same_shapes(self, arrays: tuple[Array, ...]) -> None:
        """`ValueError` unless the inputs have one shape (no broadcasting)."""
        shapes = [tuple(a.shape) for a in arrays]
        if any(shape != shapes[0] for shape in shapes):
            listed = ", ".join(f"{name} {shape}" for name, shape in zip(self.inputs, shapes))
            raise ValueError(f"{self!r} expected inputs of one shape, got {listed}")

    @abstractmethod
    def backward_inputs(self, grad: npt.ArrayLike | None = None) -> tuple[Array, ...]:
        """dL/d(input) for each of `inputs`, in its shape, for the latest ``forward``
        (either form); ``grad`` is the upstream gradient, as for ``backward``."""

    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """dL/dpred for the stacked form: `backward_inputs` stacked on `stack_axis`."""
        self._saved()
        if not self._stacked:
            raise RuntimeError(f"{self!r}: forward got a tuple of inputs; backward_inputs() "
                               "returns their gradients (backward() returns dL/dpred for one "
                               "stacked array, the form fit uses)")
        grads = self.backward_inputs(grad)
        stacked: Array = backend.namespace(grads[0]).stack(grads, axis=self.stack_axis)
        return stacked
