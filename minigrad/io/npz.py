"""Saving and loading state: `save` and `load`, for models and optimizers alike.

Anything with ``state_dict()`` (a flat ``dict[str, ndarray]``) and
``load_state_dict(state)`` can be saved: a model's parameters, an optimizer's moments
and step counts. A file is a plain ``.npz`` archive -- one ``.npy`` entry per key, plus
``"__minigrad_format__"`` -- readable by ``np.load`` without minigrad.

Nothing a user saved is ever lost: `save` writes a temporary file beside the target,
syncs it to disk and renames it over the target in one atomic step, so a crash leaves
either the old file or the new one, never a mixture; the new file keeps the old one's
permissions. A process killed mid-save can leave its temporary file behind, named
``.<name>.<8 hex digits>.tmp`` beside the target (hidden, never the target's name):
safe to delete, and the next save of that path removes it (on POSIX, where a save
holds a lock on its temporary file, so a running one is never taken for a leftover).
Concurrent saves to one path each write their own temporary file; the last rename
wins.

Nothing bad gets in: `load` never unpickles (a file carrying Python objects is
refused, not executed), and judges every entry by its ``.npy`` header -- its name,
shape and dtype against the object it loads into, its size against what the archive
declares -- before inflating any, so a zip bomb or a lying header is refused without
allocating what it claims.

>>> import numpy as np, minigrad as mg
>>> model = mg.Sequential(mg.Dense(2, 1, rng=0))
>>> mg.save(model, "model.npz")
>>> other = mg.Sequential(mg.Dense(2, 1, rng=1))
>>> mg.load(other, "model.npz")
>>> np.array_equal(other[0].weight.data, model[0].weight.data)
True
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Mapping
from typing import IO, Any, BinaryIO, NamedTuple, Protocol

import numpy as np

from minigrad import backend
from minigrad.core import Array, check_finite_state, name_list
from minigrad.io.atomic import StrPath, atomic_write

FORMAT_KEY = "__minigrad_format__"
FORMAT_VERSION = 1
"""The file format `save` writes, and the only one `load` reads (there is no older one)."""


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

    The new file keeps the permissions of the one it replaces (a private ``0600``
    file stays private); leftovers of earlier saves of ``path`` that were killed are
    removed (see `atomic_write`).

    Raises
    ------
    ValueError
        A state key uses the reserved name ``"__minigrad_format__"``, or a value is an
        object array (it could only be stored pickled).
    FileExistsError
        ``path`` is an existing, non-empty file that `save` did not write (no
        ``"__minigrad_format__"`` entry): `save` never overwrites what it did not write
        (the rule of `atomic_write`, which ``to_onnx`` shares).
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
    atomic_write(target, lambda file: _write_npz(file, arrays), owner="save",
                 writer="mg.save", ours=_is_minigrad_file)


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


UNKNOWN_ENTRY_BYTES = 2**20
"""What a `load` may read beyond the object's own state: entries it does not have
(which its ``load_state_dict`` refuses, or reads as older keys) and strings longer than
its own (another generator's state) -- 1 MiB in all. Everything else is bounded by the
object: an entry it has must declare its shape and dtype."""


def load(obj: Stateful, path: StrPath) -> None:
    """Read a file written by `save` into ``obj`` with ``obj.load_state_dict``.

    The file is read with ``allow_pickle=False``: an entry holding pickled Python
    objects is refused, never unpickled. Before any entry is inflated, its ``.npy``
    header is read (from the zip member's stream) and judged: two entries of one name
    are refused (no "last one wins"), so is an entry whose header implies another size
    than the archive declares for it, and an entry that ``obj.state_dict()`` has must
    declare its shape and dtype (a string, such as a generator's state, may differ in
    length). Entries ``obj`` does not have may take `UNKNOWN_ENTRY_BYTES` in all. So a
    load allocates about what ``obj``'s state takes (plus a copy of it, for the check),
    whatever the file claims. ``obj`` is changed only if the whole file reads and
    ``load_state_dict`` accepts it (which, for models, checks every key, shape and
    dtype before writing anything).

    Raises
    ------
    FileNotFoundError
        There is no file at ``path``.
    ValueError
        The file is not a readable ``.npz`` archive (truncated, corrupt, another
        format, two entries of one name, an entry whose size is not what its header
        says), holds pickled objects, lacks the format entry, has a format version
        other than `FORMAT_VERSION` (a newer minigrad's, or a damaged one), has an entry
        of another shape or dtype than ``obj``'s (from the header, nothing inflated), or
        holds NaN or ±inf in an entry (named); or (from ``load_state_dict``) values do
        not fit. The message names ``path``.
    KeyError
        Entries ``obj`` does not have beyond `UNKNOWN_ENTRY_BYTES` (named, not read);
        missing or unexpected keys (from ``load_state_dict``), with ``path`` named.
    TypeError
        A TypeError from ``load_state_dict``, re-raised with ``path`` named.
    """
    target = os.fspath(path)
    state = _read(target, obj)
    version = state.pop(FORMAT_KEY)
    if version.shape != () or version.dtype.kind not in "iu":
        raise ValueError(
            f"load: {target!r}: the {FORMAT_KEY!r} entry is not an integer "
            f"(dtype {version.dtype}, shape {version.shape}); the file is damaged"
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
        check_finite_state(f"load: {target!r}", f"entry {key!r}", value)
    try:
        obj.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as exc:
        if type(exc) not in (KeyError, ValueError, TypeError):
            raise
        message = exc.args[0] if exc.args else ""
        raise type(exc)(f"load: {target!r}: {message}") from exc


class _Entry(NamedTuple):
    """A member of the archive as its ``.npy`` header describes it."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


# What reading a damaged archive raises (beyond OSError, which passes through): zipfile's
# and NumPy's parse errors, zlib's for a corrupt stream, and zipfile's for an entry
# compressed by an unsupported method (NotImplementedError) or encrypted (RuntimeError).
_DAMAGED = (ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
            RuntimeError)


def _read(path: str, obj: Stateful) -> dict[str, Array]:
    """Every entry of the ``.npz`` at ``path``, judged by its header against ``obj``'s
    state before any is inflated, without unpickling anything.

    Errors of the operating system (no such file, no permission) pass through as they
    are; anything wrong with the contents becomes a ValueError (KeyError for entries
    ``obj`` does not have, beyond `UNKNOWN_ENTRY_BYTES`) naming ``path``.
    """
    # Opened here, not by np.load, so the file is closed however the parse fails.
    with open(path, "rb") as file:
        if file.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
            # np.load would guess "pickle" and suggest allow_pickle=True: never.
            raise _unreadable(path, "it is not an .npz (zip) archive")
        file.seek(0)
        try:
            archive = zipfile.ZipFile(file)
        except _DAMAGED as exc:  # not a zip archive after all
            raise _unreadable(path, exc) from None
        with archive:
            entries = _entries(path, archive)
            if FORMAT_KEY not in entries:
                raise ValueError(
                    f"load: {path!r} was not written by mg.save (no {FORMAT_KEY!r} entry); "
                    "for a plain .npz of a state dict use "
                    "obj.load_state_dict(dict(np.load(path)))"
                )
            _check_entries(path, entries, obj)
            state: dict[str, Array] = {}
            for key, entry in entries.items():
                try:
                    with archive.open(entry.info) as member:
                        state[key] = np.lib.format.read_array(member, allow_pickle=False)
                except _DAMAGED as exc:
                    raise _unreadable(path, f"entry {key!r}: {exc}") from None
    return state


def _entries(path: str, archive: zipfile.ZipFile) -> dict[str, _Entry]:
    """Each member's header, read from the start of its stream (nothing more is
    inflated), checked on its own: one entry per name, a ``.npy`` without Python
    objects, of the size the archive declares for it."""
    entries: dict[str, _Entry] = {}
    for info in archive.infolist():
        key = info.filename.removesuffix(".npy")  # np.load's names for the entries
        if key in entries:
            raise _unreadable(path, f"it holds two entries named {key!r} (which one a "
                                    "reader takes is up to the reader)")
        try:
            with archive.open(info) as member:
                header = _npy_header(member)
        except _DAMAGED as exc:
            raise _unreadable(path, f"entry {key!r}: {exc}") from None
        if header is None:
            raise _unreadable(path, f"entry {key!r} is not a NumPy array")
        length, shape, dtype = header
        if dtype.hasobject:
            raise _unreadable(path, f"entry {key!r}: it holds pickled Python objects, "
                                    "which are never loaded")
        entry = _Entry(info, tuple(shape), dtype)
        if length + entry.nbytes != info.file_size:
            raise _unreadable(
                path, f"entry {key!r} declares shape {entry.shape} of {dtype} "
                      f"({length + entry.nbytes} bytes with its header), but the archive "
                      f"says it holds {info.file_size} bytes; refused unread")
        entries[key] = entry
    return entries


def _npy_header(member: IO[bytes]) -> tuple[int, tuple[int, ...], np.dtype[Any]] | None:
    """The header of the ``.npy`` stream ``member`` -- its length, the shape and dtype --
    or None if ``member`` is not a ``.npy``. Reads the header only."""
    try:
        version = np.lib.format.read_magic(member)
    except ValueError:  # not the .npy magic, or shorter than it
        return None
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:  # 3.0: only for structured dtypes with non-Latin-1 field names
        raise ValueError(f".npy format version {version}, which holds no plain numbers")
    return member.tell(), tuple(shape), dtype


def _check_entries(path: str, entries: Mapping[str, _Entry], obj: Stateful) -> None:
    """Refuse, before anything is inflated, what ``obj`` could not take: an entry of
    another shape or dtype than ``obj``'s own, a string far longer than ``obj``'s, or
    more than `UNKNOWN_ENTRY_BYTES` of entries ``obj`` does not have."""
    owner = type(obj).__name__
    own = obj.state_dict()
    unknown: list[str] = []
    extra = 0
    for key, entry in entries.items():
        if key not in own:
            if key != FORMAT_KEY:  # the format entry is ours, not the object's
                unknown.append(key)
            extra += entry.nbytes
            continue
        shape = tuple(own[key].shape)
        dtype = backend.numpy_dtype(own[key].dtype)
        text = dtype.kind in "US"  # a string's length may differ (a generator's state)
        if entry.shape != shape or (entry.dtype.kind != dtype.kind if text
                                    else entry.dtype != dtype):
            raise ValueError(
                f"load: {path!r}: {key!r} has shape {entry.shape} and dtype {entry.dtype} "
                f"in the file; the {owner} takes shape {shape} and dtype {dtype} (read "
                "from the entry's header: nothing was inflated)"
            )
        if text:
            extra += max(0, entry.nbytes - math.prod(shape) * dtype.itemsize)
    if extra > UNKNOWN_ENTRY_BYTES:
        raise KeyError(
            f"load: {path!r} holds {extra} bytes beyond what the {owner} takes (at most "
            f"{UNKNOWN_ENTRY_BYTES} are read); entries it does not have: "
            f"{name_list(unknown)}; refused unread"
        )


def _unreadable(path: str, reason: object) -> ValueError:
    return ValueError(f"load: {path!r} is not a readable minigrad .npz file: {reason}")
