"""Corruption is detected loudly and nothing is touched.

A file that is not a database, a truncated database, and structural bytes
flipped inside a page each raise StorageCorruptionError on open; the file is
byte-for-byte unchanged (SHA-256), no side file appears, and no descriptor is
left pointing at it. A row whose stored values do not decode to a valid job
raises StorageCorruptionError naming that job when the history is loaded.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import open_fds_to, sample_jobs, sha256_of

from fabric_nb import (
    FabricIndex,
    FabricStorage,
    StorageCorruptionError,
    StorageError,
    create_persistence,
)

PREFIX = "Database corruption detected"


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a healthy store holding enough jobs for a multi-level b-tree."""
    path = tmp_path_factory.mktemp("good") / "fabric.db"
    with create_persistence(path) as persistence:
        persistence.persist_ingested_jobs(sample_jobs(200))
    data = path.read_bytes()
    assert len(data) > 50 * 4096
    return data


def page_of(data: bytes, name: str) -> int:
    """Byte offset of the root page of schema object ``name`` in a store's bytes."""
    page_size = int.from_bytes(data[16:18], "big")
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(data)
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,))
    finally:
        conn.close()
    return (root[0] - 1) * page_size


def flip(data: bytes, offset: int, length: int) -> bytes:
    damaged = bytearray(data)
    for i in range(offset, offset + length):
        damaged[i] ^= 0xFF
    return bytes(damaged)


def set_bytes(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


# (id, damage applied to a healthy store's bytes)
DAMAGE: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("not-a-database", lambda d: b"Proxx job log, not SQLite\n" * 400),
    ("text-with-sqlite-magic", lambda d: b"SQLite format 3\x00" + b"\x00" * 4080),
    ("header-magic-flipped", lambda d: flip(d, 0, 16)),
    ("truncated-to-half", lambda d: d[: len(d) // 2]),
    ("truncated-to-three-pages", lambda d: d[: 3 * 4096]),
    ("truncated-mid-page", lambda d: d[: 5 * 4096 + 1234]),
    ("truncated-in-header", lambda d: d[:60]),
    ("jobs-root-page-type", lambda d: set_bytes(d, page_of(d, "jobs"), b"\x00")),
    ("jobs-root-cell-count", lambda d: set_bytes(d, page_of(d, "jobs") + 3, b"\xff\xff")),
    ("status-index-cell-pointers", lambda d: flip(d, page_of(d, "idx_jobs_status") + 8, 8)),
    ("profile-index-page-zeroed",
     lambda d: set_bytes(d, page_of(d, "idx_jobs_profile"), b"\x00" * 4096)),
    ("jobs-root-page-zeroed", lambda d: set_bytes(d, page_of(d, "jobs"), b"\x00" * 4096)),
]  # fmt: skip


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
@pytest.mark.parametrize("damage", [pytest.param(f, id=i) for i, f in DAMAGE])
def test_damaged_file_fails_loudly_and_is_untouched(
    tmp_path: Path, good_store: bytes, damage: Callable[[bytes], bytes], readonly: bool
) -> None:
    path = tmp_path / "fabric.db"
    path.write_bytes(damage(good_store))
    digest, listing = sha256_of(path), sorted(os.listdir(tmp_path))
    persistence = create_persistence(path, readonly=readonly)

    with pytest.raises(StorageCorruptionError) as info:
        persistence.open()

    assert str(info.value).startswith(f"{PREFIX} in {path}: ")
    assert isinstance(info.value, StorageError)
    assert not persistence.is_open()
    assert sha256_of(path) == digest
    assert sorted(os.listdir(tmp_path)) == listing  # no -journal, no new file
    assert open_fds_to(path) == []


def test_no_connection_is_left_open_after_a_failed_open(tmp_path: Path) -> None:
    path = tmp_path / "fabric.db"
    path.write_bytes(b"not a database" * 500)
    for _ in range(20):
        with pytest.raises(StorageCorruptionError):
            FabricStorage(path).open()
    assert open_fds_to(path) == []
    path.rename(tmp_path / "moved.db")  # the operator can move it aside at once
    path.write_bytes(b"")  # and start afresh at the same place
    with FabricStorage(path) as storage:
        assert storage.get_schema_version() == 1


def test_corruption_is_reported_before_anything_is_loaded(
    tmp_path: Path, good_store: bytes
) -> None:
    path = tmp_path / "fabric.db"
    path.write_bytes(good_store[: len(good_store) // 2])
    persistence = create_persistence(path)
    with pytest.raises(StorageCorruptionError):
        persistence.open()
    with pytest.raises(StorageCorruptionError):
        persistence.open()  # a second attempt fails the same way: nothing was "healed"
    assert not persistence.is_open()


def test_flipped_bytes_inside_a_stored_value_fail_on_load_naming_the_job(
    tmp_path: Path, good_store: bytes
) -> None:
    """Damage that leaves the b-trees intact is caught when the row is decoded."""
    needle = b'"status":"COMPLETED"'
    offset = good_store.index(needle) + len(b'"status":"')
    path = tmp_path / "fabric.db"
    path.write_bytes(set_bytes(good_store, offset, b"X"))  # COMPLETED -> XOMPLETED
    digest = sha256_of(path)
    ids = {job.job_id for job in sample_jobs(200)}
    with create_persistence(path) as persistence:  # integrity_check cannot see this
        with pytest.raises(StorageCorruptionError) as info:
            persistence.load_all_jobs()
        with pytest.raises(StorageCorruptionError):
            FabricIndex(persistence)
    match = re.match(rf"{PREFIX} in {re.escape(str(path))}: job '([^']+)' cannot be decoded: ",
                     str(info.value))  # fmt: skip
    assert match and match.group(1) in ids
    assert sha256_of(path) == digest


# -- rows that do not decode -------------------------------------------------------


def _output(**changes: object) -> str:
    item = {
        "job_id": "job_bad", "clip_id": "0123456789abcdef", "source_path": "/a.mov",
        "output_path": "/p/a.mov", "output_exists": True, "output_size_bytes": 10,
        "status": "COMPLETED", "failure_reason": None, "engine_used": "ffmpeg",
        "proxy_profile_used": "p", "resolve_preset_used": None,
    }  # fmt: skip
    item.update(changes)
    import json

    return json.dumps([{k: v for k, v in item.items() if v != "<drop>"}])


# (id, SQL assignment for the row of job_bad, parameters)
BAD_ROWS: list[tuple[str, str, tuple[object, ...]]] = [
    ("outputs-not-json", "outputs_json = ?", ("[{'job_id': 'job_bad'}]",)),
    ("outputs-empty-text", "outputs_json = ?", ("",)),
    ("outputs-object", "outputs_json = ?", ('{"clips": []}',)),
    ("outputs-null-json", "outputs_json = ?", ("null",)),
    ("outputs-item-number", "outputs_json = ?", ("[1]",)),
    ("outputs-item-missing-key", "outputs_json = ?", (_output(clip_id="<drop>"),)),
    ("outputs-item-extra-key", "outputs_json = ?", (_output(health="good"),)),
    ("outputs-foreign-job", "outputs_json = ?", (_output(job_id="job_other"),)),
    ("outputs-status-skipped", "outputs_json = ?", (_output(status="SKIPPED"),)),
    ("outputs-exists-string", "outputs_json = ?", (_output(output_exists="yes"),)),
    ("outputs-size-negative", "outputs_json = ?", (_output(output_size_bytes=-1),)),
    ("outputs-size-text", "outputs_json = ?", (_output(output_size_bytes="10"),)),
    ("outputs-size-bool", "outputs_json = ?", (_output(output_size_bytes=True),)),
    ("outputs-source-number", "outputs_json = ?", (_output(source_path=5),)),
    ("outputs-source-empty", "outputs_json = ?", (_output(source_path=""),)),
    ("outputs-clip_id-null", "outputs_json = ?", (_output(clip_id=None),)),
    ("outputs-reason-number", "outputs_json = ?", (_output(failure_reason=3),)),
    ("outputs-blob", "outputs_json = ?", (b"[]",)),
    # Values json.loads accepts but Fabric never writes: refused by the typed decode.
    ("outputs-lone-surrogate", "outputs_json = ?", (_output(clip_id="\ud800"),)),
    ("outputs-size-over-int64", "outputs_json = ?", (_output(output_size_bytes=2**64),)),
    ("outputs-nested-too-deep", "outputs_json = ?", ("[" * 100_000 + "]" * 100_000,)),
    ("started-at-garbage", "started_at = ?", ("yesterday",)),
    ("started-at-no-offset", "started_at = ?", ("2026-01-05T10:00:00",)),
    ("completed-at-number", "completed_at = ?", (12,)),
    ("ingested-at-no-offset", "ingested_at = ?", ("2026-01-05T10:00:00",)),
    ("status-skipped", "final_status = ?", ("SKIPPED",)),
    ("count-negative", "total_clips = ?", (-1,)),
    ("count-text", "failed_clips = ?", ("many",)),
    ("count-real", "completed_clips = ?", (1.5,)),
    ("profile-blob", "canonical_proxy_profile = ?", (b"\x00\x01",)),
    ("engine-blob", "engine_used = ?", (b"ffmpeg",)),
]


@pytest.mark.parametrize(
    ("assignment", "params"), [pytest.param(*case[1:], id=case[0]) for case in BAD_ROWS]
)
def test_undecodable_row_names_the_job(
    tmp_path: Path, assignment: str, params: tuple[object, ...]
) -> None:
    from conftest import make_job

    path = tmp_path / "fabric.db"
    with create_persistence(path) as persistence:
        persistence.persist_ingested_jobs([make_job("job_ok"), make_job("job_bad")])
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(f"UPDATE jobs SET {assignment} WHERE job_id = 'job_bad'", params)
    conn.close()
    digest = sha256_of(path)

    with create_persistence(path, readonly=True) as persistence:
        with pytest.raises(StorageCorruptionError) as info:
            persistence.load_all_jobs()
        with pytest.raises(StorageCorruptionError):
            FabricIndex(persistence)
    assert str(info.value).startswith(f"{PREFIX} in {path}: job 'job_bad' cannot be decoded: ")
    assert sha256_of(path) == digest
