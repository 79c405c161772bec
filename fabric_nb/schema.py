"""The Phase-2 SQLite schema, in one place.

The table and its indexes are exactly the spec's: column names, types,
``NOT NULL`` and the primary key; four indexes, three of them partial.
``STORAGE_SCHEMA_VERSION`` is written to ``PRAGMA user_version`` and checked
on every open; there is no migration.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Final

from .models import IngestedOutput

__all__ = [
    "INDEXED_COLUMNS",
    "INDEX_STATEMENTS",
    "JOB_COLUMNS",
    "MAX_INTEGER",
    "OUTPUT_FIELDS",
    "STORAGE_SCHEMA_VERSION",
    "TABLE_STATEMENT",
]

#: The schema version this code reads and writes (``PRAGMA user_version``).
STORAGE_SCHEMA_VERSION: Final[int] = 1

#: Columns of ``jobs`` in table order, with their declared types and constraints.
JOB_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("job_id", "TEXT PRIMARY KEY"),
    ("final_status", "TEXT NOT NULL"),
    ("started_at", "TEXT NOT NULL"),
    ("canonical_proxy_profile", "TEXT"),
    ("fingerprint", "TEXT"),
    ("validation_stage", "TEXT"),
    ("validation_error", "TEXT"),
    ("engine_used", "TEXT"),
    ("resolve_preset_used", "TEXT"),
    ("jobspec_version", "TEXT"),
    ("completed_at", "TEXT"),
    ("ingested_at", "TEXT NOT NULL"),
    ("total_clips", "INTEGER NOT NULL"),
    ("completed_clips", "INTEGER NOT NULL"),
    ("failed_clips", "INTEGER NOT NULL"),
    ("outputs_json", "TEXT NOT NULL"),
)

#: The ``CREATE TABLE jobs`` statement, built from :data:`JOB_COLUMNS`.
TABLE_STATEMENT: Final[str] = (
    "CREATE TABLE jobs (\n" + ",\n".join(f"    {name} {decl}" for name, decl in JOB_COLUMNS) + "\n)"
)

#: The spec's four ``CREATE INDEX`` statements (three partial).
INDEX_STATEMENTS: Final[tuple[str, ...]] = (
    "CREATE INDEX idx_jobs_fingerprint ON jobs(fingerprint) WHERE fingerprint IS NOT NULL",
    "CREATE INDEX idx_jobs_profile ON jobs(canonical_proxy_profile)"
    " WHERE canonical_proxy_profile IS NOT NULL",
    "CREATE INDEX idx_jobs_status ON jobs(final_status)",
    "CREATE INDEX idx_jobs_engine ON jobs(engine_used) WHERE engine_used IS NOT NULL",
)

#: Each column the spec indexes, and its index's name, read from :data:`INDEX_STATEMENTS`
#: (all but ``final_status``'s are partial: the rows where the column is not NULL).
INDEXED_COLUMNS: Final[dict[str, str]] = {
    statement.split("(", 1)[1].split(")", 1)[0]: statement.split()[2]
    for statement in INDEX_STATEMENTS
}

#: Keys of each object in ``outputs_json``: the fields of ``IngestedOutput``, in order.
#: Derived from the dataclass, the one place the output fields are written down.
OUTPUT_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(IngestedOutput))

#: The largest integer SQLite's ``INTEGER`` (and pandas' ``Int64``) holds: counts
#: and sizes beyond it can be neither stored nor analysed, so ingestion refuses them
#: and a stored value beyond it is corruption.
MAX_INTEGER: Final[int] = 2**63 - 1
