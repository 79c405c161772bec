"""pandas DataFrames of Fabric's history: one row per job, or one row per clip output.

:func:`jobs_frame` and :func:`outputs_frame` turn jobs (any iterable, for
example a query result) into DataFrames with honest dtypes; :func:`jobs` and
:func:`outputs` do the same over a :class:`~fabric_nb.queries.FabricQueries`,
with filters. The columns and their dtypes are listed once, in
:data:`JOBS_FRAME_DTYPES` and :data:`OUTPUTS_FRAME_DTYPES`; an empty input
gives an empty frame with exactly those columns and dtypes.

Frames are built column-wise from fresh arrays, so they stay fast at 100k
jobs and never share mutable state with the index. Rows come in Fabric's one
order: ``started_at`` as an instant, then ``job_id``
(:func:`fabric_nb.models.job_order_key`); outputs follow in clip order.
See ``docs/dataframes.md`` for the meaning of every column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Final, TypeVar, Unpack

import numpy as np
import pandas as pd
import pyarrow as _pa
from pandas.arrays import ArrowStringArray

from ._collector import collector_paused
from ._packed import output_records
from ._safe_text import short_repr
from .filters import (
    FILTER_COLUMNS,
    JOB_FILTERS,
    OUTPUT_FILTERS,
    FilterSelection,
    JobFilters,
    OutputFilters,
    UnknownValueWarning,
    parse_filters,
    warn_unknown,
)
from .models import CLIP_STATUSES, JOB_STATUSES, IngestedJob, IngestedOutput, job_order_key
from .queries import FabricQueries
from .schema import OUTPUT_FIELDS

__all__ = [
    "HISTORY_COLUMN",
    "INSTANT_DTYPE",
    "JOBS_FRAME_DTYPES",
    "OUTPUTS_FRAME_DTYPES",
    "TEXT_DTYPE",
    "DocumentedMapping",
    "JobFilters",
    "OutputFilters",
    "UnknownValueWarning",
    "jobs",
    "jobs_frame",
    "outputs",
    "outputs_frame",
    "select_jobs",
]

_V = TypeVar("_V")


class DocumentedMapping(Mapping[str, _V]):
    """A read-only mapping that carries its own docstring (the public constants here).

    Iteration keeps insertion order. It cannot be changed after it is made,
    so a module-level constant is not mutable global state.
    """

    def __init__(self, items: Mapping[str, _V], doc: str) -> None:
        self._items = dict(items)
        self.__doc__ = doc  # an instance attribute: each constant documents itself

    def __getitem__(self, key: str) -> _V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


# -- the column schema, in one place ------------------------------------------------

#: The column that names each row's history in frames of several histories
#: (:mod:`fabric_nb.histories`), and the outer partition key of their export.
HISTORY_COLUMN: Final = "history"
#: The dtype of every text column Fabric builds: pandas' ``"string"``, ``<NA>`` for
#: missing, the same in pandas 2.2 and 3.x.
TEXT_DTYPE: Final = pd.StringDtype()
#: The dtype of every instant column Fabric builds: microseconds in UTC, ``NaT`` when unknown.
INSTANT_DTYPE: Final = pd.DatetimeTZDtype(unit="us", tz="UTC")
_JOB_STATUS: Final = pd.CategoricalDtype(list(JOB_STATUSES), ordered=False)
_CLIP_STATUS: Final = pd.CategoricalDtype(list(CLIP_STATUSES), ordered=False)
#: Whether ``TEXT_DTYPE`` keeps its strings in Arrow (pandas 3's default, or pandas 2.2
#: told so by ``mode.string_storage``): then :func:`_text` builds the array directly.
_ARROW_TEXT: Final = TEXT_DTYPE.storage == "pyarrow"
_LARGE_STRING: Final = _pa.large_string()
#: Where the frames' Arrow buffers come from: the C library's allocator. Arrow's
#: default (mimalloc in the wheels) took 0.8 s more for the first outputs frame of
#: 100k jobs in a process (1.36-1.67 s against 0.78-0.85 s); later frames cost the same.
_POOL: Final = _pa.system_memory_pool()
_INT: Final = np.dtype("int64")
_BOOL: Final = np.dtype("bool")

JOBS_FRAME_DTYPES: Final[Mapping[str, Any]] = DocumentedMapping(
    {
        "job_id": TEXT_DTYPE,
        "final_status": _JOB_STATUS,
        "started_at": INSTANT_DTYPE,
        "canonical_proxy_profile": TEXT_DTYPE,
        "fingerprint": TEXT_DTYPE,
        "validation_stage": TEXT_DTYPE,
        "validation_error": TEXT_DTYPE,
        "engine_used": TEXT_DTYPE,
        "resolve_preset_used": TEXT_DTYPE,
        "jobspec_version": TEXT_DTYPE,
        "completed_at": INSTANT_DTYPE,
        "ingested_at": INSTANT_DTYPE,
        "total_clips": _INT,
        "completed_clips": _INT,
        "failed_clips": _INT,
        "duration_seconds": pd.Float64Dtype(),
        "success": _BOOL,
    },
    """Columns of :func:`jobs_frame`, in order, with their dtypes: the spec's ``jobs``
    table without ``outputs_json``, then the computed ``duration_seconds`` and ``success``.""",
)

#: The output fields after ``job_id`` (:data:`~fabric_nb.schema.OUTPUT_FIELDS`) whose
#: column is not text; every other output field is a text column.
_OUTPUT_DTYPES: Final[dict[str, Any]] = {
    "output_exists": pd.BooleanDtype(),
    "output_size_bytes": pd.Int64Dtype(),
    "status": _CLIP_STATUS,
}

OUTPUTS_FRAME_DTYPES: Final[Mapping[str, Any]] = DocumentedMapping(
    {
        "job_id": TEXT_DTYPE,
        "clip_index": pd.Int64Dtype(),
        **{name: _OUTPUT_DTYPES.get(name, TEXT_DTYPE) for name in OUTPUT_FIELDS[1:]},
        "started_at": INSTANT_DTYPE,
    },
    """Columns of :func:`outputs_frame`, in order, with their dtypes: ``job_id``,
    ``clip_index``, the other :class:`IngestedOutput` fields, the job's ``started_at``.""",
)

_COMPLETED_CODE: Final = JOB_STATUSES.index("COMPLETED")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_NAT: Final = np.iinfo(np.int64).min  # the int64 that datetime64 reads as NaT

# -- column builders ----------------------------------------------------------------


def _text(values: Sequence[str | None] | np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values`` (each a ``str`` or ``None``, as checked at ingest or load) as ``TEXT_DTYPE``."""
    if _ARROW_TEXT:
        # pyarrow reads the strings once; pd.array would first copy and
        # re-check every value in Python (about a quarter of a frame's build).
        return ArrowStringArray(
            _pa.array(values, type=_LARGE_STRING, from_pandas=True, memory_pool=_POOL)
        )
    # From an object array: pandas converts a list to one first, at twice the cost.
    if not isinstance(values, np.ndarray):
        array = np.empty(len(values), dtype=object)
        array[:] = values
        values = array
    return pd.array(values, dtype=TEXT_DTYPE)


def _micros(values: Iterable[datetime | None], count: int) -> np.ndarray:
    """Exact microseconds since the epoch (``_NAT`` for ``None``), no float rounding."""
    return np.fromiter(
        (_NAT if v is None else (v - _EPOCH) // _MICROSECOND for v in values),
        dtype=np.int64,
        count=count,
    )


def _instants(micros: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.DatetimeIndex(micros.view("M8[us]")).tz_localize("UTC").array


def _categorical(
    values: Sequence[str], dtype: pd.CategoricalDtype, describe: Callable[[int], str]
) -> pd.Categorical:
    """Categorical via codes, so an unknown status is an error, not a silent NaN."""
    codes = {category: code for code, category in enumerate(dtype.categories)}
    try:
        array = np.fromiter(map(codes.__getitem__, values), dtype=np.int8, count=len(values))
    except KeyError as exc:
        where = describe(list(values).index(exc.args[0]))
        allowed = ", ".join(dtype.categories)
        raise ValueError(
            f"{where} has status {short_repr(exc.args[0])}, expected one of {allowed}"
        ) from None
    return pd.Categorical.from_codes(array, dtype=dtype)


def _frame(columns: dict[str, Any], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(columns, copy=False)
    # The schema is the contract; a builder that drifts from it is a bug, not a variant.
    assert list(frame.columns) == list(dtypes), "frame columns drifted from the schema"
    return frame


# -- jobs ---------------------------------------------------------------------------


def _in_fabric_order(items: list[IngestedJob], starts: np.ndarray) -> bool:
    """Whether ``items`` already follow ``job_order_key`` (checked without sorting)."""
    steps = np.diff(starts)
    if (steps < 0).any():
        return False
    return all(items[i].job_id <= items[i + 1].job_id for i in np.flatnonzero(steps == 0))


def _ordered_jobs(jobs: Iterable[IngestedJob]) -> tuple[list[IngestedJob], np.ndarray]:
    """The jobs in Fabric's order, with their ``started_at`` in epoch microseconds."""
    items = list(jobs)
    for position, item in enumerate(items):
        if not isinstance(item, IngestedJob):
            raise TypeError(f"item {position} is {type(item).__name__}, expected IngestedJob")
    starts = _micros((job.started_at for job in items), len(items))
    if not _in_fabric_order(items, starts):
        items.sort(key=job_order_key)
        starts = _micros((job.started_at for job in items), len(items))
    return items, starts


def jobs_frame(jobs: Iterable[IngestedJob]) -> pd.DataFrame:
    """One row per job, columns and dtypes as in :data:`JOBS_FRAME_DTYPES`.

    Rows are in Fabric's order (``started_at`` as an instant, then ``job_id``)
    whatever the order of ``jobs``; a job given twice appears twice.
    ``duration_seconds`` is ``Float64``, ``<NA>`` when ``completed_at`` is unknown.

    :raises TypeError: an item is not an :class:`IngestedJob`.
    :raises ValueError: a job's ``final_status`` is not COMPLETED, FAILED or PARTIAL.
    """
    items, starts = _ordered_jobs(jobs)
    n = len(items)
    ends = _micros((job.completed_at for job in items), n)
    unknown_end = ends == _NAT
    # Exact integer microseconds divided once: the same float as timedelta.total_seconds().
    durations = np.where(unknown_end, 0, ends - starts) / 1e6
    status = _categorical(
        [job.final_status for job in items],
        _JOB_STATUS,
        lambda i: f"job {short_repr(items[i].job_id)}",
    )

    def text(name: str) -> pd.api.extensions.ExtensionArray:
        return _text([getattr(job, name) for job in items])

    def count(name: str) -> np.ndarray:
        return np.fromiter((getattr(job, name) for job in items), dtype=np.int64, count=n)

    failed = count("failed_clips")
    columns = {
        "job_id": text("job_id"),
        "final_status": status,
        "started_at": _instants(starts),
        "canonical_proxy_profile": text("canonical_proxy_profile"),
        "fingerprint": text("fingerprint"),
        "validation_stage": text("validation_stage"),
        "validation_error": text("validation_error"),
        "engine_used": text("engine_used"),
        "resolve_preset_used": text("resolve_preset_used"),
        "jobspec_version": text("jobspec_version"),
        "completed_at": _instants(ends),
        "ingested_at": _instants(_micros((job.ingested_at for job in items), n)),
        "total_clips": count("total_clips"),
        "completed_clips": count("completed_clips"),
        "failed_clips": failed,
        "duration_seconds": pd.arrays.FloatingArray(durations, unknown_end),
        "success": (status.codes == _COMPLETED_CODE) & (failed == 0),
    }
    return _frame(columns, JOBS_FRAME_DTYPES)


# -- outputs ------------------------------------------------------------------------


def _values_and_mask(
    values: list[Any], kind: _pa.DataType, fill: bool | int
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (``None`` for unknown) as a numpy array and its mask, read by pyarrow in C."""
    array = _pa.array(values, type=kind, memory_pool=_POOL)
    return (
        array.fill_null(fill).to_numpy(zero_copy_only=False, writable=True),
        array.is_null().to_numpy(zero_copy_only=False, writable=True),
    )


def _outputs_columns(
    job_ids: Sequence[str] | np.ndarray,
    outs: Sequence[Any],
    clip_index: np.ndarray | None,
    starts: np.ndarray | None,
    describe: Callable[[int], str],
) -> pd.DataFrame:
    """Build the outputs frame; ``None`` index or starts mean unknown (<NA>, NaT).

    ``outs`` may hold records without a ``job_id``; ``job_ids`` gives each row's.
    """
    n = len(outs)
    unknown = np.ones(n, dtype=bool) if clip_index is None else np.zeros(n, dtype=bool)
    index = np.zeros(n, dtype=np.int64) if clip_index is None else clip_index

    def column(name: str) -> list[Any]:
        return list(map(attrgetter(name), outs))

    special = {
        "output_exists": pd.arrays.BooleanArray(
            *_values_and_mask(column("output_exists"), _pa.bool_(), False)
        ),
        "output_size_bytes": pd.arrays.IntegerArray(
            *_values_and_mask(column("output_size_bytes"), _pa.int64(), 0)
        ),
        "status": _categorical(column("status"), _CLIP_STATUS, describe),
    }
    columns = {
        "job_id": _text(job_ids),
        "clip_index": pd.arrays.IntegerArray(index, unknown),
        **{
            name: special[name] if name in _OUTPUT_DTYPES else _text(column(name))
            for name in OUTPUT_FIELDS[1:]
        },
        "started_at": _instants(np.full(n, _NAT, dtype=np.int64) if starts is None else starts),
    }
    return _frame(columns, OUTPUTS_FRAME_DTYPES)


#: Jobs per piece of a large outputs frame. Each piece's short-lived records
#: are freed before the next piece is decoded, so the process reuses that
#: memory instead of growing by the decoded history at once: at 1M jobs the
#: frame is built in 10.5 s instead of 14-15 s (``docs/performance.md``).
_JOBS_PER_PIECE: Final = 5000


def _expand(items: list[IngestedJob], starts: np.ndarray) -> pd.DataFrame:
    """Every output of ``items`` (already in Fabric's order), with clip index and job start.

    The collector is paused meanwhile (``fabric_nb._collector``): the build
    makes millions of short-lived records and no cycle, and each pass would
    walk whatever else the process holds (an index of a million jobs).
    """
    step = _JOBS_PER_PIECE
    with collector_paused():
        if len(items) <= step:
            return _expand_piece(items, starts)
        pieces = [
            _expand_piece(items[i : i + step], starts[i : i + step])
            for i in range(0, len(items), step)
        ]
        return pd.concat(pieces, ignore_index=True)


def _expand_piece(items: list[IngestedJob], starts: np.ndarray) -> pd.DataFrame:
    """:func:`_expand` of a few thousand jobs at most."""
    per_job = [output_records(job) for job in items]
    counts = np.fromiter(map(len, per_job), dtype=np.int64, count=len(items))
    outs = [o for records in per_job for o in records]
    first_row = np.repeat(np.cumsum(counts) - counts, counts)
    clip_index = np.arange(len(outs), dtype=np.int64) - first_row
    owners = np.repeat(np.arange(len(items)), counts)
    job_ids = np.array([job.job_id for job in items], dtype=object)[owners]

    def describe(row: int) -> str:
        return f"clip {int(clip_index[row])} of job {short_repr(job_ids[row])}"

    return _outputs_columns(job_ids, outs, clip_index, np.repeat(starts, counts), describe)


def outputs_frame(
    jobs_or_outputs: Iterable[IngestedJob] | Iterable[IngestedOutput],
) -> pd.DataFrame:
    """One row per clip output, columns and dtypes as in :data:`OUTPUTS_FRAME_DTYPES`.

    Given jobs, rows follow the jobs in Fabric's order, then each job's
    clips in execution order; ``clip_index`` is the clip's position in its job
    and ``started_at`` is the job's. Given bare :class:`IngestedOutput` objects
    (for example ``queries.get_outputs_for_job(...)``), rows keep the order
    given and ``clip_index`` / ``started_at`` are ``<NA>`` / ``NaT``: an output
    does not record them, and Fabric does not guess. Pass the jobs to get them.

    :raises TypeError: an item is neither kind, or jobs and outputs are mixed.
    :raises ValueError: a clip's ``status`` is not COMPLETED or FAILED.
    """
    items: list[Any] = list(jobs_or_outputs)
    if not items or isinstance(items[0], IngestedJob):
        ordered, starts = _ordered_jobs(items)  # rejects anything that is not a job
        return _expand(ordered, starts)
    for position, item in enumerate(items):
        if not isinstance(item, IngestedOutput):
            kind = type(item).__name__
            raise TypeError(
                f"item {position} is {kind}; pass IngestedJob objects or IngestedOutput "
                "objects, not a mix"
            )
    job_ids = [o.job_id for o in items]
    return _outputs_columns(
        job_ids, items, None, None, lambda i: f"output {i} of job {short_repr(job_ids[i])}"
    )


# -- over a FabricQueries -----------------------------------------------------------


def _candidates(queries: FabricQueries, selection: FilterSelection) -> list[IngestedJob]:
    """The jobs the narrowest given filter looks up in the index (a superset of the result).

    Each ``engine`` or ``profile`` value that no job has warns
    (:class:`UnknownValueWarning`), whether or not the others match.
    """
    ids = selection.get("job_id")
    if ids is not None:
        return [job for job in map(queries.get_job, ids) if job is not None]
    lookups = (
        ("fingerprint", queries.get_jobs_by_fingerprint),
        ("profile", queries.get_jobs_by_profile),
        ("engine", queries.get_jobs_by_engine),
    )
    found: list[IngestedJob] | None = None
    for name, lookup in lookups:
        wanted = selection.get(name)
        if wanted is None:
            continue
        per_value = [lookup(value) for value in sorted(wanted)]
        hits = [job for jobs in per_value for job in jobs]
        # One value no job has warns, even beside values that match; an
        # unseen fingerprint is an answer, not a typo.
        if name != "fingerprint" and not all(per_value):
            every = queries.get_all_jobs()
            column = FILTER_COLUMNS[name]
            warn_unknown(name, wanted, (getattr(job, column) for job in every))
        if found is None:
            found = hits
    if found is not None:
        return found
    return queries.get_jobs_started_between(selection.since, selection.until)


def _selected_jobs(queries: FabricQueries, selection: FilterSelection) -> list[IngestedJob]:
    """The jobs of ``selection`` in Fabric's order, every job-level filter applied."""
    statuses = selection.get("status")
    if not selection.values:  # only a time window, or nothing: the look-up applied it
        return _candidates(queries, selection)
    return [
        job
        for job in _candidates(queries, selection)
        if (statuses is None or job.final_status in statuses)
        and selection.keeps("engine", job.engine_used)
        and selection.keeps("profile", job.canonical_proxy_profile)
        and selection.keeps("fingerprint", job.fingerprint)
        and selection.keeps("job_id", job.job_id)
        and selection.in_window(job.started_at)
    ]


def _labelled(frame: pd.DataFrame, selection: FilterSelection) -> pd.DataFrame:
    """Record the filters a frame was selected with in ``frame.attrs["filters"]``.

    Charts read it to say in their default title that a frame is filtered.
    """
    frame.attrs["filters"] = dict(selection.given)
    return frame


def select_jobs(queries: FabricQueries, **filters: Unpack[JobFilters]) -> list[IngestedJob]:
    """The jobs :func:`jobs` shows, as :class:`IngestedJob` objects in Fabric's order.

    Takes the filters of :class:`~fabric_nb.filters.JobFilters`.

    :raises ValueError: unknown status, an empty list, text that is not ISO
        8601, a naive datetime, or ``since`` later than ``until``.
    :raises TypeError: an unknown filter name, or a value of the wrong type.
    """
    selection = parse_filters(dict(filters), JOB_FILTERS, JOB_STATUSES)
    items, _ = _ordered_jobs(_selected_jobs(queries, selection))
    return items


def jobs(queries: FabricQueries, **filters: Unpack[JobFilters]) -> pd.DataFrame:
    """The jobs frame of the history behind ``queries``, optionally filtered.

    Each filter (:class:`~fabric_nb.filters.JobFilters`) keeps the rows whose
    column equals it, or equals one of its values when given a list:
    ``status`` is ``final_status``, ``engine`` is ``engine_used``,
    ``profile`` is ``canonical_proxy_profile``, ``fingerprint`` and
    ``job_id`` are those columns; ``since`` / ``until`` keep jobs that
    started in ``[since, until)``: an aware datetime or ``pd.Timestamp``, a
    ``date``, or ISO 8601 text (``"2026-09-10"``, ``"2026-09-10T12:00Z"``),
    text and dates without an offset being UTC. Filters combine with AND.
    The filters are kept in ``frame.attrs["filters"]``.

    :raises ValueError: unknown status, an empty list, text that is not ISO
        8601, a naive datetime, or ``since`` later than ``until``.
    :raises TypeError: an unknown filter name, or a value of the wrong type.
    """
    selection = parse_filters(dict(filters), JOB_FILTERS, JOB_STATUSES)
    return _labelled(jobs_frame(_selected_jobs(queries, selection)), selection)


def outputs(queries: FabricQueries, **filters: Unpack[OutputFilters]) -> pd.DataFrame:
    """The outputs frame of the history behind ``queries``, optionally filtered.

    Each filter (:class:`~fabric_nb.filters.OutputFilters`) is a column of the
    frame it returns, and takes one value or a list: ``status`` is the clip's
    ``status`` (COMPLETED and/or FAILED), ``engine`` the clip's
    ``engine_used``, ``profile`` its ``proxy_profile_used``, ``source_path``
    and ``failure_reason`` its own; ``job_id``, ``fingerprint`` and
    ``since`` / ``until`` select by the clip's job, as :func:`jobs` does.
    ``clip_index`` keeps each clip's position in its job, filtered or not.
    The filters are kept in ``frame.attrs["filters"]``.

    :raises ValueError: unknown clip status, an empty list, text that is not
        ISO 8601, a naive datetime, or ``since`` later than ``until``.
    :raises TypeError: an unknown filter name, or a value of the wrong type.
    """
    selection = parse_filters(dict(filters), OUTPUT_FILTERS, CLIP_STATUSES)
    job_level = FilterSelection(
        {k: v for k, v in selection.values.items() if k in ("fingerprint", "job_id")},
        selection.since,
        selection.until,
        {},
    )
    if "job_id" not in job_level.values:
        # Warn about an engine or profile no job has; the clips are filtered below.
        narrowing = {k: v for k, v in selection.values.items() if k in ("engine", "profile")}
        if narrowing:
            _candidates(queries, FilterSelection(narrowing, None, None, {}))
    items, starts = _ordered_jobs(_selected_jobs(queries, job_level))
    clip_filters = [
        (name, selection.get(name))
        for name in ("status", "engine", "profile", "source_path", "failure_reason")
        if selection.get(name) is not None
    ]
    if not clip_filters:
        return _labelled(_expand(items, starts), selection)
    fields = {
        "status": "status",
        "engine": "engine_used",
        "profile": "proxy_profile_used",
        "source_path": "source_path",
        "failure_reason": "failure_reason",
    }
    checks = [(attrgetter(fields[name]), wanted) for name, wanted in clip_filters]
    kept: list[Any] = []
    kept_ids: list[str] = []
    clip_index: list[int] = []
    kept_starts: list[int] = []
    for job, started in zip(items, starts.tolist(), strict=True):
        for i, o in enumerate(output_records(job)):
            if all(get(o) in wanted for get, wanted in checks):  # type: ignore[operator]
                kept.append(o)
                kept_ids.append(job.job_id)
                clip_index.append(i)
                kept_starts.append(started)
    index = np.array(clip_index, dtype=np.int64)
    frame = _outputs_columns(
        kept_ids,
        kept,
        index,
        np.array(kept_starts, dtype=np.int64),
        lambda row: f"clip {clip_index[row]} of job {short_repr(kept_ids[row])}",
    )
    return _labelled(frame, selection)
