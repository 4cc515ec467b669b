"""A convolution's backward holds one column buffer at a time: G's columns, made for the
weight gradient, are let go of before dL/dx is computed as a convolution of G, which
builds G's padded column buffer of its own (tracemalloc, float32)."""

from __future__ import annotations

import tracemalloc

import numpy as np

import minigrad as mg


def test_dx_as_a_convolution_holds_no_copy_of_g_beside_its_column_buffer() -> None:
    conv = mg.Conv2D(8, 8, 3, padding=1, rng=0, dtype=np.float32)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 16, 16)).astype(np.float32)
    # The gradient as the next conv layer returns it: a (N, C, ...) view of (C, N, ...).
    g = np.ascontiguousarray(rng.standard_normal((8, 64, 16, 16)).astype(np.float32))
    g = g.swapaxes(0, 1)
    windows = conv._windows((16, 16))
    assert conv._batch_last(windows, 64)  # G's columns for dL/dW are then a copy of G
    conv(x)
    conv.backward(g)  # warm-up: lazily made gradients exist
    conv(x)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        grad_in = conv.backward(g)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    g_cols = 9 * g.nbytes  # G padded into columns: dL/dx's convolution
    # Beside it, the product and dL/dx (from the columns' batch-last order: a copy); a
    # second G-sized copy (the weight gradient's columns of G, kept) is over budget.
    budget = g_cols + 2 * grad_in.nbytes + g.nbytes // 2
    assert g_cols <= peak - before <= budget, (peak - before, budget)
