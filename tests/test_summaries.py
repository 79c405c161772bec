"""Fact summaries, checked against figures counted by hand on ``counted_jobs()``.

The seven jobs (see tests/conftest.py), in Fabric's order, with UTC starts:

    job_a  COMPLETED  09-01 09:00  ffmpeg   proxy_h264_low              2 clips ok
    job_b  PARTIAL    09-01 09:00  resolve  proxy_prores_proxy_resolve  1 ok, 2 failed
    job_c  FAILED     09-02 08:00  ffmpeg   proxy_h264_low              pre-job error, no clips
    job_d  FAILED     09-03 04:30  ffmpeg   proxy_h264_low              2 failed (disk full)
    job_e  COMPLETED  09-03 10:00  resolve  (none)                      1 clip ok
    job_f  FAILED     09-05 12:00  (none)   (none)                      validation error
    job_g  FAILED     09-05 13:00  (none)   (none)                      same validation error
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import counted_jobs, sample_jobs

from fabric_nb import (
    daily_counts,
    engine_profile_table,
    failure_reasons,
    jobs_frame,
    outputs_frame,
    status_counts,
)

NA = pd.NA
DISK_FULL = "Disk full while writing output"
JOBSPEC = "JobSpec version 1.3 is not supported (expected 2.x)"
OFFLINE = "Resolve render job failed: Media offline"
NOT_FOUND = "Source file not found: /Volumes/A001/clip.mov"
PRORES = "proxy_prores_proxy_resolve"


@pytest.fixture
def job_rows() -> pd.DataFrame:
    return jobs_frame(counted_jobs())


@pytest.fixture
def clip_rows() -> pd.DataFrame:
    return outputs_frame(counted_jobs())


def records(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """Rows as tuples with ``None`` for missing values."""
    return [
        tuple(None if v is NA else v for v in row)
        for row in frame.astype(object).itertuples(index=False)
    ]


# -- status_counts ----------------------------------------------------------------------


def test_status_counts_of_jobs(job_rows: pd.DataFrame) -> None:
    table = status_counts(job_rows)
    assert table.index.name == "final_status"
    assert table.index.tolist() == ["COMPLETED", "FAILED", "PARTIAL"]
    assert table["count"].tolist() == [2, 4, 1]
    assert table["share"].tolist() == [2 / 7, 4 / 7, 1 / 7]
    assert str(table["count"].dtype) == "int64" and str(table["share"].dtype) == "Float64"


def test_status_counts_of_clips(clip_rows: pd.DataFrame) -> None:
    table = status_counts(clip_rows)
    assert table.index.name == "status"
    assert table.index.tolist() == ["COMPLETED", "FAILED"]
    assert table["count"].tolist() == [4, 4]
    assert table["share"].tolist() == [0.5, 0.5]


def test_status_counts_lists_zero_statuses_and_no_share_when_empty(job_rows: pd.DataFrame) -> None:
    table = status_counts(job_rows[job_rows["final_status"] == "FAILED"])
    assert table["count"].tolist() == [0, 4, 0]
    assert table["share"].tolist() == [0.0, 1.0, 0.0]
    empty = status_counts(job_rows.iloc[:0])
    assert empty["count"].tolist() == [0, 0, 0]
    assert empty["share"].isna().all()  # 0 of 0 is not a share
    assert dict(empty.dtypes) == dict(table.dtypes)


def test_status_counts_needs_a_status_column() -> None:
    with pytest.raises(ValueError, match=r"jobs frame \(final_status\) or an outputs frame"):
        status_counts(pd.DataFrame({"x": [1]}))


# -- failure_reasons --------------------------------------------------------------------


def test_failure_reasons_hand_counted(job_rows: pd.DataFrame, clip_rows: pd.DataFrame) -> None:
    table = failure_reasons(job_rows, clip_rows)
    assert list(table.columns) == ["level", "reason", "stage", "engine", "profile", "count"]
    # By count (descending), then by reason text, then level / stage / engine / profile.
    assert records(table) == [
        ("clip", DISK_FULL, "execution", "ffmpeg", "proxy_h264_low", 2),  # job_d, both clips
        ("job", JOBSPEC, "validation", None, None, 2),  # job_f and job_g
        ("clip", DISK_FULL, "execution", "resolve", PRORES, 1),  # job_b clip 1
        ("clip", OFFLINE, "execution", "resolve", PRORES, 1),  # job_b clip 2
        ("job", NOT_FOUND, "pre-job", "ffmpeg", "proxy_h264_low", 1),  # job_c
    ]
    assert {name: str(t) for name, t in table.dtypes.items()} == {
        "level": "category",
        "reason": "string",
        "stage": "string",
        "engine": "string",
        "profile": "string",
        "count": "int64",
    }


def test_failure_reasons_of_jobs_only(job_rows: pd.DataFrame) -> None:
    assert records(failure_reasons(job_rows)) == [
        ("job", JOBSPEC, "validation", None, None, 2),
        ("job", NOT_FOUND, "pre-job", "ffmpeg", "proxy_h264_low", 1),
    ]


def test_failure_reasons_keep_clips_of_the_given_jobs(
    job_rows: pd.DataFrame, clip_rows: pd.DataFrame
) -> None:
    resolve_jobs = job_rows[job_rows["engine_used"] == "resolve"]  # job_b, job_e
    assert records(failure_reasons(resolve_jobs, clip_rows)) == [
        ("clip", DISK_FULL, "execution", "resolve", PRORES, 1),
        ("clip", OFFLINE, "execution", "resolve", PRORES, 1),
    ]


def test_failure_reasons_empty(job_rows: pd.DataFrame, clip_rows: pd.DataFrame) -> None:
    full = failure_reasons(job_rows, clip_rows)
    empty = failure_reasons(job_rows.iloc[:0], clip_rows.iloc[:0])
    assert empty.empty and list(empty.columns) == list(full.columns)
    assert dict(empty.dtypes) == dict(full.dtypes)


def test_failure_reasons_order_is_total_on_the_sample() -> None:
    jobs = sample_jobs(300)
    table = failure_reasons(jobs_frame(jobs), outputs_frame(jobs))
    counts = table["count"].tolist()
    assert counts == sorted(counts, reverse=True)
    # Per count, reasons ascend; the sum equals every recorded reason, counted directly.
    for _, group in table.groupby("count", sort=False):
        assert group["reason"].tolist() == sorted(group["reason"].tolist())
    # (Re-runs of one job_id are all given here, so each run counts.)
    recorded_clip_reasons = sum(1 for job in jobs for o in job.outputs if o.failure_reason)
    recorded_job_errors = sum(1 for job in jobs if job.validation_error)
    assert table.loc[table["level"] == "clip", "count"].sum() == recorded_clip_reasons
    assert table.loc[table["level"] == "job", "count"].sum() == recorded_job_errors


# -- engine_profile_table ---------------------------------------------------------------


def test_engine_profile_table_hand_counted(job_rows: pd.DataFrame) -> None:
    table = engine_profile_table(job_rows)
    assert list(table.columns) == [
        "engine_used", "canonical_proxy_profile", "COMPLETED", "FAILED", "PARTIAL", "total",
    ]  # fmt: skip
    assert records(table) == [
        ("ffmpeg", "proxy_h264_low", 1, 2, 0, 3),  # job_a; job_c, job_d
        ("resolve", PRORES, 0, 0, 1, 1),  # job_b
        ("resolve", None, 1, 0, 0, 1),  # job_e
        (None, None, 0, 2, 0, 2),  # job_f, job_g
    ]
    assert [str(t) for t in table.dtypes] == ["string", "string"] + ["int64"] * 4


def test_engine_profile_table_empty(job_rows: pd.DataFrame) -> None:
    empty = engine_profile_table(job_rows.iloc[:0])
    assert empty.empty
    assert dict(empty.dtypes) == dict(engine_profile_table(job_rows).dtypes)


# -- daily_counts -----------------------------------------------------------------------


def test_daily_counts_by_utc_day(job_rows: pd.DataFrame) -> None:
    table = daily_counts(job_rows)
    assert table.index.name == "period"
    assert str(table.index.dtype) == "datetime64[us, UTC]"
    assert [t.isoformat() for t in table.index] == [
        "2026-09-01T00:00:00+00:00",
        "2026-09-02T00:00:00+00:00",
        "2026-09-03T00:00:00+00:00",  # job_d started on 2 September at -05:00
        "2026-09-04T00:00:00+00:00",  # no job: a row of zeros
        "2026-09-05T00:00:00+00:00",
    ]
    assert list(table.columns) == ["COMPLETED", "FAILED", "PARTIAL", "total"]
    assert table.to_numpy().tolist() == [
        [1, 0, 1, 2],
        [0, 1, 0, 1],
        [1, 1, 0, 2],
        [0, 0, 0, 0],
        [0, 2, 0, 2],
    ]
    assert all(str(t) == "int64" for t in table.dtypes)


def test_daily_counts_weekly_and_hourly(job_rows: pd.DataFrame) -> None:
    weekly = daily_counts(job_rows, freq="W-MON")  # weeks starting on Monday 31 August
    assert [t.isoformat() for t in weekly.index] == ["2026-08-31T00:00:00+00:00"]
    assert weekly.to_numpy().tolist() == [[2, 4, 1, 7]]
    hourly = daily_counts(job_rows[job_rows["started_at"].dt.day == 5], freq="h")
    assert [t.hour for t in hourly.index] == [12, 13]
    assert hourly["FAILED"].tolist() == [1, 1]


def test_daily_counts_empty_and_bad_freq(job_rows: pd.DataFrame) -> None:
    empty = daily_counts(job_rows.iloc[:0])
    full = daily_counts(job_rows)
    assert empty.empty and list(empty.columns) == list(full.columns)
    assert dict(empty.dtypes) == dict(full.dtypes)
    assert str(empty.index.dtype) == "datetime64[us, UTC]"
    for frame in (job_rows, job_rows.iloc[:0]):
        with pytest.raises(ValueError):
            daily_counts(frame, freq="fortnightly")


def test_summaries_reject_frames_without_their_columns(clip_rows: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="needs column"):
        engine_profile_table(clip_rows)
    with pytest.raises(ValueError, match="needs column"):
        daily_counts(clip_rows.drop(columns="started_at"))
    with pytest.raises(ValueError, match="needs column"):
        failure_reasons(clip_rows)


def test_summaries_hold_no_scores() -> None:
    # Facts only: counts, shares beside counts, and the labels they are counted by.
    rows = jobs_frame(counted_jobs())
    outs = outputs_frame(counted_jobs())
    names = {
        *status_counts(rows).columns,
        *failure_reasons(rows, outs).columns,
        *engine_profile_table(rows).columns,
        *daily_counts(rows).columns,
    }
    assert names == {
        "count", "share", "level", "reason", "stage", "engine", "profile",
        "engine_used", "canonical_proxy_profile", "COMPLETED", "FAILED", "PARTIAL", "total",
    }  # fmt: skip
