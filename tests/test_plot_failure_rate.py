"""plot_failure_rate: the FAILED share per period, a line per group, few-job points hollow."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.pyplot as plt
import numpy as np
import pytest
from support import sample_jobs

from fabric_nb import WEEKS_FROM_MONDAY, daily_counts, jobs_frame, plot_failure_rate

FRAME = jobs_frame(sample_jobs(300))


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    plt.close("all")


def series(ax: plt.Axes) -> list[np.ndarray]:
    """The y values of each group's line (the lines drawn with a label)."""
    return [
        np.asarray(line.get_ydata(), dtype=float)
        for line in ax.lines
        if not str(line.get_label()).startswith("_")
    ]


@pytest.mark.parametrize("freq", ["W-MON", WEEKS_FROM_MONDAY, "MS"])
def test_each_line_is_the_failed_share_in_percent(freq: str) -> None:
    ax = plot_failure_rate(FRAME, freq=freq)
    table = daily_counts(FRAME, freq, by="engine_used")
    engines = list(dict.fromkeys(table.index.get_level_values(0)))
    drawn = series(ax)
    assert len(drawn) == len(engines)
    for line, engine in zip(drawn, engines, strict=True):
        expected = table.loc[engine, "FAILED_share"].to_numpy(dtype=float, na_value=np.nan) * 100
        np.testing.assert_allclose(line, expected, equal_nan=True)
    assert ax.yaxis.get_major_formatter()(50, 0) == "50%"


def test_periods_with_few_jobs_are_hollow_points() -> None:
    table = daily_counts(FRAME, "D")
    busiest = int(table["total"].max())  # only the busiest days are "enough"
    ax = plot_failure_rate(FRAME, freq="D", by=None, min_jobs=busiest)
    few = int(((table["total"] > 0) & (table["total"] < busiest)).sum())
    enough = int((table["total"] >= busiest).sum())
    hollow = [
        line
        for line in ax.lines
        if line.get_marker() == "o" and line.get_markerfacecolor() == "none"
    ]
    filled = [
        line
        for line in ax.lines
        if line.get_marker() == "o" and line.get_markerfacecolor() != "none"
    ]
    assert sum(len(np.asarray(line.get_xdata())) for line in hollow) == few > 0
    assert sum(len(np.asarray(line.get_xdata())) for line in filled) == enough > 0
    shown = ax.get_legend()
    assert shown is not None
    legend = [text.get_text() for text in shown.get_texts()]
    assert f"hollow: fewer than {busiest} jobs in the period" in legend


def test_no_jobs_and_bad_arguments() -> None:
    ax = plot_failure_rate(FRAME.iloc[:0])
    assert any(text.get_text() == "no jobs to show" for text in ax.texts)
    with pytest.raises(ValueError, match="min_jobs must be >= 1"):
        plot_failure_rate(FRAME, min_jobs=0)
    with pytest.raises(ValueError, match="did you mean 'engine_used'"):
        plot_failure_rate(FRAME, by="engine")
