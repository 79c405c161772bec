"""What incremental ingest remembers about each file, kept beside the database.

The Fabric database holds exactly the spec's ``jobs`` table, so what ingest
remembers about files lives in a file of its own, ``<database>.ingest-cache``
(e.g. ``fabric.db.ingest-cache``), a small SQLite file. For each file it
keeps one :class:`Record`: the ``stat`` taken before the file was read
(size, mtime, ctime, inode, all in nanoseconds) and when it was taken, what
the file is (*stored*: a result file, with its ``job_id``; *rejected*, with
the reason; *skipped*, a JobSpec, with the reason), and a BLAKE2b digest of
the bytes read when one is needed.

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

The cache is never trusted blindly and never needed:

- records are written only after the batch they describe has committed to
  the database, so a crash can only make the cache forget, never lie;
- the cache keeps a *proof* of the database (:meth:`IngestCache.proof`): its
  change marker and the SHA-256 of its bytes, taken at the end of a run that
  checked every row and wrote only rows it built, at which every record's
  ``ingested_at`` was the database's. While the database's bytes hash the
  same, nothing has changed them since (no writer, no restore, no bit rot),
  and a run need neither decode every row again nor read every stamp;
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from ._collector import collector_paused
from .regular_files import file_kind
from .scan import ScannedFile
from .storage import BUSY_TIMEOUT_SECONDS, SQLITE_SIDE_SUFFIXES

__all__ = [
    "CACHE_SUFFIX",
    "RACY_WINDOW_NS",
    "IngestCache",
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
_LAYOUT: Final[int] = 4
#: SQLite ``application_id`` of a cache file: "FNIC".
_APPLICATION_ID: Final[int] = 0x464E4943

State = Literal["stored", "rejected", "skipped"]


class Record(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """What the cache knows of one file, in the order it is stored.

    The first fields decide whether the file is unchanged (kept in memory for
    every file); ``digest`` is empty unless the file was racy or had a record
    (only those need it); ``reason`` says why a file was rejected or skipped.
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
    def of(cls, info: os.stat_result, scanned_ns: int, state: State, **fields: object) -> Record:
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

    def trusted(self, info: os.stat_result) -> bool:
        """Whether the file can be taken as recorded without being read: the
        same ``stat``, and the record not racy (run for every file of every scan)."""
        mtime, ctime = self.mtime_ns, self.ctime_ns
        return (
            info.st_mtime_ns == mtime
            and info.st_size == self.size
            and info.st_ctime_ns == ctime
            and info.st_ino == self.inode
            and not is_racy(mtime, ctime, self.scanned_ns)
        )

    def with_stamp(self, ingested_at: str | None) -> Record:
        """This record, saying the database row is (a stamp) or is not (``None``) this file's."""
        return msgspec.structs.replace(self, ingested_at=ingested_at)


def is_racy(mtime_ns: int, ctime_ns: int, scanned_ns: int) -> bool:
    """Whether a file changed too close to its scan for its ``stat`` alone to be trusted."""
    return (mtime_ns if mtime_ns > ctime_ns else ctime_ns) >= scanned_ns - RACY_WINDOW_NS


@dataclass(frozen=True, slots=True)
class Plan:
    """What one incremental run can take from the cache, file by file.

    :ivar known: per scanned file, its record when the file is unchanged and
        need not be read, else ``None`` (to read).
    :ivar last_known: per ``job_id``, the position (in the scan) of the last
        unchanged file that holds it and is not read: a file read before
        that position loses to it.
    :ivar records: how many scanned files have a record.
    """

    known: list[Record | None]
    last_known: dict[str, int]
    records: int


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
_SET_PROOF: Final[str] = "INSERT OR REPLACE INTO meta (key, value) VALUES ('database', ?)"
_APPEND: Final[str] = "INSERT INTO log (entries) VALUES (?)"
#: A path is stored as text, or as the bytes of its name when the name is not
#: UTF-8 (a camera card's ``Cam\xe9ra``): MessagePack text must be UTF-8.
_Pairs = list[tuple[Any, Record | None]]  # a path: str or bytes (msgspec takes no such union)
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder(_Pairs).decode


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
        self._records: dict[str, Record] = {}
        self._logged = 0  # pairs in the log, live or not (see _compact_if_long)
        self._proof: str | None = None

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
                f"ingest cache {self.path} is damaged or from another version ({exc}); "
                "rebuilding it, so this run reads every file again"
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
        """Read every record; reading every page checks them too."""
        conn = self._conn
        assert conn is not None
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if version == self._version:
            return
        with collector_paused():
            self._records, self._logged = _read_log(conn)
        proof = conn.execute("SELECT value FROM meta WHERE key = 'database'").fetchone()
        self._proof = proof[0] if proof is not None and proof[0] else None
        self._version = version

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: object) -> bool:
        """Whether the file whose absolute path is ``key`` has a record."""
        return key in self._records

    def get(self, key: str) -> Record | None:
        """The record of the file whose absolute path is ``key``, if any."""
        return self._records.get(key)

    def proof(self) -> str | None:
        """The proof of the database at which every record was last known to hold.

        Written by :meth:`record`: the database's change marker and the
        SHA-256 of its bytes, as one string. While the database gives the
        same proof, every row decodes and every record's ``ingested_at`` is
        the one the database holds, so neither need be read again.
        """
        return self._proof

    def plan(
        self, files: Sequence[ScannedFile], stamp_of: Callable[[str], str | None] | None
    ) -> Plan:
        """Which scanned files are unchanged and need not be read.

        A file is unchanged when its record is trusted (:meth:`Record.trusted`).
        A stored one still has to be read when it is the last file of its
        ``job_id`` in the scan and the database's row of that ``job_id`` is
        not its content: its record has no stamp, or (``stamp_of`` given)
        another stamp than the database's. ``stamp_of`` ``None`` means the
        database is at :meth:`proof`, where every recorded stamp is the
        database's.
        """
        records = self._records.get
        known: list[Record | None] = []
        append = known.append
        last_known: dict[str, int] = {}
        hits = 0
        for position, (_name, key, info) in enumerate(files):
            record = records(key)
            if record is None:
                append(None)
                continue
            hits += 1
            if record.trusted(info):
                append(record)
                if record.job_id is not None:
                    last_known[record.job_id] = position
            else:
                append(None)
        # The last unchanged file of each job_id: when the database's row is not
        # its content, it is read (and stored), like a changed file.
        for job_id, position in list(last_known.items()):
            record = known[position]
            assert record is not None
            stamp = record.ingested_at
            if stamp is None or (stamp_of is not None and stamp_of(job_id) != stamp):
                known[position] = None
                del last_known[job_id]
        return Plan(known, last_known, hits)

    def stale(
        self, winners: Mapping[str, str], stamp_of: Callable[[str], str | None] | None
    ) -> list[tuple[str, Record]]:
        """Records whose stamp is no longer the database's, without it.

        :param winners: ``job_id`` -> the path of the file whose content its
            row now is, for every row this run wrote or confirmed.
        :param stamp_of: the database's stamps after the run, to check every
            other record too; ``None`` when only ``winners`` changed rows.
        """
        if not winners and stamp_of is None:
            return []
        stale = []
        for key, record in self._records.items():
            stamp = record.ingested_at
            if stamp is None:
                continue
            job_id = record.job_id
            winner = winners.get(job_id) if job_id is not None else None
            if (winner is not None and winner != key) or (
                winner is None and stamp_of is not None and stamp_of(job_id or "") != stamp
            ):
                stale.append((key, record.with_stamp(None)))
        return stale

    # -- writes --------------------------------------------------------------------

    def record(self, entries: Iterable[tuple[str, Record]], *, proof: str | None = None) -> None:
        """Record these files in one transaction (after their batch committed).

        :param proof: the database's proof at which every record, these
            included, holds (see :meth:`proof`); without it the cache no
            longer claims one.
        """
        records = dict(entries)
        value = proof or ""
        if self._conn is None or (not records and value == (self._proof or "")):
            return
        packed = _pack_pairs(list(records.items())) if records else None

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_SET_PROOF, (value,))
            if packed is not None:
                conn.execute(_APPEND, (packed,))

        try:
            self._transaction(write)
            self._proof = proof
        except sqlite3.Error as exc:
            self._off(f"cannot write it: {exc}")
            return
        self._records.update(records)
        self._logged += len(records)
        self._compact_if_long()

    def untrack(self, paths: Iterable[str]) -> None:
        """Stop keeping records of these paths: files that are gone (moved or deleted)."""
        keys = list(paths)
        if not keys or self._conn is None:
            return
        packed = _pack_pairs([(key, None) for key in keys])
        try:
            self._transaction(lambda conn: conn.execute(_APPEND, (packed,)))
        except sqlite3.Error as exc:
            self._off(f"cannot write it: {exc}")
            return
        for key in keys:
            self._records.pop(key, None)
        self._logged += len(keys)
        self._compact_if_long()

    def untrack_gone(self, seen: Iterable[str]) -> None:
        """Drop the records of files that no longer exist, except those in ``seen``."""
        present = set(seen)
        self.untrack(
            [key for key in self._records if key not in present and not os.path.lexists(key)]
        )

    def _compact_if_long(self) -> None:
        """Rewrite the log as one record per live file once it is mostly history."""
        if self._conn is None or self._logged <= 2 * len(self._records) + _COMPACT_CHUNK:
            return

        def compact(conn: sqlite3.Connection) -> None:
            live, _ = _read_log(conn)  # under the write lock: others' rows included
            conn.execute("DELETE FROM log")
            items: _Pairs = list(live.items())
            for start in range(0, len(items), _COMPACT_CHUNK):
                conn.execute(_APPEND, (_pack_pairs(items[start : start + _COMPACT_CHUNK]),))
            self._records, self._logged = live, len(live)

        try:
            with collector_paused():
                self._transaction(compact)
        except (sqlite3.Error, _Damaged) as exc:
            self._off(f"cannot write it: {exc}")

    # -- internals -----------------------------------------------------------------

    def _transaction(self, work: Callable[[sqlite3.Connection], object]) -> None:
        conn = self._conn
        assert conn is not None
        _in_transaction(conn, work)

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
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
        self._proof = None
        self._records = {}


class RunLedger:
    """The cache's side of one run: the files to read, and what to record of them.

    :param trust: take a file whose bytes have the recorded digest as
        recorded (not under ``--full``).
    """

    def __init__(self, cache: IngestCache, scanned_ns: int, *, trust: bool) -> None:
        self.cache = cache
        self.scanned_ns = scanned_ns
        self.trust = trust
        # The files to read: path as read -> (absolute path, stat before reading).
        self._stats: dict[str | Path, tuple[str, os.stat_result]] = {}
        self._digested: set[str | Path] = set()  # the ones whose digest is kept
        self._entries: list[tuple[str, Record]] = []
        #: ``job_id`` -> the absolute path of the file whose content its row now
        #: is, for every row the run wrote or found to be a file's content.
        self.winners: dict[str, str] = {}

    def add(self, file: ScannedFile) -> None:
        """A file of the scan that will be read."""
        info = file.stat
        self._stats[file.name] = (file.key, info)
        # A racy record is trusted only by its digest later; a file with a record
        # may have the recorded bytes (``touch``). Otherwise the digest is never
        # read, and hashing every file costs about 5 % of a first ingest.
        if is_racy(info.st_mtime_ns, info.st_ctime_ns, self.scanned_ns) or file.key in self.cache:
            self._digested.add(file.name)

    def digest_of(self, path: str | Path, raw: bytes) -> bytes:
        """The digest to keep of ``raw``: empty unless the file is racy or has a record."""
        return content_digest(raw) if path in self._digested else b""

    def known(self, path: str | Path, digest: bytes) -> Record | None:
        """The record of ``path`` when its bytes are the ones recorded."""
        start = self._stats.get(path)
        if not self.trust or start is None:
            return None
        record = self.cache.get(start[0])
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
        start = self._stats.get(path)
        if start is None:
            return
        key, info = start
        record = Record.of(
            info,
            self.scanned_ns,
            state,
            job_id=job_id,
            ingested_at=ingested_at,
            digest=digest,
            reason=reason,
        )
        self._entries.append((key, record))
        if wins and job_id is not None:
            self.winners[job_id] = key

    def write(self, *, stale: Sequence[tuple[str, Record]] = (), proof: str | None = None) -> None:
        """Record what was noted, after ``stale`` (see :meth:`IngestCache.stale`).

        :param proof: the database's proof at which every record now holds,
            when the run can tell (see :meth:`IngestCache.record`).
        """
        entries, self._entries = self._entries, []
        winners = self.winners
        # A file noted as its job's row and then beaten by a later file of the
        # same job_id in this run: its record must not claim the row.
        entries = [
            (key, record.with_stamp(None))
            if record.ingested_at is not None and winners.get(record.job_id or "", key) != key
            else (key, record)
            for key, record in entries
        ]
        self.cache.record([*stale, *entries], proof=proof)


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


def _pack_pairs(pairs: Sequence[tuple[str | bytes, Record | None]]) -> bytes:
    """The log row of these pairs; a path that is not UTF-8 goes as its bytes."""
    try:
        return _pack(pairs)
    except UnicodeEncodeError:
        return _pack([(_storable_key(key), _storable(record)) for key, record in pairs])


def _storable_key(key: str | bytes) -> str | bytes:
    if isinstance(key, str):
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            return os.fsencode(key)
    return key


def _storable(record: Record | None) -> Record | None:
    """The record with any text that is not UTF-8 escaped (a reason naming such a path)."""
    if record is None or record.reason is None:
        return record
    reason = record.reason.encode("utf-8", "backslashreplace").decode("utf-8")
    return msgspec.structs.replace(record, reason=reason)


def _read_log(conn: sqlite3.Connection) -> tuple[dict[str, Record], int]:
    """The live record of every file, and how many pairs the log holds.

    :raises _Damaged: a row is not a list of [path, record or nil] pairs.
    """
    records: dict[str, Record] = {}
    logged = 0
    fsdecode = os.fsdecode
    for (entries,) in conn.execute("SELECT entries FROM log ORDER BY seq"):
        try:
            pairs = _unpack(entries)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _Damaged(f"a row of the log cannot be read: {exc}") from None
        for key, record in pairs:
            if type(key) is str:
                path = key
            elif type(key) is bytes:
                path = fsdecode(key)
            else:
                raise _Damaged(f"a path in the log is {type(key).__name__}, not text")
            if record is None:
                records.pop(path, None)
            else:
                records[path] = record
        logged += len(pairs)
    return records, logged
