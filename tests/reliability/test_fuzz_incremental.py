"""Property: incremental ingest ends with the rows a ``--full`` ingest gives.

Random sequences of events on a real folder of result files (writes and
rewrites, some an hour old and some just written, files turned invalid,
deletions, ``touch``, backups and restores of the store, in place or as a new
file, the cache deleted) are applied; at every ``ingest`` event three stores
ingest the folder:

- *incremental*: ``ingest_paths`` with its cache, as ``fabric-nb ingest``;
- *full*: the same events, but every ingest with ``full=True``;
- *fresh*: a new empty store, one ``full=True`` ingest of the folder as it is.

Incremental and full hold the same rows, every column but ``ingested_at``;
the jobs the fresh store holds are held with the same content by both (the
others hold more: Fabric never deletes a job whose file is gone); and every
report adds up. The budget is the hypothesis profile's (``make fuzz`` runs
it long).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import make_result, write_result

from fabric_nb import create_persistence
from fabric_nb._ingest_cache import cache_path_for
from fabric_nb.bulk import IngestReport, ingest_paths

HOUR_NS = 3_600_000_000_000
NAMES = ("a.json", "b.json", "c.json", "sub/d.json", "sub/e.json")
JOBS = ("j0", "j1", "j2")
STATUSES = ("COMPLETED", "FAILED", "PARTIAL")

write = st.tuples(
    st.just("write"),
    st.sampled_from(NAMES),
    st.sampled_from(JOBS),
    st.sampled_from(STATUSES),
    st.integers(0, 2),  # minute: same content, or another
    st.booleans(),  # an hour old (trusted by stat) or just written (racy)
)
event = st.one_of(
    write,
    write,
    st.tuples(st.just("invalid"), st.sampled_from(NAMES)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("touch"), st.sampled_from(NAMES)),
    st.tuples(st.just("backup")),
    st.tuples(st.just("restore"), st.booleans()),  # in place (inode and mtime kept) or copied
    st.tuples(st.just("drop cache")),
    st.tuples(st.just("ingest")),
    st.tuples(st.just("ingest")),
)


def rows(db: Path) -> dict[str, tuple[Any, ...]]:
    """job_id -> every column but ingested_at."""
    if not db.exists():
        return {}
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        names = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
        keep = [i for i, name in enumerate(names) if name != "ingested_at"]
        return {r[0]: tuple(r[i] for i in keep) for r in conn.execute("SELECT * FROM jobs")}


def ingest(db: Path, folder: Path, *, full: bool, batch_size: int) -> IngestReport:
    db.parent.mkdir(parents=True, exist_ok=True)
    with create_persistence(db) as persistence:
        report = ingest_paths(
            [folder], persistence, full=full, batch_size=batch_size, warn=lambda _line: None
        )
    buckets = (
        report.ingested
        + report.unchanged
        + report.superseded
        + report.vanished
        + len(report.rejected)
        + len(report.still_rejected)
        + len(report.skipped)
        + len(report.pending)
        + report.rolled_back
        + report.not_attempted
    )
    assert buckets == report.files, report
    return report


def set_age(path: Path, old: bool) -> None:
    now = path.stat().st_mtime_ns
    when = now - HOUR_NS if old else now
    os.utime(path, ns=(when, when))


def restore(db: Path, snapshot: Path, in_place: bool) -> None:
    if in_place:  # the same inode, and the mtime the store has now
        mtime = db.stat().st_mtime_ns
        with open(db, "r+b") as handle:
            handle.write(snapshot.read_bytes())
            handle.truncate()
        os.utime(db, ns=(mtime, mtime))
    else:
        shutil.copyfile(snapshot, db)


@pytest.mark.slow  # 400 examples of real ingests
# Sequences that break the rule are short but specific: more examples than the
# profile's default for `make test` (a few seconds), the fuzz profile's under `make fuzz`.
@settings(max_examples=max(400, settings().max_examples))
@given(
    events=st.lists(event, min_size=1, max_size=16),
    batch_size=st.sampled_from((1, 2, 5000)),
)
def test_fuzz_incremental_ingest_ends_with_the_rows_of_a_full_ingest(
    events: list[tuple[Any, ...]], batch_size: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "results"
        (folder / "sub").mkdir(parents=True)
        incremental, full = root / "inc" / "fabric.db", root / "full" / "fabric.db"
        snapshots: dict[Path, Path] = {}
        for step in [*events, ("ingest",)]:
            kind = step[0]
            if kind == "write":
                _, name, job_id, status, minute, old = step
                doc = make_result(
                    job_id=job_id,
                    final_status=status,
                    started_at=f"2026-01-05T10:{minute:02d}:00.000000+00:00",
                )
                set_age(write_result(folder, doc, name), old)
            elif kind == "invalid":
                write_result(folder, b'{"job_id": ', step[1])
            elif kind == "delete":
                (folder / step[1]).unlink(missing_ok=True)
            elif kind == "touch" and (folder / step[1]).exists():
                set_age(folder / step[1], old=False)
            elif kind == "backup":
                for db in (incremental, full):
                    if db.exists():
                        snapshots[db] = root / f"{db.parent.name}.backup"
                        shutil.copyfile(db, snapshots[db])
            elif kind == "restore":
                for db, snapshot in snapshots.items():
                    restore(db, snapshot, step[1])
            elif kind == "drop cache":
                cache_path_for(incremental).unlink(missing_ok=True)
            elif kind == "ingest":
                ingest(incremental, folder, full=False, batch_size=batch_size)
                ingest(full, folder, full=True, batch_size=batch_size)
                fresh = root / "fresh" / f"{len(list(root.glob('fresh/*.db')))}.db"
                ingest(fresh, folder, full=True, batch_size=batch_size)
                got, want, now = rows(incremental), rows(full), rows(fresh)
                assert got == want, (step, events)
                assert {k: got[k] for k in now} == now, events


def test_the_report_fields_the_property_adds_up_are_every_count() -> None:
    """The sum above must name every count of a report (a new one would be missed)."""
    counted = {
        "ingested",
        "unchanged",
        "superseded",
        "vanished",
        "rejected",
        "still_rejected",
        "skipped",
        "pending",
        "rolled_back",
        "not_attempted",
    }
    others = {"files", "replaced", "transactions"}
    assert {f.name for f in fields(IngestReport)} == counted | others
