"""A ``-wal`` or ``-shm`` beside a rollback-journal store is refused, and nothing is touched.

SQLite replays any ``PATH-wal`` it finds when it opens ``PATH``, whatever the
file's header says, and creates ``PATH-shm`` even read-only. Such a file is
never the live WAL of a store in rollback-journal mode: it is what another
tool left, or the WAL of an older copy. The scenario of reliability round 3:
a store went to WAL under another tool that deleted jobs and was killed
before a checkpoint; the operator restores a verified backup over it as
``docs/cli.md`` said; the old ``-wal``'s deletes must not be replayed into
the backup. Every open (library and command line, read-only and read-write)
refuses with one line naming the file, and leaves every byte as it was.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from support import REPO_ROOT, RunCli, child_env, make_job, make_result, sha256_of, write_result

from fabric_nb import StorageError, create_persistence, open_fabric

from ._support import side_files

# Another tool switches the store to WAL, deletes jobs, and is killed before any
# checkpoint: the deletes exist only in the -wal.
DELETING_WRITER = """
import os, signal, sqlite3
conn = sqlite3.connect({db!r}, isolation_level=None)
assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
conn.execute("PRAGMA wal_autocheckpoint=0")
conn.execute("DELETE FROM jobs WHERE job_id LIKE 'gone-%'")
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def restored(tmp_path: Path) -> Path:
    """A verified backup copied over a store whose stray ``-wal`` deletes 5 of its 8 jobs."""
    db = tmp_path / "fabric.db"
    with create_persistence(db) as persistence:
        jobs = [make_job(f"gone-{i}") for i in range(5)] + [make_job(f"kept-{i}") for i in range(3)]
        persistence.persist_ingested_jobs(jobs)
    backup = tmp_path / "backup.db"
    with create_persistence(db, readonly=True) as persistence:
        persistence.backup_into(backup)
    done = subprocess.run(
        [sys.executable, "-c", DELETING_WRITER.format(db=str(db))],
        env=child_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == -9
    shutil.copyfile(backup, db)  # the restore, with the old -wal still beside it
    (tmp_path / "fabric.db-shm").unlink()  # SQLite's own; a stray -wal alone is the worst case
    assert [p.name for p in side_files(db)] == ["fabric.db-wal"]
    return db


def snapshot(db: Path) -> dict[str, str]:
    return {p.name: sha256_of(p) for p in [db, *side_files(db)]}


@pytest.mark.parametrize("readonly", [True, False], ids=["read-only", "read-write"])
def test_the_library_refuses_the_store_and_touches_nothing(restored: Path, readonly: bool) -> None:
    before = snapshot(restored)

    with pytest.raises(StorageError) as caught:
        create_persistence(restored, readonly=readonly).open()

    message = str(caught.value)
    assert f"{restored}-wal lies beside it" in message
    assert "\n" not in message
    assert "Move" in message
    assert snapshot(restored) == before  # no -shm created, no byte changed


def test_open_fabric_refuses_it_too(restored: Path) -> None:
    before = snapshot(restored)

    with pytest.raises(StorageError, match="-wal lies beside it"):
        open_fabric(restored)

    assert snapshot(restored) == before


@pytest.mark.parametrize(
    "command", [["check"], ["info"], ["export", "OUT"], ["backup", "COPY"], ["ingest", "IN"]]
)
def test_every_command_refuses_it_with_one_line_and_exit_3(
    restored: Path, run_cli: RunCli, tmp_path: Path, command: list[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_result(folder, make_result(job_id="new"), "new.json")
    args = [
        {"OUT": str(tmp_path / "out"), "COPY": str(tmp_path / "copy.db"), "IN": str(folder)}.get(
            a, a
        )
        for a in command
    ]
    before = snapshot(restored)

    done = run_cli("--db", restored, *args)

    expected = 1 if command == ["check"] else 3  # check's own "FAILED" code
    assert done.returncode == expected, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert "-wal lies beside it" in done.stderr
    assert snapshot(restored) == before
    assert not (tmp_path / "copy.db").exists()
    assert not (tmp_path / "out").exists()


def test_a_stray_shm_alone_is_refused_as_well(tmp_path: Path) -> None:
    db = tmp_path / "fabric.db"
    with create_persistence(db) as persistence:
        persistence.persist_ingested_job(make_job("a"))
    (tmp_path / "fabric.db-shm").write_bytes(b"\0" * 32768)

    with pytest.raises(StorageError, match=r"fabric\.db-shm lies beside it"):
        create_persistence(db, readonly=True).open()


def test_moved_aside_the_backup_opens_whole(restored: Path, run_cli: RunCli) -> None:
    aside = restored.with_name("fabric.db-wal.aside")
    restored.with_name("fabric.db-wal").rename(aside)

    done = run_cli("--db", restored, "check")

    assert done.returncode == 0, done.stderr
    with closing(sqlite3.connect(f"file:{restored}?mode=ro", uri=True)) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 8  # all of the backup
    assert side_files(restored) == []


def test_the_restore_steps_in_the_docs_move_the_wal_and_shm_aside() -> None:
    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    steps = text[text.index("### Backup and restore, for operators") :]
    steps = steps[: steps.index("\n## ")]
    assert "fabric.db-wal" in steps
    assert "fabric.db-shm" in steps
