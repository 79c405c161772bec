"""Objects show themselves in Jupyter: a short repr, an escaped HTML view."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import build_store, make_job, make_output, sample_jobs

from fabric_nb import open_fabric


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return build_store(tmp_path / "<b>hist</b>" / "fabric.db", sample_jobs(120))


@pytest.mark.parametrize("in_memory", [False, True])
def test_a_history_shows_its_file_jobs_period_and_statuses(store: Path, in_memory: bool) -> None:
    with open_fabric(store, in_memory=in_memory) as fabric:
        view = fabric._repr_html_()
        counts = fabric.status_counts()
        jobs = fabric.jobs()
    assert view is not None
    assert "&lt;b&gt;hist&lt;/b&gt;" in view
    assert "<b>hist</b>" not in view
    assert f"{len(jobs)} jobs" in view
    first = jobs["started_at"].min().isoformat()
    last = jobs["started_at"].max().isoformat()
    assert f"{first} .. {last}".replace("+00:00", "") in view.replace("+00:00", "")
    for status, row in counts.iterrows():
        assert f"<td>{int(row['count'])}</td><td>{float(row['share']) * 100:.1f} %</td>" in view, (
            status
        )
    assert ("in memory" in view) == in_memory


def test_a_closed_history_has_no_html_view_but_its_repr(store: Path) -> None:
    fabric = open_fabric(store)
    fabric.close()
    assert fabric._repr_html_() is None
    assert "closed" in repr(fabric)


def test_an_empty_history_shows_no_period(tmp_path: Path) -> None:
    with open_fabric(build_store(tmp_path / "e.db", [])) as fabric:
        view = fabric._repr_html_()
    assert view is not None
    assert "0 jobs, started -" in view


def test_a_job_repr_is_one_short_line() -> None:
    job = make_job("j" * 10_000)
    shown = repr(job)
    assert "\n" not in shown
    assert len(shown) < 400
    assert shown.startswith("<IngestedJob 'jjj")
    assert (
        "COMPLETED, started 2026-01-05T10:00:00.123456+00:00, 2 clips (2 completed, 0 failed)"
        in shown
    )


def test_a_job_html_view_escapes_markup_and_caps_its_outputs() -> None:
    outputs = tuple(
        make_output("<script>alert(1)</script>", i, source_path=f"/cards/<i>{i}</i>.mov")
        for i in range(60)
    )
    job = make_job("<script>alert(1)</script>", outputs=outputs, total_clips=60)
    view = job._repr_html_()
    assert "<script>" not in view
    assert "<i>" not in view
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in view
    assert "&lt;i&gt;49&lt;/i&gt;" in view
    assert "&lt;i&gt;50&lt;/i&gt;" not in view  # the 51st output: past the cap
    assert "... and 10 more outputs" in view
