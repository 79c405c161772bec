"""A store the index would refuse is refused for writing too ("Corruption = immediate failure").

A row that does not decode (damaged ``outputs_json``, an unknown status)
makes ``open_fabric`` and ``check`` fail. Every path that writes refuses the
same store before writing anything: ``fabric-nb ingest``, ``ingest_paths``
into a persistence, and ``persist_ingested_job`` called on its own.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support import RunCli, make_job, make_result, sha256_of, write_result

from fabric_nb import StorageCorruptionError, create_persistence
from fabric_nb.bulk import ingest_paths

from ._support import side_files

DAMAGE = {
    "outputs_json not JSON": "UPDATE jobs SET outputs_json = '[{' WHERE job_id = 'bad'",
    "unknown status": "UPDATE jobs SET final_status = 'SKIPPED' WHERE job_id = 'bad'",
}


def damaged_store(folder: Path, damage: str) -> Path:
    db = folder / "fabric.db"
    with create_persistence(db) as persistence:
        persistence.persist_ingested_jobs([make_job("good"), make_job("bad")])
    conn = sqlite3.connect(db)
    conn.execute(damage)
    conn.commit()
    conn.close()
    return db


@pytest.mark.parametrize("case", DAMAGE, ids=list(DAMAGE))
def test_cli_ingest_refuses_a_store_with_a_row_that_does_not_decode(
    tmp_path: Path, run_cli: RunCli, case: str
) -> None:
    db = damaged_store(tmp_path, DAMAGE[case])
    folder = tmp_path / "in"
    folder.mkdir()
    write_result(folder, make_result(job_id="new"), "new.json")
    before = sha256_of(db)

    check = run_cli("--db", db, "check")
    ingest = run_cli("--db", db, "ingest", folder)

    assert check.returncode == 1
    assert ingest.returncode == 3, ingest.stdout
    assert "Database corruption detected" in ingest.stderr
    assert "job 'bad' cannot be decoded" in ingest.stderr
    assert ingest.stdout == ""  # refused before any file was read
    assert sha256_of(db) == before
    assert side_files(db) == []


def test_every_library_write_path_refuses_it(tmp_path: Path) -> None:
    db = damaged_store(tmp_path, DAMAGE["unknown status"])
    folder = tmp_path / "in"
    folder.mkdir()
    write_result(folder, make_result(job_id="new"), "new.json")
    before = sha256_of(db)

    with create_persistence(db) as persistence:
        with pytest.raises(StorageCorruptionError, match="job 'bad'"):
            persistence.persist_ingested_job(make_job("new"))
        with pytest.raises(StorageCorruptionError, match="job 'bad'"):
            persistence.persist_ingested_jobs([make_job("new"), make_job("other")])
        with pytest.raises(StorageCorruptionError, match="job 'bad'"):
            ingest_paths([folder], persistence)

    assert sha256_of(db) == before
