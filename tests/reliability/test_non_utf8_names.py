"""File and folder names that are not UTF-8 (reliability round 3, item 5).

A camera card or an SMB share gives ``Cam\\xe9ra_B/``: bytes that are not
UTF-8. Python sees them surrogate-escaped (``Cam\\udce9ra_B``). They used to
crash ``ingest`` and ``watch`` after the commit, before the cache was
written. Now every path handles them: scan, cache (the name kept as its
bytes), ingest, watch, export, report and the database path itself, and
what is printed is escaped. Real processes, real byte names.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import cli_env, make_result
from support import ids_while_written as job_ids

from fabric_nb._ingest_cache import IngestCache

DEADLINE = 60.0


def fabric_nb(home: Path, *args: bytes) -> subprocess.CompletedProcess[bytes]:
    """Run the command line with byte arguments, as a shell would pass such names."""
    return subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"fabric_nb", *args],
        env=cli_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=300,
        check=False,
    )


def write(folder: bytes, name: bytes, doc: object) -> bytes:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(json.dumps(doc).encode() if not isinstance(doc, bytes) else doc)
    old = time.time_ns() - 3_600_000_000_000
    os.utime(path, ns=(old, old))
    return path


@pytest.fixture
def card(tmp_path: Path) -> bytes:
    """A folder ``Cam\\xe9ra_B`` with two good results and a bad one, names not UTF-8."""
    folder = os.path.join(os.fsencode(tmp_path), b"Cam\xe9ra_B")
    write(folder, b"A001\xff.json", make_result(job_id="a"))
    write(os.path.join(folder, b"sub\xfe"), b"B002.json", make_result(job_id="b"))
    write(folder, b"bad\xfd.json", b"{")
    return folder


def test_ingest_twice_stores_records_and_prints_escaped(
    tmp_path: Path, home_dir: Path, card: bytes
) -> None:
    db = os.path.join(os.fsencode(tmp_path), b"d\xe9.db")

    first = fabric_nb(home_dir, b"--db", db, b"ingest", card)
    second = fabric_nb(home_dir, b"--db", db, b"ingest", card)

    assert first.returncode == 1  # the bad file: newly rejected
    assert b"Traceback" not in first.stderr
    assert b"rejected: " in first.stderr
    assert b"bad\\udcfd.json" in first.stderr
    assert not any(byte >= 0x80 for byte in first.stdout + first.stderr)  # escaped
    assert second.returncode == 0, second.stderr
    summary = second.stdout.decode()
    assert "unchanged:      2" in summary
    assert "still rejected: 1" in summary
    assert job_ids(db) == ["a", "b"]
    with IngestCache(os.fsdecode(db), warn=pytest.fail) as cache:  # the names come back
        assert os.fsdecode(os.path.join(card, b"A001\xff.json")) in cache


@pytest.mark.slow  # runs the report notebook
def test_export_report_backup_info_to_and_from_such_names(
    tmp_path: Path, home_dir: Path, card: bytes
) -> None:
    base = os.fsencode(tmp_path)
    db = os.path.join(base, b"d\xe9.db")
    fabric_nb(home_dir, b"--db", db, b"ingest", card)

    runs = {
        "export": fabric_nb(home_dir, b"--db", db, b"export", os.path.join(base, b"out\xe9")),
        "csv": fabric_nb(
            home_dir, b"--db", db, b"export", os.path.join(base, b"csv\xe9"), b"--format", b"csv"
        ),
        "report": fabric_nb(home_dir, b"--db", db, b"report", os.path.join(base, b"r\xe9.html")),
        "backup": fabric_nb(home_dir, b"--db", db, b"backup", os.path.join(base, b"b\xe9.db")),
        "info": fabric_nb(home_dir, b"--db", db, b"info"),
        "check": fabric_nb(home_dir, b"--db", os.path.join(base, b"b\xe9.db"), b"check"),
    }

    for name, done in runs.items():
        assert done.returncode == 0, (name, done.stderr)
        assert not any(byte >= 0x80 for byte in done.stdout + done.stderr), name
    assert os.path.isfile(os.path.join(base, b"r\xe9.html"))
    assert os.path.isfile(os.path.join(base, b"csv\xe9", b"jobs.csv"))


def test_watch_ingests_a_folder_named_so_and_stops_cleanly(
    tmp_path: Path, home_dir: Path, card: bytes
) -> None:
    db = os.path.join(os.fsencode(tmp_path), b"w.db")
    watch = subprocess.Popen(
        [
            os.fsencode(sys.executable),
            b"-m",
            b"fabric_nb",
            b"watch",
            card,
            b"--db",
            db,
            b"--interval",
            b"0.1",
            b"--settle",
            b"0.2",
        ],
        env=cli_env(home_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while not (os.path.exists(db) and job_ids(db) == ["a", "b"]):
            assert watch.poll() is None, watch.communicate()
            assert time.monotonic() < deadline, "the watch stored nothing"
            time.sleep(0.1)
        write(os.path.join(card, b"new\xe9"), b"C003\xff.json", make_result(job_id="c"))
        while job_ids(db) != ["a", "b", "c"]:
            assert watch.poll() is None, watch.communicate()
            assert time.monotonic() < deadline, "the watch missed the new file"
            time.sleep(0.1)
        watch.send_signal(signal.SIGTERM)
        out, err = watch.communicate(timeout=DEADLINE)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.communicate()

    assert watch.returncode == 0, err
    assert b"Traceback" not in err
    assert out.splitlines()[-1].startswith(b"stopped (SIGTERM): 3 files stored")
