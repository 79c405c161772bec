"""since / until as a span back from now: "7d", a timedelta, a pd.DateOffset, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from support import build_store, sample_jobs

import fabric_nb.filters
from fabric_nb import open_fabric

NOW = datetime(2026, 10, 20, 15, 30, 0, 250000, tzinfo=UTC)
JOBS = sample_jobs(300)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fabric_nb.filters, "now", lambda: NOW)


@pytest.mark.parametrize(
    ("span", "back"),
    [
        ("7d", timedelta(days=7)),
        ("4w", timedelta(weeks=4)),
        ("36h", timedelta(hours=36)),
        (" 90min ", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        (timedelta(days=10), timedelta(days=10)),
        (pd.Timedelta("3D"), timedelta(days=3)),
    ],
)
def test_a_span_is_measured_back_from_now(span: object, back: timedelta) -> None:
    selection = fabric_nb.filters.parse_filters({"since": span}, ("since", "until"), ())
    assert selection.since == NOW - back
    assert type(selection.since) is datetime


def test_a_date_offset_goes_back_calendar_months() -> None:
    selection = fabric_nb.filters.parse_filters({"since": pd.DateOffset(months=2)}, ("since",), ())
    assert selection.since == datetime(2026, 8, 20, 15, 30, 0, 250000, tzinfo=UTC)


def test_jobs_of_the_last_weeks_equal_the_same_absolute_window(tmp_path: Path) -> None:
    db = build_store(tmp_path / "f.db", JOBS)
    with open_fabric(db, in_memory=True) as eager, open_fabric(db) as lazy:
        absolute = eager.jobs(since=NOW - timedelta(weeks=4))
        assert 0 < len(absolute) < len(eager)
        pd.testing.assert_frame_equal(eager.jobs(since="4w"), absolute)
        pd.testing.assert_frame_equal(lazy.jobs(since="4w"), absolute)  # the SQL read path
        window = {"since": NOW - timedelta(weeks=4), "until": NOW - timedelta(weeks=1)}
        pd.testing.assert_frame_equal(
            lazy.status_counts(since="4w", until="1w"),
            eager.status_counts(**window),  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("yesterday", ValueError, "nor a span back from now .*'7d' for 7 days back"),
        ("7m", ValueError, "nor a span back from now"),
        ("-7d", ValueError, "nor a span back from now"),
        ("2026-13-01", ValueError, "is not a valid date: month must be in 1..12"),
        (timedelta(days=-1), ValueError, "a span into the future"),
        (7, TypeError, "span back from now .* got int"),
    ],
)
def test_absurd_spans_are_refused_with_an_example(
    value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        fabric_nb.filters.parse_filters({"since": value}, ("since",), ())
