"""What of minigrad.distributed needs no PyTorch: the split of an epoch into the processes'
shards (`shard_indices`), and the errors without torch. (Training across processes:
tests/test_distributed.py.)"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.distributed import shard_indices, shard_size


@given(n=st.integers(0, 60), world=st.integers(1, 7), batch=st.integers(1, 9),
       drop_last=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_the_shards_deal_out_the_epoch_in_equal_parts(n, world, batch, drop_last, seed):
    order = np.random.default_rng(seed).permutation(n)
    shards = [shard_indices(n, rank, world, order, drop_last) for rank in range(world)]
    size = shard_size(n, world, drop_last)
    assert size == (n // world if drop_last else -(-n // world))
    assert all(len(shard) == size for shard in shards)
    # Together, batch k of every process is block k of the padded (cut) order: the global
    # batches of one process training with batch size world · batch.
    dealt = np.resize(order, size * world) if n else np.zeros(0, np.int64)
    for start in range(0, size, batch):
        together = np.concatenate([shard[start : start + batch] for shard in shards])
        block = dealt[start * world : (start + batch) * world]
        assert sorted(together.tolist()) == sorted(block.tolist())
    if not drop_last:  # every sample at least once; the padding repeats the first ones
        seen = np.concatenate(shards) if shards else np.zeros(0)
        assert set(seen.tolist()) == set(range(n))
        assert len(seen) - n < world


def test_the_default_order_is_the_samples_in_turn():
    assert shard_indices(7, 2, 3).tolist() == [2, 5, 1]
    assert shard_indices(2, 3, 5).tolist() == [1]  # padding longer than the data repeats it
    assert shard_indices(0, 0, 2).tolist() == []
    assert shard_indices(5, 0, 1).dtype == np.int64


@pytest.mark.parametrize(("args", "message"), [
    ((5, 2, 2), "rank must be < world_size=2, got 2"),
    ((5, 0, 0), "world_size must be an int >= 1, got 0"),
    ((-1, 0, 1), "n must be an int >= 0, got -1"),
    ((5, True, 2), "rank must be an int >= 0, got True"),
    ((5, 0, 2, [0, 1]), r"order must hold n=5 indices, got shape \(2,\)"),
])
def test_bad_shard_arguments_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        shard_indices(*args)


def test_importing_minigrad_distributed_imports_no_torch():
    code = ("import sys, minigrad, minigrad.distributed; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_without_torch_the_error_says_what_to_install(monkeypatch):
    import minigrad.distributed as mgd

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "torch" else real(name, *args))
    model = mg.Sequential(mg.Dense(2, 1, rng=0))
    message = r'average_gradients runs on PyTorch.*pip install "minigrad\[distributed\]"'
    with pytest.raises(ImportError, match=message):
        mgd.average_gradients(model)
    X = np.zeros((4, 2))
    with pytest.raises(ImportError, match=r"fit \(data_parallel\) runs on PyTorch"):
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, X[:, :1], epochs=1,
               progress=False, data_parallel=mgd.DataParallel())


def test_a_mismatch_is_named_by_its_first_difference():
    from minigrad.distributed._collectives import mismatch

    w = ("parameter", "0.weight", (3, 2), "float64", "cpu")
    b = ("buffer", "1.running_mean", (2,), "float64", "cpu")
    assert mismatch([[w, b], [w, b], [w, b]], 0) is None
    assert mismatch([[w, b], [w, b], [w]], 0) == (
        "rank 2 has 1 parameters and buffers, rank 0 has 2; the first one rank 2 lacks is "
        "buffer '1.running_mean' of shape (2,), float64 on cpu")
    assert mismatch([[w], [w, b]], 0) == (
        "rank 1 has 2 parameters and buffers, rank 0 has 1; the first one rank 0 lacks is "
        "buffer '1.running_mean' of shape (2,), float64 on cpu")
    wide = ("parameter", "0.weight", (3, 2), "float32", "cpu")
    assert mismatch([[w, b], [wide, b]], 1) == (
        "the first difference is entry 0 (of the parameters, then the buffers, in the "
        "model's order): rank 1 has parameter '0.weight' of shape (3, 2), float32 on cpu, "
        "rank 0 has parameter '0.weight' of shape (3, 2), float64 on cpu")
