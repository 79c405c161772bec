"""The filters of jobs(), outputs(), select_jobs() and the summaries behave the same everywhere.

One definition (``fabric_nb.filters``): every value filter takes one value
or a list; ``since`` / ``until`` take aware datetimes, Timestamps, dates and
ISO text (UTC when no offset is written); unknown statuses are errors and
unknown engines or profiles warn with the values that exist.
"""

from __future__ import annotations

import inspect
import warnings
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from support import counted_jobs

from fabric_nb import FabricIndex, FabricQueries, jobs, outputs, select_jobs
from fabric_nb.filters import (
    JOB_FILTERS,
    OUTPUT_FILTERS,
    JobFilters,
    OutputFilters,
    UnknownValueWarning,
    describe_filters,
)
from fabric_nb.history import FabricHistory


@pytest.fixture
def counted() -> FabricQueries:
    index = FabricIndex()
    index.add_jobs(counted_jobs())
    return FabricQueries(index)


def ids(frame: pd.DataFrame) -> list[str]:
    return frame["job_id"].tolist()


def test_the_filters_are_declared_once() -> None:
    assert JOB_FILTERS == (
        "status", "engine", "profile", "fingerprint", "job_id", "since", "until",
    )  # fmt: skip
    assert (*JOB_FILTERS, "source_path", "failure_reason") == OUTPUT_FILTERS
    assert tuple(OutputFilters.__annotations__) == OUTPUT_FILTERS
    # jobs(), outputs(), select_jobs() and FabricHistory take them as **filters, not copies.
    for function in (jobs, outputs, select_jobs, FabricHistory.jobs, FabricHistory.outputs):
        kinds = [p.kind for p in inspect.signature(function).parameters.values()]
        assert kinds[-1] is inspect.Parameter.VAR_KEYWORD, function.__name__
    assert JobFilters.__annotations__.keys() <= OutputFilters.__annotations__.keys()


@pytest.mark.parametrize(
    ("name", "one", "many", "expected"),
    [
        ("status", "PARTIAL", ["PARTIAL", "COMPLETED"], ["job_a", "job_b", "job_e"]),
        ("engine", "resolve", ("resolve", "ffmpeg"), ["job_a", "job_b", "job_c", "job_d", "job_e"]),
        ("profile", "proxy_h264_low", {"proxy_h264_low"}, ["job_a", "job_c", "job_d"]),
        ("fingerprint", "sha256:aaa", ["sha256:aaa", "sha256:zzz"], ["job_a", "job_b"]),
        ("job_id", "job_c", ["job_g", "job_c", "nobody"], ["job_c", "job_g"]),
    ],
)
def test_every_jobs_filter_takes_one_value_or_a_list(
    counted: FabricQueries, name: str, one: str, many: object, expected: list[str]
) -> None:
    everything = jobs(counted)
    column = {
        "status": "final_status",
        "engine": "engine_used",
        "profile": "canonical_proxy_profile",
    }.get(name, name)
    wanted = [many] if isinstance(many, str) else list(many)  # type: ignore[call-overload]
    plain = everything[everything[column].isin(wanted)].reset_index(drop=True)
    assert ids(plain) == expected
    pd.testing.assert_frame_equal(jobs(counted, **{name: many}), plain)  # type: ignore[arg-type]
    single = everything[everything[column] == one].reset_index(drop=True)
    pd.testing.assert_frame_equal(jobs(counted, **{name: one}), single)
    assert [j.job_id for j in select_jobs(counted, **{name: many})] == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "column", "many"),
    [
        ("status", "status", ["FAILED"]),
        ("engine", "engine_used", ["resolve", "ffmpeg"]),
        ("profile", "proxy_profile_used", ["proxy_h264_low", "proxy_prores_proxy_resolve"]),
        ("job_id", "job_id", ["job_b", "job_e"]),
        ("source_path", "source_path", ["/Volumes/job_b/C001.mov", "/Volumes/job_a/C000.mov"]),
        ("failure_reason", "failure_reason", ["Disk full while writing output"]),
    ],
)
def test_every_outputs_filter_takes_one_value_or_a_list(
    counted: FabricQueries, name: str, column: str, many: list[str]
) -> None:
    everything = outputs(counted)
    plain = everything[everything[column].isin(many)].reset_index(drop=True)
    assert len(plain) > 0
    pd.testing.assert_frame_equal(outputs(counted, **{name: many}), plain)  # type: ignore[arg-type]
    single = everything[everything[column] == many[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(outputs(counted, **{name: many[0]}), single)


def test_outputs_by_fingerprint_are_the_clips_of_those_jobs(counted: FabricQueries) -> None:
    clips = outputs(counted, fingerprint="sha256:aaa")
    assert sorted(set(clips["job_id"])) == ["job_a", "job_b"]
    assert len(clips) == 5


@pytest.mark.parametrize(
    "bound",
    [
        "2026-09-03",
        "2026-09-03T00:00",
        "2026-09-03T00:00Z",
        "2026-09-03T02:00+02:00",
        date(2026, 9, 3),
        datetime(2026, 9, 3, tzinfo=UTC),
        pd.Timestamp("2026-09-03", tz="UTC"),
        pd.Timestamp("2026-09-02T20:00", tz="America/New_York"),
    ],
)
def test_bounds_in_every_accepted_form_mean_the_same_instant(
    counted: FabricQueries, bound: object
) -> None:
    everything = jobs(counted)
    instant = pd.Timestamp("2026-09-03", tz="UTC")
    later = everything[everything["started_at"] >= instant].reset_index(drop=True)
    earlier = everything[everything["started_at"] < instant].reset_index(drop=True)
    pd.testing.assert_frame_equal(jobs(counted, since=bound), later)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(jobs(counted, until=bound), earlier)  # type: ignore[arg-type]
    assert ids(later) == ["job_d", "job_e", "job_f", "job_g"]


@pytest.mark.parametrize(
    ("filters", "error", "message"),
    [
        ({"since": datetime(2026, 9, 3)}, ValueError, r"since='2026-09-03T00:00:00' is a naive"),
        ({"until": pd.Timestamp("2026-09-03")}, ValueError, r"is a naive datetime"),
        (
            {"since": "last week"},
            ValueError,
            r"since='last week' is neither an ISO 8601 date or date-time nor a span back",
        ),
        ({"since": "2026-09-05", "until": "2026-09-01"}, ValueError, r"later than until"),
        ({"status": "completed"}, ValueError, r"unknown status 'completed'.*COMPLETED, FAILED"),
        ({"status": ["FAILED", "SKIPPED"]}, ValueError, r"unknown status 'SKIPPED'"),
        ({"engine": []}, ValueError, r"engine=\[\] selects nothing"),
        ({"engine": [1]}, TypeError, r"engine takes text or a list of text, got int"),
        ({"since": 20260903}, TypeError, r"since must be a datetime, a date, ISO 8601 text or a"),
        ({"engines": "ffmpeg"}, TypeError, r"unknown filter 'engines'"),
        ({"source_path": "/x"}, TypeError, r"unknown filter 'source_path'"),
    ],
)
def test_bad_filters_are_clear_errors(
    counted: FabricQueries, filters: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        jobs(counted, **filters)  # type: ignore[arg-type]


def test_a_clip_status_outside_the_clip_set_is_an_error(counted: FabricQueries) -> None:
    with pytest.raises(
        ValueError, match=r"unknown status 'PARTIAL': expected one of COMPLETED, FAILED"
    ):
        outputs(counted, status="PARTIAL")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda q: jobs(q, engine="Resolve"), r"engine 'Resolve'.*exist: 'ffmpeg', 'resolve'"),
        (lambda q: jobs(q, profile=["h264", "x"]), r"profile 'h264', 'x'.*'proxy_h264_low'"),
        (lambda q: outputs(q, engine="Resolve"), r"engine 'Resolve'"),
        (lambda q: select_jobs(q, engine="FFMPEG"), r"engine 'FFMPEG'"),
    ],
)
def test_an_engine_or_profile_no_job_has_warns_with_the_values_that_exist(
    counted: FabricQueries, call: object, message: str
) -> None:
    with pytest.warns(UnknownValueWarning, match=message) as caught:
        found = call(counted)  # type: ignore[operator]
    assert len(found) == 0
    assert caught[0].filename == __file__  # the warning points at the caller's line


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda q: jobs(q, engine=["Resolve", "resolve"]),
            r"engine 'Resolve'; they select nothing \(engine values that exist: 'ffmpeg', "
            r"'resolve'\)",
        ),
        (
            lambda q: outputs(q, profile=["proxy_h264_low", "x", "y"]),
            r"profile 'x', 'y'; they select nothing .*'proxy_h264_low'",
        ),
    ],
)
def test_a_value_no_job_has_warns_even_beside_values_that_match(
    counted: FabricQueries, call: object, message: str
) -> None:
    with pytest.warns(UnknownValueWarning, match=message) as caught:
        found = call(counted)  # type: ignore[operator]
    assert len(found) > 0  # the values that exist still select their rows
    assert len(caught) == 1
    assert caught[0].filename == __file__


def test_known_values_and_unseen_fingerprints_do_not_warn(counted: FabricQueries) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ids(jobs(counted, engine=["ffmpeg", "resolve"]))
        assert ids(jobs(counted, engine="resolve")) == ["job_b", "job_e"]
        assert ids(jobs(counted, fingerprint="sha256:never")) == []
        assert ids(jobs(counted, engine="resolve", status="FAILED")) == []


def test_frames_remember_their_filters(counted: FabricQueries) -> None:
    frame = jobs(counted, status=["PARTIAL", "FAILED"], engine="resolve", since="2026-09-01")
    assert frame.attrs["filters"] == {
        "status": ["FAILED", "PARTIAL"],
        "engine": ["resolve"],
        "since": "2026-09-01",
    }
    assert describe_filters(frame.attrs["filters"]) == (
        "status FAILED, PARTIAL; engine resolve; since 2026-09-01"
    )
    assert jobs(counted).attrs["filters"] == {}
    assert outputs(counted, status="FAILED").attrs["filters"] == {"status": ["FAILED"]}
