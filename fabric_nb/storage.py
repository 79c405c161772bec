"""SQLite storage for ingested jobs: schema, startup checks, transactional writes.

The startup sequence is the spec's: open the file, check the schema version
(fail on mismatch), run ``PRAGMA integrity_check`` (fail on corruption). A
failed open writes nothing and leaves no connection open. Writes are single
transactions of ``INSERT OR REPLACE``; they commit whole or roll back whole.
Nothing here deletes, compacts, migrates or repairs.

Journal mode stays SQLite's default rollback journal with
``synchronous = FULL``: a committed job survives power loss, and a read-only
open never creates side files next to the database.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from ._collector import collector_paused
from .errors import StorageCorruptionError, StorageError
from .models import IngestedJob, job_order_key
from .rows import decode_job, encode_job
from .schema import (
    INDEX_STATEMENTS,
    JOB_COLUMNS,
    STORAGE_SCHEMA_VERSION,
    TABLE_STATEMENT,
)

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "DEFAULT_STORAGE_PATH",
    "STORAGE_SCHEMA_VERSION",
    "FabricStorage",
]

#: Where Fabric keeps its history unless told otherwise (``~`` expanded on use).
DEFAULT_STORAGE_PATH: Final[Path] = Path("~/.proxx/fabric/fabric.db")
#: How long a connection waits for another process's lock before giving up.
BUSY_TIMEOUT_SECONDS: Final[float] = 60.0

_COLUMN_NAMES: Final[tuple[str, ...]] = tuple(name for name, _ in JOB_COLUMNS)
_INSERT: Final[str] = (
    f"INSERT OR REPLACE INTO jobs ({', '.join(_COLUMN_NAMES)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMN_NAMES)})"
)
_SELECT_ALL: Final[str] = f"SELECT {', '.join(_COLUMN_NAMES)} FROM jobs"


class FabricStorage:
    """One SQLite file holding Fabric's ``jobs`` table.

    :param db_path: the database file, or ``None`` for
        :data:`DEFAULT_STORAGE_PATH`; ``~`` is expanded. Its folders are
        created when missing (never in read-only mode). The path is
        :attr:`db_path` (also :attr:`path`).
    :param readonly: open the file read-only; it must exist and every write
        raises :class:`StorageError`.
    :raises TypeError: ``db_path`` is not a str, a path or ``None``.
    """

    def __init__(
        self, db_path: str | os.PathLike[str] | None = None, *, readonly: bool = False
    ) -> None:
        self.path: Path = Path(DEFAULT_STORAGE_PATH if db_path is None else db_path).expanduser()
        self.readonly: bool = readonly
        self._conn: sqlite3.Connection | None = None

    @property
    def db_path(self) -> Path:
        """The database file (the original API's name for :attr:`path`)."""
        return self.path

    # -- lifecycle ---------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether a connection is open."""
        return self._conn is not None

    def open(self) -> None:
        """Open the file, check the schema version, then check integrity.

        Opening an open storage does nothing.

        :raises StorageError: the path is unusable, read-only and missing, or
            the schema version is not :data:`STORAGE_SCHEMA_VERSION`.
        :raises StorageCorruptionError: the file is not a database or fails
            ``PRAGMA integrity_check``.
        """
        if self._conn is not None:
            return
        conn = self._connect()
        try:
            self._check_version(conn)
            self._check_integrity(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        """Close the connection; closing twice does nothing."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def __enter__(self) -> FabricStorage:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reads -------------------------------------------------------------------

    def get_schema_version(self) -> int:
        """The ``user_version`` recorded in the file."""
        return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    def load_all_jobs(self) -> list[IngestedJob]:
        """Every stored job, ordered by ``started_at`` (as an instant), then ``job_id``.

        :raises StorageCorruptionError: a row cannot be decoded into a valid job.
        """
        conn = self._connection()
        jobs = []
        # Rows are decoded as SQLite steps through them, so the raw text of the
        # whole table is never held at once (it would stay in the process's
        # footprint after being freed). The cursor is closed on any failure so
        # no read lock outlives the call.
        with collector_paused():
            try:
                cursor = conn.execute(_SELECT_ALL)
                try:
                    for row in cursor:
                        jobs.append(self._decode_row(row))
                finally:
                    cursor.close()
            except sqlite3.DatabaseError as exc:
                raise _read_error(self.path, exc) from exc
            jobs.sort(key=job_order_key)
        return jobs

    def load_job_ids(self) -> set[str]:
        """The ids of every stored job, read without decoding the rows.

        Cheap next to :meth:`load_all_jobs`: bulk ingestion uses it to tell a
        new job from one that replaces a stored job.
        """
        conn = self._connection()
        try:
            return {row[0] for row in conn.execute("SELECT job_id FROM jobs")}
        except sqlite3.DatabaseError as exc:
            raise _read_error(self.path, exc) from exc

    # -- writes ------------------------------------------------------------------

    def persist_job(self, job: IngestedJob) -> None:
        """Store one job in one transaction, replacing any job with the same id.

        :raises StorageError: ``Failed to persist job: <SQLite's message> (job 'ID')``;
            nothing of the job is stored.
        """
        self._write([job])

    def persist_jobs(self, jobs: Iterable[IngestedJob]) -> None:
        """Store many jobs in one transaction: all of them, or none.

        :raises StorageError: ``Failed to persist job: <SQLite's message> (jobs ...,
            none stored)``; none is stored.
        """
        self._write(list(jobs))

    def _write(self, jobs: Sequence[IngestedJob]) -> None:
        conn = self._connection()
        if not jobs:
            return
        what = _describe(jobs)
        if self.readonly:
            raise StorageError(f"{_PERSIST_FAILED}: storage {self.path} is read-only ({what})")
        rows = [encode_job(job) for job in jobs]
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        # Binding also refuses values SQLite cannot hold: text with lone surrogates
        # (not UTF-8) and integers beyond its 64-bit INTEGER.
        except (sqlite3.Error, UnicodeEncodeError, OverflowError) as exc:
            raise StorageError(f"{_PERSIST_FAILED}: {exc} ({what})") from exc

    # -- internals ---------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"Storage {self.path} is not open")
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        if path.is_dir():
            raise StorageError(f"Cannot open storage {path}: it is a directory")
        if self.readonly:
            if not path.exists():
                raise StorageError(
                    f"Storage file not found: {path} (read-only mode never creates it)"
                )
            target, uri = f"file:{quote(str(path.resolve()))}?mode=ro", True
        else:
            _create_private(path)
            target, uri = str(path), False
        try:
            conn = sqlite3.connect(
                target, uri=uri, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open storage {path}: {exc}") from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.readonly:
                conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _read_error(path, exc) from exc
        return conn

    def _check_version(self, conn: sqlite3.Connection) -> None:
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version == 0:
                has_objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
                if has_objects:
                    # Another process may have committed the new schema between the
                    # two reads: its tables are visible, so read the version again.
                    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise _read_error(self.path, exc) from exc
        if version == 0 and not has_objects and not self.readonly:
            self._initialise(conn)
            return
        if version != STORAGE_SCHEMA_VERSION:
            raise StorageError(
                f"Schema version mismatch: expected {STORAGE_SCHEMA_VERSION}, "
                f"found {version} ({self.path})"
            )

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Create the schema in an empty file; another process may race us to it."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                empty = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
                if version == 0 and empty:
                    conn.execute(TABLE_STATEMENT)
                    for statement in INDEX_STATEMENTS:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {STORAGE_SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot initialise storage {self.path}: {exc}") from exc
        self._check_version(conn)

    def _check_integrity(self, conn: sqlite3.Connection) -> None:
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
        except sqlite3.DatabaseError as exc:
            raise _read_error(self.path, exc) from exc
        if problems != ["ok"]:
            shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
            raise StorageCorruptionError(f"Database corruption detected in {self.path}: {shown}")
        if tuple(columns) != _COLUMN_NAMES:
            raise StorageCorruptionError(
                f"Database corruption detected in {self.path}: schema version "
                f"{STORAGE_SCHEMA_VERSION} but the jobs table is missing or has other columns"
            )

    def _decode_row(self, row: Sequence[Any]) -> IngestedJob:
        job_id = row[0]
        try:
            return decode_job(row)
        except (ValueError, TypeError, KeyError) as exc:
            problem = str(exc)
        except RecursionError:  # JSON nested deeper than the decoder can follow
            problem = "outputs_json is nested too deeply to be outputs"
        raise StorageCorruptionError(
            f"Database corruption detected in {self.path}: job {job_id!r} "
            f"cannot be decoded: {problem}"
        )


_CORRUPTION_CODES: Final[frozenset[int]] = frozenset(
    {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
)
# Raised by the sqlite3 module itself (no SQLite error code) when stored text is
# not UTF-8: Fabric only ever writes UTF-8, so those bytes were damaged on disk.
_NOT_UTF8: Final[re.Pattern[str]] = re.compile(r"Could not decode to UTF-8 column '([^']*)'")


def _read_error(path: Path, exc: sqlite3.Error) -> StorageError:
    """Classify a failed read: damage is corruption, anything else a plain storage error."""
    if getattr(exc, "sqlite_errorcode", None) in _CORRUPTION_CODES:
        return StorageCorruptionError(f"Database corruption detected in {path}: {exc}")
    not_utf8 = _NOT_UTF8.match(str(exc))
    if not_utf8 is not None:  # the message would repeat the damaged (maybe huge) text
        return StorageCorruptionError(
            f"Database corruption detected in {path}: column {not_utf8.group(1)!r} "
            "holds bytes that are not UTF-8 text"
        )
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_READONLY_ROLLBACK:
        # SQLite's own message ("attempt to write a readonly database") hides the cause.
        return StorageError(
            f"Cannot read storage {path} in read-only mode: a write to it was interrupted "
            f"and its journal {path}-journal must be rolled back first; opening it once "
            "in read-write mode lets SQLite finish that rollback"
        )
    return StorageError(f"Cannot read storage {path}: {exc}")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if SQLite has not already done so; the original error matters more."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


#: The spec's symptom, verbatim: every failed write starts with it (operators alert on it).
_PERSIST_FAILED: Final[str] = "Failed to persist job"


def _describe(jobs: Sequence[IngestedJob]) -> str:
    """Which jobs a failed write was for, said after the spec's words and the cause."""
    if len(jobs) == 1:
        return f"job {jobs[0].job_id!r}"
    return f"jobs {jobs[0].job_id!r} ... {jobs[-1].job_id!r}, {len(jobs)} jobs, none stored"


def _create_private(path: Path) -> None:
    """Create missing folders (0700) and an empty file (0600) for a new store."""
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StorageError(f"Cannot create storage {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    os.chmod(path, 0o600)


# -- row encoding -----------------------------------------------------------------
