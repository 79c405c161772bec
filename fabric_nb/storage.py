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
import hashlib
import json
import os
import re
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import msgspec

from ._collector import collector_paused
from ._regular_files import file_kind, open_regular_file
from ._rows import decode_job, decode_job_fields, encode_job, stored_instant
from ._safe_text import short_repr
from ._schema_shape import schema_differences
from ._sqlite import SQLITE_SIDE_SUFFIXES, create_owner_only, in_transaction, rollback
from .errors import (
    BackupWriteError,
    InterruptedWrite,
    NotRegularFileError,
    StorageCorruptionError,
    StorageError,
    UnstorableJobError,
)
from .models import IngestedJob, job_order_key
from .schema import (
    INDEX_STATEMENTS,
    JOB_COLUMNS,
    MAX_INTEGER,
    STORAGE_SCHEMA_VERSION,
    TABLE_STATEMENT,
)

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "DEFAULT_STORAGE_PATH",
    "FABRIC_DB_ENV",
    "MAX_STORED_VALUE_BYTES",
    "SQLITE_SIDE_SUFFIXES",
    "STORAGE_SCHEMA_VERSION",
    "BackupDestinationError",
    "FabricStorage",
    "expand_user",
    "resolve_storage_path",
]

#: Where Fabric keeps its history unless told otherwise (``~`` expanded on use).
DEFAULT_STORAGE_PATH: Final[Path] = Path("~/.proxx/fabric/fabric.db")
#: Environment variable naming the database to use when no path is given.
FABRIC_DB_ENV: Final[str] = "FABRIC_DB"
#: How long a connection waits for another process's lock before giving up.
BUSY_TIMEOUT_SECONDS: Final[float] = 60.0
#: The largest value (and row) Fabric writes: 64 MiB, far below SQLite's own
#: limit of about 1 GB, which a job could otherwise reach: ``outputs_json``
#: repeats the job id in every output, so a 32 MiB result file with a long id
#: can become a gigabyte of text. A job over it is refused by name
#: (:class:`~fabric_nb.errors.UnstorableJobError`) and the jobs around it
#: can still be stored.
MAX_STORED_VALUE_BYTES: Final[int] = 64 * 1024 * 1024

#: A second name of :class:`~fabric_nb.errors.BackupWriteError`, for code
#: written against it.
BackupDestinationError = BackupWriteError

#: Pages an online backup copies per step (4 MB with SQLite's default 4 KB
#: pages): each step holds the read lock for a few milliseconds.
_BACKUP_STEP_PAGES: Final[int] = 1024
#: Restarts (another process committed mid-copy) before the rest of a backup
#: is copied in one step.
_BACKUP_MAX_RESTARTS: Final[int] = 3

_COLUMN_NAMES: Final[tuple[str, ...]] = tuple(name for name, _ in JOB_COLUMNS)
_INSERT: Final[str] = (
    f"INSERT OR REPLACE INTO jobs ({', '.join(_COLUMN_NAMES)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMN_NAMES)})"
)
_SELECT_ALL: Final[str] = f"SELECT {', '.join(_COLUMN_NAMES)} FROM jobs"
#: Ids per ``IN (...)`` list, well under SQLite's limit on bound parameters.
_IN_CHUNK: Final[int] = 500
#: Month digests (:meth:`FabricStorage.digests_by_start_month`) are sums modulo 2**128.
_DIGEST_MOD: Final[int] = 2**128


def resolve_storage_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The database Fabric uses: ``path``, else ``$FABRIC_DB`` (when set and not
    empty), else :data:`DEFAULT_STORAGE_PATH`, with ``~`` expanded.

    The one rule for every "no path given" in Fabric: the library
    (:class:`FabricStorage`, :class:`~fabric_nb.persistence.FabricPersistence`,
    :func:`~fabric_nb.persistence.create_persistence`, :func:`~fabric_nb.open_fabric`),
    the ``fabric-nb`` command and the example notebooks.
    """
    if path is None or str(path) == "":
        path = os.environ.get(FABRIC_DB_ENV) or DEFAULT_STORAGE_PATH
    return expand_user(path)


def expand_user(path: str | os.PathLike[str]) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded.

    :raises StorageError: ``~user`` names no user (or no home is known): the
        path cannot be used, said in one line instead of a ``RuntimeError``.
    """
    try:
        return Path(path).expanduser()
    except RuntimeError:
        first = Path(path).parts[0]
        raise StorageError(
            f"Cannot use the path {os.fspath(path)}: {first} names no user with a home "
            "folder on this machine"
        ) from None


class FabricStorage:
    """One SQLite file holding Fabric's ``jobs`` table.

    :param db_path: the database file, or ``None`` for :func:`resolve_storage_path`'s
        rule (``$FABRIC_DB``, else :data:`DEFAULT_STORAGE_PATH`); ``~`` is expanded. Its folders are
        created when missing (never in read-only mode). The path is
        :attr:`db_path` (also :attr:`path`).
    :param readonly: open the file read-only; it must exist and every write
        raises :class:`StorageError`.
    :raises TypeError: ``db_path`` is not a str, a path or ``None``.
    """

    def __init__(
        self, db_path: str | os.PathLike[str] | None = None, *, readonly: bool = False
    ) -> None:
        self.path: Path = resolve_storage_path() if db_path is None else expand_user(db_path)
        self.readonly: bool = readonly
        self._conn: sqlite3.Connection | None = None
        self._rows_checked = False

    @property
    def db_path(self) -> Path:
        """The database file (the original API's name for :attr:`path`)."""
        return self.path

    # -- lifecycle ---------------------------------------------------------------

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
        self._rows_checked = False
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
        """The ``user_version`` recorded in the file.

        :raises StorageError: the file cannot be read now.
        :raises StorageCorruptionError: the file is damaged.
        """
        conn = self._connection()
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise _read_error(self.path, exc) from exc

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
            except sqlite3.Error as exc:
                raise _read_error(self.path, exc) from exc
            jobs.sort(key=job_order_key)
        self._rows_checked = True
        return jobs

    def load_job_ids(self) -> set[str]:
        """The ids of every stored job, read without decoding the rows.

        Cheap next to :meth:`load_all_jobs`: bulk ingestion uses it to tell a
        new job from one that replaces a stored job. The first call on a
        read-write storage that has not loaded its jobs decodes every row
        instead, as the first write would (see :meth:`persist_jobs`).

        :raises StorageCorruptionError: (read-write) a stored row does not decode.
        """
        conn = self._connection()
        if not self.readonly and not self._rows_checked:
            return self._check_rows(conn)
        try:
            return {row[0] for row in conn.execute("SELECT job_id FROM jobs")}
        except sqlite3.Error as exc:
            raise _read_error(self.path, exc) from exc

    def stored_among(self, job_ids: Sequence[str]) -> set[str]:
        """Which of ``job_ids`` are stored: one query through the primary key.

        What bulk ingest asks of each batch (is this job new, or does it
        replace one?) without holding every stored id in memory.
        """
        if not job_ids:
            return set()
        conn = self._connection()
        try:
            return {
                row[0]
                for row in conn.execute(
                    "SELECT job_id FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))",
                    (json.dumps(list(job_ids)),),
                )
            }
        except sqlite3.Error as exc:
            raise _read_error(self.path, exc) from exc

    def check_stored_rows(self) -> None:
        """Decode every stored row now, unless this connection already did.

        What the first write of a read-write storage does anyway (see
        :meth:`persist_jobs`), for a caller that must refuse a damaged store
        before it reads anything else.

        :raises StorageCorruptionError: a stored row does not decode.
        """
        conn = self._connection()
        if not self._rows_checked:
            self._check_rows(conn)

    def trust_stored_rows(self) -> None:
        """Skip the check that every stored row decodes before the first write.

        For a caller that has proof the file is byte for byte one whose rows
        were all checked: incremental ingest, when the database gives the
        proof (``StoredStamps.content_proof``) its cache recorded right after a run that
        checked every row and wrote only rows it had built.
        """
        self._rows_checked = True

    def change_marker(self, *, digest: bool = False) -> str | None:
        """What changes whenever the database file is written or replaced.

        ``device:inode:size:mtime_ns:counter``, where the counter is SQLite's
        file change counter (bytes 24-27 of the header): it goes up by one
        with every write transaction in rollback-journal mode, and a file put
        in its place has another inode or mtime. With ``digest``, the file's
        SHA-256 is appended (see ``StoredStamps.content_proof``). ``None`` when it
        cannot tell: the file cannot be read, or a ``-wal`` file beside it
        holds writes the main file does not show. Read from the file itself.
        """
        try:
            if os.path.lexists(f"{self.path}-wal"):
                return None
            with open(open_regular_file(self.path), "rb") as handle:  # never blocks on a FIFO
                header = handle.read(100)
                info = os.fstat(handle.fileno())
                if digest:
                    handle.seek(0)
                    hashed = hashlib.file_digest(handle, "sha256").hexdigest()
        except (OSError, NotRegularFileError):
            return None
        if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
            return None
        counter = int.from_bytes(header[24:28], "big")
        marker = f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{counter}"
        return f"{marker}:{hashed}" if digest else marker

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[None]:
        """Hold SQLite's read lock for the ``with`` block: every read in it sees
        one committed state, and no writer commits until it ends (writers wait,
        within their busy timeout).

        :raises StorageError: the lock cannot be taken.
        """
        conn = self._connection()
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the lock
        except sqlite3.DatabaseError as exc:
            rollback(conn)
            raise _read_error(self.path, exc) from exc
        try:
            yield
        finally:
            rollback(conn)  # a read transaction: ending it changes nothing

    def rowids_by_start_month(
        self,
        where: str = "",
        params: Sequence[Any] = (),
        *,
        keep: Callable[[datetime], bool] | None = None,
    ) -> dict[int, list[int]]:
        """The rowid of every job by the UTC month it started (``year * 100 + month``),
        months ascending; read without decoding the rows (``started_at`` only).

        ``where`` (an SQL condition on ``jobs``, with ``params``) and ``keep``
        (a test of the decoded ``started_at``) leave out the jobs they reject.

        :raises StorageCorruptionError: a ``started_at`` is not a timestamp
            Fabric writes (the job is named, as a full decode names it).
        """
        months = self._by_start_month(where, params, keep, digest=False)
        return {month: rowids for month, (rowids, _) in months.items()}

    def digests_by_start_month(
        self,
        where: str = "",
        params: Sequence[Any] = (),
        *,
        keep: Callable[[datetime], bool] | None = None,
    ) -> dict[int, tuple[list[int], str]]:
        """:meth:`rowids_by_start_month`, each month with a digest of its rows' stored values.

        The digest changes when a job of the month is added, replaced by
        different values or no longer selected, and only then: it is the count
        of rows and the sum of a 128-bit BLAKE2b hash of each row's values,
        so it does not depend on the order rows are stored in. Every column of
        every selected row is read; none is decoded but ``started_at``.

        :raises StorageCorruptionError: a ``started_at`` is not a timestamp Fabric writes.
        """
        return self._by_start_month(where, params, keep, digest=True)

    def _by_start_month(
        self,
        where: str,
        params: Sequence[Any],
        keep: Callable[[datetime], bool] | None,
        *,
        digest: bool,
    ) -> dict[int, tuple[list[int], str]]:
        conn = self._connection()
        months: dict[int, list[int]] = {}
        sums: dict[int, int] = {}
        values = ", " + ", ".join(_COLUMN_NAMES) if digest else ""
        query = f"SELECT rowid, job_id, started_at{values} FROM jobs" + (
            f" WHERE {where}" if where else ""
        )
        encode = msgspec.msgpack.encode
        try:
            with collector_paused():
                for row in conn.execute(query, list(params)):
                    rowid, job_id, started_at = row[:3]
                    try:
                        started = stored_instant(started_at, "started_at")
                        utc = started.astimezone(UTC)
                    except (TypeError, ValueError, OverflowError) as exc:
                        raise self.undecodable(job_id, str(exc)) from None
                    if keep is not None and not keep(started):
                        continue
                    month = utc.year * 100 + utc.month
                    months.setdefault(month, []).append(rowid)
                    if digest:
                        hashed = hashlib.blake2b(encode(row[3:]), digest_size=16).digest()
                        sums[month] = (sums.get(month, 0) + int.from_bytes(hashed)) % _DIGEST_MOD
        except sqlite3.Error as exc:
            raise _read_error(self.path, exc) from exc
        return {
            month: (rowids, f"{len(rowids)}-{sums.get(month, 0):032x}" if digest else "")
            for month, rowids in sorted(months.items())
        }

    def load_jobs_by_rowid(self, rowids: Sequence[int]) -> list[IngestedJob]:
        """The jobs at these rowids, decoded and checked, in Fabric's order.

        :raises StorageCorruptionError: a row cannot be decoded.
        """
        conn = self._connection()
        jobs = []
        try:
            with collector_paused():
                for start in range(0, len(rowids), _IN_CHUNK):
                    chunk = rowids[start : start + _IN_CHUNK]
                    marks = ", ".join("?" * len(chunk))
                    for row in conn.execute(f"{_SELECT_ALL} WHERE rowid IN ({marks})", chunk):
                        jobs.append(self._decode_row(row))
                jobs.sort(key=job_order_key)
        except sqlite3.Error as exc:
            raise _read_error(self.path, exc) from exc
        return jobs

    def select_jobs(
        self, where: str = "", params: Sequence[Any] = (), *, outputs: bool = True
    ) -> list[IngestedJob]:
        """The jobs of the rows ``where`` selects, decoded and checked, in Fabric's order.

        ``where`` is a condition the package built (column names and ``?``
        placeholders only; values go in ``params``); empty selects every row.
        With ``outputs=False`` the rows are read without ``outputs_json`` and
        the jobs have no outputs (:func:`~fabric_nb._rows.decode_job_fields`):
        for answers computed from the other columns alone.

        :raises StorageCorruptionError: a selected row does not decode (the job is named).
        """
        conn = self._connection()
        columns = _COLUMN_NAMES if outputs else _COLUMN_NAMES[:-1]
        decode = self._decode_row if outputs else self._decode_fields
        sql = f"SELECT {', '.join(columns)} FROM jobs" + (f" WHERE {where}" if where else "")
        jobs = []
        with collector_paused():
            try:
                cursor = conn.execute(sql, params)
                try:
                    for row in cursor:
                        jobs.append(decode(row))
                finally:
                    cursor.close()
            except sqlite3.Error as exc:
                raise _read_error(self.path, exc) from exc
            jobs.sort(key=job_order_key)
        return jobs

    def stream_rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """:meth:`read_rows` one row at a time, for answers too large to hold at once.

        :raises StorageError: the statement cannot be run now.
        """
        try:
            yield from self._connection().execute(sql, params)
        except sqlite3.Error as exc:
            raise _read_error(self.path, exc) from exc

    def read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read-only statement the package built (a count, groups,
        distinct values), as SQLite returns them: undecoded, unchecked.

        :raises StorageError: the statement cannot be run now.
        """
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _read_error(self.path, exc) from exc

    def backup_into(self, destination: str | os.PathLike[str]) -> None:
        """Copy the whole database into ``destination`` with SQLite's online backup API.

        The copy is a consistent snapshot even while other processes write:
        it proceeds :data:`_BACKUP_STEP_PAGES` pages at a time, holding the
        read lock only during a step, so a writer waits milliseconds, not
        the whole copy. A commit by another process restarts the copy; after
        :data:`_BACKUP_MAX_RESTARTS` restarts the rest is copied in one step
        (a writer then waits for that step, well within its busy timeout).

        :raises StorageError: the copy failed (the destination is left as it is
            for the caller to remove).
        """
        conn = self._connection()
        restarts = 0
        last: int | None = None

        def progress(_status: int, remaining: int, _total: int) -> None:
            nonlocal restarts, last
            if last is not None and remaining >= last:
                restarts += 1
                if restarts > _BACKUP_MAX_RESTARTS:
                    raise _TooBusy
            last = remaining

        try:
            target = sqlite3.connect(destination, isolation_level=None)
            try:
                try:
                    conn.backup(target, pages=_BACKUP_STEP_PAGES, progress=progress, sleep=0.01)
                except _TooBusy:
                    conn.backup(target, pages=-1)
            finally:
                target.close()
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) in _CORRUPTION_CODES:
                raise _read_error(self.path, exc) from exc
            if _writing_failed(exc):
                raise BackupWriteError(
                    f"Cannot write the backup into {destination}: {exc} (the database "
                    f"{self.path} is fine)"
                ) from exc
            raise StorageError(f"Cannot back up {self.path} into {destination}: {exc}") from exc

    # -- writes ------------------------------------------------------------------

    def persist_job(self, job: IngestedJob) -> None:
        """Store one job in one transaction, replacing any job with the same id.

        The first write of a read-write storage decodes every stored row once
        (unless :meth:`load_all_jobs` already did): a store that would fail to
        load is never written to.

        :raises StorageError: ``Failed to persist job: <SQLite's message> (job 'ID')``;
            nothing of the job is stored.
        :raises UnstorableJobError: a value of the job is too big for SQLite
            (over :data:`MAX_STORED_VALUE_BYTES`) or cannot be stored at all.
        :raises StorageCorruptionError: a stored row does not decode.
        :raises InterruptedWrite: Ctrl-C arrived during the write; its
            ``committed`` says whether the job was stored.
        """
        self._write([job])

    def persist_jobs(self, jobs: Iterable[IngestedJob]) -> None:
        """Store many jobs in one transaction: all of them, or none.

        :raises StorageError: ``Failed to persist job: <SQLite's message> (jobs ...,
            none stored)``; none is stored.
        :raises UnstorableJobError: some jobs cannot be stored; its
            ``positions`` says which (indexes into ``jobs``); none is stored.
        :raises StorageCorruptionError: a stored row does not decode.
        :raises InterruptedWrite: Ctrl-C arrived during the write; its
            ``committed`` says whether the whole batch was stored.
        """
        self._write(list(jobs))

    def _write(self, jobs: Sequence[IngestedJob]) -> None:
        conn = self._connection()
        if not jobs:
            return
        what = _describe(jobs)
        if self.readonly:
            raise StorageError(f"{_PERSIST_FAILED}: storage {self.path} is read-only ({what})")
        if not self._rows_checked:
            self._check_rows(conn)
        rows = [encode_job(job) for job in jobs]
        began = committed = False
        limit = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_STORED_VALUE_BYTES)
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
                began = True
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                # An interrupt (Ctrl-C) that arrived during COMMIT is raised once
                # COMMIT has returned: then the transaction is over and the jobs
                # are stored, and whoever reports the interrupt must say so.
                committed = began and not conn.in_transaction
                rollback(conn)
                raise
        except KeyboardInterrupt as exc:
            raise InterruptedWrite(committed, len(jobs)) from exc
        # Binding also refuses values SQLite cannot hold: text with lone surrogates
        # (not UTF-8), integers beyond its 64-bit INTEGER, and values too big.
        except (sqlite3.Error, UnicodeEncodeError, OverflowError) as exc:
            unstorable = _unstorable_rows(rows) if _row_error(exc) else []
            if unstorable:
                positions = tuple(position for position, _ in unstorable)
                reasons = tuple(reason for _, reason in unstorable)
                shown = "; ".join(
                    f"job {short_repr(jobs[position].job_id)} {reason}"
                    for position, reason in unstorable
                )
                raise UnstorableJobError(
                    f"{_PERSIST_FAILED}: {shown} ({what})", positions, reasons
                ) from exc
            raise StorageError(f"{_PERSIST_FAILED}: {exc} ({what})") from exc
        finally:
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)

    def _check_rows(self, conn: sqlite3.Connection) -> set[str]:
        """Decode every stored row once before the first write; their ids.

        A store the index would refuse (a row that does not decode) is refused
        for writing too, whatever path writes to it.

        :raises StorageCorruptionError: a row cannot be decoded.
        """
        ids = set()
        with collector_paused():
            try:
                cursor = conn.execute(_SELECT_ALL)
                try:
                    for row in cursor:
                        ids.add(self._decode_row(row).job_id)
                finally:
                    cursor.close()
            except sqlite3.Error as exc:
                raise _read_error(self.path, exc) from exc
        self._rows_checked = True
        return ids

    # -- internals ---------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"Storage {self.path} is not open")
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        _refuse_special(path)
        if self.readonly:
            if not path.exists():
                raise StorageError(
                    f"Storage file not found: {path} (read-only mode never creates it)"
                )
            mode = "ro"
        else:
            _create_private(path)
            mode = "rw"  # the file exists now: SQLite must never create it (mode 0644)
        _refuse_wal(path)
        # Always a ``file:`` URI of the absolute path: a name SQLite would treat
        # specially (``:memory:``, ``""``) is a file like any other.
        target = f"file:{quote(os.fsencode(os.path.abspath(path)))}?mode={mode}"
        try:
            # check_same_thread=False: several histories are opened (and checked)
            # in worker threads, then used by the caller's thread; a connection
            # is never used by two threads at once.
            conn = sqlite3.connect(
                target,
                uri=True,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open storage {path}: {exc}") from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.readonly:
                conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
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
        except sqlite3.Error as exc:
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

        def create(conn: sqlite3.Connection) -> None:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            empty = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
            if version == 0 and empty:
                conn.execute(TABLE_STATEMENT)
                for statement in INDEX_STATEMENTS:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {STORAGE_SCHEMA_VERSION}")

        try:
            in_transaction(conn, create)
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot initialise storage {self.path}: {exc}") from exc
        self._check_version(conn)

    def _check_integrity(self, conn: sqlite3.Connection) -> None:
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            entries = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        except sqlite3.Error as exc:
            raise _read_error(self.path, exc) from exc
        if problems != ["ok"]:
            shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
            raise StorageCorruptionError(f"Database corruption detected in {self.path}: {shown}")
        differences = schema_differences(entries)
        if differences:
            raise StorageCorruptionError(
                f"Database corruption detected in {self.path}: schema version "
                f"{STORAGE_SCHEMA_VERSION} but not Fabric's schema: {'; '.join(differences)}"
            )

    def _decode_row(self, row: Sequence[Any]) -> IngestedJob:
        return self._decoded(decode_job, row)

    def _decode_fields(self, row: Sequence[Any]) -> IngestedJob:
        return self._decoded(decode_job_fields, row)

    def _decoded(
        self, decode: Callable[[Sequence[Any]], IngestedJob], row: Sequence[Any]
    ) -> IngestedJob:
        try:
            return decode(row)
        except (ValueError, TypeError, KeyError) as exc:
            problem = str(exc)
        except RecursionError:  # JSON nested deeper than the decoder can follow
            problem = "outputs_json is nested too deeply to be outputs"
        raise self.undecodable(row[0], problem)

    def started_span(self) -> tuple[datetime | None, datetime | None]:
        """The earliest and the latest ``started_at`` stored, as instants.

        Two passes over one column, no row decoded: what an opened history
        shows as the period it covers. Offsets are compared as instants.

        :raises StorageCorruptionError: one of the two values does not decode.
        """
        conn = self._connection()
        ends = []
        for order in ("ASC", "DESC"):
            query = (
                "SELECT job_id, started_at FROM jobs "
                f"ORDER BY julianday(started_at) {order}, started_at {order} LIMIT 1"
            )
            try:
                row = conn.execute(query).fetchone()
            except sqlite3.Error as exc:
                raise _read_error(self.path, exc) from exc
            if row is None:
                return None, None
            try:
                ends.append(stored_instant(row[1], "started_at"))
            except (ValueError, TypeError) as exc:
                raise self.undecodable(row[0], str(exc)) from None
        return ends[0], ends[1]

    def undecodable(self, job_id: Any, problem: str) -> StorageCorruptionError:
        """The error for stored job ``job_id`` whose row does not decode, ``problem`` saying why."""
        return StorageCorruptionError(
            f"Database corruption detected in {self.path}: job {short_repr(job_id)} "
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
            f"Cannot read storage {path} in read-only mode: it has a hot journal, "
            f"{path}-journal: a write to it was interrupted (a crash or a kill). "
            "The journal holds the pages that write changed; opening the store once "
            "read-write rolls it back, which returns the store to its last committed "
            f"state. But if {path} was replaced since (restored from a backup, copied "
            "over), the journal belongs to the old file and rolling it back would damage "
            f"the new one: then delete {path}-journal first. See 'Restoring a backup' "
            "in docs/persistence.md"
        )
    return StorageError(f"Cannot read storage {path}: {exc}")


#: SQLite's codes for a write that failed on the file written: a full disk, a
#: file size limit (``ulimit -f``: EFBIG), a read-only or missing destination.
_WRITE_FAILURES: Final[frozenset[int]] = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY}
)


def _writing_failed(exc: sqlite3.Error) -> bool:
    """Whether a backup failed writing its copy (rather than reading the database)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return False
    # Extended I/O codes keep SQLITE_IOERR in their low byte; only reads are the source's.
    if code & 0xFF == sqlite3.SQLITE_IOERR:
        return code not in (sqlite3.SQLITE_IOERR_READ, sqlite3.SQLITE_IOERR_SHORT_READ)
    return code & 0xFF in _WRITE_FAILURES


def _row_error(exc: BaseException) -> bool:
    """Whether a failed write was refused because of a value, not of the store."""
    if isinstance(exc, (UnicodeEncodeError, OverflowError)):
        return True
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_TOOBIG


def _unstorable_rows(rows: Sequence[Sequence[Any]]) -> list[tuple[int, str]]:
    """The jobs of a failed batch that SQLite cannot store, and why; found after the fact.

    Only run when a write failed with a value error, so the cost of measuring
    every value never falls on a write that succeeds.
    """
    found = []
    for position, row in enumerate(rows):
        total = 0
        problem = None
        for name, value in zip(_COLUMN_NAMES, row, strict=True):
            if isinstance(value, str):
                try:
                    size = len(value.encode("utf-8"))
                except UnicodeEncodeError:
                    problem = f"cannot be stored: {name} is not valid Unicode text"
                    break
                if size > MAX_STORED_VALUE_BYTES:
                    problem = (
                        f"is too big to store: {name} is {size} bytes, "
                        f"the limit is {MAX_STORED_VALUE_BYTES}"
                    )
                    break
                total += size
            elif isinstance(value, int) and not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
                problem = f"cannot be stored: {name} is beyond SQLite's 64-bit integers"
                break
        # A record also holds a header of up to 9 bytes per column.
        if problem is None and total + 9 * len(row) > MAX_STORED_VALUE_BYTES:
            problem = (
                f"is too big to store: its row is {total} bytes, "
                f"the limit is {MAX_STORED_VALUE_BYTES}"
            )
        if problem is not None:
            found.append((position, problem))
    return found


class _TooBusy(Exception):
    """A backup restarted too often: copy the rest in one step."""


#: The spec's symptom, verbatim: every failed write starts with it (operators alert on it).
_PERSIST_FAILED: Final[str] = "Failed to persist job"


def _describe(jobs: Sequence[IngestedJob]) -> str:
    """Which jobs a failed write was for, said after the spec's words and the cause."""
    if len(jobs) == 1:
        return f"job {short_repr(jobs[0].job_id)}"
    first, last = short_repr(jobs[0].job_id), short_repr(jobs[-1].job_id)
    return f"jobs {first} ... {last}, {len(jobs)} jobs, none stored"


def _refuse_special(path: Path) -> None:
    """Refuse a path, or a side file of it, that is not a regular file.

    A FIFO would block SQLite's open for ever and a device never end. SQLite
    opens the side files too (a journal, to see whether it is hot), next to
    the real file when the path is a symlink.
    """
    try:
        mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise StorageError(f"Cannot open storage {path}: {exc.strerror or exc}") from exc
    if mode is not None and stat.S_ISDIR(mode):
        raise StorageError(f"Cannot open storage {path}: it is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        raise StorageError(
            f"Cannot open storage {path}: it is {file_kind(mode)}, not a regular file"
        )
    for base in dict.fromkeys((str(path), os.path.realpath(path))):
        for suffix in SQLITE_SIDE_SUFFIXES:
            side = base + suffix
            try:
                side_mode = os.stat(side).st_mode
            except OSError:
                continue
            if not stat.S_ISREG(side_mode):
                raise StorageError(
                    f"Cannot open storage {path}: its side file {side} is "
                    f"{file_kind(side_mode)}, not a regular file"
                )


_SQLITE_MAGIC: Final[bytes] = b"SQLite format 3\x00"


def _refuse_wal(path: Path) -> None:
    """Refuse a file another tool switched to WAL, or a stray ``-wal``/``-shm``
    beside a file that is not in WAL mode, before SQLite opens it.

    SQLite would open it in WAL mode and create ``-wal``/``-shm`` side files,
    even read-only; and the ``-wal`` may hold committed jobs that are not in
    the file itself, so nothing Fabric does may make an operator delete it.
    Bytes 18 and 19 of the header are 2 in WAL mode, 1 with a rollback journal.
    """
    try:
        fd = open_regular_file(path)  # never blocks, even on a FIFO swapped in since
    except NotRegularFileError as exc:
        raise StorageError(f"Cannot open storage {path}: it {exc}") from exc
    except OSError as exc:
        raise StorageError(f"Cannot open storage {path}: {exc.strerror or exc}") from exc
    try:
        header = os.read(fd, 20)
    except OSError as exc:
        raise StorageError(f"Cannot read storage {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if header[:16] != _SQLITE_MAGIC or 2 not in header[18:20]:
        _refuse_stray_wal(path)
    else:
        raise StorageError(
            f"Cannot open storage {path}: it is in WAL journal mode (set by another tool); "
            "Fabric uses the rollback journal and leaves the file as it is. Switch it back "
            "to the rollback journal with SQLite's own tools (see 'A store in WAL mode' in "
            f"docs/persistence.md), which also moves the jobs committed in {path}-wal into "
            f"the file; never delete {path}-wal by hand: it may hold committed jobs"
        )


def _refuse_stray_wal(path: Path) -> None:
    """Refuse a rollback-journal store with a ``-wal`` or ``-shm`` file beside it.

    Such a file is never the store's own (a store in rollback-journal mode
    has no live WAL): it is left by another tool, or belongs to an older copy
    of the file. SQLite would still replay that ``-wal`` into the store (a
    restored backup silently losing or gaining jobs) and create a ``-shm``,
    even read-only; so nothing is opened and nothing is touched.
    """
    for base in dict.fromkeys((str(path), os.path.realpath(path))):
        # -wal and -shm; a -journal beside a rollback-journal store is its own (hot journal)
        for suffix in SQLITE_SIDE_SUFFIXES[1:]:
            side = base + suffix
            if os.path.lexists(side):
                raise StorageError(
                    f"Cannot open storage {path}: {side} lies beside it, but the store uses "
                    "the rollback journal, so that file is not its own (left by another tool, "
                    "or by an older copy of the store) and SQLite would apply it to the store. "
                    f"Move {base}-wal and {base}-shm out of the way (keep them while they may "
                    "hold another copy's jobs), then run again; see 'Backup and restore, for "
                    "operators' in docs/cli.md"
                )


def _create_private(path: Path) -> None:
    """Create missing folders (0700) and an empty file (0600) for a new store.

    A dangling symlink is followed: the file it points to is created, 0600 too.
    """
    if path.is_symlink() and not path.exists():
        path = Path(os.path.realpath(path))
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        create_owner_only(path)
    except OSError as exc:
        raise StorageError(f"Cannot create storage {path}: {exc.strerror or exc}") from exc
