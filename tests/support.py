"""Shared test data and helpers for the fabric_nb test suite: ``from support import ...``.

Builders make valid JobExecutionResult dicts (``make_result``) and jobs
(``make_job``); tests break them on purpose. ``job_record`` turns a job into
plain data that keeps every UTC offset (``==`` on datetimes compares instants
only, so it would hide a lost offset). ``query_answers`` asks every Phase-1
question of a :class:`FabricQueries`; subprocesses import this module to print
the same answers, so parity checks compare like with like.

A plain module, so that tests, helpers and child processes import one and the
same thing; the fixtures built on it are in ``conftest.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from fabric_nb import FabricQueries, IngestedJob, IngestedOutput
from fabric_nb.ingestion import clip_id_for, parse_execution_result
from fabric_nb.samples import SAMPLE_SEED, generate_results

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = Path(__file__).resolve().parent

#: When the fixed test jobs were "read"; keeps jobs comparable across processes.
FIXED_INGESTED_AT = datetime(2026, 1, 6, 8, 0, 0, 123456, tzinfo=UTC)


# -- JobExecutionResult dicts ------------------------------------------------------


def make_clip(index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid clip object as Proxx writes it; ``overrides`` replace keys."""
    clip: dict[str, Any] = {
        "source_path": f"/Volumes/CARD_A/Clip/A001C{index:03d}.mov",
        "resolved_output_path": f"/Volumes/Proxies/A001C{index:03d}_proxy.mov",
        "status": "COMPLETED",
        "output_exists": True,
        "output_size_bytes": 1_000_000 + index,
        "failure_reason": None,
        "engine_used": "ffmpeg",
        "proxy_profile_used": "proxy_prores_proxy",
        "resolve_preset_used": None,
        "validation_stage": "execution",
        "ffmpeg_command": ["ffmpeg", "-i", "in.mov", "out.mov"],
        "exit_code": 0,
        "started_at": "2026-01-05T10:00:01.000000+00:00",
        "completed_at": "2026-01-05T10:00:30.000000+00:00",
        "duration_seconds": 29.0,
    }
    clip.update(overrides)
    return clip


def make_result(**overrides: Any) -> dict[str, Any]:
    """A valid JobExecutionResult dict (two completed clips); ``overrides`` replace keys."""
    clips = [make_clip(0), make_clip(1)]
    doc: dict[str, Any] = {
        "job_id": "job_0001",
        "final_status": "COMPLETED",
        "started_at": "2026-01-05T10:00:00.123456+00:00",
        "completed_at": "2026-01-05T10:01:00.654321+00:00",
        "total_clips": 2,
        "completed_clips": 2,
        "failed_clips": 0,
        "duration_seconds": 60.53,
        "source_files": [c["source_path"] for c in clips],
        "source_extensions": [".mov"],
        "clips": clips,
        "_metadata": {
            "jobspec_version": "2.1",
            "proxy_profile_used": "proxy_prores_proxy",
            "engine_used": "ffmpeg",
            "resolve_preset_used": None,
            "validation_stage": "execution",
            "validation_error": None,
            "resolve_edition_detected": None,
            "resolve_version_detected": None,
        },
    }
    doc.update(copy.deepcopy(overrides))
    return doc


def write_result(directory: Path, doc: Any, name: str = "result.json") -> Path:
    """Write ``doc`` as UTF-8 JSON (raw ``bytes`` as given) and return the path.

    Non-ASCII text is written as-is, as Proxx does; a lone surrogate, which
    UTF-8 cannot hold, is written as a ``\\udXXX`` escape.
    """
    path = directory / name
    if isinstance(doc, bytes):
        path.write_bytes(doc)
        return path
    try:
        data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        data = json.dumps(doc).encode("ascii")
    path.write_bytes(data)
    return path


# -- jobs --------------------------------------------------------------------------


#: Result ``_metadata`` keys and the ``IngestedJob`` field each one becomes,
#: written out independently of ingestion so tests can check it.
META_FIELDS: dict[str, str] = {
    "proxy_profile_used": "canonical_proxy_profile",
    "fingerprint": "fingerprint",
    "validation_stage": "validation_stage",
    "validation_error": "validation_error",
    "engine_used": "engine_used",
    "resolve_preset_used": "resolve_preset_used",
    "jobspec_version": "jobspec_version",
}


def make_output(job_id: str = "job_0001", index: int = 0, **overrides: Any) -> IngestedOutput:
    """A valid :class:`IngestedOutput`; ``overrides`` replace fields."""
    source = overrides.pop("source_path", f"/Volumes/CARD_A/Clip/A001C{index:03d}.mov")
    fields: dict[str, Any] = {
        "job_id": job_id,
        "clip_id": clip_id_for(source),
        "source_path": source,
        "output_path": f"/Volumes/Proxies/A001C{index:03d}_proxy.mov",
        "output_exists": True,
        "output_size_bytes": 1_000_000 + index,
        "status": "COMPLETED",
        "failure_reason": None,
        "engine_used": "ffmpeg",
        "proxy_profile_used": "proxy_prores_proxy",
        "resolve_preset_used": None,
    }
    fields.update(overrides)
    return IngestedOutput(**fields)


def make_job(job_id: str = "job_0001", **overrides: Any) -> IngestedJob:
    """A valid completed :class:`IngestedJob` with two outputs; ``overrides`` replace fields."""
    fields: dict[str, Any] = {
        "job_id": job_id,
        "final_status": "COMPLETED",
        "started_at": datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC),
        "completed_at": datetime(2026, 1, 5, 10, 1, 0, 654321, tzinfo=UTC),
        "ingested_at": FIXED_INGESTED_AT,
        "total_clips": 2,
        "completed_clips": 2,
        "failed_clips": 0,
        "outputs": (make_output(job_id, 0), make_output(job_id, 1)),
        "canonical_proxy_profile": "proxy_prores_proxy",
        "fingerprint": None,
        "validation_stage": "execution",
        "validation_error": None,
        "engine_used": "ffmpeg",
        "resolve_preset_used": None,
        "jobspec_version": "2.1",
    }
    fields.update(overrides)
    return IngestedJob(**fields)


def tz(hours: float) -> timezone:
    """A fixed UTC offset of ``hours`` hours."""
    return timezone(timedelta(hours=hours))


def tricky_jobs() -> list[IngestedJob]:
    """Hand-made jobs for order and lookup tests.

    Mixed offsets whose string order differs from their instant order, two
    jobs at the same instant written with different offsets, every status,
    both engines, shared fingerprints and profiles, and all-``None`` optionals.
    """
    return [
        # 08:00Z written as 10:00+02:00: sorts *before* "09:00+00:00" as an instant.
        make_job("j-east", started_at=datetime(2026, 1, 5, 10, 0, tzinfo=tz(2)), completed_at=None,
                 fingerprint="sha256:aa", canonical_proxy_profile="proxy_h264_low"),
        make_job("j-utc", started_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
                 completed_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC), fingerprint="sha256:aa"),
        # The same instant (12:00Z) twice: ordered by job_id, "j-same-a" first.
        make_job("j-same-b", started_at=datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
                 final_status="FAILED", completed_clips=0, failed_clips=2, engine_used="resolve",
                 canonical_proxy_profile="proxy_dnxhr_lb_resolve",
                 resolve_preset_used="DNxHR LB"),
        make_job("j-same-a", started_at=datetime(2026, 1, 5, 7, 0, tzinfo=tz(-5)),
                 final_status="PARTIAL", completed_clips=1, failed_clips=1),
        # Microseconds and a half-hour offset.
        make_job("j-india", started_at=datetime(2026, 1, 5, 15, 0, 0, 1, tzinfo=tz(5.5)),
                 final_status="FAILED", outputs=(), total_clips=0, completed_clips=0,
                 failed_clips=0, validation_stage="pre-job",
                 validation_error="Source file not found: /Volumes/X/a.mov"),
        # Every optional field None.
        make_job("j-bare", started_at=datetime(2026, 1, 4, 23, 59, 59, 999999, tzinfo=UTC),
                 completed_at=None, canonical_proxy_profile=None, validation_stage=None,
                 engine_used=None, jobspec_version=None, outputs=(), total_clips=0,
                 completed_clips=0, failed_clips=0, final_status="FAILED"),
    ]  # fmt: skip


def sample_jobs(n_jobs: int = 200, seed: int = SAMPLE_SEED) -> list[IngestedJob]:
    """Realistic jobs from the synthetic generator, with a fixed ``ingested_at``.

    Re-runs of one ``job_id`` appear more than once, as they do on disk.
    """
    return [
        parse_execution_result(doc, source=f"sample[{i}]", ingested_at=FIXED_INGESTED_AT)
        for i, doc in enumerate(generate_results(n_jobs, seed=seed))
    ]


# -- exact comparison --------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def job_record(job: IngestedJob) -> dict[str, Any]:
    """Every field of ``job`` as plain JSON-ready data; datetimes keep their offsets."""
    return _plain(asdict(job))


def job_records(jobs: Iterable[IngestedJob]) -> list[dict[str, Any]]:
    """:func:`job_record` of each job, in the given order."""
    return [job_record(job) for job in jobs]


def query_answers(queries: FabricQueries) -> dict[str, Any]:
    """Every Phase-1 question, asked with every key the data holds plus keys it lacks.

    Lists keep their order, so comparing two answers also compares ordering.
    """
    jobs = queries.get_all_jobs()
    ids = [*sorted({job.job_id for job in jobs}), "no-such-job"]
    fingerprints = [*sorted({j.fingerprint for j in jobs if j.fingerprint}), "sha256:none"]
    profiles = sorted({j.canonical_proxy_profile for j in jobs if j.canonical_proxy_profile})
    engines = [*sorted({j.engine_used for j in jobs if j.engine_used}), "no-engine"]
    instants = sorted(j.started_at for j in jobs)
    bounds = [None] + ([instants[0], instants[len(instants) // 2], instants[-1]] if jobs else [])

    def ids_of(found: list[IngestedJob]) -> list[str]:
        return [job.job_id for job in found]

    return {
        "all": job_records(jobs),
        "count": queries.count_jobs(),
        "by_status": {
            s: queries.count_jobs_by_status(s) for s in ("COMPLETED", "FAILED", "PARTIAL")
        },
        "completed": ids_of(queries.get_completed_jobs()),
        "failed": ids_of(queries.get_failed_jobs()),
        "partial": ids_of(queries.get_partial_jobs()),
        "job": {i: (None if (j := queries.get_job(i)) is None else job_record(j)) for i in ids},
        "outputs": {i: _plain([asdict(o) for o in queries.get_outputs_for_job(i)]) for i in ids},
        "fingerprint": {f: ids_of(queries.get_jobs_by_fingerprint(f)) for f in fingerprints},
        "profile": {p: ids_of(queries.get_jobs_by_profile(p)) for p in [*profiles, "none"]},
        "engine": {e: ids_of(queries.get_jobs_by_engine(e)) for e in engines},
        "history": [
            [
                _plain(since),
                _plain(until),
                ids_of(queries.get_jobs_started_between(since=since, until=until)),
            ]
            for since in bounds
            for until in bounds
        ],
    }


def stored_job_ids(db: Path) -> list[str]:
    """The sorted ids of every job stored in ``db``, read through a read-only open."""
    from fabric_nb import create_persistence

    with create_persistence(db, readonly=True) as persistence:
        return sorted(job.job_id for job in persistence.load_all_jobs())


#: How long a test waits for a background process before it fails (never a hang).
WAIT_DEADLINE = 60.0


def ids_while_written(db: Path | bytes) -> list[str]:
    """The sorted job ids in ``db`` while another process may be writing it.

    Read with plain sqlite3 (a busy timeout, no Fabric checks); a store not
    there yet, or locked past the timeout, reads as empty: callers poll.
    """
    path = os.fsdecode(db)
    if not os.path.exists(path):
        return []
    try:
        conn = sqlite3.connect(f"file:{quote(os.fsencode(path))}?mode=ro", uri=True, timeout=10)
        try:
            return sorted(r[0] for r in conn.execute("SELECT job_id FROM jobs"))
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def wait_for(condition: Callable[[], bool], what: str, deadline: float = WAIT_DEADLINE) -> None:
    """Poll ``condition`` until true; fail the test naming ``what`` after ``deadline`` s."""
    until = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > until:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_fds_to(path: Path) -> list[str]:
    """The descriptors of this process that point at ``path`` (Linux ``/proc``)."""
    target = str(path.resolve())
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                found.append(fd)
        except OSError:  # the descriptor listdir itself used is gone already
            continue
    return found


# -- subprocesses ------------------------------------------------------------------


RunPython = Callable[..., str]


def child_env(home: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a child interpreter: ``HOME=home``, fabric_nb and support importable.

    ``FABRIC_DB`` is not inherited (a developer's own setting must not decide
    which file a test's child opens); ``env`` may set it.
    """
    child = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "FABRIC_DB")}
    child["HOME"] = str(home)
    child["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(TESTS_DIR)])
    child["PYTHONDONTWRITEBYTECODE"] = "1"
    child.update(env or {})
    return child


def run_python_code(
    code: str,
    *,
    home: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (``sys.executable``) with ``HOME=home``.

    The child can ``import fabric_nb`` and ``import support``. Returns the
    completed process; with ``check`` a non-zero exit fails the test with the
    child's stderr.
    """
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(home, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        pytest.fail(f"child process exited {done.returncode}:\n{done.stderr}", pytrace=False)
    return done


# -- the command line --------------------------------------------------------------


RunCli = Callable[..., subprocess.CompletedProcess[str]]

#: What a ``fabric-nb`` child gets for terminal settings: 80 columns, no colour.
_CLI_TERMINAL: dict[str, str] = {"COLUMNS": "80", "NO_COLOR": "1", "PYTHON_COLORS": "0"}


def cli_command(*args: str | os.PathLike[str]) -> list[str]:
    """The command line ``python -m fabric_nb ARGS...`` with this interpreter."""
    return [sys.executable, "-m", "fabric_nb", *map(str, args)]


def cli_env(home: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """:func:`child_env` for the command line: help rendered for 80 columns, no colour.

    ``FORCE_COLOR`` is not inherited either; ``env`` is applied last.
    """
    child = child_env(home)
    child.pop("FORCE_COLOR", None)
    child.update(_CLI_TERMINAL)
    child.update(env or {})
    return child


def run_cli_process(
    *args: str | os.PathLike[str],
    home: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
    preexec: Callable[[], object] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fabric_nb ARGS...`` as a user would and wait for it (``run_cli``).

    Stdin is closed, stdout/stderr are pipes (not a terminal); ``preexec``,
    if given, runs in the child before fabric_nb starts (a umask, a file size
    limit). ``timeout`` turns a hang into a failure. Returns the completed process, whatever its exit code.
    """

    return subprocess.run(
        cli_command(*args),
        env=cli_env(home, env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec,
    )


def start_cli(
    *args: str | os.PathLike[str], home: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``python -m fabric_nb ARGS...`` without waiting, as :func:`run_cli_process` runs it.

    For tests that signal the running command; the caller bounds every wait.
    """
    return subprocess.Popen(
        cli_command(*args),
        env=cli_env(home, env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# -- the analyst toolkit: a small history with hand-counted figures ----------------


def counted_jobs() -> list[IngestedJob]:
    """Seven jobs whose summaries are counted by hand in the toolkit's tests.

    Deliberately not in Fabric's order. ``job_b`` starts at the same instant
    as ``job_a`` (written +02:00), ``job_d`` starts on 2 September in its
    own offset (-05:00) but on 3 September in UTC, 4 September has no job.
    """
    ffmpeg = {"engine_used": "ffmpeg", "proxy_profile_used": "proxy_h264_low"}
    resolve = {
        "engine_used": "resolve",
        "proxy_profile_used": "proxy_prores_proxy_resolve",
        "resolve_preset_used": "ProRes 422 Proxy",
    }
    disk_full = "Disk full while writing output"
    jobspec = "JobSpec version 1.3 is not supported (expected 2.x)"

    def out(job_id: str, i: int, **fields: Any) -> IngestedOutput:
        return make_output(job_id, i, source_path=f"/Volumes/{job_id}/C{i:03d}.mov", **fields)

    def job(
        job_id: str,
        status: str,
        started: datetime,
        ended: datetime | None,
        outputs: tuple[IngestedOutput, ...],
        **fields: Any,
    ) -> IngestedJob:
        completed = sum(o.status == "COMPLETED" for o in outputs)
        return make_job(
            job_id,
            final_status=status,
            started_at=started,
            completed_at=ended,
            outputs=outputs,
            total_clips=len(outputs),
            completed_clips=completed,
            failed_clips=len(outputs) - completed,
            **fields,
        )

    return [
        job("job_d", "FAILED", datetime(2026, 9, 2, 23, 30, tzinfo=tz(-5)),
            datetime(2026, 9, 3, 0, 0, tzinfo=tz(-5)),
            (out("job_d", 0, status="FAILED", failure_reason=disk_full, output_exists=False,
                 output_size_bytes=None, **ffmpeg),
             out("job_d", 1, status="FAILED", failure_reason=disk_full, output_exists=None,
                 output_size_bytes=None, **ffmpeg)),
            canonical_proxy_profile="proxy_h264_low", engine_used="ffmpeg"),
        job("job_g", "FAILED", datetime(2026, 9, 5, 13, 0, tzinfo=UTC), None, (),
            canonical_proxy_profile=None, engine_used=None, jobspec_version="1.3",
            validation_stage="validation", validation_error=jobspec),
        job("job_b", "PARTIAL", datetime(2026, 9, 1, 11, 0, tzinfo=tz(2)),
            datetime(2026, 9, 1, 11, 30, tzinfo=tz(2)),
            (out("job_b", 0, output_size_bytes=2_000_000_000, **resolve),
             out("job_b", 1, status="FAILED", failure_reason=disk_full,
                 output_size_bytes=500_000_000, **resolve),
             out("job_b", 2, status="FAILED", output_exists=False, output_size_bytes=None,
                 failure_reason="Resolve render job failed: Media offline", **resolve)),
            canonical_proxy_profile="proxy_prores_proxy_resolve", engine_used="resolve",
            resolve_preset_used="ProRes 422 Proxy", fingerprint="sha256:aaa"),
        job("job_a", "COMPLETED", datetime(2026, 9, 1, 9, 0, tzinfo=UTC),
            datetime(2026, 9, 1, 9, 10, tzinfo=UTC),
            (out("job_a", 0, output_size_bytes=100_000_000, **ffmpeg),
             out("job_a", 1, output_size_bytes=150_000_000, **ffmpeg)),
            canonical_proxy_profile="proxy_h264_low", fingerprint="sha256:aaa"),
        job("job_f", "FAILED", datetime(2026, 9, 5, 12, 0, tzinfo=UTC),
            datetime(2026, 9, 5, 12, 0, 2, tzinfo=UTC), (),
            canonical_proxy_profile=None, engine_used=None, jobspec_version="1.3",
            validation_stage="validation", validation_error=jobspec),
        job("job_c", "FAILED", datetime(2026, 9, 2, 8, 0, tzinfo=UTC), None, (),
            canonical_proxy_profile="proxy_h264_low", validation_stage="pre-job",
            validation_error="Source file not found: /Volumes/A001/clip.mov"),
        job("job_e", "COMPLETED", datetime(2026, 9, 3, 10, 0, tzinfo=UTC),
            datetime(2026, 9, 3, 10, 0, 30, tzinfo=UTC),
            (out("job_e", 0, output_size_bytes=25_000_000, engine_used="resolve",
                 proxy_profile_used=None),),
            canonical_proxy_profile=None, engine_used="resolve"),
    ]  # fmt: skip


def build_store(path: Path, jobs: Iterable[IngestedJob]) -> Path:
    """Create a store at ``path`` holding ``jobs`` (one transaction) and close it."""
    from fabric_nb import FabricIndex, create_persistence

    with create_persistence(path) as persistence:
        FabricIndex(persistence).add_jobs(jobs)
    return path
