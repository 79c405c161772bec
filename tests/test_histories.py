"""Several histories read as one: ``open_fabric([...])`` and :class:`Histories`.

The combined answers are checked against each history asked alone (the
single-history path is the reference), on sample histories and on random
selections; names, duplicates, ``dedupe`` and skipped databases each have
their own test, with real database files.
"""

from __future__ import annotations

import dataclasses
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FIXED_INGESTED_AT, build_store, make_job, make_output, sample_jobs

from fabric_nb import open_fabric
from fabric_nb.errors import StorageCorruptionError, StorageError
from fabric_nb.filters import UnknownValueWarning
from fabric_nb.histories import (
    Histories,
    HistoriesError,
    HistorySkippedWarning,
    history_names,
)
from fabric_nb.report import build_report

NAMES = ("bay-1", "bay-2", "bay-3")


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three sample histories of different seeds, as three machines would have."""
    folder = tmp_path_factory.mktemp("machines")
    return {
        name: build_store(folder / f"{name}.db", sample_jobs(120, seed=40 + i))
        for i, name in enumerate(NAMES)
    }


def alone(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of one history, without the ``history`` column, as a frame of its own."""
    rows = frame[frame["history"] == name].drop(columns="history").reset_index(drop=True)
    rows.attrs = {}
    return rows


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.attrs = {}
    return frame


# -- the frames --------------------------------------------------------------------


def test_frames_carry_the_history_first_as_a_categorical(machines: dict[str, Path]) -> None:
    with open_fabric(list(machines.values())) as fabric:
        assert isinstance(fabric, Histories)
        assert fabric.names == list(NAMES)
        for frame in (fabric.jobs(), fabric.outputs()):
            assert frame.columns[0] == "history"
            assert frame["history"].dtype == pd.CategoricalDtype(list(NAMES))
            assert frame.attrs["counted"] == "once per history"


def test_each_history_s_rows_are_what_it_answers_alone(machines: dict[str, Path]) -> None:
    with open_fabric(list(machines.values())) as fabric:
        jobs, outputs = fabric.jobs(), fabric.outputs()
        for name, path in machines.items():
            with open_fabric(path) as one:
                pd.testing.assert_frame_equal(
                    alone(jobs, name).sort_values(["started_at", "job_id"], ignore_index=True),
                    plain(one.jobs()),
                )
                pd.testing.assert_frame_equal(
                    alone(outputs, name).sort_values(
                        ["started_at", "job_id", "clip_index"], ignore_index=True
                    ),
                    plain(one.outputs()),
                )
        assert len(jobs) == len(fabric) == sum(len(open_fabric(p)) for p in machines.values())


def test_rows_follow_fabric_s_order_then_the_order_given(machines: dict[str, Path]) -> None:
    with open_fabric(list(machines.values())) as fabric:
        jobs = fabric.jobs()
    keys = list(zip(jobs["started_at"], jobs["job_id"], jobs["history"].cat.codes, strict=True))
    assert keys == sorted(keys)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    status=st.sampled_from([None, "FAILED", ["COMPLETED", "PARTIAL"]]),
    engine=st.sampled_from([None, "ffmpeg", "resolve"]),
    since_days=st.one_of(st.none(), st.integers(0, 40)),
    span_days=st.one_of(st.none(), st.integers(1, 30)),
    by=st.sampled_from([None, "engine_used", "canonical_proxy_profile"]),
)
def test_summaries_by_history_are_each_history_s_own(
    machines: dict[str, Path],
    status: Any,
    engine: str | None,
    since_days: int | None,
    span_days: int | None,
    by: str | None,
) -> None:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    since = None if since_days is None else start + timedelta(days=since_days)
    until = None if since is None or span_days is None else since + timedelta(days=span_days)
    filters: dict[str, Any] = {"status": status, "engine": engine, "since": since, "until": until}
    with open_fabric(list(machines.values())) as fabric, warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownValueWarning)
        combined = fabric.status_counts(by=["history", by] if by else "history", **filters)
        for name, path in machines.items():
            with open_fabric(path) as one:
                own = one.status_counts(by=by, **filters)
            if name not in combined.index.get_level_values(0):
                assert own["count"].sum() == 0
                continue
            mine = combined.xs(name, level="history")
            assert mine["count"].tolist() == own["count"].tolist()
            assert mine["share"].tolist() == own["share"].tolist()


def test_a_relative_bound_is_one_window_for_every_history(
    machines: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fabric_nb import filters

    ticks = iter(datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=d) for d in range(100))
    monkeypatch.setattr(filters, "now", lambda: next(ticks))  # a clock that moves per read
    with open_fabric(list(machines.values())) as fabric:
        jobs = fabric.jobs(since="30d")
    assert jobs["started_at"].min() >= datetime(2026, 9, 1, tzinfo=UTC)
    assert set(jobs.attrs["filters"]) == {"since"}


def test_an_engine_no_history_has_warns_once(machines: dict[str, Path]) -> None:
    with open_fabric(list(machines.values())) as fabric:
        with pytest.warns(UnknownValueWarning) as caught:
            assert fabric.jobs(engine="Resolve").empty
        assert len(caught) == 1
        assert "no job in these histories has engine 'Resolve'" in str(caught[0].message)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnknownValueWarning)
            fabric.jobs(engine="resolve")  # some history has it: no warning


# -- names ------------------------------------------------------------------------


def test_names_are_file_names_told_apart_by_their_folders(tmp_path: Path) -> None:
    paths = [tmp_path / "a" / "fabric.db", tmp_path / "b" / "fabric.db", tmp_path / "c.db"]
    assert history_names(paths) == ["a/fabric", "b/fabric", "c"]
    assert history_names([tmp_path / "x" / "y" / "f.db", tmp_path / "z" / "y" / "f.db"]) == [
        "x/y/f",
        "z/y/f",
    ]


def test_a_folder_a_glob_and_given_names(machines: dict[str, Path]) -> None:
    folder = machines["bay-1"].parent
    with open_fabric([folder]) as fabric:
        assert fabric.names == list(NAMES)
    with open_fabric([str(folder / "bay-[12].db")]) as fabric:
        assert fabric.names == ["bay-1", "bay-2"]
    with open_fabric({"edit": machines["bay-3"], "grade": machines["bay-1"]}) as fabric:
        assert fabric.names == ["edit", "grade"]
        assert fabric.jobs()["history"].cat.categories.tolist() == ["edit", "grade"]
        assert fabric.history("grade").path == machines["bay-1"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "no history given"),
        ({"a/b": "x.db"}, "cannot name a history"),
        ({".hidden": "x.db"}, "cannot name a history"),
        ({"": "x.db"}, "cannot name a history"),
        ({"tab\there": "x.db"}, "cannot name a history"),
    ],
)
def test_histories_that_cannot_be_named_are_refused(given: Any, message: str) -> None:
    with pytest.raises(HistoriesError, match=message):
        open_fabric(given)


def test_the_same_database_twice_is_refused(machines: dict[str, Path], tmp_path: Path) -> None:
    link = tmp_path / "again.db"
    link.symlink_to(machines["bay-1"])
    with pytest.raises(HistoriesError, match="the same database is given twice"):
        open_fabric([machines["bay-1"], link])


def test_an_empty_folder_or_pattern_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HistoriesError, match=r"no \*\.db file in this folder"):
        open_fabric([tmp_path])
    with pytest.raises(HistoriesError, match="no database matches this pattern"):
        open_fabric([str(tmp_path / "*.db")])


def test_one_folder_alone_says_to_pass_a_list(machines: dict[str, Path]) -> None:
    with pytest.raises(StorageError, match=r"is a folder.*pass a list"):
        open_fabric(machines["bay-1"].parent)


def test_several_histories_are_read_only(machines: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="read-only"):
        open_fabric(list(machines.values()), readonly=False)
    with pytest.raises(ValueError, match="on_error"):
        open_fabric(machines["bay-1"], on_error="warn")  # type: ignore[call-overload]


# -- a history that fails its checks --------------------------------------------------


@pytest.fixture
def with_a_damaged_one(machines: dict[str, Path], tmp_path: Path) -> list[Path]:
    damaged = tmp_path / "bay-9.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    return [*machines.values(), damaged]


def test_a_damaged_history_fails_the_open_naming_its_file(
    with_a_damaged_one: list[Path],
) -> None:
    damaged = with_a_damaged_one[-1]
    before = damaged.read_bytes()
    with pytest.raises(StorageError, match=str(damaged)):
        open_fabric(with_a_damaged_one)
    assert damaged.read_bytes() == before


def test_the_first_failing_history_in_the_order_given_is_named_and_the_rest_closed(
    machines: dict[str, Path], tmp_path: Path
) -> None:
    """The histories are checked in parallel; the answer does not depend on which ends first."""
    from support import open_fds_to

    first, second = tmp_path / "a-bad.db", tmp_path / "b-bad.db"
    first.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    second.write_bytes(b"not a database at all" * 10)
    given = [*machines.values(), second, first]
    for _ in range(5):
        with pytest.raises(StorageError, match=str(second)):
            open_fabric(given)
    for path in machines.values():
        assert open_fds_to(path) == []


def test_on_error_warn_skips_it_and_says_so_everywhere(with_a_damaged_one: list[Path]) -> None:
    with pytest.warns(HistorySkippedWarning, match="bay-9"):
        fabric = open_fabric(with_a_damaged_one, on_error="warn")
    with fabric:
        assert fabric.names == list(NAMES)
        assert [s.name for s in fabric.skipped] == ["bay-9"]
        assert fabric.skipped[0].path == with_a_damaged_one[-1]
        assert "skipped bay-9" in repr(fabric)
        html = fabric._repr_html_()
        assert html is not None
        assert "bay-9" in html
        with pytest.raises(KeyError, match="skipped at open"):
            fabric.history("bay-9")
        page, jobs = build_report(fabric, generated_at=datetime(2026, 12, 1, tzinfo=UTC))
        assert jobs == len(fabric)
        missing = page.split("<div class='missing'>", 1)[1].split("</div>", 1)[0]
        assert "1 history failed its checks at open and was skipped" in missing
        assert "<li>bay-9 (bay-9.db): " in missing
        assert "Failures by history" in page


def test_every_history_skipped_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all, " * 100)
    with pytest.warns(HistorySkippedWarning), pytest.raises(HistoriesError, match="every history"):
        open_fabric([bad], on_error="warn")


def test_a_row_that_does_not_decode_names_its_history_s_file(
    machines: dict[str, Path], tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    broken = tmp_path / "bay-4.db"
    shutil.copy(machines["bay-1"], broken)
    with sqlite3.connect(broken) as conn:
        conn.execute("UPDATE jobs SET outputs_json = '[{' WHERE rowid = 1")
    conn.close()
    with (
        open_fabric([machines["bay-2"], broken]) as fabric,
        pytest.raises(StorageCorruptionError) as caught,
    ):
        fabric.outputs()
    assert str(broken) in str(caught.value)
    assert "job_" in str(caught.value)


# -- the same job in two histories ----------------------------------------------------


@pytest.fixture
def copied(tmp_path: Path) -> list[Path]:
    """Two machines that both ingested job_copy (bay-b later, as FAILED) and one own job each."""
    later = FIXED_INGESTED_AT + timedelta(hours=1)
    a = build_store(
        tmp_path / "bay-a.db",
        [make_job("job_copy"), make_job("job_a", final_status="FAILED")],
    )
    b = build_store(
        tmp_path / "bay-b.db",
        [
            dataclasses.replace(
                make_job("job_copy", final_status="FAILED", failed_clips=2, completed_clips=0),
                ingested_at=later,
            ),
            make_job("job_b"),
        ],
    )
    return [a, b]


def test_a_copied_job_is_kept_once_per_history_and_listed(copied: list[Path]) -> None:
    with open_fabric(copied) as fabric:
        jobs = fabric.jobs()
        assert sorted(jobs["job_id"]) == ["job_a", "job_b", "job_copy", "job_copy"]
        twice = fabric.duplicate_jobs()
    assert twice["job_id"].tolist() == ["job_copy", "job_copy"]
    assert twice["history"].astype(str).tolist() == ["bay-a", "bay-b"]
    assert twice["kept"].tolist() == [False, True]  # bay-b ingested it later


def test_dedupe_keeps_the_latest_ingestion_and_says_so(copied: list[Path]) -> None:
    with open_fabric(copied) as fabric:
        every = fabric.status_counts()
        once = fabric.status_counts(dedupe=True)
        jobs = fabric.jobs(dedupe=True)
        outputs = fabric.outputs(dedupe=True)
        job = fabric.job("job_copy")
    assert every["count"].sum() == 4
    assert every.attrs["counted"] == "once per history"
    assert once["count"].sum() == 3
    assert once.loc["FAILED", "count"] == 2  # job_a, and job_copy as bay-b has it
    assert once.attrs["counted"].startswith("once (dedupe=True")
    assert jobs.loc[jobs["job_id"] == "job_copy", "history"].astype(str).tolist() == ["bay-b"]
    assert set(outputs.loc[outputs["job_id"] == "job_copy", "history"].astype(str)) == {"bay-b"}
    assert job is not None
    assert job.final_status == "FAILED"


def test_on_a_tie_the_history_given_first_wins(tmp_path: Path) -> None:
    a = build_store(tmp_path / "one.db", [make_job("job_x", engine_used="ffmpeg")])
    b = build_store(tmp_path / "two.db", [make_job("job_x", engine_used="resolve")])
    with open_fabric([b, a]) as fabric:
        kept = fabric.jobs(dedupe=True)
        assert kept["history"].astype(str).tolist() == ["two"]
        job = fabric.job("job_x")
    assert job is not None
    assert job.engine_used == "resolve"


def test_failure_reasons_tie_each_clip_to_its_own_history_s_job(tmp_path: Path) -> None:
    """job_copy is in both; only bay-b's run failed a clip: bay-b's share is 1 of its 2 clips."""
    a = build_store(tmp_path / "bay-a.db", [make_job("job_copy"), make_job("job_a")])
    failed = make_output("job_copy", 0, status="FAILED", failure_reason="Media offline")
    b = build_store(
        tmp_path / "bay-b.db",
        [
            make_job(
                "job_copy",
                final_status="PARTIAL",
                completed_clips=1,
                failed_clips=1,
                outputs=(failed, make_output("job_copy", 1)),
            )
        ],
    )
    with open_fabric([a, b]) as fabric:
        reasons = fabric.failure_reasons(by="history")
    rows = reasons[["level", "reason", "history", "count", "out_of"]].astype(object)
    assert rows.values.tolist() == [["clip", "Media offline", "bay-b", 1, 2]]


def test_a_closed_set_of_histories_refuses_questions(machines: dict[str, Path]) -> None:
    fabric = open_fabric(list(machines.values()))
    fabric.close()
    fabric.close()
    assert not fabric.is_open()
    assert "jobs" not in repr(fabric)
    with pytest.raises(Exception, match="closed"):
        fabric.jobs()
