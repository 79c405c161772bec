"""Disk full: a write fails with the spec's message, nothing of it is stored, the
history and the in-memory index stay exactly as they were, and writing resumes
in the same process once space is freed.

The store lives on a real, tiny filesystem (a tmpfs mounted for the test;
root can mount here) that the test fills up. Where mounting is refused, the
fallback caps the database with ``PRAGMA max_page_count``, which makes SQLite
report the same SQLITE_FULL error. Each test prints which one it used.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import RunPython, job_records, make_job, make_output, query_answers, sample_jobs

from fabric_nb import (
    FabricIndex,
    FabricPersistence,
    FabricQueries,
    IngestedJob,
    StorageError,
    create_persistence,
)

DISK_FULL = "database or disk is full"


@dataclass
class SmallDisk:
    """A folder whose filesystem can be filled up and freed again."""

    folder: Path
    mode: str  # "tmpfs" or "max_page_count"
    filler: Path

    def fill(self, persistence: FabricPersistence, leave_bytes: int = 0) -> None:
        """Use up the space, leaving about ``leave_bytes`` for the store to grow into."""
        if self.mode == "tmpfs":
            fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                if leave_bytes:
                    vfs = os.statvfs(self.folder)
                    os.write(fd, b"\0" * max(vfs.f_bavail * vfs.f_frsize - leave_bytes, 0))
                else:
                    while True:
                        os.write(fd, b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
            finally:
                os.close(fd)
        else:
            conn = _connection(persistence)
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + leave_bytes // page_size}")

    def free(self, persistence: FabricPersistence) -> None:
        """Give the space back."""
        if self.mode == "tmpfs":
            self.filler.unlink()
        else:
            _connection(persistence).execute("PRAGMA max_page_count = 1073741823")


def _connection(persistence: FabricPersistence) -> sqlite3.Connection:
    conn = persistence._storage._conn  # fallback only: the cap is a per-connection setting
    assert conn is not None
    return conn


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    folder = tmp_path / "small"
    folder.mkdir()
    mount = shutil.which("mount")
    refused = "no mount command"
    if mount is not None:
        done = subprocess.run(
            [mount, "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        refused = done.stderr.strip() or f"exit {done.returncode}"
        if done.returncode == 0:
            print(f"disk full: real filesystem, a 1 MiB tmpfs at {folder}")
            try:
                yield SmallDisk(folder, "tmpfs", folder / "filler")
            finally:
                if subprocess.run(["umount", str(folder)], check=False).returncode != 0:
                    subprocess.run(["umount", "-l", str(folder)], check=False)
            return
    print(f"disk full: mount refused ({refused}); fallback PRAGMA max_page_count")
    yield SmallDisk(folder, "max_page_count", folder / "filler")


def big_job(job_id: str, n_outputs: int = 3000) -> IngestedJob:
    """A job whose outputs JSON is several hundred kilobytes."""
    return make_job(
        job_id,
        total_clips=n_outputs,
        completed_clips=n_outputs,
        outputs=[
            make_output(job_id, i, source_path=f"/Volumes/CARD/{job_id}/{'x' * 60}_{i:05d}.mov")
            for i in range(n_outputs)
        ],
    )


def test_full_disk_fails_the_write_and_changes_nothing(
    small_disk: SmallDisk, run_py: RunPython
) -> None:
    path = small_disk.folder / "fabric.db"
    earlier = sample_jobs(12)
    # Each needs new pages, so the max_page_count fallback refuses them as a full disk would.
    later = big_job("job_after_full", n_outputs=100)
    batch = [big_job(f"job_batch_{i}", n_outputs=100) for i in (1, 2, 3)]

    with create_persistence(path) as persistence:
        index = FabricIndex(persistence)
        index.add_jobs(earlier)
        stored = job_records(persistence.load_all_jobs())
        answers = query_answers(FabricQueries(index))
        small_disk.fill(persistence)

        with pytest.raises(StorageError) as info:
            index.add_job(later)
        assert str(info.value) == f"Failed to persist job: {DISK_FULL} (job 'job_after_full')"

        with pytest.raises(StorageError) as info:
            index.add_jobs(batch)
        assert str(info.value) == (
            f"Failed to persist job: {DISK_FULL} "
            "(jobs 'job_batch_1' ... 'job_batch_3', 3 jobs, none stored)"
        )

        # The index is exactly as it was; storage holds exactly the earlier jobs.
        assert query_answers(FabricQueries(index)) == answers
        assert job_records(persistence.load_all_jobs()) == stored
        assert sorted(p.name for p in small_disk.folder.iterdir() if "journal" in p.name) == []

        # Free space: the same process, the same persistence and index, carry on.
        small_disk.free(persistence)
        index.add_job(later)
        index.add_jobs(batch)
        assert index.count_jobs() == len(stored) + 4
        assert job_records(persistence.load_all_jobs()) == job_records(index.get_all_jobs())

    # A fresh process finds a healthy store with everything that was committed.
    out = run_py(
        "from fabric_nb import create_persistence\n"
        f"with create_persistence({str(path)!r}, readonly=True) as p:\n"
        "    print(sorted(j.job_id for j in p.load_all_jobs()))\n"
    )
    expected = sorted({j.job_id for j in earlier} | {"job_after_full"} | {j.job_id for j in batch})
    assert out.strip() == repr(expected)


def test_a_job_too_big_for_the_space_left_is_rolled_back(small_disk: SmallDisk) -> None:
    """The failure comes mid-transaction, after SQLite started writing; it still rolls back."""
    path = small_disk.folder / "fabric.db"
    with create_persistence(path) as persistence:
        index = FabricIndex(persistence)
        index.add_jobs(sample_jobs(5))
        before = job_records(persistence.load_all_jobs())
        small_disk.fill(persistence, leave_bytes=96 * 1024)

        with pytest.raises(StorageError) as info:
            index.add_job(big_job("job_huge"))
        assert str(info.value) == f"Failed to persist job: {DISK_FULL} (job 'job_huge')"
        assert index.get_job("job_huge") is None
        assert job_records(persistence.load_all_jobs()) == before

        index.add_job(make_job("job_small"))  # a job that fits is still written
        assert [j.job_id for j in persistence.load_all_jobs()].count("job_small") == 1

    with create_persistence(path) as persistence:  # integrity_check passes on reopen
        assert len(persistence.load_all_jobs()) == len(before) + 1


def test_a_new_store_on_a_full_disk(small_disk: SmallDisk) -> None:
    """Creating the store on a full disk fails loudly; once freed, it initialises."""
    if small_disk.mode != "tmpfs":
        pytest.skip("needs a real filesystem to fill; mounting was refused here")
    path = small_disk.folder / "fabric.db"
    with create_persistence(small_disk.folder / "probe.db") as probe:
        small_disk.fill(probe)
    persistence = create_persistence(path)
    with pytest.raises(StorageError) as info:
        persistence.open()
    assert str(info.value).startswith(f"Cannot initialise storage {path}: ")
    assert DISK_FULL in str(info.value)
    assert not persistence.is_open()
    small_disk.free(persistence)
    persistence.open()
    assert persistence.get_schema_version() == 1
    persistence.close()
