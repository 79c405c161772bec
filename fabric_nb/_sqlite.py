"""What storage and the ingest cache both do with a SQLite connection, written once.

- :func:`in_transaction`: run some work in one transaction, committed whole
  or rolled back and re-raised, also when ``COMMIT`` itself fails (the
  shape of sqlite-utils' ``atomic()``).
- :func:`rollback`: end a transaction after a failure without letting a
  second error hide the first.
- :func:`create_owner_only`: a new database file (the store, the ingest
  cache) created empty with mode 0600 before SQLite opens it, since SQLite
  would create it 0644.
- :data:`SQLITE_SIDE_SUFFIXES`: the files SQLite may keep beside a database.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from typing import Final, TypeVar

__all__ = ["SQLITE_SIDE_SUFFIXES", "create_owner_only", "in_transaction", "rollback"]

_T = TypeVar("_T")

#: The files SQLite may keep beside a database: its rollback journal, and the
#: write-ahead log and its index (which Fabric's rollback-journal stores refuse).
SQLITE_SIDE_SUFFIXES: Final[tuple[str, ...]] = ("-journal", "-wal", "-shm")


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back if SQLite has not already done so; the original error matters more."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def in_transaction(
    conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], _T], *, lock: bool = True
) -> _T:
    """Run ``work`` in one transaction: committed whole, or rolled back and re-raised.

    :param lock: take the write lock at the start (``BEGIN IMMEDIATE``); a
        transaction that only reads, or writes temporary tables, takes none.
    """
    conn.execute("BEGIN IMMEDIATE" if lock else "BEGIN")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
    return result


def create_owner_only(path: str | os.PathLike[str]) -> None:
    """Create ``path`` as an empty file with mode 0600 unless it exists (then left as it is).

    A dangling symlink is followed: the file it points to is created, 0600 too.

    :raises OSError: it cannot be created (its folder is missing or not writable).
    """
    if os.path.islink(path) and not os.path.exists(path):
        path = os.path.realpath(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)  # whatever the umask
