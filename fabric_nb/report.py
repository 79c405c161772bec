"""The report of a history: one self-contained HTML page for someone who never opens Jupyter.

What ``fabric-nb report`` writes. The page names the history and when it
was made, states the period its jobs cover and the scope it was asked for
(the same ``since`` / ``until`` / ``engine`` / ``profile`` filters, parsed
the same way, as :meth:`FabricHistory.jobs`), then gives the headline
figures, failures by engine and by profile, the top failure reasons, the
weekly failure rate per engine as a chart, the slowest profiles per clip,
and what the history does not hold.

The page is built for reading, not for analysis: shares are percentages
with one decimal beside their counts, durations one unit per column
(seconds, or h:mm:ss once any value reaches a minute), sizes in MB, GB or
TB. It works on a phone and on paper: a viewport meta tag, tables that
scroll inside their own box, the chart drawn twice as SVG (wide, and
narrow for small screens, chosen by the browser through ``<picture>``) and
a print stylesheet that keeps tables and charts whole. It loads nothing:
styles are inline, images are ``data:`` URIs, there is no script. Every
value from the data is escaped, control characters made visible.

The history is only read; the page is written through a temporary file
and a rename, so a failed run leaves no half-written page.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Unpack

import pandas as pd

from ._safe_text import escape_control
from .filters import JobFilters, describe_filters
from .summaries import NOT_RECORDED, WEEKS_FROM_MONDAY

if TYPE_CHECKING:
    from .histories import Histories
    from .history import FabricHistory

__all__ = ["REPORT_FILTERS", "ReportSummary", "build_report", "default_title", "write_report"]

#: The filters a report can be scoped with (a subset of :class:`JobFilters`).
REPORT_FILTERS: Final[tuple[str, ...]] = ("since", "until", "engine", "profile")
#: Failure reasons listed, most frequent first.
_TOP_REASONS: Final = 10
#: Chart sizes in inches: the wide one for screens and paper, the narrow one for phones.
_WIDE_CHART: Final = (9.0, 4.2)
_NARROW_CHART: Final = (4.0, 4.8)
#: The widest viewport (CSS px) that gets the narrow chart.
_NARROW_UP_TO: Final = 640

#: How many histories' names a page's title and header list before "and N more".
_NAMES_SHOWN: Final[int] = 5
_WHAT_IS_NOT_HELD: Final = (
    "Fabric keeps what Proxx wrote in each job's result file, and nothing else. "
    "It holds no time per clip (a time per clip here is a job's duration divided by "
    "its clips), no time spent waiting in a queue, nothing about the machines' load, "
    "and no job whose result file was never ingested. A job that was run again under "
    "the same job id is held as its last result only. Why a job was started, retried "
    "or cancelled is not recorded."
)

_STYLE: Final = """\
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",
Arial,sans-serif;color:#1b1b1b;background:#fff}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
p{margin:.5rem 0;overflow-wrap:anywhere}
.meta{color:#555;font-size:.95rem}
.missing{border-left:4px solid #b3261e;padding-left:.75rem;overflow-wrap:anywhere}
.figures{display:flex;flex-wrap:wrap;gap:.75rem;margin:.5rem 0;padding:0}
.figures div{flex:1 1 9rem;border:1px solid #ddd;border-radius:6px;padding:.5rem .75rem}
.figures dt{color:#555;font-size:.85rem}
.figures dd{margin:0;font-size:1.25rem;font-weight:600}
.scroll{overflow-x:auto;max-width:100%;margin:.5rem 0}
table{border-collapse:collapse;font-size:.9rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e4e4e4;vertical-align:top}
th{text-align:left;background:#f6f6f6;white-space:nowrap}
td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.text{min-width:12rem;max-width:32rem;overflow-wrap:anywhere}
figure{margin:.5rem 0}
figure img{display:block;width:100%;height:auto;max-width:54rem}
figcaption{color:#555;font-size:.85rem}
footer{margin-top:2.5rem;color:#777;font-size:.8rem;overflow-wrap:anywhere}
@media print{
body{font-size:10pt}
main{max-width:none;padding:0}
.scroll{overflow:visible}
table,figure,.figures{break-inside:avoid}
h2{break-after:avoid}
td.text{max-width:none}
}
"""


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """What a written report covers: its file, the jobs in its scope, and its title."""

    path: Path
    jobs: int
    title: str


# -- formatting -------------------------------------------------------------------


def _text(value: object) -> str:
    """A value from the data as HTML text: control characters visible, markup escaped."""
    if value is None or value is pd.NA:
        return NOT_RECORDED
    return html.escape(escape_control(str(value)))


def _count(value: int) -> str:
    return f"{value:,}"


def _share(count: int, total: int) -> str:
    """``count`` as a percentage of ``total`` with one decimal, the count beside it."""
    if total == 0:
        return f"{_count(count)} (-)"
    return f"{100 * count / total:.1f}% ({_count(count)})"


def _seconds_column(values: Sequence[float | None]) -> list[str]:
    """Durations in one unit for the whole column: seconds below a minute, else h:mm:ss."""
    known = [v for v in values if v is not None and not math.isnan(v)]
    long = any(abs(v) >= 60 for v in known)
    shown = []
    for value in values:
        if value is None or math.isnan(value):
            shown.append("-")
        elif long:
            sign = "-" if value < 0 else ""
            whole = round(abs(value))
            shown.append(f"{sign}{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}")
        else:
            shown.append(f"{value:.1f} s")
    return shown


def _size(size: int) -> str:
    """Bytes in decimal units (MB, GB, TB) with three significant figures."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            value = size / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    return f"{size} B"


def _when(moment: datetime | pd.Timestamp | None) -> str:
    if moment is None or pd.isna(moment):
        return "-"
    return pd.Timestamp(moment).tz_convert(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- building blocks ----------------------------------------------------------------


def _table(headers: Sequence[str], rows: Iterable[Sequence[tuple[str, str]]]) -> str:
    """A table in its own scrolling box; each cell is (css class, escaped HTML)."""
    head = "".join(f"<th scope='col'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td class='{kind}'>{cell}</td>" for kind, cell in row) + "</tr>"
        for row in rows
    )
    return (
        "<div class='scroll' role='region' tabindex='0'>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _section(title: str, body: str, anchor: str) -> str:
    return f"<section id='{anchor}'><h2>{html.escape(title)}</h2>{body}</section>"


def _nothing(what: str = "No job in this scope.") -> str:
    return f"<p>{html.escape(what)}</p>"


def _by_group(
    fabric: FabricHistory | Histories, column: str, heading: str, filters: Mapping[str, Any]
) -> str:
    """Jobs, failures and partial jobs per value of ``column``, most failures first.

    A share is of the row's jobs, its count in brackets.
    """
    counts = fabric.status_counts(by=column, **filters)
    rows: list[tuple[Any, int, int, int]] = []
    for group in dict.fromkeys(counts.index.get_level_values(0)):
        part = counts.xs(group, level=0, drop_level=True)["count"]
        total = int(part.sum())
        if total:
            rows.append((group, total, int(part["FAILED"]), int(part["PARTIAL"])))
    if not rows:
        return _nothing()
    rows.sort(key=lambda row: (-row[2], -row[1]))
    return _table(
        (heading, "jobs", "failed", "partial"),
        (
            (
                ("text", _text(None if group is pd.NA else group)),
                ("n", _count(total)),
                ("n", _share(failed, total)),
                ("n", _share(partial, total)),
            )
            for group, total, failed, partial in rows
        ),
    )


def _reasons(fabric: FabricHistory | Histories, filters: Mapping[str, Any]) -> str:
    reasons = fabric.failure_reasons(**filters)
    if reasons.empty:
        return _nothing("No failure reason is recorded in this scope.")
    top = reasons.head(_TOP_REASONS)
    rows = [
        (("text", _text(reason)), ("", _text(level)), ("n", _share(int(count), int(out_of))),
         ("text", _text(engines)), ("text", _text(profiles)))
        for reason, level, count, out_of, engines, profiles in zip(
            top["reason"], top["level"], top["count"], top["out_of"], top["engines"],
            top["profiles"], strict=True,
        )
    ]  # fmt: skip
    more = len(reasons) - len(top)
    note = f"<p class='meta'>{_count(more)} less frequent reason(s) not listed.</p>" if more else ""
    intro = (
        "<p class='meta'>A job reason is the job's validation error, counted in jobs; "
        "a clip reason is a clip's failure reason, counted in clips.</p>"
    )
    return intro + _table(("reason", "level", "share (count)", "engines", "profiles"), rows) + note


def _slowest(fabric: FabricHistory | Histories, filters: Mapping[str, Any]) -> str:
    table = fabric.slowest_profiles(**filters)
    if table.empty:
        return _nothing("No job in this scope has a duration and clips.")

    def seconds(*columns: str) -> list[list[str]]:
        """The columns' durations in one unit, so side by side they read alike."""
        values = [None if v is pd.NA else float(v) for c in columns for v in table[c]]
        shown = _seconds_column(values)
        return [shown[i * len(table) : (i + 1) * len(table)] for i in range(len(columns))]

    per_clip, median = seconds("seconds_per_clip", "median_seconds_per_clip")
    (total,) = seconds("total_seconds")
    rows = [
        (
            ("text", _text(None if profile is pd.NA else profile)),
            ("n", per_clip[i]),
            ("n", median[i]),
            ("n", _count(int(jobs))),
            ("n", _count(int(clips))),
            ("n", total[i]),
        )
        for i, (profile, jobs, clips) in enumerate(
            zip(table.index, table["jobs"], table["clips"], strict=True)
        )
    ]
    intro = (
        "<p class='meta'>Time per clip is the profile's total job time divided by its clips; "
        "the median is over its jobs, of each job's time divided by its clips.</p>"
    )
    return intro + _table(
        ("profile", "time per clip", "median per clip", "jobs", "clips", "total time"), rows
    )


def _svg_data_uri(jobs: pd.DataFrame, size: tuple[float, float]) -> str:
    """The weekly failure-rate chart of ``jobs`` as an SVG ``data:`` URI, drawn at ``size``."""
    import matplotlib
    from matplotlib.figure import Figure

    from .plots import plot_failure_rate

    # No pyplot: nothing global is created, and the figure is freed with its last reference.
    figure = Figure(figsize=size, layout="constrained")
    plot_failure_rate(jobs, freq=WEEKS_FROM_MONDAY, by="engine_used", ax=figure.add_subplot())
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "fabric-nb-report"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _chart(jobs: pd.DataFrame) -> str:
    if jobs.empty:
        return _nothing()
    wide = _svg_data_uri(jobs, _WIDE_CHART)
    narrow = _svg_data_uri(jobs, _NARROW_CHART)
    alt = "Share of jobs that failed per week, one line per engine"
    return (
        "<figure><picture>"
        f"<source media='(max-width: {_NARROW_UP_TO}px)' srcset='{narrow}'>"
        f"<img src='{wide}' alt='{alt}'></picture>"
        "<figcaption>Each week starts on Monday 00:00 UTC. A hollow point is a week in which the "
        "engine ran fewer than 5 jobs: its share says little.</figcaption></figure>"
    )


def _headline(jobs: pd.DataFrame, outputs_bytes: int, clips: int) -> str:
    total = len(jobs)
    status = jobs["final_status"]
    failed = int((status == "FAILED").sum())
    partial = int((status == "PARTIAL").sum())
    figures = {
        "jobs": _count(total),
        "failed": _share(failed, total),
        "partial": _share(partial, total),
        "clips": _count(clips),
        "proxies written": _size(outputs_bytes),
    }
    items = "".join(
        f"<div><dt>{html.escape(name)}</dt><dd>{html.escape(value)}</dd></div>"
        for name, value in figures.items()
    )
    return f"<dl class='figures'>{items}</dl>"


def _scope_text(filters: Mapping[str, Any]) -> str:
    described = describe_filters({k: v for k, v in filters.items() if v is not None})
    return f"jobs selected by {described}" if described else "every job in the history"


# -- the page -------------------------------------------------------------------------


def build_report(
    fabric: FabricHistory | Histories,
    *,
    title: str | None = None,
    generated_at: datetime | None = None,
    **filters: Unpack[JobFilters],
) -> tuple[str, int]:
    """The report page of ``fabric`` as HTML text, and the number of jobs in its scope.

    ``filters`` are :data:`REPORT_FILTERS` (``since``, ``until``, ``engine``,
    ``profile``), parsed and checked as :meth:`FabricHistory.jobs` does.
    ``fabric`` may be several histories opened as one (``open_fabric([...])``):
    the page then names them, adds failures by history, and lists at the top
    any history skipped at open. ``title`` defaults to :func:`default_title`; ``generated_at``
    (default: now) is the moment the page says it was made, in UTC.

    :raises TypeError: a filter outside :data:`REPORT_FILTERS`, or a value of the wrong type.
    :raises ValueError: a filter's value is wrong (the message says how).
    """
    unknown = sorted(set(filters) - set(REPORT_FILTERS))
    if unknown:
        raise TypeError(
            f"a report is scoped by {', '.join(REPORT_FILTERS)}; not by {', '.join(unknown)}"
        )
    if generated_at is not None and generated_at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    made = generated_at or datetime.now(UTC)
    given: dict[str, Any] = dict(filters)
    jobs = fabric.jobs(**filters)
    title = title if title is not None else default_title(fabric)
    if jobs.empty:
        period = "No job in this scope."
        outputs_bytes = clips = 0
    else:
        first, last = jobs["started_at"].min(), jobs["started_at"].max()
        period = f"Jobs started from {_when(first)} to {_when(last)}."
        outputs = fabric.outputs(**filters)
        outputs_bytes = int(outputs["output_size_bytes"].sum())
        clips = len(outputs)
    header = (
        f"<header><h1>{_text(title)}</h1>"
        f"<p class='meta'>Generated {_when(made)} from {_text(_source(fabric))}. "
        f"{html.escape(period)}</p>"
        f"<p class='meta'>Scope: {_text(_scope_text(given))}.</p>{_missing(fabric)}</header>"
    )
    parts = [header]
    if jobs.empty and not given:
        parts.append(_section("Headline", _nothing("This history holds no job yet."), "headline"))
    else:
        parts.append(_section("Headline", _headline(jobs, outputs_bytes, clips), "headline"))
        if _several(fabric):
            parts.append(
                _section(
                    "Failures by history",
                    _by_group(fabric, "history", "history", given),
                    "histories",
                )
            )
        parts.append(
            _section(
                "Failures by engine", _by_group(fabric, "engine_used", "engine", given), "engines"
            )
        )
        parts.append(
            _section(
                "Failures by profile",
                _by_group(fabric, "canonical_proxy_profile", "profile", given),
                "profiles",
            )
        )
        parts.append(_section("Top failure reasons", _reasons(fabric, given), "reasons"))
        parts.append(_section("Weekly failure rate per engine", _chart(jobs), "failure-rate"))
        parts.append(_section("Slowest profiles per clip", _slowest(fabric, given), "slowest"))
    parts.append(
        _section(
            "What this history does not hold",
            f"<p>{html.escape(_WHAT_IS_NOT_HELD)}</p>",
            "not-held",
        )
    )
    from . import __version__

    parts.append(f"<footer>Made by fabric-nb {html.escape(__version__)}, read-only.</footer>")
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_text(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>\n"
    )
    return page, len(jobs)


def write_report(
    fabric: FabricHistory | Histories,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    generated_at: datetime | None = None,
    **filters: Unpack[JobFilters],
) -> ReportSummary:
    """Write :func:`build_report` of ``fabric`` to ``path`` (replaced whole, owner-only).

    :raises TypeError, ValueError: as :func:`build_report`; nothing is written.
    :raises OSError: the page cannot be written; nothing is left behind.
    """
    from .render import write_atomically

    page, jobs = build_report(fabric, title=title, generated_at=generated_at, **filters)
    target = Path(path)
    write_atomically(target, page)
    shown = title if title is not None else default_title(fabric)
    return ReportSummary(target, jobs, shown)


def default_title(fabric: FabricHistory | Histories) -> str:
    """ "Fabric history: <file name>", or "Fabric histories: <names>" for several."""
    if _several(fabric):
        return f"Fabric histories: {_source_names(fabric)}"
    return f"Fabric history: {_source(fabric)}"


def _several(fabric: FabricHistory | Histories) -> bool:
    return hasattr(fabric, "names")


def _source_names(fabric: Any) -> str:
    names: list[str] = fabric.names
    shown = ", ".join(names[:_NAMES_SHOWN])
    return shown + (f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else "")


def _source(fabric: Any) -> str:
    """Where the page's data comes from: the file name, or the histories' names."""
    if _several(fabric):
        return f"{len(fabric.names)} histories ({_source_names(fabric)})"
    return str(fabric.path.name)


def _missing(fabric: Any) -> str:
    """The histories skipped at open (``on_error="warn"``), said at the top of the page."""
    skipped = getattr(fabric, "skipped", ())
    if not skipped:
        return ""
    items = "".join(
        f"<li>{_text(s.name)} ({_text(s.path.name)}): {_text(s.reason)}</li>" for s in skipped
    )
    what = (
        "1 history failed its checks at open and was skipped"
        if len(skipped) == 1
        else f"{len(skipped)} histories failed their checks at open and were skipped"
    )
    return (
        f"<div class='missing'><p><strong>Missing from this report</strong>: {what}.</p>"
        f"<ul>{items}</ul></div>"
    )
