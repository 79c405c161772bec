"""duration_stats: quantiles of job duration per group and period, as pandas computes them."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import build_store, counted_jobs, sample_jobs

from fabric_nb import WEEKS_FROM_MONDAY, jobs_frame, open_fabric
from fabric_nb.summaries import duration_stats

SAMPLE = jobs_frame(sample_jobs(300))


def reference(
    jobs: pd.DataFrame,
    by: list[str],
    freq: str | None,
    q: tuple[float, ...],
    *,
    per_clip: bool = False,
) -> pd.DataFrame:
    """The same figures by hand: pandas' groupby and quantile over the jobs with a duration."""
    seconds = jobs["duration_seconds"].astype("Float64")
    if per_clip:
        clips = jobs["total_clips"].astype("Int64")
        seconds = seconds / clips.where(clips > 0).astype("Float64")
    table = jobs.assign(seconds=seconds.astype(float))[seconds.notna().to_numpy(dtype=bool)]
    keys: list[object] = list(by)
    if freq == WEEKS_FROM_MONDAY:
        keys.append(pd.Grouper(key="started_at", freq="W-MON", closed="left", label="left"))
    elif freq is not None:
        keys.append(pd.Grouper(key="started_at", freq=freq))
    if not keys:
        values = table["seconds"]
        return pd.DataFrame(
            {"jobs": [len(values)], **{f"p{x * 100:g}": [values.quantile(x)] for x in q}}
        )
    grouped = table.groupby(keys, observed=True, dropna=False)["seconds"]
    out = grouped.size().to_frame("jobs")
    for x in q:
        out[f"p{x * 100:g}"] = grouped.quantile(x)
    return out[out["jobs"] > 0]


@pytest.mark.parametrize("by", [[], ["engine_used"], ["engine_used", "canonical_proxy_profile"]])
@pytest.mark.parametrize("freq", [None, "MS", "W-MON", WEEKS_FROM_MONDAY, "D"])
@pytest.mark.parametrize("per_clip", [False, True])
def test_figures_equal_pandas_groupby_quantile(
    by: list[str], freq: str | None, per_clip: bool
) -> None:
    q = (0.5, 0.95)
    got = duration_stats(SAMPLE, by=by or None, freq=freq, q=q, per_clip=per_clip)
    expected = reference(SAMPLE, by, freq, q, per_clip=per_clip)
    unit = "seconds_per_clip" if per_clip else "seconds"

    assert list(got.columns) == ["jobs", f"p50_{unit}", f"p95_{unit}"]
    assert str(got["jobs"].dtype) == "int64"
    assert all(str(got[c].dtype) == "Float64" for c in got.columns[1:])
    assert got["jobs"].tolist() == expected["jobs"].tolist()
    for mine, theirs in zip(got.columns[1:], ("p50", "p95"), strict=True):
        np.testing.assert_allclose(
            got[mine].to_numpy(dtype=float), expected[theirs].to_numpy(dtype=float), rtol=1e-12
        )
    if by or freq:
        assert list(got.index.names) == [*by, *(["period"] if freq else [])]
        assert [tuple(np.atleast_1d(k)) for k in got.index] == [
            tuple(np.atleast_1d(k)) for k in expected.index
        ]


def test_periods_are_utc_instants_and_no_time_zone_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monthly = duration_stats(SAMPLE, freq="MS")
    assert str(monthly.index.dtype) == "datetime64[us, UTC]"
    assert monthly.index.name == "period"
    assert all(t.day == 1 and t.hour == 0 for t in monthly.index)


def test_counted_by_hand() -> None:
    jobs = jobs_frame(counted_jobs())
    stats = duration_stats(jobs, by="engine_used", q=(0.5,))
    assert stats.index[-1] is pd.NA  # a job that recorded no engine: its own group, last
    for row, engine in enumerate(stats.index):
        mine = (
            jobs["engine_used"].isna()
            if engine is pd.NA
            else jobs["engine_used"].eq(engine).fillna(False)
        )
        durations = jobs.loc[mine.to_numpy(dtype=bool), "duration_seconds"].dropna()
        assert stats["jobs"].iloc[row] == len(durations)
        assert stats["p50_seconds"].iloc[row] == pytest.approx(float(np.median(durations)))


def test_jobs_without_a_duration_or_clips_are_left_out() -> None:
    jobs = SAMPLE.copy()
    jobs.loc[jobs.index[:10], "duration_seconds"] = pd.NA
    jobs.loc[jobs.index[10:15], "total_clips"] = 0
    known = int(jobs["duration_seconds"].notna().sum())
    assert duration_stats(jobs)["jobs"].tolist() == [known]
    with_clips = int((jobs["duration_seconds"].notna() & (jobs["total_clips"] > 0)).sum())
    assert with_clips < known
    assert duration_stats(jobs, per_clip=True)["jobs"].tolist() == [with_clips]


def test_an_empty_frame_gives_no_rows_with_the_columns() -> None:
    empty = duration_stats(SAMPLE.iloc[:0], by="engine_used", freq="MS")
    assert empty.empty
    assert list(empty.columns) == ["jobs", "p50_seconds", "p95_seconds"]


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ((), "non-empty sequence"),
        (0.5, "non-empty sequence"),
        ("0.5", "non-empty sequence"),
        ((1.5,), "in \\[0, 1\\]"),
        ((-0.1,), "in \\[0, 1\\]"),
        ((True,), "a number"),
        (("x",), "a number"),
        ((0.5, 0.5), "twice"),
    ],
)
def test_bad_quantiles_are_refused_by_name(q: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        duration_stats(SAMPLE, q=q)  # type: ignore[arg-type]


def test_bad_by_and_freq_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot group by 'engine'"):
        duration_stats(SAMPLE, by="engine")
    with pytest.raises(ValueError, match="freq='weekly' is not a pandas frequency"):
        duration_stats(SAMPLE, freq="weekly")
    with pytest.raises(ValueError, match="jobs_frame"):
        duration_stats(SAMPLE[["job_id"]])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ffmpeg", "resolve"]),
            st.floats(0, 10_000, allow_nan=False),
            st.integers(0, 60),
        ),
        min_size=1,
        max_size=40,
    ),
    st.lists(st.floats(0, 1), min_size=1, max_size=3, unique=True),
)
def test_random_durations_match_numpy(rows: list[tuple[str, float, int]], q: list[float]) -> None:
    q = [x for x in q if len({f"p{y * 100:g}" for y in q}) == len(q)] or [0.5]
    start = pd.Timestamp("2026-01-01", tz="UTC")
    jobs = SAMPLE.iloc[: len(rows)].copy()
    jobs["engine_used"] = pd.array([r[0] for r in rows], dtype="string")
    jobs["duration_seconds"] = pd.array([r[1] for r in rows], dtype="Float64")
    jobs["started_at"] = [start + pd.Timedelta(days=r[2]) for r in rows]
    got = duration_stats(jobs, by="engine_used", freq="MS", q=q)
    expected = reference(jobs, ["engine_used"], "MS", tuple(q))
    assert got["jobs"].tolist() == expected["jobs"].tolist()
    for x in q:
        np.testing.assert_allclose(
            got[f"p{x * 100:g}_seconds"].to_numpy(dtype=float),
            expected[f"p{x * 100:g}"].to_numpy(dtype=float),
            rtol=1e-9,
            atol=1e-9,
        )


def test_the_history_method_filters_then_computes(tmp_path: Path) -> None:
    db = build_store(tmp_path / "f.db", sample_jobs(300))
    with open_fabric(db) as fabric:
        got = fabric.duration_stats(by="engine_used", freq="MS", status="COMPLETED")
        expected = duration_stats(fabric.jobs(status="COMPLETED"), by="engine_used", freq="MS")
    pd.testing.assert_frame_equal(got, expected)
