"""Concurrency: two writers, an index rebuilder and a read-only reader on one file.

Four processes (``_concurrent.py``) run together for a few seconds: two writers
(single jobs and batches, drawing from the same result files, so job ids
overlap), one process rebuilding a ``FabricIndex`` in a loop, and one reader
opening the store with ``open_fabric`` (read-only) again and again.

Expected: no process raises anything (``database is locked`` included: SQLite's
busy timeout makes a process wait for a lock instead), no job is lost, readers
only ever see committed versions, and each job's final content is its *last*
write.

Which write is last: a write cannot commit before its ``add_job(s)`` call began
nor after it returned, and both writers time their calls with
``CLOCK_MONOTONIC``, which all processes of a machine share. So the version
that committed last, ``L``, returned no earlier than any version of the same
job began: ``L.returned >= max(W.began)``. The stored version must satisfy
this; a version that returned before another one began committed before it and
cannot be the final content. When two calls overlap in time either may be last,
and both are accepted. (Serialising the writers with an external lock would
give a total order, but it would also stop them from ever contending for
SQLite's own lock, which is what this test is about.)
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from support import child_env

from fabric_nb import create_persistence
from fabric_nb.samples import write_results

from ._support import job_digest, raw_integrity_check, script_command, side_files

SECONDS = 4.0
SEED = 31
ROLES = ("writer-a", "writer-b", "rebuilder", "reader")


def _start_together(procs: dict[str, subprocess.Popen[str]], out: Path) -> None:
    deadline = time.monotonic() + 120
    while not all((out / f"{role}.ready").exists() for role in procs):
        for role, proc in procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{role} exited before starting: {proc.stderr.read()}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "processes did not get ready in time"
        time.sleep(0.01)
    (out / "go").touch()


def test_writers_rebuilder_and_read_only_reader_share_one_file(
    tmp_path: Path, home_dir: Path
) -> None:
    results = tmp_path / "results"
    write_results(results, 40, seed=SEED)  # few job ids: the writers overlap constantly
    db = tmp_path / "store" / "fabric.db"
    with create_persistence(db):  # the read-only reader needs the file to exist
        pass
    out = tmp_path / "out"
    out.mkdir()
    procs = {
        role: subprocess.Popen(
            script_command("_concurrent.py", role, db, results, out, SECONDS, SEED),
            env=child_env(home_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role in ROLES
    }
    try:
        _start_together(procs, out)
        outputs = {role: proc.communicate(timeout=SECONDS + 120) for role, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    for role, proc in procs.items():
        error = out / f"{role}.error"
        text = (error.read_text() if error.exists() else "") + "".join(outputs[role])
        assert "database is locked" not in text, f"{role}: {text}"
        assert proc.returncode == 0, f"{role} failed:\n{text}"
        assert not error.exists(), f"{role} failed:\n{text}"
    reports: dict[str, Any] = {
        role: json.loads((out / f"{role}.json").read_text()) for role in ROLES
    }

    versions: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for writer in ("writer-a", "writer-b"):
        for job_id, digest, began, returned in reports[writer]["writes"]:
            versions[job_id].append((digest, began, returned))

    with create_persistence(db, readonly=True) as persistence:
        stored = {job.job_id: job_digest(job) for job in persistence.load_all_jobs()}
    assert set(stored) == set(versions), "a job was lost, or one appeared from nowhere"
    unambiguous = 0
    for job_id, digest in stored.items():
        matching = [v for v in versions[job_id] if v[0] == digest]
        assert len(matching) == 1, f"{job_id}: the stored content is no write that committed"
        _, began, returned = matching[0]
        assert returned >= max(v[1] for v in versions[job_id]), (
            f"{job_id}: the stored write returned before another write of it began"
        )
        others = [v for v in versions[job_id] if v[0] != digest]
        unambiguous += all(v[2] < began for v in others)

    committed = {(job_id, v[0]) for job_id, vs in versions.items() for v in vs}
    for reader in ("rebuilder", "reader"):
        seen = {tuple(pair) for pair in reports[reader]["seen"]}
        assert seen <= committed, f"{reader} saw a version no writer committed"
        assert reports[reader]["snapshots"] >= 2, reader

    assert raw_integrity_check(db) == ["ok"]
    assert side_files(db) == []
    writes_a, writes_b = (len(reports[w]["writes"]) for w in ("writer-a", "writer-b"))
    both = {j for j, vs in versions.items() if len(vs) > 1}
    print(
        f"concurrency: writer-a {writes_a} job writes, writer-b {writes_b}, "
        f"{len(stored)} job ids, {len(both)} written more than once, last write unambiguous "
        f"for {unambiguous}; rebuilder {reports['rebuilder']['snapshots']} rebuilds, "
        f"read-only reader {reports['reader']['snapshots']} opens"
    )
    assert writes_a >= 10
    assert writes_b >= 10
    assert len(both) >= 10  # the writers really did overwrite each other's jobs


_RACE = """
import sys, time
from pathlib import Path
from fabric_nb import create_persistence
from fabric_nb.ingestion import parse_execution_result
from fabric_nb.samples import generate_results

db, go, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
doc = next(generate_results(1, seed=1)) | {"job_id": name}
job = parse_execution_result(doc)
Path(f"{go}.{name}").touch()
while not go.exists():
    time.sleep(0.001)
with create_persistence(db) as persistence:
    persistence.persist_ingested_job(job)
"""


def test_processes_creating_the_same_new_store_at_once_all_succeed(
    tmp_path: Path, home_dir: Path
) -> None:
    for attempt in range(5):
        db = tmp_path / f"race-{attempt}" / "deep" / "fabric.db"
        go = tmp_path / f"go-{attempt}"
        names = [f"racer-{attempt}-{i}" for i in range(5)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _RACE, str(db), str(go), name],
                env=child_env(home_dir),
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in names
        ]
        deadline = time.monotonic() + 120
        while not all(Path(f"{go}.{name}").exists() for name in names):
            assert all(p.poll() is None for p in procs), [p.stderr.read() for p in procs]  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.005)
        go.touch()
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        with create_persistence(db, readonly=True) as persistence:
            assert sorted(job.job_id for job in persistence.load_all_jobs()) == names
        assert raw_integrity_check(db) == ["ok"]
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        assert sorted(p.name for p in db.parent.iterdir()) == ["fabric.db"]
