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
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fabric_nb import FabricIndex, FabricPersistence, IngestedJob, StorageError, create_persistence
from fabric_nb.ingestion import parse_execution_result
from fabric_nb.models import job_order_key
from fabric_nb.samples import generate_results

from ._support import job_plain, raw_integrity_check, side_files

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
    return persistence._storage._conn  # type: ignore[attr-defined]


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
        done = subprocess.run(["umount", mount_point], capture_output=True, timeout=30, check=False)
        if done.returncode:  # something still holds it: detach now, freed when released
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
        "all": [job_plain(job) for job in jobs],
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
        return [job_plain(job) for job in reader.load_all_jobs()]


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
        expected = [job_plain(job) for job in sorted(committed, key=job_order_key)]
        assert [job_plain(job) for job in persistence.load_all_jobs()] == expected
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
        expected = [job_plain(job) for job in sorted(committed, key=job_order_key)]
        assert _index_state(index)["all"] == expected

    assert _stored(path) == expected
    assert raw_integrity_check(path) == ["ok"]
    assert side_files(path) == []
