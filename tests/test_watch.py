"""``fabric-nb watch``: real processes, real files, real signals.

Every wait has a deadline, so nothing can hang; no assertion is about how
long something took.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from support import WAIT_DEADLINE, RunCli, make_result, wait_for, write_result
from support import ids_while_written as stored

from fabric_nb import create_persistence

DEADLINE = WAIT_DEADLINE


def result(job_id: str, **overrides: object) -> dict[str, object]:
    return make_result(job_id=job_id, **overrides)


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[str, str]:
    process.send_signal(sig)
    return process.communicate(timeout=DEADLINE)


def test_watch_ingests_new_files_one_line_per_pass_and_stops_cleanly_on_sigterm(
    start: Callable[..., subprocess.Popen[str]], tmp_path: Path, run_cli: RunCli
) -> None:
    db, folder = tmp_path / "db" / "fabric.db", tmp_path / "results"
    folder.mkdir()
    write_result(folder, result("w-old"), "old.json")
    watch = start("watch", folder, "--db", db, "--interval", "0.2", "--settle", "0.3")
    wait_for(lambda: stored(db) == ["w-old"], "the existing file")
    for i in range(3):
        write_result(folder, result(f"w-{i}"), f"{i}.json")
    wait_for(lambda: len(stored(db)) == 4, "the new files")
    time.sleep(1.0)  # idle passes print nothing

    out, err = stop(watch)

    assert watch.returncode == 0, err
    assert err == ""
    lines = out.splitlines()
    passes, last = lines[:-1], lines[-1]
    assert 2 <= len(passes) <= 4, out  # the old file, then the new ones in one or more passes
    assert all(" files: " in line and line.startswith("20") for line in passes), out
    assert last.startswith("stopped (SIGTERM): 4 files stored since the start (4 new, 0 replaced)")
    assert run_cli("check", "--db", db).returncode == 0


def test_a_file_being_written_waits_and_is_not_rejected(
    start: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    db, folder = tmp_path / "db" / "fabric.db", tmp_path / "results"
    folder.mkdir()
    watch = start("watch", folder, "--db", db, "--interval", "0.1", "--settle", "3")
    path = folder / "slow.json"
    text = (folder / "x").with_suffix(".tmp")
    write_result(folder, result("slow"), text.name)
    whole = text.read_bytes()
    text.unlink()
    path.write_bytes(whole[: len(whole) // 2])  # half written, invalid JSON for now
    time.sleep(0.5)  # several polls see it
    path.write_bytes(whole)
    wait_for(lambda: stored(db) == ["slow"], "the finished file")

    out, err = stop(watch, signal.SIGINT)

    assert watch.returncode == 0
    assert "rejected" not in err
    assert "rejected" not in out.splitlines()[-1].split(",")[0]
    assert out.splitlines()[-1].startswith("stopped (SIGINT): 1 files stored")


def test_a_bad_file_is_rejected_once_settled(
    start: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    db, folder = tmp_path / "db" / "fabric.db", tmp_path / "results"
    folder.mkdir()
    write_result(folder, result("fine"), "a.json")
    bad = write_result(folder, b'{"job_id": "bad"', "b.json")
    watch = start("watch", folder, "--db", db, "--interval", "0.1", "--settle", "0.5")
    wait_for(lambda: stored(db) == ["fine"], "the good file")
    time.sleep(1.5)  # the bad one settles and is rejected, once

    out, err = stop(watch)

    assert err.count(f"rejected: {bad}: Invalid JSON") == 1
    assert out.splitlines()[-1].endswith("1 rejected; every file read was committed")


def test_sigterm_mid_batch_commits_what_was_read_and_says_exactly_that(
    start: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    db, folder = tmp_path / "db" / "fabric.db", tmp_path / "results"
    folder.mkdir()
    for i in range(3000):
        write_result(folder, result(f"b{i:04d}"), f"{i:04d}.json")
    watch = start("watch", folder, "--db", db, "--batch-size", "100", "--interval", "0.1")
    wait_for(lambda: len(stored(db)) >= 100, "the first batch")

    out, err = stop(watch)

    assert watch.returncode == 0, err
    last = out.splitlines()[-1]
    said = int(last.split(": ", 1)[1].split(" files stored")[0])
    assert len(stored(db)) == said  # exactly what the last line says
    with create_persistence(db, readonly=True) as persistence:
        assert len(persistence.load_all_jobs()) == said  # every row whole


def test_two_watches_and_an_ingest_store_every_job_exactly_once(
    start: Callable[..., subprocess.Popen[str]], tmp_path: Path, run_cli: RunCli
) -> None:
    db, folder = tmp_path / "db" / "fabric.db", tmp_path / "results"
    folder.mkdir()
    write_result(folder, result("first"), "first.json")
    run_cli("ingest", folder, "--db", db)  # the database exists before the watches start
    options = ("--db", db, "--interval", "0.1", "--settle", "0.2", "--batch-size", "25")
    watches = [start("watch", folder, *options) for _ in range(2)]
    expected = ["first"]
    for wave in range(4):
        for i in range(100):
            name = f"c{wave}-{i:03d}"
            write_result(folder, result(name), f"{name}.json")
            expected.append(name)
        ingest = run_cli("ingest", folder, "--db", db, "--batch-size", "25")
        assert ingest.returncode == 0, ingest.stderr
    wait_for(lambda: stored(db) == sorted(expected), "every job")

    for watch in watches:
        _out, err = stop(watch)
        assert watch.returncode == 0, err
        assert "locked" not in err
        assert "Traceback" not in err
    assert stored(db) == sorted(expected)  # one row per job
    assert run_cli("check", "--db", db).returncode == 0


def test_watch_of_a_missing_folder_does_not_start(run_cli: RunCli, tmp_path: Path) -> None:
    done = run_cli("watch", tmp_path / "unmounted", "--db", tmp_path / "fabric.db")
    assert done.returncode == 5
    assert "no such file or folder (not mounted?)" in done.stderr
    assert not (tmp_path / "fabric.db").exists()
