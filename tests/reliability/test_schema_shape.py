"""A version-1 file must hold Fabric's whole schema, not just its column names.

Each case builds a real SQLite file whose ``jobs`` table has the right column
names but another shape (no primary key, a collation, a ``UNIQUE``, a
trigger, other types...), stores real jobs in it, and opens it read-write and
read-only: both refuse it as corruption, and the file stays byte-identical.
The harmless variations SQLite allows (whitespace, comments, case, quoted
names, the ``ANALYZE`` tables) open normally.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from support import REPO_ROOT, RunCli, make_job, sha256_of, write_result

from fabric_nb import StorageCorruptionError, create_persistence
from fabric_nb._rows import encode_job
from fabric_nb.schema import INDEX_STATEMENTS, JOB_COLUMNS, TABLE_STATEMENT

from ._support import side_files

INSERT = f"INSERT OR IGNORE INTO jobs VALUES ({', '.join('?' for _ in JOB_COLUMNS)})"


def table_with(replace: dict[str, str]) -> str:
    """Fabric's ``CREATE TABLE`` with some column declarations replaced."""
    lines = [f"    {name} {replace.get(name, decl)}" for name, decl in JOB_COLUMNS]
    return "CREATE TABLE jobs (\n" + ",\n".join(lines) + "\n)"


def build(path: Path, table: str, indexes: tuple[str, ...] = INDEX_STATEMENTS, *extra: str) -> Path:
    conn = sqlite3.connect(path)
    conn.execute(table)
    for statement in (*indexes, *extra):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.executemany(INSERT, [encode_job(make_job(f"job-{i}")) for i in range(3)])
    conn.commit()
    conn.close()
    return path


NO_KEY = table_with({"job_id": "TEXT"})
SHAPES: dict[str, tuple[Any, ...]] = {
    "no primary key": (NO_KEY,),
    "job_id COLLATE NOCASE": (table_with({"job_id": "TEXT PRIMARY KEY COLLATE NOCASE"}),),
    "UNIQUE on final_status": (table_with({"final_status": "TEXT NOT NULL UNIQUE"}),),
    "wrong column type": (table_with({"total_clips": "TEXT NOT NULL"}),),
    "a default value": (table_with({"engine_used": "TEXT DEFAULT 'resolve'"}),),
    "a CHECK": (table_with({"fingerprint": "TEXT CHECK (length(fingerprint) > 3)"}),),
    "WITHOUT ROWID": (TABLE_STATEMENT + " WITHOUT ROWID",),
    "a trigger that deletes rows": (
        TABLE_STATEMENT,
        INDEX_STATEMENTS,
        "CREATE TRIGGER forget AFTER INSERT ON jobs BEGIN DELETE FROM jobs; END",
    ),
    "a view": (TABLE_STATEMENT, INDEX_STATEMENTS, "CREATE VIEW v AS SELECT job_id FROM jobs"),
    "another table": (TABLE_STATEMENT, INDEX_STATEMENTS, "CREATE TABLE notes (x)"),
    "an index without its WHERE": (
        TABLE_STATEMENT,
        (*INDEX_STATEMENTS[:-1], "CREATE INDEX idx_jobs_engine ON jobs(engine_used)"),
    ),
    "an index missing": (TABLE_STATEMENT, INDEX_STATEMENTS[1:]),
    "an extra index": (TABLE_STATEMENT, INDEX_STATEMENTS, "CREATE INDEX x ON jobs(started_at)"),
    "a UNIQUE index": (
        TABLE_STATEMENT,
        (*INDEX_STATEMENTS[:2], INDEX_STATEMENTS[2].replace("INDEX", "UNIQUE INDEX", 1)),
        INDEX_STATEMENTS[3],
    ),
}


@pytest.mark.parametrize("case", SHAPES, ids=list(SHAPES))
@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
def test_another_shape_is_corruption_and_the_file_is_untouched(
    tmp_path: Path, case: str, readonly: bool
) -> None:
    db = build(tmp_path / "fabric.db", *SHAPES[case])
    before = sha256_of(db)

    with pytest.raises(StorageCorruptionError, match="not Fabric's schema") as caught:
        create_persistence(db, readonly=readonly).open()

    assert str(db) in str(caught.value)
    assert sha256_of(db) == before
    assert side_files(db) == []


def test_a_nocase_store_never_swallows_ids_through_the_cli(tmp_path: Path, run_cli: RunCli) -> None:
    db = build(tmp_path / "fabric.db", *SHAPES["job_id COLLATE NOCASE"])
    before = sha256_of(db)
    folder = tmp_path / "in"
    folder.mkdir()
    for job_id in ("ABC", "abc", "Abc"):
        write_result(folder, _result(job_id), f"{job_id}.json")

    done = run_cli("--db", db, "ingest", folder, cwd=REPO_ROOT)

    assert done.returncode == 3, done.stderr
    assert "not Fabric's schema" in done.stderr
    assert "collations" in done.stderr
    assert sha256_of(db) == before


VARIANTS: dict[str, tuple[Any, ...]] = {
    "whitespace and comments": (
        TABLE_STATEMENT.replace("\n    ", "\n\t  ").replace(",", " ,  -- a column\n")
        + " /* Fabric */",
    ),
    "lower-case keywords": (
        TABLE_STATEMENT.replace("TEXT", "text").replace("NOT NULL", "not null"),
    ),
    "quoted names": (
        TABLE_STATEMENT.replace("jobs (", '"jobs" (')
        .replace("job_id TEXT", "[job_id] TEXT")
        .replace("outputs_json", "`outputs_json`"),
        tuple(s.replace("ON jobs(", 'ON "jobs"(') for s in INDEX_STATEMENTS),
    ),
}


@pytest.mark.parametrize("case", VARIANTS, ids=list(VARIANTS))
def test_sqlite_spellings_of_the_same_schema_are_accepted(tmp_path: Path, case: str) -> None:
    db = build(tmp_path / "fabric.db", *VARIANTS[case])
    with create_persistence(db, readonly=True) as persistence:
        assert [job.job_id for job in persistence.load_all_jobs()] == ["job-0", "job-1", "job-2"]


def test_an_analyze_table_is_accepted(tmp_path: Path) -> None:
    db = build(tmp_path / "fabric.db", TABLE_STATEMENT)
    conn = sqlite3.connect(db)
    conn.execute("ANALYZE")
    conn.close()
    conn = sqlite3.connect(db)
    names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    assert "sqlite_stat1" in names

    for readonly in (True, False):
        with create_persistence(db, readonly=readonly) as persistence:
            assert len(persistence.load_all_jobs()) == 3


def _result(job_id: str) -> dict[str, object]:
    from support import make_result

    return make_result(job_id=job_id)
