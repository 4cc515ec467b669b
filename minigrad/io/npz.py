"""Saving and loading state: `save` and `load`, for models and optimizers alike.

Anything with ``state_dict()`` (a flat ``dict[str, ndarray]``) and
``load_state_dict(state)`` can be saved: a model's parameters, an optimizer's moments
and step counts. A file is a plain ``.npz`` archive -- one ``.npy`` entry per key, plus
``"__minigrad_format__"`` -- readable by ``np.load`` without minigrad.

Nothing a user saved is ever lost: `save` writes a temporary file beside the target,
syncs it to disk and renames it over the target in one atomic step, so a crash leaves
either the old file or the new one, never a mixture. A process killed mid-save can
leave its temporary file behind, named ``.<name>.<8 hex digits>.tmp`` beside the
target (hidden, never the target's name): safe to delete. Concurrent saves to one path
each write their own temporary file; the last rename wins. `load` never unpickles: a
file carrying Python objects is refused, not executed.

>>> import numpy as np, minigrad as mg
>>> model = mg.Sequential(mg.Dense(2, 1, rng=0))
>>> mg.save(model, "model.npz")
>>> other = mg.Sequential(mg.Dense(2, 1, rng=1))
>>> mg.load(other, "model.npz")
>>> np.array_equal(other[0].weight.data, model[0].weight.data)
True
"""

from __future__ import annotations

import os
import secrets
import zipfile
import zlib
from collections.abc import Callable, Mapping
from typing import BinaryIO, Protocol

import numpy as np

from minigrad.core import Array

FORMAT_KEY = "__minigrad_format__"
FORMAT_VERSION = 1
"""The file format `save` writes, and the only one `load` reads (there is no older one)."""

StrPath = str | os.PathLike[str]


class Stateful(Protocol):
    """What `save` and `load` work on: models (`Module`) and optimizers.

    ``load_state_dict`` may return anything (a `Module` reports its missing and
    unexpected keys, an optimizer nothing); `load` ignores it.
    """

    def state_dict(self) -> Mapping[str, Array]: ...

    def load_state_dict(self, state: dict[str, Array], /) -> object: ...


def save(obj: Stateful, path: StrPath) -> None:
    """Write ``obj.state_dict()`` to ``path`` as an ``.npz`` archive, atomically.

    The archive goes to a temporary file in the same directory, which is flushed and
    fsynced, then renamed over ``path`` with `os.replace`; the directory is fsynced
    so the rename itself survives a power cut. On any error the temporary file is
    removed and a previous file at ``path`` is untouched. ``path`` is used as given
    (no ``.npz`` is appended). A symlink at ``path`` is followed: the file it points
    to is replaced.

    Raises
    ------
    ValueError
        A state key uses the reserved name ``"__minigrad_format__"``, or a value is an
        object array (it could only be stored pickled).
    FileExistsError
        ``path`` is an existing, non-empty file that `save` did not write (no
        ``"__minigrad_format__"`` entry): `save` never overwrites what it did not write.
    FileNotFoundError
        The folder of ``path`` does not exist (the message names ``path``).
    OSError
        The folder cannot be written (the message names ``path``).
    """
    state = obj.state_dict()
    if FORMAT_KEY in state:
        raise ValueError(f"save: the state key {FORMAT_KEY!r} is reserved by minigrad")
    for key, value in state.items():
        if np.asanyarray(value).dtype.hasobject:
            raise ValueError(
                f"save: state key {key!r} is an object array (dtype "
                f"{np.asanyarray(value).dtype}), which could only be stored pickled; "
                "store numbers"
            )
    arrays = {FORMAT_KEY: np.array(FORMAT_VERSION), **state}
    # Through a symlink to the file it names: replacing the link itself would leave
    # the real file silently stale.
    target = os.path.realpath(os.fspath(path))
    if os.path.isfile(target) and os.path.getsize(target) > 0 and not _is_minigrad_file(target):
        raise FileExistsError(
            f"save: {os.fspath(path)!r} exists and was not written by mg.save; refusing "
            "to overwrite it (delete it first if it is yours to lose)"
        )
    atomic_write(target, lambda file: _write_npz(file, arrays))


def atomic_write(target: str, write: Callable[[BinaryIO], None], owner: str = "save") -> None:
    """Create or replace the file ``target`` with what ``write`` writes, atomically.

    ``write`` gets a binary file: a temporary one beside ``target`` (O_EXCL, named
    ``.<name>.<8 hex digits>.tmp``), which is flushed and fsynced, then renamed over
    ``target`` with `os.replace`; the directory is fsynced so the rename survives a
    power cut. On any error -- ``write``'s included -- the temporary file is removed
    and ``target`` is untouched: a reader sees the old file or the new one, never a
    mixture. Shared by `save` and ``minigrad.export.to_onnx``; ``owner`` starts the
    message of an `OSError` from creating the temporary file, which names ``target``.
    """
    folder, name = os.path.split(target)
    temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never write through someone else's file; 0o666 & ~umask, like open().
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(temp, flags, 0o666)
    except OSError as exc:  # named after the target: the temporary name means nothing
        reason = (
            f"the folder {folder!r} does not exist" if isinstance(exc, FileNotFoundError)
            else exc.strerror
        )
        raise type(exc)(exc.errno, f"{owner}: cannot write {target!r}: {reason}") from None
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    _fsync_directory(folder)


def _is_minigrad_file(path: str) -> bool:
    """Whether ``path`` is an archive `save` wrote (a zip with the format entry)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return FORMAT_KEY + ".npy" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _write_npz(file: BinaryIO, arrays: Mapping[str, Array]) -> None:
    """What ``np.savez`` writes, but refusing object arrays (they would be pickled)."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, value in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(value), allow_pickle=False)


def _fsync_directory(folder: str) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows cannot open directories)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(obj: Stateful, path: StrPath) -> None:
    """Read a file written by `save` into ``obj`` with ``obj.load_state_dict``.

    The file is read with ``allow_pickle=False``: an entry holding pickled Python
    objects is refused, never unpickled. ``obj`` is changed only if the whole file
    reads and ``load_state_dict`` accepts it (which, for models, checks every key,
    shape and dtype before writing anything).

    Raises
    ------
    FileNotFoundError
        There is no file at ``path``.
    ValueError
        The file is not a readable ``.npz`` archive (truncated, corrupt, another
        format), holds pickled objects, lacks the format entry, has a format version
        other than `FORMAT_VERSION` (a newer minigrad's, or a damaged one), or holds
        NaN or ±inf in an entry (named); or (from ``load_state_dict``) shapes or dtypes
        do not match. The message names ``path``.
    KeyError
        Missing or unexpected keys (from ``load_state_dict``), with ``path`` named.
    TypeError
        A TypeError from ``load_state_dict``, re-raised with ``path`` named.
    """
    target = os.fspath(path)
    state = _read(target)
    version = state.pop(FORMAT_KEY, None)
    if version is None or version.shape != () or version.dtype.kind not in "iu":
        raise ValueError(
            f"load: {target!r} was not written by mg.save (no {FORMAT_KEY!r} entry); "
            "for a plain .npz of a state dict use obj.load_state_dict(dict(np.load(path)))"
        )
    if int(version) > FORMAT_VERSION:
        raise ValueError(
            f"load: {target!r} has format version {int(version)}, written by a newer "
            f"minigrad; this one reads versions up to {FORMAT_VERSION}"
        )
    if int(version) != FORMAT_VERSION:
        raise ValueError(
            f"load: {target!r} has format version {int(version)}, which no minigrad "
            f"writes (damaged?); this one reads version {FORMAT_VERSION}"
        )
    for key, value in state.items():
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            raise ValueError(
                f"load: {target!r}: entry {key!r} holds non-finite values (NaN or ±inf); "
                "a state that cannot be trained from is refused"
            )
    try:
        obj.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as exc:
        if type(exc) not in (KeyError, ValueError, TypeError):
            raise
        message = exc.args[0] if exc.args else ""
        raise type(exc)(f"load: {target!r}: {message}") from exc


def _read(path: str) -> dict[str, Array]:
    """Every entry of the ``.npz`` at ``path``, without unpickling anything.

    Errors of the operating system (no such file, no permission) pass through as they
    are; anything wrong with the contents becomes a ValueError naming ``path``.
    """
    # Opened here, not by np.load, so the file is closed however the parse fails.
    with open(path, "rb") as file:
        if file.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
            # np.load would guess "pickle" and suggest allow_pickle=True: never.
            raise _unreadable(path, "it is not an .npz (zip) archive")
        file.seek(0)
        try:
            archive = np.load(file, allow_pickle=False)
        except (ValueError, EOFError, zipfile.BadZipFile) as exc:  # not a NumPy file at all
            raise _unreadable(path, exc) from None
        with archive:
            state: dict[str, Array] = {}
            for key in archive:
                try:
                    value = archive[key]
                except (ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                    reason: object = exc
                    if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
                        reason = "it holds pickled Python objects, which are never loaded"
                    raise _unreadable(path, f"entry {key!r}: {reason}") from None
                if not isinstance(value, np.ndarray):  # a zip member that is not a .npy
                    raise _unreadable(path, f"entry {key!r} is not a NumPy array")
                state[key] = value
    return state


def _unreadable(path: str, reason: object) -> ValueError:
    return ValueError(f"load: {path!r} is not a readable minigrad .npz file: {reason}")
