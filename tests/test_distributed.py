"""Data-parallel training for real: two CPU processes with gloo (tests/distributed_worker.py)
end where one process training on the whole global batches ends -- the manual loop and
`fit`, SGD with momentum and Adam, and the hand-off to ``DistributedDataParallel`` --
and a process that dies or hangs makes the other fail within the group's timeout.

The processes meet at a file (``FileStore``): ``env://``'s ``TCPStore`` would listen on
every interface; gloo itself is kept on the loopback interface (``GLOO_SOCKET_IFNAME``).
Every launch is bounded in time and its processes are killed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT

import minigrad as mg

torch = pytest.importorskip("torch")

import distributed_worker as worker  # noqa: E402  (tests/ is on the path, as conftest)

import minigrad.distributed as mgd  # noqa: E402

WORKER = Path(worker.__file__)
LOOPBACK = "lo0" if sys.platform == "darwin" else "lo"


class Launch:
    """Two worker processes of one scenario, their output and results."""

    def __init__(self, scenario: str, folder: Path, group_timeout: float) -> None:
        self.scenario, self.folder = scenario, folder
        (folder / "tmp").mkdir()
        env = {**os.environ, "WORLD_SIZE": "2", "TMPDIR": str(folder / "tmp"),
               "MINIGRAD_TEST_STORE": str(folder / "store"),
               "MINIGRAD_TEST_TIMEOUT": str(group_timeout), "GLOO_SOCKET_IFNAME": LOOPBACK,
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               # this checkout's minigrad, whatever is installed
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                           os.environ.get("PYTHONPATH")]))}
        self.procs = []
        for rank in range(2):
            with open(folder / f"out-{rank}.txt", "wb") as output:
                self.procs.append(subprocess.Popen(
                    [sys.executable, str(WORKER), scenario, str(folder)], cwd=ROOT,
                    env={**env, "RANK": str(rank)}, stdout=output, stderr=subprocess.STDOUT,
                    start_new_session=True))

    def wait(self, rank: int, seconds: float) -> int:
        try:
            return self.procs[rank].wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.scenario}: rank {rank} still running after {seconds} s:\n"
                        + self.output(rank))

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def output(self, rank: int) -> str:
        return (self.folder / f"out-{rank}.txt").read_text(errors="replace")

    def results(self, rank: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        with np.load(self.folder / f"{self.scenario}-{rank}.npz") as arrays:
            out = dict(arrays)
        return out, json.loads((self.folder / f"{self.scenario}-{rank}.json").read_text())


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Launch, list[Any]]]:
    """The "train" scenario, run once for the tests below."""
    folder = tmp_path_factory.mktemp("train")
    launch = Launch("train", folder, group_timeout=60)
    try:
        for rank in range(2):
            code = launch.wait(rank, 180)
            assert code == 0, f"rank {rank} exited with {code}:\n{launch.output(rank)}"
        yield launch, [launch.results(rank) for rank in range(2)]
    finally:
        launch.kill()
        shutil.rmtree(folder, ignore_errors=True)


def section(out: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {key.split("/", 1)[1]: value for key, value in out.items()
            if key.startswith(prefix + "/")}


def assert_close(got: dict[str, np.ndarray], want: dict[str, np.ndarray], tol: float) -> None:
    assert got.keys() == want.keys()
    for key in want:
        gap = float(np.max(np.abs(got[key] - want[key])))
        assert gap <= tol, f"{key}: off by {gap:.3g}"


def test_the_workers_ran_this_checkout(trained):
    _, results = trained
    for _, log in results:
        assert log["minigrad"] == str(ROOT / "minigrad" / "__init__.py")


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_manual_loop_equals_one_process_on_the_global_batches(trained, name):
    _, results = trained
    X, y = worker.data()
    model = worker.mlp(seed=100)  # rank 0's weights, which broadcast_parameters spread
    worker.train_one_process(model, worker.OPTIMIZERS[name](model.parameters()), mg.MSELoss(),
                             X, y, global_batch=2 * worker.PER_PROCESS, epochs=worker.EPOCHS)
    (rank0, _), (rank1, _) = results
    assert_close(section(rank0, f"manual-{name}"), model.state_dict(), 1e-12)
    assert_close(section(rank1, f"manual-{name}"), section(rank0, f"manual-{name}"), 0.0)


@pytest.mark.parametrize(("run", "optimizer", "loss_fn", "metrics", "validation"), [
    ("fit-sgd", "sgd", mg.CrossEntropyLoss(), [mg.accuracy], 13),
    ("fit-adam-sum", "adam", mg.MSELoss(reduction="sum"), [], 5),
])
def test_fit_equals_one_process_with_the_global_batch_size(trained, run, optimizer, loss_fn,
                                                           metrics, validation):
    _, results = trained
    X, y = worker.classes() if run == "fit-sgd" else worker.data()
    model = worker.mlp(seed=100)
    history = mg.fit(model, loss_fn, worker.OPTIMIZERS[optimizer](model.parameters()), X, y,
                     epochs=worker.EPOCHS, batch_size=2 * worker.PER_PROCESS, rng=worker.SEED,
                     metrics=metrics, validation_data=(X[:validation], y[:validation]),
                     progress=False)
    (rank0, log0), (rank1, log1) = results
    assert_close(section(rank0, run), model.state_dict(), 1e-12)
    assert_close(section(rank1, run), section(rank0, run), 0.0)
    assert log0[run] == log1[run]  # every process logs the same History
    assert log0[run].keys() == history.history.keys()
    for key, values in history.history.items():
        np.testing.assert_allclose(log0[run][key], values, rtol=1e-12, err_msg=key)


def test_fit_pads_a_dataset_the_processes_do_not_divide(trained):
    _, results = trained
    X, y = worker.data()
    model = worker.mlp(seed=100)
    worker.train_one_process(model, worker.OPTIMIZERS["sgd"](model.parameters()), mg.MSELoss(),
                             X[:45], y[:45], global_batch=2 * worker.PER_PROCESS,
                             epochs=worker.EPOCHS)
    (rank0, _), (rank1, _) = results
    assert_close(section(rank0, "fit-sgd-padded"), model.state_dict(), 1e-12)
    assert_close(section(rank1, "fit-sgd-padded"), section(rank0, "fit-sgd-padded"), 0.0)


def test_fit_on_a_group_without_global_rank_0(trained):
    _, results = trained
    X, y = worker.data()
    model = worker.mlp(seed=100)
    mg.fit(model, mg.MSELoss(), worker.OPTIMIZERS["adam"](model.parameters()), X, y,
           epochs=worker.EPOCHS, batch_size=worker.PER_PROCESS, rng=worker.SEED, progress=False)
    (_, _), (rank1, _) = results
    assert_close(section(rank1, "fit-subgroup"), model.state_dict(), 0.0)


def test_only_rank_0_prints_progress_and_writes_checkpoints(trained):
    launch, _ = trained
    for run in ("fit-sgd", "fit-adam-sum", "fit-sgd-padded"):
        assert (launch.folder / f"{run}-0.npz").exists()
        assert not (launch.folder / f"{run}-1.npz").exists()
    assert launch.output(0).count("Epoch 1/2") == 3
    assert "Epoch" not in launch.output(1)


def test_ddp_hand_off_equals_one_process_minigrad_training(trained):
    _, results = trained
    X, y = worker.data()
    model = worker.mlp(seed=100)  # DistributedDataParallel spreads rank 0's weights
    worker.train_one_process(model, worker.OPTIMIZERS["sgd"](model.parameters()), mg.MSELoss(),
                             X, y, global_batch=2 * worker.PER_PROCESS, epochs=worker.EPOCHS)
    (rank0, _), (rank1, _) = results
    assert_close(section(rank0, "ddp"), model.state_dict(), 1e-10)
    assert_close(section(rank1, "ddp"), section(rank0, "ddp"), 0.0)


def _gradients(rows: slice | None) -> dict[str, np.ndarray]:
    X, y = worker.data()
    model = worker.mlp(seed=100)
    model.zero_grad()
    if rows is not None:
        loss_fn = mg.MSELoss()
        loss_fn(model(X[rows]), y[rows])
        model.backward_params(loss_fn.backward())
    return {name: param.grad.copy() for name, param in model.named_parameters()}


def test_a_gradient_that_reads_as_zeros_counts_as_zeros(trained):
    _, results = trained
    half = {key: value / 2 for key, value in _gradients(slice(0, 4)).items()}
    for out, _ in results:
        assert_close(section(out, "half"), half, 0.0)


@pytest.mark.parametrize("variant", ["numpy-0.0001", "torch-25.0", "torch-0.0001",
                                     "array_api_strict-25.0"])
def test_gradients_average_alike_in_any_bucket_size_and_library(trained, variant):
    _, results = trained
    g0, g1 = _gradients(slice(0, 8)), _gradients(slice(8, 16))
    mean = {key: (g0[key] + g1[key]) / 2 for key in g0}
    for out, _ in results:
        assert_close(section(out, variant), mean, 1e-15)


def test_models_or_fit_calls_that_differ_are_refused_in_every_process(trained):
    _, results = trained
    (_, log0), (_, log1) = results
    for key in ("refused-shape", "refused-order", "refused-fit", "refused-drop-last",
                "refused-bucket"):
        assert log0[key] == log1[key]
    assert ("rank 0 has parameter '1.weight' of shape (5, 8), float64 on cpu, rank 1 has "
            "parameter '1.weight' of shape (5, 9)") in log0["refused-shape"]
    assert "rank 1 has parameter '0.weight'" in log0["refused-order"]
    assert "batch_size is 8 in rank 0 but 4 in rank 1" in log0["refused-fit"]
    assert log0["refused-bucket"] == ("average_gradients: the processes' bucket_mb differ (1 "
                                      "in rank 0, 2 in rank 1): pass the same everywhere")
    assert log0["refused-drop-last"] == ("fit (data_parallel): 1 samples leave none for each "
                                         "of 2 processes with drop_last=True")


# -- faults ------------------------------------------------------------------------------


def test_a_process_that_dies_makes_the_other_fail_at_once(tmp_path):
    launch = Launch("dies", tmp_path, group_timeout=30)
    try:
        assert launch.wait(1, 120) == 17  # it died, as planned
        assert launch.wait(0, 60) == 0, launch.output(0)
        _, log = launch.results(0)
    finally:
        launch.kill()
    assert log["error"].startswith("minigrad.distributed.CollectiveError: fit "
                                   "(data_parallel): the all-reduce of the gradients failed "
                                   "in rank 0 of 2: another process of the group died"), log
    assert log["seconds"] < 30  # a dead peer's closed connection: no wait for the timeout


def test_a_process_that_hangs_makes_the_other_fail_after_the_timeout(tmp_path):
    launch = Launch("hangs", tmp_path, group_timeout=60)
    try:
        assert launch.wait(0, 90) == 0, launch.output(0)
        _, log = launch.results(0)
        assert (tmp_path / "stuck").exists() and launch.procs[1].poll() is None  # still stuck
    finally:
        launch.kill()
    assert "CollectiveError: average_gradients: the all-reduce of the gradients failed" in (
        log["error"])
    assert "timeout" in log["error"].lower()
    assert 2 <= log["seconds"] < 20, log  # the short group's 2 s, not forever


# -- in this process: a group of one ------------------------------------------------------


@pytest.fixture
def group_of_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A gloo group of this process alone (met at a file; gloo on the loopback)."""
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", LOOPBACK)
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}",
                                         rank=0, world_size=1)
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()


def test_data_parallel_fit_of_one_process_is_fit(group_of_one):
    X, y = worker.classes()
    runs = []
    for data_parallel in (None, mgd.DataParallel()):
        model = worker.mlp(seed=3)
        history = mg.fit(model, mg.CrossEntropyLoss(), mg.Adam(model.parameters(), lr=0.01),
                         X, y, epochs=3, batch_size=5, rng=4, metrics=[mg.accuracy],
                         validation_data=(X[:7], y[:7]), progress=False,
                         data_parallel=data_parallel)
        runs.append((model.state_dict(), history.history))
    (weights, history), (parallel_weights, parallel_history) = runs
    assert_close(parallel_weights, weights, 0.0)
    assert parallel_history.keys() == history.keys()
    for key, values in history.items():
        np.testing.assert_allclose(parallel_history[key], values, rtol=1e-15, err_msg=key)


def test_batches_of_one_process_are_mg_batches(group_of_one):
    X, y = worker.data(10)
    ours = list(mgd.batches(X, y, 4, rng=np.random.default_rng(5)))
    theirs = list(mg.batches(X, y, 4, rng=np.random.default_rng(5)))
    assert len(ours) == len(theirs) == 3
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    tensors = list(mgd.batches(torch.from_numpy(X), torch.from_numpy(y), 4, shuffle=False))
    assert [tuple(xb.shape) for xb, _ in tensors] == [(4, 4), (4, 4), (2, 4)]
    assert isinstance(tensors[0][0], torch.Tensor)
    assert torch.equal(tensors[2][1], torch.from_numpy(y[8:]))


def test_one_process_averages_to_its_own_gradients_and_keeps_its_arrays(group_of_one):
    model = worker.mlp(seed=0)
    X, y = worker.data(8)
    loss_fn = mg.MSELoss()
    loss_fn(model(X), y)
    model.backward_params(loss_fn.backward())
    before = {name: (param.data, param.grad.copy()) for name, param in model.named_parameters()}
    mgd.broadcast_parameters(model)
    mgd.average_gradients(model.parameters(), bucket_mb=1e-4)
    for name, param in model.named_parameters():
        assert param.data is before[name][0]  # in place: references stay valid
        assert np.array_equal(param.grad, before[name][1])


def test_bad_arguments_are_refused(group_of_one):
    model = worker.mlp(seed=0)
    with pytest.raises(ValueError, match="bucket_mb must be a number > 0"):
        mgd.average_gradients(model, bucket_mb=0)
    with pytest.raises(TypeError, match="expected a minigrad Module or Parameters, got int"):
        mgd.average_gradients([1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="expected a minigrad Module, got list"):
        mgd.broadcast_parameters(model.parameters())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="src=3 is not a rank of the group"):
        mgd.broadcast_parameters(model, src=3)


def test_buckets_follow_dtype_device_and_size():
    tensors = [torch.zeros(3), torch.zeros(2), torch.zeros(4, dtype=torch.float64),
               torch.zeros(100), torch.zeros(1)]
    assert mgd._buckets.plan(tensors, cap=4 * 5) == [[0, 1], [2], [3], [4]]
    assert mgd._buckets.plan(tensors, cap=1 << 20) == [[0, 1], [2], [3, 4]]
    assert mgd._buckets.plan([], cap=8) == []
    # A large tensor is a bucket by itself (reduced in place); small ones gather up to cap.
    assert mgd._buckets.plan(tensors, cap=1 << 20, alone=400) == [[0, 1], [2], [3], [4]]
    assert mgd._buckets.plan(tensors[3:] + tensors[:2], cap=1 << 20, alone=400) == [
        [0], [1, 2, 3]]
    big = [torch.zeros(300, 1024) for _ in range(2)]  # 1.2 MB each
    smalls = [torch.zeros(10) for _ in range(3)]
    assert mgd._buckets.plan([*smalls, *big, *smalls], cap=25 << 20) == [
        [0, 1, 2], [3], [4], [5, 6, 7]]
    # One call's buckets of equal shape get buffers of their own (all in flight at once).
    flattener = mgd._buckets.Flattener()
    pair = [torch.ones(2), torch.ones(2)]
    assert flattener.pack(pair, 0) is not flattener.pack(pair, 1)
    alone = torch.ones(2, 2)
    assert flattener.pack([alone], 2).data_ptr() == alone.data_ptr()  # no copy


# -- without a process group -------------------------------------------------------------


def test_without_a_process_group_the_error_says_how_to_start_one():
    assert not torch.distributed.is_initialized()
    model = worker.mlp(seed=0)
    start = r"no torch.distributed process group is initialized; .*init_process_group\('gloo'\)"
    with pytest.raises(RuntimeError, match="average_gradients: " + start + ".*torchrun"):
        mgd.average_gradients(model)
    with pytest.raises(RuntimeError, match="broadcast_parameters: " + start):
        mgd.broadcast_parameters(model)
    X, y = worker.data()
    with pytest.raises(RuntimeError, match=r"fit \(data_parallel\): " + start):
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
               progress=False, data_parallel=mgd.DataParallel())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_benchmark_runs(tmp_path):
    """benchmarks/distributed_bench.py (timed by hand, benchmarks/README.md) only has to
    run here: a few small steps, one repeat."""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "cwd").mkdir()
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "distributed_bench.py"), "--steps", "2",
         "--warmup", "1", "--repeats", "1", "--batch", "16"],
        cwd=tmp_path / "cwd", env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "repeat 1: 1 process " in run.stdout and "ratio " in run.stdout, run.stdout
    assert os.listdir(tmp_path / "cwd") == [] and os.listdir(tmp_path / "tmp") == []


def test_importing_the_example_trains_prints_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    import distributed as example  # examples/ is on the path (tests/conftest.py)

    assert capsys.readouterr() == ("", "")
    assert os.listdir(tmp_path) == []
    assert callable(example.main)


def test_the_example_runs_under_torchrun(tmp_path):
    """``torchrun --nproc_per_node=2 examples/distributed.py``, as the README says; in a
    network namespace of its own where possible (torchrun's store listens on every
    interface), with a temporary folder of its own (torchrun leaves its logs there)."""
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    command = [torchrun or "torchrun", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={_free_port()}", str(ROOT / "examples" / "distributed.py"),
               "--epochs", "3", "--checkpoint", str(tmp_path / "best.npz")]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        command = [unshare, "-rn", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh",
                   *command]
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "GLOO_SOCKET_IFNAME": LOOPBACK, "TMPDIR": str(tmp_path / "tmp"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    assert time.monotonic() - start < 180
    lines = run.stdout.splitlines()
    assert any(line.startswith("2 processes") for line in lines), run.stdout
    assert lines[-1].startswith("test accuracy "), run.stdout
    assert (tmp_path / "best.npz").exists()
