"""``fabric-nb export``: Parquet (Hive-partitioned by month) and CSV, read back by other engines.

The export runs as a user runs it (a subprocess). It is then read back with
pyarrow and with DuckDB, and every value and every type is compared with the
DataFrame helpers (:func:`jobs_frame`, :func:`outputs_frame`) over the same
database. What each reader sees is written down in ``docs/cli.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from support import RunCli, make_clip, make_result, sha256_of, write_result

from fabric_nb import create_persistence
from fabric_nb.errors import OutputExistsError
from fabric_nb.export import (
    JOBS_ARROW_SCHEMA,
    OUTPUTS_ARROW_SCHEMA,
    export_history,
    write_export,
)
from fabric_nb.frames import JOBS_FRAME_DTYPES, OUTPUTS_FRAME_DTYPES, jobs_frame, outputs_frame
from fabric_nb.samples import write_results

# -- a history with every kind of value ------------------------------------------------


def edge_results() -> list[dict[str, Any]]:
    """Results that test the corners: month edges in other offsets, nulls, odd text."""
    odd = 'Disk "full", retry\nlater; Été, 撮影'
    return [
        # 01:30 on 1 October in +02:00 is 23:30 UTC on 30 September: the September partition.
        make_result(
            job_id="edge-offset",
            started_at="2026-10-01T01:30:00.000001+02:00",
            completed_at=None,
            final_status="PARTIAL",
            completed_clips=1,
            failed_clips=1,
            clips=[
                make_clip(0, source_path="/Volumes/Tournage_Été/A001.mov"),
                make_clip(
                    1,
                    status="FAILED",
                    output_exists=None,
                    output_size_bytes=None,
                    failure_reason=odd,
                    engine_used=None,
                ),
            ],
        ),
        # Another year, the last microsecond of it; an empty string is not a missing value.
        make_result(
            job_id="edge-year",
            started_at="2025-12-31T23:59:59.999999+00:00",
            completed_at="2026-01-01T00:00:01.000000+00:00",
            final_status="FAILED",
            total_clips=0,
            completed_clips=0,
            failed_clips=0,
            clips=[],
            _metadata={"validation_stage": "pre-job", "validation_error": "", "fingerprint": "fp"},
        ),
        # The same instant as edge-year, written in -05:00: ordered after it by job_id.
        make_result(
            job_id="edge-year-2",
            started_at="2025-12-31T18:59:59.999999-05:00",
            completed_at=None,
            clips=[make_clip(0, output_size_bytes=2**62)],
            total_clips=1,
            completed_clips=1,
            failed_clips=0,
            _metadata=None,
        ),
    ]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database of synthetic results over two months plus the edge cases."""
    root = tmp_path_factory.mktemp("history")
    folder = root / "results"
    write_results(folder, 120, seed=5)
    for i, doc in enumerate(edge_results()):
        write_result(folder, doc, f"zz_edge_{i}.json")
    db = root / "fabric.db"
    from fabric_nb.bulk import ingest_paths

    with create_persistence(db) as persistence:
        report = ingest_paths([folder], persistence)
    assert not report.rejected
    return db


@pytest.fixture(scope="module")
def expected(history: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    with create_persistence(history, readonly=True) as persistence:
        jobs = persistence.load_all_jobs()
    return jobs_frame(jobs), outputs_frame(jobs)


@pytest.fixture
def parquet_export(history: Path, run_cli: RunCli, tmp_path: Path) -> Path:
    out = tmp_path / "parquet"
    before = sha256_of(history)
    done = run_cli("export", out, "--db", history)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert sha256_of(history) == before
    return out


@pytest.fixture
def csv_export(history: Path, run_cli: RunCli, tmp_path: Path) -> Path:
    out = tmp_path / "csv"
    done = run_cli("export", out, "--format", "csv", "--db", history)
    assert done.returncode == 0, done.stderr
    return out


# -- comparing values ------------------------------------------------------------------


def plain(value: Any) -> Any:
    """One value as plain Python, so pandas, pyarrow and DuckDB values compare exactly."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):  # pd.Timestamp included
        assert value.utcoffset() is not None, f"naive datetime {value!r}"
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, np.generic):
        return value.item()
    return value


def rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [tuple(plain(v) for v in row) for row in frame.itertuples(index=False, name=None)]


def utc_months(frame: pd.DataFrame) -> list[str]:
    return [f"{t.year:04d}-{t.month:02d}" for t in frame["started_at"].dt.tz_convert("UTC")]


#: What DuckDB calls each frame dtype (categoricals are plain text to it).
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "category": "VARCHAR",
    "datetime64[us, UTC]": "TIMESTAMP WITH TIME ZONE",
    "int64": "BIGINT",
    "Int64": "BIGINT",
    "bool": "BOOLEAN",
    "boolean": "BOOLEAN",
    "Float64": "DOUBLE",
}


def duckdb_types(dtypes: Any) -> dict[str, str]:
    return {name: DUCKDB_TYPES[str(dtype)] for name, dtype in dtypes.items()}


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()


def test_history_covers_the_cases(expected: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    jobs, outputs = expected
    assert set(utc_months(jobs)) == {"2025-12", "2026-09", "2026-10"}
    assert jobs["final_status"].nunique() == 3
    assert outputs["output_exists"].isna().any()
    assert outputs["output_size_bytes"].isna().any()
    assert (jobs["validation_error"] == "").any()


# -- Parquet ---------------------------------------------------------------------------


def test_parquet_layout_is_hive_partitioned_by_utc_month(
    parquet_export: Path, expected: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    jobs, outputs = expected
    files = sorted(p.relative_to(parquet_export).as_posix() for p in parquet_export.rglob("*"))
    months = sorted(set(utc_months(jobs)))
    assert months == sorted(set(utc_months(outputs))) == ["2025-12", "2026-09", "2026-10"]
    assert files == sorted(
        [f"{table}/started_month={m}" for table in ("jobs", "outputs") for m in months]
        + [
            f"{table}/started_month={m}/part-0.parquet"
            for table in ("jobs", "outputs")
            for m in months
        ]
        + ["jobs", "outputs"]
    )
    edge = pq.read_table(parquet_export / "jobs" / "started_month=2026-09" / "part-0.parquet")
    assert "edge-offset" in edge.column("job_id").to_pylist()


def index_width_aside(schema: pa.Schema) -> list[tuple[str, pa.DataType]]:
    """The fields of ``schema``, every dictionary given int32 indices.

    How wide the indices of a dictionary column are on reading is the reader's
    choice: pyarrow 15 reads them all back as int32, later versions keep the
    int8 Fabric writes. Values, names and order are what the export promises.
    """
    return [
        (f.name, pa.dictionary(pa.int32(), f.type.value_type))
        if pa.types.is_dictionary(f.type)
        else (f.name, f.type)
        for f in schema
    ]


@pytest.mark.parametrize("table", ["jobs", "outputs"])
def test_parquet_read_back_with_pyarrow_equals_the_frames(
    parquet_export: Path, expected: tuple[pd.DataFrame, pd.DataFrame], table: str
) -> None:
    frame = expected[0] if table == "jobs" else expected[1]
    schema = JOBS_ARROW_SCHEMA if table == "jobs" else OUTPUTS_ARROW_SCHEMA

    read = pq.read_table(parquet_export / table)

    # Arrow types: exactly the export schema, plus the partition key from the folder names.
    assert read.schema.field("started_month").type == pa.dictionary(pa.int32(), pa.string())
    body = read.drop_columns(["started_month"])
    assert index_width_aside(body.schema) == index_width_aside(schema)
    assert read.column("started_month").to_pylist() == utc_months(frame)
    # pandas: with the pandas metadata in the files, every dtype comes back as the frame's.
    back = body.to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert dict(back.dtypes) == dict(JOBS_FRAME_DTYPES if table == "jobs" else OUTPUTS_FRAME_DTYPES)


@pytest.mark.parametrize("table", ["jobs", "outputs"])
def test_parquet_read_back_with_duckdb_equals_the_frames(
    parquet_export: Path,
    expected: tuple[pd.DataFrame, pd.DataFrame],
    con: duckdb.DuckDBPyConnection,
    table: str,
) -> None:
    frame = expected[0] if table == "jobs" else expected[1]
    source = f"read_parquet('{parquet_export}/{table}/*/*.parquet', hive_partitioning = true)"
    order = "started_at, job_id" + (", clip_index" if table == "outputs" else "")

    described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    got = con.execute(f"SELECT * EXCLUDE (started_month) FROM {source} ORDER BY {order}").fetchall()
    months = con.execute(f"SELECT started_month FROM {source} ORDER BY {order}").fetchall()

    assert {name: kind for name, kind, *_ in described} == {
        **duckdb_types(frame.dtypes),
        "started_month": "VARCHAR",
    }
    assert [tuple(plain(v) for v in row) for row in got] == rows(frame)
    assert [m for (m,) in months] == utc_months(frame)


def test_duckdb_prunes_by_month(
    parquet_export: Path,
    expected: tuple[pd.DataFrame, pd.DataFrame],
    con: duckdb.DuckDBPyConnection,
) -> None:
    jobs = expected[0]
    source = f"read_parquet('{parquet_export}/jobs/*/*.parquet', hive_partitioning = true)"
    row = con.execute(f"SELECT count(*) FROM {source} WHERE started_month = '2026-09'").fetchone()
    assert row is not None
    (count,) = row
    assert count == utc_months(jobs).count("2026-09")


# -- CSV ---------------------------------------------------------------------------------


def csv_schema(schema: pa.Schema) -> pa.Schema:
    """The export schema with categoricals as plain text: what a CSV holds."""
    return pa.schema(
        [
            pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
            for f in schema
        ]
    )


@pytest.mark.parametrize("table", ["jobs", "outputs"])
def test_csv_read_back_with_pyarrow_equals_the_frames(
    csv_export: Path, expected: tuple[pd.DataFrame, pd.DataFrame], table: str
) -> None:
    frame = expected[0] if table == "jobs" else expected[1]
    schema = csv_schema(JOBS_ARROW_SCHEMA if table == "jobs" else OUTPUTS_ARROW_SCHEMA)

    read = pa_csv.read_csv(
        csv_export / f"{table}.csv",
        convert_options=pa_csv.ConvertOptions(
            column_types=schema,
            strings_can_be_null=True,  # an unquoted empty field is missing ...
            quoted_strings_can_be_null=False,  # ... a quoted one ("") is the empty string
        ),
    )

    assert read.schema.equals(schema)
    assert [tuple(plain(v) for v in row.values()) for row in read.to_pylist()] == rows(frame)


@pytest.mark.parametrize("table", ["jobs", "outputs"])
def test_csv_read_back_with_duckdb_equals_the_frames(
    csv_export: Path,
    expected: tuple[pd.DataFrame, pd.DataFrame],
    con: duckdb.DuckDBPyConnection,
    table: str,
) -> None:
    frame = expected[0] if table == "jobs" else expected[1]
    # A CSV carries no types: text that looks like a number ("2.1" in jobspec_version)
    # would be sniffed as DOUBLE, so the text columns are declared; the rest is sniffed.
    text = {
        name: "VARCHAR" for name, kind in duckdb_types(frame.dtypes).items() if kind == "VARCHAR"
    }
    source = f"read_csv('{csv_export}/{table}.csv', allow_quoted_nulls = false, types = {text})"

    described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    got = con.execute(f"SELECT * FROM {source}").fetchall()  # file order is Fabric's order

    assert {name: kind for name, kind, *_ in described} == duckdb_types(frame.dtypes)
    assert [tuple(plain(v) for v in row) for row in got] == rows(frame)


# -- refusing, failing, empty --------------------------------------------------------------


def test_export_refuses_a_folder_that_is_not_empty(
    history: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")

    done = run_cli("export", out, "--db", history)

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "is not empty" in done.stderr
    assert "Traceback" not in done.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out"]


def test_export_into_an_existing_empty_folder(
    history: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = run_cli("export", out, "--format", "csv", "--db", history)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["jobs.csv", "outputs.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out"]  # no staging left


def test_export_that_cannot_write_exits_4_and_leaves_nothing(
    history: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    done = run_cli("export", blocker / "out", "--db", history)
    assert done.returncode == 4
    assert done.stderr.count("\n") == 1
    assert "cannot create" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "home"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_of_an_empty_history(db_path: Path, tmp_path: Path, fmt: str) -> None:
    with create_persistence(db_path):
        pass
    out = tmp_path / "out"

    result = export_history(db_path, out, fmt=fmt)  # type: ignore[arg-type]

    assert (result.jobs, result.outputs) == (0, 0)
    if fmt == "parquet":
        assert result.files == ()
        assert sorted(p.name for p in out.iterdir()) == ["jobs", "outputs"]
    else:
        jobs = pa_csv.read_csv(out / "jobs.csv")
        assert jobs.num_rows == 0
        assert jobs.column_names == list(JOBS_FRAME_DTYPES)


def test_write_export_needs_a_start_for_every_row(tmp_path: Path) -> None:
    from support import make_output

    frame = outputs_frame([make_output()])  # bare outputs: started_at unknown
    with pytest.raises(ValueError, match="rows without started_at"):
        write_export(jobs_frame([]), frame, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_write_export_refuses_a_file_in_place_of_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("x")
    with pytest.raises(OutputExistsError, match="exists and is not a folder"):
        write_export(jobs_frame([]), outputs_frame([]), target)
    assert target.read_text() == "x"
