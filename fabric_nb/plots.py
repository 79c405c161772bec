"""matplotlib charts of job history, for notebooks.

Each function takes a frame from :mod:`fabric_nb.frames` (or, for failure
reasons, the table of :func:`fabric_nb.summaries.failure_reasons`), draws on
``ax`` (a new figure when ``None``) and returns the ``Axes``. Every chart has
axis labels with units, a title (``title=``, else a default that says when
the frame was filtered) and a legend listing only what is drawn; statuses
always have the colours of :data:`STATUS_COLORS`. Times are UTC. Titles are
left-aligned (``ax.get_title("left")``).

The legend sits above the plot area and the title above the legend, measured
when the chart is made: they never overlap each other or the data, at any
figure size and in subplots. Charts show counts and distributions of what
happened; they do not score or rank.

Importing this module imports matplotlib; ``import fabric_nb`` does not.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, Final

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator, PercentFormatter

from .filters import describe_filters
from .frames import DocumentedMapping
from .models import JOB_STATUSES
from .summaries import NOT_RECORDED, WEEKS_FROM_MONDAY, daily_counts, usage_over_time

__all__ = [
    "STATUS_COLORS",
    "plot_durations",
    "plot_failure_rate",
    "plot_failure_reasons",
    "plot_jobs_over_time",
    "plot_output_sizes",
    "plot_usage_over_time",
]

STATUS_COLORS: Final[Mapping[str, str]] = DocumentedMapping(
    {"COMPLETED": "#009E73", "FAILED": "#D55E00", "PARTIAL": "#E69F00"},
    """One colour per status, for jobs and clips alike, in every chart (Okabe-Ito
    colours, readable with colour-vision deficiencies).""",
)
# Failure-reason bars: clip failures in the FAILED colour, job validation errors in blue.
_LEVEL_COLORS: Final = {"job": "#0072B2", "clip": STATUS_COLORS["FAILED"]}
_LEVEL_LABELS: Final = {
    "job": "job validation_error (in jobs)",
    "clip": "clip failure_reason (in clips)",
}
_MAX_LABEL: Final = 60


def _integer_ticks(axis: Axis) -> None:
    """Ticks at whole numbers only on a count axis (its default locator is a ``MaxNLocator``)."""
    locator = axis.get_major_locator()
    if isinstance(locator, MaxNLocator):
        locator.set_params(integer=True)


def _axes(ax: Axes | None, size: tuple[float, float] = (9.0, 4.5)) -> Axes:
    if ax is not None:
        return ax
    _, new = plt.subplots(figsize=size, layout="constrained")
    return new


def _default_title(base: str, frame: pd.DataFrame) -> str:
    """``base``, plus the filters the frame was selected with (``frame.attrs["filters"]``)."""
    filters = describe_filters(dict(frame.attrs.get("filters") or {}))
    return f"{base} (filtered: {_literal(filters)})" if filters else base


def _renderer(ax: Axes) -> Any:
    """The renderer that will draw ``ax``, for measuring text before it is drawn."""
    canvas = ax.figure.canvas
    if hasattr(canvas, "get_renderer"):  # Agg and the inline backend of notebooks
        return canvas.get_renderer()
    return ax.figure._get_renderer()  # type: ignore[union-attr]  # other backends


def _fit_title(ax: Axes, title: str, pad: float) -> Text:
    """Set the left title, wrapped onto more lines when it is wider than the axes."""
    text = ax.set_title(title, loc="left", pad=pad)
    renderer = _renderer(ax)
    room = ax.get_window_extent(renderer).width * _ROOM
    width = text.get_window_extent(renderer).width
    if width > room and len(title) > 20:
        per_line = max(int(len(title) * room / width), 20)
        text.set_text("\n".join(textwrap.wrap(title, per_line)))
    return text


#: Share of the axes' current width a legend or title may take: constrained
#: layout may still narrow the axes a little when the figure is drawn.
_ROOM: Final = 0.92
#: Space between the plot area and the legend, in font sizes.
_LEGEND_GAP: Final = 0.4
#: Legend font sizes (points) tried, in order, when one column is still too wide.
_SMALLER_FONTS: Final = (8.0, 7.0, 6.0)


#: The fewest characters a legend label is cut to, its "…" included.
_SHORTEST_LABEL: Final = 12


def _shorten_labels(legend: Legend, renderer: Any, room: float) -> None:
    """Cut the legend's longest labels (ending in "…") until the legend is ``room`` wide.

    For the one case where even one column at the smallest font is too wide:
    a stored engine or profile name of a hundred characters. The data keep
    the whole name; the chart would otherwise squeeze its plot to nothing.
    """
    texts = legend.get_texts()
    for _ in range(8):
        width = legend.get_window_extent(renderer).width
        longest = max(len(text.get_text()) for text in texts)
        if width <= room or longest <= _SHORTEST_LABEL:
            return
        keep = max(_SHORTEST_LABEL, int(longest * room / width) - 1)
        for text in texts:
            label = text.get_text()
            if len(label) > keep:
                text.set_text(label[: keep - 1] + "…")


def _legend_and_title(
    ax: Axes, title: str, handles: Sequence[Any] = (), legend_title: str | None = None
) -> None:
    """The legend just above the plot area, the title above the legend.

    The legend gets as many columns as fit in the axes' width (one entry per
    row at worst); the title's padding is the legend's measured height, so
    the two never overlap and neither covers the data.
    """
    if not handles:
        _fit_title(ax, title, pad=6.0)
        return
    renderer = _renderer(ax)
    room = ax.get_window_extent(renderer).width * _ROOM
    # Fewest rows that fit the width; in a narrow chart, a smaller font as well.
    tries: list[tuple[int, float | None]] = [(n, None) for n in range(len(handles), 0, -1)]
    tries += [(1, size) for size in _SMALLER_FONTS]
    for ncols, fontsize in tries:
        legend = ax.legend(
            handles=list(handles),
            title=legend_title,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            borderaxespad=_LEGEND_GAP,
            ncols=ncols,
            alignment="left",
            fontsize=fontsize,
            title_fontsize=fontsize,
        )
        if legend.get_window_extent(renderer).width <= room:
            break
    else:
        _shorten_labels(legend, renderer, room)
    extent = legend.get_window_extent(renderer)
    points = ax.figure.dpi / 72.0
    gap = _LEGEND_GAP * legend.prop.get_size_in_points()
    pad = extent.height / points + gap + 4.0
    text = _fit_title(ax, title, pad=pad)
    # Measure: a wrapped title's descent can still reach the legend; lift it clear.
    below = text.get_window_extent(renderer).y0 - extent.y1
    if below < 2.0 * points:
        ax.set_title(text.get_text(), loc="left", pad=pad + (2.0 * points - below) / points)


#: Date ticks per inch of plot width: ConciseDateFormatter's labels need about this much room.
_DATE_TICKS_PER_INCH: Final = 1.2


def _date_axis(ax: Axes) -> None:
    """Concise date ticks on the x axis, as many as the axes' width has room for."""
    inches = ax.get_window_extent().width / ax.figure.dpi
    most = max(5, round(inches * _DATE_TICKS_PER_INCH))  # below 5 it finds no interval
    locator = mdates.AutoDateLocator(minticks=3, maxticks=most)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    # The formatter's offset (the year, the month) is drawn at the right end of
    # the axis: the axis label goes left, so the two never meet on a narrow chart.
    ax.set_xlabel(ax.get_xlabel(), loc="left")


def _nothing_to_draw(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} to show", ha="center", va="center", transform=ax.transAxes)


def _literal(text: str) -> str:
    """``text`` drawn as written, never as mathematics: matplotlib reads text
    between two ``$`` as TeX and fails on a share path such as ``media$/C0001$.MOV``."""
    return text.replace("$", r"\$")


def _short(text: str) -> str:
    """A stored value as an axis label: cut to a readable length, drawn literally."""
    return _literal(text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…")


def _bins(periods: pd.DatetimeIndex, freq: str) -> tuple[pd.DatetimeIndex, pd.TimedeltaIndex]:
    """Where each period starts and how long it is, whichever side pandas labels it by."""
    naive = periods.tz_convert("UTC").tz_localize(None)
    if freq == WEEKS_FROM_MONDAY:
        return naive, pd.TimedeltaIndex([pd.Timedelta(days=7)] * len(naive))
    offset = pd.tseries.frequencies.to_offset(freq)
    if pd.Grouper(freq=freq).label == "right":  # e.g. "W-MON", "ME": labelled by the end
        starts = naive - offset
        return starts, naive - starts
    return naive, (naive + offset) - naive


def _stacked_periods(
    ax: Axes,
    counts: pd.DataFrame,
    freq: str,
    colors: Mapping[str, str],
    legend_title: str,
    title: str,
) -> None:
    """Bars per period stacked by column, drawn bottom to top in column order.

    Columns that are zero in every period are not drawn and not in the legend.
    """
    starts, lengths = _bins(pd.DatetimeIndex(counts.index), freq)
    left = (starts + lengths * 0.1).to_pydatetime()
    widths = (lengths * 0.8).to_pytimedelta()
    bottom = np.zeros(len(counts), dtype=np.int64)
    handles = []
    for column in counts.columns:
        heights = counts[column].to_numpy(dtype=np.int64)
        if not heights.any():
            continue
        drawn = ax.bar(
            left,
            heights,
            width=widths,
            bottom=bottom,
            align="edge",
            color=colors[column],
            label=_literal(str(column)),
        )
        handles.append(drawn)
        bottom = bottom + heights
    # Stacked bars pin the axis to their bottoms; leave headroom above the tallest.
    ax.set_ylim(0, max(int(bottom.max()), 1) * 1.06)
    _date_axis(ax)
    _integer_ticks(ax.yaxis)
    _legend_and_title(ax, title, handles, legend_title)


def _period_words(freq: str) -> tuple[str, str]:
    """How a title and an x label name the periods of ``freq``."""
    if freq == "D":
        return "day", "day (UTC)"
    if freq == WEEKS_FROM_MONDAY:
        return "week (from Monday)", "week starting Monday 00:00 UTC"
    side = "end" if pd.Grouper(freq=freq).label == "right" else "start"
    return f"period ({freq})", f"period {side} (UTC, {freq})"


def plot_jobs_over_time(
    jobs: pd.DataFrame, *, freq: str = "D", title: str | None = None, ax: Axes | None = None
) -> Axes:
    """Jobs started per period (UTC days by default), as bars stacked by final status.

    Uses :func:`fabric_nb.summaries.daily_counts`, so ``freq`` has pandas'
    meaning (``"W-MON"``: weeks ending on Monday) or is
    :data:`~fabric_nb.summaries.WEEKS_FROM_MONDAY`; each bar spans its period.
    Periods without jobs are empty slots. Bottom to top COMPLETED, FAILED,
    PARTIAL; a status with no job in the frame is neither drawn nor in the legend.

    :raises ValueError: ``jobs`` is not a jobs frame, or ``freq`` is invalid.
    """
    ax = _axes(ax)
    counts = daily_counts(jobs, freq=freq)
    per, xlabel = _period_words(freq)
    title = title or _default_title(f"Jobs started per {per}, by final status", jobs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("jobs started (count)")
    if counts.empty:
        _nothing_to_draw(ax, "jobs")
        _legend_and_title(ax, title)
        return ax
    _stacked_periods(ax, counts[list(JOB_STATUSES)], freq, STATUS_COLORS, "final status", title)
    return ax


#: Colours of the values of :func:`plot_usage_over_time` (Okabe-Ito, then tab10), in order.
_VALUE_COLORS: Final = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
)  # fmt: skip
_NOT_RECORDED_COLOR: Final = "#999999"


def plot_usage_over_time(
    jobs: pd.DataFrame,
    *,
    by: str = "canonical_proxy_profile",
    freq: str = "W-MON",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Jobs started per period, stacked by the value of ``by``: which profiles (or engines) ran.

    Draws :func:`fabric_nb.summaries.usage_over_time`: one colour per value,
    in sorted order, "(not recorded)" last in grey.

    :raises ValueError: ``jobs`` is not a jobs frame, ``by`` names no
        column, or ``freq`` is invalid.
    """
    ax = _axes(ax)
    table = usage_over_time(jobs, by=by, freq=freq)
    per, xlabel = _period_words(freq)
    title = title or _default_title(f"Jobs started per {per}, by {by}", jobs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("jobs started (count)")
    values = [c for c in table.columns if c != "total"]
    if not values:
        _nothing_to_draw(ax, "jobs")
        _legend_and_title(ax, title)
        return ax
    colors = {
        value: _NOT_RECORDED_COLOR
        if value == NOT_RECORDED
        else _VALUE_COLORS[i % len(_VALUE_COLORS)]
        for i, value in enumerate(values)
    }
    _stacked_periods(ax, table[values], freq, colors, by, title)
    return ax


#: Colours of the lines of :func:`plot_failure_rate`, one per group, in order.
_LINE_COLORS: Final = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


def plot_failure_rate(
    jobs: pd.DataFrame,
    *,
    freq: str = "W-MON",
    by: str | None = "engine_used",
    min_jobs: int = 5,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The share of jobs that FAILED per period, one line per value of ``by``.

    Draws the ``FAILED_share`` of :func:`fabric_nb.summaries.daily_counts`
    (periods as it makes them) as a percentage. A period in which a group
    started fewer than ``min_jobs`` jobs is drawn as a hollow point, so 2 of
    4 does not read like 50 of 100; a period with no job is a gap in the
    line. ``by=None`` draws one line for all jobs.

    :raises ValueError: ``jobs`` is not a jobs frame, ``by`` names no
        column, ``freq`` is invalid, or ``min_jobs`` < 1.
    """
    if min_jobs < 1:
        raise ValueError(f"min_jobs must be >= 1, got {min_jobs}")
    ax = _axes(ax)
    table = daily_counts(jobs, freq=freq, by=by)
    per, xlabel = _period_words(freq)
    grouped = f", by {by}" if by else ""
    title = title or _default_title(f"Share of jobs that FAILED per {per}{grouped}", jobs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("jobs that FAILED (% of the period's jobs)")
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    if table.empty:
        _nothing_to_draw(ax, "jobs")
        _legend_and_title(ax, title)
        return ax
    if by is None:
        lines = {"all jobs": table}
    else:
        keys = table.index.get_level_values(0)
        lines = {
            NOT_RECORDED if pd.isna(key) else str(key): table[keys == key]
            for key in dict.fromkeys(keys)
        }
    handles: list[Any] = []
    for position, (name, rows) in enumerate(lines.items()):
        color = (
            _NOT_RECORDED_COLOR
            if name == NOT_RECORDED
            else _LINE_COLORS[position % len(_LINE_COLORS)]
        )
        periods = pd.DatetimeIndex(rows.index.get_level_values(-1)).to_pydatetime()
        totals = rows["total"].to_numpy(dtype=np.int64)
        shares = rows["FAILED_share"].to_numpy(dtype=float, na_value=np.nan) * 100
        ax.plot(periods, shares, color=color, linewidth=1.5, label=_literal(name))
        enough = totals >= min_jobs
        few = (totals > 0) & ~enough
        ax.plot(periods[enough], shares[enough], "o", color=color, markersize=5)
        ax.plot(periods[few], shares[few], "o", color=color, markerfacecolor="none", markersize=5)
        handles.append(Line2D([], [], color=color, marker="o", label=_literal(name)))
    handles.append(
        Line2D(
            [], [], color="0.4", marker="o", linestyle="none", markerfacecolor="none",
            label=f"hollow: fewer than {min_jobs} jobs in the period",
        )
    )  # fmt: skip
    ax.set_ylim(-2, 102)
    _date_axis(ax)
    _legend_and_title(ax, title, handles, by)
    return ax


def plot_failure_reasons(
    reasons: pd.DataFrame, *, top: int = 10, title: str | None = None, ax: Axes | None = None
) -> Axes:
    """The ``top`` most frequent failure reasons, as horizontal bars, largest on top.

    Takes the table of :func:`fabric_nb.summaries.failure_reasons`. A reason
    split by ``by=`` is one bar with its counts added; job validation errors
    (counted in jobs) and clip failure reasons (counted in clips) are
    separate bars in different colours. Long reasons are shortened with "…"
    on the axis; the table has the full text.

    :raises ValueError: ``reasons`` lacks ``level``, ``reason`` or ``count``,
        or ``top`` < 1.
    """
    missing = [c for c in ("level", "reason", "count") if c not in reasons.columns]
    if missing:
        raise ValueError(f"plot_failure_reasons needs a failure_reasons table (no {missing[0]})")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    # A chart of its own is tall enough for two lines of reason per bar.
    bars_shown = min(top, len(reasons))
    ax = _axes(ax, (9.0, max(4.5, 1.8 + 0.45 * bars_shown)))
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
    base = f"Top {len(shown)} failure reasons" if shown else "Failure reasons"
    title = title or _default_title(base, reasons)
    ax.set_xlabel("occurrences (count of jobs or clips, see legend)")
    ax.set_ylabel("recorded reason")
    if not shown:
        _nothing_to_draw(ax, "recorded failure reasons")
        _legend_and_title(ax, title)
        return ax
    positions = np.arange(len(shown))
    bars = ax.barh(
        positions,
        [count for _, count in shown],
        color=[_LEVEL_COLORS[level] for (level, _), _ in shown],
    )
    counts = ax.bar_label(bars, padding=3)
    ax.set_yticks(positions, [_short(reason) for (_, reason), _ in shown])
    _integer_ticks(ax.xaxis)
    ax.set_ylim(len(shown) - 0.5, -0.5)  # largest on top
    ax.set_xlim(0, max(count for _, count in shown) * 1.12)  # room for the counts
    levels = [level for level in _LEVEL_COLORS if any(lv == level for (lv, _), _ in shown)]
    handles = [Patch(color=_LEVEL_COLORS[lv], label=_LEVEL_LABELS[lv]) for lv in levels]
    _fit_reason_labels(ax, [reason for (_, reason), _ in shown])
    _legend_and_title(ax, title, handles)
    _room_for_labels(ax, counts)
    return ax


#: Share of the figure's width the reason labels of :func:`plot_failure_reasons` may take.
_LABELS_SHARE: Final = 0.36
#: Characters per line tried, in order, for those labels (at most three lines each).
_LABEL_WIDTHS: Final = (_MAX_LABEL, 44, 34, 28, 22, 18, 14)


def _wrapped(text: str, width: int, lines: int = 3) -> str:
    """``text`` on at most ``lines`` lines of ``width`` characters; "…" ends a cut one."""
    parts = textwrap.wrap(text, width, break_long_words=True) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1] + "…"
    return _literal("\n".join(parts))


def _fit_reason_labels(ax: Axes, reasons: Sequence[str]) -> None:
    """Wrap the reasons so that their labels leave the plot most of the figure's width.

    A reason is wrapped onto up to three lines (as many as a bar's height
    holds), narrower until the widest
    label takes at most :data:`_LABELS_SHARE` of the figure: the bars keep
    at least half of it. The table has the full text.
    """
    renderer = _renderer(ax)
    room = ax.figure.bbox.width * _LABELS_SHARE
    # As many lines as one bar's slot has height for, so labels never run into each other.
    labels = ax.get_yticklabels()
    size = labels[0].get_fontproperties().get_size_in_points() if labels else 10.0
    line = size * 1.2 * ax.figure.dpi / 72.0  # matplotlib's line spacing
    slot = ax.get_window_extent(renderer).height / max(len(reasons), 1)
    lines = max(1, min(3, int(slot // line)))
    for width in _LABEL_WIDTHS:
        ax.set_yticks(ax.get_yticks(), [_wrapped(reason, width, lines) for reason in reasons])
        widest = max(
            (label.get_window_extent(renderer).width for label in ax.get_yticklabels()),
            default=0.0,
        )
        if widest <= room:
            return


def _room_for_labels(ax: Axes, labels: Sequence[Text]) -> None:
    """Widen the x range until each value label ends inside the plot area, clear of its frame."""
    renderer = _renderer(ax)
    root = ax.figure
    while not isinstance(root, Figure):  # a SubFigure: its figure is the one drawn
        root = root.figure
    for _ in range(4):
        root.draw_without_rendering()
        frame = ax.get_window_extent(renderer)
        right = max((label.get_window_extent(renderer).x1 for label in labels), default=0.0)
        gap = 4.0 * ax.figure.dpi / 72.0  # points, in pixels
        if right + gap <= frame.x1:
            return
        low, high = ax.get_xlim()
        ax.set_xlim(low, high * (right + gap - frame.x0) / max(frame.x1 - frame.x0, 1.0))


def _groups(frame: pd.DataFrame, by: str | Sequence[str], values: pd.Series) -> dict[str, Any]:
    """Known values grouped by the text of ``by`` (several columns joined by " / ")."""
    columns = [by] if isinstance(by, str) else list(by)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"no column {missing[0]!r} to group by")
    known = values.notna().to_numpy()
    labels = [
        " / ".join(NOT_RECORDED if pd.isna(v) else str(v) for v in row)
        for row in zip(*(frame[c].astype(object) for c in columns), strict=True)
    ]
    groups: dict[str, list[float]] = {}
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    for label, number, ok in zip(labels, numbers, known, strict=True):
        if ok:
            groups.setdefault(label, []).append(float(number))
    return {_literal(label): np.array(groups[label]) for label in sorted(groups)}


_BOX_COLOR: Final = "#56B4E9"


def _box_plot(
    ax: Axes, groups: dict[str, Any], scale: float, legend: str, rotate: bool
) -> list[Any]:
    """One box per group; returns the legend handles of what was drawn."""
    positions = np.arange(1, len(groups) + 1)
    drawn = ax.boxplot(
        [values / scale for values in groups.values()],
        positions=positions,
        widths=0.6,
        patch_artist=True,
        medianprops={"color": "black", "gid": "median"},
    )
    for box in drawn["boxes"]:
        box.set_facecolor(_BOX_COLOR)
    ax.set_xticks(
        positions, list(groups), rotation=30 if rotate else 0, ha="right" if rotate else "center"
    )
    return [Patch(facecolor=_BOX_COLOR, edgecolor="black", label=legend)]


_DURATION_UNITS: Final = {"s": 1.0, "min": 60.0, "h": 3600.0}
#: Longest duration :func:`plot_durations` draws to scale by default: one day.
_MAX_DURATION: Final = 86_400.0


def _plain_number(value: float) -> str:
    return f"{value:g}"


def plot_durations(
    jobs: pd.DataFrame,
    *,
    by: str | Sequence[str] = "engine_used",
    unit: str | None = None,
    max_seconds: float = _MAX_DURATION,
    title: str | None = None,
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

    A negative duration, or one longer than ``max_seconds`` (a day by
    default), is a clock gone wrong or a job stuck for days: such jobs are
    kept out of the boxes, so they cannot flatten the chart, and shown as
    counted outliers: a marker on the top (too long) or bottom (negative)
    edge of their group, counted in the legend.

    :raises ValueError: ``by`` names no column, ``unit`` is unknown, or
        ``max_seconds`` is not positive.
    """
    if unit is not None and unit not in _DURATION_UNITS:
        raise ValueError(f"unit must be one of {', '.join(_DURATION_UNITS)}, got {unit!r}")
    if not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    ax = _axes(ax)
    every = _groups(jobs, by, jobs["duration_seconds"])
    groups = {label: v[(v >= 0) & (v <= max_seconds)] for label, v in every.items()}
    negative = {label: int((v < 0).sum()) for label, v in every.items()}
    too_long = {label: int((v > max_seconds).sum()) for label, v in every.items()}
    groups = {
        label: v for label, v in groups.items() if len(v) or negative[label] or too_long[label]
    }
    n = sum(len(values) for values in groups.values())
    if unit is None:
        kept = [v for v in groups.values() if len(v)]
        median = float(np.median(np.concatenate(kept))) if kept else 0.0
        unit = "s" if median < 120 else "min" if median < 7200 else "h"
    what = by if isinstance(by, str) else " / ".join(by)
    title = title or _default_title(f"Job duration by {what}", jobs)
    ax.set_xlabel(what)
    ax.set_ylabel(f"duration ({unit}, completed_at - started_at)")
    if not groups:
        _nothing_to_draw(ax, "job durations")
        _legend_and_title(ax, title)
        return ax
    scale = _DURATION_UNITS[unit]
    handles = []
    if n:
        handles = _box_plot(ax, groups, scale, f"jobs drawn to scale (n={n})", len(groups) > 3)
    else:
        positions = np.arange(1, len(groups) + 1)
        ax.set_xticks(positions, list(groups))
        ax.set_xlim(0.5, len(groups) + 0.5)
        ax.set_ylim(0, max_seconds / scale)
    low, high = ax.get_ylim()
    span = high - low
    ax.set_ylim(low - span * 0.08, high + span * 0.08)  # the edges that hold the outliers
    limit = _plain_number(max_seconds / scale)
    for marker, counts, y, label in (
        ("^", too_long, high + span * 0.04, f"longer than {limit} {unit}"),
        ("v", negative, low - span * 0.04, "negative duration"),
    ):
        at = [i + 1 for i, g in enumerate(groups) if counts[g]]
        if not at:
            continue
        total = sum(counts.values())
        ax.plot(at, [y] * len(at), linestyle="none", marker=marker, color="black")
        for x, g in zip(at, (g for g in groups if counts[g]), strict=True):
            ax.annotate(
                str(counts[g]), (x, y), xytext=(6, 0), textcoords="offset points", va="center"
            )
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker=marker,
                color="black",
                label=f"{label}: {total} job{'s' if total != 1 else ''}, not to scale",
            )
        )
    _legend_and_title(ax, title, handles)
    return ax


_SIZE_UNITS: Final = {"MB": 1e6, "GB": 1e9}


def plot_output_sizes(
    outputs: pd.DataFrame,
    *,
    by: str | Sequence[str] = "proxy_profile_used",
    unit: str | None = None,
    title: str | None = None,
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
    title = title or _default_title(f"Output size by {what}", outputs)
    ax.set_xlabel(what)
    ax.set_ylabel(f"output size ({unit}, 1 {unit} = {power} bytes)")
    if not n:
        _nothing_to_draw(ax, "output sizes")
        _legend_and_title(ax, title)
        return ax
    legend = f"clip outputs with a recorded size (n={n})"
    handles = _box_plot(ax, groups, _SIZE_UNITS[unit], legend, True)
    _legend_and_title(ax, title, handles)
    return ax
