"""The ingest cache never outranks the files (reliability round 3, items 2, 3, 4 and 12).

Every test runs ``fabric-nb`` in real processes on real files:

- a restored backup never hides a later re-run of a job (item 2);
- several result files of one ``job_id``: the last file in the scan's order
  wins, in an incremental run and under ``--full`` alike (item 3);
- a stored row damaged on disk (bit rot: size, change counter and mtime as
  they were) makes every write refuse the store, cache or not (item 4);
- a folder holding several files of one job is not written again by
  ``--full`` or after the cache is deleted (item 12).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from support import RunCli, make_result, sha256_of, write_result

from fabric_nb._ingest_cache import cache_path_for

HOUR_NS = 3_600_000_000_000


def result(job_id: str, minute: int, **overrides: object) -> dict[str, object]:
    return make_result(
        job_id=job_id, started_at=f"2026-01-05T10:{minute:02d}:00.000000+00:00", **overrides
    )


def aged(path: Path) -> Path:
    """Make ``path`` look written an hour ago, so its record is trusted by ``stat``."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - HOUR_NS))
    return path


def rows(db: Path) -> dict[str, tuple[object, ...]]:
    """job_id -> every column but ingested_at, read with plain sqlite3."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        names = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
        keep = [i for i, name in enumerate(names) if name != "ingested_at"]
        return {row[0]: tuple(row[i] for i in keep) for row in conn.execute("SELECT * FROM jobs")}


def stamps(db: Path) -> dict[str, str]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return dict(conn.execute("SELECT job_id, ingested_at FROM jobs"))


def status_of(db: Path, job_id: str) -> str:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return str(
            conn.execute("SELECT final_status FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0]
        )


def summary(stdout: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in stdout.splitlines())}


def ingest(run_cli: RunCli, db: Path, folder: Path, *options: str) -> dict[str, str]:
    done = run_cli("--db", db, "ingest", folder, *options)
    assert done.returncode == 0, done.stderr
    return summary(done.stdout)


def full_copy(
    run_cli: RunCli, db: Path, folder: Path, tmp_path: Path
) -> dict[str, tuple[object, ...]]:
    """The rows a fresh ``--full`` ingest of ``folder`` gives, on a copy of ``db``."""
    copy = tmp_path / "full-copy" / "fabric.db"
    copy.parent.mkdir(exist_ok=True)
    copy.unlink(missing_ok=True)
    cache_path_for(copy).unlink(missing_ok=True)
    shutil.copyfile(db, copy)
    ingest(run_cli, copy, folder, "--full")
    return rows(copy)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where the result files are."""
    path = tmp_path / "in"
    path.mkdir()
    return path


@pytest.fixture
def db(db_path: Path) -> Path:
    """The store (not created): conftest's ``db_path``, by a shorter name."""
    return db_path


# -- item 2: a restored backup ---------------------------------------------------------


def test_a_restored_backup_does_not_hide_a_later_rerun_in_another_file(
    tmp_path: Path, run_cli: RunCli, folder: Path, db: Path
) -> None:
    aged(write_result(folder, result("job", 1, final_status="FAILED"), "run1.json"))
    ingest(run_cli, db, folder)
    backup = tmp_path / "backup.db"
    assert run_cli("--db", db, "backup", backup).returncode == 0
    aged(write_result(folder, result("job", 2), "run2.json"))
    ingest(run_cli, db, folder)
    assert status_of(db, "job") == "COMPLETED"

    shutil.copyfile(backup, db)  # the documented restore: the backup over the store
    report = ingest(run_cli, db, folder)

    assert status_of(db, "job") == "COMPLETED"  # run2 again, not run1 for ever
    assert report["ingested"].startswith("1 ")
    assert rows(db) == full_copy(run_cli, db, folder, tmp_path)


def test_a_restored_backup_does_not_hide_a_rewrite_of_the_same_file(
    tmp_path: Path, run_cli: RunCli, folder: Path, db: Path
) -> None:
    aged(write_result(folder, result("job", 1, final_status="FAILED"), "job.json"))
    ingest(run_cli, db, folder)
    backup = tmp_path / "backup.db"
    assert run_cli("--db", db, "backup", backup).returncode == 0
    aged(write_result(folder, result("job", 2), "job.json"))
    ingest(run_cli, db, folder)

    raw = backup.read_bytes()  # restored in place, the inode and the mtime kept
    mtime = db.stat().st_mtime_ns
    with open(db, "r+b") as handle:
        handle.write(raw)
        handle.truncate()
    os.utime(db, ns=(mtime, mtime))
    ingest(run_cli, db, folder)

    assert status_of(db, "job") == "COMPLETED"


# -- item 3: several files of one job_id -----------------------------------------------


def test_rewriting_an_earlier_file_of_a_job_keeps_the_later_file_in_both_paths(
    tmp_path: Path, run_cli: RunCli, folder: Path, db: Path
) -> None:
    aged(write_result(folder, result("job", 1), "run1.json"))
    aged(write_result(folder, result("job", 2, final_status="PARTIAL"), "run2.json"))
    ingest(run_cli, db, folder)
    assert status_of(db, "job") == "PARTIAL"

    aged(write_result(folder, result("job", 1, final_status="FAILED"), "run1.json"))
    first = ingest(run_cli, db, folder)
    second = ingest(run_cli, db, folder)

    assert status_of(db, "job") == "PARTIAL"  # run2 is still the last file
    assert first["ingested"].startswith("0 ")
    assert first["superseded"].startswith("1 ")
    assert second["ingested"].startswith("0 ")
    assert rows(db) == full_copy(run_cli, db, folder, tmp_path)


def test_deleting_the_winning_file_hands_the_job_to_the_one_before_in_both_paths(
    tmp_path: Path, run_cli: RunCli, folder: Path, db: Path
) -> None:
    aged(write_result(folder, result("job", 1, final_status="FAILED"), "run1.json"))
    winner = aged(write_result(folder, result("job", 2), "run2.json"))
    ingest(run_cli, db, folder)

    winner.unlink()
    ingest(run_cli, db, folder)

    assert status_of(db, "job") == "FAILED"
    assert rows(db) == full_copy(run_cli, db, folder, tmp_path)


def test_a_later_file_turning_into_another_job_hands_the_first_job_back(
    tmp_path: Path, run_cli: RunCli, folder: Path, db: Path
) -> None:
    aged(write_result(folder, result("job", 1, final_status="FAILED"), "run1.json"))
    aged(write_result(folder, result("job", 2), "run2.json"))
    ingest(run_cli, db, folder)

    aged(write_result(folder, result("other", 2), "run2.json"))
    ingest(run_cli, db, folder)

    assert (status_of(db, "job"), status_of(db, "other")) == ("FAILED", "COMPLETED")
    assert rows(db) == full_copy(run_cli, db, folder, tmp_path)


# -- item 4: bit rot under the cache's fast path ----------------------------------------


def rot_one_byte(db: Path) -> None:
    """Turn a quote inside a stored ``outputs_json`` into an apostrophe, leaving the
    size, SQLite's change counter and the mtime exactly as they were."""
    info = db.stat()
    raw = bytearray(db.read_bytes())
    at = raw.index(b'[{"', 100)
    raw[at + 2] = ord("'")
    with open(db, "r+b") as handle:
        handle.write(raw)
    os.utime(db, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert db.stat().st_size == info.st_size


def test_a_row_rotted_on_disk_is_never_written_over_by_the_fast_path(
    tmp_path: Path, run_cli: RunCli, folder: Path, db: Path
) -> None:
    for i in range(5):
        aged(write_result(folder, result(f"job-{i}", i), f"{i}.json"))
    ingest(run_cli, db, folder)
    ingest(run_cli, db, folder)  # the cache now holds a proof of the store
    rot_one_byte(db)
    aged(write_result(folder, result("new", 9), "new.json"))
    before = sha256_of(db)

    check = run_cli("--db", db, "check")
    done = run_cli("--db", db, "ingest", folder)

    assert check.returncode == 1
    assert "cannot be decoded" in check.stderr
    assert done.returncode == 3, done.stdout
    assert "Database corruption detected" in done.stderr
    assert "cannot be decoded" in done.stderr
    assert sha256_of(db) == before  # nothing written


# -- item 12: no rewrite of jobs with several files ------------------------------------


def test_full_and_a_rebuilt_cache_write_nothing_on_an_unchanged_folder_with_reruns(
    tmp_path: Path, run_cli: RunCli, folder: Path, db: Path
) -> None:
    for i in range(6):  # six jobs, each with a first run and a re-run
        aged(write_result(folder, result(f"job-{i}", i, final_status="FAILED"), f"{i}a.json"))
        aged(write_result(folder, result(f"job-{i}", i), f"{i}b.json"))
    ingest(run_cli, db, folder, "--batch-size", "3")
    kept = stamps(db)

    full = ingest(run_cli, db, folder, "--full")
    cache_path_for(db).unlink()
    rebuilt = ingest(run_cli, db, folder)

    for report in (full, rebuilt):
        assert report["ingested"] == "0 (0 new, 0 replaced)"
        assert report["unchanged"] == "6"
        assert report["superseded"].startswith("6 ")
    assert stamps(db) == kept
