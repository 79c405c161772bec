"""retries: per source that failed, whether a LATER run got it (not just a count of successes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from support import build_store, make_job, make_output, sample_jobs

from fabric_nb import open_fabric, outputs_frame
from fabric_nb.summaries import retries

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def run(job_id: str, day: int, *clips: tuple[str, str]) -> object:
    """A job started ``day`` days after T0 whose clips are (source, status) pairs."""
    outputs = tuple(
        make_output(
            job_id,
            i,
            source_path=source,
            status=status,
            failure_reason="decoder error" if status == "FAILED" else None,
            output_exists=status == "COMPLETED",
        )
        for i, (source, status) in enumerate(clips)
    )
    failed = sum(status == "FAILED" for _, status in clips)
    return make_job(
        job_id,
        started_at=T0 + timedelta(days=day),
        completed_at=T0 + timedelta(days=day, minutes=5),
        final_status="FAILED" if failed == len(clips) else "PARTIAL" if failed else "COMPLETED",
        total_clips=len(clips),
        completed_clips=len(clips) - failed,
        failed_clips=failed,
        outputs=outputs,
    )


JOBS = [
    run("j1", 0, ("/a.mov", "COMPLETED"), ("/b.mov", "FAILED"), ("/c.mov", "FAILED")),
    run("j2", 1, ("/a.mov", "FAILED"), ("/b.mov", "FAILED")),
    run("j3", 2, ("/b.mov", "COMPLETED"), ("/d.mov", "COMPLETED")),
    run("j4", 3, ("/c.mov", "FAILED")),
]


def test_counted_by_hand() -> None:
    table = retries(outputs_frame(JOBS))  # type: ignore[arg-type]

    assert table["source_path"].tolist() == ["/b.mov", "/c.mov", "/a.mov"]
    rows = {row.source_path: row for row in table.itertuples()}
    b, c, a = rows["/b.mov"], rows["/c.mov"], rows["/a.mov"]
    assert (b.runs, b.failed_runs, b.completed_runs) == (3, 2, 1)
    assert b.recovered
    assert b.recovered_at == pd.Timestamp(T0 + timedelta(days=2))
    assert b.runs_to_recover == 3  # failed, failed, then completed
    assert not b.completed_before
    assert (c.runs, c.failed_runs, c.recovered) == (2, 2, False)
    assert c.recovered_at is pd.NaT
    assert c.runs_to_recover is pd.NA
    # /a.mov completed BEFORE it failed: a count of completed clips would call it retried.
    assert (a.completed_runs, a.recovered, a.completed_before) == (1, False, True)
    assert "/d.mov" not in rows  # never failed


def test_dtypes_and_an_empty_frame() -> None:
    table = retries(outputs_frame(JOBS))  # type: ignore[arg-type]
    assert {c: str(t) for c, t in table.dtypes.items()} == {
        "source_path": "string",
        "runs": "int64",
        "failed_runs": "int64",
        "completed_runs": "int64",
        "first_failed_at": "datetime64[us, UTC]",
        "recovered": "boolean",
        "recovered_at": "datetime64[us, UTC]",
        "runs_to_recover": "Int64",
        "completed_before": "boolean",
    }
    empty = retries(outputs_frame(JOBS).iloc[:0])  # type: ignore[arg-type]
    assert empty.empty
    assert dict(empty.dtypes) == dict(table.dtypes)


def test_the_sample_history_holds_sources_that_completed_before_failing(tmp_path: Path) -> None:
    """What notebook 04 says: completed_clips is not "later runs that got the proxy"."""
    with open_fabric(build_store(tmp_path / "f.db", sample_jobs(400))) as fabric:
        table = fabric.retries()
        frame = fabric.outputs()
        pd.testing.assert_frame_equal(table, retries(frame))
    assert table["completed_before"].sum() > 0
    assert table["recovered"].sum() > 0
    for row in table.itertuples():  # every figure checked against the clips themselves
        mine = frame[frame["source_path"] == row.source_path].sort_values(
            ["started_at", "job_id", "clip_index"], kind="stable"
        )
        statuses = mine["status"].astype(str).tolist()
        first = statuses.index("FAILED")
        assert row.runs == len(statuses)
        assert row.completed_before == ("COMPLETED" in statuses[:first])
        assert row.recovered == ("COMPLETED" in statuses[first + 1 :])


def test_not_an_outputs_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="outputs_frame needs column"):
        retries(pd.DataFrame({"job_id": []}))
