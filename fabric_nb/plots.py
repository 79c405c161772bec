"""matplotlib charts of job history, for notebooks.

Each function takes a frame from :mod:`fabric_nb.frames` (or, for failure
reasons, the table of :func:`fabric_nb.summaries.failure_reasons`), draws on
``ax`` (a new figure when ``None``) and returns the ``Axes``. Every chart has
axis labels with units, a title and a legend saying what is drawn; statuses
always have the colours of :data:`STATUS_COLORS`. Times are UTC. Titles are
left-aligned (``ax.get_title("left")``); legends sit where they cover no data.
Charts show counts and distributions of what happened; they do not score or
rank.

Importing this module imports matplotlib; ``import fabric_nb`` does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from .frames import DocumentedMapping
from .models import JOB_STATUSES
from .summaries import daily_counts

__all__ = [
    "STATUS_COLORS",
    "plot_durations",
    "plot_failure_reasons",
    "plot_jobs_over_time",
    "plot_output_sizes",
]

STATUS_COLORS: Final[Mapping[str, str]] = DocumentedMapping(
    {"COMPLETED": "#009E73", "FAILED": "#D55E00", "PARTIAL": "#E69F00"},
    """One colour per status, for jobs and clips alike, in every chart (Okabe-Ito
    colours, readable with colour-vision deficiencies).""",
)
# Failure-reason bars: clip failures in the FAILED colour, job validation errors in blue.
_LEVEL_COLORS: Final = {"job": "#0072B2", "clip": STATUS_COLORS["FAILED"]}
_LEVEL_LABELS: Final = {
    "job": "job validation_error (count of jobs)",
    "clip": "clip failure_reason (count of clips)",
}
_NOT_RECORDED: Final = "(not recorded)"
_MAX_LABEL: Final = 60


def _axes(ax: Axes | None, size: tuple[float, float] = (9.0, 4.5)) -> Axes:
    if ax is not None:
        return ax
    _, new = plt.subplots(figsize=size, layout="constrained")
    return new


def _legend_above(ax: Axes, **options: Any) -> None:
    """The legend above the plot area, on the right (titles sit on the left): never over data."""
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3, **options)


def _nothing_to_draw(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} to show", ha="center", va="center", transform=ax.transAxes)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def plot_jobs_over_time(jobs: pd.DataFrame, *, freq: str = "D", ax: Axes | None = None) -> Axes:
    """Jobs started per period (UTC days by default), as bars stacked by final status.

    Uses :func:`fabric_nb.summaries.daily_counts`; periods without jobs are
    drawn as empty slots. One bar segment per status per period, bottom to
    top COMPLETED, FAILED, PARTIAL.

    :raises ValueError: ``jobs`` is not a jobs frame, or ``freq`` is invalid.
    """
    ax = _axes(ax)
    counts = daily_counts(jobs, freq=freq)
    per = "day" if freq == "D" else f"period ({freq})"
    ax.set_title(f"Jobs started per {per}, by final status", loc="left")
    ax.set_xlabel("day (UTC)" if freq == "D" else f"start of period (UTC), freq={freq}")
    ax.set_ylabel("jobs started (count)")
    if counts.empty:
        _nothing_to_draw(ax, "jobs")
        return ax
    starts = counts.index.tz_convert("UTC").tz_localize(None)
    lengths = (starts + pd.tseries.frequencies.to_offset(freq)) - starts
    left = (starts + lengths * 0.1).to_pydatetime()
    widths = (lengths * 0.8).to_pytimedelta()
    bottom = np.zeros(len(counts), dtype=np.int64)
    for status in JOB_STATUSES:
        heights = counts[status].to_numpy()
        ax.bar(
            left,
            heights,
            width=widths,
            bottom=bottom,
            align="edge",
            color=STATUS_COLORS[status],
            label=status,
        )
        bottom = bottom + heights
    # Stacked bars pin the axis to their bottoms; leave headroom above the tallest.
    ax.set_ylim(0, max(int(bottom.max()), 1) * 1.06)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.yaxis.get_major_locator().set_params(integer=True)
    _legend_above(ax, title="final status", ncols=len(JOB_STATUSES))
    return ax


def plot_failure_reasons(reasons: pd.DataFrame, *, top: int = 10, ax: Axes | None = None) -> Axes:
    """The ``top`` most frequent failure reasons, as horizontal bars, largest on top.

    Takes the table of :func:`fabric_nb.summaries.failure_reasons`. A reason
    recorded under several stages, engines or profiles is one bar with their
    counts added; job validation errors (counted in jobs) and clip failure
    reasons (counted in clips) are separate bars in different colours. Long
    reasons are shortened with "…" on the axis; the table has the full text.

    :raises ValueError: ``reasons`` lacks ``level``, ``reason`` or ``count``,
        or ``top`` < 1.
    """
    missing = [c for c in ("level", "reason", "count") if c not in reasons.columns]
    if missing:
        raise ValueError(f"plot_failure_reasons needs a failure_reasons table (no {missing[0]})")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    ax = _axes(ax)
    totals: dict[tuple[str, str], int] = {}
    for level, reason, count in zip(
        reasons["level"].astype(object),
        reasons["reason"].astype(object),
        reasons["count"].astype(np.int64),
        strict=True,
    ):
        totals[level, reason] = totals.get((level, reason), 0) + int(count)
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0][1], item[0][0] != "job"))
    shown = ranked[:top]
    ax.set_title(f"Top {len(shown)} failure reasons" if shown else "Failure reasons", loc="left")
    ax.set_xlabel("occurrences (count of jobs or clips, see legend)")
    ax.set_ylabel("recorded reason")
    if not shown:
        _nothing_to_draw(ax, "recorded failure reasons")
        return ax
    positions = np.arange(len(shown))
    bars = ax.barh(
        positions,
        [count for _, count in shown],
        color=[_LEVEL_COLORS[level] for (level, _), _ in shown],
    )
    ax.bar_label(bars, padding=3)
    ax.set_yticks(positions, [_short(reason) for (_, reason), _ in shown])
    ax.xaxis.get_major_locator().set_params(integer=True)
    levels = [level for level in _LEVEL_COLORS if any(lv == level for (lv, _), _ in shown)]
    # Largest on top; below the last bar, an empty band one bar high per legend
    # entry holds the legend, so it never covers a bar whatever the counts.
    ax.set_ylim(len(shown) - 0.5 + len(levels), -0.5)
    ax.set_xlim(0, max(count for _, count in shown) * 1.08)  # room for the counts
    ax.legend(
        handles=[Patch(color=_LEVEL_COLORS[lv], label=_LEVEL_LABELS[lv]) for lv in levels],
        loc="lower right",
    )
    return ax


def _groups(frame: pd.DataFrame, by: str | Sequence[str], values: pd.Series) -> dict[str, Any]:
    """Known values grouped by the text of ``by`` (several columns joined by " / ")."""
    columns = [by] if isinstance(by, str) else list(by)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"no column {missing[0]!r} to group by")
    known = values.notna().to_numpy()
    labels = [
        " / ".join(_NOT_RECORDED if pd.isna(v) else str(v) for v in row)
        for row in zip(*(frame[c].astype(object) for c in columns), strict=True)
    ]
    groups: dict[str, list[float]] = {}
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    for label, number, ok in zip(labels, numbers, known, strict=True):
        if ok:
            groups.setdefault(label, []).append(float(number))
    return {label: np.array(groups[label]) for label in sorted(groups)}


def _box_plot(ax: Axes, groups: dict[str, Any], scale: float, legend: str, rotate: bool) -> None:
    positions = np.arange(1, len(groups) + 1)
    drawn = ax.boxplot(
        [values / scale for values in groups.values()],
        positions=positions,
        widths=0.6,
        patch_artist=True,
        medianprops={"color": "black", "gid": "median"},
    )
    for box in drawn["boxes"]:
        box.set_facecolor("#56B4E9")
    ax.set_xticks(
        positions, list(groups), rotation=30 if rotate else 0, ha="right" if rotate else "center"
    )
    _legend_above(ax, handles=[Patch(facecolor="#56B4E9", edgecolor="black", label=legend)])


_DURATION_UNITS: Final = {"s": 1.0, "min": 60.0, "h": 3600.0}


def plot_durations(
    jobs: pd.DataFrame,
    *,
    by: str | Sequence[str] = "engine_used",
    unit: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Job durations (``duration_seconds``) as one box per group of ``by``.

    ``by`` is a jobs-frame column (``"engine_used"``,
    ``"canonical_proxy_profile"``...) or several (``["engine_used",
    "canonical_proxy_profile"]``); a missing value is its own group,
    "(not recorded)". Jobs without a ``completed_at`` have no duration and
    are left out (the legend gives how many are drawn). ``unit`` is ``"s"``,
    ``"min"`` or ``"h"``; by default the one that suits the median.
    Boxes span the quartiles, the line is the median, whiskers reach the
    furthest point within 1.5 times the IQR, points beyond are drawn singly.

    :raises ValueError: ``by`` names no column, or ``unit`` is unknown.
    """
    if unit is not None and unit not in _DURATION_UNITS:
        raise ValueError(f"unit must be one of {', '.join(_DURATION_UNITS)}, got {unit!r}")
    ax = _axes(ax)
    groups = _groups(jobs, by, jobs["duration_seconds"])
    n = sum(len(values) for values in groups.values())
    if unit is None:
        median = float(np.median(np.concatenate(list(groups.values())))) if n else 0.0
        unit = "s" if median < 120 else "min" if median < 7200 else "h"
    what = by if isinstance(by, str) else " / ".join(by)
    ax.set_title(f"Job duration by {what}", loc="left")
    ax.set_xlabel(what)
    ax.set_ylabel(f"duration ({unit}, completed_at - started_at)")
    if not n:
        _nothing_to_draw(ax, "job durations")
        return ax
    _box_plot(
        ax, groups, _DURATION_UNITS[unit], f"jobs with a completed_at (n={n})", len(groups) > 3
    )
    return ax


_SIZE_UNITS: Final = {"MB": 1e6, "GB": 1e9}


def plot_output_sizes(
    outputs: pd.DataFrame,
    *,
    by: str | Sequence[str] = "proxy_profile_used",
    unit: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Output file sizes (``output_size_bytes``) as one box per group of ``by``.

    ``by`` is an outputs-frame column, ``"proxy_profile_used"`` by default.
    Clips whose size is not recorded are left out; every recorded size is
    drawn, including truncated files of failed clips, so pass
    ``fabric.outputs(status="COMPLETED")`` to see finished proxies only.
    ``unit`` is ``"MB"`` (10⁶ bytes) or ``"GB"`` (10⁹ bytes); by default the
    one that suits the median.

    :raises ValueError: ``by`` names no column, or ``unit`` is unknown.
    """
    if unit is not None and unit not in _SIZE_UNITS:
        raise ValueError(f"unit must be one of {', '.join(_SIZE_UNITS)}, got {unit!r}")
    ax = _axes(ax)
    groups = _groups(outputs, by, outputs["output_size_bytes"])
    n = sum(len(values) for values in groups.values())
    if unit is None:
        median = float(np.median(np.concatenate(list(groups.values())))) if n else 0.0
        unit = "GB" if median >= 1e9 else "MB"
    what = by if isinstance(by, str) else " / ".join(by)
    power = "10⁹" if unit == "GB" else "10⁶"
    ax.set_title(f"Output size by {what}", loc="left")
    ax.set_xlabel(what)
    ax.set_ylabel(f"output size ({unit}, 1 {unit} = {power} bytes)")
    if not n:
        _nothing_to_draw(ax, "output sizes")
        return ax
    _box_plot(ax, groups, _SIZE_UNITS[unit], f"clip outputs with a recorded size (n={n})", True)
    return ax
