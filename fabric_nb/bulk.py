"""Bulk ingestion: many JobExecutionResult files, in batches, one transaction each.

:func:`ingest_paths` is what ``fabric-nb ingest`` runs. It takes files and
folders (searched recursively for result files, ``*.json`` unless told
otherwise), reads the new and changed ones with the strict ingestion of
:mod:`fabric_nb.ingestion`, and stores the good ones ``batch_size`` at a
time, each batch in one transaction
(:meth:`FabricPersistence.persist_ingested_jobs` or
:meth:`FabricIndex.add_jobs`). There is no per-file transaction and no file
is read twice. A file unchanged since an earlier run is not read at all:
see :mod:`fabric_nb._ingest_cache`.

**Several files of one job_id: the last file wins.** The files of a run are
in a fixed order (:func:`~fabric_nb._scan.scan_paths`: the paths as given,
each folder's files sorted by path). When several of them hold the same
``job_id`` (a job run again and written under another name), the row stored
is the content of the *last* of them in that order, whatever the database
held before, and the earlier ones are *superseded*: never written. The rule
depends on the files alone (not on their clocks or on when they were read),
so an incremental run and a ``--full`` run of the same folder always end
with the same rows (every column but ``ingested_at``).

What happens to each file:

- a file that fails validation is *rejected*: its path and the reason go in
  the report, nothing of it is stored, and the good files around it still
  land. With ``fail_fast=True`` the run stops at the first rejected file:
  every good file before it is committed, nothing after it is read.
- a good file is *ingested* once the transaction of its batch commits. It
  also counts as *replaced* when its ``job_id`` was already stored when the
  run started, or was stored by an earlier batch of the same run.
- a good file whose content is already the stored row (``ingested_at``
  aside) is *unchanged*: nothing is written.
- a good file followed by a later file of the same ``job_id`` is
  *superseded*: nothing of it is written.
- a file found by the scan and gone when it is read is *vanished*: gone,
  not bad.
- a file SQLite cannot hold (a value over
  :data:`~fabric_nb.storage.MAX_STORED_VALUE_BYTES`) is rejected by name when
  its batch is stored, and the rest of the batch is stored without it.
- Ctrl-C raises :class:`IngestInterrupted`, whose report counts a batch as
  ingested exactly when its transaction committed.
- a storage failure (disk full, locked database, read-only file) is not a
  rejected file: the batch being written rolls back, the run stops and
  :class:`IngestAborted` is raised, carrying the report of what landed before.

Re-running on the same folder reads and writes nothing that has not
changed, and reading everything again (``full=True``, or without the cache)
writes nothing either: a job whose content is already stored is not written
again.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

from ._collector import collector_paused
from ._ingest_cache import IngestCache, Record, RunLedger
from ._scan import DEFAULT_PATTERNS, ScannedFiles, ScanResult, scan_paths
from ._stored_stamps import StoredStamps
from .errors import (
    IngestAborted,
    IngestInterrupted,
    IngestionError,
    IngestPathError,
    NotAResultFile,
    PersistenceError,
    ResultFileVanished,
    StorageError,
    UnstorableJobError,
)
from .index import FabricIndex
from .ingestion import ingest_execution_bytes, read_result_bytes
from .models import IngestedJob
from .persistence import FabricPersistence
from .storage import FabricStorage

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IngestReport",
    "ProgressWrapper",
    "RejectedFile",
    "SkippedFile",
    "Warn",
    "collect_json_files",
    "ingest_files",
    "ingest_paths",
    "ingest_scan",
    "ingest_scanned",
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
    :ivar unchanged: files whose content is the stored row: not read again
        (unchanged since their job was stored), or read and found the same.
    :ivar still_rejected: files rejected by an earlier run and unchanged since.
    :ivar skipped: files that are not result files (JobSpecs, other names).
    :ivar pending: files left for a later pass because they are still being
        written (``fabric-nb watch`` only).
    :ivar superseded: good files not written because a later file of the
        run holds the same ``job_id`` (the last file wins).
    :ivar vanished: files the scan found that were gone when read.

    ``files == ingested + unchanged + superseded + vanished + len(rejected) +
    len(still_rejected) + len(skipped) + len(pending) + rolled_back +
    not_attempted``.
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
    superseded: int = 0
    vanished: int = 0

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
    case ignored); see :func:`~fabric_nb._scan.scan_paths` for the order.

    :raises IngestPathError: a path does not exist or a folder cannot be listed.
    """
    return [file.path for file in _scan(paths, patterns).files]


def _scan(paths: Iterable[str | os.PathLike[str]], patterns: Sequence[str]) -> ScanResult:
    scan = scan_paths(paths, patterns)  # raises IngestPathError for a folder it cannot list
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
    ``target`` is backed by a database opened read-write, the run is
    incremental: a file unchanged since its job was stored (or since it was
    rejected or found to be a JobSpec) is not read again, and what each file
    gave is recorded in the database's cache file (see
    :mod:`fabric_nb._ingest_cache`). ``full`` reads every file again (and
    refreshes the cache); it ends with the same rows. An in-memory index
    without persistence has no cache, and a read-only database is never given
    one (nothing is created beside it): every file is read.

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
        return ingest_scanned(
            _scan(paths, patterns),
            target,
            batch_size=batch_size,
            fail_fast=fail_fast,
            progress=progress,
            full=full,
            warn=warn,
        )


def ingest_scanned(
    scan: ScanResult,
    target: FabricPersistence | FabricIndex,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    fail_fast: bool = False,
    progress: ProgressWrapper | None = None,
    full: bool = False,
    warn: Warn | None = None,
) -> IngestReport:
    """:func:`ingest_paths` of a scan already made: with the database's cache, if any.

    What ``fabric-nb ingest`` calls once it has warned about missing paths
    and empty folders. Raises what :func:`ingest_paths` raises, but for
    :class:`~fabric_nb.errors.IngestPathError`.
    """
    with collector_paused():
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

    Without a cache (or on a read-only database) this is
    :func:`ingest_files` over ``scan.files``. With one, the files whose
    record still holds are taken as recorded without being read (unchanged,
    superseded, still rejected, skipped) unless ``full``; the others are
    read, and a file whose bytes have the recorded digest is taken the same
    way without being parsed. Records are written after each commit.

    Before anything is read, the store must be sound: every row decodes
    (checked once per connection), unless the database is byte for byte the
    one the cache's proof was taken of (:meth:`IngestCache.proof`).

    :param defer: called for a file that fails validation; when it returns
        True the file is *pending* (neither rejected nor recorded) and will
        be judged again later. ``fabric-nb watch`` uses it for files that
        may still be being written.
    :param stamps: the database's ``ingested_at`` by ``job_id``, when the
        caller has just read it (``fabric-nb watch``, between polls); the
        run then takes no proof.
    :raises ValueError: ``batch_size`` is less than 1.
    :raises IngestAborted: a batch could not be stored, see :func:`ingest_files`.
    :raises PersistenceError: ``target`` (or its persistence) is not open.
    :raises StorageCorruptionError: a stored row does not decode.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    skipped = [SkippedFile(path, _NOT_BY_NAME) for path in scan.other]
    persistence = _persistence_of(target)
    if persistence is not None and not persistence.is_open():
        raise PersistenceError("Persistence not opened")
    if cache is None or persistence is None or persistence.readonly:
        report = _ingest(
            scan.files.names(),
            target,
            batch_size=batch_size,
            fail_fast=fail_fast,
            progress=progress,
            defer=defer,
            from_scan=True,
        )
        return _with(report, files=report.files + len(skipped), skipped=(*report.skipped, *skipped))
    storage = persistence.storage
    # When the stats were taken, at the latest: the scan's start (the checks
    # below can take seconds, which must not make a racy file look settled).
    scanned_ns = scan.started_ns or time.time_ns()
    check = _StoreCheck.start(storage, cache, stamps=stamps, full=full)
    files = scan.files
    plan = cache.plan(files, full=full)
    if plan.unseen:  # some records are of files the scan did not find
        cache.untrack_gone()
    # The files to read, by path as read: a Path per file costs more than reading it.
    to_read = [files.name(position) for position in plan.read]
    positions = dict(zip(to_read, plan.read, strict=True))
    ledger = RunLedger(cache, scanned_ns, files, positions, plan.recorded, trust=not full)
    run = _Run(
        files=len(to_read),
        store=_store_of(target),
        stored_before=check.stored_before,
        batch_size=batch_size,
        ledger=ledger,
        defer=defer,
        regular=_Regular(files, positions),
        unchanged_stamps=StoredStamps(storage).unchanged_stamps,
        last_known=plan.last_known,
        positions=positions,
        stamp_of=check.stamp_of,
        from_scan=True,
    )
    report = run.drive(to_read, progress=progress, fail_fast=fail_fast)
    proof = check.finish(report.transactions)
    compared = proof is not None and not check.held
    ledger.write(final=True, written=run.written if compared else None, proof=proof)
    still_rejected = [RejectedFile(Path(files.name(p)), why) for p, why in plan.rejected]
    cached_skips = [SkippedFile(Path(files.name(p)), why) for p, why in plan.skipped]
    overtaken = len(run.overtaken)  # unchanged files a later read file beat
    return _with(
        report,
        files=report.files
        + plan.unchanged
        + plan.superseded
        + len(still_rejected)
        + len(cached_skips)
        + len(skipped),
        unchanged=report.unchanged + plan.unchanged - overtaken,
        superseded=report.superseded + plan.superseded + overtaken,
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
    :func:`ingest_paths`. The last file of a ``job_id`` wins (the module's
    rule); a file missing is rejected (``File not found``).

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
    from_scan: bool = False,
) -> IngestReport:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    stored_before: Callable[[Sequence[str]], set[str]]
    if isinstance(target, FabricIndex):
        index = target

        def in_index(job_ids: Sequence[str]) -> set[str]:
            return {job_id for job_id in job_ids if index.get_job(job_id) is not None}

        stored_before = in_index
    else:
        storage = target.storage
        if not storage.readonly:
            # A store with a row that does not decode is refused before any file
            # is read (the first write would refuse it anyway).
            storage.check_stored_rows()
        stored_before = storage.stored_among
    run = _Run(
        files=len(files),
        store=_store_of(target),
        stored_before=stored_before,
        batch_size=batch_size,
        defer=defer,
        from_scan=from_scan,
    )
    return run.drive(files, progress=progress, fail_fast=fail_fast)


def _ignore(_line: str) -> None:
    return None


def _with(report: IngestReport, **changes: Any) -> IngestReport:
    return dataclasses.replace(report, **changes)


def _persistence_of(target: FabricPersistence | FabricIndex) -> FabricPersistence | None:
    return target.persistence if isinstance(target, FabricIndex) else target


def _store_of(target: FabricPersistence | FabricIndex) -> Callable[[list[IngestedJob]], None]:
    return target.add_jobs if isinstance(target, FabricIndex) else target.persist_ingested_jobs


def _database_of(target: FabricPersistence | FabricIndex) -> Path | None:
    """The database whose cache a run uses: none for memory or a read-only store."""
    persistence = _persistence_of(target)
    if persistence is None or persistence.readonly:
        return None
    if not persistence.is_open():
        raise PersistenceError("Persistence not opened")
    return persistence.path


def _among(stamps: Mapping[str, str]) -> Callable[[Sequence[str]], set[str]]:
    def among(job_ids: Sequence[str]) -> set[str]:
        return {job_id for job_id in job_ids if job_id in stamps}

    return among


class _Regular:
    """``name in regular``: whether the scan saw the file read as ``name`` as a regular file."""

    def __init__(self, files: ScannedFiles, positions: Mapping[str, int]) -> None:
        self.files = files
        self.positions = positions

    def __contains__(self, name: object) -> bool:
        position = self.positions.get(str(name))
        return position is not None and self.files.is_regular(position)


class _StoreCheck:
    """What an incremental run knows of the store before it reads a file.

    Either the store is byte for byte the one the cache's proof was taken of
    (``held``: every row decodes and every recorded stamp is the store's),
    or every row is decoded once and the cache is given the store's stamps
    to compare (:meth:`IngestCache.compare_stamps`).
    """

    def __init__(
        self,
        storage: FabricStorage,
        cache: IngestCache,
        *,
        held: bool,
        marker: str | None,
        proof: str | None,
        stamps: Mapping[str, str] | None,
        take_proof: bool,
    ) -> None:
        self.storage = storage
        self.held = held
        self.marker = marker
        self.proof = proof
        self.take_proof = take_proof
        self.stamp_of: Callable[[str], str | None] | None = None if held else cache.stamp_of
        self.stored_before: Callable[[Sequence[str]], set[str]] = (
            storage.stored_among if stamps is None else _among(stamps)
        )

    @classmethod
    def start(
        cls,
        storage: FabricStorage,
        cache: IngestCache,
        *,
        stamps: Mapping[str, str] | None,
        full: bool,
    ) -> _StoreCheck:
        take_proof = stamps is None
        marker = storage.change_marker() if take_proof else None
        recorded = None if full or not take_proof else cache.proof()
        held = (
            marker is not None
            and recorded is not None
            and recorded.startswith(marker + ":")
            and StoredStamps(storage).content_proof() == recorded
        )
        if held:
            storage.trust_stored_rows()
        else:
            storage.check_stored_rows()
            stored = StoredStamps(storage)
            cache.compare_stamps(stored.iter_ingested_at() if stamps is None else stamps.items())
        return cls(
            storage,
            cache,
            held=held,
            marker=marker,
            proof=recorded if held else None,
            stamps=stamps,
            take_proof=take_proof,
        )

    def finish(self, transactions: int) -> str | None:
        """The store's proof after the run, when only the run's own commits changed it."""
        if not self.take_proof or self.marker is None:
            return None
        if self.held and not transactions:
            return self.proof if self.storage.change_marker() == self.marker else None
        proof = StoredStamps(self.storage).content_proof()
        if proof is None:
            return None
        before, after = self.marker.split(":"), proof.split(":")
        if after[:2] != before[:2] or int(after[4]) != int(before[4]) + transactions:
            return None  # another process wrote meanwhile: the next run checks everything
        return proof


class _Pending(NamedTuple):
    """A good file waiting for its batch to be written."""

    name: str | Path
    job: IngestedJob
    digest: bytes


class _Run:
    """The state of one bulk ingest: the open batch and the running counts.

    The batch is keyed by ``job_id``: a later file of the same ``job_id``
    takes the earlier one's place (the earlier is superseded). With
    ``unchanged_stamps`` (incremental ingest), a job stored already with the
    same content is not written, and one that would replace a stored row is
    *held* until the end of the run (up to ``batch_size`` of them), in case a
    later file of the same ``job_id`` makes the write moot: so a folder
    holding several files of one job never rewrites its row on every run.
    """

    def __init__(
        self,
        *,
        files: int,
        store: Callable[[list[IngestedJob]], None],
        stored_before: Callable[[Sequence[str]], set[str]],
        batch_size: int,
        ledger: RunLedger | None = None,
        defer: Callable[[Path], bool] | None = None,
        regular: Container[str | Path] = (),
        unchanged_stamps: Callable[[Sequence[IngestedJob]], dict[str, str]] | None = None,
        last_known: Mapping[str, int] | None = None,
        positions: Mapping[str, int] | None = None,
        stamp_of: Callable[[str], str | None] | None = None,
        from_scan: bool = False,
    ) -> None:
        self.files = files
        self.store = store
        self.stored_before = stored_before
        self.batch_size = batch_size
        self.ledger = ledger
        self.defer = defer
        # Paths the scan has just seen as regular files: not looked at again
        # before they are opened (the open file is checked all the same).
        self.regular = regular
        self.unchanged_stamps = unchanged_stamps
        self.last_known: Mapping[str, int] = last_known or {}
        self.positions: Mapping[str, int] = positions or {}
        self.stamp_of = stamp_of
        self.from_scan = from_scan
        self.handled = 0
        self.ingested = 0
        self.replaced = 0
        self.transactions = 0
        self.rolled_back = 0
        self.unchanged = 0
        self.superseded = 0
        self.vanished = 0
        self.rejected: list[RejectedFile] = []
        self.still_rejected: list[RejectedFile] = []
        self.skipped: list[SkippedFile] = []
        self.pending: list[Path] = []
        self.written: dict[str, str] = {}  # job_id -> ingested_at, for rows this run wrote
        self.overtaken: set[str] = set()  # job ids whose last unchanged file a read file beat
        self.batch: dict[str, _Pending] = {}
        self.held: dict[str, _Pending] = {}
        # job_id -> (path, digest) of the file counted unchanged for it: a later
        # file of the same job_id supersedes it.
        self.claimed: dict[str, tuple[str | Path, bytes]] = {}

    def drive(
        self, files: Sequence[str | Path], *, progress: ProgressWrapper | None, fail_fast: bool
    ) -> IngestReport:
        """Read ``files`` in order and store them; the report."""
        iterator = iter(progress(files) if progress is not None else files)
        try:
            with collector_paused():  # a batch is many objects and no cycle: see _collector
                for path in iterator:
                    self.read(path)
                    if fail_fast and self.rejected:
                        break
                self.flush(final=True)
        except KeyboardInterrupt as exc:
            raise IngestInterrupted(self.interrupted_report()) from exc
        finally:
            close = getattr(iterator, "close", None)
            if callable(close):
                close()
        return self.report()

    # -- reading -------------------------------------------------------------------

    def read(self, path: str | Path) -> None:
        self.handled += 1
        ledger = self.ledger
        digest = b""
        try:
            raw = read_result_bytes(path, seen_regular=path in self.regular)
            if ledger is not None:
                digest = ledger.digest_of(path, raw)
                record = ledger.known(path, digest) if digest else None
                if record is not None and self.take_known(path, record, digest):
                    return
            job = ingest_execution_bytes(raw, source=path)
        except ResultFileVanished as exc:
            if self.from_scan:  # gone since the scan: not bad, not recorded
                self.vanished += 1
                return
            self.reject(path, digest, exc)
            return
        except NotAResultFile as exc:
            reason = _reason(exc, path)
            self.skipped.append(SkippedFile(Path(path), reason))
            if ledger is not None:
                ledger.note(path, "skipped", digest, reason=reason)
            return
        except IngestionError as exc:
            if self.defer is not None and self.defer(Path(path)):
                self.pending.append(Path(path))
                return
            self.reject(path, digest, exc)
            return
        self.take(_Pending(path, job, digest))

    def reject(self, path: str | Path, digest: bytes, exc: IngestionError) -> None:
        reason = _reason(exc, path)
        self.rejected.append(RejectedFile(Path(path), reason))
        if self.ledger is not None:
            self.ledger.note(path, "rejected", digest, reason=reason)

    def take_known(self, path: str | Path, record: Record, digest: bytes) -> bool:
        """Count a file whose bytes are the recorded ones, if its record tells all."""
        ledger = self.ledger
        assert ledger is not None
        if record.state == "rejected":
            self.still_rejected.append(RejectedFile(Path(path), record.reason or "rejected"))
            ledger.note(path, "rejected", digest, reason=record.reason)
            return True
        if record.state == "skipped":
            self.skipped.append(SkippedFile(Path(path), record.reason or "not a result file"))
            ledger.note(path, "skipped", digest, reason=record.reason)
            return True
        job_id = record.job_id
        if job_id is None:
            return False
        if self.loses(path, job_id):
            self.superseded += 1
            ledger.note(path, "stored", digest, job_id)
            return True
        stamp = record.ingested_at
        if stamp is None or self.stamp_now(job_id, stamp) != stamp:
            return False  # the row is not this file's content: parse and store it
        self.cancel_earlier(job_id)
        self.overtake(job_id)
        self.claim(path, digest, job_id, stamp)
        return True

    def stamp_now(self, job_id: str, recorded: str) -> str | None:
        """The store's stamp of ``job_id`` now (``recorded`` when the proof held)."""
        if job_id in self.written:
            return self.written[job_id]
        return recorded if self.stamp_of is None else self.stamp_of(job_id)

    def loses(self, path: str | Path, job_id: str) -> bool:
        """Whether a later unchanged file of the scan holds ``job_id`` (it wins)."""
        return self.last_known.get(job_id, -1) > self.positions.get(str(path), -1)

    def overtake(self, job_id: str) -> None:
        if job_id in self.last_known:  # a file read after the last unchanged one: it wins
            self.overtaken.add(job_id)

    def take(self, pending: _Pending) -> None:
        job_id = pending.job.job_id
        if self.loses(pending.name, job_id):
            self.superseded += 1
            if self.ledger is not None:
                self.ledger.note(pending.name, "stored", pending.digest, job_id)
            return
        self.overtake(job_id)
        self.cancel_earlier(job_id)
        self.batch[job_id] = pending
        if len(self.batch) >= self.batch_size:
            self.flush()

    def claim(self, path: str | Path, digest: bytes, job_id: str, stamp: str) -> None:
        """The file at ``path`` is the stored row of ``job_id`` already: unchanged."""
        self.unchanged += 1
        self.claimed[job_id] = (path, digest)
        if self.ledger is not None:
            self.ledger.note(path, "stored", digest, job_id, stamp, wins=True)

    def cancel_earlier(self, job_id: str) -> None:
        """An earlier file of ``job_id`` (waiting to be written, or found to be the
        stored row) is superseded."""
        earlier = self.batch.pop(job_id, None) or self.held.pop(job_id, None)
        if earlier is not None:
            path, digest = earlier.name, earlier.digest
        elif job_id in self.claimed:
            path, digest = self.claimed.pop(job_id)
            self.unchanged -= 1
        else:
            return
        self.superseded += 1
        if self.ledger is not None:
            self.ledger.note(path, "stored", digest, job_id)

    # -- writing -------------------------------------------------------------------

    def stored_now(self, job_ids: Sequence[str]) -> set[str]:
        """Of these jobs, those the store holds: stored before the run, or by it."""
        written = self.written
        return {j for j in job_ids if j in written} | self.stored_before(
            [j for j in job_ids if j not in written]
        )

    def flush(self, *, final: bool = False) -> None:
        """Store the open batch (with what is held, when ``final``), then record it."""
        if self.unchanged_stamps is not None:
            self.drop_unchanged(final=final)
        if final and self.held:
            self.batch.update(self.held)
            self.held = {}
        self.write_batch()
        if self.ledger is not None and not final:
            self.ledger.write()

    def drop_unchanged(self, *, final: bool) -> None:
        """Take out of the batch the jobs stored already with this content; hold
        back those that would replace a stored row."""
        assert self.unchanged_stamps is not None
        stored = self.stored_now(list(self.batch))
        replacing = [p.job for job_id, p in self.batch.items() if job_id in stored]
        same = self.unchanged_stamps(replacing) if replacing else {}
        for job_id, stamp in same.items():
            pending = self.batch.pop(job_id)
            self.claim(pending.name, pending.digest, job_id, stamp)
        if final:
            return
        for job in replacing:
            if len(self.held) >= self.batch_size:
                break
            if job.job_id in self.batch:
                self.held[job.job_id] = self.batch.pop(job.job_id)

    def write_batch(self) -> None:
        while self.batch:
            replacing = self.stored_now(list(self.batch))
            try:
                self.store([pending.job for pending in self.batch.values()])
            except UnstorableJobError as exc:
                # One file SQLite cannot hold must not keep the others out:
                # refuse it by name and store the rest of the batch.
                self.refuse(exc.positions, exc.reasons)
                continue
            except StorageError as exc:
                self.rolled_back = len(self.batch) + len(self.held)
                self.batch, self.held = {}, {}
                if self.ledger is not None:  # what was noted is true: nothing of the batch
                    self.ledger.write()
                report = self.report()
                raise IngestAborted(
                    f"{exc} -- run stopped: {report.ingested} files stored before the "
                    f"failure, {report.rolled_back} rolled back, {report.not_attempted} not read",
                    report,
                ) from exc
            except KeyboardInterrupt as exc:
                if getattr(exc, "committed", False):
                    self.landed_batch(replacing)
                raise
            self.landed_batch(replacing)

    def landed_batch(self, replacing: Container[str]) -> None:
        """The batch's transaction committed: count it and note its files.

        :param replacing: the batch's jobs the store held before the commit.
        """
        for job_id, pending in self.batch.items():
            self.ingested += 1
            if job_id in replacing:
                self.replaced += 1
            stamp = pending.job.ingested_at.isoformat()
            self.written[job_id] = stamp
            if self.ledger is not None:
                self.ledger.note(pending.name, "stored", pending.digest, job_id, stamp, wins=True)
        self.transactions += 1
        self.batch = {}

    def refuse(self, positions: Sequence[int], reasons: Sequence[str]) -> None:
        """Reject the files at ``positions`` of the batch; the rest stays."""
        refused = dict(zip(positions, reasons, strict=True))
        kept: dict[str, _Pending] = {}
        for position, (job_id, pending) in enumerate(self.batch.items()):
            if position not in refused:
                kept[job_id] = pending
                continue
            self.rejected.append(RejectedFile(Path(pending.name), refused[position]))
            if self.ledger is not None:
                self.ledger.note(pending.name, "rejected", pending.digest, reason=refused[position])
        self.batch = kept

    # -- reports -------------------------------------------------------------------

    def interrupted_report(self) -> IngestReport:
        """The report after Ctrl-C: what was read and not committed is rolled back."""
        settled = (
            self.ingested
            + self.unchanged
            + self.superseded
            + self.vanished
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
            superseded=self.superseded,
            vanished=self.vanished,
        )


def _reason(exc: IngestionError, path: str | Path) -> str:
    """The message without the leading ``<path>: `` (the report carries the path)."""
    message = str(exc)
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
