"""Explicit schema version: a mismatch fails loudly and touches nothing; a missing
or empty file is initialised; read-only mode never creates anything."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from support import make_job, open_fds_to, sha256_of

from fabric_nb import (
    FabricStorage,
    StorageCorruptionError,
    StorageError,
    create_persistence,
)


def foreign_file(path: Path) -> None:
    """Somebody else's SQLite file: tables of its own, user_version 0."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.close()


def fabric_file_with_version(path: Path, version: int) -> None:
    """A Fabric store holding one job, then stamped with another schema version."""
    with create_persistence(path) as persistence:
        persistence.persist_ingested_job(make_job())
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def schema_of(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(conn.execute("SELECT type, name FROM sqlite_master").fetchall())
    finally:
        conn.close()


MISMATCHES = [
    pytest.param(foreign_file, 0, id="0-with-foreign-tables"),
    pytest.param(lambda p: fabric_file_with_version(p, 0), 0, id="0-with-fabric-tables"),
    pytest.param(lambda p: fabric_file_with_version(p, 2), 2, id="2"),
    pytest.param(lambda p: fabric_file_with_version(p, 999), 999, id="999"),
    pytest.param(lambda p: fabric_file_with_version(p, -1), -1, id="negative"),
]


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
@pytest.mark.parametrize(("make", "found"), MISMATCHES)
def test_version_mismatch_fails_loudly_and_changes_nothing(
    tmp_path: Path, make, found: int, readonly: bool
) -> None:
    path = tmp_path / "fabric.db"
    make(path)
    digest, schema, listing = sha256_of(path), schema_of(path), sorted(os.listdir(tmp_path))
    persistence = create_persistence(path, readonly=readonly)

    with pytest.raises(StorageError) as info:
        persistence.open()

    assert type(info.value) is StorageError  # a mismatch is not corruption
    assert str(info.value) == f"Schema version mismatch: expected 1, found {found} ({path})"
    assert not persistence.is_open()
    assert sha256_of(path) == digest
    assert schema_of(path) == schema  # Fabric never adds tables to a file it did not create
    assert sorted(os.listdir(tmp_path)) == listing
    assert open_fds_to(path) == []


def test_foreign_file_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    foreign_file(path)
    for _ in range(3):
        with pytest.raises(StorageError, match=r"^Schema version mismatch: expected 1, found 0"):
            FabricStorage(path).open()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    finally:
        conn.close()


def test_version_1_without_the_jobs_table_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "fabric.db"
    foreign_file(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    digest = sha256_of(path)
    with pytest.raises(StorageCorruptionError, match=r"^Database corruption detected in "):
        FabricStorage(path).open()
    assert sha256_of(path) == digest


def test_stored_version_is_reported(db_path: Path) -> None:
    with create_persistence(db_path) as persistence:
        assert persistence.get_schema_version() == 1


# -- missing and empty files -------------------------------------------------------


def test_missing_file_is_created_silently_with_private_modes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a" / "b" / "fabric.db"
    with create_persistence(path) as persistence:
        assert persistence.get_schema_version() == 1
        assert persistence.load_all_jobs() == []
    assert capsys.readouterr() == ("", "")  # Fabric does not warn about missing history
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_existing_folders_keep_their_modes(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with create_persistence(folder / "fabric.db"):
        pass
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_empty_file_is_initialised(tmp_path: Path) -> None:
    path = tmp_path / "fabric.db"
    path.touch()
    with create_persistence(path) as persistence:
        assert persistence.get_schema_version() == 1
        persistence.persist_ingested_job(make_job())
    with create_persistence(path, readonly=True) as persistence:
        assert [j.job_id for j in persistence.load_all_jobs()] == ["job_0001"]


def test_empty_file_is_not_initialised_read_only(tmp_path: Path) -> None:
    path = tmp_path / "fabric.db"
    path.touch()
    with pytest.raises(StorageError, match=r"^Schema version mismatch: expected 1, found 0"):
        create_persistence(path, readonly=True).open()
    assert path.read_bytes() == b""


def test_read_only_on_a_missing_file_names_it_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "fabric.db"
    persistence = create_persistence(path, readonly=True)
    with pytest.raises(StorageError) as info:
        persistence.open()
    assert type(info.value) is StorageError
    assert str(path) in str(info.value)
    assert not (tmp_path / "nowhere").exists()
    assert list(tmp_path.iterdir()) == []


def test_read_only_on_a_missing_file_next_to_others(tmp_path: Path) -> None:
    path = tmp_path / "fabric.db"
    with pytest.raises(StorageError, match="Storage file not found"):
        FabricStorage(path, readonly=True).open()
    assert not path.exists()


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is a directory"):
        FabricStorage(tmp_path).open()
    assert list(tmp_path.iterdir()) == []


def test_creating_a_store_is_refused_where_folders_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match=f"^Cannot (create|open) storage {blocker}/sub"):
        FabricStorage(blocker / "sub" / "fabric.db").open()
    assert blocker.read_text() == "not a folder"


def test_version_is_checked_before_integrity(tmp_path: Path) -> None:
    """The spec's startup order: a mismatched file is reported as such even when damaged."""
    path = tmp_path / "fabric.db"
    fabric_file_with_version(path, 999)
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size : 2 * page_size] = b"\x00" * page_size  # page 2: the jobs table's root
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError) as info:
        FabricStorage(path).open()
    assert type(info.value) is StorageError
    assert str(info.value).startswith("Schema version mismatch: expected 1, found 999")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")  # same damage, right version: now corruption
    conn.close()
    with pytest.raises(StorageCorruptionError):
        FabricStorage(path).open()
