"""Operators' edge cases that misled (reliability round 3, items 8, 9, 10, 13 and 14).

Real ``fabric-nb`` processes on real files:

- a ``~nosuchuser`` path (``--db``, ``$FABRIC_DB``, a backup DEST,
  ``open_fabric``) is one line and the documented exit code, no traceback;
- ``backup`` refuses a DEST named like a side file of a store, or with side
  files beside it;
- ``backup`` past the file size limit exits 4 and says the destination is
  the problem, the source is fine;
- under ``umask 000``, ``report``, ``export`` and ``backup`` write owner-only;
- ``info`` cuts a huge stored value instead of padding every line to it.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from support import RunCli, make_job, sha256_of

from fabric_nb import StorageError, create_persistence, open_fabric


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "db" / "fabric.db"
    with create_persistence(db) as persistence:
        persistence.persist_ingested_jobs([make_job(f"job-{i}") for i in range(300)])
    return db


# -- item 8 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        (["--db", "~nosuchuser/x.db", "info"], {}, 3),
        (["--db", "~nosuchuser/x.db", "check"], {}, 1),
        (["ingest", "IN"], {"FABRIC_DB": "~nosuchuser/x.db"}, 3),
        (["backup", "~nosuchuser/copy.db"], {"FABRIC_DB": "STORE"}, 4),
    ],
    ids=["--db info", "--db check", "FABRIC_DB ingest", "backup DEST"],
)
def test_a_home_of_no_user_is_one_line_and_the_documented_code(
    run_cli: RunCli,
    store: Path,
    tmp_path: Path,
    args: list[str],
    env: dict[str, str],
    code: int,
) -> None:
    env = {k: str(store) if v == "STORE" else v for k, v in env.items()}
    args = [str(tmp_path) if a == "IN" else a for a in args]

    done = run_cli(*args, env=env)

    assert done.returncode == code, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert "~nosuchuser names no user" in done.stderr


def test_open_fabric_says_the_same(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="~nosuchuser names no user"):
        open_fabric("~nosuchuser/x.db")


# -- item 9 -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["f.db-journal", "f.db-wal", "f.db-shm", "f.db.ingest-cache"])
def test_backup_refuses_a_dest_named_like_a_side_file(
    run_cli: RunCli, store: Path, tmp_path: Path, name: str
) -> None:
    done = run_cli("--db", store, "backup", tmp_path / name)

    assert done.returncode == 2
    assert "is the side file of a database" in done.stderr
    assert not (tmp_path / name).exists()


def test_backup_refuses_a_dest_with_a_journal_beside_it(
    run_cli: RunCli, store: Path, tmp_path: Path
) -> None:
    (tmp_path / "copy.db-journal").write_bytes(b"\0" * 512)

    done = run_cli("--db", store, "backup", tmp_path / "copy.db")

    assert done.returncode == 2
    assert "copy.db-journal lies beside it" in done.stderr
    assert not (tmp_path / "copy.db").exists()


# -- item 10 ----------------------------------------------------------------------------


def test_backup_past_the_file_size_limit_blames_the_destination(
    run_cli: RunCli, store: Path, tmp_path: Path
) -> None:
    before = sha256_of(store)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    done = run_cli("--db", store, "backup", tmp_path / "copy.db", preexec=small_files)

    assert done.returncode == 4, done.stderr
    assert "Cannot write the backup into" in done.stderr
    assert "is fine" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db", "home"]  # nothing left
    assert sha256_of(store) == before


# -- item 13 ----------------------------------------------------------------------------


@pytest.mark.slow  # runs the report notebook
def test_everything_written_under_umask_000_is_owner_only(
    run_cli: RunCli, store: Path, tmp_path: Path
) -> None:
    def open_umask() -> None:
        os.umask(0)

    out = tmp_path / "export"
    for args in (
        ["export", str(out), "--format", "csv"],
        ["export", str(tmp_path / "parquet")],
        ["backup", str(tmp_path / "copy.db")],
        ["report", str(tmp_path / "report.html")],
    ):
        done = run_cli("--db", store, *args, preexec=open_umask, timeout=300)
        assert done.returncode == 0, done.stderr

    written = [tmp_path / "copy.db", tmp_path / "report.html"]
    written += [p for p in (tmp_path / "export").rglob("*")]
    written += [p for p in (tmp_path / "parquet").rglob("*")]
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in written}
    assert len(modes) > 6
    assert all(
        mode == (0o700 if (tmp_path / name).is_dir() else 0o600) for name, mode in modes.items()
    ), modes


# -- item 14 ----------------------------------------------------------------------------


def test_info_cuts_a_huge_value_instead_of_padding_every_line(run_cli: RunCli, store: Path) -> None:
    with closing(sqlite3.connect(store)) as conn, conn:
        conn.execute("UPDATE jobs SET engine_used = ? WHERE job_id = 'job-7'", ("e" * 200_000,))

    done = run_cli("--db", store, "info")

    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 120
    assert "... (200000 characters)" in done.stdout
