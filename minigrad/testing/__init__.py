"""The contract a layer must meet, as functions you can call from your own pytest.

* `gradcheck` compares a function's analytic gradients with central finite
  differences.
* `check_layer` runs every check a `Layer` or `MergeLayer` must pass: backward
  against finite differences for every input and every parameter (in float64, at
  randomized parameter values), stable output shape and dtype, inputs, incoming
  gradients and the forward's kept state never mutated, backward-before-forward
  refused, one gradient per input, parameter gradients accumulating, float32 in ->
  float32 out, and per-use state that can be stashed and restored (what weight sharing
  relies on); opt-in, ``backends=``: the same results on other array libraries.

Each failure is an `AssertionError` naming the check, the input or parameter, and the
worst mismatch. Only the base module (and the array-library seam, `minigrad.backend`)
is needed; the finite differences are in `minigrad.testing.finite_differences`.
"""

from minigrad.testing.finite_differences import assert_close, gradcheck, numerical_gradient
from minigrad.testing.layer_contract import check_layer

__all__ = ["assert_close", "check_layer", "gradcheck", "numerical_gradient"]
