"""Read-only never creates or changes a file (reliability round 3, item 11).

A history opened read-only (``open_fabric``, ``readonly=True``) handed to
``ingest_paths`` stores nothing (the store refuses the write) and creates no
ingest cache beside the store; the read-only commands create no side file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import RunCli, make_job, make_result, sha256_of, write_result

from fabric_nb import create_persistence, open_fabric
from fabric_nb._ingest_cache import cache_path_for
from fabric_nb.bulk import IngestAborted, ingest_paths


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "db" / "fabric.db"
    with create_persistence(db) as persistence:
        persistence.persist_ingested_job(make_job("stored"))
    return db


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_ingest_into_a_read_only_history_creates_no_cache(store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_result(folder, make_result(job_id="new"), "new.json")
    before, files = sha256_of(store), listing(store.parent)

    with open_fabric(store) as fabric, pytest.raises(IngestAborted, match="read-only"):
        ingest_paths([folder], fabric.index)
    with (
        create_persistence(store, readonly=True) as persistence,
        pytest.raises(IngestAborted, match="read-only"),
    ):
        ingest_paths([folder], persistence)

    assert not cache_path_for(store).exists()
    assert listing(store.parent) == files
    assert sha256_of(store) == before


@pytest.mark.parametrize("command", [["info"], ["info", "--json"], ["check"]])
def test_read_only_commands_create_no_file(
    store: Path, run_cli: RunCli, command: list[str]
) -> None:
    before, files = sha256_of(store), listing(store.parent)

    done = run_cli("--db", store, *command)

    assert done.returncode == 0, done.stderr
    assert listing(store.parent) == files
    assert sha256_of(store) == before
