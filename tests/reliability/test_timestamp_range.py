"""Timestamps every tool downstream can hold: the range is checked at ingest.

``0001-01-01T00:00:00+14:00`` is year 0 in UTC: it used to be accepted, then
``plot_jobs_over_time`` raised ``year 0 is out of range`` and the export
wrote ``started_month=0000-12``. Decision (docs/persistence.md): ingestion
refuses any ``started_at``/``completed_at`` outside
[``EARLIEST_TIMESTAMP``, ``END_OF_TIMESTAMPS``) in UTC — the range of 64-bit
nanosecond timestamps, in whole years — and the extremes it accepts go
through frames, plots and both export formats.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from support import make_result

from fabric_nb import IngestionError, ingest_execution_result
from fabric_nb.export import write_export
from fabric_nb.frames import jobs_frame, outputs_frame
from fabric_nb.ingestion import EARLIEST_TIMESTAMP, END_OF_TIMESTAMPS
from fabric_nb.models import IngestedJob
from fabric_nb.plots import plot_jobs_over_time

matplotlib.use("Agg")

REFUSED = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+00:00",
    "1677-12-31T23:59:59.999999+00:00",
    "1678-01-01T00:30:00+01:00",  # 1677-12-31T23:30 in UTC
    "2262-01-01T00:00:00+00:00",
    "2261-12-31T23:30:00-01:00",  # 2262-01-01T00:30 in UTC
]
ACCEPTED = ["1678-01-01T00:00:00+00:00", "2261-12-31T23:59:59.999999+00:00"]


def ingest(tmp_path: Path, name: str, **fields: str) -> IngestedJob:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(make_result(job_id=name, **fields)), encoding="utf-8")
    return ingest_execution_result(path)


@pytest.mark.parametrize("value", REFUSED)
@pytest.mark.parametrize("field", ["started_at", "completed_at"])
def test_an_instant_no_tool_can_hold_is_refused_naming_the_value(
    tmp_path: Path, value: str, field: str
) -> None:
    with pytest.raises(IngestionError) as caught:
        ingest(tmp_path, "job", **{field: value})
    assert f"{field}: expected a timestamp from 1678-01-01T00:00:00Z to before 2262-01-01" in str(
        caught.value
    )
    assert repr(value) in str(caught.value)


def test_the_extremes_accepted_go_through_frames_plots_and_export(tmp_path: Path) -> None:
    jobs = [
        ingest(tmp_path, f"job-{i}", started_at=value, completed_at=value)
        for i, value in enumerate(ACCEPTED)
    ]
    assert [job.started_at for job in jobs] == [
        EARLIEST_TIMESTAMP,
        END_OF_TIMESTAMPS - pd.Timedelta(microseconds=1),
    ]

    frame = jobs_frame(jobs)
    assert frame["started_at"].notna().all()
    assert plot_jobs_over_time(frame, freq="YS") is not None
    assert pd.Timestamp(ACCEPTED[1]).as_unit("ns") is not None  # nanoseconds hold it too

    files = write_export(frame, outputs_frame(jobs), tmp_path / "out")
    partitions = sorted({f.parts[1] for f in files})
    assert partitions == ["started_month=1678-01", "started_month=2261-12"]
    write_export(frame, outputs_frame(jobs), tmp_path / "csv", fmt="csv")
