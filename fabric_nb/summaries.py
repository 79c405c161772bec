"""Fact summaries of job history: counts, and shares shown beside their counts.

Each function takes the frames of :mod:`fabric_nb.frames` (so it summarises
exactly the rows an analyst selected) and returns a small DataFrame with
fixed columns and dtypes, empty when there is nothing to count. The same
summaries are methods of an open history (``fabric.status_counts()``), where
they take the filters of ``fabric.jobs()``.

These are counts of what happened. Nothing here scores, ranks "health",
predicts or recommends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import pandas as pd

from .models import CLIP_STATUSES, JOB_STATUSES

__all__ = [
    "daily_counts",
    "engine_profile_table",
    "failure_reasons",
    "status_counts",
]

_TEXT: Final = pd.StringDtype()
_INSTANT: Final = pd.DatetimeTZDtype(unit="us", tz="UTC")
#: Levels a failure reason is recorded at, in the order :func:`failure_reasons` sorts them.
_LEVELS: Final = pd.CategoricalDtype(["job", "clip"], ordered=False)


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {', '.join(missing)}; pass a frame from {what}")


def _values(series: pd.Series) -> list[Any]:
    """Plain Python values with ``None`` for missing, so counting never meets ``pd.NA``."""
    return [None if pd.isna(v) else v for v in series.astype(object).tolist()]


def status_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """How many rows ended in each status, and their share of all rows.

    Given a jobs frame, counts jobs by ``final_status`` (COMPLETED, FAILED,
    PARTIAL); given an outputs frame, counts clips by ``status`` (COMPLETED,
    FAILED). Every status is listed, zero included. ``count`` is ``int64``;
    ``share`` is ``count / total`` as ``Float64``, ``<NA>`` when there are no rows.

    :raises ValueError: the frame has neither ``final_status`` nor ``status``.
    """
    if "final_status" in frame.columns:
        column, statuses = "final_status", JOB_STATUSES
    elif "status" in frame.columns:
        column, statuses = "status", CLIP_STATUSES
    else:
        raise ValueError(
            "status_counts needs a jobs frame (final_status) or an outputs frame (status)"
        )
    seen = Counter(_values(frame[column]))
    counts = np.array([seen.get(status, 0) for status in statuses], dtype=np.int64)
    total = int(counts.sum())
    shares = pd.arrays.FloatingArray(
        counts / total if total else np.zeros(len(statuses)),
        np.full(len(statuses), total == 0),
    )
    index = pd.Index(list(statuses), dtype=_TEXT, name=column)
    return pd.DataFrame({"count": counts, "share": shares}, index=index)


def failure_reasons(jobs: pd.DataFrame, outputs: pd.DataFrame | None = None) -> pd.DataFrame:
    """How often each recorded failure reason occurred, with its stage, engine and profile.

    Two kinds of reason are counted, one row per distinct
    (level, reason, stage, engine, profile):

    - ``level="job"``: a job's ``validation_error``, counted in jobs; stage,
      engine and profile are the job's ``validation_stage``, ``engine_used``
      and ``canonical_proxy_profile``.
    - ``level="clip"``: a clip's ``failure_reason``, counted in clips, for the
      clips in ``outputs`` whose job is in ``jobs``; engine and profile are
      the clip's ``engine_used`` and ``proxy_profile_used``; stage is the
      ``validation_stage`` recorded on its job (clips keep no stage of their own).

    Only recorded reasons are counted: a failure without a reason text does
    not appear here (:func:`status_counts` counts every failure). Rows are
    sorted by ``count`` descending, then ``reason``, level, stage, engine and
    profile ascending (missing last), so the order is fully determined.

    :raises ValueError: a frame lacks the columns this needs.
    """
    _require(
        jobs,
        (
            "job_id",
            "validation_error",
            "validation_stage",
            "engine_used",
            "canonical_proxy_profile",
        ),
        "jobs_frame",
    )
    seen: Counter[tuple[str, str, str | None, str | None, str | None]] = Counter()
    job_ids = _values(jobs["job_id"])
    stages = _values(jobs["validation_stage"])
    for reason, stage, engine, profile in zip(
        _values(jobs["validation_error"]),
        stages,
        _values(jobs["engine_used"]),
        _values(jobs["canonical_proxy_profile"]),
        strict=True,
    ):
        if reason is not None:
            seen["job", reason, stage, engine, profile] += 1
    if outputs is not None:
        _require(
            outputs,
            ("job_id", "failure_reason", "engine_used", "proxy_profile_used"),
            "outputs_frame",
        )
        stage_of = dict(zip(job_ids, stages, strict=True))
        for job_id, reason, engine, profile in zip(
            _values(outputs["job_id"]),
            _values(outputs["failure_reason"]),
            _values(outputs["engine_used"]),
            _values(outputs["proxy_profile_used"]),
            strict=True,
        ):
            if reason is not None and job_id in stage_of:
                seen["clip", reason, stage_of[job_id], engine, profile] += 1

    def order(item: tuple[tuple[Any, ...], int]) -> tuple[Any, ...]:
        (level, reason, *rest), count = item
        # (is-missing, value) pairs put missing values last without comparing None to str.
        return (-count, reason, level != "job", *((v is None, v or "") for v in rest))

    rows = sorted(seen.items(), key=order)
    keys = [key for key, _ in rows]
    return pd.DataFrame(
        {
            "level": pd.Categorical([k[0] for k in keys], dtype=_LEVELS),
            "reason": pd.array([k[1] for k in keys], dtype=_TEXT),
            "stage": pd.array([k[2] for k in keys], dtype=_TEXT),
            "engine": pd.array([k[3] for k in keys], dtype=_TEXT),
            "profile": pd.array([k[4] for k in keys], dtype=_TEXT),
            "count": np.array([count for _, count in rows], dtype=np.int64),
        }
    )


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
        "engine_used": pd.array([e for e, _ in pairs], dtype=_TEXT),
        "canonical_proxy_profile": pd.array([p for _, p in pairs], dtype=_TEXT),
    }
    total = np.zeros(len(pairs), dtype=np.int64)
    for status in JOB_STATUSES:
        counts = np.array([seen.get((e, p, status), 0) for e, p in pairs], dtype=np.int64)
        columns[status] = counts
        total += counts
    columns["total"] = total
    return pd.DataFrame(columns)


def daily_counts(jobs: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Jobs started per period and final status; one row per period, gaps included.

    Periods are UTC: with the default ``freq="D"`` each row is one UTC day.
    Any pandas offset alias works (``"h"``, ``"W-MON"``, ``"MS"``...); every
    row is labelled by the start of its period, a period being
    ``[start, next start)``. Periods between the first and the last job that
    saw no job are rows of zeros, so a chart of them has an honest time axis.
    The index is ``period`` (``datetime64[us, UTC]``); the columns are one
    ``int64`` count per status (COMPLETED, FAILED, PARTIAL) and ``total``.

    :raises ValueError: the frame lacks the columns this needs, or ``freq``
        is not a pandas frequency.
    """
    _require(jobs, ("started_at", "final_status"), "jobs_frame")
    started = pd.DatetimeIndex(jobs["started_at"]).tz_convert("UTC").as_unit("us")
    statuses = _values(jobs["final_status"])
    one_hot = pd.DataFrame(
        {s: np.array([v == s for v in statuses], dtype=np.int64) for s in JOB_STATUSES},
        index=started,
    )
    if len(one_hot):
        counts = one_hot.resample(freq, label="left", closed="left").sum()
    else:
        pd.tseries.frequencies.to_offset(freq)  # a bad freq fails on empty input too
        counts = one_hot
    counts = counts.astype(np.int64)
    counts["total"] = counts[list(JOB_STATUSES)].sum(axis=1).astype(np.int64)
    counts.index = pd.DatetimeIndex(counts.index, name="period").tz_convert("UTC").as_unit("us")
    counts.columns = pd.Index(list(counts.columns))
    return counts
