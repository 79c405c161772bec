"""Immutable facts Fabric keeps: one :class:`IngestedJob` per job, one
:class:`IngestedOutput` per clip.

These are plain frozen dataclasses. They hold what a JobExecutionResult said,
nothing more: values Proxx did not record stay ``None``; nothing is guessed.
Every datetime is timezone-aware, because a time without an offset is not an
instant and Fabric does not guess a time zone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

__all__ = [
    "CLIP_STATUSES",
    "JOB_STATUSES",
    "IngestedJob",
    "IngestedOutput",
    "job_order_key",
    "shared_output",
]

#: Final statuses Fabric accepts for a job, in their canonical order.
JOB_STATUSES: Final[tuple[str, ...]] = ("COMPLETED", "FAILED", "PARTIAL")
#: Statuses Fabric accepts for one clip, in their canonical order.
CLIP_STATUSES: Final[tuple[str, ...]] = ("COMPLETED", "FAILED")


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware, got naive datetime {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class IngestedOutput:
    """One clip of a job and the proxy it produced (or failed to produce)."""

    job_id: str
    clip_id: str
    source_path: str
    output_path: str
    output_exists: bool | None
    output_size_bytes: int | None
    status: str
    failure_reason: str | None = None
    engine_used: str | None = None
    proxy_profile_used: str | None = None
    resolve_preset_used: str | None = None


@dataclass(frozen=True, slots=True)
class IngestedJob:
    """One job as Fabric remembers it.

    ``outputs`` is held as a tuple in execution order; any iterable is accepted.
    ``ingested_at`` is when Fabric read the file (UTC), not execution data.
    """

    job_id: str
    final_status: str
    started_at: datetime
    ingested_at: datetime
    total_clips: int
    completed_clips: int
    failed_clips: int
    outputs: tuple[IngestedOutput, ...] = field(default=())
    canonical_proxy_profile: str | None = None
    fingerprint: str | None = None
    validation_stage: str | None = None
    validation_error: str | None = None
    engine_used: str | None = None
    resolve_preset_used: str | None = None
    jobspec_version: str | None = None
    completed_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("started_at", self.started_at)
        _require_aware("completed_at", self.completed_at)
        _require_aware("ingested_at", self.ingested_at)
        if not isinstance(self.outputs, tuple):
            object.__setattr__(self, "outputs", tuple(self.outputs))

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from ``started_at`` to ``completed_at``; ``None`` when not completed."""
        if self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()

    @property
    def success(self) -> bool:
        """True when the job COMPLETED with no failed clip."""
        return self.final_status == "COMPLETED" and self.failed_clips == 0


def shared_output(
    job_id: str,
    clip_id: str,
    source_path: str,
    output_path: str,
    output_exists: bool | None,
    output_size_bytes: int | None,
    status: str,
    failure_reason: str | None = None,
    engine_used: str | None = None,
    proxy_profile_used: str | None = None,
    resolve_preset_used: str | None = None,
) -> IngestedOutput:
    """An :class:`IngestedOutput` whose often repeated strings are shared.

    A history repeats a handful of statuses, failure reasons, engines,
    profiles and presets hundreds of thousands of times; interning them keeps
    one copy of each in memory. Values are taken as given: checking them is
    the caller's job (ingestion for files, the row codec for storage).
    """
    intern = sys.intern
    return IngestedOutput(
        job_id,
        clip_id,
        source_path,
        output_path,
        output_exists,
        output_size_bytes,
        intern(status),
        failure_reason and intern(failure_reason),
        engine_used and intern(engine_used),
        proxy_profile_used and intern(proxy_profile_used),
        resolve_preset_used and intern(resolve_preset_used),
    )


def job_order_key(job: IngestedJob) -> tuple[datetime, str]:
    """The one order Fabric returns jobs in: ``started_at`` as an instant, then ``job_id``.

    Aware datetimes compare as instants, so offsets do not change the order,
    and nothing here depends on hashing, so the order survives restarts and
    any ``PYTHONHASHSEED``.
    """
    return (job.started_at, job.job_id)
