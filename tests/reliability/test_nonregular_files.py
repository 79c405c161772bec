"""Ingest reads only regular files, and none larger than the documented limit.

A FIFO named ``x.json`` used to hang ingest forever; a symlink to
``/dev/zero`` read until memory ran out. Each now gets a one-line rejection
naming it, and the good files around it are stored. The command runs in a
real process with a timeout, so if the hang comes back the test fails
instead of stalling the suite.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from support import RunCli, child_env, make_result, stored_job_ids, write_result

from fabric_nb._regular_files import MAX_RESULT_FILE_BYTES

TIMEOUT = 60


def test_fifos_devices_sockets_and_huge_files_are_rejected_by_name(
    tmp_path: Path, run_cli: RunCli
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    write_result(folder, make_result(job_id="a"), "a.json")
    os.mkfifo(folder / "b_fifo.json")
    (folder / "c_zero.json").symlink_to("/dev/zero")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "d_socket.json"))
    sock.close()
    with open(folder / "e_huge.json", "wb") as huge:  # sparse: costs no disk
        huge.truncate(MAX_RESULT_FILE_BYTES + 1)
    write_result(folder, make_result(job_id="f"), "f.json")
    given_fifo = tmp_path / "given.json"
    os.mkfifo(given_fifo)

    done = run_cli("--db", tmp_path / "fabric.db", "ingest", folder, given_fifo, timeout=TIMEOUT)

    assert done.returncode == 1, done.stderr
    rejected = [line for line in done.stderr.splitlines() if line.startswith("rejected: ")]
    assert len(rejected) == len(done.stderr.splitlines()) == 5
    expected = {
        "b_fifo.json": "is a FIFO (named pipe), not a regular file",
        "c_zero.json": "is a character device, not a regular file",
        "d_socket.json": "is a socket, not a regular file",
        "e_huge.json": f"is too large: {MAX_RESULT_FILE_BYTES + 1} bytes, "
        f"the limit is {MAX_RESULT_FILE_BYTES} bytes",
    }
    for name, reason in expected.items():
        assert f"rejected: {folder / name}: {reason}" in rejected
    assert f"rejected: {given_fifo}: is a FIFO (named pipe), not a regular file" in rejected
    assert stored_job_ids(tmp_path / "fabric.db") == ["a", "f"]


def test_a_file_of_exactly_the_limit_is_read(tmp_path: Path, run_cli: RunCli) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    path = write_result(folder, make_result(job_id="padded"), "padded.json")
    text = path.read_bytes()
    path.write_bytes(text + b" " * (MAX_RESULT_FILE_BYTES - len(text)))  # JSON allows the spaces
    assert path.stat().st_size == MAX_RESULT_FILE_BYTES

    done = run_cli("--db", tmp_path / "fabric.db", "ingest", folder, timeout=TIMEOUT)

    assert done.returncode == 0, done.stderr
    assert stored_job_ids(tmp_path / "fabric.db") == ["padded"]


def test_the_wal_check_never_blocks_on_a_fifo_swapped_in_for_the_store(tmp_path: Path) -> None:
    # The store's own path is checked first; this is the path after a swap,
    # read by the check that looks at the file's header before SQLite opens it.
    fifo = tmp_path / "fabric.db"
    os.mkfifo(fifo)
    code = (
        "import sys\n"
        "from fabric_nb.errors import StorageError\n"
        "from fabric_nb.storage import _refuse_wal\n"
        "try:\n"
        "    _refuse_wal(__import__('pathlib').Path(sys.argv[1]))\n"
        "except StorageError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(fifo)],
        env=child_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,  # the old blocking open would hang here
        check=True,
    )
    assert done.stdout.strip() == (
        f"Cannot open storage {fifo}: it is a FIFO (named pipe), not a regular file"
    )
