"""Idempotent ingestion: the same job_id gives one row holding the latest content."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from support import job_record, make_job, make_result, write_result

from fabric_nb import FabricIndex, FabricQueries, create_persistence, ingest_execution_result


def stored_rows(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT job_id, final_status, ingested_at FROM jobs ORDER BY job_id"
        ).fetchall()
    finally:
        conn.close()


def test_persisting_the_same_job_twice_keeps_one_row(db_path: Path) -> None:
    job = make_job("job_a")
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_job(job)
        persistence.persist_ingested_job(job)
        assert persistence.load_all_jobs() == [job]
    assert len(stored_rows(db_path)) == 1


def test_same_job_id_keeps_the_latest_content(db_path: Path) -> None:
    first = make_job("job_a", final_status="FAILED", completed_clips=0, failed_clips=2)
    latest = make_job("job_a", canonical_proxy_profile="proxy_h264_low", fingerprint="sha256:1")
    other = make_job("job_b")
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_job(first)
        persistence.persist_ingested_job(other)
        persistence.persist_ingested_job(latest)
    with create_persistence(db_path) as persistence:
        loaded = {job.job_id: job for job in persistence.load_all_jobs()}
    assert job_record(loaded["job_a"]) == job_record(latest)
    assert job_record(loaded["job_b"]) == job_record(other)
    assert [row[:2] for row in stored_rows(db_path)] == [
        ("job_a", "COMPLETED"),
        ("job_b", "COMPLETED"),
    ]


def test_within_one_batch_the_later_job_wins(db_path: Path) -> None:
    first = make_job("job_a", final_status="FAILED", completed_clips=0, failed_clips=2)
    latest = make_job("job_a", final_status="PARTIAL", completed_clips=1, failed_clips=1)
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_jobs([first, make_job("job_b"), latest])
        assert [job.job_id for job in persistence.load_all_jobs()] == ["job_a", "job_b"]
    assert [row[:2] for row in stored_rows(db_path)] == [
        ("job_a", "PARTIAL"),
        ("job_b", "COMPLETED"),
    ]


def test_index_replaces_and_moves_the_job_between_lookups(db_path: Path) -> None:
    first = make_job("job_a", final_status="FAILED", engine_used="resolve",
                     canonical_proxy_profile="proxy_dnxhr_lb_resolve", fingerprint="sha256:1",
                     completed_clips=0, failed_clips=2)  # fmt: skip
    latest = make_job("job_a")
    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence)
        index.add_job(first)
        index.add_job(latest)
        queries = FabricQueries(index)
        assert queries.count_jobs() == 1
        assert queries.get_failed_jobs() == []
        assert queries.get_jobs_by_engine("resolve") == []
        assert queries.get_jobs_by_profile("proxy_dnxhr_lb_resolve") == []
        assert queries.get_jobs_by_fingerprint("sha256:1") == []
        assert queries.get_completed_jobs() == [latest]
        assert queries.count_jobs_by_status("FAILED") == 0
        rebuilt = FabricQueries(FabricIndex(persistence))
        assert rebuilt.get_all_jobs() == [latest]
        assert rebuilt.get_failed_jobs() == []


def test_index_batch_with_repeated_id_matches_storage(db_path: Path) -> None:
    jobs = [make_job("job_a", final_status="FAILED", completed_clips=0, failed_clips=2),
            make_job("job_a", engine_used="resolve")]  # fmt: skip
    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence)
        index.add_jobs(jobs)
        assert index.get_all_jobs() == [jobs[1]]
        assert index.get_jobs_by_status("FAILED") == []
        assert index.get_jobs_by_engine("ffmpeg") == []
        assert FabricIndex(persistence).get_all_jobs() == [jobs[1]]


def test_re_ingesting_a_file_replaces_the_row(tmp_path: Path, db_path: Path) -> None:
    path = write_result(tmp_path, make_result(final_status="FAILED"))
    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence)
        index.add_job(ingest_execution_result(path))
        write_result(tmp_path, make_result())  # the job re-ran and completed
        again = ingest_execution_result(path)
        index.add_job(again)
        index.add_job(again)
    rows = stored_rows(db_path)
    assert [(job_id, status) for job_id, status, _ in rows] == [("job_0001", "COMPLETED")]
    assert rows[0][2] == again.ingested_at.isoformat()  # the latest read is what is kept


def test_replacing_is_not_merging(db_path: Path) -> None:
    """A replacement that drops fields drops them: nothing of the older row lingers."""
    full = make_job("job_a", fingerprint="sha256:1", validation_error="warn")
    bare = dataclasses.replace(full, fingerprint=None, validation_error=None, outputs=())
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_job(full)
        persistence.persist_ingested_job(bare)
        (loaded,) = persistence.load_all_jobs()
    assert job_record(loaded) == job_record(bare)
