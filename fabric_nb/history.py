"""Open a Fabric history for exploration: :func:`open_fabric`.

An analyst's entry point. ``open_fabric()`` opens the database (read-only
unless asked otherwise), runs the spec's checks at open (schema version,
``PRAGMA integrity_check``) and returns a :class:`FabricHistory` whose methods
hand the history back as DataFrames and fact summaries::

    with open_fabric("demo/fabric.db") as fabric:
        failed = fabric.jobs(status="FAILED", engine="resolve")
        fabric.status_counts()

Read-only means the database file is opened with SQLite's ``mode=ro``: any
write raises :class:`~fabric_nb.errors.StorageError` and the file is never
created, changed or given side files.

Each question is answered by SQL (:mod:`fabric_nb._stored_queries`), reading
and decoding only the rows it needs; the in-memory index is rebuilt only when
:attr:`FabricHistory.index` is asked for. A history made with an index
(``FabricHistory(persistence, index)``) answers from that index instead, with
the same answers (``tests/test_stored_reads.py`` compares the two).
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, Unpack, overload

import pandas as pd

from . import _stored_queries, frames, summaries
from ._stored_queries import GROUPABLE_COLUMNS, StoredQueries
from .errors import PersistenceError, StorageError
from .filters import JOB_FILTERS, FilterSelection, JobFilters, OutputFilters, parse_filters
from .histories import Histories, HistoryPaths, open_several
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


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _question(method: _Method) -> _Method:
    """Run a question of :class:`FabricHistory` from one committed state of the store."""

    @functools.wraps(method)
    def asked(self: FabricHistory, *args: Any, **kwargs: Any) -> Any:
        with self._one_state():
            return method(self, *args, **kwargs)

    return asked  # type: ignore[return-value]


class FabricHistory:
    """An opened history, and DataFrame helpers over it.

    Made by :func:`open_fabric`. Use it as a context manager or call
    :meth:`close`. Job filters are those of :func:`fabric_nb.frames.jobs`:
    ``status``, ``engine``, ``profile``, ``fingerprint``, ``job_id``,
    ``since``, ``until``.

    Without ``index`` (what :func:`open_fabric` makes) every question reads
    the store as it is when asked, by SQL, so the database must stay open.
    With ``index``, questions are answered from that in-memory index, which
    stays readable after :meth:`close`.
    """

    def __init__(self, persistence: FabricPersistence, index: FabricIndex | None = None) -> None:
        self._persistence = persistence
        self._stored = StoredQueries(persistence) if index is None else None
        self._queries: FabricQueries = (
            self._stored if self._stored is not None else FabricQueries(index)  # type: ignore[arg-type]
        )
        self._asking = False  # a question is being answered (it sees one committed state)

    @contextlib.contextmanager
    def _one_state(self) -> Iterator[None]:
        """Answer a question from one committed state of the store (SQL path only).

        A question may read the store several times (a look-up, then the
        values that exist); SQLite's read lock, held for the question alone,
        keeps a commit by another process from landing in between. Writers
        wait for it within their busy timeout.
        """
        if self._stored is None or self._asking:
            yield
            return
        if not self.is_open():
            raise PersistenceError(
                f"The history {self.path} is closed: questions read the database, so "
                "ask them before closing it, or open it with open_fabric(..., in_memory=True) "
                "to keep the answers readable after closing"
            )
        self._asking = True
        try:
            with self._stored.storage.read_transaction():
                yield
        finally:
            self._asking = False

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
        """The in-memory index: every stored row decoded, rebuilt on first use."""
        return self._queries.index

    @property
    def queries(self) -> FabricQueries:
        """The read-only question API (Phase 1's), answered by SQL or from the index."""
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

    @_question
    def __len__(self) -> int:
        return self._queries.count_jobs()

    def __repr__(self) -> str:
        mode = "read-only" if self.readonly else "read-write"
        if not self.is_open() and self._stored is not None:
            return f"<FabricHistory {self.path} ({mode}, closed)>"
        state = "open" if self.is_open() else "closed"
        return f"<FabricHistory {self.path} ({mode}, {state}): {len(self)} jobs>"

    def _repr_html_(self) -> str | None:
        """Jupyter's view: the file, its mode, how many jobs, the period they
        cover and each status with its share. Every value is escaped. A closed
        history that answers by SQL has none (Jupyter shows its repr)."""
        if self._stored is not None and not self.is_open():
            return None
        return self._overview_html()

    @_question
    def _overview_html(self) -> str:
        counts = self.status_counts()
        if self._stored is not None:
            first, last = self._stored.storage.started_span()
        else:
            every = self._queries.get_all_jobs()
            first = min((job.started_at for job in every), default=None)
            last = max((job.started_at for job in every), default=None)
        span = (
            "-" if first is None or last is None else f"{first.isoformat()} .. {last.isoformat()}"
        )
        mode = "read-only" if self.readonly else "read-write"
        path = "in memory" if self._stored is None else "answers by SQL"
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(status))}</th>"
            f"<td>{int(row['count'])}</td><td>{_percent(row['share'])}</td></tr>"
            for status, row in counts.iterrows()
        )
        return (
            f"<p><b>Fabric history</b> {html.escape(str(self.path))} ({mode}, {path})<br>"
            f"{len(self)} jobs, started {html.escape(span)}</p>"
            "<table><thead><tr><th>status</th><th>jobs</th><th>share</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )

    @_question
    def distinct(self, column: str) -> list[str]:
        """The values a text column of the jobs frame holds, sorted, missing left out.

        For example ``fabric.distinct("engine_used")``: which engines ran.

        :raises ValueError: ``column`` is not one of the jobs frame's text columns
            that a question can group by (``engine_used``, ``canonical_proxy_profile``...).
        """
        if column not in GROUPABLE_COLUMNS:
            allowed = ", ".join(sorted(GROUPABLE_COLUMNS))
            raise ValueError(f"distinct() takes one of {allowed}; got {column!r}")
        if self._stored is not None:
            rows = self._stored.storage.read_rows(f"SELECT DISTINCT {column} FROM jobs")
            found = {value for (value,) in rows if isinstance(value, str)}
        else:
            every = self._queries.get_all_jobs()
            found = {value for job in every if (value := getattr(job, column)) is not None}
        return sorted(found)

    # -- jobs and outputs ------------------------------------------------------------

    @_question
    def job(self, job_id: str) -> IngestedJob | None:
        """What happened to job ``job_id``? ``None`` when Fabric has not seen it."""
        return self._queries.get_job(job_id)

    @_question
    def jobs(self, **filters: Unpack[JobFilters]) -> pd.DataFrame:
        """The jobs frame, filtered as :func:`fabric_nb.frames.jobs` filters.

        :raises ValueError: unknown status, or a bad ``since`` / ``until``.
        :raises TypeError: an unknown filter name.
        """
        selection = parse_filters(dict(filters), JOB_FILTERS, JOB_STATUSES)
        return self._jobs_frame(selection)

    def _jobs_frame(self, selection: FilterSelection) -> pd.DataFrame:
        """The jobs frame of ``selection``, labelled with its filters."""
        if self._stored is None:
            return frames.jobs(self._queries, **selection.given)  # type: ignore[arg-type]
        _stored_queries.warn_unknown_values(self._stored.storage, selection)
        jobs = _stored_queries.select_job_fields(self._stored.storage, selection)
        frame = frames.jobs_frame(jobs)
        frame.attrs["filters"] = dict(selection.given)
        return frame

    @_question
    def outputs(self, **filters: Unpack[OutputFilters]) -> pd.DataFrame:
        """The outputs frame, filtered as :func:`fabric_nb.frames.outputs` filters.

        :raises ValueError: unknown clip status, or a bad ``since`` / ``until``.
        :raises TypeError: an unknown filter name.
        """
        return frames.outputs(self._queries, **filters)

    # -- summaries -------------------------------------------------------------------

    @_question
    def status_counts(self, by: By = None, **filters: Unpack[JobFilters]) -> pd.DataFrame:
        """Jobs per final status with their share (:func:`fabric_nb.summaries.status_counts`).

        :raises ValueError: bad ``by``, unknown status, or a bad ``since`` / ``until``.
        """
        selection = parse_filters(dict(filters), JOB_FILTERS, JOB_STATUSES)
        columns = [] if by is None else [by] if isinstance(by, str) else list(by)
        if (
            self._stored is None
            or selection.since is not None
            or selection.until is not None
            or (by is not None and not columns)  # by=[]: the frame path says why not
            or len(set(columns)) != len(columns)
            or not set(columns) <= GROUPABLE_COLUMNS
        ):
            return summaries.status_counts(self._jobs_frame(selection), by=by)
        _stored_queries.warn_unknown_values(self._stored.storage, selection)
        counts = _stored_queries.status_groups(self._stored.storage, selection, columns)
        return summaries.status_table(counts, by)

    @_question
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

    @_question
    def engine_profile_table(self, **filters: Unpack[JobFilters]) -> pd.DataFrame:
        """Job counts by engine, profile and status.

        See :func:`fabric_nb.summaries.engine_profile_table`.

        :raises ValueError: unknown status, or a bad ``since`` / ``until``.
        """
        return summaries.engine_profile_table(self.jobs(**filters))

    @_question
    def daily_counts(
        self, freq: str = "D", by: By = None, **filters: Unpack[JobFilters]
    ) -> pd.DataFrame:
        """Jobs started per period and status (:func:`fabric_nb.summaries.daily_counts`).

        :raises ValueError: bad ``freq`` or ``by``, unknown status, or a bad bound.
        """
        return summaries.daily_counts(self.jobs(**filters), freq=freq, by=by)

    @_question
    def repeated_failures(
        self, min_jobs: int = 2, **filters: Unpack[OutputFilters]
    ) -> pd.DataFrame:
        """Source files that failed in ``min_jobs`` jobs or more.

        See :func:`fabric_nb.summaries.repeated_failures`; the filters select clips.

        :raises ValueError: ``min_jobs`` < 1, unknown status, or a bad bound.
        """
        return summaries.repeated_failures(self.outputs(**filters), min_jobs=min_jobs)

    @_question
    def retries(self, **filters: Unpack[OutputFilters]) -> pd.DataFrame:
        """Per source file that failed: did a later run get it, when, after how many runs?

        See :func:`fabric_nb.summaries.retries`; the filters select clips.

        :raises ValueError: unknown status, or a bad bound.
        """
        return summaries.retries(self.outputs(**filters))

    @_question
    def slowest_profiles(
        self, by: str = "canonical_proxy_profile", **filters: Unpack[JobFilters]
    ) -> pd.DataFrame:
        """Profiles ranked by time per clip, slowest first.

        See :func:`fabric_nb.summaries.slowest_profiles`; the filters select jobs.

        :raises ValueError: bad ``by``, unknown status, or a bad bound.
        """
        return summaries.slowest_profiles(self.jobs(**filters), by=by)

    @_question
    def duration_stats(
        self,
        by: By = None,
        freq: str | None = None,
        q: Sequence[float] = (0.5, 0.95),
        *,
        per_clip: bool = False,
        **filters: Unpack[JobFilters],
    ) -> pd.DataFrame:
        """Median and other quantiles of job duration per group and period.

        See :func:`fabric_nb.summaries.duration_stats`; the filters select jobs.

        :raises ValueError: bad ``by``, ``freq`` or ``q``, unknown status, or a bad bound.
        """
        return summaries.duration_stats(
            self.jobs(**filters), by=by, freq=freq, q=q, per_clip=per_clip
        )

    @_question
    def slowest_jobs(
        self, top: int = 10, *, per_clip: bool = False, **filters: Unpack[JobFilters]
    ) -> pd.DataFrame:
        """The longest jobs, or the longest per clip on average.

        See :func:`fabric_nb.summaries.slowest_jobs`.

        :raises ValueError: ``top`` < 1, unknown status, or a bad bound.
        """
        return summaries.slowest_jobs(self.jobs(**filters), top, per_clip=per_clip)

    @_question
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


def _percent(share: Any) -> str:
    """A share as a percentage with one decimal; missing (no job) as "-"."""
    return "-" if share is None or share is pd.NA else f"{float(share) * 100:.1f} %"


# A str is also a Sequence of str; the first overload, which matches it, wins.
@overload
def open_fabric(  # type: ignore[overload-overlap]
    path: str | os.PathLike[str] | None = None,
    *,
    readonly: bool = True,
    in_memory: bool = False,
) -> FabricHistory: ...
@overload
def open_fabric(
    path: HistoryPaths,
    *,
    readonly: bool = True,
    in_memory: bool = False,
    on_error: str = "raise",
) -> Histories: ...
def open_fabric(
    path: str | os.PathLike[str] | HistoryPaths | None = None,
    *,
    readonly: bool = True,
    in_memory: bool = False,
    on_error: str = "raise",
) -> FabricHistory | Histories:
    """Open a history: the database (read-only by default), checked as the spec says.

    ``path`` defaults to the ``FABRIC_DB`` environment variable, then to
    :data:`~fabric_nb.storage.DEFAULT_STORAGE_PATH` (``~/.proxx/fabric/fabric.db``).
    The result is open as soon as this returns, and is also a context manager
    that closes it. With ``readonly=True`` a missing database is an error,
    never a new empty file, and every write raises ``StorageError``.
    ``readonly=False`` opens for writing (creating the file if missing), as
    :func:`~fabric_nb.persistence.create_persistence` does.

    Opening runs the schema-version check and ``PRAGMA integrity_check``.
    Then, by default, each question is answered by SQL from the database as
    it is when asked, reading and checking only the rows it needs (a row that
    does not decode raises ``StorageCorruptionError`` naming the job when a
    question reads it); ask before closing. ``in_memory=True`` rebuilds the
    index at open instead, decoding every row (the open fails on any row that
    does not decode): the history is then the file as it was when opened, and
    stays readable after closing, at the cost of reading everything first.

    **Several histories.** Given a list (database files, folders of ``*.db``
    files, glob patterns) or a mapping of names to paths, it opens each of
    them read-only as above and returns a :class:`~fabric_nb.histories.Histories`
    that asks them as one (:mod:`fabric_nb.histories`). ``on_error="warn"``
    skips a database that fails its checks, with a warning, instead of failing.

    :raises StorageError: the file is missing (read-only), unusable, or of
        another schema version.
    :raises StorageCorruptionError: the file is damaged (with ``in_memory``,
        any row that does not decode).
    :raises HistoriesError: several histories that cannot be told apart or found.
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        if not readonly:
            raise ValueError("several histories open read-only: pass readonly=True")
        return open_several(
            path, functools.partial(open_fabric_one, in_memory=in_memory), on_error=on_error
        )
    if on_error != "raise":
        raise ValueError("on_error applies to several histories: pass a list of paths")
    return open_fabric_one(path, readonly=readonly, in_memory=in_memory)


def open_fabric_one(
    path: str | os.PathLike[str] | None = None,
    *,
    readonly: bool = True,
    in_memory: bool = False,
) -> FabricHistory:
    """:func:`open_fabric` of one database."""
    resolved = resolve_storage_path(path)
    if resolved.is_dir():
        raise StorageError(
            f"{resolved}: is a folder, not a Fabric database; to open every *.db file in it "
            f"as several histories, pass a list: open_fabric([{str(resolved)!r}])"
        )
    persistence = create_persistence(resolved, readonly=readonly)
    persistence.open()
    if not in_memory:
        return FabricHistory(persistence)
    try:
        index = FabricIndex(persistence=persistence)
    except BaseException:
        persistence.close()
        raise
    return FabricHistory(persistence, index)
