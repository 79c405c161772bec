"""Incremental ingest: a re-run costs what is new, and never skips a changed file.

Real folders, real databases, the real cache file beside them, and real
processes for the command line, two ingests at once and a kill -9.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from support import RunCli, make_result, sha256_of, start_cli, write_result

from fabric_nb import create_persistence
from fabric_nb._ingest_cache import CACHE_SUFFIX, IngestCache, Record, cache_path_for
from fabric_nb._scan import scan_paths
from fabric_nb._stored_stamps import StoredStamps
from fabric_nb.bulk import ingest_paths, ingest_scan

HOUR_NS = 3_600 * 10**9


def result(job_id: str, minute: int = 0, **overrides: object) -> dict[str, object]:
    return make_result(
        job_id=job_id, started_at=f"2026-01-05T10:{minute:02d}:00.000000+00:00", **overrides
    )


def stamps(db: Path) -> dict[str, str]:
    """job_id -> ingested_at, read with plain sqlite3."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT job_id, ingested_at FROM jobs").fetchall())
    finally:
        conn.close()


def age(path: Path, ns: int = HOUR_NS) -> None:
    """Make ``path`` look written ``ns`` ago (so its cache record is not racy)."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - ns))


def fields(stdout: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in stdout.splitlines())}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Ten good results, written an hour ago."""
    root = tmp_path / "results"
    root.mkdir()
    for i in range(10):
        age(write_result(root, result(f"job-{i}", i), f"{i:02d}.json"))
    return root


def ingest(folder: Path, db: Path, **options: object) -> Any:
    with create_persistence(db) as persistence:
        return ingest_paths([folder], persistence, **options)  # type: ignore[arg-type]


# -- unchanged files ------------------------------------------------------------------------


def test_a_rerun_with_nothing_new_reads_nothing_and_leaves_the_database_untouched(
    folder: Path, db_path: Path
) -> None:
    first = ingest(folder, db_path)
    before, mtime, kept = sha256_of(db_path), db_path.stat().st_mtime_ns, stamps(db_path)

    second = ingest(folder, db_path)

    assert (first.ingested, first.new) == (10, 10)
    assert (second.files, second.ingested, second.unchanged) == (10, 0, 10)
    assert second.clean
    assert second.transactions == 0
    assert sha256_of(db_path) == before
    assert db_path.stat().st_mtime_ns == mtime
    assert stamps(db_path) == kept  # every job keeps its ingested_at
    assert cache_path_for(db_path).name == "fabric.db" + CACHE_SUFFIX
    with sqlite3.connect(db_path) as conn:  # the Fabric database holds only the spec's table
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["jobs"]


def test_new_and_changed_files_are_ingested_and_only_they_are_written(
    folder: Path, db_path: Path
) -> None:
    ingest(folder, db_path)
    kept = stamps(db_path)
    write_result(folder, result("job-new", 30), "new.json")
    write_result(folder, result("job-3", 3, final_status="FAILED"), "03.json")  # crash recovery

    report = ingest(folder, db_path)

    assert (report.ingested, report.new, report.replaced, report.unchanged) == (2, 1, 1, 9)
    now = stamps(db_path)
    assert {k for k in now if now[k] != kept.get(k)} == {"job-new", "job-3"}
    with create_persistence(db_path, readonly=True) as persistence:
        (job3,) = [j for j in persistence.load_all_jobs() if j.job_id == "job-3"]
    assert job3.final_status == "FAILED"


def test_a_rewrite_with_the_same_size_and_mtime_is_still_seen(folder: Path, db_path: Path) -> None:
    path = folder / "05.json"
    ingest(folder, db_path)
    info = path.stat()
    text = path.read_text()
    changed = text.replace('"COMPLETED"', '"PARTIAL__"', 1).replace("PARTIAL__", "PARTIAL")
    changed = changed + " " * (len(text) - len(changed))  # same size
    assert len(changed) == len(text)
    assert changed != text
    with open(path, "r+", encoding="utf-8") as handle:  # in place: same inode
        handle.write(changed)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # same mtime, to the nanosecond
    assert (path.stat().st_size, path.stat().st_mtime_ns, path.stat().st_ino) == (
        info.st_size,
        info.st_mtime_ns,
        info.st_ino,
    )

    report = ingest(folder, db_path)

    assert (report.ingested, report.unchanged) == (1, 9)
    with create_persistence(db_path, readonly=True) as persistence:
        (job5,) = [j for j in persistence.load_all_jobs() if j.job_id == "job-5"]
    assert job5.final_status == "PARTIAL"


def test_a_recent_file_is_checked_by_content_even_when_its_stat_is_identical(
    tmp_path: Path, db_path: Path
) -> None:
    """A filesystem that keeps whole seconds and no ctime: only the racy check can see it."""
    folder = tmp_path / "in"
    folder.mkdir()
    path = write_result(folder, result("job-r"), "r.json")
    ingest(folder, db_path)
    write_result(folder, result("job-r", final_status="FAILED"), "r.json")
    info = path.stat()
    with sqlite3.connect(cache_path_for(db_path)) as conn:  # the stat a coarse filesystem shows
        changed = conn.execute(
            "UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ?, inode = ? WHERE path = ?",
            (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, str(path)),
        ).rowcount
    assert changed == 1

    report = ingest(folder, db_path)

    assert report.ingested == 1
    with create_persistence(db_path, readonly=True) as persistence:
        assert persistence.load_all_jobs()[0].final_status == "FAILED"


def test_a_touched_file_is_read_but_its_job_is_not_written_again(
    folder: Path, db_path: Path
) -> None:
    ingest(folder, db_path)
    before, kept = sha256_of(db_path), stamps(db_path)
    for path in folder.iterdir():
        os.utime(path)  # new mtime, same bytes

    report = ingest(folder, db_path)

    assert (report.ingested, report.unchanged) == (0, 10)
    assert sha256_of(db_path) == before
    assert stamps(db_path) == kept


# -- the cache: disposable, never trusted -----------------------------------------------------


def test_deleting_the_cache_costs_a_rescan_and_changes_nothing(folder: Path, db_path: Path) -> None:
    ingest(folder, db_path)
    before, kept = sha256_of(db_path), stamps(db_path)
    cache_path_for(db_path).unlink()

    report = ingest(folder, db_path)

    assert (report.ingested, report.unchanged) == (0, 10)
    assert sha256_of(db_path) == before
    assert stamps(db_path) == kept
    assert cache_path_for(db_path).exists()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(b"this is not a database at all" * 100, id="garbage"),
        pytest.param(b"", id="empty"),
        pytest.param(None, id="another-layout"),
    ],
)
def test_a_damaged_cache_is_rebuilt_with_a_warning(
    folder: Path, db_path: Path, damage: bytes | None
) -> None:
    ingest(folder, db_path)
    kept = stamps(db_path)
    cache = cache_path_for(db_path)
    if damage is None:
        with sqlite3.connect(cache) as conn:
            conn.execute("PRAGMA user_version = 99")
    else:
        cache.write_bytes(damage)
    warnings: list[str] = []

    report = ingest(folder, db_path, warn=warnings.append)

    assert (report.ingested, report.unchanged) == (0, 10)
    assert stamps(db_path) == kept
    if damage != b"":  # an empty file is simply a new cache
        assert len(warnings) == 1
        assert "damaged" in warnings[0]
        assert str(cache) in warnings[0]
    assert ingest(folder, db_path, warn=warnings.append).unchanged == 10  # rebuilt and used


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("state = 'ignored'", id="unknown-state"),
        pytest.param("job_id = NULL", id="stored-without-job-id"),
        pytest.param("job_id = x'37'", id="job-id-not-text"),
        pytest.param("ingested_at = x'35'", id="stamp-not-text"),
        pytest.param("state = 'rejected', reason = x'00ff'", id="reason-not-text"),
    ],
)
def test_records_another_tool_altered_are_read_again_never_trusted(
    folder: Path, db_path: Path, change: str
) -> None:
    """The cache's table has no CHECK constraints; what it holds is checked where it is read."""
    ingest(folder, db_path)
    write_result(folder, result("job-3", 3, final_status="FAILED"), "03.json")
    age(folder / "03.json")
    cache = cache_path_for(db_path)
    with sqlite3.connect(cache) as conn:  # the stat the changed file has, and the bad value
        info = (folder / "03.json").stat()
        conn.execute(
            f"UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ?, inode = ?, {change} "
            "WHERE path = ?",
            (
                info.st_size,
                info.st_mtime_ns,
                info.st_ctime_ns,
                info.st_ino,
                str(folder / "03.json"),
            ),
        )
    with IngestCache(db_path, warn=pytest.fail) as opened:
        assert opened.get(str(folder / "03.json")) is None  # not a record Fabric wrote

    report = ingest(folder, db_path)

    assert (report.ingested, report.replaced) == (1, 1)  # read again, and its new content stored
    assert report.still_rejected == ()
    with create_persistence(db_path, readonly=True) as persistence:
        (job3,) = [j for j in persistence.load_all_jobs() if j.job_id == "job-3"]
    assert job3.final_status == "FAILED"


def test_a_restored_older_database_gets_the_newer_files_again(
    folder: Path, db_path: Path, tmp_path: Path
) -> None:
    ingest(folder, db_path)
    old = tmp_path / "old.db"
    shutil.copyfile(db_path, old)
    write_result(folder, result("job-late", 40), "late.json")
    ingest(folder, db_path)
    shutil.copyfile(old, db_path)  # restore the older copy: job-late is not in it

    report = ingest(folder, db_path)

    assert (report.ingested, report.new, report.unchanged) == (1, 1, 10)
    assert "job-late" in stamps(db_path)


def test_a_job_replaced_by_a_later_file_stays_with_the_later_file(
    tmp_path: Path, db_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    age(write_result(folder, result("job-d", 1, final_status="FAILED"), "a.json"))
    age(write_result(folder, result("job-d", 2), "b.json"))
    ingest(folder, db_path)

    report = ingest(folder, db_path)

    assert (report.unchanged, report.superseded, report.ingested) == (1, 1, 0)
    with create_persistence(db_path, readonly=True) as persistence:
        assert persistence.load_all_jobs()[0].final_status == "COMPLETED"


# -- rejections, JobSpecs, names, from the command line ----------------------------------------


def test_a_rejected_file_mails_once_then_is_counted_as_still_rejected(
    run_cli: RunCli, folder: Path, tmp_path: Path
) -> None:
    db = tmp_path / "db" / "fabric.db"
    bad = write_result(folder, b'{"job_id": "broken", ', "zz_bad.json")

    first = run_cli("ingest", folder, "--db", db)
    second = run_cli("ingest", folder, "--db", db)
    verbose = run_cli("ingest", folder, "--db", db, "--verbose")
    strict = run_cli("ingest", folder, "--db", db, "--strict")

    assert first.returncode == 1
    assert first.stderr.startswith(f"rejected: {bad}: Invalid JSON")
    assert (second.returncode, second.stderr) == (0, "")
    assert fields(second.stdout)["still rejected"] == "1"
    assert fields(second.stdout)["rejected"] == "0"
    assert f"still rejected: {bad}: Invalid JSON" in verbose.stdout
    assert strict.returncode == 1
    assert f"rejected: {bad}: Invalid JSON" in strict.stderr

    bad.write_text('{"job_id": "broken", "final_status": "SKIPPED"}')  # a new problem
    third = run_cli("ingest", folder, "--db", db)
    assert third.returncode == 1
    assert third.stderr.startswith(f"rejected: {bad}: Missing required")

    write_result(folder, result("broken"), "zz_bad.json")  # fixed
    fixed = run_cli("ingest", folder, "--db", db)
    assert fixed.returncode == 0
    assert fields(fixed.stdout)["ingested"].startswith("1 (1 new")


def test_watch_folder_layout_jobspecs_are_skipped_not_rejected(
    run_cli: RunCli, tmp_path: Path
) -> None:
    db = tmp_path / "db" / "fabric.db"
    watch = tmp_path / "watch"
    for state, status in (("completed", "COMPLETED"), ("failed", "FAILED")):
        (watch / state).mkdir(parents=True)
        name = f"shoot_{state}"
        spec = {"jobspec_version": "2.1", "job_id": name, "sources": ["/Volumes/A/x.mov"]}
        write_result(watch / state, spec, f"{name}.json")
        write_result(watch / state, result(name, final_status=status), f"{name}.result.json")
    # A JobSpec without a version is still known by the result beside it.
    write_result(watch / "completed", {"job_id": "bare", "sources": []}, "bare.json")
    write_result(watch / "completed", result("bare"), "bare.result.json")

    every_json = run_cli("ingest", watch, "--db", db, "--verbose")
    by_pattern = run_cli("ingest", watch, "--db", db, "--pattern", "*.result.json", "--full")

    assert every_json.returncode == 0, every_json.stderr
    assert every_json.stderr == ""
    summary = fields(
        "\n".join(line for line in every_json.stdout.splitlines() if ": /" not in line)
    )
    assert summary["ingested"].startswith("3 (3 new")
    assert summary["skipped"] == "3 (not result files)"
    assert summary["rejected"] == "0"
    assert f"skipped: {watch / 'completed' / 'bare.json'}: not a result file" in every_json.stdout
    assert by_pattern.returncode == 0
    assert fields(by_pattern.stdout)["skipped"].startswith("3 ")


def test_headless_layout_with_a_pattern(run_cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "db" / "fabric.db"
    out = tmp_path / "proxies"
    out.mkdir()
    for i in range(3):
        (out / f"A00{i}_proxy.mov").write_bytes(b"\0" * 10)
        write_result(out, result(f"h{i}"), f"proxx_job_h{i}_20260105T100000.json")
    (out / "settings.json").write_text('{"not": "a result"}')

    done = run_cli("ingest", out, "--db", db, "--pattern", "proxx_job_*.json")

    assert done.returncode == 0, done.stderr
    summary = fields(done.stdout)
    assert summary["files found"] == "7"
    assert summary["ingested"].startswith("3 (3 new")
    assert summary["skipped"] == "4 (not result files)"


def test_upper_case_json_is_a_result_file(run_cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "db" / "fabric.db"
    folder = tmp_path / "in"
    folder.mkdir()
    write_result(folder, result("upper"), "RESULT.JSON")
    done = run_cli("ingest", folder, "--db", db)
    assert done.returncode == 0
    assert fields(done.stdout)["ingested"].startswith("1 (1 new")


def test_empty_and_bom_files_are_rejected_by_name(run_cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "db" / "fabric.db"
    folder = tmp_path / "in"
    folder.mkdir()
    empty = write_result(folder, b"", "empty.json")
    bom = write_result(folder, b"\xef\xbb\xbf" + json.dumps(result("bom")).encode(), "bom.json")
    done = run_cli("ingest", folder, "--db", db)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"rejected: {bom}: Invalid JSON: starts with a UTF-8 byte-order mark (BOM); result files are plain "
        "UTF-8 JSON, save it again without the BOM",
        f"rejected: {empty}: Invalid JSON: empty file",
    ]


def test_an_empty_folder_warns_exits_5_and_creates_no_database(
    run_cli: RunCli, tmp_path: Path
) -> None:
    db = tmp_path / "db" / "fabric.db"
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_cli("ingest", empty, "--db", db)
    assert done.returncode == 5
    assert f"warning: {empty}: no result file in it (*.json)" in done.stderr
    assert not db.parent.exists()


def test_a_missing_share_next_to_a_good_folder_warns_and_exits_5(
    run_cli: RunCli, folder: Path, tmp_path: Path
) -> None:
    db = tmp_path / "db" / "fabric.db"
    done = run_cli("ingest", folder, tmp_path / "unmounted", "--db", db)
    assert done.returncode == 5
    assert done.stderr == (
        f"fabric-nb ingest: warning: {tmp_path / 'unmounted'}: no such file or folder "
        "(not mounted?)\n"
    )
    assert fields(done.stdout)["ingested"].startswith("10 (10 new")


# -- processes ---------------------------------------------------------------------------------


def test_two_ingests_at_once_store_every_job_exactly_once(
    tmp_path: Path, home_dir: Path, run_cli: RunCli
) -> None:
    db = tmp_path / "db" / "fabric.db"
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(600):
        write_result(folder, result(f"m{i:04d}", i % 60), f"{i:04d}.json")

    runs = [
        start_cli("ingest", folder, "--db", db, "--batch-size", "50", home=home_dir)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]

    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert "locked" not in err
    with create_persistence(db, readonly=True) as persistence:
        ids = [job.job_id for job in persistence.load_all_jobs()]
    assert sorted(ids) == [f"m{i:04d}" for i in range(600)]
    assert run_cli("check", "--db", db).returncode == 0
    again = run_cli("ingest", folder, "--db", db)
    assert fields(again.stdout)["unchanged"] == "600"


def test_kill_9_mid_ingest_loses_nothing_and_the_next_run_finishes(
    tmp_path: Path, home_dir: Path, run_cli: RunCli
) -> None:
    db = tmp_path / "db" / "fabric.db"
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1500):
        write_result(folder, result(f"k{i:04d}", i % 60), f"{i:04d}.json")

    run = start_cli("ingest", folder, "--db", db, "--batch-size", "20", home=home_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for a few commits, then kill
        if db.exists() and cache_path_for(db).exists():
            try:
                if len(stamps(db)) >= 100:
                    break
            except sqlite3.Error:
                pass
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=30)

    done = run_cli("ingest", folder, "--db", db)

    assert done.returncode == 0, done.stderr
    summary = fields(done.stdout)
    assert int(summary["unchanged"]) >= 100 - 20  # what the cache recorded before the kill
    assert sorted(stamps(db)) == [f"k{i:04d}" for i in range(1500)]
    assert run_cli("check", "--db", db).returncode == 0
    assert fields(run_cli("ingest", folder, "--db", db).stdout)["unchanged"] == "1500"


# -- the shortcut: nothing wrote to the database since the cache last held ----------------------


def test_a_job_rewritten_by_another_writer_is_read_from_its_file_again(
    folder: Path, db_path: Path
) -> None:
    ingest(folder, db_path)
    with create_persistence(db_path) as persistence:  # another writer: add_job of a job it read
        (job,) = [j for j in persistence.load_all_jobs() if j.job_id == "job-4"]
        other = dataclasses.replace(job, engine_used="elsewhere", ingested_at=datetime.now(UTC))
        persistence.persist_ingested_job(other)

    report = ingest(folder, db_path)

    assert (report.ingested, report.replaced, report.unchanged) == (1, 1, 9)
    with create_persistence(db_path, readonly=True) as persistence:
        (job,) = [j for j in persistence.load_all_jobs() if j.job_id == "job-4"]
    assert job.engine_used == "ffmpeg"  # the file's content again


def restore_in_place(db: Path, raw: bytes, mtime_ns: int) -> None:
    """Put older bytes back into the same inode with their old mtime (``cp -p`` over it)."""
    with open(db, "r+b") as handle:
        handle.write(raw)
        handle.truncate()
    os.utime(db, ns=(mtime_ns, mtime_ns))


def test_an_older_copy_restored_in_place_with_its_mtime_is_still_noticed(
    folder: Path, db_path: Path
) -> None:
    ingest(folder, db_path)
    raw, mtime = db_path.read_bytes(), db_path.stat().st_mtime_ns
    write_result(folder, result("job-late", 40), "late.json")
    ingest(folder, db_path)
    restore_in_place(db_path, raw, mtime)  # the database exactly as after the first run

    report = ingest(folder, db_path)

    assert (report.ingested, report.new, report.unchanged) == (1, 1, 10)


def test_records_written_by_a_watch_pass_do_not_ride_on_an_older_marker(
    folder: Path, db_path: Path
) -> None:
    ingest(folder, db_path)  # the cache now holds at this state of the database
    raw, mtime = db_path.read_bytes(), db_path.stat().st_mtime_ns
    write_result(folder, result("job-late", 40), "late.json")
    with (
        create_persistence(db_path) as persistence,
        IngestCache(db_path, warn=pytest.fail) as cache,
    ):  # as a watch does: its own stamps
        ingest_scan(
            scan_paths([folder]),
            persistence,
            cache=cache,
            stamps=StoredStamps(persistence.storage).load_ingested_at(),
        )
    restore_in_place(db_path, raw, mtime)

    report = ingest(folder, db_path)

    assert (report.ingested, report.new) == (1, 1)


def test_recording_a_file_again_keeps_one_record_the_last(tmp_path: Path) -> None:
    db = tmp_path / "fabric.db"
    info = os.stat(tmp_path)
    with IngestCache(db, warn=pytest.fail) as cache:
        for run in range(4):  # the same 15,000 files recorded four times
            cache.record(
                (
                    f"/r/{i:05d}.json",
                    Record.of(info, run, "stored", job_id=f"j{i}", ingested_at=f"t{run}"),
                )
                for i in range(15_000)
            )
    with sqlite3.connect(cache_path_for(db)) as conn:
        rows = conn.execute("SELECT count(*) FROM files").fetchone()[0]
    with IngestCache(db, warn=pytest.fail) as cache:
        entry = cache.get("/r/00042.json")
        assert len(cache) == 15_000
    assert rows == 15_000
    assert entry is not None
    assert (entry.scanned_ns, entry.ingested_at) == (3, "t3")
    assert entry == Record.of(info, 3, "stored", job_id="j42", ingested_at="t3")


def test_a_cache_of_the_log_layout_is_converted_and_keeps_its_records(
    folder: Path, db_path: Path
) -> None:
    """The layout before this one (a log of MessagePack rows) is read once, not thrown away."""
    ingest(folder, db_path)
    before = sha256_of(db_path)
    cache = cache_path_for(db_path)
    with sqlite3.connect(cache) as conn:
        rows = conn.execute("SELECT * FROM files").fetchall()
        (proof,) = conn.execute("SELECT value FROM meta").fetchone()
    pairs = [[row[0], list(row[1:])] for row in rows]  # [path, record] in the stored order
    cache.unlink()
    with sqlite3.connect(cache) as conn:  # what the previous version wrote
        conn.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY, entries BLOB NOT NULL)")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('database', ?)", (proof,))
        half = len(pairs) // 2
        for part in (pairs[:half], pairs[half:]):
            conn.execute("INSERT INTO log (entries) VALUES (?)", (msgspec.msgpack.encode(part),))
        conn.execute(f"PRAGMA application_id = {0x464E4943}")
        conn.execute("PRAGMA user_version = 4")
    with IngestCache(db_path, warn=pytest.fail) as converted:
        kept = {row[0]: converted.get(row[0]) for row in rows}
    warnings: list[str] = []

    report = ingest(folder, db_path, warn=warnings.append)

    assert kept == {row[0]: Record(*row[1:]) for row in rows}
    assert warnings == []
    assert (report.ingested, report.unchanged) == (0, 10)
    assert sha256_of(db_path) == before
    with sqlite3.connect(cache) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == 10


def test_a_fifo_in_place_of_the_cache_is_left_alone_with_a_warning(
    folder: Path, db_path: Path
) -> None:
    db_path.parent.mkdir(parents=True)
    os.mkfifo(cache_path_for(db_path))
    warnings: list[str] = []

    report = ingest(folder, db_path, warn=warnings.append)  # must not block on the FIFO

    assert report.ingested == 10
    assert len(warnings) == 1
    assert "is a FIFO (named pipe), not a regular file" in warnings[0]
    assert stat.S_ISFIFO(os.stat(cache_path_for(db_path)).st_mode)
