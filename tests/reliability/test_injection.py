"""Injection and safety: hostile text round-trips exactly, the store is private, read-only
really is read-only.

Hostile values (quotes, ``;``, SQL keywords, control characters, a megabyte of
text) go the whole way a real result goes: JSON file -> strict ingestion ->
index with persistence -> SQLite -> a *separate process* that opens the file
and reads them back. They must come back byte for byte, and the schema must be
exactly as it was (no statement was ever built from data).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import (
    child_env,
    job_record,
    make_clip,
    make_job,
    make_output,
    make_result,
    sample_jobs,
    sha256_of,
)

from fabric_nb import (
    FabricIndex,
    IngestedJob,
    IngestionError,
    StorageError,
    create_persistence,
    ingest_execution_result,
)
from fabric_nb.ingestion import clip_id_for

from ._support import side_files

#: Text that would break a statement built by string formatting, or a naive reader.
HOSTILE: dict[str, str] = {
    "single_quote": "it's",
    "double_quote": 'say "cut"',
    "semicolon": "a; b;",
    "drop_table": "x'); DROP TABLE jobs; --",
    "or_true": "' OR '1'='1",
    "union": "1 UNION SELECT sqlite_version(), name FROM sqlite_master --",
    "pragma": "PRAGMA user_version = 99; VACUUM;",
    "comment": "/* not a comment */ -- nor this",
    "like_wildcards": "100%_done\\",
    "quoted_names": '[jobs] `jobs` "jobs"',
    "control_chars": "line1\nline2\r\ttab\x1b[0m\x7f",
    "unicode": "Tournage_Été/撮影/🎬/\u202eRTL\u200b",
    "json_like": '{"job_id": "other", "outputs_json": []}',
    "very_long": "L" * (1 << 20) + "'); DROP TABLE jobs; --",
}

# Read back in a fresh interpreter: every job, the schema, and the lookups.
_READ_BACK = """
import json, sys
from fabric_nb import FabricIndex, create_persistence
from support import job_record

db, values_file = sys.argv[1], sys.argv[2]
values = json.loads(open(values_file, encoding="utf-8").read())
with create_persistence(db, readonly=True) as persistence:
    index = FabricIndex(persistence)
    version = persistence.get_schema_version()
import sqlite3
conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
schema = sorted(conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall())
rows = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
conn.close()
print(json.dumps({
    "version": version,
    "rows": rows,
    "schema": schema,
    "jobs": {job.job_id: job_record(job) for job in index.get_all_jobs()},
    "get_job": [index.get_job(v) is not None for v in values],
    "by_fingerprint": [[j.job_id for j in index.get_jobs_by_fingerprint(v)] for v in values],
    "by_profile": [[j.job_id for j in index.get_jobs_by_profile(v)] for v in values],
    "by_engine": [[j.job_id for j in index.get_jobs_by_engine(v)] for v in values],
}))
"""


def _read_back(db: Path, values: list[str], home: Path) -> dict[str, Any]:
    values_file = db.parent / "values.json"
    values_file.write_text(json.dumps(values), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _READ_BACK, str(db), str(values_file)],
        env=child_env(home),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    return json.loads(done.stdout)


def _schema(db: Path) -> list[list[Any]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return sorted(
            list(row) for row in conn.execute("SELECT type, name, sql FROM sqlite_master")
        )
    finally:
        conn.close()


def _hostile_result(value: str) -> dict[str, Any]:
    """A PARTIAL result with ``value`` in every text field Fabric stores."""
    clips = [
        make_clip(0, source_path=f"/Volumes/{value}/A001.mov",
                  resolved_output_path=f"/Proxies/{value}.mov",
                  engine_used=value, proxy_profile_used=value, resolve_preset_used=value),
        make_clip(1, source_path=f"{value}/B001.mov", resolved_output_path=f"{value}/B.mov",
                  status="FAILED", output_exists=False, output_size_bytes=None,
                  failure_reason=value),
    ]  # fmt: skip
    return make_result(
        job_id=value,
        final_status="PARTIAL",
        completed_clips=1,
        failed_clips=1,
        clips=clips,
        _metadata={
            "jobspec_version": value,
            "proxy_profile_used": value,
            "engine_used": value,
            "resolve_preset_used": value,
            "validation_stage": value,
            "validation_error": value,
            "fingerprint": value,
        },
    )


def test_hostile_text_round_trips_exactly_through_a_separate_process(
    tmp_path: Path, home_dir: Path
) -> None:
    db = tmp_path / "store" / "fabric.db"
    sentinels = sample_jobs(30, seed=7)
    with create_persistence(db) as persistence:
        index = FabricIndex(persistence)
        index.add_jobs(sentinels)
        schema_before = _schema(db)
        written: dict[str, IngestedJob] = {}
        for name, value in HOSTILE.items():
            path = tmp_path / f"{name}.json"
            path.write_bytes(json.dumps(_hostile_result(value), ensure_ascii=False).encode())
            job = ingest_execution_result(path)
            # Ingestion keeps the text exactly as written.
            assert job.job_id == value
            assert job.outputs[0].source_path == f"/Volumes/{value}/A001.mov"
            assert job.outputs[0].clip_id == clip_id_for(f"/Volumes/{value}/A001.mov")
            assert job.outputs[1].failure_reason == value
            assert (job.fingerprint, job.canonical_proxy_profile, job.engine_used) == (
                value,
                value,
                value,
            )
            index.add_job(job)
            written[value] = job
        # A second write of every hostile job in one batch replaces, never duplicates.
        index.add_jobs(list(written.values()))

    assert _schema(db) == schema_before
    seen = _read_back(db, list(HOSTILE.values()), home_dir)
    assert seen["version"] == 1
    assert seen["schema"] == schema_before
    expected = {job.job_id: job_record(job) for job in sentinels}
    expected.update({value: job_record(job) for value, job in written.items()})
    assert seen["rows"] == len(expected)
    assert seen["jobs"] == expected
    assert seen["get_job"] == [True] * len(HOSTILE)
    for key in ("by_fingerprint", "by_profile", "by_engine"):
        assert seen[key] == [[value] for value in HOSTILE.values()], key


# -- NUL characters -------------------------------------------------------------------


def _set(doc: dict[str, Any], location: str, value: Any) -> None:
    """Set ``value`` at a location written the way ingestion names it."""
    target: Any = doc
    parts = location.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    target[int(last) if last.isdigit() else last] = value


@pytest.mark.parametrize(
    "location",
    [
        "job_id",
        "_metadata.engine_used",
        "_metadata.fingerprint",
        "_metadata.validation_error",
        "clips[0].source_path",
        "clips[0].resolved_output_path",
        "clips[1].failure_reason",
    ],
)
def test_ingestion_rejects_nul_naming_file_and_field(tmp_path: Path, location: str) -> None:
    doc = make_result()
    _set(doc, location, "before\x00after")
    path = tmp_path / "nul.json"
    path.write_text(json.dumps(doc), encoding="utf-8")  # NUL travels as \u0000
    with pytest.raises(IngestionError) as caught:
        ingest_execution_result(path)
    message = str(caught.value)
    assert str(path) in message
    assert location in message
    assert "NUL" in message


def test_ingestion_rejects_raw_nul_byte_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "raw-nul.json"
    path.write_bytes(json.dumps(make_result(job_id="ab")).encode().replace(b"ab", b"a\x00b"))
    with pytest.raises(IngestionError, match="Invalid JSON") as caught:
        ingest_execution_result(path)
    assert str(path) in str(caught.value)


def test_storage_keeps_nul_in_hand_built_jobs_exactly(tmp_path: Path, home_dir: Path) -> None:
    # Ingestion never produces NUL; a job built in code still must not be truncated:
    # "a\0b", "a\0c" and "a" are three different jobs and stay three rows.
    jobs = [
        make_job("a\x00b", outputs=(make_output("a\x00b", source_path="/V/x\x00y.mov"),)),
        make_job("a\x00c", canonical_proxy_profile="p\x00q"),
        make_job("a", fingerprint="f\x00g"),
    ]
    db = tmp_path / "fabric.db"
    with create_persistence(db) as persistence:
        try:
            persistence.persist_ingested_jobs(jobs)
        except StorageError:
            stored: list[IngestedJob] = []
            refused = True
        else:
            stored, refused = jobs, False
    seen = _read_back(db, [], home_dir)
    assert seen["rows"] == len(stored)
    assert seen["jobs"] == {job.job_id: job_record(job) for job in stored}
    assert refused or set(seen["jobs"]) == {"a\x00b", "a\x00c", "a"}


# -- values SQLite cannot hold ----------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"job_id": "lone-\ud800-surrogate"}, id="surrogate-id"),
        pytest.param({"engine_used": "\udcff"}, id="surrogate-text"),
        pytest.param({"total_clips": 2**63}, id="count-beyond-int64"),
        pytest.param({"failed_clips": 2**100}, id="huge-count"),
    ],
)
def test_unstorable_hand_built_job_is_refused_whole(tmp_path: Path, bad: dict[str, Any]) -> None:
    good = make_job("good")
    broken = make_job(**({"job_id": "broken"} | bad))
    db = tmp_path / "fabric.db"
    with create_persistence(db) as persistence:
        index = FabricIndex(persistence)
        with pytest.raises(StorageError, match=r"^Failed to persist job: .* \(job '.*'\)$"):
            index.add_job(broken)
        with pytest.raises(StorageError, match=r"^Failed to persist job: .*none stored\)$"):
            index.add_jobs([good, broken])
        assert index.count_jobs() == 0
        assert persistence.load_all_jobs() == []
        index.add_job(good)  # the connection is still usable
        assert [job.job_id for job in persistence.load_all_jobs()] == ["good"]
    assert side_files(db) == []


@pytest.mark.parametrize(
    ("location", "value"),
    [
        ("total_clips", 2**63),
        ("completed_clips", 2**64 + 5),
        ("failed_clips", 10**30),
        ("clips[0].output_size_bytes", 2**63),
    ],
)
def test_ingestion_rejects_integers_beyond_sqlite_range(
    tmp_path: Path, location: str, value: int
) -> None:
    doc = make_result()
    _set(doc, location, value)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(IngestionError) as caught:
        ingest_execution_result(path)
    assert str(path) in str(caught.value)
    assert location in str(caught.value)


def test_largest_sqlite_integer_round_trips(tmp_path: Path, home_dir: Path) -> None:
    top = 2**63 - 1
    doc = make_result(total_clips=top, completed_clips=top, failed_clips=top)
    doc["clips"][0]["output_size_bytes"] = top
    path = tmp_path / "top.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    job = ingest_execution_result(path)
    db = tmp_path / "fabric.db"
    with create_persistence(db) as persistence:
        FabricIndex(persistence).add_job(job)
    assert _read_back(db, [], home_dir)["jobs"] == {job.job_id: job_record(job)}


# -- permissions ----------------------------------------------------------------------

_CREATE = """
import os, sys
from fabric_nb import create_persistence
os.umask(int(sys.argv[1], 8))
target = sys.argv[2] if len(sys.argv) > 2 else None
with create_persistence(target) as persistence:
    print(persistence.path)
"""


def _create_in_child(home: Path, umask: int, target: Path | None = None) -> Path:
    args = [oct(umask)[2:]] + ([str(target)] if target is not None else [])
    done = subprocess.run(
        [sys.executable, "-c", _CREATE, *args],
        env=child_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_created_folders_and_file_are_private(tmp_path: Path, home_dir: Path, umask: int) -> None:
    os.chmod(tmp_path, 0o755)
    target = tmp_path / "a" / "b" / "fabric.db"
    assert _create_in_child(home_dir, umask, target) == target
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
    assert _mode(target) == 0o600
    assert _mode(tmp_path) == 0o755  # a folder Fabric did not create keeps its mode
    assert sorted(p.name for p in target.parent.iterdir()) == ["fabric.db"]  # no litter


def test_default_store_under_home_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    created = _create_in_child(home, 0o000)
    assert created == home / ".proxx" / "fabric" / "fabric.db"
    assert _mode(home / ".proxx") == 0o700
    assert _mode(home / ".proxx" / "fabric") == 0o700
    assert _mode(created) == 0o600
    assert _mode(home) == 0o755


def test_existing_file_keeps_its_mode(tmp_path: Path, home_dir: Path) -> None:
    target = tmp_path / "fabric.db"
    with create_persistence(target):
        pass
    os.chmod(target, 0o640)  # the operator's choice for an existing store is respected
    _create_in_child(home_dir, 0o000, target)
    assert _mode(target) == 0o640


# -- read-only --------------------------------------------------------------------------


def test_read_only_cannot_write_even_through_the_index(tmp_path: Path) -> None:
    db = tmp_path / "fabric.db"
    jobs = sample_jobs(20, seed=11)
    with create_persistence(db) as persistence:
        persistence.persist_ingested_jobs(jobs)
    before = sha256_of(db)

    with create_persistence(db, readonly=True) as persistence:
        index = FabricIndex(persistence)
        snapshot = [job_record(job) for job in index.get_all_jobs()]
        existing = index.get_all_jobs()[0]
        replacement = make_job(existing.job_id, ingested_at=datetime(2030, 1, 1, tzinfo=UTC))
        for attempt in (
            lambda: index.add_job(make_job("new-job")),
            lambda: index.add_job(replacement),
            lambda: index.add_jobs([make_job("new-1"), make_job("new-2")]),
            lambda: persistence.persist_ingested_job(make_job("direct")),
            lambda: persistence.persist_ingested_jobs([make_job("direct-batch")]),
        ):
            with pytest.raises(StorageError, match="read-only"):
                attempt()
        assert [job_record(job) for job in index.get_all_jobs()] == snapshot
        assert index.get_job("new-job") is None
        assert [job_record(job) for job in persistence.load_all_jobs()] == snapshot
        assert side_files(db) == []
    assert sha256_of(db) == before
    assert side_files(db) == []


def test_read_only_open_of_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "not" / "there" / "fabric.db"
    persistence = create_persistence(target, readonly=True)
    with pytest.raises(StorageError, match="not found"):
        persistence.open()
    assert not persistence.is_open()
    assert list(tmp_path.iterdir()) == []
