"""Persistence: `state_dict`/`load_state_dict`, and `mg.save`/`mg.load` on disk.

Nothing a user saved is ever lost: failed saves leave the previous file as it was, and
failed loads leave the model as it was.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import minigrad as mg


def make_model(seed=0, dtype=np.float64):
    inner = mg.Sequential(mg.Dense(3, 2, rng=seed + 1, dtype=dtype), mg.Sigmoid())
    return mg.Sequential(mg.Bias(), mg.Dense(3, 3, rng=seed, dtype=dtype), inner)


def weights(model):
    return {name: p.data.copy() for name, p in model.named_parameters()}


def assert_weights_equal(model, expected):
    got = weights(model)
    assert got.keys() == expected.keys()
    for key in got:
        np.testing.assert_array_equal(got[key], expected[key])
        assert got[key].dtype == expected[key].dtype


# -- state_dict / load_state_dict ---------------------------------------------------------


def test_state_dict_is_a_copy_under_dotted_paths():
    model = make_model()
    state = model.state_dict()
    assert list(state) == ["1.weight", "2.0.weight"]
    np.testing.assert_array_equal(state["2.0.weight"], model[2][0].weight.data)
    state["1.weight"][...] = 7.0
    assert not np.any(model[1].weight.data == 7.0)


def test_load_state_dict_round_trip_copies_the_values():
    source, target = make_model(0), make_model(10)
    state = source.state_dict()
    target.load_state_dict(state)
    assert_weights_equal(target, weights(source))
    state["1.weight"][...] = 7.0  # the model holds its own copy
    assert not np.any(target[1].weight.data == 7.0)
    assert target[1].weight.data is not state["1.weight"]


def test_a_shared_parameter_is_saved_once_and_loaded_everywhere():
    shared = mg.Dense(2, 2, rng=0)
    model = mg.Sequential(shared, mg.Sigmoid(), shared)
    assert list(model.state_dict()) == ["0.weight"]
    model.load_state_dict({"0.weight": np.eye(2)})
    assert model[2].weight.data is model[0].weight.data
    np.testing.assert_array_equal(model[2].weight.data, np.eye(2))


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda s: s.pop("2.0.weight"), KeyError, r"missing keys \['2.0.weight'\]"),
        (lambda s: s.update(extra=np.zeros(1)), KeyError, r"unexpected keys \['extra'\]"),
        (lambda s: s.update({"2.0.weight": np.zeros((2, 3))}), ValueError,
         r"'2.0.weight' has shape \(2, 3\), the parameter has shape \(3, 2\)"),
        (lambda s: s.update({"2.0.weight": s["2.0.weight"].astype(np.float32)}), ValueError,
         r"'2.0.weight' has dtype float32, the parameter has dtype float64"),
    ],
)
def test_load_state_dict_refuses_a_mismatch_and_changes_nothing(edit, error, match):
    model = make_model(10)
    before = weights(model)
    state = make_model(0).state_dict()  # "1.weight" is valid and checked first
    edit(state)
    with pytest.raises(error, match=match):
        model.load_state_dict(state)
    assert_weights_equal(model, before)


def test_non_strict_loading_takes_what_matches():
    model = make_model(10)
    state = make_model(0).state_dict()
    state.pop("2.0.weight")
    model.load_state_dict({**state, "extra": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(model[1].weight.data, state["1.weight"])
    np.testing.assert_array_equal(model[2][0].weight.data, make_model(10)[2][0].weight.data)


# -- save / load ------------------------------------------------------------------------


def assert_load_refused(path, error, match):
    """`mg.load` raises ``error`` and leaves the model exactly as it was."""
    model = make_model(10)
    before = weights(model)
    with pytest.raises(error, match=match):
        mg.load(model, path)
    assert_weights_equal(model, before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_round_trip_is_exact(tmp_path, dtype):
    source, target = make_model(0, dtype), make_model(10, dtype)
    path = tmp_path / "model.npz"
    mg.save(source, path)
    mg.load(target, str(path))
    assert_weights_equal(target, weights(source))
    assert os.listdir(tmp_path) == ["model.npz"]  # no temp file left behind


def test_the_file_is_a_plain_npz_with_a_format_version(tmp_path):
    model = make_model()
    path = tmp_path / "weights"  # used as given: no ".npz" appended
    mg.save(model, path)
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["1.weight", "2.0.weight", "__minigrad_format__"]
        assert archive["__minigrad_format__"] == 1
        np.testing.assert_array_equal(archive["1.weight"], model[1].weight.data)


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "model.npz"
    mg.save(make_model(0), path)
    newer = make_model(5)
    mg.save(newer, path)
    target = make_model(10)
    mg.load(target, path)
    assert_weights_equal(target, weights(newer))
    assert os.listdir(tmp_path) == ["model.npz"]


def fail(*args, **kwargs):
    raise OSError("disk full (simulated)")


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_a_failed_save_keeps_the_old_file_and_removes_the_temp_file(tmp_path, monkeypatch, where):
    path = tmp_path / "model.npz"
    mg.save(make_model(0), path)
    old_bytes = path.read_bytes()
    if where == "write":  # fail after some bytes of the new archive reached the temp file
        real = np.lib.format.write_array

        def half_written(entry, array, **kwargs):
            real(entry, array, **kwargs)
            fail()

        monkeypatch.setattr(np.lib.format, "write_array", half_written)
    else:
        monkeypatch.setattr(os, where, fail)
    with pytest.raises(OSError, match="disk full"):
        mg.save(make_model(5), path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_crash_mid_save_leaves_the_old_file_intact(tmp_path):
    """A real process death between writing the temp file and renaming it."""
    path = tmp_path / "model.npz"
    mg.save(make_model(0), path)
    old_bytes = path.read_bytes()
    script = (
        "import os, minigrad as mg\n"
        "os.replace = lambda *a: os._exit(3)\n"  # die just before the rename
        "model = mg.Sequential(mg.Bias(), mg.Dense(3, 3, rng=5))\n"
        f"mg.save(model, {str(path)!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False)
    assert result.returncode == 3
    assert path.read_bytes() == old_bytes
    target = make_model(10)
    mg.load(target, path)
    assert_weights_equal(target, weights(make_model(0)))


# A child process saving ``{"w": np.full(size, v)}`` to a path for v = first, first + 1, ...
# (``count`` saves, or until killed), printing "saved" after the first one completes.
SAVER = """
import sys, numpy as np, minigrad as mg
path, size, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
class Versioned:
    def state_dict(self):
        return {"w": self.w}
saver = Versioned()
for v in range(first, first + count):
    saver.w = np.full(size, float(v))
    mg.save(saver, path)
    if v == first:
        print("saved", flush=True)
"""

TEMP_NAME = re.compile(r"\.model\.npz\.[0-9a-f]{8}\.tmp")  # what an interrupted save leaves


def start_saver(path, size, first, count):
    return subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(size), str(first),
                             str(count)], stdout=subprocess.PIPE, text=True)


def loaded_version(path, size):
    """The version stored at ``path``, after checking that the file is one complete save."""
    state = State({"w": np.empty(size)})  # what it takes: a load reads no more than that
    mg.load(state, path)
    w = state.state["w"]
    assert w.shape == (size,) and w.dtype == np.float64
    assert np.all(w == w[0]), "a mixture of two saves"
    return int(w[0])


def test_sigkill_mid_save_leaves_the_old_file_intact_and_loadable(tmp_path):
    """Real process deaths at random moments of a loop of 8 MB saves over one file."""
    path, size = tmp_path / "model.npz", 1_000_000
    mg.save(State({"w": np.zeros(size)}), path)
    rng = np.random.default_rng(0)
    interrupted = 0
    for kill in range(1, 7):
        child = start_saver(path, size, first=1000 * kill, count=10**6)
        assert child.stdout is not None and child.stdout.readline() == "saved\n"
        time.sleep(rng.uniform(0, 0.03))  # land somewhere in a later save
        child.send_signal(signal.SIGKILL)
        child.communicate()
        assert child.returncode == -signal.SIGKILL
        version = loaded_version(path, size)
        assert 1000 * kill <= version < 1000 * (kill + 1)  # the latest saves replaced it
        leftovers = [name for name in os.listdir(tmp_path) if name != "model.npz"]
        assert all(TEMP_NAME.fullmatch(name) for name in leftovers), leftovers
        interrupted += len(leftovers)
        for name in leftovers:
            os.remove(tmp_path / name)
    # The kills did land while a new file was half-written (a save is mostly writing).
    assert interrupted >= 1


def test_two_processes_saving_to_one_path_never_leave_a_corrupt_file(tmp_path):
    path, size, count = tmp_path / "model.npz", 200_000, 60
    mg.save(State({"w": np.zeros(size)}), path)
    children = [start_saver(path, size, first=first, count=count) for first in (100, 200)]
    loads = 0
    while any(child.poll() is None for child in children):  # read while they write
        assert loaded_version(path, size) in {0, *range(100, 100 + count),
                                              *range(200, 200 + count)}
        loads += 1
    for child in children:
        child.communicate()
        assert child.returncode == 0
    assert loaded_version(path, size) in {100 + count - 1, 200 + count - 1}
    assert os.listdir(tmp_path) == ["model.npz"]
    assert loads >= 1


class State:
    """A minimal stateful object: what save and load accept besides models."""

    def __init__(self, state):
        self.state = state

    def state_dict(self):
        return dict(self.state)

    def load_state_dict(self, state):
        self.state = dict(state)


def test_objects_and_reserved_keys_are_not_saved(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(ValueError, match=r"save: state key 'w' is an object array"):
        mg.save(State({"b": np.zeros(2), "w": np.array([{"a": 1}], dtype=object)}), path)
    with pytest.raises(ValueError, match="reserved"):
        mg.save(State({"__minigrad_format__": np.array(1)}), path)
    assert os.listdir(tmp_path) == []


def test_load_names_the_file_when_keys_do_not_match(tmp_path):
    path = tmp_path / "model.npz"
    mg.save(mg.Sequential(mg.Dense(3, 3, rng=0)), path)
    assert_load_refused(path, KeyError, r"model.npz.*missing keys \['1.weight', '2.0.weight'\]")


def test_load_names_the_file_on_a_shape_mismatch(tmp_path):
    path = tmp_path / "model.npz"
    mg.save(mg.Sequential(mg.Bias(), mg.Dense(3, 4, rng=0), mg.Sequential(mg.Dense(4, 2))), path)
    assert_load_refused(path, ValueError, r"model.npz.*'1.weight' has shape \(3, 4\)")


@pytest.mark.parametrize("keep", [0, 1, 10, 100, 0.5, -1])
def test_a_truncated_file_is_refused_and_the_model_unchanged(tmp_path, keep):
    path = tmp_path / "model.npz"
    mg.save(make_model(0), path)
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:cut])
    assert_load_refused(path, ValueError, r"model.npz' is not a readable minigrad .npz file")


def test_a_corrupted_entry_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    mg.save(make_model(0), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside an array's bytes: the CRC check catches it
    path.write_bytes(bytes(data))
    assert_load_refused(path, ValueError, r"not a readable minigrad \.npz file")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"just some text, not numpy", "not a readable minigrad .npz file"),
        ("npy", "it is not an .npz \\(zip\\) archive"),
        ("plain", r"not written by mg.save \(no '__minigrad_format__' entry\)"),
        ("newer", "format version 2, written by a newer minigrad"),
        (-3, r"format version -3, which no minigrad writes \(damaged\?\); this one reads "
             "version 1"),
        (0, "format version 0, which no minigrad writes"),
    ],
)
def test_files_that_are_not_minigrad_files_are_refused(tmp_path, content, match):
    path = tmp_path / "model.npz"
    if content == "npy":
        with open(path, "wb") as file:
            np.save(file, np.zeros(3))
    elif content == "plain":
        np.savez(path, **make_model(0).state_dict())
    elif content == "newer":
        np.savez(path, __minigrad_format__=np.array(2), **make_model(0).state_dict())
    elif isinstance(content, int):
        np.savez(path, __minigrad_format__=np.array(content), **make_model(0).state_dict())
    else:
        path.write_bytes(content)
    assert_load_refused(path, ValueError, match)


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npz"):
        mg.load(make_model(), tmp_path / "nope.npz")


class Payload:
    """Unpickling this runs ``os.mkdir(sentinel)``: the side effect that must never happen."""

    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return os.mkdir, (self.sentinel,)


def write_pickle_bomb(path, sentinel):
    """A minigrad-looking .npz whose weight entry is a pickled object array."""
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("__minigrad_format__.npy", "w") as entry:
            np.save(entry, np.array(1))
        with archive.open("1.weight.npy", "w") as entry:
            np.save(entry, np.array([Payload(str(sentinel))], dtype=object), allow_pickle=True)
        with archive.open("2.0.weight.npy", "w") as entry:
            np.save(entry, np.zeros((3, 2)))


def test_a_file_carrying_pickled_objects_is_refused_and_never_executed(tmp_path):
    path, sentinel = tmp_path / "evil.npz", tmp_path / "sentinel"
    write_pickle_bomb(path, sentinel)
    model = make_model(10)
    before = weights(model)
    with pytest.raises(ValueError, match=r"'1\.weight': it holds pickled Python objects"):
        mg.load(model, path)
    assert not sentinel.exists()
    assert_weights_equal(model, before)
    # The bomb is real: loading it the unsafe way runs the payload.
    with np.load(path, allow_pickle=True) as archive:
        archive["1.weight"]
    assert sentinel.is_dir()


def test_a_whole_file_pickle_is_refused_and_never_executed(tmp_path):
    import pickle

    path, sentinel = tmp_path / "evil.npz", tmp_path / "sentinel"
    path.write_bytes(pickle.dumps(Payload(str(sentinel))))
    with pytest.raises(ValueError, match=r"not a readable minigrad \.npz file"):
        mg.load(make_model(), path)
    assert not sentinel.exists()


# -- optimizer state ------------------------------------------------------------------


OPTIMIZERS = {
    "adam": lambda params: mg.Adam(params, lr=0.01),
    "sgd-nesterov": lambda params: mg.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
}


def fit_some(model, optimizer, seed):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 2)), rng.random(size=(10, 2))
    mg.fit(model, mg.MSELoss(), optimizer, X, y, epochs=3, batch_size=4, rng=seed,
           progress=False)


@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_training_resumes_bit_identically_from_saved_model_and_optimizer(tmp_path, kind):
    make_optimizer = OPTIMIZERS[kind]
    model = make_model(0)
    optimizer = make_optimizer(model.parameters())
    fit_some(model, optimizer, seed=1)
    mg.save(model, tmp_path / "model.npz")
    mg.save(optimizer, tmp_path / "optimizer.npz")
    fit_some(model, optimizer, seed=2)  # the uninterrupted run goes on

    resumed = make_model(10)
    resumed_optimizer = make_optimizer(resumed.parameters())
    mg.load(resumed, tmp_path / "model.npz")
    mg.load(resumed_optimizer, tmp_path / "optimizer.npz")
    fit_some(resumed, resumed_optimizer, seed=2)
    assert_weights_equal(resumed, weights(model))
    assert resumed_optimizer.state_dict().keys() == optimizer.state_dict().keys()
    for key, value in resumed_optimizer.state_dict().items():
        np.testing.assert_array_equal(value, optimizer.state_dict()[key])

    # Without the optimizer's state (moments, step count) the run is not the same.
    restarted = make_model(10)
    mg.load(restarted, tmp_path / "model.npz")
    fit_some(restarted, make_optimizer(restarted.parameters()), seed=2)
    assert not np.array_equal(restarted[1].weight.data, model[1].weight.data)


def test_an_optimizer_file_does_not_load_into_the_wrong_object(tmp_path):
    model = make_model(0)
    adam = mg.Adam(model.parameters(), lr=0.01)
    fit_some(model, adam, seed=1)
    mg.save(adam, tmp_path / "adam.npz")
    mg.save(model, tmp_path / "model.npz")

    before = weights(model)
    with pytest.raises(KeyError, match=r"adam\.npz.*unexpected keys"):
        mg.load(model, tmp_path / "adam.npz")
    assert_weights_equal(model, before)

    sgd = mg.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sgd_state = sgd.state_dict()
    with pytest.raises((KeyError, ValueError), match=r"adam\.npz.*SGD\.load_state_dict"):
        mg.load(sgd, tmp_path / "adam.npz")
    with pytest.raises(KeyError, match=r"model\.npz.*missing keys"):
        mg.load(sgd, tmp_path / "model.npz")
    for key, value in sgd.state_dict().items():
        np.testing.assert_array_equal(value, sgd_state[key])


def test_loading_a_text_file_never_suggests_unpickling(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list")
    with pytest.raises(ValueError, match=r"not an \.npz \(zip\) archive") as info:
        mg.load(make_model(), path)
    assert "pickle" not in str(info.value)


def test_save_refuses_to_overwrite_a_file_that_is_not_an_npz(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("precious")
    with pytest.raises(FileExistsError, match=r"exists and was not written by mg\.save"):
        mg.save(make_model(), path)
    assert path.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def assert_file_holds(path, seed):
    """``path`` loads into a model with exactly ``make_model(seed)``'s weights."""
    loaded = make_model(seed + 1)
    mg.load(loaded, path)
    assert_weights_equal(loaded, weights(make_model(seed)))


def write_zip(path, member, text):
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, text)


def test_save_through_a_symlink_updates_the_real_file(tmp_path):
    real, link = tmp_path / "real.npz", tmp_path / "link.npz"
    mg.save(make_model(0), real)
    link.symlink_to(real)
    mg.save(make_model(10), link)
    assert link.is_symlink()
    assert_file_holds(real, 10)


def test_save_refuses_any_zip_it_did_not_write_but_takes_an_empty_file(tmp_path):
    document = tmp_path / "report.docx"
    write_zip(document, "word/document.xml", "<precious/>")
    before = document.read_bytes()
    with pytest.raises(FileExistsError, match=r"was not written by mg\.save"):
        mg.save(make_model(), document)
    assert document.read_bytes() == before
    empty = tmp_path / "new.npz"
    empty.touch()  # e.g. made by tempfile.mkstemp
    mg.save(make_model(0), empty)
    assert_file_holds(empty, 0)


def test_load_refuses_a_zip_whose_entries_are_not_arrays(tmp_path):
    path = tmp_path / "model.npz"
    write_zip(path, "notes.txt", "hello")
    assert_load_refused(path, ValueError, "entry 'notes.txt' is not a NumPy array")


def test_save_into_a_missing_folder_names_the_target_not_the_temp_file(tmp_path):
    target = tmp_path / "missing" / "model.npz"
    with pytest.raises(FileNotFoundError) as caught:
        mg.save(make_model(), target)
    message = str(caught.value)
    assert f"save: cannot write {str(target)!r}: the folder " in message
    assert "does not exist" in message and ".tmp" not in message
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_load_refuses_non_finite_weights_naming_the_entry(tmp_path, bad):
    path = tmp_path / "model.npz"
    diverged = make_model(0)
    diverged[2][0].weight.data[0, 1] = bad  # what a diverged run leaves
    mg.save(diverged, path)  # saving it is allowed (to inspect it); training from it is not
    assert_load_refused(path, ValueError, r"model.npz': entry '2\.0\.weight' holds non-finite "
                                          r"values \(NaN or ±inf\)")
