"""Nothing bad gets in, nothing is half-done -- on disk: checkpoints load all or nothing,
an ``.npz`` is judged by its headers before anything is inflated, saves keep the file's
mode and clean their own leftovers, and one overwrite rule serves `mg.save` and `to_onnx`.
"""

from __future__ import annotations

import io
import json
import os
import stat
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import minigrad as mg

FORMAT = "__minigrad_format__"


# -- load_checkpoint: every part checked before any is written ---------------------------


def parts(seed):
    """A model with a Dropout generator, a stepped Adam and its scheduler, and fit's rng."""
    model = mg.Sequential(mg.Dense(3, 4, rng=seed), mg.Dropout(0.5, rng=seed),
                          mg.Dense(4, 1, rng=seed + 1))
    opt = mg.Adam(model.parameters(), lr=0.01)
    scheduler = mg.lr_scheduler.StepLR(opt, step_size=2)
    X = np.random.default_rng(seed).normal(size=(8, 3))
    mg.fit(model, mg.MSELoss(), opt, X, X[:, :1], epochs=1, batch_size=4, rng=seed,
           progress=False)
    scheduler.step()
    return model, opt, scheduler, np.random.default_rng(seed)


def snapshot(model, opt, scheduler, rng):
    return (model.state_dict(), opt.state_dict(), scheduler.state_dict(),
            json.dumps(rng.bit_generator.state), json.dumps(model[1].rng.bit_generator.state))


def assert_same(before, after):
    for old, new in zip(before, after):
        if isinstance(old, str):
            assert old == new
            continue
        assert old.keys() == new.keys()
        for key in old:
            np.testing.assert_array_equal(old[key], new[key], err_msg=key)


def rewrite(path, **entries):
    """The .npz at ``path`` with ``entries`` replaced (written as np.savez would)."""
    with np.load(path) as archive:
        state = {key: archive[key] for key in archive}
    state.update(entries)
    np.savez(path, **state)


MT_STATE = json.dumps(np.random.Generator(np.random.MT19937(0)).bit_generator.state,
                      default=lambda array: array.tolist())  # its key is an array


@pytest.mark.parametrize("key", ["rng", "module_rng.1.rng"])
@pytest.mark.parametrize(("bad", "match"), [
    (np.array(MT_STATE), "PCG64"),
    (np.array("5"), "state must be a dict"),
    (np.array('{"state": "x"}'), "PCG64"),
    (np.array("{not json"), "not valid JSON"),
    (np.array(5), "dtype int64"),
])
def test_a_bad_generator_state_changes_nothing(tmp_path, key, bad, match):
    path = tmp_path / "ckpt.npz"
    model, opt, scheduler, rng = parts(0)
    mg.save_checkpoint(path, model=model, optimizer=opt, scheduler=scheduler, rng=rng)
    rewrite(path, **{key: bad})
    fresh = parts(1)
    before = snapshot(*fresh)
    with pytest.raises((ValueError, TypeError)) as caught:
        mg.load_checkpoint(path, model=fresh[0], optimizer=fresh[1], scheduler=fresh[2],
                           rng=fresh[3])
    message = str(caught.value)
    assert "ckpt.npz" in message and repr(key) in message and match in message, message
    assert_same(before, snapshot(*fresh))


def test_a_part_refused_after_another_accepted_changes_nothing(tmp_path):
    """The optimizer's state is refused (a negative second moment) after the model's was
    accepted: the model is not rolled back, it was never written."""
    path = tmp_path / "ckpt.npz"
    model, opt, scheduler, rng = parts(0)
    mg.save_checkpoint(path, model=model, optimizer=opt, scheduler=scheduler, rng=rng)
    rewrite(path, **{"optimizer.state.0.exp_avg_sq": -np.ones((3, 4))})
    fresh = parts(1)
    fresh[0][0].weight.data[0, 0] = np.nan  # a diverged model: a rollback could not reload it
    before = snapshot(*fresh)
    with pytest.raises(ValueError, match=r"ckpt\.npz.*'optimizer'.*negative"):
        mg.load_checkpoint(path, model=fresh[0], optimizer=fresh[1], scheduler=fresh[2],
                           rng=fresh[3])
    assert_same(before, snapshot(*fresh))


def test_a_sequential_schedule_loads_all_or_nothing():
    def build():
        opt = mg.SGD([mg.Parameter(np.zeros(2))], lr=1.0)
        first = mg.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        second = mg.lr_scheduler.StepLR(opt, step_size=1)
        return mg.lr_scheduler.SequentialLR(opt, [first, second], milestones=[2])

    saved, target = build(), build()
    for _ in range(3):
        saved.step()
    state = saved.state_dict()
    state["schedulers.1.last_epoch"] = np.array(1.5)  # the last part is refused
    before = target.state_dict()
    with pytest.raises(ValueError, match="last_epoch"):
        target.load_state_dict(state)
    after = target.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)


# -- .npz archives judged by their headers before anything is inflated -----------------


def npy(array=None, *, shape=None, dtype="<f8", body=None):
    """The bytes of a .npy: ``array``'s, or a crafted header declaring ``shape`` and
    ``dtype`` followed by ``body`` (which need not be what the header promises)."""
    buffer = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buffer, np.asarray(array))
        return buffer.getvalue()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + (b"" if body is None else body)


def write_npz(path, entries, compression=zipfile.ZIP_STORED):
    """A zip of ``(member name, bytes)`` pairs, the format entry first."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr(FORMAT + ".npy", npy(np.array(1)))
        for name, data in entries:
            archive.writestr(name, data)


def small_model():
    return mg.Sequential(mg.Dense(3, 2, rng=0))


def refused_quickly(model, path, error, *fragments):
    """Load ``path`` into ``model``: refused with ``error`` naming every fragment, without
    allocating more than 1 MB, and with the model unchanged."""
    before = model.state_dict()
    tracemalloc.start()
    try:
        with pytest.raises(error) as caught:
            mg.load(model, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"load allocated {peak} bytes before refusing"
    message = str(caught.value)
    for fragment in (str(path), *fragments):
        assert fragment in message, message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    return message


def test_a_header_declaring_a_huge_array_over_a_tiny_body_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    write_npz(path, [("0.weight.npy", npy(shape=(10**12,), body=b"\0" * 16))])
    refused_quickly(small_model(), path, ValueError, "'0.weight'", "(1000000000000,)")


@pytest.mark.parametrize("extra", [-8, 100])
def test_an_entry_whose_size_is_not_what_its_header_says_is_refused(tmp_path, extra):
    path = tmp_path / "model.npz"
    body = np.zeros((3, 2)).tobytes()
    body = body[:extra] if extra < 0 else body + b"\0" * extra
    write_npz(path, [("0.weight.npy", npy(shape=(3, 2), body=body))])
    refused_quickly(small_model(), path, ValueError, "'0.weight'", "bytes")


def test_a_zip_bomb_is_refused_from_its_header_before_it_is_inflated(tmp_path):
    """32 MiB of zeros deflates to 32 KiB; the model takes a (3, 2) weight: the header
    says so before a byte of the data is inflated."""
    path = tmp_path / "bomb.npz"
    write_npz(path, [("0.weight.npy", npy(np.zeros(2**22)))], zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**20
    refused_quickly(small_model(), path, ValueError, "'0.weight'", "(4194304,)", "(3, 2)")


def test_a_large_entry_the_model_does_not_have_is_refused_unread(tmp_path):
    path = tmp_path / "bomb.npz"
    write_npz(path, [("0.weight.npy", npy(np.zeros((3, 2)))),
                     ("junk.npy", npy(np.zeros(2**22)))], zipfile.ZIP_DEFLATED)
    refused_quickly(small_model(), path, KeyError, "'junk'")


def test_a_wrong_dtype_is_refused_from_the_header(tmp_path):
    path = tmp_path / "model.npz"
    write_npz(path, [("0.weight.npy", npy(np.zeros((3, 2), np.float32)))])
    refused_quickly(small_model(), path, ValueError, "'0.weight'", "float32", "float64")


@pytest.mark.parametrize("names", [("0.weight.npy", "0.weight.npy"), ("0.weight.npy", "0.weight")])
def test_two_entries_of_one_name_are_refused_not_last_one_wins(tmp_path, names):
    path = tmp_path / "model.npz"
    with warnings.catch_warnings():  # zipfile warns of a duplicate name, and writes it
        warnings.simplefilter("ignore", UserWarning)
        write_npz(path, [(names[0], npy(np.zeros((3, 2)))), (names[1], npy(np.ones((3, 2))))])
    refused_quickly(small_model(), path, ValueError, "two entries", "'0.weight'")


def test_an_honest_file_still_loads(tmp_path):
    path = tmp_path / "model.npz"
    model, other = small_model(), mg.Sequential(mg.Dense(3, 2, rng=5))
    mg.save(model, path)
    mg.load(other, path)
    np.testing.assert_array_equal(other[0].weight.data, model[0].weight.data)


# -- save: the file's mode, its own leftovers, one overwrite rule -----------------------


posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and locks")


@pytest.mark.platform_skip
@posix_only
def test_saving_over_a_private_file_keeps_it_private(tmp_path):
    path = tmp_path / "model.npz"
    mg.save(small_model(), path)
    os.chmod(path, 0o600)
    mg.save(small_model(), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.platform_skip
@posix_only
def test_a_save_removes_the_leftovers_of_its_own_killed_saves_only(tmp_path):
    import fcntl

    path = tmp_path / "model.npz"
    dead = tmp_path / ".model.npz.0123abcd.tmp"  # a killed save of this path
    dead.write_bytes(b"half a file")
    live = tmp_path / ".model.npz.fedcba98.tmp"  # a save running now (it holds its lock)
    live.write_bytes(b"being written")
    others = [tmp_path / ".other.npz.0123abcd.tmp", tmp_path / ".model.npz.notmine.tmp",
              tmp_path / "model.npz.0123abcd.tmp"]
    for other in others:
        other.write_bytes(b"not ours")
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        mg.save(small_model(), path)
    assert not dead.exists()
    assert live.exists() and all(other.exists() for other in others)


def test_to_onnx_refuses_to_overwrite_a_file_that_is_not_an_onnx_model(tmp_path):
    pytest.importorskip("onnx")
    path = tmp_path / "model.onnx"
    path.write_text("precious")
    model = small_model()
    with pytest.raises(FileExistsError, match=r"model\.onnx.*exists and was not written by "
                                              r"to_onnx"):
        mg.export.to_onnx(model, path, input_shape=(None, 3))
    assert path.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    path.unlink()
    mg.export.to_onnx(model, path, input_shape=(None, 3))
    mg.export.to_onnx(model, path, input_shape=(None, 3))  # its own file: replaced
    npz = tmp_path / "weights.npz"
    mg.save(model, npz)
    with pytest.raises(FileExistsError, match="was not written by to_onnx"):
        mg.export.to_onnx(model, npz, input_shape=(None, 3))
    with pytest.raises(FileExistsError, match=r"was not written by mg\.save"):
        mg.save(model, path)
