"""What incremental ingest remembers about each file, kept beside the database.

The Fabric database holds exactly the spec's ``jobs`` table, so what ingest
remembers about files lives in a file of its own, ``<database>.ingest-cache``
(e.g. ``fabric.db.ingest-cache``), a small SQLite file. For each file it
records the ``stat`` taken before the file was read (size, mtime, ctime,
inode, all in nanoseconds), a BLAKE2b digest of the bytes read, and the
outcome: *stored* (with the ``job_id`` and the ``ingested_at`` written),
*rejected* (with the reason) or *skipped* (a JobSpec, with the reason).

A file is *unchanged* when its ``stat`` is identical to the recorded one and
the record is not *racy*. A record is racy when the file was modified less
than :data:`RACY_WINDOW_NS` before it was scanned (the way ``git`` handles
its index): a rewrite within the same second, with the same size, on a
filesystem that keeps whole seconds, would leave the ``stat`` as it was, so
a racy record is only trusted after the file's bytes are read again and
their digest compared. A file whose ``stat`` changed is read again; when its
digest is still the recorded one (``touch``, a share mounted again) nothing
is parsed or written.

The cache is never trusted blindly and never needed:

- a *stored* record counts only while the database still holds that job
  with the very ``ingested_at`` the record wrote (a restored, replaced or
  deleted database makes the file be read again); the cache also keeps the
  database's change marker at which all its records last held
  (:meth:`IngestCache.holds_at`), so that while nothing else has written to
  the database that check need not read every row;
- records are written only after the batch they describe has committed to
  the database, so a crash can only make the cache forget, never lie;
- a damaged cache (not SQLite, a page that cannot be read, another layout) is
  deleted and rebuilt with a warning: the run reads every file again;
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
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import msgspec

from ._collector import collector_paused
from .regular_files import file_kind
from .scan import ScannedFile
from .storage import BUSY_TIMEOUT_SECONDS

__all__ = [
    "CACHE_SUFFIX",
    "RACY_WINDOW_NS",
    "CacheEntry",
    "IngestCache",
    "Outcome",
    "cache_path_for",
    "content_digest",
]

#: Appended to the database's file name to name its cache.
CACHE_SUFFIX: Final[str] = ".ingest-cache"
#: A file modified less than this before it was scanned is checked by content
#: next time, not by ``stat`` alone: 10 s covers filesystems that keep whole
#: (or even two) seconds and a file server whose clock is a few seconds off.
RACY_WINDOW_NS: Final[int] = 10_000_000_000
#: Identifies the cache's layout; another value means another layout (rebuilt).
_LAYOUT: Final[int] = 3
#: SQLite ``application_id`` of a cache file: "FNIC".
_APPLICATION_ID: Final[int] = 0x464E4943

State = Literal["stored", "rejected", "skipped"]

_META_SCHEMA: Final[str] = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
#: The records are a log: each row is one write (a batch's records, or files
#: untracked), a MessagePack array of [path, record or nil] pairs; a later
#: row wins. Appending one row per batch costs a fraction of a row per file,
#: which a first ingest would pay 100k times. The log is compacted into one
#: record per file when it holds more than twice as many as are live.
_SCHEMA: Final[str] = "CREATE TABLE log (seq INTEGER PRIMARY KEY, entries BLOB NOT NULL)"
_COLUMNS: Final[tuple[str, ...]] = ("seq", "entries")
#: Records per row when the log is compacted (a row stays a few MB).
_COMPACT_CHUNK: Final[int] = 20_000
#: The fields of a packed record, in order: what decides whether a file is
#: unchanged first (kept in memory for every file), the digest and reason last.
_RECORD: Final[tuple[str, ...]] = (
    "size",
    "mtime_ns",
    "ctime_ns",
    "inode",
    "scanned_ns",
    "state",
    "job_id",
    "ingested_at",
    "digest",
    "reason",
)
_SET_MARKER: Final[str] = "INSERT OR REPLACE INTO meta (key, value) VALUES ('database', ?)"
_APPEND: Final[str] = "INSERT INTO log (entries) VALUES (?)"
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder().decode
_STATES: Final[frozenset[str]] = frozenset(("stored", "rejected", "skipped"))


def cache_path_for(database: str | os.PathLike[str]) -> Path:
    """The cache file of ``database``: the same name with :data:`CACHE_SUFFIX` added."""
    path = Path(database)
    return path.with_name(path.name + CACHE_SUFFIX)


def content_digest(raw: bytes) -> bytes:
    """The digest the cache keeps of a file's bytes (BLAKE2b, 16 bytes)."""
    return hashlib.blake2b(raw, digest_size=16).digest()


class CacheEntry(NamedTuple):
    """What the cache recorded about one file (a tuple: a cache holds one per file)."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    scanned_ns: int
    digest: bytes
    state: State
    job_id: str | None
    ingested_at: str | None
    reason: str | None

    def same_stat(self, info: os.stat_result) -> bool:
        """Whether ``info`` is the ``stat`` recorded (size, mtime, ctime, inode)."""
        return (
            info.st_size == self.size
            and info.st_mtime_ns == self.mtime_ns
            and info.st_ctime_ns == self.ctime_ns
            and info.st_ino == self.inode
        )

    @property
    def racy(self) -> bool:
        """Modified too close to its scan for the ``stat`` alone to be trusted."""
        return max(self.mtime_ns, self.ctime_ns) >= self.scanned_ns - RACY_WINDOW_NS

    def holds(self, stamps: Mapping[str, str] | None, written: Set[tuple[str, str]]) -> bool:
        """Whether this record is still true of the database.

        :param stamps: the database's ``ingested_at`` by ``job_id``; ``None``
            when every record is known to hold (:meth:`IngestCache.holds_at`).
        :param written: every (``job_id``, ``ingested_at``) the cache's stored
            records wrote (:meth:`IngestCache.written`).

        A *stored* record holds while the database has its job as written by
        a file the cache knows: by this file, or by a later file with the
        same ``job_id`` that replaced it. Rejected and skipped records always
        hold.
        """
        if self.state != "stored" or stamps is None:
            return True
        job_id = self.job_id
        return job_id is not None and (job_id, stamps.get(job_id)) in written

    def trusted(
        self, info: os.stat_result, stamps: Mapping[str, str], written: Set[tuple[str, str]]
    ) -> bool:
        """Whether the file can be counted from this record without being read.

        The same ``stat``, not racy, and the record still holds.
        """
        mtime, ctime = self.mtime_ns, self.ctime_ns
        return (
            info.st_mtime_ns == mtime
            and info.st_size == self.size
            and info.st_ctime_ns == ctime
            and info.st_ino == self.inode
            and (mtime if mtime > ctime else ctime) < self.scanned_ns - RACY_WINDOW_NS
            and (self.state != "stored" or (self.job_id, stamps.get(self.job_id or "")) in written)
        )


class Outcome(NamedTuple):
    """One file's result, to record: a row of the cache as it is written.

    ``key`` is the file's absolute path (:attr:`ScannedFile.key
    <fabric_nb.scan.ScannedFile.key>`), then the ``stat`` taken before the
    file was read and when it was taken. ``digest`` is empty when the file
    was not racy and had no record: only a racy record needs its digest (to
    be trusted), and the digest of a file read for the first time would only
    serve to recognise it after a ``touch``.
    """

    key: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    scanned_ns: int
    state: State
    job_id: str | None
    ingested_at: str | None
    digest: bytes
    reason: str | None

    @classmethod
    def of(
        cls,
        key: str,
        stat: os.stat_result,
        scanned_ns: int,
        digest: bytes,
        state: State,
        job_id: str | None = None,
        ingested_at: str | None = None,
        reason: str | None = None,
    ) -> Outcome:
        """The outcome of the file at ``key`` whose ``stat`` was taken at ``scanned_ns``."""
        return cls._make(
            (
                key,
                stat.st_size,
                stat.st_mtime_ns,
                stat.st_ctime_ns,
                stat.st_ino,
                scanned_ns,
                state,
                job_id,
                ingested_at,
                digest,
                reason,
            )
        )


class IngestCache:
    """The open cache file of one database.

    Every failure of the cache itself is reported through ``warn`` and turns
    the cache off for the rest of the run (it then answers "not known" and
    records nothing): an ingest never fails because of its cache.

    :param database: the Fabric database the cache belongs to.
    :param warn: called with one line for each problem (a damaged cache
        rebuilt, a cache that cannot be written).
    """

    def __init__(self, database: str | os.PathLike[str], *, warn: Callable[[str], None]) -> None:
        self.path: Path = cache_path_for(database)
        self._warn = warn
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        # path -> its record, the fields of _RECORD, for every file, in memory.
        self._brief: dict[str, Sequence[Any]] = {}
        self._written: set[tuple[str, str]] | None = None  # see written()
        self._logged = 0  # pairs in the log, live or not (see _compact_if_long)
        self._marker: str | None = None  # see holds_at()

    # -- lifecycle -----------------------------------------------------------------

    def open(self) -> None:
        """Open (creating, or rebuilding when damaged) and load the cache.

        A cache path (or a side file of it) that is not a regular file is
        left alone, with a warning: SQLite would block on a FIFO.
        """
        problem = _not_regular(self.path)
        if problem is not None:
            self._off(problem)
            return
        try:
            self._conn = self._connect()
            self._load()
        except (sqlite3.Error, _Damaged) as exc:
            self.close()
            self._warn(
                f"ingest cache {self.path} is damaged ({exc}); rebuilding it, "
                "so this run reads every file again"
            )
            self._discard()
            try:
                self._conn = self._connect()
                self._load()
            except (sqlite3.Error, _Damaged, OSError) as again:
                self._off(f"cannot rebuild it: {again}")
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
        """Load the records again, unless nobody wrote the cache since the last load."""
        if self._conn is None:
            return
        try:
            self._load()
        except (sqlite3.Error, _Damaged) as exc:
            self._off(f"cannot read it: {exc}")

    def _load(self) -> None:
        """Read the part of every record that decides; reading every page checks them too."""
        conn = self._conn
        assert conn is not None
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if version == self._version:
            return
        with collector_paused():
            self._brief, self._logged = _read_log(conn)
        marker = conn.execute("SELECT value FROM meta WHERE key = 'database'").fetchone()
        self._marker = marker[0] if marker is not None and marker[0] else None
        self._version = version
        self._written = None

    def __len__(self) -> int:
        return len(self._brief)

    def recorded_paths(self) -> list[str]:
        """The absolute paths of every file with a record."""
        return list(self._brief)

    def written(self) -> set[tuple[str, str]]:
        """Every (``job_id``, ``ingested_at``) pair the stored records wrote."""
        if self._written is None:
            self._written = {
                (brief[6], brief[7])
                for brief in self._brief.values()
                if brief[5] == "stored" and brief[6] is not None and brief[7] is not None
            }
        return self._written

    def trusted_states(
        self, files: Iterable[ScannedFile], stamps: Mapping[str, str] | None
    ) -> tuple[list[State | None], int]:
        """For each scanned file, the recorded state if the file can be counted
        without being read, else ``None``; and how many of the files have a record.

        ``stamps`` ``None`` means every stored record is known to hold
        (:meth:`holds_at`).

        As :meth:`CacheEntry.trusted`, on the compact form the cache keeps in
        memory, in one loop (this runs over every file of every scan).
        """
        brief_of = self._brief.get
        window = RACY_WINDOW_NS
        written: set[tuple[str, str]] | None = None
        states: list[State | None] = []
        append = states.append
        hits = 0
        for _name, key, info in files:
            brief = brief_of(key)
            if brief is None:
                append(None)
                continue
            hits += 1
            size, mtime, ctime, inode, scanned, state, job_id, ingested_at = brief[:8]
            if (
                info.st_mtime_ns == mtime
                and info.st_size == size
                and info.st_ctime_ns == ctime
                and info.st_ino == inode
                and (mtime if mtime > ctime else ctime) < scanned - window
                and (
                    state != "stored"
                    or stamps is None
                    or (stamp := stamps.get(job_id)) == ingested_at  # the row this file wrote
                    or (job_id, stamp) in (written or (written := self.written()))
                )  # or the row a later file of the same job_id wrote
            ):
                append(state)
            else:
                append(None)
        return states, hits

    def holds_at(self) -> tuple[int, ...] | None:
        """The database's change marker at which every record was last known to hold.

        While the database shows this same marker
        (:meth:`FabricStorage.change_marker`), nothing has written to it
        since, so every stored record still holds without reading the
        database's stamps. Any new record clears it.
        """
        if self._marker is None:
            return None
        return tuple(int(part) for part in self._marker.split(":"))

    def all_hold(self, stamps: Mapping[str, str]) -> bool:
        """Whether every stored record holds against the database's ``stamps``."""
        written = None
        for brief in self._brief.values():
            if brief[5] != "stored":
                continue
            stamp = stamps.get(brief[6])
            if stamp != brief[7] and (brief[6], stamp) not in (
                written or (written := self.written())
            ):
                return False
        return True

    def __contains__(self, key: object) -> bool:
        """Whether the file whose absolute path is ``key`` has a record."""
        return key in self._brief

    def lookup(self, key: str) -> CacheEntry | None:
        """The whole record of the file whose absolute path is ``key``, if any."""
        record = self._brief.get(key)
        if record is None or record[5] not in _STATES:
            return None
        size, mtime, ctime, inode, scanned, state, job_id, ingested_at, digest, reason = record
        return CacheEntry(
            size, mtime, ctime, inode, scanned, digest, state, job_id, ingested_at, reason
        )

    # -- writes --------------------------------------------------------------------

    def record(
        self, outcomes: Iterable[Sequence[Any]], *, holds_at: tuple[int, ...] | None = None
    ) -> None:
        """Record these outcomes in one transaction (after their batch committed).

        An outcome is an :class:`Outcome`, or a plain tuple in its order.

        :param holds_at: the database's change marker at which every record,
            these included, is known to hold (see :meth:`holds_at`); without
            it the cache no longer claims one.
        """
        records = {o[0]: o[1:] for o in outcomes}  # an Outcome is a row: key, then the record
        marker = "" if holds_at is None else ":".join(str(part) for part in holds_at)
        if self._conn is None or (not records and (holds_at is None or marker == self._marker)):
            return
        entries = _pack(list(records.items())) if records else None

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_SET_MARKER, (marker,))
            if entries is not None:
                conn.execute(_APPEND, (entries,))

        try:
            self._transaction(write)
            self._marker = marker or None
        except sqlite3.Error as exc:
            self._off(f"cannot write it: {exc}")
            return
        self._brief.update(records)
        self._logged += len(records)
        self._written = None
        self._compact_if_long()

    def untrack(self, paths: Iterable[str]) -> None:
        """Stop keeping records of these paths: files that are gone (moved or deleted)."""
        keys = list(paths)
        if not keys or self._conn is None:
            return
        entries = _pack([(key, None) for key in keys])
        try:
            self._transaction(lambda conn: conn.execute(_APPEND, (entries,)))
        except sqlite3.Error as exc:
            self._off(f"cannot write it: {exc}")
            return
        for key in keys:
            self._brief.pop(key, None)
        self._logged += len(keys)
        self._written = None
        self._compact_if_long()

    def _compact_if_long(self) -> None:
        """Rewrite the log as one record per live file once it is mostly history."""
        if self._conn is None or self._logged <= 2 * len(self._brief) + _COMPACT_CHUNK:
            return

        def compact(conn: sqlite3.Connection) -> None:
            live, _ = _read_log(conn)  # under the write lock: others' rows included
            conn.execute("DELETE FROM log")
            items = list(live.items())
            for start in range(0, len(items), _COMPACT_CHUNK):
                conn.execute(_APPEND, (_pack(items[start : start + _COMPACT_CHUNK]),))
            self._brief, self._logged = live, len(live)

        try:
            with collector_paused():
                self._transaction(compact)
        except (sqlite3.Error, _Damaged) as exc:
            self._off(f"cannot write it: {exc}")
            return
        self._written = None

    # -- internals -----------------------------------------------------------------

    def _transaction(self, work: Callable[[sqlite3.Connection], object]) -> None:
        conn = self._conn
        assert conn is not None
        _in_transaction(conn, work)

    def _connect(self) -> sqlite3.Connection:
        existed = self.path.exists()
        if not existed:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous = NORMAL")  # disposable: see the module docstring
            app, layout = (
                conn.execute("PRAGMA application_id").fetchone()[0],
                conn.execute("PRAGMA user_version").fetchone()[0],
            )
            if (app, layout) == (0, 0):
                self._create(conn)
                app, layout = _APPLICATION_ID, _LAYOUT
            if (app, layout) != (_APPLICATION_ID, _LAYOUT):
                raise _Damaged(f"application_id {app}, layout {layout}: not this cache's")
            columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(log)"))
            if columns != _COLUMNS:
                raise _Damaged("the log table is missing or has other columns")
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        def create(conn: sqlite3.Connection) -> None:
            empty = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
            if empty and conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                conn.execute(_SCHEMA)
                conn.execute(_META_SCHEMA)
                conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {_LAYOUT}")

        _in_transaction(conn, create)

    def _discard(self) -> None:
        for path in (self.path, self.path.with_name(self.path.name + "-journal")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _off(self, why: str) -> None:
        self._warn(f"ingest cache {self.path}: {why}; continuing without it")
        self.close()
        self._marker = None
        self._brief = {}
        self._written = None


def _in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], object]) -> None:
    """Run ``work`` in one write transaction: committed whole, or rolled back and re-raised."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _not_regular(path: Path) -> str | None:
    """Why ``path`` or one of SQLite's side files of it is not a regular file, if so."""
    for candidate in (str(path), *(f"{path}{suffix}" for suffix in ("-journal", "-wal", "-shm"))):
        try:
            mode = os.stat(candidate).st_mode
        except OSError:
            continue
        if not stat.S_ISREG(mode):
            return f"{candidate} is {file_kind(mode)}, not a regular file"
    return None


class _Damaged(Exception):
    """The cache file is not a cache this code wrote."""


def _read_log(conn: sqlite3.Connection) -> tuple[dict[str, Sequence[Any]], int]:
    """The live record of every file, and how many pairs the log holds.

    :raises _Damaged: a row is not a list of [path, record or nil] pairs.
    """
    brief: dict[str, Sequence[Any]] = {}
    logged = 0
    width = len(_RECORD)
    for (entries,) in conn.execute("SELECT entries FROM log ORDER BY seq"):
        try:
            pairs = _unpack(entries)
            for key, record in pairs:
                if record is None:
                    brief.pop(key, None)
                elif type(record) is list and len(record) == width and type(key) is str:
                    brief[key] = record
                else:
                    raise _Damaged(f"the record of {key!r} is not a record")
        except (msgspec.DecodeError, TypeError, ValueError) as exc:
            raise _Damaged(f"a row of the log cannot be read: {exc}") from None
        logged += len(pairs)
    return brief, logged
