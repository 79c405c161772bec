"""The operators' report on a stored database file: ``fabric-nb info`` and ``fabric-nb check``.

Not the analysts' summaries (:mod:`fabric_nb.summaries`, counts over frames):
this checks one file and counts what it holds, for a terminal or a script.

Counting is all this does: how many jobs per status, engine and profile, and
the span of ``started_at``. It does not score, rank or judge anything.
:func:`inspect_storage` opens a database read-only, which runs the spec's
startup checks (schema version, ``PRAGMA integrity_check``), and decodes
every row (``load_all_jobs``), so a file it reports on has passed all three.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._packed import output_records
from ._rows import iso_text
from .models import JOB_STATUSES, IngestedJob
from .persistence import create_persistence

__all__ = ["HistorySummary", "StorageReport", "inspect_storage", "summarize_jobs"]


@dataclass(frozen=True, slots=True)
class HistorySummary:
    """Counts over a set of jobs.

    ``by_status`` lists every status of :data:`JOB_STATUSES` in that order,
    zeros included. ``by_engine`` and ``by_profile`` list the values seen,
    sorted, with ``None`` (not recorded) last. ``first_started_at`` and
    ``last_started_at`` are the earliest and latest ``started_at`` as
    instants, in UTC (jobs record various offsets; a range is read in one);
    ``None`` when there are no jobs.
    """

    jobs: int
    outputs: int
    by_status: Mapping[str, int]
    by_engine: Mapping[str | None, int]
    by_profile: Mapping[str | None, int]
    first_started_at: datetime | None
    last_started_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: datetimes as ISO 8601 UTC text, ``None`` as ``null``.

        ``by_engine`` and ``by_profile`` become lists of
        ``{"engine": name, "jobs": n}`` (``"profile"`` for profiles), in the
        same order, since a JSON object cannot have ``null`` as a key.
        """
        return {
            "jobs": self.jobs,
            "outputs": self.outputs,
            "by_status": dict(self.by_status),
            "by_engine": _listed(self.by_engine, "engine"),
            "by_profile": _listed(self.by_profile, "profile"),
            "first_started_at": iso_text(self.first_started_at),
            "last_started_at": iso_text(self.last_started_at),
        }


@dataclass(frozen=True, slots=True)
class StorageReport:
    """A database that passed the startup checks, and what it holds."""

    path: Path
    size_bytes: int
    schema_version: int
    integrity: str
    summary: HistorySummary

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the report."""
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "schema_version": self.schema_version,
            "integrity": self.integrity,
            **self.summary.to_dict(),
        }


def summarize_jobs(jobs: Iterable[IngestedJob]) -> HistorySummary:
    """Count jobs by status, engine and profile, and find the ``started_at`` span."""
    status: Counter[str] = Counter()
    engine: Counter[str | None] = Counter()
    profile: Counter[str | None] = Counter()
    n_jobs = n_outputs = 0
    first: IngestedJob | None = None
    last: IngestedJob | None = None
    for job in jobs:
        n_jobs += 1
        n_outputs += len(output_records(job))
        status[job.final_status] += 1
        engine[job.engine_used] += 1
        profile[job.canonical_proxy_profile] += 1
        if first is None or job.started_at < first.started_at:
            first = job
        if last is None or job.started_at > last.started_at:
            last = job
    return HistorySummary(
        jobs=n_jobs,
        outputs=n_outputs,
        by_status={name: status[name] for name in JOB_STATUSES},
        by_engine=_sorted_counts(engine),
        by_profile=_sorted_counts(profile),
        first_started_at=None if first is None else first.started_at.astimezone(UTC),
        last_started_at=None if last is None else last.started_at.astimezone(UTC),
    )


def inspect_storage(path: str | os.PathLike[str]) -> StorageReport:
    """Open ``path`` read-only, check it as the spec's startup does, decode every row.

    Never writes, never creates the file.

    :raises StorageError: the file is missing, unreadable, or of another
        schema version.
    :raises StorageCorruptionError: ``integrity_check`` fails, the file is not
        a database, or a row cannot be decoded.
    """
    with create_persistence(path, readonly=True) as persistence:
        version = persistence.get_schema_version()
        jobs = persistence.load_all_jobs()
        size = persistence.path.stat().st_size
        return StorageReport(
            path=persistence.path,
            size_bytes=size,
            schema_version=version,
            integrity="ok",  # open() raised otherwise
            summary=summarize_jobs(jobs),
        )


def _sorted_counts(counts: Counter[str | None]) -> dict[str | None, int]:
    ordered: dict[str | None, int] = {
        key: counts[key] for key in sorted(k for k in counts if k is not None)
    }
    if None in counts:
        ordered[None] = counts[None]
    return ordered


def _listed(counts: Mapping[str | None, int], name: str) -> list[dict[str, Any]]:
    return [{name: key, "jobs": value} for key, value in counts.items()]
