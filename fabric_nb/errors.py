"""Every exception fabric_nb raises on purpose, in one place.

The whole tree::

    FabricError                   anything Fabric refused
    ├── IngestionError            a result file cannot be read or fails validation
    │   ├── NotAResultFile        valid JSON, plainly not a result (a JobSpec): skipped
    │   └── ResultFileVanished    gone between the scan and the read: vanished
    ├── FileRefusedError          a path was not read
    │   ├── NotRegularFileError   a FIFO, a device, a socket, a folder
    │   └── FileTooLargeError     larger than the limit it was read with
    ├── IngestPathError           a path given to ingest is missing, a folder unlistable
    ├── StorageError              the SQLite store refused an operation
    │   ├── StorageCorruptionError    damaged, or not a database
    │   ├── UnstorableJobError        a value SQLite cannot hold; nothing written
    │   ├── IngestAborted             a batch failed; the run stopped, with its report
    │   └── BackupWriteError          a backup cannot be written where asked
    ├── PersistenceError          the lifecycle was not followed (used before open)
    ├── BackupExistsError         a backup's destination exists
    ├── BackupNameError           a backup's destination is named like a side file
    ├── ExportError               an export cannot be written
    │   └── OutputExistsError     OUTDIR exists and is not empty
    ├── RenderError               a notebook failed while rendered
    └── MissingExtraError         an optional dependency (an extra) is not installed

    KeyboardInterrupt
    ├── InterruptedWrite          Ctrl-C during one write: was it committed?
    └── IngestInterrupted         Ctrl-C during an ingest run: its report

A caller can catch "anything Fabric refused" as :class:`FabricError`, while
the specific classes keep the spec's vocabulary (``StorageError``,
``StorageCorruptionError``) for what the operator sees.

The two interrupts stay apart: :class:`InterruptedWrite` is raised by the
store for one write and says whether its transaction committed;
:class:`IngestInterrupted` is raised by a bulk ingest, which catches the
first, and carries the whole run's report. Both stay ``KeyboardInterrupt``
so that code that knows neither still stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bulk import IngestReport

__all__ = [
    "BackupExistsError",
    "BackupNameError",
    "BackupWriteError",
    "ExportError",
    "FabricError",
    "FileRefusedError",
    "FileTooLargeError",
    "IngestAborted",
    "IngestInterrupted",
    "IngestPathError",
    "IngestionError",
    "InterruptedWrite",
    "MissingExtraError",
    "NotAResultFile",
    "NotRegularFileError",
    "OutputExistsError",
    "PersistenceError",
    "RenderError",
    "ResultFileVanished",
    "StorageCorruptionError",
    "StorageError",
    "UnstorableJobError",
]


class FabricError(Exception):
    """Base class of every error fabric_nb raises on purpose."""


# -- reading result files -----------------------------------------------------------


class IngestionError(FabricError):
    """A JobExecutionResult file could not be read or failed strict validation.

    The message names the file, the JSON location of the bad value and what
    was expected. Nothing is ever written when this is raised.
    """


class NotAResultFile(IngestionError):
    """The file is valid JSON but plainly not a JobExecutionResult (a Proxx JobSpec).

    Bulk ingestion counts such a file as *skipped*, never as rejected.
    """


class ResultFileVanished(IngestionError):
    """The result file is not there (any more): gone, not bad.

    Bulk ingestion counts a file a scan found that is gone when it is read
    (moved or deleted in between) as *vanished*, never as rejected.
    """


class FileRefusedError(FabricError):
    """A path was not read: it is not a regular file, or it is too large."""


class NotRegularFileError(FileRefusedError):
    """The path is a FIFO, a device, a socket or a directory, not a regular file."""


class FileTooLargeError(FileRefusedError):
    """The file is larger than the limit it was read with."""


class IngestPathError(FabricError):
    """A path given to ingest does not exist, or a folder cannot be listed.

    Raised before any file is read, so nothing has been stored. (The scan
    of a watch raises it too when a folder cannot be listed; the watch
    retries at its next pass.)
    """


# -- the store ----------------------------------------------------------------------


class StorageError(FabricError):
    """The SQLite store refused an operation (version mismatch, write failure,
    read-only violation, unusable path)."""


class StorageCorruptionError(StorageError):
    """The SQLite store is damaged or is not a database at all.

    Fabric never repairs it: restore from a backup or delete the file.
    """


class UnstorableJobError(StorageError):
    """Some jobs of a write hold a value SQLite cannot store (too big, not UTF-8).

    Nothing of the write was stored. :attr:`positions` are the indexes of
    those jobs in the batch given, :attr:`reasons` what is wrong with each, so
    a caller can refuse them by name and store the rest.
    """

    def __init__(self, message: str, positions: tuple[int, ...], reasons: tuple[str, ...]) -> None:
        super().__init__(message)
        self.positions: tuple[int, ...] = positions
        self.reasons: tuple[str, ...] = reasons


class IngestAborted(StorageError):
    """Storing a batch failed; the run stopped.

    The failed batch rolled back whole. :attr:`report` tells what landed
    before the failure (those jobs are committed and stay stored).
    """

    def __init__(self, message: str, report: IngestReport) -> None:
        super().__init__(message)
        self.report: IngestReport = report


class BackupWriteError(StorageError):
    """A backup cannot be written where asked (permissions, disk full, file
    size limit, no folder); the database itself is fine."""


class PersistenceError(FabricError):
    """The persistence layer was used outside its lifecycle (e.g. before open)."""


# -- operators' commands ------------------------------------------------------------


class BackupExistsError(FabricError):
    """The backup's destination file exists and ``force`` was not given."""


class BackupNameError(FabricError):
    """The backup's destination is named like a side file of a database, or has
    side files beside it: the copy would not stay the one verified."""


class ExportError(FabricError):
    """The export could not be written; ``OUTDIR`` was left as it was."""


class OutputExistsError(ExportError):
    """``OUTDIR`` exists and is not an empty folder; nothing was written."""


class RenderError(FabricError):
    """A notebook failed while it was rendered (a cell raised or timed out).

    The message names the notebook and the failing cell's error.
    """


class MissingExtraError(FabricError, ImportError):
    """What was asked needs an optional dependency that is not installed.

    The message names the package and the extra that installs it
    (``pip install 'fabric-nb[excel]'``). An :class:`ImportError` too, so code
    that guards an optional import the usual way still catches it.
    """


# -- interrupts ---------------------------------------------------------------------


class InterruptedWrite(KeyboardInterrupt):
    """Ctrl-C arrived during a write; :attr:`committed` says whether it was stored.

    Python raises the interrupt only once the call in progress returns, so
    one that arrives while SQLite commits is raised after the commit
    succeeded: the write is then stored although it was interrupted. It is a
    ``KeyboardInterrupt``, so code that does not know it still stops.
    """

    def __init__(self, committed: bool, jobs: int) -> None:
        state = "committed" if committed else "not stored"
        super().__init__(f"interrupted during a write of {jobs} job(s): {state}")
        self.committed: bool = committed
        self.jobs: int = jobs


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
