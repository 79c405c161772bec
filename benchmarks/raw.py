"""Raw baselines: the least work anyone could do for the same result without fabric_nb.

Each function here does, with ``sqlite3``, ``json`` and pandas directly, what
one benchmarked fabric_nb call does, and nothing more: no validation, no
objects, no ordering, no index. Fabric's figure is reported as a ratio to the
baseline measured in the same run on the same data, so what it costs *on top*
of the unavoidable work is what the benchmark shows.

The rows :func:`row_of` builds are the rows Fabric stores (every column but
``ingested_at``); ``run.py`` checks that on the first run of every size, so the
bulk-ingest baseline cannot win by storing less.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pandas as pd

from fabric_nb.schema import INDEX_STATEMENTS, JOB_COLUMNS, TABLE_STATEMENT

__all__ = [
    "FRAME_COLUMNS",
    "INSERT",
    "Row",
    "decoded_outputs",
    "export_by_month",
    "ingest",
    "insert_one",
    "jobs_frame",
    "json_files",
    "outputs_frame",
    "row_of",
    "startup",
    "stored_rows_digest",
]

#: One ``jobs`` row, in table order.
Row = tuple[Any, ...]

_COLUMNS: Final[tuple[str, ...]] = tuple(name for name, _ in JOB_COLUMNS)
#: The one write statement, the same text Fabric sends.
INSERT: Final[str] = (
    f"INSERT OR REPLACE INTO jobs ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)
#: The columns of the jobs frame that come straight from the table.
FRAME_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in _COLUMNS if c != "outputs_json")


def json_files(folder: Path) -> list[Path]:
    """The ``*.json`` files of a flat folder, in name order (Fabric's order for it)."""
    return [folder / name for name in sorted(os.listdir(folder)) if name.endswith(".json")]


def row_of(doc: dict[str, Any], ingested_at: str) -> Row:
    """The ``jobs`` row of one JobExecutionResult dict: a plain mapping, nothing checked."""
    meta = doc.get("_metadata") or {}
    clips = doc["clips"]
    job_id = doc["job_id"]
    outputs = [
        {
            "job_id": job_id,
            "clip_id": hashlib.sha256(c["source_path"].encode()).hexdigest()[:16],
            "source_path": c["source_path"],
            "output_path": c["resolved_output_path"],
            "output_exists": c.get("output_exists"),
            "output_size_bytes": c.get("output_size_bytes"),
            "status": c["status"],
            "failure_reason": c.get("failure_reason"),
            "engine_used": c.get("engine_used"),
            "proxy_profile_used": c.get("proxy_profile_used"),
            "resolve_preset_used": c.get("resolve_preset_used"),
        }
        for c in clips
    ]
    completed = sum(c["status"] == "COMPLETED" for c in clips)
    total = doc.get("total_clips")
    done = doc.get("completed_clips")
    failed = doc.get("failed_clips")
    return (
        job_id,
        doc["final_status"],
        doc["started_at"],
        meta.get("proxy_profile_used"),
        meta.get("fingerprint") or None,
        meta.get("validation_stage"),
        meta.get("validation_error"),
        meta.get("engine_used"),
        meta.get("resolve_preset_used"),
        meta.get("jobspec_version"),
        doc.get("completed_at"),
        ingested_at,
        len(clips) if total is None else total,
        completed if done is None else done,
        len(clips) - completed if failed is None else failed,
        json.dumps(outputs, ensure_ascii=False, separators=(",", ":")),
    )


def _connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous = FULL")  # SQLite's default; stated, as Fabric does
    return conn


def ingest(files: Sequence[Path], db: Path) -> int:
    """Figure 1 baseline: ``json.load`` each file, one ``executemany`` in one transaction.

    Creates the same schema in a new file ``db``; returns the number of rows sent.
    """
    ingested_at = datetime.now(UTC).isoformat()
    rows = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            rows.append(row_of(json.load(handle), ingested_at))
    conn = _connect(db)
    try:
        conn.execute(TABLE_STATEMENT)
        for statement in INDEX_STATEMENTS:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.executemany(INSERT, rows)
        conn.commit()
    finally:
        conn.close()
    return len(rows)


def insert_one(conn: sqlite3.Connection, row: Row) -> None:
    """Figure 2 baseline: one ``INSERT OR REPLACE`` and ``commit`` of one prepared row."""
    conn.execute(INSERT, row)
    conn.commit()


def connect_for_writes(db: Path) -> sqlite3.Connection:
    """A connection for :func:`insert_one`, with Fabric's durability (``synchronous = FULL``)."""
    return _connect(db)


def startup(db: Path) -> list[list[dict[str, Any]]]:
    """Figure 3 baseline: ``SELECT *`` of the table plus ``json.loads`` of every outputs column."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT * FROM jobs").fetchall()
    finally:
        conn.close()
    return [json.loads(row[-1]) for row in rows]


def jobs_frame(db: Path) -> pd.DataFrame:
    """Figure 4 baseline: ``pandas.read_sql_query`` of the jobs frame's stored columns."""
    conn = sqlite3.connect(db)
    try:
        return pd.read_sql_query(f"SELECT {', '.join(FRAME_COLUMNS)} FROM jobs", conn)
    finally:
        conn.close()


def decoded_outputs(loaded: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every output of what :func:`startup` loaded, as one list (the input of figure 5's baseline)."""
    return [item for outputs in loaded for item in outputs]


def outputs_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """Figure 5 baseline: ``pandas.DataFrame`` from the already decoded outputs."""
    return pd.DataFrame(items)


def stored_rows_digest(db: Path) -> tuple[int, str]:
    """Row count and SHA-256 of every stored column but ``ingested_at``, rows by ``job_id``.

    Two stores with the same digest hold the same jobs, byte for byte.
    """
    columns = ", ".join(c for c in _COLUMNS if c != "ingested_at")
    digest = hashlib.sha256()
    count = 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for row in conn.execute(f"SELECT {columns} FROM jobs ORDER BY job_id"):
            digest.update(repr(row).encode())
            count += 1
    finally:
        conn.close()
    return count, digest.hexdigest()


def stamps(db: Path) -> dict[str, str]:
    """job_id -> ingested_at of every row, read with plain sqlite3 (tells which rows a run wrote)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT job_id, ingested_at FROM jobs").fetchall())
    finally:
        conn.close()


def export_by_month(db: Path, outdir: Path) -> tuple[int, int]:
    """Figures 9 and 10 baseline: the store written as Parquet one month at a time.

    One ``SELECT`` of the month's rows (by the ``YYYY-MM`` of the stored
    text), ``json.loads`` of their outputs and a ``pyarrow`` write of the same
    columns per table and month, into ``jobs/started_month=YYYY-MM/`` and
    ``outputs/...``. No validation, no time zones, no dtypes: the least work
    for the same files' worth of data. Returns (jobs, outputs) written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [name for name, _ in JOB_COLUMNS if name != "outputs_json"]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    jobs = outputs = 0
    try:
        months = [m for (m,) in conn.execute("SELECT DISTINCT substr(started_at, 1, 7) FROM jobs")]
        for month in sorted(months):
            rows = conn.execute(
                f"SELECT {', '.join(names)}, outputs_json FROM jobs "
                "WHERE substr(started_at, 1, 7) = ?",
                (month,),
            ).fetchall()
            columns = list(zip(*rows, strict=True)) if rows else [()] * (len(names) + 1)
            job_table = pa.table(dict(zip(names, columns[:-1], strict=True)))
            items = [item for text in columns[-1] for item in json.loads(text)]
            for table, name in ((job_table, "jobs"), (pa.Table.from_pylist(items), "outputs")):
                part = outdir / name / f"started_month={month}"
                part.mkdir(parents=True)
                pq.write_table(table, part / "part-0.parquet")
            jobs, outputs = jobs + len(rows), outputs + len(items)
    finally:
        conn.close()
    return jobs, outputs
