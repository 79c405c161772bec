"""A watch is a daemon: ordinary folder churn never stops it (reliability round 3, item 6).

After the start, a subfolder deleted mid-scan, the watched folder replaced
by a symlink loop, or a file gone between the scan and its read is a warning
(said once) or a count, never an exit: the next pass tries again. Real
``fabric-nb watch`` processes, real folders, real signals; every wait has a
deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import WAIT_DEADLINE, make_result, wait_for, write_result
from support import ids_while_written as stored

DEADLINE = WAIT_DEADLINE

CHURN = """
import os, shutil, sys, time
root = sys.argv[1]
end = time.monotonic() + float(sys.argv[2])
i = 0
while time.monotonic() < end:
    sub = os.path.join(root, f"sub{i % 7}")
    os.makedirs(os.path.join(sub, "deeper"), exist_ok=True)
    for name in ("a.json", "deeper/b.json"):
        with open(os.path.join(sub, name), "w") as f:
            f.write("{}")
    shutil.rmtree(sub, ignore_errors=True)
    i += 1
"""


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=DEADLINE)


def test_subfolders_created_and_deleted_mid_scan_never_stop_the_watch(
    start: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    db, folder = tmp_path / "db" / "fabric.db", tmp_path / "results"
    folder.mkdir()
    write_result(folder, make_result(job_id="before"), "before.json")
    process = start("watch", folder, "--db", db, "--interval", "0.1", "--settle", "0.2")
    wait_for(lambda: stored(db) == ["before"], "the first file")

    churn = subprocess.run(
        [sys.executable, "-c", CHURN, str(folder), "4"], timeout=DEADLINE, check=True
    )
    assert process.poll() is None, process.communicate()  # still running after the churn
    write_result(folder, make_result(job_id="after"), "after.json")
    wait_for(lambda: stored(db) == ["after", "before"], "the file written after the churn")
    out, err = stop(process)

    assert churn.returncode == 0
    assert process.returncode == 0, err
    assert "rejected" not in err
    assert "Traceback" not in err
    assert out.splitlines()[-1].startswith("stopped (SIGTERM): 2 files stored")


def test_the_watched_folder_turned_into_a_symlink_loop_and_back(
    start: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    db, folder = tmp_path / "db" / "fabric.db", tmp_path / "results"
    folder.mkdir()
    write_result(folder, make_result(job_id="first"), "first.json")
    process = start("watch", folder, "--db", db, "--interval", "0.1", "--settle", "0.2")
    wait_for(lambda: stored(db) == ["first"], "the first file")

    aside = tmp_path / "aside"
    folder.rename(aside)
    os.symlink(folder, folder)  # a link to itself: ELOOP
    time.sleep(1.0)  # several passes meet the loop
    assert process.poll() is None
    folder.unlink()
    aside.rename(folder)
    write_result(folder, make_result(job_id="second"), "second.json")
    wait_for(lambda: stored(db) == ["first", "second"], "the file written once it is back")
    _, err = stop(process)

    assert process.returncode == 0, err
    warnings = [line for line in err.splitlines() if "still watching" in line]
    assert len(warnings) == 1, err  # said once, not at every pass
    assert "Too many levels of symbolic links" in warnings[0]
    assert "can be listed again" in err


def test_a_file_gone_between_scan_and_read_is_vanished_not_rejected(tmp_path: Path) -> None:
    from fabric_nb import create_persistence
    from fabric_nb._ingest_cache import IngestCache
    from fabric_nb._scan import scan_paths
    from fabric_nb.bulk import ingest_scan

    folder, db = tmp_path / "results", tmp_path / "fabric.db"
    folder.mkdir()
    for name in ("a", "b", "c"):
        write_result(folder, make_result(job_id=name), f"{name}.json")
    scan = scan_paths([folder])
    (folder / "b.json").unlink()  # gone after the scan, before the read

    with create_persistence(db) as persistence, IngestCache(db, warn=pytest.fail) as cache:
        report = ingest_scan(scan, persistence, cache=cache)

    assert (report.ingested, report.vanished, report.rejected) == (2, 1, ())
    assert report.clean
    assert stored(db) == ["a", "c"]
    shutil.rmtree(folder)
