"""Disk full on a real filesystem: ingest hundreds of jobs until the disk is full.

The store lives on a 2 MiB tmpfs mounted by the test (root may mount here),
half of it taken by a filler file. Jobs go in one per transaction
(``add_job``) or in batches (``add_jobs``) until SQLite reports the disk full.
Then:

- the error is the spec's ``StorageError`` (``Failed to persist job ...:
  database or disk is full``, or the batch form ``... none stored``);
- every job committed earlier is intact, read back through a second, read-only
  connection, and the file passes ``integrity_check``;
- the in-memory index is exactly as before the failed write;
- once the filler is deleted, the failed write and many more succeed in the
  same process, on the same index.

Where mounting is refused (not root, no tmpfs), the store is capped with
``PRAGMA max_page_count`` instead, which makes SQLite fail with the same
SQLITE_FULL error; the test output says which one ran.

The cases on a small disk (after the big one) pin each outcome on its own:
a full disk fails the write with the spec's message and changes nothing, a
job too big for the space left is rolled back, and a new store cannot be
created on a full disk. Each test prints which way it filled the disk.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import (
    RunPython,
    job_record,
    job_records,
    make_job,
    make_output,
    query_answers,
    sample_jobs,
)

from fabric_nb import (
    FabricIndex,
    FabricPersistence,
    FabricQueries,
    IngestedJob,
    StorageError,
    create_persistence,
)
from fabric_nb.ingestion import parse_execution_result
from fabric_nb.models import job_order_key
from fabric_nb.samples import generate_results

from ._support import raw_integrity_check, side_files

DISK_FULL = "database or disk is full"
TMPFS_SIZE = 2 * 1024 * 1024
FILLER_SIZE = 1024 * 1024


@dataclass
class Disk:
    """Where the store goes, and how space is taken and given back."""

    folder: Path
    kind: str  # "tmpfs" or "max_page_count"

    @property
    def filler(self) -> Path:
        return self.folder / "filler.bin"

    def take_space(self, persistence: FabricPersistence) -> None:
        if self.kind == "tmpfs":
            with self.filler.open("wb") as f:
                f.write(os.urandom(FILLER_SIZE))
                f.flush()
                os.fsync(f.fileno())
        else:  # about as many pages as the tmpfs would leave free
            _set_max_pages(persistence, _page_count(persistence) + 200)

    def free_space(self, persistence: FabricPersistence) -> None:
        if self.kind == "tmpfs":
            self.filler.unlink()  # the test's own file, on the test's own filesystem
        else:
            _set_max_pages(persistence, 1 << 30)


def _connection(persistence: FabricPersistence) -> Any:
    # Only the fallback reaches inside: max_page_count is a per-connection setting.
    return persistence._storage._conn


def _page_count(persistence: FabricPersistence) -> int:
    return int(_connection(persistence).execute("PRAGMA page_count").fetchone()[0])


def _set_max_pages(persistence: FabricPersistence, pages: int) -> None:
    _connection(persistence).execute(f"PRAGMA max_page_count = {int(pages)}")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    reason = ""
    if os.geteuid() != 0:
        reason = "not running as root"
    else:
        try:
            done = subprocess.run(
                [
                    "mount",
                    "-t",
                    "tmpfs",
                    "-o",
                    f"size={TMPFS_SIZE},mode=0700",
                    "tmpfs",
                    mount_point,
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:  # no mount command, or it hung
            reason = str(exc)
        else:
            reason = (done.stderr.strip() or f"exit {done.returncode}") if done.returncode else ""
    if reason:
        message = f"disk full: tmpfs mount refused ({reason}); using PRAGMA max_page_count"
        print(message)
        warnings.warn(message, stacklevel=1)
        yield Disk(mount_point, "max_page_count")
        return
    print(f"disk full: real tmpfs of {TMPFS_SIZE} bytes mounted at {mount_point}")
    try:
        yield Disk(mount_point, "tmpfs")
    finally:
        unmounted = subprocess.run(
            ["umount", mount_point], capture_output=True, timeout=30, check=False
        )
        if unmounted.returncode:  # something still holds it: detach now, freed when released
            subprocess.run(["umount", "-l", mount_point], capture_output=True, timeout=30)


def _pool(n: int, seed: int) -> list[IngestedJob]:
    """Distinct sample jobs (one result per job_id), several KB each with their outputs."""
    jobs: dict[str, IngestedJob] = {}
    for i, doc in enumerate(generate_results(n, seed=seed, clips_per_job=8)):
        jobs.setdefault(doc["job_id"], parse_execution_result(doc, source=f"sample[{i}]"))
    return list(jobs.values())


def _index_state(index: FabricIndex) -> dict[str, Any]:
    jobs = index.get_all_jobs()
    return {
        "all": [job_record(job) for job in jobs],
        "count": index.count_jobs(),
        "by_status": {s: index.count_by_status(s) for s in ("COMPLETED", "FAILED", "PARTIAL")},
        "by_engine": {e: len(index.get_jobs_by_engine(e)) for e in ("ffmpeg", "resolve")},
        "profiles": sorted(
            (p, len(index.get_jobs_by_profile(p)))
            for p in {j.canonical_proxy_profile for j in jobs if j.canonical_proxy_profile}
        ),
    }


def _stored(path: Path) -> list[dict[str, Any]]:
    with create_persistence(path, readonly=True) as reader:  # a second connection
        return [job_record(job) for job in reader.load_all_jobs()]


@pytest.mark.parametrize("mode", ["one job per transaction", "batches"])
def test_ingesting_until_the_disk_is_full_loses_nothing_and_resumes(disk: Disk, mode: str) -> None:
    pool = _pool(700, seed=17)
    path = disk.folder / "store" / "fabric.db"
    batch = 1 if mode == "one job per transaction" else 9
    committed: list[IngestedJob] = []
    with create_persistence(path) as persistence:
        index = FabricIndex(persistence)

        def write(jobs: list[IngestedJob]) -> None:
            if batch == 1:
                index.add_job(jobs[0])
            else:
                index.add_jobs(jobs)

        disk.take_space(persistence)
        position = 0
        failure: StorageError | None = None
        while position < len(pool):
            jobs = pool[position : position + batch]
            before = index.get_all_jobs()  # cheap: the full comparison runs after the failure
            try:
                write(jobs)
            except StorageError as exc:
                failure = exc
                break
            committed.extend(jobs)
            position += batch
        assert failure is not None, "the disk never filled up"
        failed = pool[position : position + batch]
        print(f"disk full ({disk.kind}, {mode}): {len(committed)} jobs stored before: {failure}")
        assert len(committed) >= 100  # many jobs went in before the disk filled

        message = str(failure)
        if batch == 1:
            assert message == f"Failed to persist job: {DISK_FULL} (job {failed[0].job_id!r})"
        else:
            assert message == (
                f"Failed to persist job: {DISK_FULL} (jobs {failed[0].job_id!r} ... "
                f"{failed[-1].job_id!r}, {batch} jobs, none stored)"
            ), message

        # The failed write left no trace, in memory or on disk.
        reference = FabricIndex()  # memory-only, holding exactly the jobs from before
        reference.add_jobs(before)
        assert _index_state(index) == _index_state(reference)
        assert all(index.get_job(job.job_id) is None for job in failed)
        expected = [job_record(job) for job in sorted(committed, key=job_order_key)]
        assert [job_record(job) for job in persistence.load_all_jobs()] == expected
        assert _stored(path) == expected
        assert raw_integrity_check(path) == ["ok"]
        assert not any(p.name.endswith("-journal") and p.stat().st_size for p in side_files(path))

        # Still full: refused again, identically, and still nothing changes.
        with pytest.raises(StorageError, match=DISK_FULL):
            write(failed)
        assert _index_state(index) == _index_state(reference)

        # Space freed: the same process, the same index, goes on.
        disk.free_space(persistence)
        write(failed)
        committed.extend(failed)
        more = pool[position + batch : position + batch + 60]
        for start in range(0, len(more), batch):
            write(more[start : start + batch])
        committed.extend(more)
        expected = [job_record(job) for job in sorted(committed, key=job_order_key)]
        assert _index_state(index)["all"] == expected

    assert _stored(path) == expected
    assert raw_integrity_check(path) == ["ok"]
    assert side_files(path) == []


# -- cases on a small disk -------------------------------------------------------


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
