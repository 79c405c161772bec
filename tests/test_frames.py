"""jobs_frame / outputs_frame and the jobs() / outputs() helpers over a FabricQueries.

Dtypes are checked against literal expectations (not against the module's own
schema mapping alone), on the synthetic sample, on hand-made jobs and on empty
input. Every value of a frame is compared with the field of the job it came
from, as the index holds it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from support import REPO_ROOT, counted_jobs, make_job, make_output, sample_jobs, tz

from fabric_nb import (
    JOBS_FRAME_DTYPES,
    OUTPUTS_FRAME_DTYPES,
    FabricIndex,
    FabricQueries,
    IngestedJob,
    jobs,
    jobs_frame,
    outputs,
    outputs_frame,
)
from fabric_nb.filters import UnknownValueWarning
from fabric_nb.models import job_order_key

UTC_US = "datetime64[us, UTC]"

# Written out by hand: the contract of the issue, independent of frames.py.
JOB_COLUMNS = {
    "job_id": "string",
    "final_status": "category",
    "started_at": UTC_US,
    "canonical_proxy_profile": "string",
    "fingerprint": "string",
    "validation_stage": "string",
    "validation_error": "string",
    "engine_used": "string",
    "resolve_preset_used": "string",
    "jobspec_version": "string",
    "completed_at": UTC_US,
    "ingested_at": UTC_US,
    "total_clips": "int64",
    "completed_clips": "int64",
    "failed_clips": "int64",
    "duration_seconds": "Float64",
    "success": "bool",
}
OUTPUT_COLUMNS = {
    "job_id": "string",
    "clip_index": "Int64",
    "clip_id": "string",
    "source_path": "string",
    "output_path": "string",
    "output_exists": "boolean",
    "output_size_bytes": "Int64",
    "status": "category",
    "failure_reason": "string",
    "engine_used": "string",
    "proxy_profile_used": "string",
    "resolve_preset_used": "string",
    "started_at": UTC_US,
}
TEXT_ATTRS = [name for name, dtype in JOB_COLUMNS.items() if dtype == "string"]


def assert_schema(frame: pd.DataFrame, expected: dict[str, str], schema: Any) -> None:
    assert list(frame.columns) == list(expected)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == expected
    # Exactly the declared dtype objects too (string storage, category lists...).
    assert dict(frame.dtypes) == dict(schema)
    for name, dtype in frame.dtypes.items():
        if expected[str(name)] == "string":
            assert dtype == pd.StringDtype(), name
            assert dtype.na_value is pd.NA, name


def assert_job_categories(frame: pd.DataFrame) -> None:
    dtype = frame["final_status"].dtype
    assert isinstance(dtype, pd.CategoricalDtype)
    assert list(dtype.categories) == ["COMPLETED", "FAILED", "PARTIAL"]
    assert dtype.ordered is False


@pytest.fixture(scope="module")
def sample_index() -> FabricIndex:
    index = FabricIndex()
    index.add_jobs(sample_jobs(300))
    return index


@pytest.fixture
def counted() -> FabricQueries:
    index = FabricIndex()
    index.add_jobs(counted_jobs())
    return FabricQueries(index)


def same(value: Any, expected: Any) -> bool:
    """Frame cell equals a model field: <NA>/NaT for None, instants for datetimes."""
    if expected is None:
        return value is pd.NA or value is pd.NaT
    if isinstance(expected, datetime):
        return isinstance(value, pd.Timestamp) and value == expected and str(value.tz) == "UTC"
    return type(value) is not type(pd.NA) and value == expected


# -- columns and dtypes -----------------------------------------------------------------


def test_jobs_frame_dtypes_on_sample(sample_index: FabricIndex) -> None:
    frame = jobs_frame(sample_index.get_all_jobs())
    assert len(frame) == sample_index.count_jobs() > 250
    assert_schema(frame, JOB_COLUMNS, JOBS_FRAME_DTYPES)
    assert_job_categories(frame)
    # The sample has every kind of missing value the dtypes must carry.
    assert frame["completed_at"].isna().any()
    assert frame["duration_seconds"].isna().any()
    assert frame["fingerprint"].isna().any()
    assert frame["validation_error"].notna().any()


def test_outputs_frame_dtypes_on_sample(sample_index: FabricIndex) -> None:
    frame = outputs_frame(sample_index.get_all_jobs())
    assert len(frame) == sum(len(j.outputs) for j in sample_index.get_all_jobs())
    assert_schema(frame, OUTPUT_COLUMNS, OUTPUTS_FRAME_DTYPES)
    status = frame["status"].dtype
    assert isinstance(status, pd.CategoricalDtype)
    assert list(status.categories) == ["COMPLETED", "FAILED"]
    assert status.ordered is False
    assert frame["output_size_bytes"].isna().any()
    assert frame["failure_reason"].notna().any()


@pytest.mark.parametrize("empty", [[], (), iter(())], ids=["list", "tuple", "iterator"])
def test_empty_input_gives_the_same_columns_and_dtypes(empty: Any) -> None:
    frame = jobs_frame(empty)
    assert frame.empty
    assert frame.shape == (0, len(JOB_COLUMNS))
    assert_schema(frame, JOB_COLUMNS, JOBS_FRAME_DTYPES)
    assert_job_categories(frame)
    out = outputs_frame([])
    assert out.shape == (0, len(OUTPUT_COLUMNS))
    assert_schema(out, OUTPUT_COLUMNS, OUTPUTS_FRAME_DTYPES)


def test_jobs_without_outputs_give_an_empty_outputs_frame() -> None:
    frame = outputs_frame([make_job(outputs=(), total_clips=0, completed_clips=0, failed_clips=0)])
    assert frame.empty
    assert_schema(frame, OUTPUT_COLUMNS, OUTPUTS_FRAME_DTYPES)


def test_empty_query_results_keep_the_schema(counted: FabricQueries) -> None:
    with pytest.warns(UnknownValueWarning):
        assert_schema(jobs(counted, engine="no-such-engine"), JOB_COLUMNS, JOBS_FRAME_DTYPES)
    assert_schema(outputs(counted, job_id="no-such-job"), OUTPUT_COLUMNS, OUTPUTS_FRAME_DTYPES)
    assert_schema(outputs(counted, job_id="job_c"), OUTPUT_COLUMNS, OUTPUTS_FRAME_DTYPES)


# -- values equal the index -------------------------------------------------------------


def test_every_jobs_frame_value_equals_the_index(sample_index: FabricIndex) -> None:
    expected = sample_index.get_all_jobs()
    frame = jobs_frame(expected)
    assert frame.index.equals(pd.RangeIndex(len(expected)))
    for row, job in zip(frame.itertuples(index=False), expected, strict=True):
        for name in JOB_COLUMNS:
            value, field = getattr(row, name), getattr(job, name)
            assert same(value, field), (job.job_id, name, value, field)
        # Exactly the float the model computes, not merely close to it.
        if job.duration_seconds is not None:
            assert row.duration_seconds == job.duration_seconds
        assert type(row.success) in (bool, np.bool_)


def test_every_outputs_frame_value_equals_the_index(sample_index: FabricIndex) -> None:
    expected = [
        (job, i, o) for job in sample_index.get_all_jobs() for i, o in enumerate(job.outputs)
    ]
    frame = outputs_frame(sample_index.get_all_jobs())
    assert len(frame) == len(expected)
    for row, (job, i, output) in zip(frame.itertuples(index=False), expected, strict=True):
        assert row.clip_index == i
        assert same(row.started_at, job.started_at)
        for name in OUTPUT_COLUMNS:
            if name not in ("clip_index", "started_at"):
                value, field = getattr(row, name), getattr(output, name)
                assert same(value, field), (job.job_id, i, name, value, field)


def test_timestamps_are_exact_instants_in_utc() -> None:
    started = datetime(2026, 9, 1, 23, 30, 0, 123456, tzinfo=tz(-5))
    job = make_job(started_at=started, completed_at=started + timedelta(seconds=90, microseconds=1))
    row = jobs_frame([job]).iloc[0]
    assert row["started_at"] == pd.Timestamp("2026-09-02T04:30:00.123456", tz="UTC")
    assert str(row["started_at"].tz) == "UTC"
    assert row["duration_seconds"] == 90.000001
    assert jobs_frame([job])["started_at"].dt.day.tolist() == [2]  # the UTC day


def test_far_dates_do_not_overflow() -> None:
    # datetime64[ns] ends in 2262; the microsecond unit holds every Python datetime.
    job = make_job(
        started_at=datetime(1, 1, 1, tzinfo=UTC), completed_at=datetime(9999, 12, 31, tzinfo=UTC)
    )
    row = jobs_frame([job]).iloc[0]
    assert row["started_at"].year == 1
    assert row["completed_at"].year == 9999
    assert row["duration_seconds"] == job.duration_seconds


# -- order ------------------------------------------------------------------------------


def test_rows_follow_fabric_order_whatever_the_input_order() -> None:
    shuffled = counted_jobs()
    random.Random(4).shuffle(shuffled)
    frame = jobs_frame(shuffled)
    # Hand-ordered: job_a and job_b start at the same instant (job_b at +02:00).
    assert frame["job_id"].tolist() == [
        "job_a", "job_b", "job_c", "job_d", "job_e", "job_f", "job_g",
    ]  # fmt: skip
    out = outputs_frame(shuffled)
    assert list(zip(out["job_id"], out["clip_index"], strict=True)) == [
        ("job_a", 0), ("job_a", 1), ("job_b", 0), ("job_b", 1), ("job_b", 2),
        ("job_d", 0), ("job_d", 1), ("job_e", 0),
    ]  # fmt: skip


def test_sample_order_is_the_index_order(sample_index: FabricIndex) -> None:
    shuffled = sample_index.get_all_jobs()
    random.Random(7).shuffle(shuffled)
    expected = [job.job_id for job in sorted(shuffled, key=job_order_key)]
    assert jobs_frame(shuffled)["job_id"].tolist() == expected
    assert expected == [job.job_id for job in sample_index.get_all_jobs()]


# -- bad input --------------------------------------------------------------------------


def test_unknown_job_status_is_an_error_naming_the_job() -> None:
    with pytest.raises(ValueError, match=r"job 'job_x' has status 'SKIPPED'.*COMPLETED"):
        jobs_frame([make_job("job_ok"), make_job("job_x", final_status="SKIPPED")])


def test_unknown_clip_status_is_an_error_naming_the_clip() -> None:
    bad = make_job("job_x", outputs=(make_output("job_x", 0), make_output("job_x", 1, status="OK")))
    with pytest.raises(ValueError, match=r"clip 1 of job 'job_x' has status 'OK'"):
        outputs_frame([bad])


def test_a_bad_status_names_a_huge_job_id_and_status_cut_short() -> None:
    huge_id, huge_status = "J" * 1_000_000, "S" * 1_000_000
    with pytest.raises(ValueError, match="expected one of COMPLETED") as jobs_error:
        jobs_frame([make_job(huge_id, final_status=huge_status)])
    message = str(jobs_error.value)
    assert (
        message
        == f"job '{'J' * 56}... has status '{'S' * 56}..., expected one of COMPLETED, FAILED, PARTIAL"
    )
    bad = make_job(huge_id, outputs=(make_output(huge_id, 0, status="OK"),))
    with pytest.raises(ValueError, match=r"^clip 0 of job 'J{56}\.\.\. has status 'OK'") as error:
        outputs_frame([bad])
    assert len(str(error.value)) < 200


def test_items_of_another_type_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"item 1 is dict, expected IngestedJob"):
        jobs_frame([make_job(), {"job_id": "x"}])  # type: ignore[list-item]  # the point
    with pytest.raises(TypeError, match=r"item 1 is IngestedOutput"):
        outputs_frame([make_job(), make_output()])  # type: ignore[arg-type]  # a mix, refused
    with pytest.raises(TypeError, match=r"item 1 is IngestedJob.*not a mix"):
        outputs_frame([make_output(), make_job()])  # type: ignore[arg-type]  # a mix, refused


# -- no shared state --------------------------------------------------------------------


def test_frames_do_not_share_state_with_the_index(counted: FabricQueries) -> None:
    before = [
        (j.job_id, j.final_status, j.started_at, j.total_clips) for j in counted.get_all_jobs()
    ]
    first, out = jobs(counted), outputs(counted)
    first.loc[0, "job_id"] = "changed"
    first.loc[0, "total_clips"] = 999
    first.loc[0, "started_at"] = pd.Timestamp("2000-01-01", tz="UTC")
    first["final_status"] = first["final_status"].cat.set_categories(["X"])
    out.loc[0, "output_size_bytes"] = -1
    after = [
        (j.job_id, j.final_status, j.started_at, j.total_clips) for j in counted.get_all_jobs()
    ]
    assert after == before
    again = jobs(counted)
    assert again.loc[0, "job_id"] == "job_a"
    assert again.loc[0, "total_clips"] == 2
    assert outputs(counted).loc[0, "output_size_bytes"] == 100_000_000


# -- bare outputs -----------------------------------------------------------------------


def test_bare_outputs_have_no_clip_index_or_start(counted: FabricQueries) -> None:
    given = counted.get_outputs_for_job("job_b")
    frame = outputs_frame(given)
    assert_schema(frame, OUTPUT_COLUMNS, OUTPUTS_FRAME_DTYPES)
    assert frame["clip_index"].isna().all()
    assert frame["started_at"].isna().all()
    assert frame["clip_id"].tolist() == [o.clip_id for o in given]
    assert frame["output_exists"].tolist() == [True, True, False]
    assert frame["output_size_bytes"].tolist()[:2] == [2_000_000_000, 500_000_000]
    assert frame["output_size_bytes"].isna().tolist() == [False, False, True]


def test_nullable_output_exists_keeps_unknown() -> None:
    frame = outputs_frame(counted_jobs())
    assert frame["output_exists"].tolist()[:6] == [True, True, True, True, False, False]
    assert frame["output_exists"].isna().tolist() == [False] * 6 + [True, False]


# -- the helpers over FabricQueries -----------------------------------------------------


def ids(frame: pd.DataFrame) -> list[str]:
    return frame["job_id"].tolist()


def test_jobs_helper_filters_hand_checked(counted: FabricQueries) -> None:
    assert ids(jobs(counted)) == ["job_a", "job_b", "job_c", "job_d", "job_e", "job_f", "job_g"]
    assert ids(jobs(counted, status="FAILED")) == ["job_c", "job_d", "job_f", "job_g"]
    assert ids(jobs(counted, status=["PARTIAL", "COMPLETED"])) == ["job_a", "job_b", "job_e"]
    assert ids(jobs(counted, engine="resolve")) == ["job_b", "job_e"]
    assert ids(jobs(counted, profile="proxy_h264_low")) == ["job_a", "job_c", "job_d"]
    assert ids(jobs(counted, fingerprint="sha256:aaa")) == ["job_a", "job_b"]
    assert ids(jobs(counted, engine="ffmpeg", status="FAILED")) == ["job_c", "job_d"]
    # job_d started 2026-09-02T23:30-05:00, which is 04:30 on 3 September in UTC.
    assert ids(jobs(counted, since="2026-09-03T00:00+00:00")) == [
        "job_d",
        "job_e",
        "job_f",
        "job_g",
    ]
    since = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)  # == job_a's and job_b's start: included
    until = datetime(2026, 9, 2, 8, 0, tzinfo=UTC)  # == job_c's start: excluded
    assert ids(jobs(counted, since=since, until=until)) == ["job_a", "job_b"]
    assert ids(jobs(counted, engine="ffmpeg", since=since, until=until)) == ["job_a"]
    assert ids(jobs(counted, profile="proxy_h264_low", status="PARTIAL")) == []


def test_each_jobs_filter_equals_filtering_the_column(sample_index: FabricIndex) -> None:
    queries = FabricQueries(sample_index)
    everything = jobs(queries)
    shared = sample_index.get_all_jobs()
    job = shared[len(everything) // 2]
    middle = job.started_at
    checks = {
        "status": ("final_status", "PARTIAL"),
        "engine": ("engine_used", "resolve"),
        "profile": ("canonical_proxy_profile", job.canonical_proxy_profile),
        "fingerprint": (
            "fingerprint",
            next(j.fingerprint for j in queries.get_all_jobs() if j.fingerprint),
        ),
    }
    for keyword, (column, value) in checks.items():
        expected = everything[everything[column] == value].reset_index(drop=True)
        assert len(expected) > 0
        pd.testing.assert_frame_equal(jobs(queries, **{keyword: value}), expected)
    later = everything[everything["started_at"] >= middle].reset_index(drop=True)
    pd.testing.assert_frame_equal(jobs(queries, since=middle), later)
    earlier = everything[everything["started_at"] < middle].reset_index(drop=True)
    pd.testing.assert_frame_equal(jobs(queries, until=middle.isoformat()), earlier)


def test_outputs_helper_filters_hand_checked(counted: FabricQueries) -> None:
    def rows(frame: pd.DataFrame) -> list[tuple[str, int]]:
        return list(zip(frame["job_id"], frame["clip_index"], strict=True))

    assert len(outputs(counted)) == 8
    assert rows(outputs(counted, job_id="job_b")) == [("job_b", 0), ("job_b", 1), ("job_b", 2)]
    assert rows(outputs(counted, status="FAILED")) == [
        ("job_b", 1), ("job_b", 2), ("job_d", 0), ("job_d", 1),
    ]  # fmt: skip
    assert rows(outputs(counted, job_id="job_b", status="FAILED")) == [("job_b", 1), ("job_b", 2)]
    assert rows(outputs(counted, engine="resolve")) == [
        ("job_b", 0), ("job_b", 1), ("job_b", 2), ("job_e", 0),
    ]  # fmt: skip
    assert rows(outputs(counted, profile="proxy_h264_low")) == [
        ("job_a", 0), ("job_a", 1), ("job_d", 0), ("job_d", 1),
    ]  # fmt: skip
    assert rows(outputs(counted, since="2026-09-03T00:00:00Z")) == [
        ("job_d", 0), ("job_d", 1), ("job_e", 0),
    ]  # fmt: skip
    assert rows(outputs(counted, job_id="job_b", until="2026-09-01T09:00+00:00")) == []
    started = outputs(counted, job_id="job_d")["started_at"].unique().tolist()
    assert started == [pd.Timestamp("2026-09-03T04:30", tz="UTC")]


def test_each_outputs_filter_equals_filtering_the_column(sample_index: FabricIndex) -> None:
    queries = FabricQueries(sample_index)
    everything = outputs(queries)
    some_job = everything["job_id"].iloc[len(everything) // 2]
    checks = {
        "job_id": ("job_id", some_job),
        "status": ("status", "FAILED"),
        "engine": ("engine_used", "ffmpeg"),
        "profile": ("proxy_profile_used", "proxy_prores_lt"),
    }
    for keyword, (column, value) in checks.items():
        expected = everything[everything[column] == value].reset_index(drop=True)
        assert len(expected) > 0
        pd.testing.assert_frame_equal(outputs(queries, **{keyword: value}), expected)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda q: jobs(q, status="completed"), r"unknown status 'completed'"),
        (lambda q: jobs(q, status=["FAILED", "SKIPPED"]), r"unknown status 'SKIPPED'"),
        (lambda q: outputs(q, status="PARTIAL"), r"unknown status 'PARTIAL'.*COMPLETED, FAILED"),
        (lambda q: jobs(q, until=datetime(2026, 9, 3)), r"until=.* is a naive datetime"),
        (
            lambda q: outputs(q, since="yesterday"),
            r"since='yesterday' is neither an ISO 8601 date",
        ),
    ],
)
def test_bad_filters_are_clear_errors(counted: FabricQueries, call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(counted)


def test_a_bound_of_the_wrong_type_is_a_type_error(counted: FabricQueries) -> None:
    with pytest.raises(
        TypeError,
        match=r"since must be a datetime, a date, ISO 8601 text or a span back from now .*got int",
    ):
        jobs(counted, since=20260903)  # type: ignore[arg-type]


def test_pandas_timestamps_work_as_bounds(counted: FabricQueries) -> None:
    bound = pd.Timestamp("2026-09-05", tz="UTC")
    assert ids(jobs(counted, since=bound)) == ["job_f", "job_g"]


def test_helpers_return_new_frames_from_one_index(counted: FabricQueries) -> None:
    index: FabricIndex = counted.index
    index.add_job(make_job("job_z", started_at=datetime(2026, 9, 6, tzinfo=UTC)))
    assert ids(jobs(counted))[-1] == "job_z"
    assert isinstance(counted.get_job("job_z"), IngestedJob)


# -- the documented columns ------------------------------------------------------------


def documented_columns(marker: str) -> dict[str, str]:
    """The ``| `column` | `dtype` | meaning |`` rows of the table after ``marker``."""
    text = (REPO_ROOT / "docs" / "dataframes.md").read_text(encoding="utf-8")
    lines = text.split(f"<!-- {marker}", 1)[1].splitlines()[1:]
    table = []
    for line in lines:
        if not line.startswith("|"):
            break
        table.append(line)
    rows = {}
    for line in table[2:]:  # header and rule
        name, dtype, meaning = (cell.strip() for cell in line.strip("|").split("|"))
        assert meaning, f"{name} has no meaning in docs/dataframes.md"
        rows[name.strip("`")] = dtype.strip("`")
    return rows


@pytest.mark.parametrize(
    ("marker", "schema"),
    [("jobs-frame-columns", JOBS_FRAME_DTYPES), ("outputs-frame-columns", OUTPUTS_FRAME_DTYPES)],
)
def test_docs_list_every_column_with_its_dtype(marker: str, schema: Any) -> None:
    assert documented_columns(marker) == {name: str(dtype) for name, dtype in schema.items()}
    assert list(documented_columns(marker)) == list(schema)  # and in frame order
