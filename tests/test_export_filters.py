"""Filters on ``export``: the selected jobs and their outputs, in every format.

An export scoped by ``since`` / ``until`` / ``status`` / ``engine`` /
``profile`` (and the other filters of ``fabric.jobs()``) writes exactly the
rows of ``fabric.jobs(**filters)`` and ``fabric.outputs(...)`` of those jobs,
read back and compared value for value, on random filter combinations
(hypothesis). Bad filters are the frames' own errors, and write nothing.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import RunCli, build_store, sample_jobs, sha256_of

import fabric_nb.filters
from fabric_nb import open_fabric
from fabric_nb.export import export_history
from fabric_nb.filters import UnknownValueWarning
from fabric_nb.models import JOB_STATUSES

ENGINES = ["ffmpeg", "resolve", "nuke"]
PROFILES = ["proxy_prores_proxy", "proxy_h264_low", "proxy_dnxhr_lb", "no_such_profile"]
DAYS = ["2026-09-01", "2026-09-10", "2026-09-20", "2026-10-01", "2026-10-20", "7d"]


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """ "7d" is measured back from a fixed now, so both sides read the same bound."""
    monkeypatch.setattr(fabric_nb.filters, "now", lambda: datetime(2026, 10, 12, tzinfo=UTC))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("export_filters") / "fabric.db", sample_jobs(160))


def expected(db: Path, filters: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    with open_fabric(db) as fabric, warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownValueWarning)
        jobs = fabric.jobs(**filters)
        outputs = fabric.outputs(job_id=list(jobs["job_id"])) if len(jobs) else None
    if outputs is None:
        with open_fabric(db) as fabric:
            outputs = fabric.outputs().iloc[0:0]
    return jobs, outputs


def read_parquet(folder: Path) -> pd.DataFrame:
    table = pq.read_table(folder, partitioning="hive")
    frame = table.to_pandas()
    return frame.drop(columns=["started_month"], errors="ignore")


filters_strategy = st.fixed_dictionaries(
    {},
    optional={
        "status": st.lists(st.sampled_from(JOB_STATUSES), min_size=1, max_size=2),
        "engine": st.lists(st.sampled_from(ENGINES), min_size=1, max_size=2),
        "profile": st.lists(st.sampled_from(PROFILES), min_size=1, max_size=2),
        "since": st.sampled_from(DAYS),
        "until": st.sampled_from(DAYS),
    },
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(filters=filters_strategy)
def test_a_scoped_export_holds_exactly_the_selected_jobs(
    history: Path, tmp_path_factory: pytest.TempPathFactory, filters: dict[str, Any]
) -> None:
    out = tmp_path_factory.mktemp("scoped") / "out"
    message: str | None = None
    try:
        jobs, outputs = expected(history, filters)
    except ValueError as refused:  # an empty window: the export refuses it the same way
        message = str(refused)
    if message is not None:
        with pytest.raises(ValueError, match="would be empty") as raised:
            export_history(history, out, **filters)
        assert str(raised.value) == message
        assert not out.exists()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownValueWarning)
        result = export_history(history, out, fmt="parquet", **filters)
    assert (result.jobs, result.outputs) == (len(jobs), len(outputs))
    if not len(jobs):
        assert result.files == ()
        return
    written = read_parquet(out / "jobs")
    # Parquet's partitions come back month by month, as Fabric's order within each.
    assert list(written["job_id"]) == list(jobs["job_id"])
    pd.testing.assert_frame_equal(
        written[list(jobs.columns)].reset_index(drop=True),
        jobs.reset_index(drop=True),
        check_dtype=False,
        check_categorical=False,
    )
    if not len(outputs):  # selected jobs without clips (refused before running): no part file
        assert not list((out / "outputs").rglob("*.parquet"))
        return
    clips = read_parquet(out / "outputs")
    assert list(zip(clips["job_id"], clips["clip_index"], strict=True)) == list(
        zip(outputs["job_id"], outputs["clip_index"], strict=True)
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_format_takes_the_filters(history: Path, tmp_path: Path, fmt: str) -> None:
    filters = {"status": "FAILED", "engine": "resolve", "since": "2026-09-10"}
    jobs, outputs = expected(history, filters)
    assert 0 < len(jobs) < 160
    result = export_history(history, tmp_path / "out", fmt=fmt, **filters)  # type: ignore[arg-type]
    assert (result.jobs, result.outputs) == (len(jobs), len(outputs))
    if fmt == "csv":
        written = pd.read_csv(tmp_path / "out" / "jobs.csv")
        assert list(written["job_id"]) == list(jobs["job_id"])
        assert set(written["final_status"]) == {"FAILED"}
    else:
        import openpyxl

        book = openpyxl.load_workbook(tmp_path / "out" / "history.xlsx", read_only=True)
        ids = [row[0] for row in book["jobs"].iter_rows(min_row=2, values_only=True)]
        assert ids == list(jobs["job_id"])
        assert len(list(book["outputs"].iter_rows(min_row=2))) == len(outputs)


def test_the_command_line_scopes_an_export(run_cli: RunCli, history: Path, tmp_path: Path) -> None:
    before = sha256_of(history)
    out = tmp_path / "out"
    done = run_cli(
        "export", out, "--db", history, "--format", "csv", "--status", "FAILED",
        "--status", "PARTIAL", "--profile", "proxy_h264_low", "--until", "2026-10-01",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    jobs, outputs = expected(
        history,
        {"status": ["FAILED", "PARTIAL"], "profile": "proxy_h264_low", "until": "2026-10-01"},
    )
    assert f"jobs:     {len(jobs)}\n" in done.stdout
    assert f"outputs:  {len(outputs)}\n" in done.stdout
    assert list(pd.read_csv(out / "jobs.csv")["job_id"]) == list(jobs["job_id"])
    assert sha256_of(history) == before


def test_a_bad_filter_is_the_frames_error_and_writes_nothing(
    run_cli: RunCli, history: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with open_fabric(history) as fabric, pytest.raises(ValueError, match="status") as raised:
        fabric.jobs(status="DONE")
    done = run_cli("export", out, "--db", history, "--status", "DONE")
    assert done.returncode == 2
    assert done.stderr == f"fabric-nb export: {raised.value}\n"
    assert not out.exists()
    done = run_cli("export", out, "--db", history, "--since", "yesterday")
    assert done.returncode == 2
    assert "since" in done.stderr
    assert not out.exists()


def test_an_engine_no_job_has_warns_and_exports_nothing(
    run_cli: RunCli, history: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = run_cli("export", out, "--db", history, "--engine", "nuke")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("fabric-nb export: warning: ")
    assert "nuke" in done.stderr
    assert "jobs:     0\n" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["jobs", "outputs"]


def test_unknown_filter_names_are_refused(history: Path, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="colour"):
        export_history(history, tmp_path / "out", colour="red")  # type: ignore[call-arg]
    assert not (tmp_path / "out").exists()
