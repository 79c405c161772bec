"""Immutable facts Fabric keeps: one :class:`IngestedJob` per job, one
:class:`IngestedOutput` per clip.

These are plain frozen dataclasses. They hold what a JobExecutionResult said,
nothing more: values Proxx did not record stay ``None``; nothing is guessed.
Every datetime is timezone-aware, because a time without an offset is not an
instant and Fabric does not guess a time zone.

``IngestedJob.outputs`` is always a tuple of :class:`IngestedOutput`. A job
read from a result file holds that tuple; a job loaded from storage holds
its checked outputs as compact text (:class:`PackedOutputs`) and builds the
tuple each time it is read. A history holds hundreds of thousands of jobs
and most analyses never look at their clips one object at a time; the
compact form keeps an opened history smaller than its database file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

import msgspec

__all__ = [
    "CLIP_STATUSES",
    "JOB_STATUSES",
    "IngestedJob",
    "IngestedOutput",
    "OutputRecord",
    "PackedOutputs",
    "checked_constructor",
    "job_order_key",
    "output_count",
    "output_records",
    "shared_output",
]

#: Final statuses Fabric accepts for a job, in their canonical order.
JOB_STATUSES: Final[tuple[str, ...]] = ("COMPLETED", "FAILED", "PARTIAL")
#: Statuses Fabric accepts for one clip, in their canonical order.
CLIP_STATUSES: Final[tuple[str, ...]] = ("COMPLETED", "FAILED")


def _now_utc() -> datetime:
    return datetime.now(UTC)


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


_T = TypeVar("_T")


def checked_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A constructor for the frozen slots dataclass ``cls`` that trusts its values.

    It takes every field positionally, in field order, and stores each value
    straight into its slot: no frozen ``__init__`` (one indirect call per
    field) and no ``__post_init__``, so it costs about half as much. For
    decoders that build hundreds of thousands of objects from values they
    have already checked; the caller answers for the values.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    scope.update({f"set_{name}": cls.__dict__[name].__set__ for name in names})
    lines = [f"def build({', '.join(names)}):", "    obj = new(cls)"]
    lines += [f"    set_{name}(obj, {name})" for name in names]
    lines.append("    return obj")
    exec("\n".join(lines), scope)  # straight-line code: a loop would cost half the gain
    build: Callable[..., _T] = scope["build"]
    build.__qualname__ = build.__name__ = f"checked_{cls.__name__}"
    build.__doc__ = f"A {cls.__name__} of values already checked, in field order."
    return build


class OutputRecord(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One output of a loaded job without its ``job_id``: what :func:`output_records` gives.

    Fields, names and order are those of :class:`IngestedOutput` after ``job_id``.
    """

    clip_id: str
    source_path: str
    output_path: str
    output_exists: bool | None
    output_size_bytes: int | None
    status: Literal[CLIP_STATUSES]  # decoded as the one shared string of each status
    failure_reason: str | None
    engine_used: str | None
    proxy_profile_used: str | None
    resolve_preset_used: str | None


_decode_records: Final = msgspec.json.Decoder(tuple[OutputRecord, ...]).decode
_record_fields: Final = msgspec.structs.astuple
#: Outputs of packed records, which were checked at load.
_checked_output: Final = checked_constructor(IngestedOutput)


class PackedOutputs:
    """How a job loaded from storage holds its outputs: checked once, kept as compact text.

    The row codec makes these (after checking every value) so that an opened
    history holds a few hundred bytes of text per job rather than several
    objects per clip. ``job.outputs`` builds fresh :class:`IngestedOutput`
    objects from the text on each read; nothing is cached, so memory stays
    what the load left. Not made by hand.
    """

    __slots__ = ("count", "data", "job_id")

    def __init__(self, job_id: str, data: bytes, count: int) -> None:
        self.job_id = job_id
        self.data = data
        self.count = count

    def records(self) -> tuple[OutputRecord, ...]:
        """The outputs as :class:`OutputRecord` objects."""
        return _decode_records(self.data)

    def unpack(self) -> tuple[IngestedOutput, ...]:
        """The outputs as :class:`IngestedOutput` objects."""
        job_id = self.job_id
        return tuple(
            _checked_output(job_id, *_record_fields(r)) for r in _decode_records(self.data)
        )

    def __reduce__(self) -> tuple[type[PackedOutputs], tuple[str, bytes, int]]:
        return (PackedOutputs, (self.job_id, self.data, self.count))


@dataclass(frozen=True, slots=True)
class IngestedJob:
    """One job as Fabric remembers it.

    Fields, order and defaults are the original Fabric's, so its positional
    and keyword callers both work. ``outputs`` is a tuple in execution order;
    any iterable (a list, as the original took) is accepted and kept as a
    tuple, so the job stays immutable. A job loaded from storage keeps its
    outputs packed and builds the tuple on each read (see
    :class:`PackedOutputs`); the tuple is the same either way.
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
        _require_aware("started_at", self.started_at)
        _require_aware("completed_at", self.completed_at)
        _require_aware("ingested_at", self.ingested_at)
        if not isinstance(_stored_outputs(self), tuple | PackedOutputs):
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


#: The slot that holds ``IngestedJob.outputs`` as stored: a tuple or ``PackedOutputs``.
_outputs_slot: Final = IngestedJob.__dict__["outputs"]
_stored_outputs: Final = _outputs_slot.__get__


class _OutputsField:
    """``IngestedJob.outputs``: the slot's tuple, or the tuple its ``PackedOutputs`` builds.

    Everything that reads the field (attribute access, ``==``, ``hash``,
    ``repr``, :func:`dataclasses.asdict`, :func:`dataclasses.replace`) sees a
    tuple of :class:`IngestedOutput`, whichever way the job holds it.
    """

    def __get__(
        self, job: IngestedJob | None, owner: type | None = None
    ) -> tuple[IngestedOutput, ...] | _OutputsField:
        if job is None:
            return self
        value = _stored_outputs(job)
        return value.unpack() if type(value) is PackedOutputs else value

    def __set__(self, job: IngestedJob, value: object) -> None:
        _outputs_slot.__set__(job, value)


IngestedJob.outputs = _OutputsField()  # type: ignore[assignment,misc]


def output_records(job: IngestedJob) -> tuple[IngestedOutput, ...] | tuple[OutputRecord, ...]:
    """``job``'s outputs in the cheapest form that has every output field but ``job_id``.

    :class:`OutputRecord` objects for a job loaded from storage, its
    :class:`IngestedOutput` objects otherwise: for code that reads the outputs
    of many jobs column by column, such as the DataFrame builders.
    """
    value = _stored_outputs(job)
    return value.records() if type(value) is PackedOutputs else value


def output_count(job: IngestedJob) -> int:
    """How many outputs ``job`` holds, without building them."""
    value = _stored_outputs(job)
    return value.count if type(value) is PackedOutputs else len(value)


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
    the caller's job (ingestion, for result files).
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
