"""Fact summaries, checked against figures counted by hand on ``counted_jobs()``.

The seven jobs (see tests/support.py), in Fabric's order, with UTC starts:

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
from support import counted_jobs, sample_jobs

import fabric_nb
from fabric_nb import (
    WEEKS_FROM_MONDAY,
    daily_counts,
    engine_profile_table,
    failure_reasons,
    jobs_frame,
    outputs_frame,
    repeated_failures,
    slowest_jobs,
    status_counts,
    summaries,
    usage_over_time,
)

NA = pd.NA
DISK_FULL = "Disk full while writing output"
JOBSPEC = "JobSpec version 1.3 is not supported (expected 2.x)"
OFFLINE = "Resolve render job failed: Media offline"
NOT_FOUND = "Source file not found: /Volumes/A001/clip.mov"
PRORES = "proxy_prores_proxy_resolve"

#: Public names of fabric_nb.summaries the package does not re-export: ``By``
#: is the type of the ``by`` arguments, for annotations.
NOT_REEXPORTED = {"By", "NOT_RECORDED", "status_table"}  # a type, a label, a building block


def test_the_package_re_exports_every_public_summary() -> None:
    # fabric_nb lists the summaries by hand (it imports them lazily, to stay
    # free of pandas): a summary added to summaries.__all__ must be added there.
    reexported = set(summaries.__all__) - NOT_REEXPORTED
    assert {name for name in fabric_nb.__all__ if name in summaries.__all__} == reexported
    for name in sorted(reexported):
        assert getattr(fabric_nb, name) is getattr(summaries, name), name


@pytest.fixture
def job_rows() -> pd.DataFrame:
    return jobs_frame(counted_jobs())


@pytest.fixture
def clip_rows() -> pd.DataFrame:
    return outputs_frame(counted_jobs())


@pytest.fixture(scope="module")
def sample_rows() -> pd.DataFrame:
    return jobs_frame(sample_jobs(400))


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
    assert table["total"].tolist() == [7, 7, 7]
    assert table["share"].tolist() == [2 / 7, 4 / 7, 1 / 7]
    assert str(table["count"].dtype) == "int64"
    assert str(table["share"].dtype) == "Float64"


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
    assert list(table.columns) == [
        "level", "reason", "count", "out_of", "share", "stages", "engines", "profiles",
    ]  # fmt: skip
    # One row per reason, ranked by count, then by reason text, then level (job first).
    # Clip reasons are out of the 8 clips, job errors out of the 7 jobs.
    assert records(table) == [
        ("clip", DISK_FULL, 3, 8, 3 / 8, "execution", "ffmpeg, resolve",
         f"proxy_h264_low, {PRORES}"),  # job_d's two clips and job_b clip 1
        ("job", JOBSPEC, 2, 7, 2 / 7, "validation", None, None),  # job_f and job_g
        ("clip", OFFLINE, 1, 8, 1 / 8, "execution", "resolve", PRORES),  # job_b clip 2
        ("job", NOT_FOUND, 1, 7, 1 / 7, "pre-job", "ffmpeg", "proxy_h264_low"),  # job_c
    ]  # fmt: skip
    assert {name: str(t) for name, t in table.dtypes.items()} == {
        "level": "category",
        "reason": "string",
        "count": "int64",
        "out_of": "int64",
        "share": "Float64",
        "stages": "string",
        "engines": "string",
        "profiles": "string",
    }


def test_failure_reasons_lists_each_reason_once_on_the_sample() -> None:
    jobs = sample_jobs(400)
    table = failure_reasons(jobs_frame(jobs), outputs_frame(jobs))
    assert not table.duplicated(["level", "reason"]).any()
    top = table.head(10)
    assert top["reason"].is_unique  # the notebook's "top 10" names ten different reasons


def test_failure_reasons_split_by_engine(job_rows: pd.DataFrame, clip_rows: pd.DataFrame) -> None:
    table = failure_reasons(job_rows, clip_rows, by="engine_used")
    assert list(table.columns[:3]) == ["level", "reason", "engine_used"]
    assert records(table[["level", "reason", "engine_used", "count", "out_of"]]) == [
        ("clip", DISK_FULL, "ffmpeg", 2, 4),  # job_d: 2 of the 4 ffmpeg clips
        ("job", JOBSPEC, None, 2, 2),  # job_f, job_g: both jobs without an engine
        ("clip", DISK_FULL, "resolve", 1, 4),
        ("clip", OFFLINE, "resolve", 1, 4),
        ("job", NOT_FOUND, "ffmpeg", 1, 3),  # job_c, of job_a, job_c, job_d
    ]
    # The split adds up to the ranked table.
    ranked = failure_reasons(job_rows, clip_rows).set_index(["level", "reason"])["count"]
    split = table.groupby(["level", "reason"], observed=True)["count"].sum()
    assert split.sort_index().tolist() == ranked.sort_index().tolist()


def test_failure_reasons_by_a_job_column_groups_clips_by_their_job(
    job_rows: pd.DataFrame, clip_rows: pd.DataFrame
) -> None:
    table = failure_reasons(job_rows, clip_rows, by="fingerprint")
    disk = table[table["reason"] == DISK_FULL]
    # job_b (fingerprint aaa) has one disk-full clip, job_d (none) two.
    assert records(disk[["fingerprint", "count"]]) == [(None, 2), ("sha256:aaa", 1)]
    with pytest.raises(ValueError, match="cannot group by 'nope'"):
        failure_reasons(job_rows, clip_rows, by="nope")


def test_failure_reasons_of_jobs_only(job_rows: pd.DataFrame) -> None:
    assert records(failure_reasons(job_rows)[["level", "reason", "count", "out_of"]]) == [
        ("job", JOBSPEC, 2, 7),
        ("job", NOT_FOUND, 1, 7),
    ]


def test_failure_reasons_keep_clips_of_the_given_jobs(
    job_rows: pd.DataFrame, clip_rows: pd.DataFrame
) -> None:
    resolve_jobs = job_rows[job_rows["engine_used"] == "resolve"]  # job_b, job_e
    assert records(failure_reasons(resolve_jobs, clip_rows)[["reason", "count", "out_of"]]) == [
        (DISK_FULL, 1, 4),
        (OFFLINE, 1, 4),
    ]


def test_failure_reasons_empty(job_rows: pd.DataFrame, clip_rows: pd.DataFrame) -> None:
    full = failure_reasons(job_rows, clip_rows)
    empty = failure_reasons(job_rows.iloc[:0], clip_rows.iloc[:0])
    assert empty.empty
    assert list(empty.columns) == list(full.columns)
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
    assert list(table.columns) == [
        "COMPLETED", "FAILED", "PARTIAL", "total",
        "COMPLETED_share", "FAILED_share", "PARTIAL_share",
    ]  # fmt: skip
    assert table["FAILED_share"].tolist()[:3] == [0.0, 1.0, 0.5]
    assert table["FAILED_share"].isna().tolist() == [False, False, False, True, False]
    assert table[["COMPLETED", "FAILED", "PARTIAL", "total"]].to_numpy().tolist() == [
        [1, 0, 1, 2],
        [0, 1, 0, 1],
        [1, 1, 0, 2],
        [0, 0, 0, 0],
        [0, 2, 0, 2],
    ]
    assert [str(t) for t in table.dtypes] == ["int64"] * 4 + ["Float64"] * 3


def test_daily_counts_weekly_and_hourly(job_rows: pd.DataFrame) -> None:
    # pandas' "W-MON": weeks that END on Monday, labelled by it (all seven jobs: 1-5 Sept).
    weekly = daily_counts(job_rows, freq="W-MON")
    assert [t.isoformat() for t in weekly.index] == ["2026-09-07T00:00:00+00:00"]
    assert weekly[["COMPLETED", "FAILED", "PARTIAL", "total"]].to_numpy().tolist() == [[2, 4, 1, 7]]
    # Weeks that START on Monday are asked for by name, and labelled by their Monday.
    monday = daily_counts(job_rows, freq=WEEKS_FROM_MONDAY)
    assert [t.isoformat() for t in monday.index] == ["2026-08-31T00:00:00+00:00"]
    hourly = daily_counts(job_rows[job_rows["started_at"].dt.day == 5], freq="h")
    assert [t.hour for t in hourly.index] == [12, 13]
    assert hourly["FAILED"].tolist() == [1, 1]


@pytest.mark.parametrize("freq", ["D", "h", "W-MON", "W-SUN", "MS", "ME", "2D"])
def test_daily_counts_equal_pandas_resample(sample_rows: pd.DataFrame, freq: str) -> None:
    table = daily_counts(sample_rows, freq)
    by_start = sample_rows.set_index("started_at")
    expected = by_start.resample(freq).size()
    assert table.index.tolist() == expected.index.tolist()
    assert table["total"].tolist() == expected.tolist()
    failed = (by_start["final_status"] == "FAILED").resample(freq).sum()
    assert table["FAILED"].tolist() == failed.tolist()


def test_weeks_from_monday_equal_pandas_weekly_periods(sample_rows: pd.DataFrame) -> None:
    table = daily_counts(sample_rows, WEEKS_FROM_MONDAY)
    # pandas' weekly Period ("W" = "W-SUN") runs Monday 00:00 to Sunday 24:00.
    naive = sample_rows["started_at"].dt.tz_localize(None)
    periods = naive.dt.to_period("W").dt.start_time.dt.tz_localize("UTC")
    expected = periods.value_counts().sort_index()
    assert table.loc[table["total"] > 0, "total"].tolist() == expected.tolist()
    assert [t.day_name() for t in table.index] == ["Monday"] * len(table)
    assert table.index[table["total"] > 0].tolist() == expected.index.tolist()


def test_daily_counts_by_engine_cover_the_same_periods(sample_rows: pd.DataFrame) -> None:
    table = daily_counts(sample_rows, "W-MON", by="engine_used")
    whole = daily_counts(sample_rows, "W-MON")
    assert table.index.names == ["engine_used", "period"]
    groups = table.index.get_level_values("engine_used").unique()
    for engine in groups:
        assert table.xs(engine, level="engine_used").index.equals(whole.index)
    # Summed over engines, the counts are the whole history's.
    summed = table.groupby(level="period")[["COMPLETED", "FAILED", "PARTIAL", "total"]].sum()
    # (check_freq: pandas 2.2 compares the index's freq, which a groupby drops.)
    pd.testing.assert_frame_equal(
        summed,
        whole[["COMPLETED", "FAILED", "PARTIAL", "total"]],
        check_names=False,
        check_freq=False,
    )
    # Each group equals pandas on that group's rows, reindexed to the common periods.
    ffmpeg = sample_rows[sample_rows["engine_used"] == "ffmpeg"].set_index("started_at")
    expected = ffmpeg.resample("W-MON").size().reindex(whole.index, fill_value=0)
    assert table.xs("ffmpeg", level="engine_used")["total"].tolist() == expected.tolist()
    failed = table.xs("ffmpeg", level="engine_used")
    rate = failed["FAILED"] / failed["total"]
    assert failed["FAILED_share"].astype(float).tolist() == rate.astype(float).tolist()


def test_status_counts_by_group_equal_a_crosstab(sample_rows: pd.DataFrame) -> None:
    table = status_counts(sample_rows, by="engine_used")
    crosstab = pd.crosstab(sample_rows["engine_used"], sample_rows["final_status"])
    for engine in crosstab.index:
        mine = table.xs(engine, level="engine_used")
        assert mine["count"].tolist() == crosstab.loc[engine].tolist()
        assert (mine["total"] == crosstab.loc[engine].sum()).all()
        shares = crosstab.loc[engine] / crosstab.loc[engine].sum()
        assert mine["share"].astype(float).tolist() == pytest.approx(shares.tolist())
    two = status_counts(sample_rows, by=["engine_used", "canonical_proxy_profile"])
    assert two.index.names == ["engine_used", "canonical_proxy_profile", "final_status"]
    assert two["count"].sum() == len(sample_rows)
    assert len(two) % 3 == 0  # every group lists every status


def test_status_counts_by_hand(job_rows: pd.DataFrame) -> None:
    table = status_counts(job_rows, by="engine_used")
    assert records(table.reset_index()) == [
        ("ffmpeg", "COMPLETED", 1, 3, 1 / 3),
        ("ffmpeg", "FAILED", 2, 3, 2 / 3),
        ("ffmpeg", "PARTIAL", 0, 3, 0.0),
        ("resolve", "COMPLETED", 1, 2, 0.5),
        ("resolve", "FAILED", 0, 2, 0.0),
        ("resolve", "PARTIAL", 1, 2, 0.5),
        (None, "COMPLETED", 0, 2, 0.0),  # job_f and job_g recorded no engine
        (None, "FAILED", 2, 2, 1.0),
        (None, "PARTIAL", 0, 2, 0.0),
    ]
    with pytest.raises(ValueError, match="cannot group by 'final_status'"):
        status_counts(job_rows, by="final_status")


def test_daily_counts_empty_and_bad_freq(job_rows: pd.DataFrame) -> None:
    empty = daily_counts(job_rows.iloc[:0])
    full = daily_counts(job_rows)
    assert empty.empty
    assert list(empty.columns) == list(full.columns)
    assert dict(empty.dtypes) == dict(full.dtypes)
    assert str(empty.index.dtype) == "datetime64[us, UTC]"
    for frame in (job_rows, job_rows.iloc[:0]):
        with pytest.raises(ValueError, match="freq='fortnightly' is not a pandas frequency"):
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
        "count", "total", "share", "level", "reason", "out_of", "stages", "engines", "profiles",
        "engine_used", "canonical_proxy_profile", "COMPLETED", "FAILED", "PARTIAL",
        "COMPLETED_share", "FAILED_share", "PARTIAL_share",
    }  # fmt: skip


# -- one-call answers -------------------------------------------------------------------


def repeated_history() -> list[object]:
    """Three jobs over two sources: A fails twice then completes; B fails once."""
    from datetime import UTC, datetime

    from support import make_job, make_output

    def job(job_id: str, day: int, clips: list[tuple[str, str, str | None]]) -> object:
        outs = tuple(
            make_output(job_id, i, source_path=src, status=status, failure_reason=reason)
            for i, (src, status, reason) in enumerate(clips)
        )
        failed = sum(o.status == "FAILED" for o in outs)
        return make_job(
            job_id,
            final_status="FAILED" if failed == len(outs) else "PARTIAL" if failed else "COMPLETED",
            started_at=datetime(2026, 9, day, 10, tzinfo=UTC),
            completed_at=datetime(2026, 9, day, 11, tzinfo=UTC),
            outputs=outs,
            total_clips=len(outs),
            completed_clips=len(outs) - failed,
            failed_clips=failed,
        )

    return [
        job("j1", 1, [("/m/A.mov", "FAILED", "Disk full"), ("/m/B.mov", "FAILED", "Offline")]),
        job("j2", 2, [("/m/A.mov", "FAILED", "Offline"), ("/m/A.mov", "FAILED", "Offline")]),
        job("j3", 3, [("/m/A.mov", "COMPLETED", None), ("/m/B.mov", "COMPLETED", None)]),
    ]


def test_repeated_failures_hand_counted() -> None:
    clips = outputs_frame(repeated_history())  # type: ignore[arg-type]
    table = repeated_failures(clips)
    assert records(table) == [
        (
            "/m/A.mov", 2, 3, 1, 3,
            pd.Timestamp("2026-09-01T10:00", tz="UTC"), pd.Timestamp("2026-09-03T10:00", tz="UTC"),
            "Disk full | Offline",
        ),
    ]  # fmt: skip
    assert [str(t) for t in table.dtypes] == [
        "string", "int64", "int64", "int64", "int64",
        "datetime64[us, UTC]", "datetime64[us, UTC]", "string",
    ]  # fmt: skip
    assert repeated_failures(clips, min_jobs=1)["source_path"].tolist() == ["/m/A.mov", "/m/B.mov"]
    empty = repeated_failures(clips.iloc[:0])
    assert empty.empty
    assert dict(empty.dtypes) == dict(table.dtypes)
    with pytest.raises(ValueError, match="min_jobs must be >= 1"):
        repeated_failures(clips, min_jobs=0)


def test_repeated_failures_equal_plain_pandas_on_the_sample() -> None:
    clips = outputs_frame(sample_jobs(400))
    failed = clips[clips["status"] == "FAILED"]
    per_source = failed.groupby("source_path")["job_id"].nunique()
    for min_jobs in (1, 2):
        table = repeated_failures(clips, min_jobs=min_jobs)
        expected = per_source[per_source >= min_jobs]
        assert sorted(table["source_path"]) == sorted(expected.index)
        assert table.set_index("source_path")["failed_jobs"].sort_index().tolist() == (
            expected.sort_index().tolist()
        )


def test_slowest_jobs_equal_nlargest(sample_rows: pd.DataFrame) -> None:
    table = slowest_jobs(sample_rows, top=5)
    expected = sample_rows.dropna(subset=["duration_seconds"]).sort_values(
        "duration_seconds", ascending=False, kind="stable"
    )
    assert table["job_id"].tolist() == expected["job_id"].head(5).tolist()
    average = (
        (expected["duration_seconds"] / expected["total_clips"].where(expected["total_clips"] > 0))
        .dropna()
        .sort_values(ascending=False, kind="stable")
    )
    per_clip = slowest_jobs(sample_rows, top=5, per_clip=True)
    assert per_clip["average_seconds_per_clip"].tolist() == average.head(5).tolist()
    assert str(per_clip["average_seconds_per_clip"].dtype) == "Float64"


def test_slowest_jobs_by_hand(job_rows: pd.DataFrame) -> None:
    # job_b and job_d took 30 min; job_d has 2 clips, job_b 3: 900 s and 600 s per clip.
    assert slowest_jobs(job_rows, top=2)["job_id"].tolist() == ["job_b", "job_d"]
    per_clip = slowest_jobs(job_rows, top=10, per_clip=True)
    assert per_clip["job_id"].tolist() == ["job_d", "job_b", "job_a", "job_e"]  # f: no clips
    assert per_clip["average_seconds_per_clip"].tolist() == [900.0, 600.0, 300.0, 30.0]
    assert slowest_jobs(job_rows.iloc[:0]).empty
    with pytest.raises(ValueError, match="top must be >= 1"):
        slowest_jobs(job_rows, top=0)


def test_usage_over_time_equals_a_crosstab(sample_rows: pd.DataFrame) -> None:
    table = usage_over_time(sample_rows, by="engine_used", freq="W-MON")
    periods = sample_rows.set_index("started_at").resample("W-MON")
    for engine in ("ffmpeg", "resolve"):
        expected = (
            (sample_rows["engine_used"] == engine)
            .set_axis(sample_rows["started_at"])
            .resample("W-MON")
            .sum()
        )
        assert table[engine].tolist() == expected.tolist()
    assert table["total"].tolist() == periods.size().tolist()
    assert table.columns.name == "engine_used"


def test_usage_over_time_by_hand(job_rows: pd.DataFrame) -> None:
    table = usage_over_time(job_rows, freq="D")
    assert list(table.columns) == [
        "proxy_h264_low", "proxy_prores_proxy_resolve", "(not recorded)", "total",
    ]  # fmt: skip
    assert table["(not recorded)"].tolist() == [0, 0, 1, 0, 2]  # job_e; job_f and job_g
    assert usage_over_time(job_rows.iloc[:0]).empty
