"""Export the history as Parquet (Hive-partitioned by month), CSV or Excel, for other tools.

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
Excel: ``OUTDIR/history.xlsx`` with a ``jobs`` and an ``outputs`` sheet
(:mod:`fabric_nb.excel` says what Excel changes: UTC without offset,
formula escaping, its row and cell limits).

An export takes the filters of ``fabric.jobs()`` (``since``, ``until``,
``status``, ``engine``, ``profile``, ``fingerprint``, ``job_id``): only the
selected jobs and their outputs are written, selected in SQL month by month.

An export is all or nothing: it is written into a hidden staging folder
(``.fabric-export-partial-*``) and moved into place at the end. A new
``OUTDIR`` is the staging folder renamed, in one step; an existing empty
``OUTDIR`` is kept (its mode, owner, group and ACLs stay) and the staging
folder inside it is emptied into it. A staging folder left behind by a
killed export is hidden (Hive readers skip names starting with ``.``), and
the next export next to it removes it: each live export holds a lock on
its own. ``OUTDIR`` must not exist or be an empty folder; an export never
replaces or deletes files that are there: it removes only its own staging
folders and, inside a kept ``OUTDIR``, the tables a staging folder records
(by name and inode) having moved out. The database is opened read-only.

CSV cells that a spreadsheet would run as a formula (text starting with
``=``, ``+``, ``-``, ``@``, a tab or a line break) get a ``'`` in front, as
OWASP advises, unless ``raw_csv=True`` (which applies to Excel too);
Parquet keeps every value exact.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Unpack

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ._dataset_update import MANIFEST_NAME, DatasetUpdate, update_dataset, writer_stamp
from ._export_formats import EXPORT_FORMATS, ExportFormat
from ._export_staging import EXCEL_FILE, STAGING_PREFIX, check_outdir, staged
from ._stored_queries import warn_unknown_values, where_of
from .excel import ExcelBook, require_openpyxl
from .filters import JOB_FILTERS, FilterSelection, JobFilters, parse_filters
from .frames import (
    HISTORY_COLUMN,
    JOBS_FRAME_DTYPES,
    OUTPUTS_FRAME_DTYPES,
    jobs_frame,
    outputs_frame,
)
from .models import JOB_STATUSES
from .persistence import create_persistence
from .storage import FabricStorage

__all__ = [
    "EXCEL_FILE",
    "EXPORT_FORMATS",
    "FORMULA_STARTS",
    "JOBS_ARROW_SCHEMA",
    "MANIFEST_NAME",
    "OUTPUTS_ARROW_SCHEMA",
    "PARTITION_COLUMN",
    "STAGING_PREFIX",
    "ExportFormat",
    "ExportResult",
    "HistoriesExportResult",
    "export_histories",
    "export_history",
    "write_export",
]

#: The Hive partition key of a Parquet export: the UTC month of ``started_at``, ``YYYY-MM``.
PARTITION_COLUMN: Final[str] = "started_month"
#: First characters that make a spreadsheet read a CSV cell as a formula
#: (OWASP, "CSV Injection"): such a text cell is written with a ``'`` in front.
FORMULA_STARTS: Final[str] = "=+-@\t\r\n"
_FORMULA: Final[str] = "^([" + FORMULA_STARTS.replace("-", "\\-") + "])"


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
    #: With ``update=True``: the month partitions written or removed
    #: (``started_month=YYYY-MM``); ``None`` for a whole export.
    changed: tuple[str, ...] | None = None


def export_history(
    database: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    fmt: ExportFormat = "parquet",
    raw_csv: bool = False,
    update: bool = False,
    **filters: Unpack[JobFilters],
) -> ExportResult:
    """Write the jobs and outputs tables of ``database`` into ``outdir``.

    ``filters`` select the jobs as ``fabric.jobs()`` does (same names, same
    checks, an :class:`~fabric_nb.filters.UnknownValueWarning` for an engine
    or profile no job has); the outputs written are those of the selected jobs.

    Opens the database read-only (schema-version and integrity checks
    included) and writes it one UTC month at a time: only that month's rows
    are read, decoded and held, so memory is bounded by the largest month,
    not by the history. The files are byte for byte those
    :func:`write_export` writes from the frames of the whole history.

    The export is one committed state of the database: when another process
    commits while it runs, it is written again under SQLite's read lock
    (writers then wait, within their busy timeout).

    ``update=True`` (Parquet only) brings a dataset it wrote before up to
    date instead (:mod:`fabric_nb._dataset_update`): ``outdir`` may hold one,
    and only the month partitions whose jobs changed are rewritten, each in
    one step; ``files`` are those written, ``changed`` the partitions
    written or removed, ``jobs`` and ``outputs`` what the dataset holds.
    A missing or empty ``outdir`` is written whole, with the manifest.

    :raises StorageError: the database is missing, unreadable or of another
        schema version.
    :raises StorageCorruptionError: the database is corrupt (a row that does
        not decode is named).
    :raises OutputExistsError: ``outdir`` exists and is not an empty folder.
    :raises ExportError: the files could not be written, or (Excel) a sheet
        or a cell passes Excel's limits.
    :raises MissingExtraError: ``fmt="xlsx"`` without openpyxl installed.
    :raises ValueError: ``fmt`` is not one of :data:`EXPORT_FORMATS`; a bad filter value.
    :raises TypeError: an unknown filter name, or a value of the wrong type.
    """
    target = Path(outdir)
    _check_format(fmt)
    selection = parse_filters(dict(filters), JOB_FILTERS, JOB_STATUSES)
    if update:
        if fmt != "parquet":
            raise ValueError(f"update=True brings a Parquet dataset up to date, not {fmt}")
        with create_persistence(database, readonly=True) as persistence:
            warn_unknown_values(persistence.storage, selection)
            done = _update(target, {"": persistence.storage}, "history", selection)
            path = persistence.path
        jobs, outputs = done.counts[""]
        return ExportResult(
            database=path,
            outdir=target,
            format=fmt,
            jobs=jobs,
            outputs=outputs,
            files=done.files,
            changed=done.changed,
        )
    check_outdir(target)
    counts: list[int] = []
    with create_persistence(database, readonly=True) as persistence:
        storage = persistence.storage
        warn_unknown_values(storage, selection)

        stream = functools.partial(_stream, storage, fmt=fmt, raw_csv=raw_csv, selection=selection)

        def write(staging: Path) -> None:
            counts[:] = _one_state(storage, staging, stream)

        files = staged(target, write)
        path = persistence.path
    jobs, outputs = counts
    return ExportResult(
        database=path, outdir=target, format=fmt, jobs=jobs, outputs=outputs, files=files
    )


@dataclass(frozen=True, slots=True)
class HistoriesExportResult:
    """What :func:`export_histories` wrote: per history (jobs, outputs), and the files."""

    databases: dict[str, Path]
    outdir: Path
    counts: dict[str, tuple[int, int]]
    files: tuple[Path, ...]
    #: With ``update=True``: the partitions written or removed
    #: (``history=NAME/started_month=YYYY-MM``); ``None`` for a whole export.
    changed: tuple[str, ...] | None = None

    @property
    def jobs(self) -> int:
        """Jobs written, over every history."""
        return sum(jobs for jobs, _ in self.counts.values())

    @property
    def outputs(self) -> int:
        """Outputs written, over every history."""
        return sum(outputs for _, outputs in self.counts.values())


def export_histories(
    databases: Mapping[str, str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    update: bool = False,
    **filters: Unpack[JobFilters],
) -> HistoriesExportResult:
    """Write several histories as one Parquet dataset, Hive-partitioned by history and month.

    ``databases`` maps each history's name (:mod:`fabric_nb.histories`) to its
    file. The dataset is what :func:`export_history` writes for one history,
    one level deeper::

        OUTDIR/jobs/history=bay-1/started_month=2026-09/part-0.parquet
        OUTDIR/outputs/history=bay-1/started_month=2026-09/part-0.parquet

    so DuckDB, Dask or Spark read it as one table with ``history`` and
    ``started_month`` columns taken from the folder names
    (``docs/scale.md``). Each history is read as one committed state, month
    by month, with the checks of :func:`export_history`; the whole export is
    all or nothing, as there. ``filters`` select jobs in every history alike.
    ``update=True`` brings a dataset it wrote up to date, as
    :func:`export_history` does: only the changed month partitions of each
    history are rewritten. The dataset must not hold a history not given.

    :raises StorageError: a database is missing, unreadable or of another
        schema version (its file is named); nothing is written.
    :raises StorageCorruptionError: a database is corrupt; nothing is written.
    :raises OutputExistsError: ``outdir`` exists and is not an empty folder.
    :raises ExportError: the files could not be written.
    :raises ValueError: no history given, or a bad filter value.
    """
    if not databases:
        raise ValueError("no history given")
    target = Path(outdir)
    selection = parse_filters(dict(filters), JOB_FILTERS, JOB_STATUSES)
    if not update:
        check_outdir(target)
    counts: dict[str, tuple[int, int]] = {}
    paths: dict[str, Path] = {}
    with contextlib.ExitStack() as opened:
        storages = {}
        for name, database in databases.items():
            persistence = opened.enter_context(create_persistence(database, readonly=True))
            storages[name] = persistence.storage
            paths[name] = persistence.path
        if update:
            done = _update(target, storages, "histories", selection)
            return HistoriesExportResult(
                databases=paths,
                outdir=target,
                counts=done.counts,
                files=done.files,
                changed=done.changed,
            )

        def write(staging: Path) -> None:
            for name in ("jobs", "outputs"):
                (staging / name).mkdir()
            for index, (history, storage) in enumerate(storages.items()):
                own = staging / f".history-{index}"
                own.mkdir()
                stream = functools.partial(
                    _stream, storage, fmt="parquet", raw_csv=False, selection=selection
                )
                jobs, outputs = _one_state(storage, own, stream)
                counts[history] = (jobs, outputs)
                for name in ("jobs", "outputs"):
                    if any((own / name).iterdir()):
                        (own / name).rename(staging / name / f"{HISTORY_COLUMN}={history}")
                shutil.rmtree(own)

        files = staged(target, write)
    return HistoriesExportResult(databases=paths, outdir=target, counts=counts, files=files)


def _one_state(
    storage: FabricStorage, staging: Path, stream: Callable[[Path], list[int]]
) -> list[int]:
    """``stream`` the database into ``staging`` as one committed state; (jobs, outputs) written.

    Without a lock first, so writers are not held up; when a commit landed
    meanwhile (the change marker moved), again under the read lock.
    """
    before = storage.change_marker()
    counts = stream(staging)
    if before is not None and storage.change_marker() == before:
        return counts
    for entry in staging.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    with storage.read_transaction():
        return stream(staging)


def _stream(
    storage: FabricStorage,
    staging: Path,
    *,
    fmt: ExportFormat,
    raw_csv: bool,
    selection: FilterSelection,
) -> list[int]:
    """Write the selected jobs and their outputs month by month; (jobs, outputs) written."""
    where, params = where_of(selection, storage)
    window = None if selection.since is None and selection.until is None else selection.in_window
    months = storage.rowids_by_start_month(where, params, keep=window)
    schemas = {"jobs": JOBS_ARROW_SCHEMA, "outputs": OUTPUTS_ARROW_SCHEMA}
    counts = {"jobs": 0, "outputs": 0}
    with contextlib.ExitStack() as stack:
        csv_writers = {}
        book = None
        if fmt == "csv":
            for name, schema in schemas.items():
                shown = schema if raw_csv else _defused_schema(schema)
                csv_writers[name] = stack.enter_context(
                    pa_csv.CSVWriter(staging / f"{name}.csv", shown)
                )
        elif fmt == "xlsx":
            book = stack.enter_context(ExcelBook(staging / EXCEL_FILE, raw=raw_csv))
        else:
            for name in schemas:
                (staging / name).mkdir()
        for month, rowids in months.items():
            jobs = storage.load_jobs_by_rowid(rowids)
            frames = {"jobs": jobs_frame(jobs), "outputs": outputs_frame(jobs)}
            del jobs
            for name, frame in frames.items():
                counts[name] += len(frame)
                if book is not None:
                    book.append(name, frame)
                    continue
                table = _to_arrow(frame, schemas[name], name)
                if fmt == "csv":
                    csv_writers[name].write_table(table if raw_csv else _defuse_formulas(table))
                elif table.num_rows:
                    part = staging / name / _partition(month)
                    part.mkdir()
                    pq.write_table(table, part / "part-0.parquet")
        if book is not None:
            for name in schemas:  # an empty selection still has both sheets, headers only
                book.append(name, _empty_frame(name))
            book.save()
    return [counts["jobs"], counts["outputs"]]


def _update(
    target: Path, storages: Mapping[str, FabricStorage], layout: str, selection: FilterSelection
) -> DatasetUpdate:
    """Bring the dataset in ``target`` up to date with the selected jobs of ``storages``."""
    from . import __version__

    def months_of(storage: FabricStorage) -> dict[int, tuple[list[int], str]]:
        where, params = where_of(selection, storage)
        window = (
            None if selection.since is None and selection.until is None else selection.in_window
        )
        return storage.digests_by_start_month(where, params, keep=window)

    return update_dataset(
        target,
        storages,
        layout=layout,
        stamp=writer_stamp(__version__, JOBS_ARROW_SCHEMA, OUTPUTS_ARROW_SCHEMA),
        months_of=months_of,
        month_tables=_month_tables,
        partition=_partition,
    )


def _month_tables(storage: FabricStorage, rowids: list[int]) -> dict[str, pa.Table]:
    """The jobs and outputs tables of the jobs at ``rowids`` (one month), as exported."""
    jobs = storage.load_jobs_by_rowid(rowids)
    return {
        "jobs": _to_arrow(jobs_frame(jobs), JOBS_ARROW_SCHEMA, "jobs"),
        "outputs": _to_arrow(outputs_frame(jobs), OUTPUTS_ARROW_SCHEMA, "outputs"),
    }


def _empty_frame(name: str) -> pd.DataFrame:
    """An empty frame with the columns of table ``name`` (``jobs`` or ``outputs``)."""
    return jobs_frame([]) if name == "jobs" else outputs_frame([])


def _partition(month: int) -> str:
    """The folder of a month (``year * 100 + month``): ``started_month=YYYY-MM``."""
    return f"{PARTITION_COLUMN}={month // 100:04d}-{month % 100:02d}"


def write_export(
    jobs: pd.DataFrame,
    outputs: pd.DataFrame,
    outdir: str | os.PathLike[str],
    *,
    fmt: ExportFormat = "parquet",
    raw_csv: bool = False,
) -> tuple[Path, ...]:
    """Write a jobs frame and an outputs frame into ``outdir``, all or nothing.

    The frames are those of :func:`~fabric_nb.frames.jobs_frame` and
    :func:`~fabric_nb.frames.outputs_frame` (any subset of rows). Returns the
    files written, relative to ``outdir``, in sorted order.

    CSV is for spreadsheets: a text cell starting with one of
    :data:`FORMULA_STARTS` is written with a ``'`` in front, so no
    spreadsheet runs it as a formula, unless ``raw_csv`` is true. Parquet
    always keeps every value exact.

    ``outdir`` is kept when it exists (an empty folder: its mode, owner,
    group and ACLs stay); otherwise it is created. The files are written
    into a hidden folder (:data:`STAGING_PREFIX`) first and moved into place
    at the end; one left behind by a killed export is removed by the next.

    :raises OutputExistsError: ``outdir`` exists and is not an empty folder.
    :raises ExportError: the files could not be written (nothing is left behind).
    :raises ValueError: unknown ``fmt``; a frame lacks a column of its schema,
        or has a row without ``started_at`` (Parquet cannot place it in a month).
    """
    target = Path(outdir)
    _check_format(fmt)
    check_outdir(target)
    tables = {
        "jobs": _to_arrow(jobs, JOBS_ARROW_SCHEMA, "jobs"),
        "outputs": _to_arrow(outputs, OUTPUTS_ARROW_SCHEMA, "outputs"),
    }
    months = {name: _months(frame, name) for name, frame in (("jobs", jobs), ("outputs", outputs))}

    def write(staging: Path) -> None:
        if fmt == "xlsx":
            with ExcelBook(staging / EXCEL_FILE, raw=raw_csv) as book:
                book.append("jobs", jobs)
                book.append("outputs", outputs)
                book.save()
            return
        for name, table in tables.items():
            if fmt == "csv":
                pa_csv.write_csv(
                    table if raw_csv else _defuse_formulas(table), staging / f"{name}.csv"
                )
            else:
                _write_partitions(table, months[name], staging / name)

    return staged(target, write)


def _check_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise ValueError(
            f"unknown export format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}"
        )
    if fmt == "xlsx":
        require_openpyxl()


def _defused_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of :func:`_defuse_formulas`' tables: dictionary columns become text."""
    return pa.schema(
        [pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f for f in schema]
    )


def _defuse_formulas(table: pa.Table) -> pa.Table:
    """The table with a ``'`` before every text cell a spreadsheet would run as a formula."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(pa.string()), pa.string()
        if pa.types.is_string(kind):
            column = pc.replace_substring_regex(column, pattern=_FORMULA, replacement="'\\1")
        columns.append(column)
    return pa.table(columns, names=table.column_names)


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
    years = np.asarray(utc.dt.year, dtype=np.int64)
    months = np.asarray(utc.dt.month, dtype=np.int64)
    month_keys: np.ndarray = years * 100 + months
    return month_keys


def _write_partitions(table: pa.Table, months: np.ndarray, folder: Path) -> None:
    """One ``started_month=YYYY-MM/part-0.parquet`` per month; rows keep their order."""
    folder.mkdir()
    for month in np.unique(months).tolist():
        rows = np.flatnonzero(months == month)
        part = folder / _partition(month)
        part.mkdir()
        pq.write_table(table.take(rows), part / "part-0.parquet")
