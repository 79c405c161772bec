"""Exceptions raised by fabric_nb.

Every exception the project raises on purpose derives from :class:`FabricError`,
so a caller can catch "anything Fabric refused" in one place, while the
specific classes keep the spec's vocabulary (``StorageError``,
``StorageCorruptionError``) for what the operator sees.
"""

from __future__ import annotations

__all__ = [
    "FabricError",
    "IngestionError",
    "NotAResultFile",
    "PersistenceError",
    "ResultFileVanished",
    "StorageCorruptionError",
    "StorageError",
    "UnstorableJobError",
]


class FabricError(Exception):
    """Base class of every error fabric_nb raises on purpose."""


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


class PersistenceError(FabricError):
    """The persistence layer was used outside its lifecycle (e.g. before open)."""
