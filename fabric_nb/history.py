"""Open a Fabric history for exploration: :func:`open_fabric`.

An analyst's entry point. ``open_fabric()`` opens the database (read-only
unless asked otherwise), rebuilds the in-memory index from it and returns a
:class:`FabricHistory` whose methods hand the history back as DataFrames and
fact summaries::

    with open_fabric("demo/fabric.db") as fabric:
        failed = fabric.jobs(status="FAILED", engine="resolve")
        fabric.status_counts()

Read-only means the database file is opened with SQLite's ``mode=ro``: any
write raises :class:`~fabric_nb.errors.StorageError` and the file is never
created, changed or given side files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Unpack

import pandas as pd

from . import frames, summaries
from .filters import JOB_FILTERS, JobFilters, OutputFilters, parse_filters
from .index import FabricIndex
from .models import JOB_STATUSES, IngestedJob
from .persistence import (
    FABRIC_DB_ENV,
    FabricPersistence,
    create_persistence,
    resolve_storage_path,
)
from .queries import FabricQueries
from .summaries import By

__all__ = ["FABRIC_DB_ENV", "FabricHistory", "open_fabric"]


class FabricHistory:
    """An opened history: the index rebuilt from storage, and DataFrame helpers over it.

    Made by :func:`open_fabric`. Use it as a context manager or call
    :meth:`close`; closing releases the database and keeps what was read
    readable (the index lives in memory). Job filters are those of
    :func:`fabric_nb.frames.jobs`: ``status``, ``engine``, ``profile``,
    ``fingerprint``, ``since``, ``until``.
    """

    def __init__(self, persistence: FabricPersistence, index: FabricIndex) -> None:
        self._persistence = persistence
        self._index = index
        self._queries = FabricQueries(index)

    # -- what it is ----------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The database file."""
        return self._persistence.path

    @property
    def readonly(self) -> bool:
        """Whether the database was opened read-only (the default)."""
        return self._persistence.readonly

    @property
    def persistence(self) -> FabricPersistence:
        """The persistence layer this history reads from."""
        return self._persistence

    @property
    def index(self) -> FabricIndex:
        """The in-memory index, rebuilt from the database when opened."""
        return self._index

    @property
    def queries(self) -> FabricQueries:
        """The read-only question API over :attr:`index`."""
        return self._queries

    def is_open(self) -> bool:
        """Whether the database is still open."""
        return self._persistence.is_open()

    def close(self) -> None:
        """Close the database; closing twice does nothing."""
        self._persistence.close()

    def __enter__(self) -> FabricHistory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._index.count_jobs()

    def __repr__(self) -> str:
        mode = "read-only" if self.readonly else "read-write"
        state = "open" if self.is_open() else "closed"
        return f"<FabricHistory {self.path} ({mode}, {state}): {len(self)} jobs>"

    # -- jobs and outputs ------------------------------------------------------------

    def job(self, job_id: str) -> IngestedJob | None:
        """What happened to job ``job_id``? ``None`` when Fabric has not seen it."""
        return self._queries.get_job(job_id)

    def jobs(self, **filters: Unpack[JobFilters]) -> pd.DataFrame:
        """The jobs frame, filtered as :func:`fabric_nb.frames.jobs` filters.

        :raises ValueError: unknown status, or a bad ``since`` / ``until``.
        :raises TypeError: an unknown filter name.
        """
        return frames.jobs(self._queries, **filters)

    def outputs(self, **filters: Unpack[OutputFilters]) -> pd.DataFrame:
        """The outputs frame, filtered as :func:`fabric_nb.frames.outputs` filters.

        :raises ValueError: unknown clip status, or a bad ``since`` / ``until``.
        :raises TypeError: an unknown filter name.
        """
        return frames.outputs(self._queries, **filters)

    # -- summaries -------------------------------------------------------------------

    def status_counts(self, by: By = None, **filters: Unpack[JobFilters]) -> pd.DataFrame:
        """Jobs per final status with their share (:func:`fabric_nb.summaries.status_counts`).

        :raises ValueError: bad ``by``, unknown status, or a bad ``since`` / ``until``.
        """
        return summaries.status_counts(self.jobs(**filters), by=by)

    def failure_reasons(self, by: By = None, **filters: Unpack[JobFilters]) -> pd.DataFrame:
        """Recorded failure reasons of the selected jobs and their clips, one row per reason.

        See :func:`fabric_nb.summaries.failure_reasons`.

        :raises ValueError: bad ``by``, unknown status, or a bad ``since`` / ``until``.
        """
        selected = frames.select_jobs(self._queries, **filters)
        table = summaries.failure_reasons(
            frames.jobs_frame(selected), frames.outputs_frame(selected), by=by
        )
        # Charts of this table say it was filtered, as they do for a filtered frame.
        table.attrs["filters"] = parse_filters(dict(filters), JOB_FILTERS, JOB_STATUSES).given
        return table

    def engine_profile_table(self, **filters: Unpack[JobFilters]) -> pd.DataFrame:
        """Job counts by engine, profile and status.

        See :func:`fabric_nb.summaries.engine_profile_table`.

        :raises ValueError: unknown status, or a bad ``since`` / ``until``.
        """
        return summaries.engine_profile_table(self.jobs(**filters))

    def daily_counts(
        self, freq: str = "D", by: By = None, **filters: Unpack[JobFilters]
    ) -> pd.DataFrame:
        """Jobs started per period and status (:func:`fabric_nb.summaries.daily_counts`).

        :raises ValueError: bad ``freq`` or ``by``, unknown status, or a bad bound.
        """
        return summaries.daily_counts(self.jobs(**filters), freq=freq, by=by)

    def repeated_failures(
        self, min_jobs: int = 2, **filters: Unpack[OutputFilters]
    ) -> pd.DataFrame:
        """Source files that failed in ``min_jobs`` jobs or more.

        See :func:`fabric_nb.summaries.repeated_failures`; the filters select clips.

        :raises ValueError: ``min_jobs`` < 1, unknown status, or a bad bound.
        """
        return summaries.repeated_failures(self.outputs(**filters), min_jobs=min_jobs)

    def slowest_jobs(
        self, top: int = 10, *, per_clip: bool = False, **filters: Unpack[JobFilters]
    ) -> pd.DataFrame:
        """The longest jobs, or the longest per clip on average.

        See :func:`fabric_nb.summaries.slowest_jobs`.

        :raises ValueError: ``top`` < 1, unknown status, or a bad bound.
        """
        return summaries.slowest_jobs(self.jobs(**filters), top, per_clip=per_clip)

    def usage_over_time(
        self,
        by: str = "canonical_proxy_profile",
        freq: str = "W-MON",
        **filters: Unpack[JobFilters],
    ) -> pd.DataFrame:
        """Jobs per period for each profile (or engine) in use.

        See :func:`fabric_nb.summaries.usage_over_time`.

        :raises ValueError: bad ``by`` or ``freq``, unknown status, or a bad bound.
        """
        return summaries.usage_over_time(self.jobs(**filters), by=by, freq=freq)


def open_fabric(
    path: str | os.PathLike[str] | None = None, *, readonly: bool = True
) -> FabricHistory:
    """Open a history: the database (read-only by default), then the index rebuilt from it.

    ``path`` defaults to the ``FABRIC_DB`` environment variable, then to
    :data:`~fabric_nb.storage.DEFAULT_STORAGE_PATH` (``~/.proxx/fabric/fabric.db``).
    The result is open as soon as this returns, and is also a context manager
    that closes it. With ``readonly=True`` a missing database is an error,
    never a new empty file, and every write raises ``StorageError``.
    ``readonly=False`` opens for writing (creating the file if missing), as
    :func:`~fabric_nb.persistence.create_persistence` does.

    :raises StorageError: the file is missing (read-only), unusable, or of
        another schema version.
    :raises StorageCorruptionError: the file is damaged.
    """
    persistence = create_persistence(resolve_storage_path(path), readonly=readonly)
    persistence.open()
    try:
        index = FabricIndex(persistence=persistence)
    except BaseException:
        persistence.close()
        raise
    return FabricHistory(persistence, index)
