"""Bulk ingestion: many JobExecutionResult files, in batches, one transaction each.

:func:`ingest_paths` is what ``fabric-nb ingest`` runs. It takes files and
folders (searched recursively for result files, ``*.json`` unless told
otherwise), reads the new and changed ones with the strict ingestion of
:mod:`fabric_nb.ingestion`, and stores the good ones ``batch_size`` at a
time, each batch in one transaction
(:meth:`FabricPersistence.persist_ingested_jobs` or
:meth:`FabricIndex.add_jobs`). There is no per-file transaction and no file
is read twice. A file unchanged since an earlier run is not read at all:
see :mod:`fabric_nb.ingest_cache`.

What happens to each file:

- a file that fails validation is *rejected*: its path and the reason go in
  the report, nothing of it is stored, and the good files around it still
  land. With ``fail_fast=True`` the run stops at the first rejected file:
  every good file before it is committed, nothing after it is read.
- a good file is *ingested* once the transaction of its batch commits. It
  also counts as *replaced* when its ``job_id`` was already stored when the
  run started, or was ingested from an earlier file of the same run (files
  are handled in order, so the later file wins, as ``INSERT OR REPLACE``
  does).
- a file SQLite cannot hold (a value over
  :data:`~fabric_nb.storage.MAX_STORED_VALUE_BYTES`) is rejected by name when
  its batch is stored, and the rest of the batch is stored without it.
- Ctrl-C raises :class:`IngestInterrupted`, whose report counts a batch as
  ingested exactly when its transaction committed.
- a storage failure (disk full, locked database, read-only file) is not a
  rejected file: the batch being written rolls back, the run stops and
  :class:`IngestAborted` is raised, carrying the report of what landed before.

Re-running on the same folder reads and writes nothing that has not
changed. Reading everything again (``full=True``, or without the cache)
leaves the same set of jobs: the order of files is fixed (see
:func:`collect_json_files`), the same job_id always ends with the content of
the same, last, file, and a job whose content is already stored is not
written again.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any, Final

from ._collector import collector_paused
from .errors import (
    FabricError,
    IngestionError,
    NotAResultFile,
    StorageError,
    UnstorableJobError,
)
from .index import FabricIndex
from .ingest_cache import RACY_WINDOW_NS, CacheEntry, IngestCache, content_digest
from .ingestion import ingest_execution_bytes, read_result_bytes
from .models import IngestedJob
from .persistence import FabricPersistence
from .scan import DEFAULT_PATTERNS, FolderScanError, ScannedFile, ScanResult, scan_paths

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IngestAborted",
    "IngestInterrupted",
    "IngestPathError",
    "IngestReport",
    "ProgressWrapper",
    "RejectedFile",
    "SkippedFile",
    "Warn",
    "collect_json_files",
    "ingest_files",
    "ingest_paths",
    "ingest_scan",
]

#: Files per transaction unless told otherwise. Each commit costs a few
#: fsyncs (``synchronous = FULL``), measured at 1-16 ms on a shared disk, next
#: to about 0.1 ms to read and check one file: at 5000 files a batch the
#: commits stay a few percent of the run (at 1000 they were up to 15 %), and a
#: batch of parsed jobs stays around 20 MB. See docs/performance.md.
DEFAULT_BATCH_SIZE: Final[int] = 5000

#: Wraps the list of files to ingest into the iterable the run walks, e.g.
#: ``lambda files: tqdm(files, unit="file")`` for a progress bar.
#: (The files are ``Path`` objects, or path strings when they come from a scan.)
ProgressWrapper = Callable[[Sequence[str | Path]], Iterable[str | Path]]
#: Receives one line for each warning of a run (a damaged cache rebuilt ...).
Warn = Callable[[str], None]
#: The reason a skipped file that matches no ``--pattern`` carries.
_NOT_BY_NAME: Final[str] = "not a result file: its name matches no pattern"


class IngestPathError(FabricError):
    """A path given to ingest does not exist, or a folder cannot be listed.

    Raised before any file is read, so nothing has been stored.
    """


class IngestAborted(StorageError):
    """Storing a batch failed; the run stopped.

    The failed batch rolled back whole. :attr:`report` tells what landed
    before the failure (those jobs are committed and stay stored).
    """

    def __init__(self, message: str, report: IngestReport) -> None:
        super().__init__(message)
        self.report: IngestReport = report


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run; :attr:`report` says exactly what was stored.

    A batch counts as ingested when its transaction committed, even when the
    interrupt arrived during the commit (Python raises it once the commit has
    returned). ``report.rolled_back`` counts the files read whose batch did
    not commit; ``report.not_attempted`` the files never read. It stays a
    ``KeyboardInterrupt``, so code that does not know it still stops.
    """

    def __init__(self, report: IngestReport) -> None:
        super().__init__(
            f"interrupted: {report.ingested} files stored, {report.rolled_back} read but "
            f"not stored, {report.not_attempted} not read"
        )
        self.report: IngestReport = report


@dataclass(frozen=True, slots=True)
class RejectedFile:
    """A file that failed validation: nothing of it was stored."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file that is not a result file (a JobSpec, or a name no pattern matches)."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one bulk ingest did.

    :ivar files: files found after expanding folders.
    :ivar ingested: files whose job is now stored (their batch committed).
    :ivar replaced: of ``ingested``, files whose ``job_id`` was stored when the
        run started or came from an earlier file of this run.
    :ivar rejected: files that failed validation, in the order they were read.
    :ivar rolled_back: files read whose batch a storage failure or Ctrl-C
        rolled back, or that were read but not yet sent (0 unless
        :class:`IngestAborted` or :class:`IngestInterrupted` was raised).
    :ivar not_attempted: files never read because the run stopped early
        (``fail_fast``, or a storage failure).
    :ivar transactions: batches committed.
    :ivar unchanged: files not read again: unchanged since their job was
        stored (incremental ingest).
    :ivar still_rejected: files rejected by an earlier run and unchanged since.
    :ivar skipped: files that are not result files (JobSpecs, other names).
    :ivar pending: files left for a later pass because they are still being
        written (``fabric-nb watch`` only).

    ``files == ingested + unchanged + len(rejected) + len(still_rejected) +
    len(skipped) + len(pending) + rolled_back + not_attempted``.
    """

    files: int
    ingested: int
    replaced: int
    rejected: tuple[RejectedFile, ...]
    rolled_back: int
    not_attempted: int
    transactions: int
    unchanged: int = 0
    still_rejected: tuple[RejectedFile, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()
    pending: tuple[Path, ...] = ()

    @property
    def new(self) -> int:
        """Ingested files whose ``job_id`` Fabric had not seen before."""
        return self.ingested - self.replaced

    @property
    def clean(self) -> bool:
        """True when no file was newly rejected and none was left unread.

        Files rejected by an earlier run and unchanged since do not count:
        they were reported then.
        """
        return not self.rejected and not self.rolled_back and not self.not_attempted


def collect_json_files(
    paths: Iterable[str | os.PathLike[str]], patterns: Sequence[str] = DEFAULT_PATTERNS
) -> list[Path]:
    """Expand files and folders into the ordered list of result files to ingest.

    A file is taken as given, whatever its name. A folder is searched
    recursively for files whose name matches ``patterns`` (default ``*.json``,
    case ignored); see :func:`~fabric_nb.scan.scan_paths` for the order.

    :raises IngestPathError: a path does not exist or a folder cannot be listed.
    """
    return [file.path for file in _scan(paths, patterns).files]


def _scan(paths: Iterable[str | os.PathLike[str]], patterns: Sequence[str]) -> ScanResult:
    try:
        scan = scan_paths(paths, patterns)
    except FolderScanError as exc:
        raise IngestPathError(str(exc)) from None
    if scan.missing:
        raise IngestPathError(f"{scan.missing[0]}: no such file or folder")
    return scan


def ingest_paths(
    paths: Iterable[str | os.PathLike[str]],
    target: FabricPersistence | FabricIndex,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    fail_fast: bool = False,
    progress: ProgressWrapper | None = None,
    patterns: Sequence[str] = DEFAULT_PATTERNS,
    full: bool = False,
    warn: Warn | None = None,
) -> IngestReport:
    """Ingest the result files under ``paths`` into ``target`` that are new or changed.

    Folders are searched for ``patterns`` (:func:`collect_json_files`). When
    ``target`` is backed by a database, the run is incremental: a file
    unchanged since its job was stored (or since it was rejected or found to
    be a JobSpec) is not read again, and what each file gave is recorded in
    the database's cache file (see :mod:`fabric_nb.ingest_cache`). ``full``
    reads every file again (and refreshes the cache). An in-memory index
    without persistence has no cache: every file is read.

    :param warn: receives one line per warning (default: ignored).
    :raises IngestPathError: a path is missing or a folder unreadable; nothing
        was read or stored.
    :raises ValueError: ``batch_size`` is less than 1, or ``patterns`` empty.
    :raises IngestAborted: a batch could not be stored, see :func:`ingest_files`.
    :raises PersistenceError: ``target`` (or its persistence) is not open.
    """
    # One pause for the whole run: the scan, the cache's records and the
    # batches are many objects and no cycle (see _collector); resumed in
    # between, the collector would walk the young ones at each step.
    with collector_paused():
        scan = _scan(paths, patterns)
        database = _database_of(target)
        if database is None:
            return ingest_scan(
                scan, target, batch_size=batch_size, fail_fast=fail_fast, progress=progress
            )
        with IngestCache(database, warn=warn or _ignore) as cache:
            return ingest_scan(
                scan,
                target,
                cache=cache,
                full=full,
                batch_size=batch_size,
                fail_fast=fail_fast,
                progress=progress,
            )


def ingest_scan(
    scan: ScanResult,
    target: FabricPersistence | FabricIndex,
    *,
    cache: IngestCache | None = None,
    full: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    fail_fast: bool = False,
    progress: ProgressWrapper | None = None,
    defer: Callable[[Path], bool] | None = None,
    stamps: Mapping[str, str] | None = None,
) -> IngestReport:
    """Ingest the result files of a scan, consulting and updating ``cache``.

    Without a cache this is :func:`ingest_files` over ``scan.files``. With
    one, files whose record still holds are counted without being read
    (unchanged, still rejected, skipped) unless ``full``; the others are read,
    and a file whose bytes have the recorded digest is counted the same way
    without being parsed. Records are written after each commit.

    :param defer: called for a file that fails validation; when it returns
        True the file is *pending* (neither rejected nor recorded) and will
        be judged again later. ``fabric-nb watch`` uses it for files that
        may still be being written.
    :param stamps: the database's ``ingested_at`` by ``job_id``, when the
        caller has just read it (default: read here).
    :raises ValueError: ``batch_size`` is less than 1.
    :raises IngestAborted: a batch could not be stored, see :func:`ingest_files`.
    :raises PersistenceError: ``target`` (or its persistence) is not open.
    """
    skipped = [SkippedFile(path, _NOT_BY_NAME) for path in scan.other]
    if cache is None:
        report = _ingest(
            [file.path for file in scan.files],
            target,
            batch_size=batch_size,
            fail_fast=fail_fast,
            progress=progress,
            defer=defer,
        )
        return _with(report, files=report.files + len(skipped), skipped=(*report.skipped, *skipped))
    persistence = _persistence_of(target)
    assert persistence is not None  # a cache belongs to a database
    # Whether every record is known to hold: nothing wrote to the database since
    # the cache last said so (its change marker is the same), else the stamps.
    marker = None if stamps is not None or full else persistence.change_marker()
    held = marker is not None and cache.holds_at() == marker
    if held:
        # The file is as the cache last saw it, right after a run that checked
        # every stored row and wrote only rows it built: no row to check again.
        persistence.trust_stored_rows()
    else:
        # A store with a row that does not decode is refused before any file is
        # read (the first write would refuse it anyway).
        persistence.load_job_ids()
    if stamps is None:
        stamps = None if held else persistence.load_ingested_at()
        held = held or (marker is not None and stamps is not None and cache.all_hold(stamps))
    scanned_ns = time.time_ns()
    ledger = _Ledger(cache, stamps, scanned_ns, trust=not full)
    to_read: list[str] = []  # path strings: a Path per file costs more than reading it
    regular: set[str] = set()  # of those, the ones the scan saw as regular files
    unchanged = 0
    still_rejected: list[RejectedFile] = []
    cached_skips: list[SkippedFile] = []
    files = scan.files
    # A tuple per file to read and no cycle: see _collector.
    with collector_paused():
        states, recorded = ([None] * len(files), 0) if full else cache.trusted_states(files, stamps)
        for file, state in zip(files, states, strict=True):
            if state is None:
                to_read.append(file.name)
                ledger.add(file)
                if S_ISREG(file.stat.st_mode):
                    regular.add(file.name)
            elif state == "stored":
                unchanged += 1
            else:
                entry = cache.lookup(file.key)
                reason = entry.reason if entry is not None and entry.reason else state
                if state == "rejected":
                    still_rejected.append(RejectedFile(file.path, reason))
                else:
                    cached_skips.append(SkippedFile(file.path, reason))
    if full or recorded < len(cache):  # some records are of files this scan did not see
        _forget_gone(cache, {file.key for file in scan.files})
    report = _ingest(
        to_read,
        target,
        batch_size=batch_size,
        fail_fast=fail_fast,
        progress=progress,
        defer=defer,
        ledger=ledger,
        stored_before=stamps.__contains__ if stamps is not None else _LazyIds(persistence),
        write_last=False,
        regular=regular,
    )
    holds_at = None
    if held and marker is not None:
        after = persistence.change_marker()
        # Only this run's commits since the start: every record holds at ``after``.
        if (
            after is not None
            and after[:2] == marker[:2]
            and after[4] == marker[4] + report.transactions
        ):
            holds_at = after
    ledger.write(holds_at=holds_at)
    return _with(
        report,
        files=report.files + unchanged + len(still_rejected) + len(cached_skips) + len(skipped),
        unchanged=report.unchanged + unchanged,
        still_rejected=(*still_rejected, *report.still_rejected),
        skipped=(*cached_skips, *report.skipped, *skipped),
    )


def ingest_files(
    files: Sequence[Path],
    target: FabricPersistence | FabricIndex,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    fail_fast: bool = False,
    progress: ProgressWrapper | None = None,
) -> IngestReport:
    """Ingest these result files, in this order, ``batch_size`` per transaction.

    Every file is read and parsed: this is the non-incremental half of
    :func:`ingest_paths`.

    :param files: result files (not folders), e.g. from :func:`collect_json_files`.
    :param target: an open :class:`FabricPersistence`, or a
        :class:`FabricIndex` (which persists first when it has persistence,
        and updates memory after the commit).
    :param batch_size: files per transaction (at least 1).
    :param fail_fast: stop at the first file that fails validation; the good
        files read before it are committed, nothing after it is read.
    :param progress: wraps the file list into the iterable walked (a progress
        bar); when the run ends and the iterator has ``close()``, it is closed.
    :returns: the :class:`IngestReport`.
    :raises ValueError: ``batch_size`` is less than 1.
    :raises IngestAborted: a batch could not be stored; it rolled back, the
        run stopped, and ``.report`` tells what landed before.
    :raises IngestInterrupted: Ctrl-C; ``.report`` tells what was stored.
    :raises StorageCorruptionError: a stored row does not decode (checked
        before any file is read when ``target`` is a persistence).
    :raises PersistenceError: ``target`` (or its persistence) is not open.
    """
    return _ingest(files, target, batch_size=batch_size, fail_fast=fail_fast, progress=progress)


def _ingest(
    files: Sequence[str | Path],
    target: FabricPersistence | FabricIndex,
    *,
    batch_size: int,
    fail_fast: bool,
    progress: ProgressWrapper | None,
    defer: Callable[[Path], bool] | None = None,
    ledger: _Ledger | None = None,
    stored_before: Callable[[str], bool] | None = None,
    write_last: bool = True,
    regular: Container[str | Path] = (),
) -> IngestReport:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    was_stored: Callable[[str], bool]
    if isinstance(target, FabricIndex):
        index = target
        store: Callable[[list[IngestedJob]], None] = index.add_jobs

        def in_index(job_id: str) -> bool:
            return index.get_job(job_id) is not None

        was_stored = in_index
    else:
        store = target.persist_ingested_jobs
        was_stored = stored_before or target.load_job_ids().__contains__

    persistence = _persistence_of(target)
    run = _Run(
        files=len(files),
        store=store,
        stored_before=was_stored,
        batch_size=batch_size,
        ledger=ledger,
        defer=defer,
        regular=regular,
        unchanged_stamps=None
        if ledger is None or persistence is None
        else persistence.unchanged_stamps,
    )
    iterator = iter(progress(files) if progress is not None else files)
    try:
        with collector_paused():  # a batch is many objects and no cycle: see _collector
            for path in iterator:
                run.read(path)
                if fail_fast and run.rejected:
                    break
            run.flush(final=True)
            if ledger is not None and write_last:
                ledger.write()
    except KeyboardInterrupt as exc:
        raise IngestInterrupted(run.interrupted_report()) from exc
    finally:
        close = getattr(iterator, "close", None)
        if callable(close):
            close()
    return run.report()


def _ignore(_line: str) -> None:
    return None


def _with(report: IngestReport, **changes: Any) -> IngestReport:
    return dataclasses.replace(report, **changes)


def _persistence_of(target: FabricPersistence | FabricIndex) -> FabricPersistence | None:
    return target.persistence if isinstance(target, FabricIndex) else target


def _database_of(target: FabricPersistence | FabricIndex) -> Path | None:
    persistence = _persistence_of(target)
    return None if persistence is None else persistence.path


def _forget_gone(cache: IngestCache, seen: set[str]) -> None:
    """Drop the records of files that no longer exist (moved or deleted)."""
    gone = [key for key in cache.recorded_paths() if key not in seen and not os.path.lexists(key)]
    cache.untrack(gone)


class _LazyIds:
    """``job_id in stored ids``, reading the ids (an index scan) on first use only."""

    def __init__(self, persistence: FabricPersistence) -> None:
        self.persistence = persistence
        self.ids: set[str] | None = None

    def __call__(self, job_id: str) -> bool:
        if self.ids is None:
            self.ids = self.persistence.load_job_ids()
        return job_id in self.ids


class _Ledger:
    """The cache's side of one run: what is known by content, and what to record."""

    def __init__(
        self,
        cache: IngestCache,
        stamps: Mapping[str, str] | None,
        scanned_ns: int,
        *,
        trust: bool,
    ) -> None:
        self.cache = cache
        self.stamps = stamps
        self.scanned_ns = scanned_ns
        self.trust = trust
        # The files to read: path -> the start of its cache row (key, size,
        # mtime, ctime, inode, scan time), and the paths whose digest is kept.
        self.stats: dict[str | Path, tuple[Any, ...]] = {}
        self.digested: set[str | Path] = set()
        self.outcomes: list[tuple[Any, ...]] = []  # Outcome rows, as plain tuples

    def add(self, file: ScannedFile) -> None:
        """A file of the scan that will be read."""
        stat = file.stat
        mtime, ctime = stat.st_mtime_ns, stat.st_ctime_ns
        self.stats[file.name] = (file.key, stat.st_size, mtime, ctime, stat.st_ino, self.scanned_ns)
        # A racy record is trusted only by its digest later; a file with a record
        # may have the recorded bytes (``touch``). Otherwise the digest is never
        # read, and hashing every file costs about 5 % of a first ingest.
        if (mtime if mtime > ctime else ctime) >= self.scanned_ns - RACY_WINDOW_NS or (
            file.key in self.cache
        ):
            self.digested.add(file.name)

    def digest_of(self, path: str | Path, raw: bytes) -> bytes:
        """The digest to keep of ``raw``: empty unless the file is racy or has a record."""
        return content_digest(raw) if path in self.digested else b""

    def known(self, path: str | Path, digest: bytes) -> CacheEntry | None:
        """The record of ``path`` when its bytes are the ones recorded and it still holds."""
        if not self.trust or path not in self.stats:
            return None
        entry = self.cache.lookup(self.stats[path][0])
        if (
            entry is None
            or entry.digest != digest
            or not entry.holds(self.stamps, self.cache.written())
        ):
            return None
        self.note(path, digest, entry.state, entry.job_id, entry.ingested_at, entry.reason)
        return entry

    def note(
        self,
        path: str | Path,
        digest: bytes,
        state: str,
        job_id: str | None = None,
        ingested_at: str | None = None,
        reason: str | None = None,
    ) -> None:
        start = self.stats.get(path)
        if start is not None:
            self.outcomes.append((*start, state, job_id, ingested_at, digest, reason))

    def refused(self, path: str | Path, reason: str) -> None:
        """A file noted as stored was refused by the database: it is rejected."""
        start = self.stats.get(path)
        if start is None:
            return
        self.outcomes = [
            (*o[:6], "rejected", None, None, o[9], reason) if o[0] == start[0] else o
            for o in self.outcomes
        ]

    def restamp(self, stamps: Mapping[str, str]) -> None:
        """Noted jobs that were not written: the database keeps these ``ingested_at``."""
        self.outcomes = [
            (*o[:8], stamps[o[7]], *o[9:]) if o[6] == "stored" and o[7] in stamps else o
            for o in self.outcomes
        ]

    def write(self, *, holds_at: tuple[int, ...] | None = None) -> None:
        """Record what was noted (called once the batch holding it committed).

        :param holds_at: the database's change marker at which every record
            now holds, when the run can tell (see :meth:`IngestCache.record`).
        """
        outcomes, self.outcomes = self.outcomes, []
        self.cache.record(outcomes, holds_at=holds_at)


class _Run:
    """The state of one bulk ingest: the open batch and the running counts."""

    def __init__(
        self,
        *,
        files: int,
        store: Callable[[list[IngestedJob]], None],
        stored_before: Callable[[str], bool],
        batch_size: int,
        ledger: _Ledger | None = None,
        defer: Callable[[Path], bool] | None = None,
        regular: Container[str | Path] = (),
        unchanged_stamps: Callable[[Sequence[IngestedJob]], dict[str, str]] | None = None,
    ) -> None:
        self.files = files
        self.unchanged_stamps = unchanged_stamps
        self.store = store
        self.stored_before = stored_before
        self.batch_size = batch_size
        self.ledger = ledger
        self.defer = defer
        # Paths the scan has just seen as regular files: not looked at again
        # before they are opened (the open file is checked all the same).
        self.regular = regular
        self.handled = 0
        self.ingested = 0
        self.replaced = 0
        self.transactions = 0
        self.rolled_back = 0
        self.unchanged = 0
        self.rejected: list[RejectedFile] = []
        self.still_rejected: list[RejectedFile] = []
        self.skipped: list[SkippedFile] = []
        self.pending: list[Path] = []
        self.landed: set[str] = set()  # job ids committed by this run
        self.batch: list[IngestedJob] = []
        self.batch_paths: list[str | Path] = []
        self.batch_ids: set[str] = set()
        self.batch_replaced = 0

    def read(self, path: str | Path) -> None:
        self.handled += 1
        ledger = self.ledger
        digest = b""
        try:
            raw = read_result_bytes(path, seen_regular=path in self.regular)
            if ledger is not None:
                digest = ledger.digest_of(path, raw)
                entry = ledger.known(path, digest) if digest else None
                if entry is not None:
                    self.count_known(path, entry)
                    return
            job = ingest_execution_bytes(raw, source=path)
        except NotAResultFile as exc:
            reason = _reason(exc, path)
            self.skipped.append(SkippedFile(Path(path), reason))
            if ledger is not None:
                ledger.note(path, digest, "skipped", reason=reason)
            return
        except IngestionError as exc:
            if self.defer is not None and self.defer(Path(path)):
                self.pending.append(Path(path))
                return
            reason = _reason(exc, path)
            self.rejected.append(RejectedFile(Path(path), reason))
            if ledger is not None:
                ledger.note(path, digest, "rejected", reason=reason)
            return
        job_id = job.job_id
        if job_id in self.batch_ids or job_id in self.landed or self.stored_before(job_id):
            self.batch_replaced += 1
        self.batch.append(job)
        self.batch_paths.append(path)
        self.batch_ids.add(job_id)
        if ledger is not None:
            ledger.note(path, digest, "stored", job_id, job.ingested_at.isoformat())
        if len(self.batch) >= self.batch_size:
            self.flush()

    def count_known(self, path: str | Path, entry: CacheEntry) -> None:
        if entry.state == "stored":
            self.unchanged += 1
        elif entry.state == "rejected":
            self.still_rejected.append(RejectedFile(Path(path), entry.reason or "rejected"))
        else:
            self.skipped.append(SkippedFile(Path(path), entry.reason or "not a result file"))

    def drop_unchanged(self) -> None:
        """Take out of the batch the jobs stored already with the same content.

        Only a job whose id appears once in the batch: with several, the
        last one wins and must be written whatever the database holds.
        """
        if self.unchanged_stamps is None:
            return
        stored_before = self.stored_before
        candidates = [job for job in self.batch if stored_before(job.job_id)]
        if not candidates:
            return
        counts = Counter(job.job_id for job in self.batch)
        candidates = [job for job in candidates if counts[job.job_id] == 1]
        same = self.unchanged_stamps(candidates) if candidates else {}
        if not same:
            return
        kept = [(p, job) for p, job in zip(self.batch_paths, self.batch, strict=True)]
        kept = [(p, job) for p, job in kept if job.job_id not in same]
        self.batch_paths = [p for p, _ in kept]
        self.batch = [job for _, job in kept]
        self.batch_ids.difference_update(same)
        self.batch_replaced -= len(same)
        self.unchanged += len(same)
        if self.ledger is not None:
            self.ledger.restamp(same)

    def flush(self, *, final: bool = False) -> None:
        """Store the open batch, then record its files in the cache.

        ``final``: the caller records the last outcomes itself, with the
        database's change marker, in one transaction of the cache.
        """
        self.drop_unchanged()
        while self.batch:
            try:
                self.store(self.batch)
            except UnstorableJobError as exc:
                # One file SQLite cannot hold must not keep the others out:
                # refuse it by name and store the rest of the batch.
                self.refuse(exc.positions, exc.reasons)
                continue
            except StorageError as exc:
                self.rolled_back = len(self.batch)
                self.clear_batch()
                if self.ledger is not None:  # nothing of the batch is stored
                    self.ledger.outcomes = [o for o in self.ledger.outcomes if o[6] != "stored"]
                    self.ledger.write()
                report = self.report()
                raise IngestAborted(
                    f"{exc} -- run stopped: {report.ingested} files stored before the "
                    f"failure, {report.rolled_back} rolled back, {report.not_attempted} not read",
                    report,
                ) from exc
            except KeyboardInterrupt as exc:
                if getattr(exc, "committed", False):
                    self.landed_batch()
                raise
            self.landed_batch()
        if self.ledger is not None and not final:
            self.ledger.write()

    def landed_batch(self) -> None:
        """The batch's transaction committed: count it."""
        self.ingested += len(self.batch)
        self.replaced += self.batch_replaced
        self.transactions += 1
        self.landed |= self.batch_ids
        self.clear_batch()

    def clear_batch(self) -> None:
        self.batch, self.batch_paths, self.batch_ids, self.batch_replaced = [], [], set(), 0

    def refuse(self, positions: Sequence[int], reasons: Sequence[str]) -> None:
        """Reject the files at ``positions`` of the batch, and count the rest again."""
        refused = dict(zip(positions, reasons, strict=True))
        kept = []
        for position, (path, job) in enumerate(zip(self.batch_paths, self.batch, strict=True)):
            if position in refused:
                self.rejected.append(RejectedFile(Path(path), refused[position]))
                if self.ledger is not None:
                    self.ledger.refused(path, refused[position])
            else:
                kept.append((path, job))
        self.clear_batch()
        for path, job in kept:
            if (
                job.job_id in self.batch_ids
                or job.job_id in self.landed
                or self.stored_before(job.job_id)
            ):
                self.batch_replaced += 1
            self.batch.append(job)
            self.batch_paths.append(path)
            self.batch_ids.add(job.job_id)

    def interrupted_report(self) -> IngestReport:
        """The report after Ctrl-C: what was read and not committed is rolled back."""
        settled = (
            self.ingested
            + self.unchanged
            + len(self.rejected)
            + len(self.still_rejected)
            + len(self.skipped)
            + len(self.pending)
        )
        self.rolled_back = self.handled - settled
        return self.report()

    def report(self) -> IngestReport:
        return IngestReport(
            files=self.files,
            ingested=self.ingested,
            replaced=self.replaced,
            rejected=tuple(self.rejected),
            rolled_back=self.rolled_back,
            not_attempted=self.files - self.handled,
            transactions=self.transactions,
            unchanged=self.unchanged,
            still_rejected=tuple(self.still_rejected),
            skipped=tuple(self.skipped),
            pending=tuple(self.pending),
        )


def _reason(exc: IngestionError, path: str | Path) -> str:
    """The message without the leading ``<path>: `` (the report carries the path)."""
    message = str(exc)
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
