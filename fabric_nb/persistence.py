"""The lifecycle API over storage: open, persist, load, close.

:class:`FabricPersistence` is what the index and the tools hold. It adds a
lifecycle guard (``Persistence not opened``) and lets the storage layer's
errors through unchanged, so the operator sees the spec's symptoms as written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import PersistenceError
from .models import IngestedJob
from .storage import FABRIC_DB_ENV, FabricStorage, resolve_storage_path

__all__ = ["FABRIC_DB_ENV", "FabricPersistence", "create_persistence", "resolve_storage_path"]


class FabricPersistence:
    """Durable home of ingested jobs, backed by one SQLite file.

    Use as a context manager, or call :meth:`open` and :meth:`close`; both are
    harmless to repeat. Every other method raises
    ``PersistenceError("Persistence not opened")`` before :meth:`open`.

    :param storage_path: the database file (a str or a path), ``None`` for
        :func:`resolve_storage_path`'s rule (``$FABRIC_DB``, else
        :data:`~fabric_nb.storage.DEFAULT_STORAGE_PATH`), or a
        :class:`FabricStorage` to use as it is.
    :param readonly: open a file given by path read-only (a
        :class:`FabricStorage` carries its own mode).
    :raises TypeError: ``storage_path`` is none of those, or ``readonly`` is
        given with a :class:`FabricStorage`; nothing is opened.
    """

    def __init__(
        self,
        storage_path: str | os.PathLike[str] | FabricStorage | None = None,
        *,
        readonly: bool = False,
    ) -> None:
        if isinstance(storage_path, FabricStorage):
            if readonly:
                raise TypeError(
                    "FabricPersistence: readonly= applies to a path; "
                    "the FabricStorage given carries its own mode"
                )
            storage = storage_path
        elif storage_path is None or isinstance(storage_path, str | os.PathLike):
            storage = FabricStorage(storage_path, readonly=readonly)
        else:
            raise TypeError(
                "FabricPersistence: storage_path must be a str, an os.PathLike, a "
                f"FabricStorage or None, not {type(storage_path).__name__}"
            )
        self._storage = storage
        self._opened = False

    @property
    def path(self) -> Path:
        """The database file."""
        return self._storage.path

    @property
    def storage(self) -> FabricStorage:
        """The storage underneath, for tools that need more than the lifecycle
        (incremental ingest reads its stamps and proof there).

        :raises PersistenceError: not opened.
        """
        return self._require_open()

    @property
    def readonly(self) -> bool:
        """Whether the file was opened read-only."""
        return self._storage.readonly

    def open(self) -> None:
        """Open the store: schema-version check, then integrity check.

        :raises StorageError: version mismatch or unusable path, unchanged.
        :raises StorageCorruptionError: corruption, unchanged.
        """
        if not self._opened:
            self._storage.open()
            self._opened = True

    def close(self) -> None:
        """Close the store; closing twice does nothing."""
        self._storage.close()
        self._opened = False

    def is_open(self) -> bool:
        """Whether :meth:`open` succeeded and :meth:`close` has not been called since."""
        return self._opened

    def __enter__(self) -> FabricPersistence:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _require_open(self) -> FabricStorage:
        if not self._opened:
            raise PersistenceError("Persistence not opened")
        return self._storage

    def persist_ingested_job(self, job: IngestedJob) -> None:
        """Store one job durably (one transaction; same ``job_id`` replaces).

        :raises StorageError: ``Failed to persist job: <cause> (job 'ID')``;
            nothing was stored.
        """
        self._require_open().persist_job(job)

    def persist_ingested_jobs(self, jobs: Iterable[IngestedJob]) -> None:
        """Store many jobs in one transaction: all or none.

        :raises StorageError: ``Failed to persist job: <cause> (jobs ..., none
            stored)``; nothing was stored.
        """
        self._require_open().persist_jobs(jobs)

    def load_all_jobs(self) -> list[IngestedJob]:
        """Every stored job in Fabric's order (``started_at`` as an instant, then ``job_id``).

        :raises StorageCorruptionError: a stored row cannot be decoded.
        """
        return self._require_open().load_all_jobs()

    def load_job_ids(self) -> set[str]:
        """The ids of every stored job, without decoding the rows."""
        return self._require_open().load_job_ids()

    def backup_into(self, destination: str | os.PathLike[str]) -> None:
        """Copy the store into ``destination`` (SQLite's online backup API).

        :raises StorageError: the copy failed.
        """
        self._require_open().backup_into(destination)

    def get_schema_version(self) -> int:
        """The schema version recorded in the file."""
        return self._require_open().get_schema_version()


def create_persistence(
    storage_path: str | os.PathLike[str] | None = None, *, readonly: bool = False
) -> FabricPersistence:
    """Build (but do not open) persistence at ``storage_path``.

    ``None`` means :func:`resolve_storage_path`'s rule: ``$FABRIC_DB`` when set
    and not empty, else :data:`~fabric_nb.storage.DEFAULT_STORAGE_PATH`
    (``~/.proxx/fabric/fabric.db``).

    :raises TypeError: ``storage_path`` is not a str, a path or ``None``.
    """
    return FabricPersistence(storage_path, readonly=readonly)
