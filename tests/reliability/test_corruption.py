"""Corruption: damaged files fail loudly or are provably harmless, and are never touched.

A real store of a few hundred sample jobs (hundreds of pages: table and index
b-trees with interior and leaf pages, overflow pages) is built once. Each case
damages a *copy* of it, then opens it read-write and read-only. Allowed
outcomes:

- ``open()`` raises :class:`StorageError` (usually :class:`StorageCorruptionError`)
  whose message names the file; or
- ``open()`` succeeds (so ``PRAGMA integrity_check`` said ok) and then loading
  either raises :class:`StorageCorruptionError`, or returns data identical to
  the original, field by field. Anything else would be a silent open of
  damaged data.

In every case the file's SHA-256 is unchanged afterwards and no side file
(journal) or other litter is left next to it.

Pages are classified by the b-tree page-type byte (0x05 interior table, 0x0D
leaf table, 0x02 interior index, 0x0A leaf index) at the start of each page
(offset 100 on page 1). The base store is built by inserts only, so it has no
free pages whose stale bytes could look like a b-tree header.

The cases at known places (after the matrix) pin the exact outcome of each:
a file that is not a database, a truncated database and structural bytes
flipped inside a page raise StorageCorruptionError on open, leave no
descriptor open, and are reported before anything is loaded; a row whose
stored values do not decode names its job on load.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import job_record, open_fds_to, sample_jobs, sha256_of

from fabric_nb import (
    FabricIndex,
    FabricStorage,
    StorageCorruptionError,
    StorageError,
    create_persistence,
)
from fabric_nb.ingestion import parse_execution_result
from fabric_nb.samples import generate_results

from ._support import raw_integrity_check

INTERIOR_TABLE, LEAF_TABLE, INTERIOR_INDEX, LEAF_INDEX = 0x05, 0x0D, 0x02, 0x0A

#: What a refusal may say. Every message must also name the file.
_CLEAR = (
    "Database corruption detected in",
    "Schema version mismatch: expected 1, found",
    "Cannot read storage",  # e.g. "unsupported file format" (a flipped schema-format byte)
    "it is a directory",
)


@dataclass(frozen=True)
class BaseStore:
    """The undamaged store: its bytes, its jobs, and where each kind of page is."""

    data: bytes
    jobs: list[dict[str, Any]]
    page_size: int
    pages: dict[int, list[int]]  # page type -> 1-based page numbers

    def offset(self, page: int) -> int:
        """Where the b-tree header of ``page`` starts in the file."""
        return (page - 1) * self.page_size + (100 if page == 1 else 0)

    def middle(self, page_type: int) -> int:
        found = self.pages[page_type]
        return found[len(found) // 2]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> BaseStore:
    folder = tmp_path_factory.mktemp("corruption-base")
    path = folder / "fabric.db"
    latest: dict[str, Any] = {}
    for i, doc in enumerate(generate_results(400, seed=5)):
        latest[doc["job_id"]] = parse_execution_result(doc, source=f"sample[{i}]")
    jobs = list(latest.values())  # one version per job_id: inserts only, no free pages
    with create_persistence(path) as persistence:
        index = FabricIndex(persistence)
        index.add_jobs(jobs[:300])
        for job in jobs[300:]:
            index.add_job(job)
        original = [job_record(job) for job in persistence.load_all_jobs()]
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    assert int.from_bytes(data[36:40], "big") == 0, "the base store must have no free pages"
    pages: dict[int, list[int]] = {t: [] for t in (2, 5, 10, 13)}
    for page in range(1, len(data) // page_size + 1):
        kind = data[(page - 1) * page_size + (100 if page == 1 else 0)]
        if kind in pages:
            pages[kind].append(page)
    store = BaseStore(data, original, page_size, pages)
    # The damage below needs every kind of page to exist.
    assert len(original) > 350
    assert len(data) // page_size > 100
    assert all(len(found) >= 1 for found in pages.values()), pages
    assert len(pages[LEAF_TABLE]) > 25
    return store


# -- damage -----------------------------------------------------------------------

Damage = Callable[[BaseStore], bytes]


def truncate_at(offset: Callable[[BaseStore], int]) -> Damage:
    return lambda b: b.data[: offset(b)]


def flip(where: Callable[[BaseStore], int], mask: int = 0xFF) -> Damage:
    def damage(b: BaseStore) -> bytes:
        at = where(b)
        out = bytearray(b.data)
        out[at] ^= mask
        return bytes(out)

    return damage


def zero_page(page: Callable[[BaseStore], int]) -> Damage:
    def damage(b: BaseStore) -> bytes:
        start = (page(b) - 1) * b.page_size
        out = bytearray(b.data)
        out[start : start + b.page_size] = bytes(b.page_size)
        return bytes(out)

    return damage


def cell(b: BaseStore, page: int, index: int = 0) -> int:
    """File offset of cell ``index`` of a b-tree page (from its cell pointer array)."""
    header = b.offset(page)
    size = 12 if b.data[header] in (INTERIOR_TABLE, INTERIOR_INDEX) else 8
    pointer = header + size + 2 * index
    return (page - 1) * b.page_size + int.from_bytes(b.data[pointer : pointer + 2], "big")


def in_leaf_text(needle: bytes) -> Callable[[BaseStore], int]:
    """Offset of the first ``needle`` stored inline in a leaf page of the jobs table."""

    def where(b: BaseStore) -> int:
        for page in b.pages[LEAF_TABLE]:
            if page == 1:
                continue
            start = (page - 1) * b.page_size
            found = b.data.find(needle, start, start + b.page_size)
            if found >= 0:
                return found + len(needle) - 1
        raise AssertionError(f"{needle!r} not found in a leaf page")

    return where


def leaf(b: BaseStore) -> int:
    return b.middle(LEAF_TABLE)


def interior(b: BaseStore) -> int:
    return b.middle(INTERIOR_TABLE)


def index_leaf(b: BaseStore) -> int:
    return b.middle(LEAF_INDEX)


def index_interior(b: BaseStore) -> int:
    return b.middle(INTERIOR_INDEX)


DAMAGE: dict[str, Damage] = {
    # truncation
    "truncate-inside-header": truncate_at(lambda b: 50),
    "truncate-after-header": truncate_at(lambda b: 100),
    "truncate-to-first-page": truncate_at(lambda b: b.page_size),
    "truncate-unaligned": truncate_at(lambda b: 3 * b.page_size + 1234),
    "truncate-half": truncate_at(lambda b: len(b.data) // 2 // b.page_size * b.page_size),
    "truncate-last-page": truncate_at(lambda b: len(b.data) - b.page_size),
    "truncate-last-byte": truncate_at(lambda b: len(b.data) - 1),
    # the 100-byte file header
    "header-magic": flip(lambda b: 0),
    "header-page-size": flip(lambda b: 16),
    "header-write-version": flip(lambda b: 18),
    "header-payload-fraction": flip(lambda b: 21),
    "header-change-counter": flip(lambda b: 27),
    "header-page-count": flip(lambda b: 31, 0x01),
    "header-freelist-trunk": flip(lambda b: 35),
    "header-freelist-count": flip(lambda b: 39),
    "header-schema-cookie": flip(lambda b: 43),
    "header-schema-format": flip(lambda b: 47),
    "header-autovacuum-root": flip(lambda b: 55),
    "header-text-encoding": flip(lambda b: 59, 0x02),
    "header-user-version": flip(lambda b: 63),
    "header-reserved": flip(lambda b: 80),
    "header-version-valid-for": flip(lambda b: 95),
    # page 1: the schema table
    "schema-page-type": flip(lambda b: 100),
    "schema-page-cell-count": flip(lambda b: 104),
    # an interior page of the jobs table
    "interior-type": flip(lambda b: b.offset(interior(b))),
    "interior-cell-count": flip(lambda b: b.offset(interior(b)) + 4),
    "interior-rightmost-child": flip(lambda b: b.offset(interior(b)) + 11, 0x01),
    "interior-cell-pointer": flip(lambda b: b.offset(interior(b)) + 13),
    "interior-child-of-cell": flip(lambda b: cell(b, interior(b)) + 3, 0x01),
    "interior-key-of-cell": flip(lambda b: cell(b, interior(b)) + 4, 0x7F),
    # a leaf page of the jobs table
    "leaf-type": flip(lambda b: b.offset(leaf(b))),
    "leaf-freeblock": flip(lambda b: b.offset(leaf(b)) + 2),
    "leaf-cell-count": flip(lambda b: b.offset(leaf(b)) + 4),
    "leaf-content-start": flip(lambda b: b.offset(leaf(b)) + 6),
    "leaf-cell-pointer": flip(lambda b: b.offset(leaf(b)) + 9),
    "leaf-payload-size": flip(lambda b: cell(b, leaf(b)), 0x01),
    "leaf-rowid": flip(lambda b: cell(b, leaf(b), 1) + 2, 0x01),
    "leaf-record-header": flip(lambda b: cell(b, leaf(b)) + 4),
    # indexed values inside a leaf: integrity_check compares them with the indexes
    "leaf-status-text": flip(in_leaf_text(b"COMPLETED"), 0x20),
    "leaf-engine-text": flip(in_leaf_text(b"ffmpeg"), 0x20),
    # index b-trees
    "index-leaf-type": flip(lambda b: b.offset(index_leaf(b))),
    "index-leaf-key": flip(lambda b: cell(b, index_leaf(b)) + 3, 0x20),
    "index-interior-type": flip(lambda b: b.offset(index_interior(b))),
    "index-interior-child": flip(lambda b: cell(b, index_interior(b)) + 3, 0x01),
    # whole pages of zeros
    "zeroed-page-1": zero_page(lambda b: 1),
    "zeroed-interior-page": zero_page(interior),
    "zeroed-leaf-page": zero_page(leaf),
    "zeroed-index-page": zero_page(index_leaf),
    "zeroed-last-page": zero_page(lambda b: len(b.data) // b.page_size),
    # not a database at all
    "text-file": lambda b: b"Fabric history, but written by something else\n" * 200,
    "json-result-file": lambda b: json.dumps(next(generate_results(1, seed=1))).encode(),
    "random-bytes": lambda b: random.Random(3).randbytes(8 * b.page_size),
    "magic-then-garbage": lambda b: b.data[:16] + random.Random(4).randbytes(4 * b.page_size),
}


def _check_refusal(error: StorageError, path: Path) -> None:
    message = str(error)
    assert str(path) in message, message
    assert any(phrase in message for phrase in _CLEAR), message


def _try_open(path: Path, *, readonly: bool, original: list[dict[str, Any]]) -> str:
    """Open, load and rebuild; return how it went, failing on anything not allowed."""
    persistence = create_persistence(path, readonly=readonly)
    try:
        persistence.open()
    except StorageError as exc:  # StorageCorruptionError included
        _check_refusal(exc, path)
        assert not persistence.is_open()
        return f"refused: {type(exc).__name__}"
    try:
        try:
            jobs = persistence.load_all_jobs()
        except StorageCorruptionError as exc:
            _check_refusal(exc, path)
            return "refused at load"
        assert [job_record(job) for job in jobs] == original, "damaged data opened silently"
        index = FabricIndex(persistence)
        assert [job_record(job) for job in index.get_all_jobs()] == original
    finally:
        persistence.close()
    assert raw_integrity_check(path) == ["ok"]
    return "harmless: opens with identical data"


def _litter(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "fabric.db")


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
@pytest.mark.parametrize("name", list(DAMAGE))
def test_damaged_store_fails_loudly_and_is_never_changed(
    base: BaseStore, tmp_path: Path, name: str, readonly: bool
) -> None:
    damaged = DAMAGE[name](base)
    assert damaged != base.data
    path = tmp_path / "fabric.db"
    path.write_bytes(damaged)
    before = sha256_of(path)
    outcome = _try_open(path, readonly=readonly, original=base.jobs)
    print(f"{name} ({'read-only' if readonly else 'read-write'}): {outcome}")
    assert sha256_of(path) == before, f"{name}: the damaged file was changed"
    assert path.stat().st_size == len(damaged)
    assert _litter(tmp_path) == []


def test_zero_length_file_is_refused_read_only_and_initialised_read_write(tmp_path: Path) -> None:
    # Decision (docs/persistence.md, "Reliability under abuse"): a zero-length file
    # holds no history. SQLite reads it as an empty database (user_version 0, no
    # tables), so read-only mode refuses it untouched, and read-write mode
    # initialises it exactly as it creates a missing file. Nothing can be lost:
    # there was no byte of history to lose.
    path = tmp_path / "fabric.db"
    path.touch()
    with pytest.raises(
        StorageError, match="Schema version mismatch: expected 1, found 0"
    ) as caught:
        create_persistence(path, readonly=True).open()
    assert str(path) in str(caught.value)
    assert path.stat().st_size == 0
    assert _litter(tmp_path) == []
    with create_persistence(path) as persistence:
        assert persistence.get_schema_version() == 1
        assert persistence.load_all_jobs() == []
    assert raw_integrity_check(path) == ["ok"]
    assert _litter(tmp_path) == []


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
def test_directory_at_the_path_is_refused_and_left_alone(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "fabric.db"
    path.mkdir()
    (path / "keep.txt").write_text("operator's file")
    with pytest.raises(StorageError, match="it is a directory") as caught:
        create_persistence(path, readonly=readonly).open()
    assert str(path) in str(caught.value)
    assert sorted(p.name for p in path.iterdir()) == ["keep.txt"]
    assert _litter(tmp_path) == []


def test_foreign_sqlite_databases_are_refused_untouched(tmp_path: Path) -> None:
    other_app = tmp_path / "other" / "fabric.db"
    wrong_table = tmp_path / "wrong" / "fabric.db"
    for path, statements in (
        (other_app, ["CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES ('hi')"]),
        (wrong_table, ["CREATE TABLE jobs (job_id TEXT)", "PRAGMA user_version = 1"]),
    ):
        path.parent.mkdir()
        conn = sqlite3.connect(path)
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
    expectations = {
        other_app: "Schema version mismatch: expected 1, found 0",
        wrong_table: "jobs table is missing or has other columns",
    }
    for path, phrase in expectations.items():
        before = sha256_of(path)
        for readonly in (False, True):
            with pytest.raises(StorageError, match=phrase) as caught:
                create_persistence(path, readonly=readonly).open()
            assert str(path) in str(caught.value)
        assert sha256_of(path) == before
        assert _litter(path.parent) == []


# -- rows that decode badly inside a structurally valid file ---------------------------


def _store_with_row_damage(folder: Path, base: BaseStore, statement: str) -> Path:
    path = folder / "fabric.db"
    path.write_bytes(base.data)
    conn = sqlite3.connect(path)
    conn.execute(statement, (base.jobs[7]["job_id"],))
    conn.commit()
    conn.close()
    assert raw_integrity_check(path) == ["ok"]
    return path


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE jobs SET outputs_json = '[{\"job_id\": ' WHERE job_id = ?", id="json"),
        pytest.param("UPDATE jobs SET outputs_json = 'not json at all' WHERE job_id = ?",
                     id="not-json"),
        pytest.param("UPDATE jobs SET outputs_json = '{}' WHERE job_id = ?", id="not-array"),
        pytest.param("UPDATE jobs SET outputs_json = '[{\"job_id\": 1}]' WHERE job_id = ?",
                     id="wrong-fields"),
        pytest.param("UPDATE jobs SET final_status = 'SKIPPED' WHERE job_id = ?", id="status"),
        pytest.param("UPDATE jobs SET started_at = '2026-01-05T10:00:00' WHERE job_id = ?",
                     id="naive-time"),
        pytest.param("UPDATE jobs SET started_at = 'yesterday' WHERE job_id = ?", id="bad-time"),
        pytest.param("UPDATE jobs SET total_clips = -3 WHERE job_id = ?", id="negative-count"),
        pytest.param("UPDATE jobs SET failed_clips = 'two' WHERE job_id = ?", id="text-count"),
    ],
)  # fmt: skip
def test_undecodable_row_raises_corruption_naming_the_job(
    base: BaseStore, tmp_path: Path, statement: str
) -> None:
    path = _store_with_row_damage(tmp_path, base, statement)
    job_id = base.jobs[7]["job_id"]
    before = sha256_of(path)
    for readonly in (False, True):
        with create_persistence(path, readonly=readonly) as persistence:  # structure is fine
            with pytest.raises(StorageCorruptionError) as caught:
                persistence.load_all_jobs()
            assert str(path) in str(caught.value)
            assert repr(job_id) in str(caught.value)
            with pytest.raises(StorageCorruptionError):
                FabricIndex(persistence)
    assert sha256_of(path) == before
    assert _litter(tmp_path) == []


def test_an_undecodable_row_with_a_huge_job_id_is_named_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "fabric.db"
    huge = "j" * (2 * 1024 * 1024)
    with create_persistence(path) as persistence:
        persistence.persist_ingested_jobs(sample_jobs(1))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE jobs SET job_id = ?, outputs_json = 'not json at all'", (huge,))
    conn.commit()
    conn.close()
    with (
        create_persistence(path, readonly=True) as persistence,
        pytest.raises(StorageCorruptionError, match=r"job 'j+\.\.\. cannot be decoded") as caught,
    ):
        persistence.load_all_jobs()
    assert len(str(caught.value)) < 1000  # not the 2 MiB id


def test_corruption_matrix_covers_every_kind_of_page(base: BaseStore) -> None:
    # Guards the matrix itself: the chosen pages are of the kind their case names.
    assert base.data[base.offset(leaf(base))] == LEAF_TABLE
    assert base.data[base.offset(interior(base))] == INTERIOR_TABLE
    assert base.data[base.offset(index_leaf(base))] == LEAF_INDEX
    assert base.data[base.offset(index_interior(base))] == INTERIOR_INDEX
    assert leaf(base) != 1
    for page in (leaf(base), interior(base), index_leaf(base), index_interior(base)):
        assert (page - 1) * base.page_size < cell(base, page) < page * base.page_size


@pytest.mark.parametrize("column", ["started_at", "engine_used", "outputs_json", "job_id"])
def test_text_that_is_not_utf8_on_disk_is_corruption(
    base: BaseStore, tmp_path: Path, column: str
) -> None:
    # One damaged byte inside a stored text value: the b-tree is intact (even an
    # index on the column holds the same bytes), so integrity_check passes and
    # the damage shows only when the row is read.
    path = tmp_path / "fabric.db"
    path.write_bytes(base.data)
    conn = sqlite3.connect(path)
    conn.execute(
        f"UPDATE jobs SET {column} = CAST(substr(CAST({column} AS BLOB), 1, 3) || x'ff'"
        f" || substr(CAST({column} AS BLOB), 5) AS TEXT) WHERE job_id = ?",
        (base.jobs[11]["job_id"],),
    )
    conn.commit()
    conn.close()
    assert raw_integrity_check(path) == ["ok"]
    before = sha256_of(path)
    for readonly in (False, True):
        with create_persistence(path, readonly=readonly) as persistence:
            with pytest.raises(StorageCorruptionError, match="not UTF-8") as caught:
                persistence.load_all_jobs()
            assert str(path) in str(caught.value)
            assert repr(column) in str(caught.value)
            assert len(str(caught.value)) < 300 + len(str(path))  # not the damaged text
    assert sha256_of(path) == before
    assert _litter(tmp_path) == []


def test_random_bit_flips_in_leaf_pages_raise_only_storage_errors(
    base: BaseStore, tmp_path: Path
) -> None:
    """A sweep of single-bit flips at random places in leaf pages of the jobs table.

    Each flip either fails with a StorageError (nearly always
    StorageCorruptionError), or opens. What opens is counted: identical data
    (the bit was in free space) or changed data. A flip inside a stored value of
    a column no index covers changes that value without breaking any structure
    SQLite can check: SQLite keeps no checksums, so this damage is invisible to
    ``integrity_check`` (see "Reliability under abuse" in docs/persistence.md).
    What must hold for every flip: no other exception type, no change to the file.
    """
    rng = random.Random(2026)
    leaves = [page for page in base.pages[LEAF_TABLE] if page != 1]
    path = tmp_path / "fabric.db"
    counts = {"refused": 0, "identical": 0, "changed": 0}
    for _ in range(120):
        data = bytearray(base.data)
        page = rng.choice(leaves)
        data[(page - 1) * base.page_size + rng.randrange(base.page_size)] ^= 1 << rng.randrange(8)
        path.write_bytes(data)
        before = sha256_of(path)
        try:
            with create_persistence(path, readonly=rng.random() < 0.5) as persistence:
                jobs = [job_record(job) for job in persistence.load_all_jobs()]
        except StorageError as exc:
            assert str(path) in str(exc)
            counts["refused"] += 1
        else:
            counts["identical" if jobs == base.jobs else "changed"] += 1
        assert sha256_of(path) == before
        assert _litter(tmp_path) == []
    print(f"single-bit flips in leaf pages: {counts}")
    assert counts["refused"] > 0


# -- damage at known places -------------------------------------------------------

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


def flip_bytes(data: bytes, offset: int, length: int) -> bytes:
    damaged = bytearray(data)
    for i in range(offset, offset + length):
        damaged[i] ^= 0xFF
    return bytes(damaged)


def set_bytes(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


# (id, damage applied to a healthy store's bytes)
KNOWN_DAMAGE: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("not-a-database", lambda d: b"Proxx job log, not SQLite\n" * 400),
    ("text-with-sqlite-magic", lambda d: b"SQLite format 3\x00" + b"\x00" * 4080),
    ("header-magic-flipped", lambda d: flip_bytes(d, 0, 16)),
    ("truncated-to-half", lambda d: d[: len(d) // 2]),
    ("truncated-to-three-pages", lambda d: d[: 3 * 4096]),
    ("truncated-mid-page", lambda d: d[: 5 * 4096 + 1234]),
    ("truncated-in-header", lambda d: d[:60]),
    ("jobs-root-page-type", lambda d: set_bytes(d, page_of(d, "jobs"), b"\x00")),
    ("jobs-root-cell-count", lambda d: set_bytes(d, page_of(d, "jobs") + 3, b"\xff\xff")),
    ("status-index-cell-pointers", lambda d: flip_bytes(d, page_of(d, "idx_jobs_status") + 8, 8)),
    ("profile-index-page-zeroed",
     lambda d: set_bytes(d, page_of(d, "idx_jobs_profile"), b"\x00" * 4096)),
    ("jobs-root-page-zeroed", lambda d: set_bytes(d, page_of(d, "jobs"), b"\x00" * 4096)),
]  # fmt: skip


@pytest.mark.parametrize("readonly", [False, True], ids=["read-write", "read-only"])
@pytest.mark.parametrize("damage", [pytest.param(f, id=i) for i, f in KNOWN_DAMAGE])
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
    assert match
    assert match.group(1) in ids
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
    from support import make_job

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
