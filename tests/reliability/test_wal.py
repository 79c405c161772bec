"""A store another tool switched to WAL is refused, read-only or not, and left as it is.

The decision (docs/persistence.md, "A store in WAL mode"): Fabric keeps the
rollback journal and never converts a file itself. Opening a WAL file would
create ``-wal``/``-shm`` side files even read-only, and its ``-wal`` may hold
committed jobs the file itself does not: the refusal names the file, says
never to delete the ``-wal``, and leaves every byte (and the absence of side
files) as it was. After the operator switches it back with SQLite's own
tool, the jobs committed in the ``-wal`` are all there.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO_ROOT, RunCli, child_env, make_job, make_result, sha256_of, write_result

from fabric_nb import StorageError, create_persistence
from fabric_nb.schema import JOB_COLUMNS

from ._support import side_files

INSERT = f"INSERT INTO jobs VALUES ({', '.join('?' for _ in JOB_COLUMNS)})"

# Another tool puts the store in WAL, commits a job into the -wal, and is killed
# before any checkpoint: the job exists only in the -wal.
FOREIGN_WRITER = """
import os, signal, sqlite3, sys
sys.path[:0] = [{tests!r}]
from support import make_job
from fabric_nb._rows import encode_job
conn = sqlite3.connect({db!r}, isolation_level=None)
assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
conn.execute("PRAGMA wal_autocheckpoint=0")
conn.execute({insert!r}, encode_job(make_job("only-in-the-wal")))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def wal_store(tmp_path: Path) -> Path:
    db = tmp_path / "fabric.db"
    with create_persistence(db) as persistence:
        persistence.persist_ingested_job(make_job("before"))
    code = FOREIGN_WRITER.format(tests=str(REPO_ROOT / "tests"), db=str(db), insert=INSERT)
    done = subprocess.run(
        [sys.executable, "-c", code], env=child_env(tmp_path), timeout=60, check=False
    )
    assert done.returncode == -9
    assert (tmp_path / "fabric.db-wal").stat().st_size > 0
    return db


def snapshot(db: Path) -> dict[str, str]:
    return {p.name: sha256_of(p) for p in [db, *side_files(db)]}


@pytest.mark.parametrize("readonly", [True, False], ids=["read-only", "read-write"])
def test_a_wal_store_is_refused_and_nothing_changes(wal_store: Path, readonly: bool) -> None:
    before = snapshot(wal_store)

    with pytest.raises(StorageError, match="WAL journal mode") as caught:
        create_persistence(wal_store, readonly=readonly).open()

    message = str(caught.value)
    assert str(wal_store) in message
    assert f"never delete {wal_store}-wal" in message
    assert snapshot(wal_store) == before


def test_a_wal_store_without_side_files_gets_none_from_check(
    tmp_path: Path, run_cli: RunCli
) -> None:
    db = tmp_path / "fabric.db"
    with create_persistence(db) as persistence:
        persistence.persist_ingested_job(make_job("a"))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()  # the last connection checkpoints and removes -wal and -shm
    assert side_files(db) == []
    before = sha256_of(db)

    results = tmp_path / "results"  # ingest opens the store only when it found result files
    results.mkdir()
    write_result(results, make_result(job_id="b"), "b.json")
    for command in ("check", "info", "ingest"):
        extra = [str(results)] if command == "ingest" else []
        done = run_cli("--db", db, command, *extra, timeout=60)
        assert done.returncode in (1, 3)
        assert "WAL journal mode" in done.stderr
        assert side_files(db) == []
        assert sha256_of(db) == before


def test_after_switching_back_every_job_of_the_wal_is_there(wal_store: Path) -> None:
    # What the operator does, as the message and the docs say.
    if shutil.which("sqlite3"):
        subprocess.run(
            ["sqlite3", str(wal_store), "PRAGMA journal_mode=DELETE"], timeout=60, check=True
        )
    else:  # the same statement through Python's own SQLite
        conn = sqlite3.connect(wal_store)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
    assert side_files(wal_store) == []

    with create_persistence(wal_store, readonly=True) as persistence:
        assert sorted(job.job_id for job in persistence.load_all_jobs()) == [
            "before",
            "only-in-the-wal",
        ]
