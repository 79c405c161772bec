"""Stored text is never read as mathematics by matplotlib (reliability round 3, item 7).

A failure reason such as ``Cannot open \\\\nas\\media$\\A001\\C0001$.MOV`` or an
engine named ``$x^$`` used to make the charts raise matplotlib's mathtext
error when the figure was drawn. Every label, tick, title and legend entry
drawn from data is literal: the figure draws, and the text shown is the text
stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from support import build_store, make_job, make_output

from fabric_nb import (
    failure_reasons,
    jobs_frame,
    open_fabric,
    outputs_frame,
    plot_durations,
    plot_failure_reasons,
    plot_jobs_over_time,
    plot_output_sizes,
    plot_usage_over_time,
)

REASON = "Cannot open \\\\nas\\media$\\A001\\C0001$.MOV"
ENGINE = "$x^$"
PROFILE = "$\\frac{1}{0}$ proxy"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def hostile_jobs() -> list[Any]:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    jobs = []
    for i in range(6):
        failed = i % 2 == 0
        outputs = tuple(
            make_output(
                f"job-{i}",
                k,
                status="FAILED" if failed else "COMPLETED",
                failure_reason=REASON if failed else None,
                output_exists=not failed,
                output_size_bytes=None if failed else 2_000_000 + k,
                engine_used=ENGINE,
                proxy_profile_used=PROFILE,
            )
            for k in range(2)
        )
        jobs.append(
            make_job(
                f"job-{i}",
                final_status="FAILED" if failed else "COMPLETED",
                started_at=start + timedelta(days=3 * i),
                completed_at=start + timedelta(days=3 * i, minutes=5 + i),
                completed_clips=0 if failed else 2,
                failed_clips=2 if failed else 0,
                validation_error=REASON if failed else None,
                engine_used=ENGINE,
                canonical_proxy_profile=PROFILE,
                outputs=outputs,
            )
        )
    return jobs


def shown_texts(ax: Axes) -> list[str]:
    """Every text of the drawn figure as the reader sees it (``\\$`` is a literal $)."""
    ax.figure.canvas.draw()  # raises if any text is read as broken mathematics
    texts = [ax.get_title(loc="left"), ax.get_xlabel(), ax.get_ylabel()]
    texts += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    legend = ax.get_legend()
    if legend is not None:
        texts += [t.get_text() for t in legend.get_texts()]
    return [t.replace("\\$", "$") for t in texts]


def test_every_chart_draws_stored_text_literally(tmp_path: Path) -> None:
    jobs = hostile_jobs()
    frame, outputs = jobs_frame(jobs), outputs_frame(jobs)

    reasons = shown_texts(plot_failure_reasons(failure_reasons(frame, outputs)))
    durations = shown_texts(plot_durations(frame, by="engine_used"))
    sizes = shown_texts(plot_output_sizes(outputs, by="proxy_profile_used"))
    usage = shown_texts(plot_usage_over_time(frame, by="engine_used"))
    with open_fabric(build_store(tmp_path / "fabric.db", jobs)) as fabric:
        over_time = shown_texts(plot_jobs_over_time(fabric.jobs(engine=ENGINE)))

    # A long reason is wrapped onto lines of its bar: read it as one line of text.
    assert any(t.replace("\n", " ").startswith("Cannot open \\\\nas\\media$") for t in reasons)
    assert ENGINE in durations
    assert ENGINE in usage
    assert PROFILE in sizes
    assert any(ENGINE in t for t in over_time)  # the filters in the default title
