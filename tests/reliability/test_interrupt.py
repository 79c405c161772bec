"""Ctrl-C during ingest: the message says exactly what was stored.

The interrupt is a real SIGINT sent to a real ``fabric-nb ingest`` at a
moment the test controls with SQLite's own locks, not with timing:

- *during the commit*: another connection holds a read lock, so the
  writer's ``COMMIT`` waits inside SQLite for its exclusive lock (holding
  the PENDING lock, which ``/proc/locks`` shows: that is how the test knows). SIGINT arrives
  there; the reader lets go; the commit completes and Python raises the
  interrupt after it. The batch is stored, and the message must say so.
- *before the transaction*: another connection holds the write lock, so the
  writer cannot begin. SIGINT arrives; the lock is released; nothing is
  stored, and the message must say that.

Every wait has a deadline, so a regression fails instead of hanging.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import make_result, start_cli, stored_job_ids, write_result

from fabric_nb import create_persistence

DEADLINE = 60.0


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "fabric.db"
    with create_persistence(db):
        pass
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        write_result(folder, make_result(job_id=f"job-{i}"), f"{i}.json")
    return db, folder


def wait_for(condition: Callable[[], bool], child: subprocess.Popen[str], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if child.poll() is not None:
            pytest.fail(f"the writer exited before {what}: {child.communicate()}")
        if time.monotonic() > end:
            child.kill()
            pytest.fail(f"never saw {what}")
        time.sleep(0.005)


PENDING_BYTE = 0x40000000  # SQLite's lock bytes in the file: PENDING, RESERVED, SHARED...


def holds_pending_lock(pid: int, db: Path) -> bool:
    """Whether ``pid`` holds SQLite's PENDING lock on ``db``: it is inside COMMIT, waiting
    for readers (the ingest cache beside it is another file, with locks of its own).

    Read from ``/proc/locks`` (POSIX locks are per process, so a probe
    connection from this process would not see it).
    """
    inode = str(db.stat().st_ino)
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        mine = len(fields) >= 7 and fields[3:5] == ["WRITE", str(pid)]
        if mine and fields[5].rsplit(":", 1)[-1] == inode and int(fields[6]) == PENDING_BYTE:
            return True
    return False


def sigint_delivered(pid: int) -> bool:
    """No SIGINT pending any more: the process ran its C-level handler."""
    bit = 1 << (signal.SIGINT - 1)
    status = Path(f"/proc/{pid}/status").read_text()
    pending = [int(line.split()[1], 16) for line in status.splitlines() if "Pnd:" in line]
    return all(not mask & bit for mask in pending)


def sleeping_with_db_open(pid: int, db: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        opened = any(os.readlink(fd) == str(db) for fd in fds.iterdir())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return opened and state == "S"


def interrupt_ingest(
    db: Path,
    folder: Path,
    lock: sqlite3.Connection,
    release: str,
    ready: Callable[[int, Path], bool],
    what: str,
) -> tuple[int, str, str]:
    """Start ``fabric-nb ingest`` while ``lock`` holds the store, SIGINT it once ``ready``.

    ``ready(pid, db)`` says the writer reached the moment under test (``what``
    names it in a failure). Then the lock is let go with the SQL ``release``
    and closed, and the writer's exit code, stdout and stderr are returned.
    Every wait has a deadline.
    """
    child = start_cli("--db", db, "ingest", folder, "-q", home=db.parent)
    try:
        wait_for(lambda: ready(child.pid, db), child, what)
        child.send_signal(signal.SIGINT)
        wait_for(lambda: sigint_delivered(child.pid), child, "the SIGINT delivered")
    finally:
        lock.execute(release)
        lock.close()
    out, err = child.communicate(timeout=DEADLINE)
    return child.returncode, out, err


def test_interrupt_during_the_commit_reports_the_batch_as_stored(
    setup: tuple[Path, Path],
) -> None:
    db, folder = setup
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM jobs").fetchone()  # holds a read lock
    code, out, err = interrupt_ingest(
        db, folder, reader, "COMMIT", holds_pending_lock, "the writer waiting inside COMMIT"
    )

    assert code == 130, (out, err)
    assert stored_job_ids(db) == ["job-0", "job-1", "job-2"]
    assert "interrupted: 3 files stored, 0 read but not stored, 0 not read" in err
    assert "not stored" not in err.replace("0 read but not stored", "")
    assert "ingested: 3 (3 new, 0 replaced)" in " ".join(out.split())
    assert "Traceback" not in err


def test_interrupt_before_the_transaction_reports_nothing_stored(
    setup: tuple[Path, Path],
) -> None:
    db, folder = setup
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    code, out, err = interrupt_ingest(
        db, folder, holder, "ROLLBACK", sleeping_with_db_open, "the writer waiting"
    )

    assert code == 130, (out, err)
    assert stored_job_ids(db) == []
    assert "interrupted" in err
    assert "Traceback" not in err
    assert "0 files stored" in err or "before any file was stored" in err
