"""Bulk ingestion (``fabric_nb.bulk``): batches, rejected files, replaced jobs, failures.

Everything runs on real files and a real SQLite database. The storage failure
is a real one too: a trigger another process adds makes SQLite refuse one job, so
the write path fails exactly as it would on a full disk.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from support import RunPython, job_records, make_clip, make_result, write_result

from fabric_nb import FabricIndex, StorageError, create_persistence
from fabric_nb.bulk import (
    IngestAborted,
    IngestPathError,
    IngestReport,
    SkippedFile,
    collect_json_files,
    ingest_files,
    ingest_paths,
)
from fabric_nb.ingestion import ingest_execution_result


def result(job_id: str, minute: int = 0, **overrides: object) -> dict[str, object]:
    """A valid result for ``job_id`` starting at 10:``minute``."""
    return make_result(
        job_id=job_id, started_at=f"2026-01-05T10:{minute:02d}:00.000000+00:00", **overrides
    )


def stored(db: Path) -> dict[str, dict[str, object]]:
    """job_id -> record of every job in ``db``, read through a fresh persistence."""
    with create_persistence(db, readonly=True) as persistence:
        return {rec["job_id"]: rec for rec in job_records(persistence.load_all_jobs())}


def without_ingested_at(records: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    return {k: {f: v for f, v in rec.items() if f != "ingested_at"} for k, rec in records.items()}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A folder tree of good, bad, duplicate and non-result files.

    Sorted order: a/01_good, a/02_bad_json, a/b/03_dup(job-2 v1), a/b/04_good,
    c_bad_status, d_dup(job-2 v2), e_good; plus notes.txt and a folder named x.json.
    """
    root = tmp_path / "results"
    (root / "a" / "b").mkdir(parents=True)
    (root / "x.json").mkdir()  # a folder, not a file
    write_result(root / "a", result("job-1", 1), "01_good.json")
    write_result(root / "a", b'{"job_id": "job-bad", "final_status": ', "02_bad_json.json")
    write_result(root / "a" / "b", result("job-2", 2, final_status="FAILED"), "03_dup.json")
    write_result(root / "a" / "b", result("job-3", 3), "04_good.json")
    write_result(root, result("job-bad-2", 4, final_status="SKIPPED"), "c_bad_status.json")
    write_result(root, result("job-2", 5), "d_dup.json")
    write_result(root, result("job-4", 6), "e_good.json")
    (root / "notes.txt").write_text("not a result")
    return root


# -- finding files -----------------------------------------------------------------


def test_folders_are_searched_recursively_for_json_in_sorted_order(mixed: Path) -> None:
    files = collect_json_files([mixed])

    relative = [f.relative_to(mixed).as_posix() for f in files]
    assert relative == [
        "a/01_good.json",
        "a/02_bad_json.json",
        "a/b/03_dup.json",
        "a/b/04_good.json",
        "c_bad_status.json",
        "d_dup.json",
        "e_good.json",
    ]


def test_order_compares_folder_names_not_raw_strings(tmp_path: Path) -> None:
    # As raw strings "a-b/z.json" < "a/y.json" ('-' < '/'); by folder it comes after "a".
    for rel in ("a-b/z.json", "a/y.json", "a.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")

    relative = [f.relative_to(tmp_path).as_posix() for f in collect_json_files([tmp_path])]

    assert relative == ["a/y.json", "a-b/z.json", "a.json"]


def test_files_are_taken_as_given_in_argument_order_and_kept_once(
    mixed: Path, tmp_path: Path
) -> None:
    other = tmp_path / "result.txt"
    other.write_text("{}")
    e_good = mixed / "e_good.json"

    files = collect_json_files([other, e_good, mixed, e_good])

    assert files[0] == other  # any name, when given explicitly
    assert files[1] == e_good
    assert files.count(e_good) == 1
    assert len(files) == 2 + 6


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "one.json").write_text("{}")
    (root / "loop").symlink_to(root, target_is_directory=True)

    assert collect_json_files([root]) == [root / "one.json"]


def test_a_missing_path_is_an_error_before_anything_is_read(tmp_path: Path, db_path: Path) -> None:
    good = write_result(tmp_path, result("job-1"), "good.json")
    missing = tmp_path / "no-such-folder"
    with (
        create_persistence(db_path) as persistence,
        pytest.raises(IngestPathError, match="no-such-folder: no such file or folder"),
    ):
        ingest_paths([good, missing], persistence)
    assert stored(db_path) == {}


# -- good, bad and duplicate files ---------------------------------------------------


def test_mixed_folder_lands_good_files_and_reports_bad_ones(mixed: Path, db_path: Path) -> None:
    with create_persistence(db_path) as persistence:
        report = ingest_paths([mixed], persistence, batch_size=2)

    assert report == IngestReport(
        files=8,  # notes.txt is found, and skipped
        ingested=5,
        replaced=1,  # d_dup.json replaces job-2 from a/b/03_dup.json
        rejected=report.rejected,
        rolled_back=0,
        not_attempted=0,
        transactions=3,  # [01, 03], [04, d], [e]: rejected files take no place in a batch
        skipped=(
            SkippedFile(mixed / "notes.txt", "not a result file: its name matches no pattern"),
        ),
    )
    assert [(r.path.relative_to(mixed).as_posix()) for r in report.rejected] == [
        "a/02_bad_json.json",
        "c_bad_status.json",
    ]
    assert report.rejected[0].reason.startswith("Invalid JSON: ")
    assert (
        "Invalid final_status: expected one of COMPLETED, FAILED, PARTIAL"
        in report.rejected[1].reason
    )
    assert not report.clean
    assert report.new == 4

    jobs = stored(db_path)
    assert sorted(jobs) == ["job-1", "job-2", "job-3", "job-4"]
    assert jobs["job-2"]["final_status"] == "COMPLETED"  # the later file won
    assert jobs["job-2"]["started_at"] == "2026-01-05T10:05:00+00:00"


def test_every_good_file_is_stored_exactly_as_single_file_ingestion_reads_it(
    mixed: Path, db_path: Path
) -> None:
    with create_persistence(db_path) as persistence:
        ingest_paths([mixed], persistence)

    good = ["a/01_good.json", "a/b/03_dup.json", "a/b/04_good.json", "d_dup.json", "e_good.json"]
    expected: dict[str, dict[str, object]] = {}
    for record in job_records(ingest_execution_result(mixed / name) for name in good):
        expected[record["job_id"]] = record  # a later file replaces an earlier one
    assert without_ingested_at(stored(db_path)) == without_ingested_at(expected)


def test_rerunning_on_the_same_folder_leaves_the_same_jobs(mixed: Path, db_path: Path) -> None:
    with create_persistence(db_path) as persistence:
        first = ingest_paths([mixed], persistence, batch_size=3)
    after_first = stored(db_path)
    with create_persistence(db_path) as persistence:
        second = ingest_paths([mixed], persistence, batch_size=1, full=True)
    after_second = stored(db_path)

    assert after_second == after_first  # ingested_at included: nothing was written
    assert (first.ingested, first.superseded) == (5, 0)  # job-2 twice: two batches
    # Read again: job-2's first file is superseded by its later one, whose content is
    # the stored row; nothing is written.
    assert (second.ingested, second.unchanged, second.superseded) == (0, 4, 1)
    assert [r.path for r in second.rejected] == [r.path for r in first.rejected]


def test_replaced_counts_jobs_stored_before_and_earlier_in_the_run(
    tmp_path: Path, db_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    with create_persistence(db_path) as persistence:
        ingest_paths([write_result(tmp_path, result("old", 9), "old.json")], persistence)
        for name, job_id in [("1", "old"), ("2", "new"), ("3", "new"), ("4", "new"), ("5", "x")]:
            write_result(folder, result(job_id), f"{name}.json")  # "old" changed: minute 0

        report = ingest_paths([folder], persistence, batch_size=2)

    # "old" was stored before (replaced). "new": file 2 is written with the first batch;
    # file 3 is superseded by file 4 in the next batch, whose content is the row file 2
    # wrote (unchanged: not written again).
    assert (report.ingested, report.replaced, report.new) == (3, 1, 2)
    assert (report.superseded, report.unchanged) == (1, 1)
    assert sorted(stored(db_path)) == ["new", "old", "x"]


def test_a_job_id_repeated_within_one_batch_keeps_the_last_file(
    tmp_path: Path, db_path: Path
) -> None:
    write_result(tmp_path, result("same", 1, final_status="FAILED"), "1.json")
    write_result(tmp_path, result("same", 2, final_status="PARTIAL"), "2.json")
    write_result(tmp_path, result("same", 3), "3.json")

    with create_persistence(db_path) as persistence:
        report = ingest_paths([tmp_path], persistence, batch_size=10)

    assert (report.ingested, report.replaced, report.transactions) == (1, 0, 1)
    assert report.superseded == 2  # the earlier files: never written
    assert stored(db_path)["same"]["started_at"] == "2026-01-05T10:03:00+00:00"


def test_fail_fast_commits_the_good_files_before_the_bad_one_and_reads_nothing_after(
    tmp_path: Path, db_path: Path
) -> None:
    for i in range(1, 5):
        write_result(tmp_path, result(f"job-{i}", i), f"{i}.json")
    bad_clip = make_clip(0, output_size_bytes=-1)
    write_result(tmp_path, result("job-bad", 5, clips=[bad_clip]), "5.json")
    for i in range(6, 9):
        write_result(tmp_path, result(f"job-{i}", i), f"{i}.json")

    with create_persistence(db_path) as persistence:
        report = ingest_paths([tmp_path], persistence, batch_size=3, fail_fast=True)

    # 1-3 committed as a full batch, 4 committed when the run stopped at 5.
    assert sorted(stored(db_path)) == ["job-1", "job-2", "job-3", "job-4"]
    assert (report.ingested, report.transactions, report.not_attempted) == (4, 2, 3)
    assert [r.path.name for r in report.rejected] == ["5.json"]
    assert (
        "clips[0].output_size_bytes: expected a non-negative integer" in report.rejected[0].reason
    )


def test_without_fail_fast_the_files_after_a_bad_one_land(tmp_path: Path, db_path: Path) -> None:
    write_result(tmp_path, result("job-1"), "1.json")
    write_result(tmp_path, b"\xff\xfe not utf-8", "2.json")
    write_result(tmp_path, result("job-3"), "3.json")

    with create_persistence(db_path) as persistence:
        report = ingest_paths([tmp_path], persistence, batch_size=100)

    assert sorted(stored(db_path)) == ["job-1", "job-3"]
    assert report.rejected[0].reason == "Invalid JSON: not UTF-8 text (invalid byte at offset 0)"
    assert report.transactions == 1


def test_an_empty_folder_is_a_clean_run_that_stores_nothing(tmp_path: Path, db_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with create_persistence(db_path) as persistence:
        report = ingest_paths([empty], persistence)
    assert report == IngestReport(0, 0, 0, (), 0, 0, 0)
    assert report.clean


def test_batch_size_must_be_positive(tmp_path: Path, db_path: Path) -> None:
    with create_persistence(db_path) as persistence, pytest.raises(ValueError, match="at least 1"):
        ingest_paths([tmp_path], persistence, batch_size=0)


# -- storage failures ------------------------------------------------------------------


def refuse_job(db: Path, job_id: str) -> None:
    """Make the database refuse to store ``job_id``: a real SQLite write error.

    Called while the store is open: a trigger is not Fabric's schema, so an
    open refuses a file that has one, but one added by another process later
    fires like any other write error.
    """
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON jobs "
        f"WHEN NEW.job_id = '{job_id}' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    conn.commit()
    conn.close()


def accept_all(db: Path) -> None:
    """Remove the trigger of :func:`refuse_job`, so the store is Fabric's again."""
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER refuse")
    conn.commit()
    conn.close()


def test_a_storage_failure_stops_the_run_rolls_back_its_batch_and_says_what_landed(
    tmp_path: Path, db_path: Path
) -> None:
    for i in range(1, 9):
        write_result(tmp_path, result(f"job-{i}", i), f"{i}.json")
    write_result(tmp_path, b"{}", "0_bad.json")

    with create_persistence(db_path) as persistence:
        refuse_job(db_path, "job-5")  # while open: see refuse_job
        with pytest.raises(IngestAborted) as caught:
            ingest_paths([tmp_path], persistence, batch_size=3)

    # Batches: [1,2,3] committed; [4,5,6] refused as a whole; 7 and 8 never read.
    assert isinstance(caught.value, StorageError)
    report = caught.value.report
    assert (report.files, report.ingested, report.rolled_back, report.not_attempted) == (
        9,
        3,
        3,
        2,
    )
    assert [r.path.name for r in report.rejected] == ["0_bad.json"]
    assert report.transactions == 1
    message = str(caught.value)
    assert "database or disk is full" in message
    assert "3 files stored before the failure, 3 rolled back, 2 not read" in message
    accept_all(db_path)
    assert sorted(stored(db_path)) == ["job-1", "job-2", "job-3"]


def test_a_storage_failure_through_an_index_leaves_memory_as_storage(
    tmp_path: Path, db_path: Path
) -> None:
    for i in range(1, 5):
        write_result(tmp_path, result(f"job-{i}", i), f"{i}.json")

    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence)
        refuse_job(db_path, "job-4")
        with pytest.raises(IngestAborted):
            ingest_paths([tmp_path], index, batch_size=2)
        in_memory = [job.job_id for job in index.get_all_jobs()]

    accept_all(db_path)
    assert in_memory == ["job-1", "job-2"] == sorted(stored(db_path))


# -- index target and progress -------------------------------------------------------


def test_ingesting_into_an_index_persists_and_indexes(
    mixed: Path, db_path: Path, run_py: RunPython
) -> None:
    with create_persistence(db_path) as persistence:
        older = ingest_execution_result(mixed / "e_good.json")  # job-4, another content
        persistence.persist_ingested_job(dataclasses.replace(older, engine_used="older"))
        index = FabricIndex(persistence)
        report = ingest_paths([mixed], index, batch_size=2)
        in_memory = job_records(index.get_all_jobs())

    assert (report.ingested, report.replaced) == (5, 2)  # job-4 stored before, job-2 twice
    # A fresh process reads back exactly what the index holds.
    out = run_py(
        "import json; from fabric_nb import create_persistence; from support import job_records\n"
        f"with create_persistence({str(db_path)!r}, readonly=True) as p:\n"
        "    print(json.dumps(job_records(p.load_all_jobs())))"
    )
    assert json.loads(out) == in_memory


def test_progress_wraps_the_file_list_and_is_closed_when_the_run_stops(
    mixed: Path, db_path: Path
) -> None:
    seen: list[str | Path] = []
    calls: list[Sequence[str | Path]] = []
    closed: list[bool] = []

    def progress(files: Sequence[str | Path]) -> Iterable[str | Path]:
        calls.append(files)
        try:
            for path in files:
                seen.append(path)
                yield path
        finally:
            closed.append(True)

    with create_persistence(db_path) as persistence:
        report = ingest_paths([mixed], persistence, fail_fast=True, progress=progress)

    # The files of a scan come as path strings (a Path per file costs more than reading it).
    assert [[Path(f) for f in files] for files in calls] == [collect_json_files([mixed])]
    assert seen == list(calls[0][:2])  # stopped at a/02_bad_json.json
    assert closed == [True]
    assert report.not_attempted == 5


def test_ingest_files_takes_files_in_the_given_order(tmp_path: Path, db_path: Path) -> None:
    b = write_result(tmp_path, result("same", 2, final_status="FAILED"), "b.json")
    a = write_result(tmp_path, result("same", 1), "a.json")

    with create_persistence(db_path) as persistence:
        ingest_files([b, a], persistence)

    assert stored(db_path)["same"]["final_status"] == "COMPLETED"  # a.json came last
