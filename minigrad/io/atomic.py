"""`atomic_write`: create or replace a file so that a reader -- or a crash -- sees the
old file or the new one, never a mixture; the one rule `save` and ``to_onnx`` share for
what they may replace; and the clean-up of temporary files left by killed writes."""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable
from typing import BinaryIO

try:  # POSIX: a write locks its temporary file (see `atomic_write`)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

StrPath = str | os.PathLike[str]
"""A file path: a string or a path-like object."""


def atomic_write(target: str, write: Callable[[BinaryIO], None], *, owner: str,
                 writer: str, ours: Callable[[str], bool]) -> None:
    """Create or replace the file ``target`` with what ``write`` writes, atomically.

    The one rule of `save` and ``minigrad.export.to_onnx`` for what they may replace:
    nothing but a file ``writer`` wrote (``ours(target)``) or an empty one (as
    ``tempfile.mkstemp`` makes). ``write`` gets a binary file: a temporary one beside
    ``target`` (O_EXCL, named ``.<name>.<8 hex digits>.tmp``, with ``target``'s
    permissions when it exists), which is flushed and fsynced, then renamed over
    ``target`` with `os.replace`; the directory is fsynced so the rename survives a
    power cut. On any error -- ``write``'s included -- the temporary file is removed
    and ``target`` is untouched: a reader sees the old file or the new one, never a
    mixture. ``owner`` starts the messages; an `OSError` from creating the temporary
    file names ``target``.

    On POSIX the temporary file is locked (``flock``) from its creation until it has
    been renamed, and every call first removes the temporary files of ``target`` that
    no one holds locked: the leftovers of killed writes. Elsewhere leftovers stay (a
    running write's file could not be told from one).

    Raises
    ------
    FileExistsError
        ``target`` is a non-empty file that ``ours`` does not recognize.
    OSError
        The folder is missing or cannot be written, naming ``target``.
    """
    if os.path.isfile(target) and os.path.getsize(target) > 0 and not ours(target):
        raise FileExistsError(
            f"{owner}: {target!r} exists and was not written by {writer}; refusing to "
            "overwrite it (delete it first if it is yours to lose)"
        )
    folder, name = os.path.split(target)
    _remove_leftovers(folder, name)
    fd, temp = _locked_temp(folder, name, owner, target)
    try:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = None  # a new file: 0o666 & ~umask, as open() makes it
        if mode is not None:
            os.chmod(temp, mode)
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
            if fcntl is not None:  # renamed while open, so while still locked
                os.replace(temp, target)
        if fcntl is None:  # Windows renames no open file
            os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    _fsync_directory(folder)


def _temp_names(name: str) -> re.Pattern[str]:
    """The names `_locked_temp` gives the temporary files of the target ``name``."""
    return re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{8}}\.tmp")


def _locked_temp(folder: str, name: str, owner: str, target: str) -> tuple[int, str]:
    """A new temporary file for ``target`` (its descriptor and path), locked on POSIX."""
    # O_EXCL: never write through someone else's file; 0o666 & ~umask, like open().
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temp, flags, 0o666)
        except OSError as exc:  # named after the target: the temporary name means nothing
            reason = (
                f"the folder {folder!r} does not exist" if isinstance(exc, FileNotFoundError)
                else exc.strerror
            )
            raise type(exc)(exc.errno, f"{owner}: cannot write {target!r}: {reason}") from None
        if fcntl is None:
            return fd, temp
        # Blocks only while another save's cleanup, which opened this file before the lock
        # was taken, decides; if it removed the file, start over with a new one.
        fcntl.flock(fd, fcntl.LOCK_EX)
        if _is_at(fd, temp):
            return fd, temp
        os.close(fd)


def _remove_leftovers(folder: str, name: str) -> None:
    """Remove the temporary files of earlier writes of ``folder/name`` that nobody holds
    locked: their writers were killed (a lock dies with its process)."""
    if fcntl is None:
        return
    pattern = _temp_names(name)
    try:
        entries = os.listdir(folder)
    except OSError:
        return  # creating the temporary file reports a missing or unreadable folder
    for entry in entries:
        if not pattern.fullmatch(entry):
            continue
        path = os.path.join(folder, entry)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue  # gone already, or not ours to open
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _is_at(fd, path):  # still that file: not renamed into place meanwhile
                os.remove(path)
        except OSError:
            pass  # locked: a save is writing it
        finally:
            os.close(fd)


def _is_at(fd: int, path: str) -> bool:
    """Whether the open file ``fd`` is the one at ``path``."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
    except FileNotFoundError:
        return False


def _fsync_directory(folder: str) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows cannot open directories)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
