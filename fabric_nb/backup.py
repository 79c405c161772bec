"""Safe online backups of a Fabric database: ``fabric-nb backup DEST``.

A plain ``cp`` of a SQLite file while a process writes to it can copy a torn
database. :func:`backup_storage` instead opens the database read-only (which
runs the spec's startup checks on it), copies it with SQLite's online backup
API (a consistent snapshot even while an ingest or a watch writes, see
:meth:`FabricStorage.backup_into`), and writes the copy beside ``DEST``
under a hidden temporary name. The copy is then opened as Fabric opens a
database (schema version, ``PRAGMA integrity_check``) and every row is
decoded; only a copy that passes is flushed to disk and renamed into place.
A failed backup leaves nothing behind, and an existing file is never
replaced unless asked (``force``).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ._ingest_cache import CACHE_SUFFIX
from ._sqlite import SQLITE_SIDE_SUFFIXES
from .errors import BackupExistsError, BackupNameError, BackupWriteError, StorageError
from .persistence import create_persistence
from .storage import expand_user

__all__ = [
    "BackupResult",
    "backup_storage",
]


@dataclass(frozen=True, slots=True)
class BackupResult:
    """A verified backup: where it is, how many jobs it holds, its size in bytes."""

    source: Path
    path: Path
    jobs: int
    size_bytes: int


def backup_storage(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    force: bool = False,
    now: datetime | None = None,
) -> BackupResult:
    """Back up the database ``source`` into ``destination``, verified.

    :param destination: a file to create, or an existing folder: the copy is
        then named after the database and the UTC time, e.g.
        ``fabric-20261129T030000Z.db``.
    :param force: replace ``destination`` when it is an existing file.
    :param now: the time used to name the file in a folder (default: now).
    :returns: the :class:`BackupResult` of the verified copy.
    :raises BackupExistsError: the destination file exists and ``force`` is False.
    :raises BackupNameError: the destination is named like a side file of a
        database (``f.db-journal``, ``f.db-wal``, ``f.db-shm``,
        ``f.db.ingest-cache``) or has side files beside it.
    :raises BackupWriteError: the copy cannot be written beside ``destination``
        (no permission, disk full, file size limit); the database is fine.
    :raises StorageError: the database is missing, unreadable, of another
        schema version, or the copy failed a check.
    :raises StorageCorruptionError: the database (or the copy) is damaged.
    """
    source_path = expand_user(source)
    try:
        dest = expand_user(destination)
    except StorageError as exc:
        raise BackupWriteError(str(exc)) from None
    if dest.is_dir():
        stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        dest = dest / f"{source_path.stem}-{stamp}{source_path.suffix or '.db'}"
    if dest.exists() and not force:
        raise BackupExistsError(f"{dest}: already exists (use --force to replace it)")
    if dest.exists() and dest.resolve() == source_path.resolve():
        raise BackupExistsError(f"{dest}: is the database itself")
    _refuse_side_file_name(dest)
    with create_persistence(source_path, readonly=True) as persistence:
        partial = _partial_file(dest)
        try:
            persistence.backup_into(partial)
        except BackupWriteError as exc:
            _remove(partial)
            raise BackupWriteError(f"{dest}: {exc}") from None
        except BaseException:
            _remove(partial)
            raise
    try:
        with create_persistence(partial, readonly=True) as copy:
            jobs = len(copy.load_all_jobs())  # every row decodes, as at startup
        _flush(partial)
        _put_in_place(partial, dest, force=force)
    except BaseException:
        _remove(partial)
        raise
    return BackupResult(
        source=persistence.path, path=dest, jobs=jobs, size_bytes=dest.stat().st_size
    )


#: What SQLite and Fabric add to a database's name for the files beside it.
_SIDE_FILE_SUFFIXES: Final[tuple[str, ...]] = (*SQLITE_SIDE_SUFFIXES, CACHE_SUFFIX)


def _refuse_side_file_name(dest: Path) -> None:
    """Refuse a destination that a store would take for one of its side files,
    or one that has side files beside it.

    A copy named ``f.db-journal`` would be rolled back into ``f.db`` as a hot
    journal at its next open, one named ``f.db.ingest-cache`` deleted as a
    damaged cache; and a stale ``copy.db-journal`` beside ``copy.db`` would be
    rolled back into the new copy. Either way the backup would not be the
    one verified.
    """
    for suffix in _SIDE_FILE_SUFFIXES:
        if dest.name.endswith(suffix) and len(dest.name) > len(suffix):
            raise BackupNameError(
                f"{dest}: a name ending in {suffix} is the side file of a database "
                f"({dest.name[: -len(suffix)]}), which SQLite or Fabric would use or remove; "
                "choose a name such as fabric-backup.db"
            )
    for suffix in SQLITE_SIDE_SUFFIXES:
        side = Path(f"{dest}{suffix}")
        if os.path.lexists(side):
            raise BackupNameError(
                f"{dest}: {side} lies beside it and SQLite would apply it to the copy; "
                "move it away or choose another name"
            )


def _partial_file(dest: Path) -> Path:
    """A new private (0600) empty file beside ``dest`` for the copy in progress."""
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        _remove(partial)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BackupWriteError(f"{dest}: cannot write beside it: {exc.strerror or exc}") from None
    os.close(fd)
    return partial


def _flush(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise BackupWriteError(f"{path}: cannot flush to disk: {exc.strerror or exc}") from None


def _put_in_place(partial: Path, dest: Path, *, force: bool) -> None:
    """Rename ``partial`` to ``dest``; without ``force``, never over an existing file."""
    try:
        if force:
            os.replace(partial, dest)
        else:
            try:
                os.link(partial, dest)  # fails if dest exists, even if it appeared just now
            except FileExistsError:
                raise BackupExistsError(
                    f"{dest}: already exists (use --force to replace it)"
                ) from None
            except OSError:  # a filesystem without hard links
                if dest.exists():
                    raise BackupExistsError(
                        f"{dest}: already exists (use --force to replace it)"
                    ) from None
                os.replace(partial, dest)
            _remove(partial)
        folder = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as exc:
        raise BackupWriteError(
            f"{dest}: cannot put the copy in place: {exc.strerror or exc}"
        ) from None


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + "-journal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
