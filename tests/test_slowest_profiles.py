"""slowest_profiles: time per clip per profile, slowest first, as pandas sums and medians it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import build_store, sample_jobs

from fabric_nb import jobs_frame, open_fabric
from fabric_nb.summaries import slowest_profiles

JOBS = jobs_frame(sample_jobs(300))


@pytest.mark.parametrize("by", ["canonical_proxy_profile", "engine_used"])
def test_figures_equal_a_pandas_groupby(by: str) -> None:
    got = slowest_profiles(JOBS, by=by)
    kept = JOBS[JOBS["duration_seconds"].notna() & (JOBS["total_clips"] > 0)].copy()
    kept["per_clip"] = kept["duration_seconds"].astype(float) / kept["total_clips"]
    grouped = kept.groupby(by, dropna=False, observed=True)
    expected = pd.DataFrame(
        {
            "jobs": grouped.size(),
            "clips": grouped["total_clips"].sum(),
            "total_seconds": grouped["duration_seconds"].sum().astype(float),
            "median_seconds_per_clip": grouped["per_clip"].median(),
        }
    )
    expected["seconds_per_clip"] = expected["total_seconds"] / expected["clips"]
    expected = expected.sort_values("seconds_per_clip", ascending=False, kind="stable")

    assert list(got.columns) == [
        "jobs",
        "clips",
        "total_seconds",
        "seconds_per_clip",
        "median_seconds_per_clip",
    ]
    assert got.index.name == by
    assert [str(v) for v in got.index] == [str(v) for v in expected.index]
    assert got["jobs"].tolist() == expected["jobs"].tolist()
    assert got["clips"].tolist() == expected["clips"].tolist()
    for column in ("total_seconds", "seconds_per_clip", "median_seconds_per_clip"):
        assert str(got[column].dtype) == "Float64"
        np.testing.assert_allclose(
            got[column].to_numpy(dtype=float), expected[column].to_numpy(dtype=float), rtol=1e-12
        )
    assert got["seconds_per_clip"].is_monotonic_decreasing


def test_jobs_without_a_duration_or_clips_are_left_out() -> None:
    jobs = JOBS.copy()
    jobs["duration_seconds"] = pd.array([None] * len(jobs), dtype="Float64")
    assert slowest_profiles(jobs).empty
    assert slowest_profiles(JOBS.iloc[:0]).empty


def test_the_history_method_filters_then_ranks(tmp_path: Path) -> None:
    with open_fabric(build_store(tmp_path / "f.db", sample_jobs(300))) as fabric:
        got = fabric.slowest_profiles(engine="resolve")
        expected = slowest_profiles(fabric.jobs(engine="resolve"))
    pd.testing.assert_frame_equal(got, expected)
    assert all(name.endswith("_resolve") for name in got.index)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="did you mean 'engine_used'"):
        slowest_profiles(JOBS, by="engine")
    with pytest.raises(TypeError, match="expected a DataFrame"):
        slowest_profiles([1, 2])  # type: ignore[arg-type]
