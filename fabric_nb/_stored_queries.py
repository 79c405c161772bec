"""The analyst's read path: questions answered by SQL against the open store.

:func:`~fabric_nb.history.open_fabric` used to rebuild the whole in-memory
index before the first question, decoding every stored row. A history of a
million jobs then cost half a minute and gigabytes before anything was asked.
Here each question reads only the rows it needs, through the spec's indexes
(``final_status``, ``engine_used``, ``canonical_proxy_profile``,
``fingerprint``), and decodes only those:

- :class:`StoredQueries` is the Phase-1 question API
  (:class:`~fabric_nb.queries.FabricQueries`) answered by SQL, with the same
  answers in the same order; its :attr:`~StoredQueries.index` is built (every
  row decoded) only when something asks for it.
- :func:`select_job_fields` reads the jobs a filter selects without their
  outputs, for the jobs frame; :func:`status_groups` counts jobs per status
  and group with ``GROUP BY``.

Corruption is never skipped: every value an answer is computed from is
checked as a full decode checks it, and a row that fails raises
:class:`~fabric_nb.errors.StorageCorruptionError` naming the job. Values a
question does not read are checked by the questions that read them, by
``fabric-nb check`` and by :attr:`StoredQueries.index` (see
``docs/persistence.md``, "Which check runs when").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .filters import FILTER_COLUMNS, FilterSelection, warn_unknown
from .index import FabricIndex
from .models import JOB_STATUSES, IngestedJob, IngestedOutput
from .persistence import FabricPersistence
from .queries import FabricQueries, check_bounds
from .schema import INDEXED_COLUMNS
from .storage import FabricStorage

__all__ = [
    "GROUPABLE_COLUMNS",
    "StoredQueries",
    "select_job_fields",
    "status_groups",
]

#: Jobs-frame columns that :func:`status_groups` groups by in SQL: stored as
#: text (or NULL) and shown as they are stored.
GROUPABLE_COLUMNS: Final[frozenset[str]] = frozenset(
    {
        "canonical_proxy_profile",
        "fingerprint",
        "validation_stage",
        "validation_error",
        "engine_used",
        "resolve_preset_used",
        "jobspec_version",
    }
)

#: Columns a search can go through an index for (``job_id`` is the primary key).
_INDEXED: Final = frozenset({"job_id", *INDEXED_COLUMNS})
_JULIAN_EPOCH: Final = 2440587.5  # the Julian day of 1970-01-01T00:00Z
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: A second, in days: SQLite's ``julianday()`` keeps milliseconds, so a window
#: widened by this much in SQL holds every job of the exact window.
_SLACK_DAYS: Final = 1 / 86400


def _julian(instant: datetime) -> float:
    return (instant - _EPOCH) / timedelta(days=1) + _JULIAN_EPOCH


def where_of(
    selection: FilterSelection, storage: FabricStorage | None = None
) -> tuple[str, list[Any]]:
    """The SQL condition that keeps at least the jobs of ``selection``, and its values.

    Value filters are exact. The time window is widened by a second and keeps
    every ``started_at`` SQLite cannot read as a date, so the caller applies
    :meth:`FilterSelection.in_window` to the decoded jobs for the exact answer.

    Given ``storage``, and several filters on indexed columns, only the one
    that selects the fewest rows (counted in its index, which costs a
    fraction of reading rows) is searched through its index; the others are
    checked on the rows it finds. Without statistics (``ANALYZE`` would
    write to the file) SQLite cannot tell which index is narrower.
    """
    conditions: list[tuple[str, str, list[Any]]] = []  # (column, condition, values)
    for name, column in FILTER_COLUMNS.items():
        if selection.get(name) is None:
            continue
        wanted = _storable(selection.values[name])
        if not wanted:
            conditions.append((column, "0", []))  # no stored text can equal any of them
        elif len(wanted) == 1:
            conditions.append((column, f"{column} = ?", wanted))
        else:  # one bound value however many are wanted: no limit on variables
            conditions.append(
                (column, f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(wanted)])
            )
    indexed = [c for c in conditions if c[0] in _INDEXED and c[1] != "0"]
    if storage is not None and len(indexed) > 1 and not any(c[0] == "job_id" for c in indexed):
        narrowest = min(
            indexed,
            key=lambda c: storage.read_rows(f"SELECT count(*) FROM jobs WHERE {c[1]}", c[2])[0][0],
        )
        conditions = [  # a unary + keeps SQLite from searching through that index
            (c[0], f"+{c[1]}", c[2]) if c in indexed and c is not narrowest else c
            for c in conditions
        ]
    parts = [condition for _, condition, _ in conditions]
    params = [value for _, _, values in conditions for value in values]
    if selection.since is not None:
        parts.append("(julianday(started_at) IS NULL OR julianday(started_at) >= ?)")
        params.append(_julian(selection.since) - _SLACK_DAYS)
    if selection.until is not None:
        parts.append("(julianday(started_at) IS NULL OR julianday(started_at) < ?)")
        params.append(_julian(selection.until) + _SLACK_DAYS)
    return " AND ".join(parts), params


def _storable(values: frozenset[str]) -> list[str]:
    """The values SQLite can hold (UTF-8 text), sorted; a lone surrogate equals no stored text."""
    kept = []
    for value in sorted(values):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            continue
        kept.append(value)
    return kept


def _selected(
    storage: FabricStorage, selection: FilterSelection, *, outputs: bool
) -> list[IngestedJob]:
    where, params = where_of(selection, storage)
    jobs = storage.select_jobs(where, params, outputs=outputs)
    if selection.since is None and selection.until is None:
        return jobs
    return [job for job in jobs if selection.in_window(job.started_at)]


def warn_unknown_values(storage: FabricStorage, selection: FilterSelection) -> None:
    """Warn about each ``engine`` or ``profile`` value no stored job has, as the
    index-backed frames do (not when ``job_id`` selects the jobs)."""
    if selection.get("job_id") is not None:
        return
    for name in ("profile", "engine"):
        wanted = selection.get(name)
        if wanted is None:
            continue
        column = FILTER_COLUMNS[name]
        storable = _storable(wanted)
        # One index probe per value: does any job have it?
        if len(storable) == len(wanted) and all(
            storage.read_rows(f"SELECT 1 FROM jobs WHERE {column} = ? LIMIT 1", [value])
            for value in storable
        ):
            continue
        known = storage.read_rows(f"SELECT DISTINCT {column} FROM jobs")
        warn_unknown(name, wanted, (value for (value,) in known if isinstance(value, str)))


def select_job_fields(storage: FabricStorage, selection: FilterSelection) -> list[IngestedJob]:
    """The jobs of ``selection`` in Fabric's order, read without their outputs.

    What a jobs frame is built from: every column but ``outputs_json`` is
    read and checked. The jobs carry no outputs and must not leave the code
    that builds the frame.

    :raises StorageCorruptionError: a selected row does not decode.
    """
    return _selected(storage, selection, outputs=False)


def status_groups(
    storage: FabricStorage, selection: FilterSelection, columns: Sequence[str]
) -> dict[tuple[Any, ...], int]:
    """Jobs of ``selection`` per (group of ``columns``..., ``final_status``), by ``GROUP BY``.

    Only for value filters (no time window) and ``columns`` in
    :data:`GROUPABLE_COLUMNS`. Each group's values are checked as a full
    decode checks them; a group that fails names one of its jobs.

    :raises StorageCorruptionError: a counted value is not one Fabric writes.
    """
    assert selection.since is None, "a window needs decoded rows"
    assert selection.until is None, "a window needs decoded rows"
    assert set(columns) <= GROUPABLE_COLUMNS, "only stored text columns group in SQL"
    if selection.empty and len(columns) == 1 and columns[0] in _INDEXED_GROUPS:
        counted = _counts_from_indexes(storage, columns[0])
        if counted is not None:
            return counted
    where, params = where_of(selection)
    keys = [*columns, "final_status"]
    listed = ", ".join(keys)
    rows = storage.read_rows(
        f"SELECT {listed}, count(*) FROM jobs{f' WHERE {where}' if where else ''} "
        f"GROUP BY {listed}",
        params,
    )
    counts: dict[tuple[Any, ...], int] = {}
    for *values, count in rows:
        problem = _group_problem(keys, values)
        if problem is not None:
            condition = " AND ".join(f"{key} IS ?" for key in keys)
            found = storage.read_rows(
                f"SELECT job_id FROM jobs WHERE {condition}{f' AND {where}' if where else ''} "
                "ORDER BY job_id LIMIT 1",
                [*values, *params],
            )
            raise storage.undecodable(found[0][0] if found else "?", problem)
        counts[tuple(values)] = count
    return counts


#: Columns whose spec index (partial: the rows where they are not NULL) lets
#: :func:`status_groups` count without reading the table.
_INDEXED_GROUPS: Final[frozenset[str]] = frozenset(INDEXED_COLUMNS) - {"final_status"}


def _counts_from_indexes(storage: FabricStorage, column: str) -> dict[tuple[Any, ...], int] | None:
    """Jobs per (``column``, ``final_status``) of the whole history, read from the
    spec's indexes alone (a fraction of the table's pages); ``None`` when a
    value is not one Fabric writes (the table's ``GROUP BY`` then names the job).

    Per status, the jobs per value: for every status but the most common,
    the ``column`` index is scanned against that status's rowids; the most
    common one is what remains of each value's total. Jobs with no value
    (``NULL``, not in the partial index) are what remains of each status.
    """
    index = INDEXED_COLUMNS[column]
    per_status = dict(storage.read_rows("SELECT final_status, count(*) FROM jobs GROUP BY 1"))
    if any(_group_problem(["final_status"], [status]) for status in per_status):
        return None
    per_value = dict(
        storage.read_rows(
            f"SELECT {column}, count(*) FROM jobs INDEXED BY {index} "
            f"WHERE {column} IS NOT NULL GROUP BY 1"
        )
    )
    if any(type(value) is not str for value in per_value):
        return None
    counts: dict[tuple[Any, ...], int] = {}
    if not per_status:
        return counts
    largest = max(per_status, key=lambda status: (per_status[status], status))
    remaining = dict(per_value)
    with_value: dict[str, int] = {}
    for status in sorted(per_status):
        if status == largest:
            continue
        rows = storage.read_rows(
            f"SELECT {column}, count(*) FROM jobs INDEXED BY {index} "
            f"WHERE {column} IS NOT NULL AND rowid IN "
            f"(SELECT rowid FROM jobs INDEXED BY {INDEXED_COLUMNS['final_status']} "
            "WHERE final_status = ?) "
            "GROUP BY 1",
            [status],
        )
        for value, count in rows:
            counts[(value, status)] = count
            remaining[value] -= count
            with_value[status] = with_value.get(status, 0) + count
    for value, count in remaining.items():
        if count:
            counts[(value, largest)] = count
        with_value[largest] = with_value.get(largest, 0) + count
    for status, total in per_status.items():
        if total - with_value.get(status, 0):
            counts[(None, status)] = total - with_value.get(status, 0)
    return counts


def _group_problem(keys: Sequence[str], values: Sequence[Any]) -> str | None:
    """Why a group's values could not have been written by Fabric, or ``None``."""
    for key, value in zip(keys, values, strict=True):
        if key == "final_status":
            if type(value) is not str or value not in JOB_STATUSES:
                return f"final_status {value!r} is not one of {', '.join(JOB_STATUSES)}"
        elif value is not None and type(value) is not str:
            return f"{key} is {value!r}, expected text or NULL"
    return None


class StoredQueries(FabricQueries):
    """:class:`~fabric_nb.queries.FabricQueries` answered by SQL from the open store.

    Same methods, same answers, same order (Fabric's: ``started_at`` as an
    instant, then ``job_id``); each reads and decodes only the rows it
    returns. Holds no jobs: every call reads the store as it is now.
    """

    def __init__(self, persistence: FabricPersistence) -> None:
        self._persistence = persistence
        self._built: FabricIndex | None = None

    @property
    def storage(self) -> FabricStorage:
        """The open storage the questions read."""
        return self._persistence.storage

    @property
    def index(self) -> FabricIndex:
        """The in-memory index, rebuilt from the store (every row decoded) on first use."""
        if self._built is None:
            self._built = FabricIndex(persistence=self._persistence)
        return self._built

    def _where(self, column: str, value: object) -> list[IngestedJob]:
        if not isinstance(value, str) or not _storable(frozenset([value])):
            return []  # the index holds stored text keys only
        return self.storage.select_jobs(f"{column} = ?", [value])

    def get_job(self, job_id: str) -> IngestedJob | None:
        """What happened to job ``job_id``? ``None`` when Fabric has not seen it."""
        found = self._where("job_id", job_id)
        return found[0] if found else None

    def get_job_history(self, job_id: str) -> IngestedJob | None:
        """The recorded history of job ``job_id`` (the latest record), or ``None``."""
        return self.get_job(job_id)

    def get_jobs_started_between(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[IngestedJob]:
        """Jobs that started in ``[since, until)``, oldest first; open ends when ``None``.

        :raises ValueError: a bound is a naive datetime.
        :raises TypeError: a bound is not a datetime.
        """
        check_bounds(since, until)
        return _selected(self.storage, FilterSelection({}, since, until, {}), outputs=True)

    def get_jobs_by_fingerprint(self, fingerprint: str) -> list[IngestedJob]:
        """Have we seen this fingerprint before? Every job that carried it."""
        return self._where("fingerprint", fingerprint)

    def get_jobs_by_profile(self, profile_id: str) -> list[IngestedJob]:
        """Jobs whose canonical proxy profile is ``profile_id``."""
        return self._where("canonical_proxy_profile", profile_id)

    def get_jobs_by_engine(self, engine: str) -> list[IngestedJob]:
        """Jobs run by ``engine``."""
        return self._where("engine_used", engine)

    def get_completed_jobs(self) -> list[IngestedJob]:
        """Jobs whose final status is COMPLETED."""
        return self._where("final_status", "COMPLETED")

    def get_failed_jobs(self) -> list[IngestedJob]:
        """Jobs whose final status is FAILED."""
        return self._where("final_status", "FAILED")

    def get_partial_jobs(self) -> list[IngestedJob]:
        """Jobs whose final status is PARTIAL."""
        return self._where("final_status", "PARTIAL")

    def get_outputs_for_job(self, job_id: str) -> list[IngestedOutput]:
        """The clip outputs of ``job_id`` in execution order; empty when unknown."""
        job = self.get_job(job_id)
        return [] if job is None else list(job.outputs)

    def get_all_jobs(self) -> list[IngestedJob]:
        """Every job Fabric remembers."""
        return self.storage.select_jobs()

    def count_jobs(self) -> int:
        """How many jobs Fabric remembers."""
        return int(self.storage.read_rows("SELECT count(*) FROM jobs")[0][0])

    def count_jobs_by_status(self, status: str) -> int:
        """How many jobs ended with ``status`` (exact); ``0`` for a status Fabric never accepts."""
        if status not in JOB_STATUSES:
            return 0
        return int(
            self.storage.read_rows("SELECT count(*) FROM jobs WHERE final_status = ?", [status])[0][
                0
            ]
        )
