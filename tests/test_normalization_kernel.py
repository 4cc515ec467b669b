"""The normalization kernel's BLAS reductions agree with NumPy's sums on every axis layout
the layers use (the layers themselves are checked against PyTorch elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.backend import reduce_sum


@pytest.mark.parametrize(("shape", "axes"), [
    ((6, 5), (1,)),            # layer norm rows
    ((3, 4, 5), (2,)),         # layer norm on (N, T, D)
    ((3, 4, 5), (1, 2)),       # layer norm over two axes
    ((3, 4, 5), (0, 1)),       # its affine gradients: a leading block
    ((6, 5), (0,)),            # batch norm 1-D
    ((3, 4, 5), (0, 2)),       # batch norm (N, C, L): trailing block, then the rest
    ((2, 3, 4, 5), (0, 2, 3)), # batch norm 2-D
    ((2, 3, 4, 5), (1,)),      # neither end: the plain sum
])
@pytest.mark.parametrize("with_product", [False, True])
def test_reduce_sum_matches_numpy(shape, axes, with_product) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    expected = (a * b if with_product else a).sum(axis=axes, keepdims=True)
    got = reduce_sum(a, axes, b if with_product else None)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_reduce_sum_keeps_float32() -> None:
    a = np.ones((4, 8), np.float32)
    for axes in [(1,), (0,)]:
        assert reduce_sum(a, axes).dtype == np.float32
        assert reduce_sum(a, axes, a).dtype == np.float32
