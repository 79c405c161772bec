"""Every field of a job survives storage exactly, and is stored in the spec's format.

Jobs are compared with ``job_record`` (offsets kept), not ``==`` alone:
datetime equality compares instants, which would hide a lost UTC offset.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from support import job_record, make_job, make_output, sample_jobs, tz

from fabric_nb import IngestedJob, create_persistence

OUTPUT_KEYS = [
    "job_id", "clip_id", "source_path", "output_path", "output_exists", "output_size_bytes",
    "status", "failure_reason", "engine_used", "proxy_profile_used", "resolve_preset_used",
]  # fmt: skip


def roundtrip(path: Path, job: IngestedJob) -> IngestedJob:
    """Persist ``job``, close, reopen with a new persistence and load it back."""
    with create_persistence(path) as persistence:
        persistence.persist_ingested_job(job)
    with create_persistence(path, readonly=True) as persistence:
        (loaded,) = persistence.load_all_jobs()
    return loaded


def raw_row(path: Path, job_id: str) -> sqlite3.Row:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    finally:
        conn.close()


FULL_JOB = make_job(
    "job_full_ü",
    final_status="PARTIAL",
    started_at=datetime(2026, 1, 5, 15, 30, 0, 1, tzinfo=tz(5.5)),
    completed_at=datetime(2026, 1, 5, 2, 0, 59, 999999, tzinfo=tz(-8)),
    ingested_at=datetime(2026, 1, 6, 0, 0, 0, 500000, tzinfo=tz(0)),
    total_clips=3,
    completed_clips=2,
    failed_clips=1,
    outputs=(
        make_output("job_full_ü", 0, output_size_bytes=2**62, resolve_preset_used="ProRes"),
        make_output("job_full_ü", 1, status="FAILED", output_exists=False,
                    output_size_bytes=0, failure_reason="Disk full while writing output"),
        make_output("job_full_ü", 2, source_path="/Volumes/Tournage_Été/撮影/Señal 🎬.mov",
                    output_path="/mnt/Proxy/撮影/Señal 🎬.mov"),
    ),
    canonical_proxy_profile="proxy_prores_proxy",
    fingerprint="sha256:" + "ab" * 32,
    validation_stage="execution",
    validation_error='quote " backslash \\ newline \n tab \t',
    engine_used="resolve",
    resolve_preset_used="ProRes 422 Proxy",
    jobspec_version="2.1",
)  # fmt: skip

BARE_JOB = make_job(
    "job_bare",
    final_status="FAILED",
    completed_at=None,
    total_clips=0,
    completed_clips=0,
    failed_clips=0,
    outputs=(),
    canonical_proxy_profile=None,
    fingerprint=None,
    validation_stage=None,
    validation_error=None,
    engine_used=None,
    resolve_preset_used=None,
    jobspec_version=None,
)

NONE_OUTPUT_JOB = make_job(
    "job_none_outputs",
    outputs=(
        make_output("job_none_outputs", 0, output_exists=None, output_size_bytes=None,
                    failure_reason=None, engine_used=None, proxy_profile_used=None,
                    resolve_preset_used=None),
    ),
)  # fmt: skip


@pytest.mark.parametrize(
    "job", [FULL_JOB, BARE_JOB, NONE_OUTPUT_JOB], ids=["every-field", "all-none", "none-outputs"]
)
def test_every_field_round_trips(db_path: Path, job: IngestedJob) -> None:
    loaded = roundtrip(db_path, job)
    assert loaded == job
    assert job_record(loaded) == job_record(job)
    assert type(loaded.outputs) is tuple
    assert loaded.duration_seconds == job.duration_seconds
    assert loaded.success == job.success


def test_offsets_and_microseconds_survive(db_path: Path) -> None:
    loaded = roundtrip(db_path, FULL_JOB)
    assert loaded.started_at.utcoffset() == FULL_JOB.started_at.utcoffset()
    assert loaded.started_at.microsecond == 1
    assert loaded.completed_at is not None
    assert loaded.completed_at.isoformat() == "2026-01-05T02:00:59.999999-08:00"


def test_datetimes_are_stored_as_iso_8601_strings(db_path: Path) -> None:
    roundtrip(db_path, FULL_JOB)
    row = raw_row(db_path, FULL_JOB.job_id)
    assert row["started_at"] == "2026-01-05T15:30:00.000001+05:30"
    assert row["completed_at"] == "2026-01-05T02:00:59.999999-08:00"
    assert row["ingested_at"] == "2026-01-06T00:00:00.500000+00:00"
    for column in ("started_at", "completed_at", "ingested_at"):
        assert type(row[column]) is str
        assert datetime.fromisoformat(row[column]).utcoffset() is not None


def test_missing_completed_at_is_stored_as_null(db_path: Path) -> None:
    roundtrip(db_path, BARE_JOB)
    row = raw_row(db_path, BARE_JOB.job_id)
    for column in (
        "completed_at", "canonical_proxy_profile", "fingerprint", "validation_stage",
        "validation_error", "engine_used", "resolve_preset_used", "jobspec_version",
    ):  # fmt: skip
        assert row[column] is None, column


def test_outputs_are_stored_as_a_json_array(db_path: Path) -> None:
    roundtrip(db_path, FULL_JOB)
    row = raw_row(db_path, FULL_JOB.job_id)
    assert type(row["outputs_json"]) is str  # text, no compression, no binary encoding
    items = json.loads(row["outputs_json"])
    assert isinstance(items, list)
    assert [list(item) for item in items] == [OUTPUT_KEYS] * 3
    assert items[1] == {
        "job_id": "job_full_ü",
        "clip_id": FULL_JOB.outputs[1].clip_id,
        "source_path": FULL_JOB.outputs[1].source_path,
        "output_path": FULL_JOB.outputs[1].output_path,
        "output_exists": False,
        "output_size_bytes": 0,
        "status": "FAILED",
        "failure_reason": "Disk full while writing output",
        "engine_used": "ffmpeg",
        "proxy_profile_used": "proxy_prores_proxy",
        "resolve_preset_used": None,
    }
    assert items[0]["output_size_bytes"] == 2**62


def test_non_ascii_is_stored_as_text_not_escapes(db_path: Path) -> None:
    roundtrip(db_path, FULL_JOB)
    row = raw_row(db_path, FULL_JOB.job_id)
    assert "/Volumes/Tournage_Été/撮影/Señal 🎬.mov" in row["outputs_json"]
    assert "\\u" not in row["outputs_json"]
    assert row["job_id"] == "job_full_ü"


def test_empty_outputs_are_an_empty_json_array(db_path: Path) -> None:
    roundtrip(db_path, BARE_JOB)
    assert raw_row(db_path, BARE_JOB.job_id)["outputs_json"] == "[]"


def test_counts_are_stored_as_integers(db_path: Path) -> None:
    roundtrip(db_path, FULL_JOB)
    row = raw_row(db_path, FULL_JOB.job_id)
    assert [row["total_clips"], row["completed_clips"], row["failed_clips"]] == [3, 2, 1]
    assert all(type(row[c]) is int for c in ("total_clips", "completed_clips", "failed_clips"))


def test_many_jobs_round_trip_in_order(db_path: Path) -> None:
    jobs = {job.job_id: job for job in sample_jobs(150)}  # the last run of a job_id wins
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_jobs(jobs.values())
    with create_persistence(db_path) as persistence:
        loaded = persistence.load_all_jobs()
    expected = sorted(jobs.values(), key=lambda j: (j.started_at, j.job_id))
    assert [job_record(j) for j in loaded] == [job_record(j) for j in expected]
