"""open_fabric(): read-only by default, never creates or changes a database, closes always.

Stores are real SQLite files; writers in other processes are real processes.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from support import (
    build_store,
    counted_jobs,
    make_job,
    open_fds_to,
    run_python_code,
    sha256_of,
)

from fabric_nb import (
    FabricHistory,
    PersistenceError,
    StorageCorruptionError,
    StorageError,
    daily_counts,
    failure_reasons,
    jobs_frame,
    open_fabric,
    outputs_frame,
    status_counts,
)


@pytest.fixture
def counted_store(tmp_path: Path) -> Path:
    return build_store(tmp_path / "history" / "fabric.db", counted_jobs())


def folder_listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


# -- opening ----------------------------------------------------------------------------


def test_opens_read_only_and_rebuilds_the_index(sample_store: Path) -> None:
    with open_fabric(sample_store) as fabric:
        assert isinstance(fabric, FabricHistory)
        assert fabric.readonly
        assert fabric.is_open()
        assert fabric.path == sample_store
        assert fabric.persistence.is_open()
        assert len(fabric) == fabric.queries.count_jobs() == fabric.index.count_jobs() > 350
        every = fabric.queries.get_all_jobs()
        pd.testing.assert_frame_equal(fabric.jobs(), jobs_frame(every))
        pd.testing.assert_frame_equal(fabric.outputs(), outputs_frame(every))
        first = every[0]
        assert fabric.job(first.job_id) == first
        assert fabric.job("no-such-job") is None
        assert (
            repr(fabric) == f"<FabricHistory {sample_store} (read-only, open): {len(every)} jobs>"
        )


def test_is_open_without_a_with_block(counted_store: Path) -> None:
    fabric = open_fabric(counted_store)
    try:
        assert fabric.is_open()
        assert len(fabric) == 7
    finally:
        fabric.close()
    assert not fabric.is_open()
    assert not fabric.persistence.is_open()
    fabric.close()  # twice is harmless
    assert "closed" in repr(fabric)


def test_closing_always_closes_persistence(counted_store: Path) -> None:
    # Two statements on purpose: the history is open inside, then the block raises.
    with pytest.raises(RuntimeError, match="analysis failed"), open_fabric(counted_store) as fabric:  # noqa: PT012
        assert open_fds_to(counted_store)
        raise RuntimeError("analysis failed")
    assert not fabric.persistence.is_open()
    assert open_fds_to(counted_store) == []
    # Questions read the database: after closing, one says so and how to keep answers.
    with pytest.raises(PersistenceError, match=r"is closed: .*in_memory=True"):
        fabric.jobs()
    assert "closed" in repr(fabric)


def test_an_in_memory_history_stays_readable_after_closing(counted_store: Path) -> None:
    with open_fabric(counted_store, in_memory=True) as fabric:
        assert open_fds_to(counted_store)
    assert open_fds_to(counted_store) == []
    assert fabric.jobs()["job_id"].tolist()[:2] == ["job_a", "job_b"]
    assert len(fabric) == 7
    assert fabric.job("job_c") is not None


# -- read-only means read-only ----------------------------------------------------------


def test_cannot_write(counted_store: Path) -> None:
    digest, listing = sha256_of(counted_store), folder_listing(counted_store)
    mtime = counted_store.stat().st_mtime_ns
    with open_fabric(counted_store) as fabric:
        with pytest.raises(
            StorageError,
            match=r"^Failed to persist job: storage .* is read-only \(job 'job_new'\)$",
        ):
            fabric.index.add_job(make_job("job_new"))
        with pytest.raises(StorageError, match=r"read-only"):
            fabric.index.add_jobs([make_job("job_x"), make_job("job_y")])
        with pytest.raises(StorageError, match=r"read-only"):
            fabric.persistence.persist_ingested_job(make_job("job_a"))
        # The failed writes changed nothing in memory either.
        assert fabric.job("job_new") is None
        assert len(fabric) == 7
        fabric.jobs(), fabric.outputs(), fabric.failure_reasons(), fabric.daily_counts()
    assert sha256_of(counted_store) == digest
    assert counted_store.stat().st_mtime_ns == mtime
    assert folder_listing(counted_store) == listing  # no journal or other side file


def test_missing_database_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "fabric.db"
    with pytest.raises(StorageError, match=rf"Storage file not found: {missing}"):
        open_fabric(missing)
    assert not missing.exists()
    assert not missing.parent.exists()
    assert list(tmp_path.iterdir()) == []


def test_corrupt_file_fails_loudly_and_is_left_alone(tmp_path: Path) -> None:
    bad = tmp_path / "fabric.db"
    bad.write_bytes(b"this is not a database" * 100)
    digest = sha256_of(bad)
    with pytest.raises(StorageCorruptionError, match=str(bad)):
        open_fabric(bad)
    assert sha256_of(bad) == digest
    assert folder_listing(bad) == ["fabric.db"]


def test_other_schema_version_fails_loudly_and_is_left_alone(counted_store: Path) -> None:
    with sqlite3.connect(counted_store) as conn:
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    digest = sha256_of(counted_store)
    with pytest.raises(StorageError, match=r"Schema version mismatch: expected 1, found 7"):
        open_fabric(counted_store)
    assert sha256_of(counted_store) == digest


def test_a_row_that_cannot_be_decoded_fails_every_question_that_reads_it(
    counted_store: Path,
) -> None:
    with sqlite3.connect(counted_store) as conn:
        conn.execute("UPDATE jobs SET outputs_json = 'not json' WHERE job_id = 'job_c'")
    conn.close()
    digest = sha256_of(counted_store)
    damaged = r"job 'job_c' cannot be decoded: "
    with open_fabric(counted_store) as fabric:
        for question in (
            lambda: fabric.job("job_c"),
            lambda: fabric.outputs(),
            lambda: fabric.failure_reasons(),
            lambda: fabric.repeated_failures(),
            lambda: fabric.queries.get_all_jobs(),
            lambda: fabric.index,
        ):
            with pytest.raises(StorageCorruptionError, match=damaged):
                question()
        # Answers computed without job_c's outputs read (and check) its other columns only.
        assert len(fabric.jobs()) == 7
        assert fabric.job("job_a") is not None
        assert fabric.outputs(job_id="job_a")["job_id"].tolist() == ["job_a"] * 2
    # The full check at open, as the index always ran it: refused, the store closed.
    with pytest.raises(StorageCorruptionError, match=damaged):
        open_fabric(counted_store, in_memory=True)
    assert open_fds_to(counted_store) == []
    assert sha256_of(counted_store) == digest


def test_a_damaged_column_fails_the_frame_that_reads_it(counted_store: Path) -> None:
    with sqlite3.connect(counted_store) as conn:
        conn.execute("UPDATE jobs SET started_at = 'yesterday' WHERE job_id = 'job_d'")
        conn.execute("UPDATE jobs SET final_status = 'SKIPPED' WHERE job_id = 'job_b'")
    conn.close()
    with open_fabric(counted_store) as fabric:
        with pytest.raises(StorageCorruptionError, match=r"job 'job_d' cannot be decoded: "):
            fabric.jobs(status="FAILED")
        with pytest.raises(
            StorageCorruptionError, match=r"job 'job_b' cannot be decoded: final_st"
        ):
            fabric.status_counts(by="engine_used")
        with pytest.raises(
            StorageCorruptionError, match=r"job 'job_b' cannot be decoded: final_st"
        ):
            fabric.status_counts()


# -- which database ---------------------------------------------------------------------


def test_fabric_db_environment_variable_is_honoured(
    counted_store: Path, sample_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FABRIC_DB", str(counted_store))
    with open_fabric() as fabric:
        assert fabric.path == counted_store
        assert len(fabric) == 7
    with open_fabric(sample_store) as fabric:  # an explicit path wins
        assert fabric.path == sample_store


def test_default_path_is_under_home_and_never_created(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    code = (
        "from fabric_nb import open_fabric, StorageError\n"
        "try:\n"
        "    open_fabric()\n"
        "except StorageError as exc:\n"
        "    print(exc)\n"
    )
    done = run_python_code(code, home=home, env={"FABRIC_DB": ""})  # empty counts as unset
    expected = home / ".proxx" / "fabric" / "fabric.db"
    assert done.stdout.strip() == (
        f"Storage file not found: {expected} (read-only mode never creates it)"
    )
    assert list(home.iterdir()) == []


def test_default_path_is_used_when_fabric_db_is_unset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_store(home / ".proxx" / "fabric" / "fabric.db", counted_jobs())
    code = (
        "import os\n"
        "os.environ.pop('FABRIC_DB', None)\n"
        "from fabric_nb import open_fabric\n"
        "with open_fabric() as fabric:\n"
        "    print(fabric.path, len(fabric))\n"
    )
    done = run_python_code(code, home=home)
    assert done.stdout.strip() == f"{home / '.proxx' / 'fabric' / 'fabric.db'} 7"


# -- writing, when asked ----------------------------------------------------------------


def test_readonly_false_creates_and_writes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "fabric.db"
    with open_fabric(path, readonly=False) as fabric:
        assert not fabric.readonly
        assert len(fabric) == 0
        fabric.index.add_job(make_job("job_1"))
    with open_fabric(path) as fabric:
        assert fabric.jobs()["job_id"].tolist() == ["job_1"]


def test_a_writer_is_not_blocked_and_each_question_sees_the_file_as_it_is(
    counted_store: Path, tmp_path: Path
) -> None:
    # A writer in another process is not blocked by an open read-only history;
    # the default history answers from the file as it is when asked, and an
    # in-memory one from the file as it was when opened.
    code = (
        "import os\n"
        "from datetime import UTC, datetime\n"
        "from support import make_job\n"
        "from fabric_nb import open_fabric\n"
        "later = make_job('job_later', started_at=datetime(2026, 9, 6, tzinfo=UTC))\n"
        "with open_fabric(readonly=False) as writer:\n"
        "    writer.index.add_job(later)\n"
        "print('written')\n"
    )
    env = {"FABRIC_DB": str(counted_store)}
    with open_fabric(counted_store) as fabric, open_fabric(counted_store, in_memory=True) as kept:
        assert len(fabric) == 7
        done = run_python_code(code, home=tmp_path, env=env, timeout=60)
        assert done.stdout.strip() == "written"
        assert len(fabric) == 8
        later = fabric.job("job_later")
        assert later is not None
        assert later.started_at == datetime(2026, 9, 6, tzinfo=UTC)
        assert fabric.jobs()["job_id"].tolist()[-1] == "job_later"
        assert len(kept) == 7
        assert kept.job("job_later") is None


# -- the helpers ------------------------------------------------------------------------


def test_helpers_hand_counted(counted_store: Path) -> None:
    with open_fabric(counted_store) as fabric:
        assert fabric.status_counts()["count"].tolist() == [2, 4, 1]
        assert fabric.status_counts(engine="ffmpeg")["count"].tolist() == [1, 2, 0]
        assert fabric.jobs(status="PARTIAL")["job_id"].tolist() == ["job_b"]
        assert fabric.outputs(job_id="job_d", status="FAILED")["clip_index"].tolist() == [0, 1]
        reasons = fabric.failure_reasons(engine="resolve")
        assert list(zip(reasons["level"], reasons["reason"], reasons["count"], strict=True)) == [
            ("clip", "Disk full while writing output", 1),
            ("clip", "Resolve render job failed: Media offline", 1),
        ]
        failed = fabric.engine_profile_table(status="FAILED")
        assert failed[["FAILED", "total"]].to_numpy().tolist() == [[2, 2], [2, 2]]
        assert failed["engine_used"].isna().tolist() == [False, True]
        weekly = fabric.daily_counts("W-MON")[["COMPLETED", "FAILED", "PARTIAL", "total"]]
        assert weekly.to_numpy().tolist() == [[2, 4, 1, 7]]
        by_engine = fabric.status_counts(by="engine_used", status="FAILED")
        assert by_engine.loc[("ffmpeg", "FAILED"), "count"] == 2
        assert fabric.slowest_jobs(top=1)["job_id"].tolist() == ["job_b"]
        assert fabric.repeated_failures(min_jobs=1)["failed_jobs"].tolist() == [1, 1, 1, 1]
        assert fabric.usage_over_time(by="engine_used")["total"].tolist() == [7]
        assert fabric.daily_counts(since="2026-09-05T00:00+00:00")["FAILED"].tolist() == [2]


def test_helpers_equal_the_summaries_of_the_frames(sample_store: Path) -> None:
    with open_fabric(sample_store) as fabric:
        pd.testing.assert_frame_equal(
            fabric.status_counts(engine="resolve"), status_counts(fabric.jobs(engine="resolve"))
        )
        pd.testing.assert_frame_equal(
            fabric.failure_reasons(), failure_reasons(fabric.jobs(), fabric.outputs())
        )
        pd.testing.assert_frame_equal(
            fabric.daily_counts("W-MON", by="engine_used", status="FAILED"),
            daily_counts(fabric.jobs(status="FAILED"), "W-MON", by="engine_used"),
        )
        with pytest.raises(ValueError, match="unknown status"):
            fabric.status_counts(status="DONE")


def test_a_copied_store_opens_the_same(sample_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copyfile(sample_store, copy)
    with open_fabric(sample_store) as a, open_fabric(copy) as b:
        pd.testing.assert_frame_equal(a.jobs(), b.jobs())
