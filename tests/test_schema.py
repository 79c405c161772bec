"""The store's schema is exactly the spec's, read back from sqlite_master.

The expected values below are copied from the spec, not from
``fabric_nb.schema``, so a drift in either shows up here.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from fabric_nb import FabricStorage

REPO_ROOT = Path(__file__).resolve().parent.parent

# (name, declared type, NOT NULL, primary key) -- the spec's "Table: jobs", in order.
SPEC_COLUMNS = [
    ("job_id", "TEXT", 0, 1),
    ("final_status", "TEXT", 1, 0),
    ("started_at", "TEXT", 1, 0),
    ("canonical_proxy_profile", "TEXT", 0, 0),
    ("fingerprint", "TEXT", 0, 0),
    ("validation_stage", "TEXT", 0, 0),
    ("validation_error", "TEXT", 0, 0),
    ("engine_used", "TEXT", 0, 0),
    ("resolve_preset_used", "TEXT", 0, 0),
    ("jobspec_version", "TEXT", 0, 0),
    ("completed_at", "TEXT", 0, 0),
    ("ingested_at", "TEXT", 1, 0),
    ("total_clips", "INTEGER", 1, 0),
    ("completed_clips", "INTEGER", 1, 0),
    ("failed_clips", "INTEGER", 1, 0),
    ("outputs_json", "TEXT", 1, 0),
]

# index name -> (indexed column, WHERE clause or None)
SPEC_INDEXES = {
    "idx_jobs_fingerprint": ("fingerprint", "fingerprint IS NOT NULL"),
    "idx_jobs_profile": ("canonical_proxy_profile", "canonical_proxy_profile IS NOT NULL"),
    "idx_jobs_status": ("final_status", None),
    "idx_jobs_engine": ("engine_used", "engine_used IS NOT NULL"),
}


@pytest.fixture
def fresh_db(db_path: Path) -> Path:
    """A store initialised by fabric_nb and closed again."""
    with FabricStorage(db_path):
        pass
    return db_path


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def test_user_version_is_1(fresh_db: Path) -> None:
    with _raw(fresh_db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_jobs_table_columns_are_exactly_the_spec(fresh_db: Path) -> None:
    with _raw(fresh_db) as conn:
        info = conn.execute("PRAGMA table_info(jobs)").fetchall()
    assert [(name, type_, notnull, pk) for _, name, type_, notnull, _, pk in info] == SPEC_COLUMNS
    assert all(default is None for *_, default, _ in info)


def test_job_id_is_the_primary_key_and_unique(fresh_db: Path) -> None:
    with _raw(fresh_db) as conn:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'jobs'").fetchone()[0]
        auto = conn.execute(
            "SELECT name FROM pragma_index_list('jobs') WHERE origin = 'pk'"
        ).fetchall()
    assert re.search(r"\bjob_id TEXT PRIMARY KEY\b", sql)
    assert len(auto) == 1
    assert "WITHOUT ROWID" not in sql.upper()


def test_the_four_indexes_with_their_where_clauses(fresh_db: Path) -> None:
    with _raw(fresh_db) as conn:
        rows = conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
        found = {}
        for name, table, sql in rows:
            assert table == "jobs"
            columns = [r[2] for r in conn.execute(f"PRAGMA index_info({name})")]
            (partial,) = conn.execute(
                "SELECT partial FROM pragma_index_list('jobs') WHERE name = ?", (name,)
            ).fetchone()
            where = re.search(r"\bWHERE\s+(.*)$", " ".join(sql.split()), re.IGNORECASE)
            found[name] = (columns, where.group(1) if where else None, partial)
    assert found == {
        name: ([column], where, int(where is not None))
        for name, (column, where) in SPEC_INDEXES.items()
    }


def test_no_other_schema_objects(fresh_db: Path) -> None:
    with _raw(fresh_db) as conn:
        objects = sorted(conn.execute("SELECT type, name FROM sqlite_master").fetchall())
    assert objects == sorted(
        [("table", "jobs"), ("index", "sqlite_autoindex_jobs_1")]
        + [("index", name) for name in SPEC_INDEXES]
    )


def test_not_null_columns_are_enforced(fresh_db: Path) -> None:
    conn = sqlite3.connect(fresh_db)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL constraint failed: jobs"):
            conn.execute("INSERT INTO jobs (job_id) VALUES ('x')")
    finally:
        conn.close()


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
def test_connection_settings(fresh_db: Path, readonly: bool) -> None:
    """foreign_keys ON on every connection; rollback journal; FULL sync; 60 s busy timeout."""
    with FabricStorage(fresh_db, readonly=readonly) as storage:
        conn = storage._conn  # the connection itself is what the spec talks about
        assert conn is not None
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 60_000
        if not readonly:
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert sorted(p.name for p in fresh_db.parent.iterdir()) == ["fabric.db"]


def test_schema_facts_live_in_schema_module_only() -> None:
    """A reader finds every schema statement of the store in fabric_nb/schema.py only.

    Every module that touches SQLite is searched (an in-memory DuckDB table
    of a notebook helper is not a fact about the store).
    """
    pattern = re.compile(r"CREATE\s+(TABLE|INDEX|VIEW|TRIGGER)", re.IGNORECASE)
    sources = {
        path.name: path.read_text(encoding="utf-8")
        for path in (REPO_ROOT / "fabric_nb").rglob("*.py")
    }
    # The ingest cache's own table lives in its own file beside the store (docs/cli.md).
    searched = {
        name for name, text in sources.items() if "sqlite3" in text and name != "_ingest_cache.py"
    } | {"schema.py"}
    assert "storage.py" in searched
    holders = sorted(name for name in searched if pattern.search(sources[name]))
    assert holders == ["schema.py"]
