"""Durability: what one process stored, a later process reads back exactly.

Every step runs in its own interpreter (``sys.executable``), so nothing is
shared through memory: only the SQLite file carries the history.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from support import FIXED_INGESTED_AT, RunPython, job_records

from fabric_nb import ingest_execution_result
from fabric_nb.models import job_order_key
from fabric_nb.samples import write_results

WRITE = """
import json
from pathlib import Path
from support import job_records
from fabric_nb import FabricIndex, create_persistence, ingest_execution_result
db, inbox = {db!r}, {inbox!r}
with create_persistence(db) as persistence:
    index = FabricIndex(persistence)
    for path in sorted(Path(inbox).glob("*.json")):
        index.add_job(ingest_execution_result(path))
    print(json.dumps(job_records(index.get_all_jobs())))
"""

READ = """
import json
from support import job_records
from fabric_nb import FabricIndex, create_persistence
with create_persistence({db!r}, readonly={readonly}) as persistence:
    print(json.dumps(job_records(FabricIndex(persistence).get_all_jobs())))
"""


def without_ingested_at(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "ingested_at"} for r in records]


def test_history_survives_process_restart(tmp_path: Path, db_path: Path, run_py: RunPython) -> None:
    inbox = tmp_path / "inbox"
    paths = write_results(inbox, 60, seed=7)
    written = json.loads(run_py(WRITE.format(db=str(db_path), inbox=str(inbox))))
    read_back = json.loads(run_py(READ.format(db=str(db_path), readonly=False)))
    read_only = json.loads(run_py(READ.format(db=str(db_path), readonly=True)))

    assert read_back == written
    assert read_only == written
    # ... and it is what the files say: the last run of each job_id, in Fabric's order.
    latest = {}
    for path in sorted(paths):
        job = ingest_execution_result(path)
        latest[job.job_id] = dataclasses.replace(job, ingested_at=FIXED_INGESTED_AT)
    expected = sorted(latest.values(), key=job_order_key)
    assert without_ingested_at(read_back) == without_ingested_at(job_records(expected))
    assert len(read_back) == len(latest) > 50


def test_second_writer_process_adds_to_the_history(
    tmp_path: Path, db_path: Path, run_py: RunPython
) -> None:
    first, second = tmp_path / "monday", tmp_path / "tuesday"
    write_results(first, 10, seed=1)
    write_results(second, 10, seed=2)
    run_py(WRITE.format(db=str(db_path), inbox=str(first)))
    both = json.loads(run_py(WRITE.format(db=str(db_path), inbox=str(second))))
    read_back = json.loads(run_py(READ.format(db=str(db_path), readonly=True)))
    assert read_back == both
    ids = {r["job_id"] for r in read_back}
    for folder in (first, second):
        assert {ingest_execution_result(p).job_id for p in folder.glob("*.json")} <= ids


def test_an_empty_store_reads_back_empty(db_path: Path, run_py: RunPython) -> None:
    assert json.loads(run_py(READ.format(db=str(db_path), readonly=False))) == []
    assert json.loads(run_py(READ.format(db=str(db_path), readonly=True))) == []
