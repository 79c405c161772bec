"""The ``fabric-nb`` command line, run in subprocesses exactly as an operator would.

Every test runs ``python -m fabric_nb ...`` with its own ``HOME`` (so the
default database is never the real one), stdin closed and stdout/stderr as
pipes, and checks exit codes, what lands in the database and what is
printed. Expected failures must be one line on stderr, never a traceback.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import resource
import signal
import sqlite3
import struct
import subprocess
import termios
from contextlib import closing
from datetime import UTC
from pathlib import Path

import pytest
from support import (
    REPO_ROOT,
    RunCli,
    cli_command,
    cli_env,
    make_clip,
    make_result,
    sha256_of,
    write_result,
)

from fabric_nb import create_persistence
from fabric_nb.ingestion import ingest_execution_result
from fabric_nb.samples import write_results
from fabric_nb.storage_report import summarize_jobs


def result(job_id: str, minute: int = 0, **overrides: object) -> dict[str, object]:
    return make_result(
        job_id=job_id, started_at=f"2026-01-05T10:{minute:02d}:00.000000+00:00", **overrides
    )


def stored_ids(db: Path) -> list[str]:
    with create_persistence(db, readonly=True) as persistence:
        return sorted(job.job_id for job in persistence.load_all_jobs())


def assert_one_error_line(stderr: str, *needles: str) -> None:
    """stderr is exactly one line, no traceback, and it says what is wrong."""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_no_progress_noise(*streams: str) -> None:
    for text in streams:
        assert "\r" not in text
        assert "it/s" not in text
        assert "file/s" not in text
        assert "%|" not in text


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good, bad and duplicate result files, in a nested folder."""
    root = tmp_path / "results"
    (root / "day2").mkdir(parents=True)
    write_result(root, result("job-a", 1), "01.json")
    write_result(root, b"{ not json", "02_broken.json")
    write_result(root, result("job-b", 2, final_status="FAILED"), "03.json")
    write_result(root / "day2", result("job-b", 3), "04_rerun.json")
    write_result(root / "day2", result("job-c", 4, final_status="SKIPPED"), "05_skipped.json")
    write_result(root / "day2", result("job-d", 5), "06.json")
    (root / "README.txt").write_text("not a result")
    return root


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A folder of valid synthetic results, some re-runs of the same job_id among them."""
    folder = tmp_path / "good"
    write_results(folder, 60, seed=1)
    return folder


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "db" / "fabric.db"


@pytest.fixture
def filled_db(db: Path, good: Path, run_cli: RunCli) -> Path:
    done = run_cli("ingest", good, "--db", db)
    assert done.returncode == 0, done.stderr
    return db


# -- arguments ------------------------------------------------------------------------


def test_no_command_is_a_usage_error_on_one_line(run_cli: RunCli) -> None:
    done = run_cli()
    assert done.returncode == 2
    assert_one_error_line(done.stderr, "fabric-nb:", "--help")
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["frobnicate"], "invalid choice"),
        (["ingest"], "PATH"),
        (["ingest", ".", "--batch-size", "0"], "at least 1"),
        (["ingest", ".", "--batch-size", "ten"], "whole number"),
        (["info", "--no-such-option"], "unrecognized arguments"),
        (["export", "out", "--format", "json"], "invalid choice"),
        (["sample", "out", "--jobs", "-1"], "at least 0"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    run_cli: RunCli, tmp_path: Path, home_dir: Path, args: list[str], needle: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = run_cli(*args, cwd=work)
    assert done.returncode == 2
    assert_one_error_line(done.stderr, needle)
    # Nothing created: no output, no default database.
    assert list(work.iterdir()) == list(home_dir.iterdir()) == []


def test_version(run_cli: RunCli) -> None:
    from fabric_nb import __version__

    done = run_cli("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"fabric-nb {__version__}")


def test_console_script_is_declared() -> None:
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["fabric-nb"] == "fabric_nb.cli:main"


# -- ingest ---------------------------------------------------------------------------


def test_ingest_mixed_folder_lands_good_files_reports_bad_ones_and_exits_1(
    run_cli: RunCli, mixed: Path, db: Path
) -> None:
    done = run_cli("ingest", mixed, "--db", db)

    assert done.returncode == 1
    assert stored_ids(db) == ["job-a", "job-b", "job-d"]
    rejected = [line for line in done.stderr.splitlines() if line.startswith("rejected: ")]
    assert rejected == [
        f"rejected: {mixed / '02_broken.json'}: Invalid JSON: Expecting property name "
        "enclosed in double quotes (line 1, column 3)",
        f"rejected: {mixed / 'day2' / '05_skipped.json'}: Invalid final_status: expected one of "
        "COMPLETED, FAILED, PARTIAL, got 'SKIPPED'",
    ]
    assert len(done.stderr.splitlines()) == 2
    summary = " ".join(done.stdout.split())
    assert "files found: 7" in summary  # 6 *.json and a note
    assert "ingested: 3 (3 new, 0 replaced)" in summary
    assert "superseded: 1 (a later file holds the same job_id)" in summary
    assert "rejected: 2" in summary
    assert "skipped: 1 (not result files)" in summary
    assert_no_progress_noise(done.stdout, done.stderr)


def test_the_later_file_of_a_job_id_wins(run_cli: RunCli, mixed: Path, db: Path) -> None:
    run_cli("ingest", mixed, "--db", db)
    with create_persistence(db, readonly=True) as persistence:
        (job_b,) = [job for job in persistence.load_all_jobs() if job.job_id == "job-b"]
    assert job_b.final_status == "COMPLETED"  # day2/04_rerun.json comes after 03.json


def test_ingest_of_good_files_exits_0_and_rerunning_leaves_the_same_jobs(
    run_cli: RunCli, good: Path, db: Path
) -> None:
    files = sorted(good.glob("*.json"))
    distinct = {ingest_execution_result(f).job_id for f in files}
    assert len(distinct) < len(files)  # the sample holds re-runs

    first = run_cli("ingest", good, "--db", db, "--batch-size", "7")
    info_first = json.loads(run_cli("info", "--json", "--db", db).stdout)
    second = run_cli("ingest", good, "--db", db)
    info_second = json.loads(run_cli("info", "--json", "--db", db).stdout)

    assert (first.returncode, second.returncode) == (0, 0)
    assert first.stderr == second.stderr == ""
    first_summary = dict(line.split(":", 1) for line in first.stdout.splitlines())
    ingested = int(first_summary["ingested"].split()[0])
    superseded = int(first_summary.get("superseded", "0").split()[0])
    # Every file is written once, or superseded by a later file of its job_id in
    # the same batch; a re-run in a later batch is written over the earlier one.
    assert f"({len(distinct)} new," in first_summary["ingested"]
    assert ingested + superseded == len(files)
    assert superseded > 0
    second_summary = dict(line.split(":", 1) for line in second.stdout.splitlines())
    assert second_summary["ingested"].split() == ["0", "(0", "new,", "0", "replaced)"]
    assert int(second_summary["unchanged"]) == len(distinct)  # the last file of each job
    assert int(second_summary["superseded"].split()[0]) == len(files) - len(distinct)
    assert stored_ids(db) == sorted(distinct)
    assert info_first == info_second
    stamps = stored_stamps(db)

    full = run_cli("ingest", good, "--db", db, "--full")
    assert full.returncode == 0, full.stderr
    summary = dict(line.split(":", 1) for line in full.stdout.splitlines())
    # Read again, nothing is written: not even the jobs several files carry.
    assert summary["ingested"].split()[0] == "0"
    assert int(summary["unchanged"]) == len(distinct)
    assert stored_stamps(db) == stamps
    assert stored_ids(db) == sorted(distinct)
    assert json.loads(run_cli("info", "--json", "--db", db).stdout) == info_first


def test_fail_fast_stops_at_the_first_bad_file(run_cli: RunCli, mixed: Path, db: Path) -> None:
    done = run_cli("ingest", mixed, "--db", db, "--fail-fast")

    assert done.returncode == 1
    assert stored_ids(db) == ["job-a"]  # 01.json landed; 02_broken.json stopped the run
    summary = " ".join(done.stdout.split())
    assert "ingested: 1 (1 new, 0 replaced)" in summary
    assert "not read: 4 (--fail-fast)" in summary
    assert done.stderr.splitlines() == [
        f"rejected: {mixed / '02_broken.json'}: Invalid JSON: Expecting property name "
        "enclosed in double quotes (line 1, column 3)"
    ]


def test_ingest_of_a_missing_path_warns_and_exits_5_and_creates_nothing(
    run_cli: RunCli, db: Path, tmp_path: Path
) -> None:
    done = run_cli("ingest", tmp_path / "typo", "--db", db)
    assert done.returncode == 5
    assert done.stderr.splitlines() == [
        f"fabric-nb ingest: warning: {tmp_path / 'typo'}: no such file or folder (not mounted?)",
        "fabric-nb ingest: warning: no result file found; nothing was read and the "
        "database was not opened",
    ]
    assert not db.parent.exists()


def test_ingest_accepts_explicit_files_of_any_name(
    run_cli: RunCli, tmp_path: Path, db: Path
) -> None:
    one = write_result(tmp_path, result("job-x"), "result.txt")
    done = run_cli("ingest", one, "--db", db)
    assert done.returncode == 0, done.stderr
    assert stored_ids(db) == ["job-x"]


def test_a_storage_failure_mid_run_exits_3_with_what_landed(
    run_cli: RunCli, tmp_path: Path, db: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(1, 7):  # about 20 kB a job: a batch of two is some 45 kB of pages
        doc = result(f"job-{i}", i)
        doc["_metadata"] = {"validation_error": "x" * 20_000}
        write_result(folder, doc, f"{i}.json")
    with create_persistence(db):
        pass
    room = db.stat().st_size + 50_000  # the first batch of two fits, the second does not

    def limit_file_size() -> None:  # a real write error, as a full disk gives
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

    done = run_cli("ingest", folder, "--db", db, "--batch-size", "2", preexec=limit_file_size)

    assert done.returncode == 3
    assert_one_error_line(
        done.stderr,
        "Failed to persist job: ",
        "(jobs 'job-3' ... 'job-4', 2 jobs, none stored)",
        "2 files stored before the failure, 2 rolled back, 2 not read",
    )
    summary = " ".join(done.stdout.split())
    assert "ingested: 2 (2 new, 0 replaced)" in summary
    assert "rolled back: 2" in summary
    assert "not read: 2" in summary
    assert stored_ids(db) == ["job-1", "job-2"]


def test_progress_bar_only_on_a_terminal_and_not_with_quiet(
    good: Path, db: Path, home_dir: Path
) -> None:
    def stderr_on_a_terminal(*extra: str) -> tuple[int, str]:
        env = cli_env(home_dir, {"TERM": "xterm"})
        primary, secondary = pty.openpty()
        # A fresh pseudo-terminal is 0x0; a real one has a size (tqdm draws nothing in 0 columns).
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        with subprocess.Popen(
            cli_command("ingest", good, "--db", db, *extra),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=secondary,
            env=env,
        ) as child:
            os.close(secondary)
            chunks = []
            while True:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            code = child.wait(timeout=120)
        os.close(primary)
        return code, b"".join(chunks).decode("utf-8", "replace")

    code, shown = stderr_on_a_terminal()
    assert code == 0
    assert "\r" in shown
    assert "0/60" in shown
    assert "file/s" in shown

    code, quiet = stderr_on_a_terminal("--quiet")
    assert (code, quiet) == (0, "")


# -- where the database is --------------------------------------------------------------


def test_db_comes_from_the_option_then_fabric_db_then_the_default(
    run_cli: RunCli, tmp_path: Path, home_dir: Path
) -> None:
    one = write_result(tmp_path, result("job-x"), "one.json")
    default = home_dir / ".proxx" / "fabric" / "fabric.db"
    from_env, from_option, global_option = (tmp_path / n for n in ("env.db", "opt.db", "glob.db"))

    assert run_cli("ingest", one).returncode == 0
    assert default.exists()
    assert (default.stat().st_mode & 0o777, default.parent.stat().st_mode & 0o777) == (
        0o600,
        0o700,
    )

    env = {"FABRIC_DB": str(from_env)}
    assert run_cli("ingest", one, env=env).returncode == 0
    assert from_env.exists()
    assert run_cli("ingest", one, "--db", from_option, env=env).returncode == 0
    assert run_cli("--db", global_option, "ingest", one, env=env).returncode == 0
    assert from_option.exists()
    assert global_option.exists()

    info = json.loads(run_cli("info", "--json", env=env).stdout)
    assert info["path"] == str(from_env)
    # The command's own --db wins over the one before the command name.
    info = json.loads(run_cli("--db", global_option, "info", "--json", "--db", from_option).stdout)
    assert info["path"] == str(from_option)


# -- info -----------------------------------------------------------------------------------


def test_info_prints_path_size_version_integrity_counts_and_range(
    run_cli: RunCli, filled_db: Path
) -> None:
    with create_persistence(filled_db, readonly=True) as persistence:
        jobs = persistence.load_all_jobs()
    summary = summarize_jobs(jobs)
    before = sha256_of(filled_db)

    done = run_cli("info", "--db", filled_db)

    assert done.returncode == 0
    assert done.stderr == ""
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert f"path: {filled_db}" in lines
    assert f"size: {filled_db.stat().st_size} bytes" in lines
    assert "schema version: 1" in lines
    assert "integrity: ok" in lines
    assert f"jobs: {len(jobs)}" in lines
    assert f"outputs: {sum(len(j.outputs) for j in jobs)}" in lines
    first, last = min(j.started_at for j in jobs), max(j.started_at for j in jobs)
    first, last = first.astimezone(UTC), last.astimezone(UTC)  # one offset for the range
    assert f"started_at: {first.isoformat()} .. {last.isoformat()}" in lines
    for status, n in summary.by_status.items():
        assert f"{status} {n}" in lines
    for engine, n in summary.by_engine.items():
        assert f"{engine or '(none)'} {n}" in lines
    for profile, n in summary.by_profile.items():
        assert f"{profile or '(none)'} {n}" in lines
    assert sha256_of(filled_db) == before


def test_info_json_counts_match_the_files(run_cli: RunCli, filled_db: Path, good: Path) -> None:
    latest = {}
    for path in sorted(good.glob("*.json")):
        job = ingest_execution_result(path)
        latest[job.job_id] = job

    info = json.loads(run_cli("info", "--json", "--db", filled_db).stdout)

    assert info["jobs"] == len(latest)
    assert info["schema_version"] == 1
    assert info["integrity"] == "ok"
    statuses = [job.final_status for job in latest.values()]
    assert info["by_status"] == {s: statuses.count(s) for s in ("COMPLETED", "FAILED", "PARTIAL")}
    engines = [job.engine_used for job in latest.values()]
    assert info["by_engine"] == [
        {"engine": e, "jobs": engines.count(e)}
        for e in [*sorted({e for e in engines if e is not None}), None]
        if e in engines
    ]
    assert sum(row["jobs"] for row in info["by_profile"]) == len(latest)
    first = min(latest.values(), key=lambda j: j.started_at)
    assert info["first_started_at"] == first.started_at.astimezone(UTC).isoformat()


def test_info_shows_the_range_in_utc_and_json_uses_null(
    run_cli: RunCli, tmp_path: Path, db: Path
) -> None:
    folder = tmp_path / "offsets"
    folder.mkdir()
    # Recorded with different offsets: 09:30+02:00 is 07:30 UTC, the earliest instant.
    write_result(
        folder, make_result(job_id="paris", started_at="2026-01-05T09:30:00+02:00"), "a.json"
    )
    write_result(
        folder, make_result(job_id="utc", started_at="2026-01-05T08:00:00+00:00"), "b.json"
    )
    no_engine = make_result(job_id="ny", started_at="2026-01-05T05:00:00-05:00")  # 10:00 UTC
    no_engine["_metadata"]["engine_used"] = None
    no_engine["_metadata"]["proxy_profile_used"] = None
    write_result(folder, no_engine, "c.json")
    assert run_cli("ingest", folder, "--db", db).returncode == 0

    text = run_cli("info", "--db", db).stdout
    info = json.loads(run_cli("info", "--json", "--db", db).stdout)

    assert "started_at:     2026-01-05T07:30:00+00:00 .. 2026-01-05T10:00:00+00:00" in text
    assert (info["first_started_at"], info["last_started_at"]) == (
        "2026-01-05T07:30:00+00:00",
        "2026-01-05T10:00:00+00:00",
    )
    assert info["by_engine"] == [{"engine": "ffmpeg", "jobs": 2}, {"engine": None, "jobs": 1}]
    assert info["by_profile"] == [
        {"profile": "proxy_prores_proxy", "jobs": 2},
        {"profile": None, "jobs": 1},
    ]
    assert "(none)" not in json.dumps(info)


def test_info_json_of_an_empty_database_has_nulls(run_cli: RunCli, db: Path) -> None:
    with create_persistence(db):
        pass
    info = json.loads(run_cli("info", "--json", "--db", db).stdout)
    assert (info["first_started_at"], info["last_started_at"]) == (None, None)
    assert (info["by_engine"], info["by_profile"]) == ([], [])


def test_info_on_an_empty_database(run_cli: RunCli, db: Path) -> None:
    with create_persistence(db):
        pass
    done = run_cli("info", "--db", db)
    assert done.returncode == 0
    assert "jobs:           0" in done.stdout
    assert "started_at:     -" in done.stdout


def test_read_only_commands_on_a_missing_database_create_nothing(
    run_cli: RunCli, db: Path, tmp_path: Path
) -> None:
    for args, code in (
        (["info"], 3),
        (["check"], 1),
        (["export", tmp_path / "out"], 3),
        (["report", tmp_path / "report.html"], 3),
    ):
        done = run_cli(*args, "--db", db)
        assert done.returncode == code, args
        assert_one_error_line(done.stderr, "Storage file not found", str(db))
    assert not db.parent.exists()
    assert not (tmp_path / "out").exists()


# -- corrupt and foreign databases ------------------------------------------------------------


def corrupt(db: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not an SQLite database, just bytes\n" * 200)


def other_version(db: Path) -> None:
    with create_persistence(db):
        pass
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 7")
    conn.close()


def undecodable_row(db: Path) -> None:
    from support import make_job

    with create_persistence(db) as persistence:
        persistence.persist_ingested_job(make_job("job-broken"))
    conn = sqlite3.connect(db)
    conn.execute("UPDATE jobs SET outputs_json = '[{\"nope\": 1}]'")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (corrupt, "Database corruption detected"),
        (other_version, "Schema version mismatch: expected 1, found 7"),
        (undecodable_row, "job 'job-broken' cannot be decoded"),
    ],
)
def test_damaged_databases_fail_loudly_on_one_line_and_are_never_touched(
    run_cli: RunCli, db: Path, tmp_path: Path, good: Path, damage: object, needle: str
) -> None:
    damage(db)  # type: ignore[operator]
    before = sha256_of(db)
    siblings = sorted(p.name for p in db.parent.iterdir())

    for args, code in (
        (["check"], 1),
        (["info"], 3),
        (["export", tmp_path / "out"], 3),
        (["report", tmp_path / "report.html"], 3),
    ):
        done = run_cli(*args, "--db", db)
        assert done.returncode == code, (args, done.stderr)
        assert_one_error_line(done.stderr, needle)
        assert done.stdout == ""
    if damage is not undecodable_row:  # ingest never decodes stored rows
        done = run_cli("ingest", good, "--db", db)
        assert done.returncode == 3
        assert_one_error_line(done.stderr, needle)

    assert sha256_of(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == siblings
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "report.html").exists()


# -- check ---------------------------------------------------------------------------------


def test_check_passes_on_a_healthy_database_and_never_writes(
    run_cli: RunCli, filled_db: Path
) -> None:
    before = sha256_of(filled_db)
    mtime = filled_db.stat().st_mtime_ns
    n = len(stored_ids(filled_db))

    done = run_cli("check", "--db", filled_db)
    quiet = run_cli("check", "-q", "--db", filled_db)

    assert done.returncode == 0
    assert done.stderr == ""
    assert done.stdout == (f"ok: {filled_db}: schema version 1, integrity ok, {n} jobs decoded\n")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert sha256_of(filled_db) == before
    assert filled_db.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in filled_db.parent.iterdir()) == [
        "fabric.db",
        "fabric.db.ingest-cache",  # written by the ingest that filled it
    ]


# -- sample ------------------------------------------------------------------------------------


def test_sample_writes_reproducible_synthetic_results_that_ingest_cleanly(
    run_cli: RunCli, tmp_path: Path, db: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    done = run_cli("sample", a, "--jobs", "25", "--seed", "11")
    assert done.returncode == 0, done.stderr
    assert "wrote 25 synthetic result files" in done.stdout
    run_cli("sample", b, "--jobs", "25", "--seed", "11")

    files = sorted(p.name for p in a.iterdir())
    assert len(files) == 25
    assert files == sorted(p.name for p in b.iterdir())
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in files)
    assert run_cli("ingest", a, "--db", db).returncode == 0


def test_sample_into_an_unwritable_place_exits_4(run_cli: RunCli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    done = run_cli("sample", blocker / "out", "--jobs", "3")
    assert done.returncode == 4
    assert_one_error_line(done.stderr, "cannot write")


def test_clip_level_problems_name_the_json_location(
    run_cli: RunCli, tmp_path: Path, db: Path
) -> None:
    write_result(tmp_path, result("job-x", clips=[make_clip(0), make_clip(1, status="DONE")]))
    done = run_cli("ingest", tmp_path, "--db", db)
    assert done.returncode == 1
    assert "clips[1].status: expected one of COMPLETED, FAILED, got 'DONE'" in done.stderr


def stored_stamps(db: Path) -> dict[str, str]:
    """Each stored job's ingested_at, read with plain sqlite3."""
    with closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute("SELECT job_id, ingested_at FROM jobs"))
