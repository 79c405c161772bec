"""Each plot's Axes holds the expected artists, labels, title and legend (Agg backend).

Figures are drawn from ``counted_jobs()`` (see test_summaries.py for the
table of those jobs), so bar heights and box medians are known by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.patches import PathPatch, Rectangle
from support import build_store, counted_jobs, make_job, run_python_code, sample_jobs

from fabric_nb import (
    STATUS_COLORS,
    WEEKS_FROM_MONDAY,
    failure_reasons,
    jobs_frame,
    open_fabric,
    outputs_frame,
    plot_durations,
    plot_failure_rate,
    plot_failure_reasons,
    plot_jobs_over_time,
    plot_output_sizes,
    plot_usage_over_time,
)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def job_rows() -> pd.DataFrame:
    return jobs_frame(counted_jobs())


@pytest.fixture
def clip_rows() -> pd.DataFrame:
    return outputs_frame(counted_jobs())


@pytest.fixture
def counted_store(tmp_path: Path) -> Path:
    return build_store(tmp_path / "fabric.db", counted_jobs())


def legend_of(ax: Axes) -> Legend:
    legend = ax.get_legend()
    assert legend is not None, "every chart has a legend"
    return legend


def figure_of(ax: Axes) -> Figure:
    figure = ax.figure
    assert isinstance(figure, Figure)
    return figure


def legend_texts(ax: Axes) -> list[str]:
    return [text.get_text() for text in legend_of(ax).get_texts()]


def bars(ax: Axes) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def boxes(ax: Axes) -> list[PathPatch]:
    return [p for p in ax.patches if isinstance(p, PathPatch)]


def medians(ax: Axes) -> list[float]:
    return [
        float(np.asarray(line.get_ydata())[0]) for line in ax.lines if line.get_gid() == "median"
    ]


def tick_labels(ax: Axes, axis: str) -> list[str]:
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks]


# -- jobs over time ------------------------------------------------------------------------


def test_jobs_over_time_stacks_statuses_per_utc_day(job_rows: pd.DataFrame) -> None:
    ax = plot_jobs_over_time(job_rows)
    assert ax.get_title("left") == "Jobs started per day, by final status"
    assert ax.get_xlabel() == "day (UTC)"
    assert ax.get_ylabel() == "jobs started (count)"
    assert legend_texts(ax) == ["COMPLETED", "FAILED", "PARTIAL"]
    assert legend_of(ax).get_title().get_text() == "final status"
    # Five UTC days (1-5 September, the 4th empty), one segment per status per day.
    assert len(bars(ax)) == 15
    assert len(ax.containers) == 3
    heights = {
        status: [bar.get_height() for bar in container]
        for status, container in zip(("COMPLETED", "FAILED", "PARTIAL"), ax.containers, strict=True)
    }
    assert heights == {
        "COMPLETED": [1, 0, 1, 0, 0],
        "FAILED": [0, 1, 1, 0, 2],
        "PARTIAL": [1, 0, 0, 0, 0],
    }
    partial = list(ax.containers[2])
    assert [bar.get_y() for bar in partial] == [1, 1, 2, 0, 2]  # stacked on the other two
    for status, container in zip(("COMPLETED", "FAILED", "PARTIAL"), ax.containers, strict=True):
        assert {to_hex(bar.get_facecolor()) for bar in container} == {STATUS_COLORS[status].lower()}
    days = [mdates.num2date(bar.get_x() + bar.get_width() / 2) for bar in ax.containers[0]]
    assert [d.strftime("%m-%d %H:%M") for d in days] == [
        "09-01 12:00", "09-02 12:00", "09-03 12:00", "09-04 12:00", "09-05 12:00",
    ]  # fmt: skip


def test_jobs_over_time_other_periods(job_rows: pd.DataFrame) -> None:
    ax = plot_jobs_over_time(job_rows, freq="W-MON")
    assert len(bars(ax)) == 3
    assert "W-MON" in ax.get_title("left")
    assert "UTC" in ax.get_xlabel()
    assert [c[0].get_height() for c in ax.containers] == [2, 4, 1]


def test_jobs_over_time_draws_on_the_given_axes(job_rows: pd.DataFrame) -> None:
    _, given = plt.subplots()
    assert plot_jobs_over_time(job_rows, ax=given) is given
    assert len(bars(given)) == 15


def test_jobs_over_time_with_no_jobs(job_rows: pd.DataFrame) -> None:
    ax = plot_jobs_over_time(job_rows.iloc[:0])
    assert bars(ax) == []
    assert [t.get_text() for t in ax.texts] == ["no jobs to show"]
    assert ax.get_title("left")
    assert ax.get_xlabel()
    assert ax.get_ylabel()


# -- failure reasons ------------------------------------------------------------------------


def test_failure_reasons_bars(job_rows: pd.DataFrame, clip_rows: pd.DataFrame) -> None:
    ax = plot_failure_reasons(failure_reasons(job_rows, clip_rows))
    assert ax.get_title("left") == "Top 4 failure reasons"
    assert ax.get_xlabel() == "occurrences (count of jobs or clips, see legend)"
    assert ax.get_ylabel() == "recorded reason"
    # Disk full: 2 clips of job_d (ffmpeg) + 1 of job_b (resolve) = one bar of 3.
    # (A long reason is wrapped onto a second line: the words are all there.)
    assert [label.replace("\n", " ") for label in tick_labels(ax, "y")] == [
        "Disk full while writing output",
        "JobSpec version 1.3 is not supported (expected 2.x)",
        "Resolve render job failed: Media offline",
        "Source file not found: /Volumes/A001/clip.mov",
    ]
    assert [bar.get_width() for bar in bars(ax)] == [3, 2, 1, 1]
    job_blue, clip_red = "#0072b2", STATUS_COLORS["FAILED"].lower()
    colours = [to_hex(bar.get_facecolor()) for bar in bars(ax)]
    assert colours == [clip_red, job_blue, clip_red, job_blue]
    assert legend_texts(ax) == [
        "job validation_error (in jobs)",
        "clip failure_reason (in clips)",
    ]
    assert ax.yaxis_inverted()  # the largest on top
    assert ax.get_ylim() == (4 - 0.5, -0.5)
    assert [t.get_text() for t in ax.texts] == ["3", "2", "1", "1"]  # counts on the bars


def test_failure_reasons_top_n_and_long_text(job_rows: pd.DataFrame) -> None:
    reasons = failure_reasons(job_rows)  # job level only: two reasons
    ax = plot_failure_reasons(reasons, top=1)
    assert ax.get_title("left") == "Top 1 failure reasons"
    assert len(bars(ax)) == 1
    assert legend_texts(ax) == ["job validation_error (in jobs)"]
    long = "x" * 200
    table = reasons.assign(reason=pd.array([long, "short"], dtype="string"))
    labels = tick_labels(plot_failure_reasons(table), "y")
    # Wrapped onto the lines a bar has room for, cut with "…": the table has the full text.
    lines = labels[0].split("\n")
    assert 1 <= len(lines) <= 3
    assert lines[-1].endswith("…")
    assert all(0 < len(line) <= 60 for line in lines)
    assert labels[1] == "short"
    with pytest.raises(ValueError, match="top must be >= 1"):
        plot_failure_reasons(reasons, top=0)
    with pytest.raises(ValueError, match="failure_reasons table"):
        plot_failure_reasons(job_rows)


def test_failure_reasons_with_none_recorded(job_rows: pd.DataFrame) -> None:
    ax = plot_failure_reasons(failure_reasons(job_rows.iloc[:0]))
    assert bars(ax) == []
    assert [t.get_text() for t in ax.texts] == ["no recorded failure reasons to show"]


# -- durations ------------------------------------------------------------------------------


def test_durations_by_engine(job_rows: pd.DataFrame) -> None:
    ax = plot_durations(job_rows)
    assert ax.get_title("left") == "Job duration by engine_used"
    assert ax.get_xlabel() == "engine_used"
    # Median of the five known durations (2, 30, 600, 1800, 1800 s) is 600 s: minutes.
    assert ax.get_ylabel() == "duration (min, completed_at - started_at)"
    assert tick_labels(ax, "x") == ["(not recorded)", "ffmpeg", "resolve"]
    assert len(boxes(ax)) == 3
    # job_f: 2 s; job_a, job_d: 600 and 1800 s; job_b, job_e: 1800 and 30 s.
    assert medians(ax) == pytest.approx([2 / 60, 1200 / 60, 915 / 60])
    assert legend_texts(ax) == ["jobs drawn to scale (n=5)"]


def test_durations_by_profile_and_by_two_columns(job_rows: pd.DataFrame) -> None:
    ax = plot_durations(job_rows, by="canonical_proxy_profile", unit="s")
    assert tick_labels(ax, "x") == [
        "(not recorded)", "proxy_h264_low", "proxy_prores_proxy_resolve",
    ]  # fmt: skip
    assert medians(ax) == [16.0, 1200.0, 1800.0]
    assert ax.get_ylabel() == "duration (s, completed_at - started_at)"
    ax = plot_durations(job_rows, by=["engine_used", "canonical_proxy_profile"], unit="h")
    assert len(boxes(ax)) == 4
    assert ax.get_title("left").endswith("engine_used / canonical_proxy_profile")
    assert "resolve / (not recorded)" in tick_labels(ax, "x")


def test_durations_bad_arguments_and_no_data(job_rows: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="unit must be one of s, min, h"):
        plot_durations(job_rows, unit="days")
    with pytest.raises(ValueError, match="no column 'worker'"):
        plot_durations(job_rows, by="worker")
    ax = plot_durations(job_rows[job_rows["duration_seconds"].isna()])
    assert boxes(ax) == []
    assert [t.get_text() for t in ax.texts] == ["no job durations to show"]


# -- output sizes -----------------------------------------------------------------------------


def test_output_sizes_by_profile(clip_rows: pd.DataFrame) -> None:
    ax = plot_output_sizes(clip_rows)
    assert ax.get_title("left") == "Output size by proxy_profile_used"
    assert ax.get_xlabel() == "proxy_profile_used"
    assert ax.get_ylabel() == "output size (MB, 1 MB = 10⁶ bytes)"
    assert tick_labels(ax, "x") == [
        "(not recorded)", "proxy_h264_low", "proxy_prores_proxy_resolve",
    ]  # fmt: skip
    assert len(boxes(ax)) == 3
    # job_e 25 MB; job_a 100 and 150 MB; job_b 2000 and 500 MB (its third clip has no size).
    assert medians(ax) == pytest.approx([25.0, 125.0, 1250.0])
    assert legend_texts(ax) == ["clip outputs with a recorded size (n=5)"]


def test_output_sizes_in_gigabytes(clip_rows: pd.DataFrame) -> None:
    ax = plot_output_sizes(clip_rows[clip_rows["job_id"] == "job_b"])
    assert ax.get_ylabel() == "output size (GB, 1 GB = 10⁹ bytes)"  # median 1.25 GB
    assert medians(ax) == pytest.approx([1.25])
    with pytest.raises(ValueError, match="unit must be one of MB, GB"):
        plot_output_sizes(clip_rows, unit="MiB")


def test_output_sizes_with_none_recorded(clip_rows: pd.DataFrame) -> None:
    ax = plot_output_sizes(clip_rows[clip_rows["output_size_bytes"].isna()])
    assert boxes(ax) == []
    assert [t.get_text() for t in ax.texts] == ["no output sizes to show"]


# -- on the sample, and headless ----------------------------------------------------------------


def test_every_plot_renders_the_sample(tmp_path: Path) -> None:
    jobs = sample_jobs(300)
    frame, outs = jobs_frame(jobs), outputs_frame(jobs)
    axes = [
        plot_jobs_over_time(frame),
        plot_failure_reasons(failure_reasons(frame, outs)),
        plot_durations(frame, by="canonical_proxy_profile"),
        plot_output_sizes(outs[outs["status"] == "COMPLETED"]),
    ]
    for i, ax in enumerate(axes):
        assert ax.get_title("left")
        assert ax.get_xlabel()
        assert ax.get_ylabel()
        assert legend_texts(ax)
        figure_of(ax).savefig(tmp_path / f"{i}.png")
        assert (tmp_path / f"{i}.png").stat().st_size > 5_000
    assert len(boxes(axes[2])) == 7  # the sample's seven profiles


# -- layout: measured on the drawn figure ----------------------------------------------------


def sample_charts() -> dict[str, Callable[[Axes | None], Axes]]:
    jobs = sample_jobs(300)
    frame, outs = jobs_frame(jobs), outputs_frame(jobs)
    reasons = failure_reasons(frame, outs)
    skewed = frame.assign(duration_seconds=frame["duration_seconds"].where(frame.index != 3, -5.0))
    return {
        "jobs over time": lambda ax: plot_jobs_over_time(frame, ax=ax),
        "weekly": lambda ax: plot_jobs_over_time(frame, freq="W-MON", ax=ax),
        "usage": lambda ax: plot_usage_over_time(frame, ax=ax),
        "failure rate": lambda ax: plot_failure_rate(frame, ax=ax),
        "reasons": lambda ax: plot_failure_reasons(reasons, ax=ax),
        "equal reasons": lambda ax: plot_failure_reasons(reasons.assign(count=5), ax=ax),
        "durations": lambda ax: plot_durations(skewed, ax=ax),
        "sizes": lambda ax: plot_output_sizes(outs, ax=ax),
    }


def titles(ax: Axes) -> list[Any]:
    sides = (ax._left_title, ax._right_title)  # type: ignore[attr-defined]  # matplotlib's own
    return [t for t in (ax.title, *sides) if t.get_text()]


def drawn_data(ax: Axes) -> list[Any]:
    """What the chart drew inside its plot area (a group without data draws nothing)."""
    artists = [
        *ax.patches,
        *(line for line in ax.lines if len(np.asarray(line.get_xdata()))),
        *ax.collections,
    ]
    return [a for a in artists if np.isfinite(a.get_window_extent().get_points()).all()]


def assert_nothing_collides(fig: Figure) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    axes = fig.get_axes()
    for ax in axes:
        legend = ax.get_legend()
        assert legend is not None
        box = legend.get_window_extent(renderer)
        for title in titles(ax):
            assert not box.overlaps(title.get_window_extent(renderer)), title.get_text()
        for artist in drawn_data(ax):
            assert not box.overlaps(artist.get_window_extent(renderer)), artist
        # Nor does it reach into a neighbouring chart: its plot area, title or legend.
        for other in axes:
            if other is ax:
                continue
            assert not box.overlaps(other.get_window_extent(renderer))
            for title in titles(other):
                assert not box.overlaps(title.get_window_extent(renderer))
            assert not box.overlaps(legend_of(other).get_window_extent(renderer))


@pytest.mark.parametrize("name", list(sample_charts()))
def test_the_legend_never_covers_the_title_or_the_data_at_the_default_size(name: str) -> None:
    ax = sample_charts()[name](None)
    assert_nothing_collides(figure_of(ax))


# At the smallest sizes matplotlib itself warns that long tick labels leave the
# plot area no room; the legend and the title must still keep clear of everything.
@pytest.mark.filterwarnings("ignore:constrained_layout not applied")
@pytest.mark.parametrize("size", [(3.5, 2.5), (4.5, 3.0), (6.0, 2.5)])
@pytest.mark.parametrize("name", list(sample_charts()))
def test_the_legend_never_covers_the_title_or_the_data_at_small_sizes(
    name: str, size: tuple[float, float]
) -> None:
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    sample_charts()[name](ax)
    assert_nothing_collides(fig)


@pytest.mark.filterwarnings("ignore:constrained_layout not applied")
@pytest.mark.parametrize("layout", [None, "constrained"])
@pytest.mark.parametrize("name", list(sample_charts()))
def test_the_legend_never_covers_the_title_or_the_data_in_subplots(
    name: str, layout: str | None
) -> None:
    fig, (left, right) = plt.subplots(1, 2, layout=layout)  # matplotlib's default size
    chart = sample_charts()[name]
    chart(left)
    chart(right)
    assert_nothing_collides(fig)


@pytest.mark.filterwarnings("ignore:constrained_layout not applied")
def test_two_different_charts_side_by_side_in_a_grid() -> None:
    charts = sample_charts()
    fig, grid = plt.subplots(2, 2, figsize=(8, 6), layout="constrained")
    for ax, name in zip(
        grid.flat, ["jobs over time", "reasons", "durations", "usage"], strict=True
    ):
        charts[name](ax)
    assert_nothing_collides(fig)


# -- titles and legends say what is drawn --------------------------------------------------------


LONG_REASONS = [
    "ffmpeg exited with code 1: Error while decoding stream #0:0: corrupt frame at 00:12:31",
    "Resolve render job failed: Could not create project (Resolve not responding) after 3 tries",
    "Output file missing after render",
    "x" * 120,
    "Disk full while writing output to /Volumes/ProxyRAID/Proxies/Northern_Lights_Doc/Day_12",
]


@pytest.mark.parametrize("top", [3, 10])
@pytest.mark.parametrize("size", [None, (6.0, 4.0)])
def test_reason_labels_stay_readable_and_leave_the_bars_room(
    job_rows: pd.DataFrame, top: int, size: tuple[float, float] | None
) -> None:
    reasons = failure_reasons(job_rows)
    many = pd.concat([reasons.iloc[:1]] * 10, ignore_index=True)
    table = many.assign(
        reason=pd.array([LONG_REASONS[i % 5] + f" #{i}" for i in range(10)], dtype="string"),
        count=np.arange(10, 0, -1) * 1000,  # four-digit counts: wide value labels
    )
    ax = None if size is None else plt.subplots(figsize=size, layout="constrained")[1]
    ax = plot_failure_reasons(table, top=top, ax=ax)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = ax.get_window_extent(renderer)
    # The plot area keeps at least half of the figure's width.
    assert frame.width >= 0.5 * fig.bbox.width
    # No reason label runs into another.
    labels = [t.get_window_extent(renderer) for t in ax.get_yticklabels()]
    assert len(labels) == top
    assert not any(a.overlaps(b) for i, a in enumerate(labels) for b in labels[i + 1 :])
    # Every count ends inside the plot area, clear of its frame.
    for text in ax.texts:
        assert text.get_window_extent(renderer).x1 < frame.x1 - 1
    # The legend is never wider than the plot.
    assert legend_of(ax).get_window_extent(renderer).width <= frame.width


def test_every_plot_takes_a_title(job_rows: pd.DataFrame, clip_rows: pd.DataFrame) -> None:
    for ax in (
        plot_jobs_over_time(job_rows, title="Mine"),
        plot_usage_over_time(job_rows, title="Mine"),
        plot_failure_reasons(failure_reasons(job_rows, clip_rows), title="Mine"),
        plot_durations(job_rows, title="Mine"),
        plot_output_sizes(clip_rows, title="Mine"),
    ):
        assert ax.get_title("left") == "Mine"


def test_a_filtered_frame_says_so_in_the_default_title(counted_store: Path) -> None:
    with open_fabric(counted_store) as fabric:
        failed = fabric.jobs(status=["FAILED", "PARTIAL"])
        ax = plot_jobs_over_time(failed)
        assert ax.get_title("left") == (
            "Jobs started per day, by final status (filtered: status FAILED, PARTIAL)"
        )
        # The failures-only chart lists only the statuses it draws.
        assert legend_texts(ax) == ["FAILED", "PARTIAL"]
        sizes = plot_output_sizes(fabric.outputs(status="COMPLETED", engine="ffmpeg"))
        shown = sizes.get_title("left").replace("\n", " ")  # long titles wrap
        assert shown.endswith("(filtered: status COMPLETED; engine ffmpeg)")
        reasons = plot_failure_reasons(fabric.failure_reasons(engine="resolve"))
        assert reasons.get_title("left").replace("\n", " ").endswith("(filtered: engine resolve)")
        whole = plot_jobs_over_time(fabric.jobs())
        assert "filtered" not in whole.get_title("left")


def test_a_long_title_wraps_to_the_width_of_its_chart(job_rows: pd.DataFrame) -> None:
    fig, ax = plt.subplots(figsize=(3, 2.5), layout="constrained")
    plot_jobs_over_time(job_rows, title="A title far too long for a chart this small " * 2, ax=ax)
    assert "\n" in ax.get_title("left")
    assert_nothing_collides(fig)


def test_weekly_bars_span_the_weeks_pandas_counts(job_rows: pd.DataFrame) -> None:
    # pandas' "W-MON" week holding 1-5 September ends on Monday 7 September.
    ax = plot_jobs_over_time(job_rows, freq="W-MON")
    bar = ax.containers[0][0]
    start = mdates.num2date(bar.get_x()).replace(tzinfo=None)
    end = mdates.num2date(bar.get_x() + bar.get_width()).replace(tzinfo=None)
    assert pd.Timestamp("2026-08-31") < pd.Timestamp(start) < pd.Timestamp("2026-09-01")
    assert pd.Timestamp("2026-09-06") < pd.Timestamp(end) < pd.Timestamp("2026-09-07")
    monday = plot_jobs_over_time(job_rows, freq=WEEKS_FROM_MONDAY)
    first = mdates.num2date(monday.containers[0][0].get_x()).replace(tzinfo=None)
    assert pd.Timestamp("2026-08-31") < pd.Timestamp(first) < pd.Timestamp("2026-09-01")


def test_usage_over_time_stacks_each_value(job_rows: pd.DataFrame) -> None:
    ax = plot_usage_over_time(job_rows, by="engine_used", freq="D")
    assert legend_texts(ax) == ["ffmpeg", "resolve", "(not recorded)"]
    assert legend_of(ax).get_title().get_text() == "engine_used"
    heights = [[bar.get_height() for bar in c] for c in ax.containers]
    assert heights == [[1, 1, 1, 0, 0], [1, 0, 1, 0, 0], [0, 0, 0, 0, 2]]
    empty = plot_usage_over_time(job_rows.iloc[:0])
    assert [t.get_text() for t in empty.texts] == ["no jobs to show"]


def test_absurd_and_negative_durations_are_counted_outliers(job_rows: pd.DataFrame) -> None:
    durations = job_rows["duration_seconds"].copy()
    durations.iloc[0] = -3600.0  # job_a: a clock set back an hour
    durations.iloc[2] = 3 * 365 * 86400.0  # job_c: three years
    durations.iloc[3] = 90_000.0  # job_d: just over a day
    skewed = job_rows.assign(duration_seconds=durations)
    ax = plot_durations(skewed, unit="min")
    assert legend_texts(ax) == [
        "jobs drawn to scale (n=3)",
        "longer than 1440 min: 2 jobs, not to scale",
        "negative duration: 1 job, not to scale",
    ]
    # The axis keeps the scale of the plausible durations (at most 30 min here).
    low, high = ax.get_ylim()
    assert high < 40
    assert low > -10
    markers = [line for line in ax.lines if line.get_marker() in ("^", "v")]
    assert sorted(len(np.asarray(line.get_xdata())) for line in markers) == [1, 1]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2"]  # counted at each group
    assert_nothing_collides(figure_of(ax))
    limited = plot_durations(skewed, max_seconds=4 * 365 * 86400.0, unit="min")
    assert legend_texts(limited)[1] == "negative duration: 1 job, not to scale"
    with pytest.raises(ValueError, match="max_seconds must be positive"):
        plot_durations(skewed, max_seconds=0)


def test_status_colours_are_one_per_status() -> None:
    assert set(STATUS_COLORS) == {"COMPLETED", "FAILED", "PARTIAL"}
    assert len(set(STATUS_COLORS.values())) == 3
    with pytest.raises(TypeError):
        STATUS_COLORS["FAILED"] = "red"  # type: ignore[index]


def test_importing_the_package_does_not_import_matplotlib(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import fabric_nb\n"
        "print('matplotlib' in sys.modules, 'pandas' in sys.modules)\n"
        "fabric_nb.jobs_frame([])\n"
        "print('matplotlib' in sys.modules, 'pandas' in sys.modules)\n"
        "fabric_nb.plot_durations\n"
        "print('matplotlib' in sys.modules)\n"
    )
    done = run_python_code(code, home=tmp_path, env={"MPLBACKEND": "Agg"})
    assert done.stdout.split("\n")[:3] == ["False False", "False True", "True"]


def test_a_single_job_plots(tmp_path: Path) -> None:
    frame = jobs_frame([make_job()])
    ax = plot_jobs_over_time(frame)
    assert len(bars(ax)) == 1
    assert legend_texts(ax) == ["COMPLETED"]
    assert len(boxes(plot_durations(frame))) == 1
