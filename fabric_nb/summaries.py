"""Fact summaries of job history: counts, and shares shown beside their counts.

Each function takes the frames of :mod:`fabric_nb.frames` (so it summarises
exactly the rows an analyst selected) and returns a small DataFrame with
fixed columns and dtypes, empty when there is nothing to count. The same
summaries are methods of an open history (``fabric.status_counts()``), where
they take the filters of ``fabric.jobs()``.

:func:`status_counts`, :func:`daily_counts` and :func:`failure_reasons` take
``by=``: one jobs-frame column or a list of them (``"engine_used"``,
``["engine_used", "canonical_proxy_profile"]``), and then count within each
group. A share is always a count divided by another count, and the count it
is divided by stands beside it (``total``, ``out_of``).

These are counts of what happened. Nothing here scores, ranks "health",
predicts or recommends; an ordering by count or by duration is a sort of
recorded facts, nothing more.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TypeAlias, cast

import numpy as np
import pandas as pd

from .frames import HISTORY_COLUMN, INSTANT_DTYPE, JOBS_FRAME_DTYPES, TEXT_DTYPE
from .models import CLIP_STATUSES, JOB_STATUSES

__all__ = [
    "NOT_RECORDED",
    "WEEKS_FROM_MONDAY",
    "By",
    "daily_counts",
    "duration_stats",
    "engine_profile_table",
    "failure_reasons",
    "repeated_failures",
    "retries",
    "slowest_jobs",
    "slowest_profiles",
    "status_counts",
    "status_table",
    "usage_over_time",
]

#: Levels a failure reason is recorded at, in the order :func:`failure_reasons` sorts them.
_LEVELS: Final = pd.CategoricalDtype(["job", "clip"], ordered=False)
#: Columns to group by: one column name, or a list of them (``None``: no grouping).
By: TypeAlias = str | Sequence[str] | None
#: The ``freq`` of :func:`daily_counts` for weeks that START on Monday 00:00 UTC,
#: each labelled by its Monday (pandas' ``"W-MON"`` means weeks that END on Monday).
WEEKS_FROM_MONDAY: Final[str] = "weeks-from-monday"
#: The label of a group whose value was not recorded, where a label must be text.
NOT_RECORDED: Final = "(not recorded)"
#: For a clip, the outputs-frame column that stands for a jobs-frame column.
_CLIP_COLUMN: Final = {
    "engine_used": "engine_used",
    "canonical_proxy_profile": "proxy_profile_used",
    "resolve_preset_used": "resolve_preset_used",
}


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Refuse, by name, anything but a frame with ``columns`` (made by ``what``)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"expected a DataFrame from {what}() (or fabric.jobs()), got {type(frame).__name__}"
        )
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {', '.join(missing)}; pass a frame from {what}")


def _values(series: pd.Series) -> list[Any]:
    """Plain Python values with ``None`` for missing, so counting never meets ``pd.NA``."""
    values = series.astype(object)
    return values.where(series.notna().to_numpy(), None).tolist()


def _by(frame: pd.DataFrame, by: By, *, forbidden: Sequence[str] = ()) -> list[str]:
    """``by`` as a list of columns of ``frame``; an unknown column is a clear error."""
    if by is None:
        return []
    columns = [by] if isinstance(by, str) else list(by)
    if not columns:
        raise ValueError("by=[] groups by nothing; pass None for no grouping")
    for column in columns:
        if not isinstance(column, str):
            raise TypeError(f"by takes column names, got {type(column).__name__}")
        if column not in frame.columns or column in forbidden:
            allowed = [str(c) for c in frame.columns if c not in forbidden]
            near = difflib.get_close_matches(column, allowed, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(
                f"cannot group by {column!r}{hint}: the columns are {', '.join(allowed)}"
            )
    return columns


def _owners(frame: pd.DataFrame, job_ids: list[Any], keyed: bool) -> list[Any]:
    """What ties a clip to its job: the ``job_id``, or with ``keyed`` (both frames come
    from several histories, where one id can name two jobs) ``(history, job_id)``."""
    if not keyed:
        return job_ids
    return list(zip(_values(frame[HISTORY_COLUMN]), job_ids, strict=True))


def _key_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """Sort key of a group: ascending values, missing last, never comparing None to text."""
    return tuple((v is None, v if v is not None else "") for v in key)


def _group_keys(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """Each row's values of ``columns``, as tuples (``None`` for missing)."""
    if not columns:
        return [()] * len(frame)
    return list(zip(*(_values(frame[c]) for c in columns), strict=True))


def _rows_by_group(
    keys: Sequence[tuple[Any, ...]],
) -> tuple[list[tuple[Any, ...]], dict[tuple[Any, ...], list[int]]]:
    """The groups in their sorted order, and the positions of each group's rows."""
    rows: dict[tuple[Any, ...], list[int]] = {}
    for position, key in enumerate(keys):
        rows.setdefault(key, []).append(position)
    return sorted(rows, key=_key_order), rows


def _group_index(keys: list[tuple[Any, ...]], dtypes: Sequence[Any]) -> Any:
    """An index of group keys with the dtypes of the grouped columns (text stays ``string``)."""
    arrays: list[Any] = []
    for position, dtype in enumerate(dtypes):
        values = [key[position] for key in keys]
        if isinstance(dtype, pd.CategoricalDtype):
            arrays.append(pd.Categorical(values, dtype=dtype))
        elif dtype == "object" or isinstance(dtype, pd.StringDtype):
            arrays.append(pd.array(values, dtype=TEXT_DTYPE))
        else:
            arrays.append(pd.array(values, dtype=dtype))
    return arrays


def _shares(counts: np.ndarray, totals: np.ndarray) -> pd.arrays.FloatingArray:
    """``counts / totals`` as ``Float64``; ``<NA>`` where the total is 0 (0 of 0 is no share)."""
    empty = totals == 0
    return pd.arrays.FloatingArray(
        np.divide(counts, np.where(empty, 1, totals), dtype=float), empty.copy()
    )


def status_counts(frame: pd.DataFrame, by: By = None) -> pd.DataFrame:
    """How many rows ended in each status, with the share of all rows (or of their group).

    Given a jobs frame, counts jobs by ``final_status`` (COMPLETED, FAILED,
    PARTIAL); given an outputs frame, counts clips by ``status`` (COMPLETED,
    FAILED). Every status is listed, zero included. Columns: ``count``
    (``int64``), ``total`` (``int64``, the rows it is counted out of) and
    ``share`` (``count / total`` as ``Float64``, ``<NA>`` when ``total`` is 0).

    With ``by`` (a column or a list of columns of the frame), the index is
    (``by``..., status): each group lists every status, and ``total`` and
    ``share`` are the group's. Groups are sorted by value, missing (``<NA>``) last.

    :raises ValueError: the frame has neither ``final_status`` nor ``status``,
        or ``by`` names no column of it.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            "status_counts needs a jobs frame or an outputs frame (fabric.jobs(), "
            f"fabric.outputs()), got {type(frame).__name__}"
        )
    if "final_status" in frame.columns:
        column, statuses = "final_status", JOB_STATUSES
    elif "status" in frame.columns:
        column, statuses = "status", CLIP_STATUSES
    else:
        raise ValueError(
            "status_counts needs a jobs frame (final_status) or an outputs frame (status)"
        )
    columns = _by(frame, by, forbidden=(column,))
    keys = _group_keys(frame, columns)
    seen = Counter(zip(keys, _values(frame[column]), strict=True))
    dtypes = [frame[c].dtype for c in columns]
    return _status_table(seen, columns, dtypes, column, statuses)


def status_table(counts: Mapping[tuple[Any, ...], int], by: By = None) -> pd.DataFrame:
    """:func:`status_counts` of a jobs frame, from its counts per (``by`` values..., status).

    What a ``GROUP BY`` of the stored jobs gives (see
    :func:`fabric_nb._stored_queries.status_groups`): the same table as
    ``status_counts(jobs_frame, by)``, without building the frame. ``by``
    names text columns of the jobs frame; ``None`` values are missing ones.
    """
    columns = [] if by is None else [by] if isinstance(by, str) else list(by)
    seen = {(tuple(key[:-1]), key[-1]): count for key, count in counts.items()}
    dtypes = [JOBS_FRAME_DTYPES[c] for c in columns]
    return _status_table(seen, columns, dtypes, "final_status", JOB_STATUSES)


def _status_table(
    seen: Mapping[tuple[tuple[Any, ...], Any], int],
    columns: list[str],
    dtypes: list[Any],
    column: str,
    statuses: Sequence[str],
) -> pd.DataFrame:
    """The status table of counts per (group, status); groups sorted, missing last."""
    per_group: Counter[tuple[Any, ...]] = Counter()
    for (group, _), count in seen.items():
        per_group[group] += count
    groups = sorted(per_group, key=_key_order) if columns else [()]
    rows = [(group, status) for group in groups for status in statuses]
    counts = np.array([seen.get(row, 0) for row in rows], dtype=np.int64)
    totals = np.array([per_group.get(group, 0) for group, _ in rows], dtype=np.int64)
    data = {"count": counts, "total": totals, "share": _shares(counts, totals)}
    status_index = pd.array([status for _, status in rows], dtype=TEXT_DTYPE)
    if not columns:
        return pd.DataFrame(data, index=pd.Index(status_index, name=column))
    arrays = [*_group_index([group for group, _ in rows], dtypes), status_index]
    index = pd.MultiIndex.from_arrays(arrays, names=[*columns, column])
    return pd.DataFrame(data, index=index)


def _joined(values: Iterable[str | None]) -> str | None:
    """Distinct recorded values, sorted and joined with ", "; ``None`` when none was recorded."""
    known = sorted({v for v in values if v is not None})
    return ", ".join(known) if known else None


def failure_reasons(
    jobs: pd.DataFrame, outputs: pd.DataFrame | None = None, by: By = None
) -> pd.DataFrame:
    """Recorded failure reasons, one row per reason, with the share of jobs or clips it hit.

    Two kinds of reason are counted:

    - ``level="job"``: a job's ``validation_error``, counted in jobs, out of
      the jobs in ``jobs``;
    - ``level="clip"``: a clip's ``failure_reason``, counted in clips, out of
      the clips in ``outputs`` whose job is in ``jobs``.

    Columns: ``level``, ``reason``, then the ``by`` columns when given, then
    ``count`` (``int64``), ``out_of`` (``int64``: the jobs or clips counted,
    in the row's group), ``share`` (``count / out_of``, ``Float64``), and
    ``stages``, ``engines``, ``profiles`` (``string``): the distinct
    ``validation_stage`` of the jobs, and engines and profiles (the clip's
    own for clip rows) the reason was seen with, sorted and joined with
    ", ", ``<NA>`` when none was recorded.

    ``by`` (jobs-frame columns, e.g. ``"engine_used"`` or
    ``["engine_used", "canonical_proxy_profile"]``) splits each reason by
    group. A clip is grouped by its own ``engine_used``,
    ``proxy_profile_used`` and ``resolve_preset_used`` for those columns, and
    by its job's value for any other column (``validation_stage``...).

    Only recorded reasons are counted: a failure without a reason text does
    not appear here (:func:`status_counts` counts every failure). Rows are
    sorted by ``count`` descending, then ``reason``, level (job first) and the
    ``by`` values ascending (missing last), so the order is fully determined.

    :raises ValueError: a frame lacks the columns this needs, or ``by`` names
        no column of ``jobs``.
    """
    needed = ("job_id", "validation_error", "validation_stage", "engine_used")
    _require(jobs, (*needed, "canonical_proxy_profile"), "jobs_frame")
    columns = _by(jobs, by)
    job_ids = _values(jobs["job_id"])
    stages = _values(jobs["validation_stage"])
    job_keys = _group_keys(jobs, columns)
    counts: Counter[tuple[str, str, tuple[Any, ...]]] = Counter()
    out_of: Counter[tuple[str, tuple[Any, ...]]] = Counter(("job", key) for key in job_keys)
    seen_with: defaultdict[tuple[str, str, tuple[Any, ...]], list[set[Any]]] = defaultdict(
        lambda: [set(), set(), set()]
    )
    for reason, key, stage, engine, profile in zip(
        _values(jobs["validation_error"]),
        job_keys,
        stages,
        _values(jobs["engine_used"]),
        _values(jobs["canonical_proxy_profile"]),
        strict=True,
    ):
        if reason is not None:
            row = ("job", reason, key)
            counts[row] += 1
            for found, value in zip(seen_with[row], (stage, engine, profile), strict=True):
                found.add(value)
    if outputs is not None:
        _require(
            outputs,
            ("job_id", "failure_reason", "engine_used", "proxy_profile_used"),
            "outputs_frame",
        )
        keyed = HISTORY_COLUMN in jobs.columns and HISTORY_COLUMN in outputs.columns
        position = {owner: i for i, owner in enumerate(_owners(jobs, job_ids, keyed))}
        own = {c: _values(outputs[_CLIP_COLUMN[c]]) for c in columns if c in _CLIP_COLUMN}
        clip_owners = _owners(outputs, _values(outputs["job_id"]), keyed)
        clip_jobs = [position.get(owner) for owner in clip_owners]
        for row_number, (where, reason, engine, profile) in enumerate(
            zip(
                clip_jobs,
                _values(outputs["failure_reason"]),
                _values(outputs["engine_used"]),
                _values(outputs["proxy_profile_used"]),
                strict=True,
            )
        ):
            if where is None:
                continue  # a clip of a job that is not selected
            key = tuple(
                own[c][row_number] if c in own else job_keys[where][i]
                for i, c in enumerate(columns)
            )
            out_of["clip", key] += 1
            if reason is not None:
                row = ("clip", reason, key)
                counts[row] += 1
                for found, value in zip(
                    seen_with[row], (stages[where], engine, profile), strict=True
                ):
                    found.add(value)

    def order(item: tuple[tuple[str, str, tuple[Any, ...]], int]) -> tuple[Any, ...]:
        (level, reason, key), count = item
        return (-count, reason, level != "job", *_key_order(key))

    rows = [row for row, _ in sorted(counts.items(), key=order)]
    found_counts = np.array([counts[row] for row in rows], dtype=np.int64)
    totals = np.array([out_of[level, key] for level, _, key in rows], dtype=np.int64)
    data: dict[str, Any] = {
        "level": pd.Categorical([level for level, _, _ in rows], dtype=_LEVELS),
        "reason": pd.array([reason for _, reason, _ in rows], dtype=TEXT_DTYPE),
    }
    keys = [key for _, _, key in rows]
    data.update(zip(columns, _group_index(keys, [jobs[c].dtype for c in columns]), strict=True))
    data["count"] = found_counts
    data["out_of"] = totals
    data["share"] = _shares(found_counts, totals)
    for i, name in enumerate(("stages", "engines", "profiles")):
        data[name] = pd.array([_joined(seen_with[row][i]) for row in rows], dtype=TEXT_DTYPE)
    return pd.DataFrame(data)


def engine_profile_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Job counts by engine, profile and final status; one row per (engine, profile).

    Columns: ``engine_used``, ``canonical_proxy_profile`` (``string``,
    ``<NA>`` where the job recorded none, e.g. a pre-job failure), then one
    ``int64`` column per status (COMPLETED, FAILED, PARTIAL) and ``total``.
    Rows are sorted by engine, then profile, missing last.

    :raises ValueError: the frame lacks the columns this needs.
    """
    _require(jobs, ("engine_used", "canonical_proxy_profile", "final_status"), "jobs_frame")
    seen = Counter(
        zip(
            _values(jobs["engine_used"]),
            _values(jobs["canonical_proxy_profile"]),
            _values(jobs["final_status"]),
            strict=True,
        )
    )
    pairs = sorted(
        {(engine, profile) for engine, profile, _ in seen},
        key=lambda pair: tuple((v is None, v or "") for v in pair),
    )
    columns: dict[str, Any] = {
        "engine_used": pd.array([e for e, _ in pairs], dtype=TEXT_DTYPE),
        "canonical_proxy_profile": pd.array([p for _, p in pairs], dtype=TEXT_DTYPE),
    }
    total = np.zeros(len(pairs), dtype=np.int64)
    for status in JOB_STATUSES:
        counts = np.array([seen.get((e, p, status), 0) for e, p in pairs], dtype=np.int64)
        columns[status] = counts
        total += counts
    columns["total"] = total
    return pd.DataFrame(columns)


def _resample(one_hot: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Counts per period, as pandas' ``resample(freq)`` makes them (or Monday-start weeks)."""
    if freq == WEEKS_FROM_MONDAY:
        return one_hot.resample("W-MON", closed="left", label="left").sum()
    return one_hot.resample(freq).sum()


def _check_freq(freq: str) -> None:
    if freq == WEEKS_FROM_MONDAY:
        return
    if not isinstance(freq, str):
        raise TypeError(
            f"freq takes a pandas frequency alias such as 'D', got {type(freq).__name__}"
        )
    try:
        pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise ValueError(
            f"freq={freq!r} is not a pandas frequency: write e.g. 'D' (days), 'h' (hours), "
            "'W-MON' (weeks ending on Monday), WEEKS_FROM_MONDAY, or 'MS' (months)"
        ) from None


def daily_counts(jobs: pd.DataFrame, freq: str = "D", by: By = None) -> pd.DataFrame:
    """Jobs started per period and final status, with each status's share of the period.

    Periods are those of pandas' ``jobs.set_index("started_at").resample(freq)``,
    in UTC, with pandas' meaning of the alias and pandas' labels: ``"D"``
    (the default) is UTC days, ``"h"`` hours, ``"MS"`` months labelled by
    their first day; ``"W-MON"`` is weeks that END on Monday, each labelled
    by that Monday, as in pandas. For weeks that START on Monday 00:00 UTC,
    labelled by their Monday, pass :data:`WEEKS_FROM_MONDAY`. Periods between
    the first and the last job that saw no job are rows of zeros.

    Columns: one ``int64`` count per status (COMPLETED, FAILED, PARTIAL),
    ``total``, then ``COMPLETED_share``, ``FAILED_share``, ``PARTIAL_share``
    (``Float64``: the status's count divided by ``total``, ``<NA>`` when the
    period has no job). The index is ``period`` (``datetime64[us, UTC]``).

    With ``by`` (a column or a list of columns), the index is (``by``...,
    ``period``) and every group lists the same periods (the whole frame's),
    so groups compare row by row: ``daily_counts(jobs, "W-MON",
    by="engine_used").loc["ffmpeg"]`` and ``.loc["resolve"]`` have one index.

    :raises ValueError: the frame lacks the columns this needs, ``freq`` is
        not a pandas frequency, or ``by`` names no column.
    """
    _require(jobs, ("started_at", "final_status"), "jobs_frame")
    _check_freq(freq)
    columns = _by(jobs, by, forbidden=("started_at", "final_status"))
    started = pd.DatetimeIndex(jobs["started_at"]).tz_convert("UTC").as_unit("us")
    statuses = _values(jobs["final_status"])
    one_hot = pd.DataFrame(
        {s: np.array([v == s for v in statuses], dtype=np.int64) for s in JOB_STATUSES},
        index=started,
    )
    whole = _resample(one_hot, freq) if len(one_hot) else one_hot
    periods = pd.DatetimeIndex(whole.index, name="period").tz_convert("UTC").as_unit("us")
    if not columns:
        return _with_totals(whole.set_axis(periods))
    keys = _group_keys(jobs, columns)
    groups = sorted(set(keys), key=_key_order)
    position = {group: i for i, group in enumerate(groups)}
    codes = np.fromiter(map(position.__getitem__, keys), dtype=np.int64, count=len(keys))
    pieces = []
    for code in range(len(groups)):
        mine = one_hot[codes == code]
        counts = _resample(mine, freq)
        counts.index = pd.DatetimeIndex(counts.index).tz_convert("UTC").as_unit("us")
        pieces.append(counts.reindex(periods, fill_value=0))
    group_rows = [group for group in groups for _ in range(len(periods))]
    arrays = _group_index(group_rows, [jobs[c].dtype for c in columns])
    tiled = periods[np.tile(np.arange(len(periods)), len(groups))]
    index = pd.MultiIndex.from_arrays(
        [*arrays, tiled],
        names=[*columns, "period"],
    )
    if pieces:
        stacked = pd.concat(pieces, ignore_index=True)
    else:
        stacked = pd.DataFrame({s: np.zeros(0, dtype=np.int64) for s in JOB_STATUSES})
    return _with_totals(stacked.set_axis(index))


def _with_totals(counts: pd.DataFrame) -> pd.DataFrame:
    """Status counts as ``int64``, then ``total``, then each status's share of the total."""
    counts = counts[list(JOB_STATUSES)].astype(np.int64)
    total = counts.sum(axis=1).to_numpy(dtype=np.int64)
    counts["total"] = total
    for status in JOB_STATUSES:
        counts[f"{status}_share"] = _shares(counts[status].to_numpy(), total)
    counts.columns = pd.Index(list(counts.columns))
    return counts


# -- one-call answers ---------------------------------------------------------------


def repeated_failures(outputs: pd.DataFrame, *, min_jobs: int = 2) -> pd.DataFrame:
    """Source files whose clip failed in at least ``min_jobs`` different jobs.

    One row per ``source_path`` (as recorded) that failed in ``min_jobs`` or
    more jobs. Columns: ``source_path`` (``string``), ``failed_jobs`` (jobs
    in which a clip of it failed), ``failed_clips`` and ``completed_clips``
    (its clips in each status, across all jobs of ``outputs``), ``jobs``
    (jobs it appeared in), all ``int64``; ``first_seen`` and ``last_seen``
    (``started_at`` of the first and last job it appeared in); ``reasons``
    (the distinct ``failure_reason`` texts, sorted, joined with " | ").
    Sorted by ``failed_jobs`` descending, then ``source_path``.

    :raises ValueError: ``outputs`` is not an outputs frame, or ``min_jobs`` < 1.
    """
    _require(
        outputs,
        ("job_id", "source_path", "status", "failure_reason", "started_at"),
        "outputs_frame",
    )
    if min_jobs < 1:
        raise ValueError(f"min_jobs must be >= 1, got {min_jobs}")
    failed = (outputs["status"].astype(object) == "FAILED").to_numpy(dtype=bool)
    known = outputs["source_path"].notna().to_numpy()
    # Count failed jobs per source on the failed clips only (usually few), then
    # look at every clip of the sources that qualify.
    failing = outputs.loc[failed & known, ["source_path", "job_id"]].astype(object)
    failed_jobs = failing.groupby("source_path", sort=False)["job_id"].nunique()
    failed_jobs = failed_jobs[failed_jobs >= min_jobs]
    mine = outputs["source_path"].isin(failed_jobs.index).to_numpy() & known
    clips = pd.DataFrame(
        {
            "source_path": outputs["source_path"].to_numpy(dtype=object)[mine],
            "job_id": outputs["job_id"].to_numpy(dtype=object)[mine],
            "failed": failed[mine],
            "started_at": outputs["started_at"].array[mine],
            "reason": _values(outputs["failure_reason"][mine]),
        }
    )
    grouped = clips.groupby("source_path", sort=True)
    reasons = {
        source: " | ".join(sorted({r for r in rs if r is not None})) or None
        for source, rs in clips[clips["failed"]].groupby("source_path")["reason"]
    }
    table = pd.DataFrame(
        {
            "failed_jobs": failed_jobs.reindex(grouped.size().index),
            "failed_clips": grouped["failed"].sum(),
            "completed_clips": grouped.size() - grouped["failed"].sum(),
            "jobs": grouped["job_id"].nunique(),
            "first_seen": grouped["started_at"].min(),
            "last_seen": grouped["started_at"].max(),
        }
    )
    table = table.rename_axis("source_path").reset_index()
    table = table.sort_values(
        ["failed_jobs", "source_path"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    sources = table["source_path"].tolist()
    return pd.DataFrame(
        {
            "source_path": pd.array(sources, dtype=TEXT_DTYPE),
            **{
                name: table[name].to_numpy(dtype=np.int64)
                for name in ("failed_jobs", "failed_clips", "completed_clips", "jobs")
            },
            "first_seen": _instants_of(table["first_seen"]),
            "last_seen": _instants_of(table["last_seen"]),
            "reasons": pd.array([reasons.get(s) for s in sources], dtype=TEXT_DTYPE),
        }
    )


def retries(outputs: pd.DataFrame) -> pd.DataFrame:
    """What happened to each source file after it first failed: did a later run get it?

    A source's *runs* are its clips in every job of ``outputs``, in the
    order their jobs started (then ``job_id``, then clip index). One row per
    ``source_path`` (as recorded) that failed at least once. Columns:
    ``source_path`` (``string``); ``runs``, ``failed_runs``,
    ``completed_runs`` (``int64``); ``first_failed_at`` (``started_at`` of
    the job of its first failed run); ``recovered`` (``boolean``: a
    COMPLETED run started after that one) and ``recovered_at`` (the start of
    the first such run, ``NaT`` when none); ``runs_to_recover`` (``Int64``:
    the runs from the first failure to that success, both counted, ``<NA>``
    when none); ``completed_before`` (``boolean``: a COMPLETED run came
    BEFORE the first failure, which a count of completed clips does not
    tell apart). Sorted by ``first_failed_at``, then ``source_path``.

    A re-run of one ``job_id`` replaces its earlier result, so runs of one
    job that were replaced are not here (see "What the history does not hold").

    :raises ValueError: ``outputs`` is not an outputs frame.
    """
    _require(
        outputs, ("job_id", "source_path", "status", "clip_index", "started_at"), "outputs_frame"
    )
    known = outputs["source_path"].notna().to_numpy(dtype=bool)
    sources = outputs["source_path"].to_numpy(dtype=object)[known]
    statuses = outputs["status"].astype(object).to_numpy()[known]
    started = pd.DatetimeIndex(outputs["started_at"].array[known]).tz_convert("UTC")
    order = np.lexsort(
        (
            outputs["clip_index"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)[known],
            outputs["job_id"].to_numpy(dtype=object)[known].astype(str),
            started.asi8,
        )
    )
    runs: dict[str, list[int]] = defaultdict(list)
    for position in order:
        runs[sources[position]].append(int(position))
    rows = []
    for source, positions in runs.items():
        failed_at = [p for p in positions if statuses[p] == "FAILED"]
        if not failed_at:
            continue
        first = positions.index(failed_at[0])
        later = [
            i for i in range(first + 1, len(positions)) if statuses[positions[i]] == "COMPLETED"
        ]
        completed = sum(statuses[p] == "COMPLETED" for p in positions)
        rows.append(
            (
                source,
                len(positions),
                len(failed_at),
                completed,
                started[failed_at[0]],
                started[positions[later[0]]] if later else pd.NaT,
                later[0] - first + 1 if later else None,
                any(statuses[positions[i]] == "COMPLETED" for i in range(first)),
            )
        )
    rows.sort(key=lambda row: (row[4], row[0]))
    column: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 8
    recovered_at = pd.DatetimeIndex(list(column[5]), tz="UTC").as_unit("us")
    return pd.DataFrame(
        {
            "source_path": pd.array(list(column[0]), dtype=TEXT_DTYPE),
            "runs": np.array(column[1], dtype=np.int64),
            "failed_runs": np.array(column[2], dtype=np.int64),
            "completed_runs": np.array(column[3], dtype=np.int64),
            "first_failed_at": pd.DatetimeIndex(list(column[4]), tz="UTC").as_unit("us"),
            "recovered": pd.array(np.asarray(recovered_at.notna(), dtype=bool), dtype="boolean"),
            "recovered_at": recovered_at,
            "runs_to_recover": pd.array(list(column[6]), dtype="Int64"),
            "completed_before": pd.array(list(column[7]), dtype="boolean"),
        }
    )


def _instants_of(values: pd.Series) -> Any:
    """A column of instants as ``datetime64[us, UTC]``, whatever unit or zone it came in."""
    index = pd.DatetimeIndex(values)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return index.as_unit("us").array


#: The columns :func:`slowest_jobs` keeps from the jobs frame, in order.
_SLOWEST_COLUMNS: Final = (
    "job_id",
    "final_status",
    "started_at",
    "engine_used",
    "canonical_proxy_profile",
    "total_clips",
    "duration_seconds",
)


def slowest_jobs(jobs: pd.DataFrame, top: int = 10, *, per_clip: bool = False) -> pd.DataFrame:
    """The ``top`` jobs with the longest ``duration_seconds``, longest first.

    Columns: ``job_id``, ``final_status``, ``started_at``, ``engine_used``,
    ``canonical_proxy_profile``, ``total_clips``, ``duration_seconds``, and
    ``average_seconds_per_clip`` (``Float64``): the job's duration divided by
    its ``total_clips``, an AVERAGE over the job, since Fabric keeps no
    per-clip times (``<NA>`` for a job without clips). With ``per_clip=True``
    jobs are sorted by that average instead. Jobs without a duration (no
    ``completed_at``) are left out; ties keep Fabric's job order. A negative
    duration (a clock that went wrong) is a recorded fact and sorts last.

    :raises ValueError: ``jobs`` is not a jobs frame, or ``top`` < 1.
    """
    _require(jobs, _SLOWEST_COLUMNS, "jobs_frame")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    table = jobs.loc[:, list(_SLOWEST_COLUMNS)]
    clips = table["total_clips"].astype("Int64")
    average = table["duration_seconds"].astype("Float64") / clips.where(clips > 0).astype("Float64")
    table = table.assign(average_seconds_per_clip=average)
    key = "average_seconds_per_clip" if per_clip else "duration_seconds"
    table = table[table[key].notna()]
    table = table.sort_values(key, ascending=False, kind="stable")
    return table.head(top).reset_index(drop=True)


def slowest_profiles(jobs: pd.DataFrame, by: str = "canonical_proxy_profile") -> pd.DataFrame:
    """Profiles (or another column's values) ranked by time per clip, slowest first.

    One row per value of ``by`` (missing last among equals), from the jobs
    with a duration and at least one clip: ``jobs`` and ``clips``
    (``int64``), ``total_seconds`` (``Float64``, their durations summed),
    ``seconds_per_clip`` (``total_seconds / clips``: the profile's time per
    clip over all its jobs, what sorts the rows) and
    ``median_seconds_per_clip`` (the median over its jobs of each job's
    duration divided by its clips, which one long job moves less). Both are
    averages over jobs, since Fabric keeps no per-clip times.

    :raises ValueError: ``jobs`` is not a jobs frame or ``by`` names no column.
    """
    _require(jobs, ("duration_seconds", "total_clips"), "jobs_frame")
    (column,) = _by(jobs, by, forbidden=("duration_seconds", "total_clips"))
    seconds = jobs["duration_seconds"].astype("Float64")
    clips = jobs["total_clips"].astype("Int64")
    kept = (seconds.notna() & clips.gt(0).fillna(False)).to_numpy(dtype=bool)
    durations = seconds[kept].to_numpy(dtype=float)
    counts = clips[kept].to_numpy(dtype=np.int64)
    keys = [key for key, keep in zip(_group_keys(jobs, [column]), kept, strict=True) if keep]
    groups, rows = _rows_by_group(keys)
    n_jobs = np.array([len(rows[g]) for g in groups], dtype=np.int64)
    n_clips = np.array([int(counts[rows[g]].sum()) for g in groups], dtype=np.int64)
    totals = np.array([float(durations[rows[g]].sum()) for g in groups], dtype=float)
    medians = [float(np.median(durations[rows[g]] / counts[rows[g]])) for g in groups]
    table = pd.DataFrame(
        {
            "jobs": n_jobs,
            "clips": n_clips,
            "total_seconds": pd.array(totals, dtype="Float64"),
            "seconds_per_clip": pd.array(totals / np.maximum(n_clips, 1), dtype="Float64"),
            "median_seconds_per_clip": pd.array(medians, dtype="Float64"),
        },
        index=pd.Index(_group_index(groups, [jobs[column].dtype])[0], name=column),
    )
    return table.sort_values("seconds_per_clip", ascending=False, kind="stable")


def duration_stats(
    jobs: pd.DataFrame,
    by: By = None,
    freq: str | None = None,
    q: Sequence[float] = (0.5, 0.95),
    *,
    per_clip: bool = False,
) -> pd.DataFrame:
    """Quantiles of job duration (or of seconds per clip), per group and period.

    One row per group of ``by`` (a column or a list of columns) and, with
    ``freq``, per period of ``started_at`` in UTC, with pandas' resample
    meaning of the alias and its labels (as :func:`daily_counts`:
    ``"MS"`` months labelled by their first day, ``"W-MON"`` weeks ending on
    Monday, :data:`WEEKS_FROM_MONDAY` weeks starting on Monday). Only groups
    and periods that have a job with a duration are rows. Groups are sorted
    by value, missing last; periods ascending.

    Columns: ``jobs`` (``int64``, the jobs each figure is computed from), then
    one ``Float64`` column per quantile, ``p50_seconds``, ``p95_seconds`` ...
    (``p50_seconds_per_clip`` ... with ``per_clip``), computed as pandas'
    ``quantile`` does (linear interpolation between the two nearest jobs).
    Jobs without a duration (no ``completed_at``) are left out, and with
    ``per_clip`` also jobs without clips. Seconds per clip is the job's
    duration divided by its ``total_clips``: an average over the job, since
    Fabric keeps no per-clip times. The index is (``by``..., ``period``),
    or a one-row ``RangeIndex`` without either.

    :raises ValueError: ``jobs`` is not a jobs frame, ``by`` names no column,
        ``freq`` is not a pandas frequency, or a quantile is not in [0, 1].
    """
    _require(jobs, ("started_at", "duration_seconds", "total_clips"), "jobs_frame")
    quantiles = _quantiles(q)
    if freq is not None:
        _check_freq(freq)
    columns = _by(jobs, by, forbidden=("started_at", "duration_seconds"))
    seconds = jobs["duration_seconds"].astype("Float64")
    if per_clip:
        clips = jobs["total_clips"].astype("Int64")
        seconds = seconds / clips.where(clips > 0).astype("Float64")
    known = seconds.notna().to_numpy(dtype=bool)
    values = seconds[known].to_numpy(dtype=float)
    keys = [key for key, kept in zip(_group_keys(jobs, columns), known, strict=True) if kept]
    if freq is not None:
        started = pd.DatetimeIndex(jobs["started_at"][known]).tz_convert("UTC").as_unit("us")
        keys = [(*key, period) for key, period in zip(keys, _periods(started, freq), strict=True)]
    ordered, rows = _rows_by_group(keys)
    unit = "seconds_per_clip" if per_clip else "seconds"
    table: dict[str, Any] = {
        "jobs": np.fromiter((len(rows[key]) for key in ordered), dtype=np.int64, count=len(ordered))
    }
    for name, quantile in quantiles:
        figures = [float(np.quantile(values[rows[key]], quantile)) for key in ordered]
        table[f"{name}_{unit}"] = pd.array(figures, dtype="Float64")
    if not columns and freq is None:
        return pd.DataFrame(table, index=pd.RangeIndex(len(ordered)))
    levels = _group_index(
        [key[: len(columns)] for key in ordered], [jobs[c].dtype for c in columns]
    )
    names = list(columns)
    if freq is not None:
        levels.append(pd.DatetimeIndex([key[-1] for key in ordered], tz="UTC").as_unit("us"))
        names.append("period")
    if len(levels) == 1:
        return pd.DataFrame(table, index=pd.Index(levels[0], name=names[0]))
    return pd.DataFrame(table, index=pd.MultiIndex.from_arrays(levels, names=names))


def _quantiles(q: Sequence[float]) -> list[tuple[str, float]]:
    """``(column prefix, quantile)`` pairs, e.g. ``("p95", 0.95)``; each checked."""
    if isinstance(q, str | bytes) or not isinstance(q, Sequence) or not q:
        raise ValueError(f"q must be a non-empty sequence of quantiles in [0, 1], got {q!r}")
    pairs = []
    for quantile in q:
        if isinstance(quantile, bool) or not isinstance(quantile, int | float):
            raise ValueError(f"a quantile must be a number in [0, 1], got {quantile!r}")
        if not 0 <= quantile <= 1:
            raise ValueError(f"a quantile must be in [0, 1], got {quantile!r}")
        pairs.append((f"p{quantile * 100:g}", float(quantile)))
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError(f"q lists a quantile twice: {q!r}")
    return pairs


def _periods(started: pd.DatetimeIndex, freq: str) -> list[pd.Timestamp]:
    """The resample period (its label) each instant falls in, as :func:`daily_counts` bins."""
    labels: list[Any] = [None] * len(started)
    if not len(started):
        return labels
    positions = pd.Series(np.arange(len(started)), index=started)
    if freq == WEEKS_FROM_MONDAY:
        bins = positions.resample("W-MON", closed="left", label="left")
    else:
        bins = positions.resample(freq)
    for label, chunk in bins:
        for position in chunk.to_numpy():
            labels[position] = pd.Timestamp(cast(Any, label)).tz_convert("UTC")
    return labels


def usage_over_time(
    jobs: pd.DataFrame, by: str = "canonical_proxy_profile", freq: str = "W-MON"
) -> pd.DataFrame:
    """Jobs started per period for each value of ``by``: which profiles (or engines) were in use.

    One row per period (as :func:`daily_counts` makes them: pandas' meaning of
    ``freq``, or :data:`WEEKS_FROM_MONDAY`), one ``int64`` column per value of
    ``by`` seen in ``jobs`` (sorted; a job that recorded none is counted in
    "(not recorded)", last), then ``total``. Index ``period``
    (``datetime64[us, UTC]``). ``usage_over_time(jobs)["proxy_h264_low"]``
    equals ``daily_counts(jobs, freq, by="canonical_proxy_profile")["total"]``
    for that profile.

    :raises ValueError: ``jobs`` is not a jobs frame, ``by`` names no column,
        or ``freq`` is not a pandas frequency.
    """
    counts = daily_counts(jobs, freq, by=by)["total"]
    if counts.empty:
        empty = pd.DatetimeIndex([], dtype=INSTANT_DTYPE, name="period")
        return pd.DataFrame({"total": np.zeros(0, dtype=np.int64)}, index=empty)
    labels = [NOT_RECORDED if v is pd.NA else str(v) for v in counts.index.get_level_values(0)]
    periods = counts.index.get_level_values("period")
    table = pd.DataFrame({"value": labels, "period": periods, "count": counts.to_numpy()})
    wide = table.pivot(index="period", columns="value", values="count")
    order = sorted(c for c in wide.columns if c != NOT_RECORDED)
    order += [NOT_RECORDED] if NOT_RECORDED in wide.columns else []
    wide = wide[order].astype(np.int64)
    wide["total"] = wide.sum(axis=1).astype(np.int64)
    wide.columns = pd.Index(list(wide.columns), name=by)
    wide.index = pd.DatetimeIndex(wide.index, name="period").tz_convert("UTC").as_unit("us")
    return wide
