"""Read only regular files, and only up to a size: FIFOs and devices never hang a run.

Opening a FIFO for reading blocks until a writer comes; reading ``/dev/zero``
(or a symlink to it) never ends. Anything Fabric reads from a path given to
it goes through :func:`read_regular_file`, which looks at what the path is
before reading, opens it without blocking, checks again on the open file (the
path may have been swapped in between) and reads at most ``limit`` bytes.
"""

from __future__ import annotations

import os
import stat
from typing import Final

from .errors import FileTooLargeError, NotRegularFileError

__all__ = [
    "MAX_RESULT_FILE_BYTES",
    "file_kind",
    "open_regular_file",
    "read_regular_file",
]

#: The largest result file ingestion reads: 32 MiB. A JobExecutionResult is a
#: few kilobytes (a few hundred bytes per clip); 32 MiB is tens of thousands
#: of clips, beyond any real job, yet room for long free text in every field,
#: and small enough that a run never exhausts memory.
MAX_RESULT_FILE_BYTES: Final[int] = 32 * 1024 * 1024

_KINDS: Final[tuple[tuple[int, str], ...]] = (
    (stat.S_IFREG, "a regular file"),
    (stat.S_IFDIR, "a directory"),
    (stat.S_IFIFO, "a FIFO (named pipe)"),
    (stat.S_IFCHR, "a character device"),
    (stat.S_IFBLK, "a block device"),
    (stat.S_IFSOCK, "a socket"),
    (stat.S_IFLNK, "a symbolic link"),
)


#: Open for reading without blocking (a FIFO swapped in is refused, not waited on).
_OPEN_FLAGS: Final[int] = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words: ``"a FIFO (named pipe)"``, ``"a regular file"``..."""
    kind = stat.S_IFMT(mode)
    for flag, words in _KINDS:
        if kind == flag:
            return words
    return "not a regular file"


def open_regular_file(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of ``path`` (symlinks followed), if it is a regular file.

    Looks at the path first, opens it without blocking (a FIFO swapped in
    between cannot hang the open) and checks again on the open file. The
    caller closes the descriptor.

    :raises NotRegularFileError: ``path`` is not a regular file (message: what it is).
    :raises OSError: the file cannot be opened (missing, no permission...).
    """
    return _open_regular(path, seen_regular=False)[0]


def _open_regular(
    path: str | os.PathLike[str], *, seen_regular: bool
) -> tuple[int, os.stat_result]:
    """:func:`open_regular_file`, and the ``fstat`` of the open file.

    ``seen_regular``: the caller has just looked at the path and seen a
    regular file, so it is not looked at again before opening.
    """
    if not seen_regular:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise NotRegularFileError(f"is {file_kind(before.st_mode)}, not a regular file")
    fd = os.open(path, _OPEN_FLAGS)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise NotRegularFileError(f"is {file_kind(opened.st_mode)}, not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, opened


def read_regular_file(
    path: str | os.PathLike[str], *, limit: int, seen_regular: bool = False
) -> bytes:
    """The bytes of ``path`` (symlinks followed), if it is a regular file of at most ``limit`` bytes.

    Never blocks on a FIFO and never reads more than ``limit + 1`` bytes.
    ``seen_regular``: the caller has just looked at the path (a folder scan's
    ``stat``) and seen a regular file, so it is not looked at again before
    opening; the open file is checked all the same (it may have been swapped).

    :raises NotRegularFileError: ``path`` is not a regular file (message: what it is).
    :raises FileTooLargeError: the file holds more than ``limit`` bytes.
    :raises OSError: the file cannot be opened or read (missing, no permission...).
    """
    fd, opened = _open_regular(path, seen_regular=seen_regular)
    try:
        if opened.st_size > limit:
            raise FileTooLargeError(
                f"is too large: {opened.st_size} bytes, the limit is {limit} bytes"
            )
        chunks = []
        size = 0
        want = opened.st_size + 1  # one read for the whole file, one more to see its end
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, want))
            want = 1 << 16
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while being read
            raise FileTooLargeError(f"is too large: it grew beyond the limit of {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
