"""Bulk ingestion: many JobExecutionResult files, in batches, one transaction each.

:func:`ingest_paths` is what ``fabric-nb ingest`` runs. It takes files and
folders (searched recursively for ``*.json``), reads every file with the
strict :func:`~fabric_nb.ingestion.ingest_execution_result`, and stores the
good ones ``batch_size`` at a time, each batch in one transaction
(:meth:`FabricPersistence.persist_ingested_jobs` or
:meth:`FabricIndex.add_jobs`). There is no per-file transaction and no file
is read twice.

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

Re-running on the same folder leaves the same set of jobs: the order of files
is fixed (see :func:`collect_json_files`) and the same job_id always ends
with the content of the same, last, file. Only ``ingested_at`` moves on,
because it records when Fabric read the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ._collector import collector_paused
from .errors import FabricError, IngestionError, StorageError, UnstorableJobError
from .index import FabricIndex
from .ingestion import ingest_execution_result
from .models import IngestedJob
from .persistence import FabricPersistence

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IngestAborted",
    "IngestInterrupted",
    "IngestPathError",
    "IngestReport",
    "ProgressWrapper",
    "RejectedFile",
    "collect_json_files",
    "ingest_files",
    "ingest_paths",
]

#: Files per transaction unless told otherwise. Each commit costs a few
#: fsyncs (``synchronous = FULL``), measured at 1-16 ms on a shared disk, next
#: to about 0.1 ms to read and check one file: at 5000 files a batch the
#: commits stay a few percent of the run (at 1000 they were up to 15 %), and a
#: batch of parsed jobs stays around 20 MB. See docs/performance.md.
DEFAULT_BATCH_SIZE: Final[int] = 5000

#: Wraps the list of files to ingest into the iterable the run walks, e.g.
#: ``lambda files: tqdm(files, unit="file")`` for a progress bar.
ProgressWrapper = Callable[[Sequence[Path]], Iterable[Path]]


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

    ``files == ingested + len(rejected) + rolled_back + not_attempted``.
    """

    files: int
    ingested: int
    replaced: int
    rejected: tuple[RejectedFile, ...]
    rolled_back: int
    not_attempted: int
    transactions: int

    @property
    def new(self) -> int:
        """Ingested files whose ``job_id`` Fabric had not seen before."""
        return self.ingested - self.replaced

    @property
    def clean(self) -> bool:
        """True when every file found was ingested."""
        return self.ingested == self.files


def collect_json_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders into the ordered list of files to ingest.

    A file is taken as given, whatever its name. A folder is searched
    recursively for ``*.json`` files (case-sensitive; symlinked folders are
    not followed, so a link loop cannot make the walk endless); its files are
    sorted by their path relative to the folder, compared folder name by
    folder name, so the order is the same on every machine. Paths are handled
    in the order given; a file reached twice is kept once, at its first place.

    :raises IngestPathError: a path does not exist or a folder cannot be listed.
    """
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in _walk_json(path):
                found.setdefault(file, None)
        elif path.exists():
            found.setdefault(path, None)
        else:
            raise IngestPathError(f"{path}: no such file or folder")
    return list(found)


def _walk_json(folder: Path) -> list[Path]:
    def fail(exc: OSError) -> None:
        raise IngestPathError(
            f"{exc.filename or folder}: cannot list folder: {exc.strerror or exc}"
        ) from None

    relative: list[tuple[str, ...]] = []
    for root, _dirs, names in os.walk(folder, onerror=fail):
        base = Path(root).relative_to(folder).parts
        relative.extend((*base, name) for name in names if name.endswith(".json"))
    relative.sort()
    return [folder.joinpath(*parts) for parts in relative]


def ingest_paths(
    paths: Iterable[str | os.PathLike[str]],
    target: FabricPersistence | FabricIndex,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    fail_fast: bool = False,
    progress: ProgressWrapper | None = None,
) -> IngestReport:
    """Ingest every result file under ``paths`` into ``target``, in batches.

    :func:`collect_json_files` then :func:`ingest_files`; see those for the
    parameters.

    :raises IngestPathError: a path is missing or a folder unreadable; nothing
        was read or stored.
    :raises ValueError: ``batch_size`` is less than 1.
    :raises IngestAborted: a batch could not be stored, see :func:`ingest_files`.
    :raises PersistenceError: ``target`` (or its persistence) is not open.
    """
    return ingest_files(
        collect_json_files(paths),
        target,
        batch_size=batch_size,
        fail_fast=fail_fast,
        progress=progress,
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
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    stored_before: Callable[[str], bool]
    if isinstance(target, FabricIndex):
        index = target
        store: Callable[[list[IngestedJob]], None] = index.add_jobs

        def in_index(job_id: str) -> bool:
            return index.get_job(job_id) is not None

        stored_before = in_index
    else:
        store = target.persist_ingested_jobs
        stored_before = target.load_job_ids().__contains__

    run = _Run(files=len(files), store=store, stored_before=stored_before, batch_size=batch_size)
    iterator = iter(progress(files) if progress is not None else files)
    try:
        with collector_paused():  # a batch is many objects and no cycle: see _collector
            for path in iterator:
                run.read(path)
                if fail_fast and run.rejected:
                    break
            run.flush()
    except KeyboardInterrupt as exc:
        raise IngestInterrupted(run.interrupted_report()) from exc
    finally:
        close = getattr(iterator, "close", None)
        if callable(close):
            close()
    return run.report()


class _Run:
    """The state of one bulk ingest: the open batch and the running counts."""

    def __init__(
        self,
        *,
        files: int,
        store: Callable[[list[IngestedJob]], None],
        stored_before: Callable[[str], bool],
        batch_size: int,
    ) -> None:
        self.files = files
        self.store = store
        self.stored_before = stored_before
        self.batch_size = batch_size
        self.handled = 0
        self.ingested = 0
        self.replaced = 0
        self.transactions = 0
        self.rolled_back = 0
        self.rejected: list[RejectedFile] = []
        self.landed: set[str] = set()  # job ids committed by this run
        self.batch: list[IngestedJob] = []
        self.batch_paths: list[Path] = []
        self.batch_ids: set[str] = set()
        self.batch_replaced = 0

    def read(self, path: Path) -> None:
        self.handled += 1
        try:
            job = ingest_execution_result(path)
        except IngestionError as exc:
            self.rejected.append(RejectedFile(path, _reason(exc, path)))
            return
        job_id = job.job_id
        if job_id in self.batch_ids or job_id in self.landed or self.stored_before(job_id):
            self.batch_replaced += 1
        self.batch.append(job)
        self.batch_paths.append(path)
        self.batch_ids.add(job_id)
        if len(self.batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
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
                self.rejected.append(RejectedFile(path, refused[position]))
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
        self.rolled_back = self.handled - self.ingested - len(self.rejected)
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
        )


def _reason(exc: IngestionError, path: Path) -> str:
    """The message without the leading ``<path>: `` (the report carries the path)."""
    message = str(exc)
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
