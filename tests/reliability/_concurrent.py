"""One process of the concurrency test: a writer, an index rebuilder or a read-only reader.

Usage: ``python _concurrent.py ROLE DB RESULTS_DIR OUT_DIR SECONDS SEED``

Every role waits for ``OUT_DIR/go`` (so all start together), works until
``SECONDS`` have passed and it has done its minimum (``MIN_WRITE_CALLS``,
``MIN_SNAPSHOTS``), and writes what it did to ``OUT_DIR/ROLE.json``. Any
exception goes to ``OUT_DIR/ROLE.error`` with its traceback, and the exit
status is 1.

- ``writer-a`` / ``writer-b``: ingest result files from RESULTS_DIR (both
  writers draw from the same files, so job ids overlap), one job per
  transaction or several, through ``FabricIndex.add_job(s)``. Every write is
  unique (its ``ingested_at`` encodes writer and sequence number). For each job
  written it records the job id, the digest of the job, and the
  ``CLOCK_MONOTONIC`` time just before the call and just after it returned
  (this clock is shared by all processes of a machine).
- ``rebuilder``: one read-write persistence, ``FabricIndex.rebuild()`` in a loop.
- ``reader``: ``open_fabric(DB)`` (read-only) again and again.

Readers record every (job id, digest) they saw, and check as they go that a
job id, once seen, never disappears (Fabric never deletes).
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fabric_nb import FabricIndex, create_persistence, ingest_execution_result
from reliability._support import job_digest

_STAMP_BASE = datetime(2031, 1, 1, tzinfo=UTC)
#: Each writer makes at least this many add_job(s) calls, however long they take.
#: The writers' choices are seeded, so with 20 calls each the test's 40 job ids
#: are certain to be overwritten (more than 10 of them), whatever the timing.
MIN_WRITE_CALLS = 20
#: Each reader takes at least this many snapshots.
MIN_SNAPSHOTS = 2


def _wait_for_go(out: Path) -> None:
    (out / f"{sys.argv[1]}.ready").touch()
    deadline = time.monotonic() + 120
    while not (out / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("no go signal")
        time.sleep(0.002)


def _write(db: str, results: str, seconds: float, seed: int, writer: int) -> dict[str, Any]:
    files = sorted(Path(results).glob("*.json"))
    rng = random.Random(seed * 7 + writer)
    writes: list[list[Any]] = []
    with create_persistence(db) as persistence:
        index = FabricIndex(persistence)
        _wait_for_go(Path(sys.argv[4]))
        end = time.monotonic() + seconds
        seq = 0
        calls = 0
        # Time bounds the run, a count bounds the work: a writer starved of the
        # lock by a loaded machine still makes its MIN_WRITE_CALLS, so what the
        # test asserts does not depend on the scheduler.
        while time.monotonic() < end or calls < MIN_WRITE_CALLS:
            calls += 1
            size = 1 if rng.random() < 0.5 else rng.randint(2, 6)
            jobs = []
            for path in (rng.choice(files) for _ in range(size)):
                stamp = _STAMP_BASE + timedelta(microseconds=seq * 2 + writer)
                jobs.append(dataclasses.replace(ingest_execution_result(path), ingested_at=stamp))
                seq += 1
            began = time.monotonic_ns()
            if size == 1:
                index.add_job(jobs[0])
            else:
                index.add_jobs(jobs)
            returned = time.monotonic_ns()
            # Within one batch a later job with the same id replaces an earlier one.
            last = {job.job_id: job for job in jobs}
            writes.extend([j.job_id, job_digest(j), began, returned] for j in last.values())
            for job in last.values():  # the writer's own index agrees with what it wrote
                assert index.get_job(job.job_id) == job
    return {"writes": writes}


class _Observer:
    """What a reader saw; fails if a job id it saw before is gone."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.ids: set[str] = set()
        self.snapshots = 0
        self.largest = 0

    def observe(self, jobs: list[Any]) -> None:
        ids = {job.job_id for job in jobs}
        missing = self.ids - ids
        if missing:
            raise AssertionError(f"job ids disappeared: {sorted(missing)[:5]}")
        self.ids = ids
        self.seen.update((job.job_id, job_digest(job)) for job in jobs)
        self.snapshots += 1
        self.largest = max(self.largest, len(ids))

    def report(self) -> dict[str, Any]:
        return {"seen": sorted(self.seen), "snapshots": self.snapshots, "largest": self.largest}


def _rebuild(db: str, seconds: float) -> dict[str, Any]:
    observer = _Observer()
    with create_persistence(db) as persistence:
        index = FabricIndex(persistence)
        _wait_for_go(Path(sys.argv[4]))
        end = time.monotonic() + seconds
        while time.monotonic() < end or observer.snapshots < MIN_SNAPSHOTS:
            index.rebuild()
            observer.observe(index.get_all_jobs())
    return observer.report()


def _read(db: str, seconds: float) -> dict[str, Any]:
    from fabric_nb.history import open_fabric  # the notebooks' entry point, read-only

    observer = _Observer()
    _wait_for_go(Path(sys.argv[4]))
    end = time.monotonic() + seconds
    while time.monotonic() < end or observer.snapshots < MIN_SNAPSHOTS:
        with open_fabric(db) as fabric:  # answers by SQL, each from one committed state
            assert fabric.readonly
            jobs = fabric.queries.get_all_jobs()
        observer.observe(jobs)
        with open_fabric(db, in_memory=True) as kept:  # a snapshot: every answer from one state
            assert len(kept) == len(kept.queries.get_all_jobs())
            observer.observe(kept.queries.get_all_jobs())
    return observer.report()


def main() -> int:
    role, db, results, out_dir, seconds, seed = sys.argv[1:7]
    out = Path(out_dir)
    try:
        if role.startswith("writer-"):
            report = _write(db, results, float(seconds), int(seed), "ab".index(role[-1]))
        elif role == "rebuilder":
            report = _rebuild(db, float(seconds))
        else:
            report = _read(db, float(seconds))
    except BaseException:
        (out / f"{role}.error").write_text(traceback.format_exc())
        return 1
    (out / f"{role}.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
