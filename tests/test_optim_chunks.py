"""`Optimizer.subtract_scaled` updates a large parameter chunk by chunk (cache-sized
scratch): bitwise the same as one whole-array update, for every SGD variant."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

VARIANTS = [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
            {"momentum": 0.5, "weight_decay": 0.1}, {"weight_decay": 0.1}]


@pytest.mark.parametrize("settings", VARIANTS, ids=str)
def test_chunked_sgd_steps_are_bitwise_the_whole_array_ones(settings, monkeypatch):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((5, 6)).astype(np.float32)
    grads = rng.standard_normal((4, 5, 6)).astype(np.float32)
    results = []
    for chunk in (1 << 16, 7):  # one chunk; 5 chunks, the last one short
        monkeypatch.setattr(mg.Optimizer, "CHUNK", chunk)
        param = mg.Parameter(start.copy())
        opt = mg.SGD([param], lr=0.1, **settings)
        for grad in grads:
            param.grad[...] = grad
            opt.step()
        results.append(param.data.copy())
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], start)


def test_a_non_contiguous_update_falls_back_to_the_whole_array(monkeypatch):
    monkeypatch.setattr(mg.Optimizer, "CHUNK", 4)
    param = mg.Parameter(np.ones((3, 4)))
    opt = mg.SGD([param], lr=0.5)
    opt.subtract_scaled(param, 0.5, np.arange(24.0).reshape(3, 8)[:, ::2])
    np.testing.assert_array_equal(param.data, 1 - 0.5 * np.arange(24.0).reshape(3, 8)[:, ::2])
