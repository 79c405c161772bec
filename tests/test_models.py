"""IngestedJob / IngestedOutput: immutable facts with aware datetimes and computed fields."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from support import make_job, make_output, tz

from fabric_nb import IngestedJob, IngestedOutput
from fabric_nb.models import job_order_key


def test_job_is_immutable() -> None:
    job = make_job()
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.final_status = "FAILED"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.outputs = ()  # type: ignore[misc]
    assert job.final_status == "COMPLETED"


def test_output_is_immutable() -> None:
    output = make_output()
    with pytest.raises(dataclasses.FrozenInstanceError):
        output.status = "FAILED"  # type: ignore[misc]
    assert output.status == "COMPLETED"


def test_no_attribute_can_be_added() -> None:
    with pytest.raises((AttributeError, TypeError)):
        make_job().note = "healthy"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "make_iterable",
    [list, tuple, iter, lambda outs: (o for o in outs)],
    ids=["list", "tuple", "iterator", "generator"],
)
def test_outputs_held_as_tuple_from_any_iterable(make_iterable) -> None:
    outputs = [make_output("j", 0), make_output("j", 1), make_output("j", 2)]
    job = make_job("j", outputs=make_iterable(outputs))
    assert type(job.outputs) is tuple
    assert job.outputs == tuple(outputs)


def test_jobs_with_equal_fields_are_equal_and_hashable() -> None:
    a = make_job(outputs=[make_output()])
    b = make_job(outputs=(make_output(),))
    assert a == b
    assert hash(a) == hash(b)
    assert a != make_job(final_status="FAILED")


@pytest.mark.parametrize("field", ["started_at", "completed_at", "ingested_at"])
def test_naive_datetime_is_a_value_error_naming_the_field(field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be timezone-aware"):
        make_job(**{field: datetime(2026, 1, 5, 10, 0)})  # type: ignore[arg-type]


def test_completed_at_may_be_none() -> None:
    assert make_job(completed_at=None).completed_at is None


def test_duration_seconds_spans_offsets_as_instants() -> None:
    # 10:00+02:00 is 08:00Z; 09:30:00.5Z is 1 h 30 min 0.5 s later.
    job = make_job(
        started_at=datetime(2026, 1, 5, 10, 0, tzinfo=tz(2)),
        completed_at=datetime(2026, 1, 5, 9, 30, 0, 500000, tzinfo=UTC),
    )
    assert job.duration_seconds == 5400.5


def test_duration_seconds_is_none_without_completed_at() -> None:
    assert make_job(completed_at=None).duration_seconds is None


@pytest.mark.parametrize(
    ("status", "failed_clips", "expected"),
    [
        ("COMPLETED", 0, True),
        ("COMPLETED", 1, False),
        ("PARTIAL", 0, False),
        ("PARTIAL", 1, False),
        ("FAILED", 0, False),
    ],
)
def test_success_is_completed_without_failed_clips(
    status: str, failed_clips: int, expected: bool
) -> None:
    assert make_job(final_status=status, failed_clips=failed_clips).success is expected


def test_computed_fields_are_not_dataclass_fields() -> None:
    names = {f.name for f in dataclasses.fields(IngestedJob)}
    assert "duration_seconds" not in names
    assert "success" not in names


def test_field_names_match_phase_1() -> None:
    assert [f.name for f in dataclasses.fields(IngestedOutput)] == [
        "job_id", "clip_id", "source_path", "output_path", "output_exists",
        "output_size_bytes", "status", "failure_reason", "engine_used",
        "proxy_profile_used", "resolve_preset_used",
    ]  # fmt: skip
    assert {f.name for f in dataclasses.fields(IngestedJob)} == {
        "job_id", "final_status", "started_at", "canonical_proxy_profile", "fingerprint",
        "validation_stage", "validation_error", "engine_used", "resolve_preset_used",
        "jobspec_version", "completed_at", "ingested_at", "total_clips", "completed_clips",
        "failed_clips", "outputs",
    }  # fmt: skip


def test_order_key_compares_instants_then_job_id() -> None:
    east = make_job("b", started_at=datetime(2026, 1, 5, 10, 0, tzinfo=tz(2)))  # 08:00Z
    utc = make_job("a", started_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # 09:00Z
    same_instant = make_job("0", started_at=datetime(2026, 1, 5, 3, 0, tzinfo=tz(-6)))  # 09:00Z
    ordered = sorted([utc, same_instant, east], key=job_order_key)
    assert [j.job_id for j in ordered] == ["b", "0", "a"]
    # The string order of the timestamps would have put "a" (09:00) before "b" (10:00).
    assert utc.started_at.isoformat() < east.started_at.isoformat()
