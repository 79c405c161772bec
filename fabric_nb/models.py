"""Immutable facts Fabric keeps: one :class:`IngestedJob` per job, one
:class:`IngestedOutput` per clip.

These are plain frozen dataclasses. They hold what a JobExecutionResult said,
nothing more: values Proxx did not record stay ``None``; nothing is guessed.
Every datetime is timezone-aware, because a time without an offset is not an
instant and Fabric does not guess a time zone.

``IngestedJob.outputs`` is always a tuple of :class:`IngestedOutput`. A job
loaded from storage may hold them packed meanwhile (the row codec's
``fabric_nb._packed.PackedOutputs``) and build the tuple on each read: the
descriptor that does this is applied at the end of this module, in plain
sight; nothing here knows about storage.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from ._slots import HeldOutputs

__all__ = [
    "CLIP_STATUSES",
    "JOB_STATUSES",
    "IngestedJob",
    "IngestedOutput",
    "is_aware",
    "job_order_key",
    "require_aware",
]

#: Final statuses Fabric accepts for a job, in their canonical order.
JOB_STATUSES: Final[tuple[str, ...]] = ("COMPLETED", "FAILED", "PARTIAL")
#: Statuses Fabric accepts for one clip, in their canonical order.
CLIP_STATUSES: Final[tuple[str, ...]] = ("COMPLETED", "FAILED")


def _now_utc() -> datetime:
    return datetime.now(UTC)


def is_aware(value: datetime) -> bool:
    """Whether ``value`` is an instant: it has a time zone that gives it a UTC offset.

    The one test of awareness Fabric applies, wherever a datetime comes in.
    """
    return value.tzinfo is not None and value.utcoffset() is not None


def require_aware(name: str, value: datetime | None) -> None:
    """Refuse a naive datetime, naming it: the one wording of that error in Fabric.

    :raises ValueError: ``{name} must be timezone-aware, got naive datetime ...``.
    """
    if value is not None and not is_aware(value):
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

    Fields, order and defaults are the original Fabric's, so its positional
    and keyword callers both work. ``outputs`` is a tuple in execution order;
    any iterable (a list, as the original took) is accepted and kept as a
    tuple, so the job stays immutable.
    ``ingested_at`` is when Fabric read the file (UTC; now when not given),
    not execution data.

    :raises ValueError: a datetime is naive.
    """

    job_id: str
    final_status: str
    started_at: datetime
    canonical_proxy_profile: str | None = None
    fingerprint: str | None = None
    validation_stage: str | None = None
    validation_error: str | None = None
    engine_used: str | None = None
    resolve_preset_used: str | None = None
    jobspec_version: str | None = None
    completed_at: datetime | None = None
    ingested_at: datetime = field(default_factory=_now_utc)
    total_clips: int = 0
    completed_clips: int = 0
    failed_clips: int = 0
    outputs: tuple[IngestedOutput, ...] = field(default=())

    def __post_init__(self) -> None:
        require_aware("started_at", self.started_at)
        require_aware("completed_at", self.completed_at)
        require_aware("ingested_at", self.ingested_at)
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

    def __repr__(self) -> str:
        """One line: the job, its status, when it started, its clips (not every field)."""
        return (
            f"<IngestedJob {_shown(self.job_id)}: {self.final_status}, started "
            f"{self.started_at.isoformat()}, {self.total_clips} clips "
            f"({self.completed_clips} completed, {self.failed_clips} failed)>"
        )

    def _repr_html_(self) -> str:
        """Jupyter's view: the job's fields as a small table, then its outputs as a table.

        Every value is escaped, so a job id or a path holding markup shows as text.
        """
        fields = [
            (name, getattr(self, name))
            for name in (
                "job_id", "final_status", "started_at", "completed_at", "engine_used",
                "canonical_proxy_profile", "resolve_preset_used", "fingerprint",
                "validation_stage", "validation_error", "jobspec_version", "total_clips",
                "completed_clips", "failed_clips", "ingested_at",
            )
        ]  # fmt: skip
        head = "".join(
            f"<tr><th style='text-align:left'>{name}</th><td>{_cell(value)}</td></tr>"
            for name, value in fields
        )
        outputs = tuple(self.outputs)
        columns = ("status", "source_path", "output_path", "output_size_bytes", "failure_reason")
        rows = "".join(
            f"<tr><td>{index}</td>"
            + "".join(f"<td>{_cell(getattr(output, name))}</td>" for name in columns)
            + "</tr>"
            for index, output in enumerate(outputs[:_HTML_OUTPUTS])
        )
        more = len(outputs) - _HTML_OUTPUTS
        tail = f"<p>... and {more} more outputs (job.outputs has them all)</p>" if more > 0 else ""
        titles = "".join(f"<th>{name}</th>" for name in ("clip", *columns))
        return (
            f"<table>{head}</table>"
            f"<p>{len(outputs)} outputs</p>"
            f"<table><thead><tr>{titles}</tr></thead><tbody>{rows}</tbody></table>{tail}"
        )


#: ``job.outputs`` reads as a tuple whatever its slot holds: the tuple itself, or
#: the packed outputs of a job loaded from storage, unpacked on each read (nothing
#: cached). Attribute access, ``==``, ``hash``, ``repr``, pickling,
#: :func:`dataclasses.asdict` and :func:`dataclasses.replace` all see the tuple;
#: ``IngestedJob.outputs.held(job)`` is what the slot holds.
IngestedJob.outputs = HeldOutputs[IngestedOutput](IngestedJob.__dict__["outputs"])  # type: ignore[assignment,misc]

#: Outputs a job's HTML view lists before it says how many more there are.
_HTML_OUTPUTS: Final[int] = 50
#: Characters of a value a job's repr or HTML view shows before it cuts it.
_SHOWN_CHARS: Final[int] = 200


def _shown(value: str) -> str:
    """``repr`` of a text, cut when longer than :data:`_SHOWN_CHARS` (a job id may be huge)."""
    shown = repr(value)
    return shown if len(shown) <= _SHOWN_CHARS else shown[: _SHOWN_CHARS - 3] + "..."


def _cell(value: object) -> str:
    """A value as escaped HTML text: datetimes in ISO 8601, missing as an empty cell."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return html.escape(text)


def job_order_key(job: IngestedJob) -> tuple[datetime, str]:
    """The one order Fabric returns jobs in: ``started_at`` as an instant, then ``job_id``.

    Aware datetimes compare as instants, so offsets do not change the order,
    and nothing here depends on hashing, so the order survives restarts and
    any ``PYTHONHASHSEED``.
    """
    return (job.started_at, job.job_id)
