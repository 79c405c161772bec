"""``fabric-nb backup``: verified online copies, never over an existing file.

The concurrency test backs up while another process ingests, then checks
that every copy is one committed state of the writer.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import RunCli, make_result, start_cli, write_result

from fabric_nb import create_persistence
from fabric_nb.backup import BackupExistsError, backup_storage
from fabric_nb.errors import StorageCorruptionError


def result(job_id: str) -> dict[str, object]:
    return make_result(job_id=job_id)


@pytest.fixture
def source(tmp_path: Path, run_cli: RunCli) -> Path:
    """A database of 30 jobs, filled by the command line."""
    folder = tmp_path / "results"
    folder.mkdir()
    for i in range(30):
        write_result(folder, result(f"j{i:02d}"), f"{i:02d}.json")
    db = tmp_path / "db" / "fabric.db"
    assert run_cli("ingest", folder, "--db", db).returncode == 0
    return db


def job_ids(db: Path) -> list[str]:
    with create_persistence(db, readonly=True) as persistence:
        return sorted(job.job_id for job in persistence.load_all_jobs())


def test_backup_writes_a_verified_private_copy_and_says_what_it_holds(
    run_cli: RunCli, source: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()

    done = run_cli("backup", dest, "--db", source)

    assert done.returncode == 0, done.stderr
    size = dest.stat().st_size
    assert done.stdout.splitlines()[-1] == (
        f"backup: {dest}: 30 jobs, {size} bytes, verified "
        "(schema version, integrity, every row decodes)"
    )
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.db"]  # nothing left beside
    assert job_ids(dest) == job_ids(source)
    assert run_cli("check", "--db", dest).returncode == 0


def test_an_existing_file_is_never_replaced_without_force(
    run_cli: RunCli, source: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "copy.db"
    dest.write_bytes(b"precious")

    refused = run_cli("backup", dest, "--db", source)
    forced = run_cli("backup", dest, "--db", source, "--force")

    assert refused.returncode == 2
    assert refused.stderr == (
        f"fabric-nb backup: {dest}: already exists (use --force to replace it)\n"
    )
    assert forced.returncode == 0
    assert job_ids(dest) == job_ids(source)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".copy")] == []


def test_a_folder_gets_a_file_named_with_the_utc_time(source: Path, tmp_path: Path) -> None:
    folder = tmp_path / "nightly"
    folder.mkdir()
    when = datetime(2026, 11, 29, 4, 30, 5, tzinfo=UTC)

    done = backup_storage(source, folder, now=when)

    assert done.path == folder / "fabric-20261129T043005Z.db"
    assert (done.jobs, done.size_bytes) == (30, done.path.stat().st_size)
    with pytest.raises(BackupExistsError):
        backup_storage(source, folder, now=when)


def test_a_damaged_database_is_not_backed_up_and_nothing_is_left(
    run_cli: RunCli, source: Path, tmp_path: Path
) -> None:
    raw = source.read_bytes()
    conn = sqlite3.connect(":memory:")
    conn.deserialize(raw)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'idx_jobs_status'")
    conn.close()
    offset = (root[0] - 1) * 4096
    source.write_bytes(raw[:offset] + b"\x00" * 4096 + raw[offset + 4096 :])  # an index zeroed
    out = tmp_path / "out"
    out.mkdir()

    done = run_cli("backup", out / "copy.db", "--db", source)

    assert done.returncode == 3
    assert done.stderr.startswith("fabric-nb backup: Database corruption detected")
    assert list(out.iterdir()) == []
    with pytest.raises(StorageCorruptionError):
        backup_storage(source, out / "copy.db")


def test_a_backup_while_another_process_ingests_is_one_committed_state(
    tmp_path: Path, home_dir: Path, run_cli: RunCli
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    names = [f"c{i:04d}" for i in range(2000)]
    for name in names:
        write_result(folder, result(name), f"{name}.json")
    db = tmp_path / "db" / "fabric.db"
    write_result(tmp_path, result("seed"), "seed.json")
    assert run_cli("ingest", tmp_path / "seed.json", "--db", db).returncode == 0
    writer = start_cli("ingest", folder, "--db", db, "-q", "--batch-size", "40", home=home_dir)
    copies: list[Path] = []
    try:
        wait_until = time.monotonic() + 60
        while writer.poll() is None and len(job_ids(db)) < 2 and time.monotonic() < wait_until:
            time.sleep(0.01)  # the writer has started committing
        while writer.poll() is None and len(copies) < 200:
            copies.append(backup_storage(db, tmp_path / f"copy-{len(copies)}.db").path)
    finally:
        _out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    copies.append(backup_storage(db, tmp_path / "final.db").path)
    during = {len(job_ids(c)) for c in copies[:-1]}
    assert len(during - {1, len(names) + 1}) >= 2  # several states taken mid-ingest

    for copy in copies:
        ids = job_ids(copy)  # opens with the startup checks and decodes every row
        ingested = [i for i in ids if i != "seed"]
        # The writer commits 10 files at a time, in order: a snapshot is a prefix of them.
        assert len(ingested) % 10 == 0 or len(ingested) == len(names)
        assert ingested == names[: len(ingested)]
    assert job_ids(copies[-1]) == sorted([*names, "seed"])

    # Restore the last copy taken during the ingest over a new path: check accepts it.
    restored = tmp_path / "restored" / "fabric.db"
    restored.parent.mkdir()
    shutil.copyfile(copies[-2] if len(copies) > 1 else copies[-1], restored)
    os.chmod(restored, 0o600)
    assert run_cli("check", "--db", restored).returncode == 0


def test_the_copy_has_no_journal_and_uses_the_default_journal_mode(
    source: Path, tmp_path: Path
) -> None:
    done = backup_storage(source, tmp_path / "copy.db")
    conn = sqlite3.connect(f"file:{done.path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()
    assert not re.search(r"journal|partial", " ".join(p.name for p in tmp_path.iterdir()))
