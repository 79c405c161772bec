"""The export streams month by month and writes exactly the files of the eager export.

``export_history`` reads one UTC month of the store at a time (issue:
operators at a million jobs). Its files must be byte for byte those
``write_export`` writes from the frames of the whole history: same files,
schema, row order, formula escaping. Checked on a history spanning many
months, with start times whose offset moves them across a month boundary,
for Parquet, CSV and raw CSV; and when another process commits mid-export.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from support import make_job, make_output

from fabric_nb import StorageCorruptionError, create_persistence
from fabric_nb._rows import encode_job
from fabric_nb.export import ExportFormat, export_history, write_export
from fabric_nb.frames import jobs_frame, outputs_frame
from fabric_nb.models import IngestedJob
from fabric_nb.schema import JOB_COLUMNS
from fabric_nb.storage import FabricStorage

FORMATS: list[tuple[ExportFormat, bool]] = [("parquet", False), ("csv", False), ("csv", True)]


def many_months(n: int = 240) -> list[IngestedJob]:
    """Jobs over 26 months, every eighth on a month's edge in another offset, some
    with a formula-looking reason, some failed, some without outputs."""
    jobs = []
    start = datetime(2024, 11, 3, 8, tzinfo=UTC)
    for i in range(n):
        at = start + timedelta(days=3.3 * i, minutes=7 * i)
        if i % 8 == 0:  # 23:30 on the last day of a month at -02:00: next month in UTC
            last = datetime(at.year + at.month // 12, at.month % 12 + 1, 1) - timedelta(days=1)
            at = last.replace(hour=23, minute=30, tzinfo=timezone(timedelta(hours=-2)))
            assert at.astimezone(UTC).month != at.month
        failed = i % 5 == 0
        outputs = (
            ()
            if i % 11 == 0
            else tuple(
                make_output(
                    f"job-{i:04d}",
                    k,
                    status="FAILED" if failed and k == 0 else "COMPLETED",
                    failure_reason='=HYPERLINK("x")' if failed and k == 0 else None,
                    output_exists=not (failed and k == 0),
                    output_size_bytes=None if failed and k == 0 else 1_000 * i + k,
                )
                for k in range(1 + i % 3)
            )
        )
        jobs.append(
            make_job(
                f"job-{i:04d}",
                final_status="FAILED" if failed else "COMPLETED",
                started_at=at,
                completed_at=at + timedelta(minutes=3),
                total_clips=len(outputs),
                completed_clips=len(outputs) - (1 if failed and outputs else 0),
                failed_clips=1 if failed and outputs else 0,
                engine_used=("ffmpeg", "resolve", "+cmd")[i % 3],
                outputs=outputs,
            )
        )
    return jobs


def store_of(path: Path, jobs: list[IngestedJob]) -> Path:
    with create_persistence(path) as persistence:
        persistence.persist_ingested_jobs(jobs)
    return path


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def eager(db: Path, out: Path, fmt: ExportFormat, raw_csv: bool) -> dict[str, bytes]:
    """What the whole-history path writes for the same store."""
    with create_persistence(db, readonly=True) as persistence:
        jobs = persistence.load_all_jobs()
    write_export(jobs_frame(jobs), outputs_frame(jobs), out, fmt=fmt, raw_csv=raw_csv)
    return files_of(out)


@pytest.mark.parametrize(("fmt", "raw_csv"), FORMATS, ids=["parquet", "csv", "raw-csv"])
def test_the_streamed_export_is_byte_for_byte_the_eager_one(
    tmp_path: Path, fmt: ExportFormat, raw_csv: bool
) -> None:
    jobs = many_months()
    db = store_of(tmp_path / "fabric.db", jobs)

    result = export_history(db, tmp_path / "streamed", fmt=fmt, raw_csv=raw_csv)
    streamed = files_of(tmp_path / "streamed")

    assert streamed == eager(db, tmp_path / "eager", fmt, raw_csv)
    assert (result.jobs, result.outputs) == (len(jobs), sum(len(j.outputs) for j in jobs))
    if fmt == "parquet":
        months = {name.split("/")[1] for name in streamed if name.startswith("jobs/")}
        assert len(months) >= 24


@pytest.mark.parametrize(("fmt", "raw_csv"), FORMATS, ids=["parquet", "csv", "raw-csv"])
def test_an_empty_history_gives_the_same_files(
    tmp_path: Path, fmt: ExportFormat, raw_csv: bool
) -> None:
    db = store_of(tmp_path / "fabric.db", [])

    export_history(db, tmp_path / "streamed", fmt=fmt, raw_csv=raw_csv)

    assert files_of(tmp_path / "streamed") == eager(db, tmp_path / "eager", fmt, raw_csv)
    if fmt == "parquet":
        assert sorted(p.name for p in (tmp_path / "streamed").iterdir()) == ["jobs", "outputs"]


def test_a_commit_during_the_export_is_never_half_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection commits a job while the first month is read: the
    export is then written again under the read lock, and holds the state
    after that commit, whole."""
    jobs = many_months(60)
    db = store_of(tmp_path / "fabric.db", jobs)
    late = make_job("late", started_at=datetime(2030, 1, 2, tzinfo=UTC))
    reads: list[Any] = []
    load = FabricStorage.load_jobs_by_rowid

    def load_and_commit(self: FabricStorage, rowids: list[int]) -> list[IngestedJob]:
        if not reads:  # the first month: another writer commits now
            with closing(sqlite3.connect(db, timeout=10)) as conn, conn:
                marks = ", ".join("?" for _ in JOB_COLUMNS)
                conn.execute(f"INSERT INTO jobs VALUES ({marks})", encode_job(late))
        reads.append(len(rowids))
        return load(self, rowids)

    monkeypatch.setattr(FabricStorage, "load_jobs_by_rowid", load_and_commit)
    result = export_history(db, tmp_path / "streamed")
    monkeypatch.undo()

    assert result.jobs == len(jobs) + 1
    assert files_of(tmp_path / "streamed") == eager(db, tmp_path / "eager", "parquet", False)
    assert sum(reads) == 2 * len(jobs) + 1  # read once without the lock, once under it


DAMAGE = {
    "started_at not a timestamp": "UPDATE jobs SET started_at = 'soon' WHERE job_id = 'bad'",
    "started_at without an offset": (
        "UPDATE jobs SET started_at = '2026-01-05T10:00:00' WHERE job_id = 'bad'"
    ),
    "outputs_json not JSON": "UPDATE jobs SET outputs_json = '[{' WHERE job_id = 'bad'",
}


@pytest.mark.parametrize("case", DAMAGE, ids=list(DAMAGE))
def test_a_row_that_does_not_decode_fails_the_export_naming_it_and_writes_nothing(
    tmp_path: Path, case: str
) -> None:
    db = store_of(tmp_path / "fabric.db", [*many_months(30), make_job("bad")])
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(DAMAGE[case])

    with pytest.raises(StorageCorruptionError, match=r"job 'bad' cannot be decoded"):
        export_history(db, tmp_path / "out")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["fabric.db"]  # no staging left
