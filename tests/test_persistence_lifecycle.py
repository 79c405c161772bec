"""The persistence lifecycle: open/close, the not-opened guard, errors passed through
unchanged, the default path under HOME, read-only mode, and waiting for locks."""

from __future__ import annotations

import inspect
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import (
    RunPython,
    child_env,
    make_job,
    open_fds_to,
    query_answers,
    sha256_of,
)

import fabric_nb
from fabric_nb import (
    FabricError,
    FabricIndex,
    FabricPersistence,
    FabricQueries,
    FabricStorage,
    IngestionError,
    PersistenceError,
    StorageCorruptionError,
    StorageError,
    create_persistence,
)

NOT_OPENED = "Persistence not opened"


def test_create_does_not_open_or_create(db_path: Path) -> None:
    persistence = create_persistence(db_path)
    assert isinstance(persistence, FabricPersistence)
    assert persistence.path == db_path
    assert persistence.readonly is False
    assert not persistence.is_open()
    assert not db_path.parent.exists()


def test_open_and_close_twice_are_harmless(db_path: Path) -> None:
    persistence = create_persistence(db_path)
    persistence.close()  # before open: nothing happens
    persistence.open()
    persistence.open()
    assert persistence.is_open()
    assert len(open_fds_to(db_path)) == 1  # the second open did not open a second connection
    persistence.persist_ingested_job(make_job())
    persistence.close()
    persistence.close()
    assert not persistence.is_open()
    assert open_fds_to(db_path) == []
    persistence.open()  # and it can be opened again
    assert [j.job_id for j in persistence.load_all_jobs()] == ["job_0001"]
    persistence.close()


def test_context_manager_opens_and_closes(db_path: Path) -> None:
    persistence = create_persistence(db_path)
    with persistence as entered:
        assert entered is persistence
        assert persistence.is_open()
    assert not persistence.is_open()
    assert open_fds_to(db_path) == []


def test_context_manager_closes_on_error(db_path: Path) -> None:
    persistence = create_persistence(db_path)
    with pytest.raises(RuntimeError, match="analyst error"), persistence:
        raise RuntimeError("analyst error")
    assert not persistence.is_open()
    assert open_fds_to(db_path) == []


OPERATIONS = {
    "persist_ingested_job": lambda p: p.persist_ingested_job(make_job()),
    "persist_ingested_jobs": lambda p: p.persist_ingested_jobs([make_job()]),
    "load_all_jobs": lambda p: p.load_all_jobs(),
    "get_schema_version": lambda p: p.get_schema_version(),
    "FabricIndex": lambda p: FabricIndex(p),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("when", ["before-open", "after-close"])
def test_every_operation_outside_the_lifecycle_is_refused(
    db_path: Path, operation: str, when: str
) -> None:
    persistence = create_persistence(db_path)
    if when == "after-close":
        with persistence:
            persistence.persist_ingested_job(make_job("stored"))
    with pytest.raises(PersistenceError) as info:
        OPERATIONS[operation](persistence)
    assert str(info.value) == NOT_OPENED
    if when == "before-open":
        assert not db_path.exists()


def test_every_argument_free_method_refuses_before_open(db_path: Path) -> None:
    """Methods other features add to the persistence are guarded too."""
    persistence = create_persistence(db_path)
    for name, member in inspect.getmembers(FabricPersistence, inspect.isfunction):
        if name.startswith("_") or name in {"open", "close", "is_open"}:
            continue
        if any(
            p.default is p.empty for p in list(inspect.signature(member).parameters.values())[1:]
        ):
            continue  # needs arguments; covered by its own feature's tests
        with pytest.raises(PersistenceError, match=f"^{NOT_OPENED}$"):
            getattr(persistence, name)()


def corrupt(path: Path) -> None:
    path.write_bytes(b"definitely not sqlite" * 300)


def mismatched(path: Path) -> None:
    with FabricStorage(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.close()


@pytest.mark.parametrize(
    ("damage", "error"),
    [(corrupt, StorageCorruptionError), (mismatched, StorageError)],
    ids=["corruption", "version-mismatch"],
)
def test_open_lets_storage_errors_through_unchanged(tmp_path: Path, damage, error) -> None:
    path = tmp_path / "fabric.db"
    damage(path)
    with pytest.raises(StorageError) as direct:
        FabricStorage(path).open()
    persistence = create_persistence(path)
    with pytest.raises(StorageError) as through:
        persistence.open()
    assert type(through.value) is error
    assert type(through.value) is type(direct.value)
    assert str(through.value) == str(direct.value)
    assert not isinstance(through.value, PersistenceError)
    assert not persistence.is_open()


def test_all_project_exceptions_share_one_base() -> None:
    classes = [
        getattr(fabric_nb.errors, name)
        for name in fabric_nb.errors.__all__
        if isinstance(getattr(fabric_nb.errors, name), type)
    ]
    assert set(classes) >= {
        IngestionError, StorageError, StorageCorruptionError, PersistenceError, FabricError,
    }  # fmt: skip
    interrupts = {fabric_nb.errors.InterruptedWrite, fabric_nb.errors.IngestInterrupted}
    for cls in classes:
        if cls in interrupts:  # Ctrl-C stays a KeyboardInterrupt: code that knows neither stops
            assert issubclass(cls, KeyboardInterrupt)
            assert not issubclass(cls, Exception)
        else:
            assert issubclass(cls, FabricError)
    assert issubclass(StorageCorruptionError, StorageError)
    assert not issubclass(PersistenceError, StorageError)
    assert not issubclass(FabricError, (ValueError, OSError))


def test_default_path_honours_home(home_dir: Path, run_py: RunPython) -> None:
    out = run_py(
        "from fabric_nb import create_persistence\n"
        "p = create_persistence()\n"
        "print(p.path)\n"
        "with p:\n"
        "    print(p.get_schema_version())\n"
    )
    expected = home_dir / ".proxx" / "fabric" / "fabric.db"
    assert out.splitlines() == [str(expected), "1"]
    assert expected.is_file()
    assert stat.S_IMODE(expected.stat().st_mode) == 0o600
    for folder in (home_dir / ".proxx", home_dir / ".proxx" / "fabric"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in (home_dir / ".proxx").rglob("*")) == ["fabric", "fabric.db"]


def test_no_path_means_fabric_db_when_it_is_set(
    home_dir: Path, run_py: RunPython, tmp_path: Path
) -> None:
    chosen = tmp_path / "chosen" / "fabric.db"
    code = (
        "from fabric_nb import create_persistence, open_fabric, resolve_storage_path\n"
        "p = create_persistence()\n"
        "print(p.path)\n"
        "print(resolve_storage_path())\n"
        "with p:\n"
        "    pass\n"
        "with open_fabric() as fabric:\n"
        "    print(fabric.path)\n"
    )
    assert run_py(code, env={"FABRIC_DB": str(chosen)}).splitlines() == [str(chosen)] * 3
    assert chosen.is_file()
    assert not (home_dir / ".proxx").exists()  # the default store was never touched
    empty = run_py("from fabric_nb import create_persistence\nprint(create_persistence().path)\n",
                   env={"FABRIC_DB": ""})  # fmt: skip
    assert empty.splitlines() == [str(home_dir / ".proxx" / "fabric" / "fabric.db")]


# -- read-only ---------------------------------------------------------------------


@pytest.fixture
def stored(db_path: Path) -> Path:
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_jobs([make_job("a"), make_job("b", final_status="FAILED")])
    return db_path


def test_read_only_reads(stored: Path) -> None:
    digest = sha256_of(stored)
    with create_persistence(stored, readonly=True) as persistence:
        assert persistence.readonly is True
        assert [j.job_id for j in persistence.load_all_jobs()] == ["a", "b"]
        assert persistence.get_schema_version() == 1
    assert sha256_of(stored) == digest
    assert sorted(p.name for p in stored.parent.iterdir()) == ["fabric.db"]


def test_read_only_refuses_writes(stored: Path) -> None:
    digest = sha256_of(stored)
    with create_persistence(stored, readonly=True) as persistence:
        with pytest.raises(StorageError) as info:
            persistence.persist_ingested_job(make_job("c"))
        assert str(info.value) == (
            f"Failed to persist job: storage {stored} is read-only (job 'c')"
        )
        with pytest.raises(StorageError, match=r"is read-only \(jobs 'c' \.\.\. 'd', 2 jobs"):
            persistence.persist_ingested_jobs([make_job("c"), make_job("d")])
        assert [j.job_id for j in persistence.load_all_jobs()] == ["a", "b"]
    assert sha256_of(stored) == digest


def test_read_only_index_is_unchanged_by_a_refused_add(stored: Path) -> None:
    with create_persistence(stored, readonly=True) as persistence:
        index = FabricIndex(persistence)
        before = query_answers(FabricQueries(index))
        with pytest.raises(StorageError):
            index.add_job(make_job("c"))
        with pytest.raises(StorageError):
            index.add_job(make_job("a", final_status="PARTIAL"))  # not even a replacement
        with pytest.raises(StorageError):
            index.add_jobs([make_job("d"), make_job("e")])
        assert query_answers(FabricQueries(index)) == before
        assert index.get_job("c") is None


def test_read_only_sees_what_a_writer_committed_after_rebuild(stored: Path) -> None:
    with create_persistence(stored, readonly=True) as reader:
        index = FabricIndex(reader)
        with create_persistence(stored) as writer:
            writer.persist_ingested_job(make_job("c"))
        assert index.count_jobs() == 2
        index.rebuild()
        assert [j.job_id for j in index.get_all_jobs()] == ["a", "b", "c"]


def test_empty_batch_writes_nothing(stored: Path) -> None:
    digest = sha256_of(stored)
    with create_persistence(stored) as persistence:
        persistence.persist_ingested_jobs([])
        FabricIndex(persistence).add_jobs([])
    assert sha256_of(stored) == digest


# -- waiting for locks -------------------------------------------------------------

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN " + sys.argv[2])
print("locked", flush=True)
time.sleep(float(sys.argv[3]))
print(time.time(), flush=True)  # the lock is still held here
conn.execute("COMMIT")
conn.close()
"""


def hold_lock(path: Path, home: Path, kind: str, seconds: float) -> subprocess.Popen[str]:
    """Start a process that holds a SQLite lock on ``path``; return once it holds it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), kind, str(seconds)],
        env=child_env(home),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def released_at(holder: subprocess.Popen[str]) -> float:
    """When the holder was about to release its lock (it exits successfully after)."""
    out, _ = holder.communicate(timeout=60)
    assert holder.returncode == 0
    return float(out.strip())


@pytest.mark.parametrize("kind", ["IMMEDIATE", "EXCLUSIVE"])
def test_a_write_waits_for_another_process_lock(stored: Path, home_dir: Path, kind: str) -> None:
    with create_persistence(stored) as persistence:
        holder = hold_lock(stored, home_dir, kind, 1.0)
        try:
            persistence.persist_ingested_job(make_job("c"))  # no "database is locked"
            committed = time.time()
        finally:
            release = released_at(holder)
        assert committed > release  # it waited for the lock instead of failing
        assert [j.job_id for j in persistence.load_all_jobs()] == ["a", "b", "c"]


def test_open_waits_for_an_exclusive_lock(stored: Path, home_dir: Path) -> None:
    holder = hold_lock(stored, home_dir, "EXCLUSIVE", 1.0)
    try:
        with create_persistence(stored, readonly=True) as persistence:
            opened = time.time()
            assert len(persistence.load_all_jobs()) == 2
    finally:
        release = released_at(holder)
    assert opened > release


WRITER = """
import sys
from support import make_job
from fabric_nb import FabricIndex, create_persistence
name, n = sys.argv[1], int(sys.argv[3])
with create_persistence(sys.argv[2]) as persistence:
    index = FabricIndex(persistence)
    for i in range(n):
        index.add_job(make_job(f"{name}-{i:03d}"))
print("done", flush=True)
"""


def test_concurrent_writer_processes_all_succeed(db_path: Path, home_dir: Path) -> None:
    with create_persistence(db_path):
        pass
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, name, str(db_path), "40"],
            env=child_env(home_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right", "third")
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        assert "database is locked" not in err
        assert out.strip() == "done"
    with create_persistence(db_path, readonly=True) as persistence:
        ids = [j.job_id for j in persistence.load_all_jobs()]
    assert sorted(ids) == sorted(
        f"{n}-{i:03d}" for n in ("left", "right", "third") for i in range(40)
    )
