"""Crash-test writer: ingests result files into a store until it is killed.

Usage: ``python _writer.py DB RESULTS_DIR LOG ROUND SEED``

Each batch (one file, or several in one transaction) gets an ``ingested_at``
that encodes ``(ROUND, k)``, so the parent can tell which write every stored
job came from. Before writing, the batch's file names go to LOG as an intent
line ``B ROUND k [names]``; after ``add_job``/``add_jobs`` returns, a line
``C ROUND k`` records the commit. Both are appended with one write and an
fsync, so a kill leaves at most one torn last line. ``O ROUND`` is written
once the store is open (after any hot-journal rollback SQLite performed).

The writer stops by itself after a time limit, in case its parent is gone.
On SIGUSR1 it prints every thread's stack to stderr (for a parent that waited
in vain).
"""

from __future__ import annotations

import dataclasses
import faulthandler
import json
import random
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fabric_nb import FabricIndex, create_persistence, ingest_execution_result
from reliability._support import append_line

#: ``ingested_at`` of batch ``k`` of round ``r`` is STAMP_BASE + r days + k microseconds.
STAMP_BASE = datetime(2030, 1, 1, tzinfo=UTC)
TIME_LIMIT_SECONDS = 60.0


def stamp(round_no: int, k: int) -> datetime:
    """The ``ingested_at`` that marks batch ``k`` of round ``round_no``."""
    return STAMP_BASE + timedelta(days=round_no, microseconds=k)


def main(db: str, results: str, log: str, round_no: int, seed: int) -> None:
    faulthandler.register(signal.SIGUSR1)
    files = sorted(Path(results).glob("*.json"))
    log_path = Path(log)
    rng = random.Random(seed * 100_003 + round_no)
    deadline = time.monotonic() + TIME_LIMIT_SECONDS
    with create_persistence(db) as persistence:
        index = FabricIndex(persistence)
        append_line(log_path, f"O {round_no}")
        k = 0
        while time.monotonic() < deadline:
            size = 1 if rng.random() < 0.5 else rng.randint(2, 12)
            picked = [rng.choice(files) for _ in range(size)]
            jobs = [
                dataclasses.replace(ingest_execution_result(path), ingested_at=stamp(round_no, k))
                for path in picked
            ]
            append_line(log_path, f"B {round_no} {k} {json.dumps([p.name for p in picked])}")
            if size == 1:
                index.add_job(jobs[0])
            else:
                index.add_jobs(jobs)
            append_line(log_path, f"C {round_no} {k}")
            k += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
