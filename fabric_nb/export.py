"""Export the history as Parquet (Hive-partitioned by month) or CSV, for other engines.

The jobs table and the outputs table are the frames of
:func:`fabric_nb.frames.jobs_frame` and :func:`fabric_nb.frames.outputs_frame`,
written with a fixed Arrow schema (:data:`JOBS_ARROW_SCHEMA`,
:data:`OUTPUTS_ARROW_SCHEMA`) so the files do not depend on the pandas
version that wrote them.

Parquet: one folder per table, one sub-folder per UTC month of
``started_at`` (the job's, for outputs), Hive style, so DuckDB, Polars,
Spark or Dask read the whole history or prune by month::

    OUTDIR/jobs/started_month=2026-09/part-0.parquet
    OUTDIR/outputs/started_month=2026-09/part-0.parquet

``started_month`` lives in the folder name only, as Hive does it; readers
add it back as a column. CSV: ``OUTDIR/jobs.csv`` and ``OUTDIR/outputs.csv``.

An export is all or nothing: it is written into a temporary folder next to
``OUTDIR`` and renamed into place at the end, so ``OUTDIR`` never holds half
an export. ``OUTDIR`` must not exist or be an empty folder; an export never
replaces or deletes files that are there. The database is opened read-only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .errors import FabricError
from .frames import JOBS_FRAME_DTYPES, OUTPUTS_FRAME_DTYPES, jobs_frame, outputs_frame
from .persistence import create_persistence

__all__ = [
    "EXPORT_FORMATS",
    "JOBS_ARROW_SCHEMA",
    "OUTPUTS_ARROW_SCHEMA",
    "PARTITION_COLUMN",
    "ExportError",
    "ExportFormat",
    "ExportResult",
    "OutputExistsError",
    "export_history",
    "write_export",
]

#: The export formats, as a type: ``"parquet"`` or ``"csv"``.
ExportFormat = Literal["parquet", "csv"]
#: The formats :func:`export_history` writes.
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = ("parquet", "csv")
#: The Hive partition key of a Parquet export: the UTC month of ``started_at``, ``YYYY-MM``.
PARTITION_COLUMN: Final[str] = "started_month"


class ExportError(FabricError):
    """The export could not be written; ``OUTDIR`` was left as it was."""


class OutputExistsError(ExportError):
    """``OUTDIR`` exists and is not an empty folder; nothing was written."""


def _arrow_type(dtype: Any) -> pa.DataType:
    """The Arrow type a frame column is written as."""
    if isinstance(dtype, pd.StringDtype):
        return pa.string()
    if isinstance(dtype, pd.CategoricalDtype):
        return pa.dictionary(pa.int8(), pa.string())
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pa.timestamp(dtype.unit, tz="UTC")
    if isinstance(dtype, pd.Int64Dtype) or dtype == np.dtype("int64"):
        return pa.int64()
    if isinstance(dtype, pd.BooleanDtype) or dtype == np.dtype("bool"):
        return pa.bool_()
    if isinstance(dtype, pd.Float64Dtype):
        return pa.float64()
    raise TypeError(f"no Arrow type for frame dtype {dtype!r}")


def _arrow_schema(dtypes: Mapping[str, Any]) -> pa.Schema:
    return pa.schema([pa.field(name, _arrow_type(dtype)) for name, dtype in dtypes.items()])


#: Columns of an exported jobs table: those of ``jobs_frame``, as Arrow types.
JOBS_ARROW_SCHEMA: Final[pa.Schema] = _arrow_schema(JOBS_FRAME_DTYPES)
#: Columns of an exported outputs table: those of ``outputs_frame``, as Arrow types.
OUTPUTS_ARROW_SCHEMA: Final[pa.Schema] = _arrow_schema(OUTPUTS_FRAME_DTYPES)


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What :func:`export_history` wrote: counts, and files relative to ``outdir``."""

    database: Path
    outdir: Path
    format: ExportFormat
    jobs: int
    outputs: int
    files: tuple[Path, ...]


def export_history(
    database: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    fmt: ExportFormat = "parquet",
) -> ExportResult:
    """Write the jobs and outputs tables of ``database`` into ``outdir``.

    Opens the database read-only (schema-version and integrity checks
    included) and reads every job, then :func:`write_export`.

    :raises StorageError: the database is missing, unreadable or of another
        schema version.
    :raises StorageCorruptionError: the database is corrupt.
    :raises OutputExistsError: ``outdir`` exists and is not an empty folder.
    :raises ExportError: the files could not be written.
    :raises ValueError: ``fmt`` is not ``"parquet"`` or ``"csv"``.
    """
    target = Path(outdir)
    _check_format(fmt)
    _check_outdir(target)
    with create_persistence(database, readonly=True) as persistence:
        jobs = persistence.load_all_jobs()
        path = persistence.path
    jobs_table, outputs_table = jobs_frame(jobs), outputs_frame(jobs)
    files = write_export(jobs_table, outputs_table, target, fmt=fmt)
    return ExportResult(
        database=path,
        outdir=target,
        format=fmt,
        jobs=len(jobs_table),
        outputs=len(outputs_table),
        files=files,
    )


def write_export(
    jobs: pd.DataFrame,
    outputs: pd.DataFrame,
    outdir: str | os.PathLike[str],
    *,
    fmt: ExportFormat = "parquet",
) -> tuple[Path, ...]:
    """Write a jobs frame and an outputs frame into ``outdir``, all or nothing.

    The frames are those of :func:`~fabric_nb.frames.jobs_frame` and
    :func:`~fabric_nb.frames.outputs_frame` (any subset of rows). Returns the
    files written, relative to ``outdir``, in sorted order.

    :raises OutputExistsError: ``outdir`` exists and is not an empty folder.
    :raises ExportError: the files could not be written (nothing is left behind).
    :raises ValueError: unknown ``fmt``; a frame lacks a column of its schema,
        or has a row without ``started_at`` (Parquet cannot place it in a month).
    """
    target = Path(outdir)
    _check_format(fmt)
    _check_outdir(target)
    tables = {
        "jobs": _to_arrow(jobs, JOBS_ARROW_SCHEMA, "jobs"),
        "outputs": _to_arrow(outputs, OUTPUTS_ARROW_SCHEMA, "outputs"),
    }
    months = {name: _months(frame, name) for name, frame in (("jobs", jobs), ("outputs", outputs))}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise ExportError(f"cannot create {target}: {exc.strerror or exc}") from exc
    try:
        for name, table in tables.items():
            if fmt == "csv":
                pa_csv.write_csv(table, staging / f"{name}.csv")
            else:
                _write_partitions(table, months[name], staging / name)
        files = tuple(sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file()))
        _move_into_place(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise
    return files


def _check_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: expected one of parquet, csv")


def _check_outdir(target: Path) -> None:
    if target.is_dir():
        with os.scandir(target) as entries:
            if next(entries, None) is None:
                return
        raise OutputExistsError(f"{target} is not empty; export into a new or empty folder")
    if target.exists() or target.is_symlink():
        raise OutputExistsError(f"{target} exists and is not a folder")


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename the finished export to ``target`` (which may be an empty folder)."""
    try:
        os.rename(staging, target)
    except OSError:
        if target.is_dir() and not any(target.iterdir()):
            # Some systems refuse to rename over a folder, even an empty one.
            with contextlib.suppress(OSError):
                target.rmdir()
                os.rename(staging, target)
                return
        raise


def _to_arrow(frame: pd.DataFrame, schema: pa.Schema, name: str) -> pa.Table:
    missing = [column for column in schema.names if column not in frame.columns]
    if missing:
        raise ValueError(f"the {name} frame lacks column(s) {', '.join(missing)}")
    # The pandas metadata Arrow adds lets ``to_pandas()`` restore the frame's dtypes.
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def _months(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The UTC month of every row's ``started_at``, as ``year * 100 + month``."""
    started = frame["started_at"]
    if started.isna().any():
        raise ValueError(f"the {name} frame has rows without started_at")
    utc = started.dt.tz_convert("UTC")
    return utc.dt.year.to_numpy(dtype=np.int64) * 100 + utc.dt.month.to_numpy(dtype=np.int64)


def _write_partitions(table: pa.Table, months: np.ndarray, folder: Path) -> None:
    """One ``started_month=YYYY-MM/part-0.parquet`` per month; rows keep their order."""
    folder.mkdir()
    for month in np.unique(months).tolist():
        rows = np.flatnonzero(months == month)
        part = folder / f"{PARTITION_COLUMN}={month // 100:04d}-{month % 100:02d}"
        part.mkdir()
        pq.write_table(table.take(rows), part / "part-0.parquet")
