"""A database path is always a regular file on disk, whatever its name or what it is.

``:memory:`` is a file named ``:memory:``; a FIFO, a device or a socket is
refused at once (read-only or not) instead of hanging; a dangling symlink
gets its target created ``0600``, like any new store. Every command runs in a
real process with a timeout, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
from support import REPO_ROOT, RunCli, make_result, write_result


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        write_result(folder, make_result(job_id=f"job-{i}"), f"{i}.json")
    return folder


@pytest.mark.parametrize("name", [":memory:", "file:x.db?mode=memory", "file::memory:"])
def test_names_sqlite_treats_specially_are_plain_files(
    tmp_path: Path, results: Path, run_cli: RunCli, name: str
) -> None:
    ingest = run_cli("--db", name, "ingest", results, cwd=tmp_path)
    assert ingest.returncode == 0, ingest.stderr
    stored = tmp_path / name
    assert stored.is_file()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stored.stat().st_size > 0

    check = run_cli("--db", name, "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "3 jobs decoded" in check.stdout


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


def _symlink_to_dev_zero(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


SPECIAL = {
    "a FIFO": (_fifo, "FIFO"),
    "a socket": (_socket, "socket"),
    "a symlink to /dev/zero": (_symlink_to_dev_zero, "character device"),
    "/dev/null": (lambda _path: Path("/dev/null"), "character device"),
}


@pytest.mark.parametrize("kind", SPECIAL, ids=list(SPECIAL))
@pytest.mark.parametrize("command", ["check", "info", "ingest", "export"])
def test_a_non_regular_database_path_is_refused_without_hanging(
    tmp_path: Path, results: Path, run_cli: RunCli, kind: str, command: str
) -> None:
    make, words = SPECIAL[kind]
    db = make(tmp_path / "fabric.db")
    extra: list[Any] = {"ingest": [results], "export": [tmp_path / "out"]}.get(command, [])

    done = run_cli("--db", db, command, *extra, cwd=tmp_path)

    assert done.returncode in (1, 3), done.stderr
    assert f"Cannot open storage {db}: it is a" in done.stderr
    assert words in done.stderr
    assert "not a regular file" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_dangling_symlink_creates_its_target_private(
    tmp_path: Path, results: Path, run_cli: RunCli
) -> None:
    link = tmp_path / "fabric.db"
    link.symlink_to(tmp_path / "real" / "history.db")

    done = run_cli("--db", link, "ingest", results, cwd=REPO_ROOT, preexec=lambda: os.umask(0o022))

    assert done.returncode == 0, done.stderr
    target = tmp_path / "real" / "history.db"
    assert link.is_symlink()
    assert target.is_file()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    check = run_cli("--db", link, "check", cwd=tmp_path)
    assert "3 jobs decoded" in check.stdout


@pytest.mark.parametrize("suffix", ["-journal", "-wal", "-shm"])
@pytest.mark.parametrize("command", ["check", "ingest"])
def test_a_fifo_in_place_of_a_side_file_is_refused_without_hanging(
    tmp_path: Path, results: Path, run_cli: RunCli, suffix: str, command: str
) -> None:
    """SQLite opens ``-journal`` to see whether it is hot: a FIFO there blocked it."""
    db = tmp_path / "fabric.db"
    assert run_cli("--db", db, "ingest", results, cwd=tmp_path).returncode == 0
    side = _fifo(tmp_path / f"fabric.db{suffix}")
    extra: list[object] = [results] if command == "ingest" else []

    done = run_cli("--db", db, command, *extra, cwd=tmp_path)

    assert done.returncode in (1, 3), done.stderr
    assert f"its side file {side} is a FIFO (named pipe), not a regular file" in done.stderr
