"""Hot journals: what Fabric says about them, the backup procedure, and the limit.

A kill in the middle of a write leaves a *hot* journal next to the store.
These tests make one deterministically (a real process writes more than
SQLite's page cache holds, so pages reach the file, then kills itself) and
check:

- a read-only open refuses the store, leaves the store and the journal
  byte-identical, and its message says what the journal is, what rolling it
  back does, and that a journal next to a restored backup must be deleted
  first;
- the restore procedure of docs/persistence.md gives back exactly the
  backup;
- the documented limits: SQLite cannot tell a foreign journal from the
  store's own, so rolling one back damages the restored file; and a
  read-write open rolls a hot journal back before Fabric checks anything, so
  a read-write open that then fails has still changed the file.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO_ROOT, RunCli, child_env, make_job, sha256_of

from fabric_nb import StorageCorruptionError, StorageError, create_persistence

# A write of ~150 jobs of ~8 kB each with a 10-page cache: SQLite spills pages
# to the file (after syncing their originals to the journal) long before the
# end, and the process is killed inside the transaction.
CRASHING_WRITER = """
import os, signal, sqlite3, sys
sys.path[:0] = [{tests!r}]
from support import make_job
from fabric_nb._rows import encode_job
conn = sqlite3.connect({db!r}, isolation_level=None)
conn.execute("PRAGMA cache_size=10")
conn.execute("BEGIN IMMEDIATE")
marks = ",".join("?" * 16)
for i in range(150):
    job = make_job(f"crash-{{i}}", validation_error="x" * 8000)
    conn.execute(f"INSERT OR REPLACE INTO jobs VALUES ({{marks}})", encode_job(job))
os.kill(os.getpid(), signal.SIGKILL)
"""


def store_with(db: Path, *job_ids: str) -> None:
    with create_persistence(db) as persistence:
        persistence.persist_ingested_jobs(make_job(job_id) for job_id in job_ids)


def crash_mid_write(db: Path) -> Path:
    code = CRASHING_WRITER.format(tests=str(REPO_ROOT / "tests"), db=str(db))
    done = subprocess.run(
        [sys.executable, "-c", code], env=child_env(db.parent), timeout=120, check=False
    )
    assert done.returncode == -9
    journal = Path(f"{db}-journal")
    assert journal.stat().st_size > 512
    return journal


def stored_ids(db: Path) -> list[str]:
    with create_persistence(db, readonly=True) as persistence:
        return sorted(job.job_id for job in persistence.load_all_jobs())


def test_read_only_open_explains_the_journal_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "fabric.db"
    store_with(db, "a", "b")
    journal = crash_mid_write(db)
    before = (sha256_of(db), sha256_of(journal))

    with pytest.raises(StorageError) as caught:
        create_persistence(db, readonly=True).open()

    message = str(caught.value)
    assert f"it has a hot journal, {journal}" in message
    assert "rolls it back, which returns the store to its last committed state" in message
    assert "restored from a backup" in message
    assert f"delete {journal} first" in message
    assert "Restoring a backup" in message
    assert (sha256_of(db), sha256_of(journal)) == before


def test_the_documented_restore_procedure_gives_back_the_backup(
    tmp_path: Path, run_cli: RunCli
) -> None:
    db = tmp_path / "fabric.db"
    store_with(db, "a", "b", "c")
    backup = tmp_path / "backup.db"
    shutil.copyfile(db, backup)
    store_with(db, "d", "e")
    journal = crash_mid_write(db)

    # docs/persistence.md, "Restoring a backup": stop the writers, delete the
    # side files of the old store, copy the backup in place, check.
    journal.unlink()
    shutil.copyfile(backup, db)
    done = run_cli("--db", db, "check")

    assert done.returncode == 0, done.stderr
    assert stored_ids(db) == ["a", "b", "c"]
    assert sha256_of(db) == sha256_of(backup)


def test_limit_a_foreign_journal_rolled_back_damages_the_restored_backup(tmp_path: Path) -> None:
    """Why the journal must be deleted: SQLite rolls it back into whatever file is there."""
    db = tmp_path / "fabric.db"
    store_with(db, "a", "b", "c")
    backup = tmp_path / "backup.db"
    shutil.copyfile(db, backup)
    store_with(db, *(f"later-{i}" for i in range(40)))
    crash_mid_write(db)

    shutil.copyfile(backup, db)  # restored, but the old journal is still there
    conn = sqlite3.connect(db)  # any read-write open rolls it back
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    conn.close()

    assert sha256_of(db) != sha256_of(backup)


def test_limit_a_read_write_open_rolls_back_before_it_refuses(tmp_path: Path) -> None:
    """A failed read-write open leaves the file byte-identical only without a hot journal.

    The store is refused for a reason the rollback does not touch (a trigger
    another tool added, which is not Fabric's schema), yet the file changed:
    SQLite played the journal back before Fabric could look at anything. A
    read-only open of the same files refuses and changes nothing.
    """
    db = tmp_path / "fabric.db"
    store_with(db, "a", "b")
    conn = sqlite3.connect(db)
    conn.execute("CREATE TRIGGER t AFTER INSERT ON jobs BEGIN SELECT 1; END")
    conn.commit()
    conn.close()
    journal = crash_mid_write(db)
    before = sha256_of(db), sha256_of(journal)

    with pytest.raises(StorageError):
        create_persistence(db, readonly=True).open()
    assert (sha256_of(db), sha256_of(journal)) == before

    with pytest.raises(StorageCorruptionError, match="not Fabric's schema"):
        create_persistence(db).open()
    assert sha256_of(db) != before[0]
    assert not journal.exists()
