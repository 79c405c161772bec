"""What incremental ingest remembers about each file, kept beside the database.

The Fabric database holds exactly the spec's ``jobs`` table, so what ingest
remembers about files lives in a file of its own, ``<database>.ingest-cache``
(e.g. ``fabric.db.ingest-cache``), a small SQLite file. For each file it
keeps one :class:`Record`, one row of its ``files`` table: the ``stat``
taken before the file was read (size, mtime, ctime, inode, all in
nanoseconds) and when it was taken, what the file is (*stored*: a result
file, with its ``job_id``; *rejected*, with the reason; *skipped*, a JobSpec,
with the reason), and a BLAKE2b digest of the bytes read when one is needed.

A stored record also says whether the database row of its ``job_id`` is
*this file's* content: ``ingested_at`` is then the stamp of that row, and
``None`` when another file of the same ``job_id`` wins (see
:mod:`fabric_nb.bulk` for which one) or the row was replaced since. The
record of a file counts only while the database holds the very row that file
wrote, so a restored backup, a row replaced by another file and a deleted
row all make the file be read again.

A file is *unchanged* when its ``stat`` is identical to the recorded one and
the record is not racy (:func:`is_racy`): a rewrite within the same second,
with the same size, on a filesystem that keeps whole seconds, would leave the
``stat`` as it was, so a racy record is only trusted after the file's bytes
are read again and their digest compared (the way ``git`` handles its
index).

The records stay in the file: a run compares its scan with them in SQL
(:meth:`IngestCache.plan`, through temporary tables that SQLite keeps on
disk), so memory does not grow with the files a history has seen; only the
scan itself, a path and five integers per file, is held.

The cache is never trusted blindly and never needed:

- records are written only after the batch they describe has committed to
  the database, so a crash can only make the cache forget, never lie;
- the cache keeps a *proof* of the database (:meth:`IngestCache.proof`): its
  change marker and the SHA-256 of its bytes, taken at the end of a run that
  checked every row and wrote only rows it built, at which every record's
  ``ingested_at`` was the database's. While the database's bytes hash the
  same, nothing has changed them since (no writer, no restore, no bit rot),
  and a run need neither decode every row again nor read every stamp;
- a damaged cache (not SQLite, a page that cannot be read, another layout or
  table) is deleted and rebuilt with a warning: the run reads every file
  again; a cache of the previous layout is converted once;
- deleting it costs one full re-read and never changes the history;
- two processes share it through SQLite's own locking
  (``BEGIN IMMEDIATE`` and a busy timeout), the same way they share the
  database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import msgspec

from ._collector import collector_paused
from ._regular_files import file_kind
from ._scan import FileStat, ScannedFiles
from ._sqlite import SQLITE_SIDE_SUFFIXES, create_owner_only, in_transaction
from .storage import BUSY_TIMEOUT_SECONDS

__all__ = [
    "CACHE_SUFFIX",
    "RACY_WINDOW_NS",
    "IngestCache",
    "LastKnown",
    "Plan",
    "Record",
    "RunLedger",
    "cache_path_for",
    "content_digest",
    "is_racy",
]

#: Appended to the database's file name to name its cache.
CACHE_SUFFIX: Final[str] = ".ingest-cache"
#: A file modified less than this before it was scanned is checked by content
#: next time, not by ``stat`` alone: 10 s covers filesystems that keep whole
#: (or even two) seconds and a file server whose clock is a few seconds off.
RACY_WINDOW_NS: Final[int] = 10_000_000_000
#: Identifies the cache's layout; another value means another layout (rebuilt).
_LAYOUT: Final[int] = 5
#: The layout before: a log of MessagePack rows, converted once when found.
_LOG_LAYOUT: Final[int] = 4
#: SQLite ``application_id`` of a cache file: "FNIC".
_APPLICATION_ID: Final[int] = 0x464E4943
#: Inode numbers are unsigned 64-bit; SQLite integers are signed.
_WRAP: Final[int] = 1 << 64
_SIGNED_MAX: Final[int] = (1 << 63) - 1
#: Memory SQLite may use for the cache's pages (KiB, as ``cache_size`` takes it).
_PAGE_CACHE_KIB: Final[int] = 16_384

State = Literal["stored", "rejected", "skipped"]
_T = TypeVar("_T")


class Record(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """What the cache knows of one file, in the order it is stored.

    ``digest`` is empty unless the file was racy or had a record (only those
    need it); ``reason`` says why a file was rejected or skipped.
    """

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    scanned_ns: int
    state: State
    job_id: str | None = None
    ingested_at: str | None = None
    digest: bytes = b""
    reason: str | None = None

    @classmethod
    def of(
        cls, info: os.stat_result | FileStat, scanned_ns: int, state: State, **fields: object
    ) -> Record:
        """The record of a file whose ``stat`` ``info`` was taken at ``scanned_ns``."""
        return cls(
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,
            info.st_ino,
            scanned_ns,
            state,
            **fields,  # type: ignore[arg-type]
        )


def is_racy(mtime_ns: int, ctime_ns: int, scanned_ns: int) -> bool:
    """Whether a file changed too close to its scan for its ``stat`` alone to be trusted."""
    return (mtime_ns if mtime_ns > ctime_ns else ctime_ns) >= scanned_ns - RACY_WINDOW_NS


class LastKnown(Mapping[str, int]):
    """``job_id`` -> the position (in the scan) of the last unchanged file that
    holds it and is not read: a file read before that position loses to it.

    Kept in the cache's temporary tables, asked one ``job_id`` at a time.
    """

    def __init__(self, conn: sqlite3.Connection | None) -> None:
        self._conn = conn

    def __getitem__(self, job_id: str) -> int:
        if self._conn is not None:
            row = self._conn.execute("SELECT pos FROM temp.last WHERE job_id = ?", (job_id,))
            found = row.fetchone()
            if found is not None:
                return int(found[0])
        raise KeyError(job_id)

    def __iter__(self) -> Iterator[str]:
        if self._conn is not None:
            yield from (row[0] for row in self._conn.execute("SELECT job_id FROM temp.last"))

    def __len__(self) -> int:
        if self._conn is None:
            return 0
        return int(self._conn.execute("SELECT count(*) FROM temp.last").fetchone()[0])


@dataclass(frozen=True, slots=True)
class Plan:
    """What one incremental run can take from the cache.

    :ivar read: the positions (in the scan) of the files to read, ascending.
    :ivar recorded: per position, 1 when the file has a record (its digest is
        then worth keeping), else 0.
    :ivar rejected: ``(position, reason)`` of the unchanged rejected files.
    :ivar skipped: ``(position, reason)`` of the unchanged skipped files.
    :ivar unchanged: unchanged files whose job's row is their content.
    :ivar superseded: unchanged files of a job a later file holds.
    :ivar unseen: whether some records are of files the scan did not find.
    :ivar last_known: see :class:`LastKnown`.
    """

    read: Sequence[int]
    recorded: bytes | bytearray
    rejected: list[tuple[int, str]]
    skipped: list[tuple[int, str]]
    unchanged: int
    superseded: int
    unseen: bool
    last_known: Mapping[str, int]


_COLUMNS: Final[str] = (
    "path, size, mtime_ns, ctime_ns, inode, scanned_ns, state, job_id, ingested_at, digest, reason"
)
#: One row per file. A path is text, or the bytes of its name when the name
#: is not UTF-8 (a camera card's ``Cam\xe9ra``). No ``CHECK`` constraints: they
#: would cost a first ingest a third of the cache's writes. What another tool
#: could write wrong is refused where it is read instead: a record whose state
#: or ``job_id`` is not one Fabric writes is never trusted (:data:`_TRUSTED`),
#: a stamp that is not text claims no row, and :meth:`IngestCache.get` gives
#: no record for a row of the wrong types.
_FILES_SCHEMA: Final[str] = """CREATE TABLE files (
    path PRIMARY KEY NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    scanned_ns INTEGER NOT NULL,
    state TEXT NOT NULL,
    job_id TEXT,
    ingested_at TEXT,
    digest BLOB NOT NULL,
    reason TEXT
) WITHOUT ROWID"""
_META_SCHEMA: Final[str] = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_SET_PROOF: Final[str] = "INSERT OR REPLACE INTO meta (key, value) VALUES ('database', ?)"
_PUT: Final[str] = f"INSERT OR REPLACE INTO files ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
#: The scan of this run, and what the plan keeps: SQLite's own temporary
#: tables of this connection, on disk (``temp_store = FILE``).
_TEMP_SCHEMA: Final[tuple[str, ...]] = (
    "DROP TABLE IF EXISTS temp.scan",
    "DROP TABLE IF EXISTS temp.last",
    "CREATE TEMP TABLE scan (pos INTEGER PRIMARY KEY, path NOT NULL, "
    "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, inode INTEGER)",
    "CREATE TEMP TABLE last (job_id TEXT PRIMARY KEY, pos INTEGER NOT NULL, "
    "stamp TEXT, files INTEGER NOT NULL) WITHOUT ROWID",
)
_STAMPS_SCHEMA: Final[tuple[str, ...]] = (
    "DROP TABLE IF EXISTS temp.stamps",
    "CREATE TEMP TABLE stamps (job_id TEXT PRIMARY KEY, stamp TEXT NOT NULL) WITHOUT ROWID",
)
#: A record is trusted when the scan's ``stat`` is the recorded one and the
#: record is not racy (see :func:`is_racy`).
_TRUSTED: Final[str] = (
    f"(f.size = s.size AND f.mtime_ns = s.mtime_ns AND f.ctime_ns = s.ctime_ns "
    f"AND f.inode = s.inode AND max(f.mtime_ns, f.ctime_ns) < f.scanned_ns - {RACY_WINDOW_NS} "
    "AND f.state IN ('stored', 'rejected', 'skipped') "
    "AND (f.state != 'stored' OR typeof(f.job_id) = 'text'))"
)
#: Scanned files to read (no record, or one not trusted) and unchanged files
#: that are not stored jobs, in scan order.
_NOT_TAKEN: Final[str] = f"""
    SELECT s.pos, f.path IS NOT NULL, f.path IS NOT NULL AND {_TRUSTED}, f.state, f.reason
    FROM temp.scan s LEFT JOIN files f ON f.path = s.path
    WHERE f.path IS NULL OR NOT {_TRUSTED} OR f.state != 'stored'
    ORDER BY s.pos"""
#: Per job, the last unchanged stored file (SQLite takes the bare columns of
#: ``max()``'s row) and how many unchanged stored files hold it.
_LAST: Final[str] = f"""
    INSERT INTO temp.last (job_id, pos, stamp, files)
    SELECT f.job_id, max(s.pos), f.ingested_at, count(*)
    FROM temp.scan s JOIN files f ON f.path = s.path
    WHERE {_TRUSTED} AND f.state = 'stored'
    GROUP BY f.job_id"""
#: The last unchanged file of a job is read when the job's row is not its
#: content: no stamp, or (when the stamps were compared) another stamp.
_STALE_LAST: Final[str] = "typeof(stamp) != 'text'"
_STALE_LAST_BY_STAMPS: Final[str] = (
    "typeof(stamp) != 'text' "
    "OR stamp IS NOT (SELECT t.stamp FROM temp.stamps t WHERE t.job_id = last.job_id)"
)


def cache_path_for(database: str | os.PathLike[str]) -> Path:
    """The cache file of ``database``: the same name with :data:`CACHE_SUFFIX` added."""
    path = Path(database)
    return path.with_name(path.name + CACHE_SUFFIX)


def content_digest(raw: bytes) -> bytes:
    """The digest the cache keeps of a file's bytes (BLAKE2b, 16 bytes)."""
    return hashlib.blake2b(raw, digest_size=16).digest()


class IngestCache:
    """The open cache file of one database.

    Every failure of the cache itself is reported through ``warn`` and turns
    the cache off for the rest of the run (it then answers "not known" and
    records nothing): an ingest never fails because of its cache. A page
    that cannot be read when a run plans is damage: the file is rebuilt.

    :param database: the Fabric database the cache belongs to.
    :param warn: called with one line for each problem (a damaged cache
        rebuilt, a cache that cannot be written).
    """

    def __init__(self, database: str | os.PathLike[str], *, warn: Callable[[str], None]) -> None:
        self.path: Path = cache_path_for(database)
        self._warn = warn
        self._conn: sqlite3.Connection | None = None
        self._proof: str | None = None
        self._stamps = False  # whether temp.stamps holds the database's stamps
        # Whether the last plan found no record: then no record but this run's
        # own can claim a row, and the run's notes already say which lost.
        self._fresh = False

    # -- lifecycle -----------------------------------------------------------------

    def open(self) -> None:
        """Open (creating, converting, or rebuilding when damaged) the cache.

        A cache path (or a side file of it) that is not a regular file is
        left alone, with a warning: SQLite would block on a FIFO.
        """
        problem = _not_regular(self.path)
        if problem is not None:
            self._off(problem)
            return
        try:
            self._conn = self._connect()
            self.refresh()
        except (sqlite3.Error, _Damaged) as exc:
            self._rebuild(exc)
        except OSError as exc:
            self._off(f"cannot open it: {exc.strerror or exc}")

    def close(self) -> None:
        """Close the file; closing twice does nothing."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def __enter__(self) -> IngestCache:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the proof again (another process may have written the cache)."""
        if self._conn is None:
            return
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'database'").fetchone()
        except sqlite3.Error as exc:
            self._off(f"cannot read it: {exc}")
            return
        self._proof = row[0] if row is not None and row[0] else None

    def __len__(self) -> int:
        """How many files have a record."""
        if self._conn is None:
            return 0
        return int(self._read(lambda c: c.execute("SELECT count(*) FROM files").fetchone()[0], 0))

    def __contains__(self, key: object) -> bool:
        """Whether the file whose absolute path is ``key`` has a record."""
        return isinstance(key, str) and self.get(key) is not None

    def get(self, key: str) -> Record | None:
        """The record of the file whose absolute path is ``key``, if any."""
        if self._conn is None:
            return None
        query = f"SELECT {_COLUMNS} FROM files WHERE path = ?"
        row = self._read(lambda c: c.execute(query, (_storable_path(key),)).fetchone(), None)
        return None if row is None else _record(row)

    def proof(self) -> str | None:
        """The proof of the database at which every record was last known to hold.

        Written by :meth:`record`: the database's change marker and the
        SHA-256 of its bytes, as one string. While the database gives the
        same proof, every row decodes and every record's ``ingested_at`` is
        the one the database holds, so neither need be read again.
        """
        return self._proof

    def compare_stamps(self, stamps: Iterable[tuple[str, str]]) -> None:
        """Take the database's ``(job_id, ingested_at)`` pairs for this run.

        Without them (the database is at :meth:`proof`), every recorded
        stamp is taken to be the database's. They are copied into a
        temporary table of this connection, not held in memory.
        """
        conn = self._conn
        if conn is None:
            return

        def load(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO temp.stamps VALUES (?, ?)", stamps)

        try:
            for statement in _STAMPS_SCHEMA:
                conn.execute(statement)
            in_transaction(conn, load, lock=False)
            self._stamps = True
        except sqlite3.Error as exc:
            self._off(f"cannot write it: {exc}")

    def stamp_of(self, job_id: str) -> str | None:
        """The database's stamp of ``job_id`` as given to :meth:`compare_stamps`."""
        if self._conn is None or not self._stamps:
            return None
        query = "SELECT stamp FROM temp.stamps WHERE job_id = ?"
        row = self._read(lambda c: c.execute(query, (job_id,)).fetchone(), None)
        return None if row is None else str(row[0])

    def plan(self, files: ScannedFiles, *, full: bool = False) -> Plan:
        """Which scanned files are unchanged and need not be read.

        A file is unchanged when its record is trusted (the same ``stat``,
        not racy). A stored one still has to be read when it is the last
        file of its ``job_id`` in the scan and the database's row of that
        ``job_id`` is not its content: its record has no stamp, or (stamps
        given to :meth:`compare_stamps`) another stamp than the database's.
        ``full`` reads every file (and says which have a record).
        """
        everything = Plan(range(len(files)), bytes(len(files)), [], [], 0, 0, False, {})
        conn = self._conn
        self._fresh = False
        if conn is None:
            return everything
        try:
            for statement in _TEMP_SCHEMA:
                conn.execute(statement)
            if conn.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None:
                self._fresh = True
                return everything  # a first run: nothing to compare
            # One transaction: the scan's rows, and one view of the records.
            work = self._recorded if full else self._compare
            return in_transaction(conn, lambda conn: work(conn, files), lock=False)
        except sqlite3.Error as exc:
            if _is_damage(exc):
                self._rebuild(exc)
            else:
                self._off(f"cannot read it: {exc}")
            return everything

    def _recorded(self, conn: sqlite3.Connection, files: ScannedFiles) -> Plan:
        """The plan of a ``--full`` run: every file read, and which have a record."""
        conn.executemany("INSERT INTO temp.scan VALUES (?, ?, ?, ?, ?, ?)", _scan_rows(files))
        recorded = bytearray(len(files))
        hits = 0
        for (pos,) in conn.execute("SELECT s.pos FROM temp.scan s JOIN files f ON f.path = s.path"):
            recorded[pos] = 1
            hits += 1
        total = int(conn.execute("SELECT count(*) FROM files").fetchone()[0])
        return Plan(range(len(files)), recorded, [], [], 0, 0, hits < total, {})

    def _compare(self, conn: sqlite3.Connection, files: ScannedFiles) -> Plan:
        conn.executemany("INSERT INTO temp.scan VALUES (?, ?, ?, ?, ?, ?)", _scan_rows(files))
        read: list[int] = []
        recorded = bytearray(len(files))
        rejected: list[tuple[int, str]] = []
        skipped: list[tuple[int, str]] = []
        hits = 0
        with collector_paused():
            for pos, has_record, trusted, state, reason in conn.execute(_NOT_TAKEN):
                hits += has_record
                if not trusted:
                    read.append(pos)
                    recorded[pos] = has_record
                elif state == "rejected":
                    rejected.append((pos, _text_or(reason, "rejected")))
                else:
                    skipped.append((pos, _text_or(reason, "not a result file")))
        conn.execute(_LAST)
        jobs, stored = conn.execute("SELECT count(*), total(files) FROM temp.last").fetchone()
        stale = _STALE_LAST_BY_STAMPS if self._stamps else _STALE_LAST
        again = [row[0] for row in conn.execute(f"SELECT pos FROM temp.last WHERE {stale}")]
        conn.execute(f"DELETE FROM temp.last WHERE {stale}")
        total = int(conn.execute("SELECT count(*) FROM files").fetchone()[0])
        stored = int(stored)
        hits += stored
        if again:
            read = sorted([*read, *again])
            for pos in again:
                recorded[pos] = 1
        return Plan(
            read=read,
            recorded=recorded,
            rejected=rejected,
            skipped=skipped,
            unchanged=jobs - len(again),
            superseded=stored - jobs,
            unseen=hits < total,
            last_known=LastKnown(conn),
        )

    # -- writes --------------------------------------------------------------------

    def record(
        self,
        entries: Iterable[tuple[str, Record]],
        *,
        winners: Mapping[str, str] | None = None,
        written: Mapping[str, str] | None = None,
        proof: str | None = None,
    ) -> None:
        """Record these files in one transaction (after their batch committed).

        :param winners: ``job_id`` -> the path of the file whose content its
            row now is, for every row the run wrote or confirmed: any other
            record of those jobs stops claiming the row.
        :param written: the stamps of the rows the run wrote; given when the
            stamps were compared (:meth:`compare_stamps`), every record whose
            stamp is not the database's after the run stops claiming its row.
        :param proof: the database's proof at which every record, these
            included, holds (see :meth:`proof`); without it the cache no
            longer claims one.
        """
        self.record_rows(
            [_row(key, record) for key, record in entries],
            winners=winners,
            written=written,
            proof=proof,
        )

    def record_rows(
        self,
        rows: list[tuple[object, ...]],
        *,
        winners: Mapping[str, str] | None = None,
        written: Mapping[str, str] | None = None,
        proof: str | None = None,
    ) -> None:
        """:meth:`record` of rows in the stored column order (what :class:`RunLedger` notes)."""
        value = proof or ""
        if self._conn is None or (not rows and not winners and value == (self._proof or "")):
            return
        check_stamps = written is not None and self._stamps

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_SET_PROOF, (value,))
            if check_stamps:
                assert written is not None
                conn.executemany(
                    "INSERT OR REPLACE INTO temp.stamps VALUES (?, ?)", written.items()
                )
                conn.execute(
                    "UPDATE files SET ingested_at = NULL WHERE ingested_at IS NOT NULL AND "
                    "ingested_at IS NOT (SELECT t.stamp FROM temp.stamps t "
                    "WHERE t.job_id = files.job_id)"
                )
            if winners and not self._fresh:
                _clear_losers(conn, winners)
            conn.executemany(_PUT, rows)

        try:
            self._transaction(write)
            self._proof = proof
        except sqlite3.Error as exc:
            self._off(f"cannot write it: {exc}")

    def untrack(self, paths: Iterable[str]) -> None:
        """Stop keeping records of these paths: files that are gone (moved or deleted)."""
        keys = [(_storable_path(key),) for key in paths]
        if not keys or self._conn is None:
            return
        try:
            self._transaction(
                lambda conn: conn.executemany("DELETE FROM files WHERE path = ?", keys)
            )
        except sqlite3.Error as exc:
            self._off(f"cannot write it: {exc}")

    def untrack_gone(self) -> None:
        """Drop the records of files that no longer exist, except those the last plan saw."""
        conn = self._conn
        if conn is None:
            return
        query = "SELECT path FROM files WHERE path NOT IN (SELECT path FROM temp.scan)"
        try:
            paths = [_path_text(row[0]) for row in conn.execute(query)]
        except sqlite3.Error as exc:
            self._off(f"cannot read it: {exc}")
            return
        self.untrack([path for path in paths if not os.path.lexists(path)])

    # -- internals -----------------------------------------------------------------

    def _read(self, work: Callable[[sqlite3.Connection], Any], default: Any) -> Any:
        conn = self._conn
        assert conn is not None
        try:
            return work(conn)
        except sqlite3.Error as exc:
            self._off(f"cannot read it: {exc}")
            return default

    def _transaction(self, work: Callable[[sqlite3.Connection], object]) -> None:
        conn = self._conn
        assert conn is not None
        in_transaction(conn, work)

    def _connect(self) -> sqlite3.Connection:
        create_owner_only(self.path)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous = NORMAL")  # disposable: see the module docstring
            conn.execute("PRAGMA temp_store = FILE")  # the scan's rows go to disk, not memory
            conn.execute(f"PRAGMA cache_size = -{_PAGE_CACHE_KIB}")
            app, layout = (
                conn.execute("PRAGMA application_id").fetchone()[0],
                conn.execute("PRAGMA user_version").fetchone()[0],
            )
            if (app, layout) == (0, 0):
                in_transaction(conn, _create)
                app, layout = _APPLICATION_ID, _LAYOUT
            if (app, layout) == (_APPLICATION_ID, _LOG_LAYOUT):
                with collector_paused():
                    in_transaction(conn, _convert_log)
                layout = _LAYOUT
            if (app, layout) != (_APPLICATION_ID, _LAYOUT):
                raise _Damaged(f"application_id {app}, layout {layout}: not this cache's")
            row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'files'").fetchone()
            if row is None or row[0] != _FILES_SCHEMA:
                raise _Damaged("the files table is missing or not this cache's")
        except BaseException:
            conn.close()
            raise
        return conn

    def _rebuild(self, exc: BaseException) -> None:
        self.close()
        self._warn(
            f"ingest cache {self.path} is damaged or from another version ({exc}); "
            "rebuilding it, so this run reads every file again"
        )
        self._discard()
        self._proof, self._stamps = None, False
        try:
            self._conn = self._connect()
        except (sqlite3.Error, _Damaged, OSError) as again:
            self._off(f"cannot rebuild it: {again}")

    def _discard(self) -> None:
        for path in (self.path, self.path.with_name(self.path.name + "-journal")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _off(self, why: str) -> None:
        self._warn(f"ingest cache {self.path}: {why}; continuing without it")
        self.close()
        self._proof = None
        self._stamps = False


def _create(conn: sqlite3.Connection) -> None:
    empty = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    if empty and conn.execute("PRAGMA user_version").fetchone()[0] == 0:
        conn.execute(_FILES_SCHEMA)
        conn.execute(_META_SCHEMA)
        conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {_LAYOUT}")


def _convert_log(conn: sqlite3.Connection) -> None:
    """Turn a cache of the log layout into the files table, keeping every record.

    :raises _Damaged: the log is not one this code wrote.
    """
    if conn.execute("PRAGMA user_version").fetchone()[0] != _LOG_LAYOUT:
        return  # another process converted it meanwhile
    records = _read_log(conn)
    conn.execute("DROP TABLE log")
    conn.execute(_FILES_SCHEMA)
    conn.executemany(_PUT, (_row(key, record) for key, record in records.items()))
    conn.execute(f"PRAGMA user_version = {_LAYOUT}")


def _clear_losers(conn: sqlite3.Connection, winners: Mapping[str, str]) -> None:
    """Records of the winners' jobs, other than the winners', stop claiming the row."""
    conn.execute("DROP TABLE IF EXISTS temp.winners")
    conn.execute("CREATE TEMP TABLE winners (job_id TEXT PRIMARY KEY, path NOT NULL) WITHOUT ROWID")
    conn.executemany(
        "INSERT INTO temp.winners VALUES (?, ?)",
        ((job_id, _storable_path(path)) for job_id, path in winners.items()),
    )
    conn.execute(
        "UPDATE files SET ingested_at = NULL WHERE ingested_at IS NOT NULL AND "
        "path IS NOT (SELECT w.path FROM temp.winners w WHERE w.job_id = files.job_id) AND "
        "job_id IN (SELECT job_id FROM temp.winners)"
    )
    conn.execute("DROP TABLE temp.winners")


def _scan_rows(files: ScannedFiles) -> Iterator[tuple[object, ...]]:
    """The rows of ``temp.scan``: position, path and the ``stat`` the records are compared with."""
    for position, key, size, mtime, ctime, ino in files.keyed_stats():
        yield (
            position,
            key if key.isascii() else _storable_path(key),
            size,
            mtime,
            ctime,
            ino if ino <= _SIGNED_MAX else ino - _WRAP,
        )


def _is_damage(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file is damaged (not busy, not out of space)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _signed(value: int) -> int:
    """An unsigned 64-bit integer as SQLite's signed one (the same 64 bits)."""
    return value - _WRAP if value > _SIGNED_MAX else value


def _storable_path(key: str) -> str | bytes:
    """The path as stored: text, or the bytes of a name that is not UTF-8."""
    if key.isascii():
        return key
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(key)
    return key


def _path_text(stored: str | bytes) -> str:
    return stored if isinstance(stored, str) else os.fsdecode(stored)


def _storable_text(text: str) -> str:
    """``text`` with anything that is not UTF-8 escaped (a reason naming such a path)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _row(key: str, record: Record) -> tuple[object, ...]:
    reason = record.reason
    if reason is not None and not reason.isascii():
        reason = _storable_text(reason)
    return (
        _storable_path(key),
        record.size,
        record.mtime_ns,
        record.ctime_ns,
        _signed(record.inode),
        record.scanned_ns,
        record.state,
        record.job_id,
        record.ingested_at,
        record.digest,
        reason,
    )


def _text_or(value: object, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _record(row: Sequence[Any]) -> Record | None:
    """The record a row holds; ``None`` when a value is not of the type Fabric writes."""
    inode = row[4]
    if not (
        all(type(value) is int for value in row[1:6])
        and row[6] in ("stored", "rejected", "skipped")
        and (row[7] is None or type(row[7]) is str)
        and (row[6] != "stored" or type(row[7]) is str)
        and (row[8] is None or type(row[8]) is str)
        and type(row[9]) is bytes
        and (row[10] is None or type(row[10]) is str)
    ):
        return None
    return Record(
        row[1],
        row[2],
        row[3],
        inode + _WRAP if inode < 0 else inode,
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
    )


class RunLedger:
    """The cache's side of one run: the files to read, and what to record of them.

    :param files: the scan.
    :param positions: the files to read: path as read -> position in ``files``.
    :param recorded: per position, whether the file has a record
        (:attr:`Plan.recorded`).
    :param trust: take a file whose bytes have the recorded digest as
        recorded (not under ``--full``).
    """

    def __init__(
        self,
        cache: IngestCache,
        scanned_ns: int,
        files: ScannedFiles,
        positions: Mapping[str, int],
        recorded: bytes | bytearray,
        *,
        trust: bool,
    ) -> None:
        self.cache = cache
        self.scanned_ns = scanned_ns
        self.files = files
        self.positions = positions
        self.recorded = recorded
        self.trust = trust
        # (absolute path, row in the stored column order) of each file noted.
        self._entries: list[tuple[str, tuple[object, ...]]] = []
        #: ``job_id`` -> the absolute path of the file whose content its row now
        #: is, for every row the run wrote or found to be a file's content.
        self.winners: dict[str, str] = {}

    def digest_of(self, path: str | Path, raw: bytes) -> bytes:
        """The digest to keep of ``raw``: empty unless the file is racy or has a record.

        A racy record is trusted only by its digest later; a file with a
        record may have the recorded bytes (``touch``). Otherwise the digest
        is never read, and hashing every file costs about 5 % of a first ingest.
        """
        position = self.positions.get(str(path))
        if position is None:
            return b""
        _, mtime_ns, ctime_ns, _ = self.files.identity(position)
        if self.recorded[position] or is_racy(mtime_ns, ctime_ns, self.scanned_ns):
            return content_digest(raw)
        return b""

    def known(self, path: str | Path, digest: bytes) -> Record | None:
        """The record of ``path`` when its bytes are the ones recorded."""
        position = self.positions.get(str(path))
        if not self.trust or position is None or not self.recorded[position]:
            return None
        record = self.cache.get(self.files.key(position))
        return record if record is not None and record.digest == digest else None

    def note(
        self,
        path: str | Path,
        state: State,
        digest: bytes,
        job_id: str | None = None,
        ingested_at: str | None = None,
        reason: str | None = None,
        *,
        wins: bool = False,
    ) -> None:
        """What ``path`` turned out to be, true now (its batch committed, if stored).

        :param wins: the row of ``job_id`` is now this file's content.
        """
        position = self.positions.get(str(path))
        if position is None:
            return
        key = self.files.key(position)
        size, mtime_ns, ctime_ns, inode = self.files.identity(position)
        row = (
            key if key.isascii() else _storable_path(key),
            size,
            mtime_ns,
            ctime_ns,
            inode if inode <= _SIGNED_MAX else inode - _WRAP,
            self.scanned_ns,
            state,
            job_id,
            ingested_at,
            digest,
            reason if reason is None or reason.isascii() else _storable_text(reason),
        )
        self._entries.append((key, row))
        if wins and job_id is not None:
            self.winners[job_id] = key

    def write(
        self,
        *,
        final: bool = False,
        written: Mapping[str, str] | None = None,
        proof: str | None = None,
    ) -> None:
        """Record what was noted; at the end of the run (``final``), the other
        records of the jobs the run settled stop claiming their rows.

        :param written: see :meth:`IngestCache.record`.
        :param proof: the database's proof at which every record now holds,
            when the run can tell (see :meth:`IngestCache.record`).
        """
        entries, self._entries = self._entries, []
        winners = self.winners
        # A file noted as its job's row and then beaten by a later file of the
        # same job_id in this run: its record must not claim the row.
        rows = [
            (*row[:8], None, *row[9:])
            if row[8] is not None
            and winners.get(row[7] if isinstance(row[7], str) else "", key) != key
            else row
            for key, row in entries
        ]
        if final:
            self.cache.record_rows(rows, winners=winners, written=written, proof=proof)
        else:
            self.cache.record_rows(rows)


def _not_regular(path: Path) -> str | None:
    """Why ``path`` or one of SQLite's side files of it is not a regular file, if so."""
    for candidate in (str(path), *(f"{path}{suffix}" for suffix in SQLITE_SIDE_SUFFIXES)):
        try:
            mode = os.stat(candidate).st_mode
        except OSError:
            continue
        if not stat.S_ISREG(mode):
            return f"{candidate} is {file_kind(mode)}, not a regular file"
    return None


class _Damaged(Exception):
    """The cache file is not a cache this code wrote."""


#: The log of layout 4: each row a MessagePack array of [path, record or nil]
#: pairs (a path as text, or its bytes when not UTF-8); a later row wins.
_LogPairs = list[tuple[Any, Record | None]]
_unpack_log = msgspec.msgpack.Decoder(_LogPairs).decode


def _read_log(conn: sqlite3.Connection) -> dict[str, Record]:
    """The live record of every file in a cache of the log layout.

    :raises _Damaged: a row is not a list of [path, record or nil] pairs.
    """
    records: dict[str, Record] = {}
    for (entries,) in conn.execute("SELECT entries FROM log ORDER BY seq"):
        try:
            pairs = _unpack_log(entries)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _Damaged(f"a row of the log cannot be read: {exc}") from None
        for key, record in pairs:
            if type(key) is bytes:
                key = os.fsdecode(key)
            elif type(key) is not str:
                raise _Damaged(f"a path in the log is {type(key).__name__}, not text")
            if record is None:
                records.pop(key, None)
            else:
                records[key] = record
    return records
