"""What Fabric must never do: delete, compact, retain selectively, migrate or heal.

Three checks, from the outside in:

1. the public API has no name that would forget, compact, migrate or repair;
2. no SQL text in the package deletes, drops, vacuums, alters or rewrites;
3. every statement the core actually sends to SQLite over a whole lifecycle
   (create, write, replace, read, read-only, refused opens) is one of a short
   list of reads and ``INSERT OR REPLACE`` writes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support import make_job, query_answers, tricky_jobs

import fabric_nb
from fabric_nb import (
    FabricIndex,
    FabricQueries,
    StorageError,
    create_persistence,
)

PACKAGE_DIR = Path(fabric_nb.__file__).parent

# Word stems a forgetting, compacting, migrating or healing API would be named with.
FORBIDDEN_STEMS = (
    "delet", "remov", "drop", "purg", "prun", "compact", "vacuum", "migrat", "upgrad",
    "downgrad", "repair", "heal", "fix", "truncat", "expir", "retention", "retain", "forget",
    "evict", "reset", "clear", "wipe", "eras",
)  # fmt: skip


def forbidden_name(name: str) -> bool:
    """Whether a word of ``name`` (snake_case or CamelCase) starts with a forbidden stem."""
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)
    return any(word.lower().startswith(FORBIDDEN_STEMS) for word in words)


FORBIDDEN_SQL = re.compile(
    r"\b(DELETE|DROP|VACUUM|ALTER|TRUNCATE|REINDEX|UPDATE|REPLACE\s+INTO)\b"
    r"|auto_vacuum|incremental_vacuum|writable_schema|wal_checkpoint|journal_mode\s*=",
)
# The one write statement, and the statements a lifecycle may send.
ALLOWED_STATEMENTS = [
    r"PRAGMA foreign_keys = ON",
    r"PRAGMA synchronous = FULL",
    r"PRAGMA user_version",
    r"PRAGMA user_version = 1",
    r"PRAGMA integrity_check",
    r"SELECT type, name, tbl_name, sql FROM sqlite_master",
    r"SELECT count\(\*\) FROM sqlite_master",
    r"SELECT [a-z_, ]+ FROM jobs",
    r"BEGIN IMMEDIATE",
    r"COMMIT",
    r"ROLLBACK",
    r"INSERT OR REPLACE INTO jobs \(.*",
    r"CREATE TABLE jobs \(.*",
    r"CREATE INDEX idx_jobs_\w+ ON jobs\(\w+\)( WHERE \w+ IS NOT NULL)?",
]


#: The original API's ``FabricIndex.clear()``: it empties this process's memory and
#: nothing else (proven below), so it forgets nothing Fabric remembers.
MEMORY_ONLY = {"FabricIndex.clear"}


def public_modules() -> Iterator[ModuleType]:
    yield fabric_nb
    for info in pkgutil.iter_modules(fabric_nb.__path__):
        if info.name != "__main__":  # it would run the command line
            yield importlib.import_module(f"fabric_nb.{info.name}")


def test_public_api_has_no_forgetting_names() -> None:
    offenders: list[str] = []
    for module in public_modules():
        names = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
        for name in names:
            obj = getattr(module, name)
            if inspect.getmodule(obj) not in (module, None) and module is not fabric_nb:
                continue  # imported from elsewhere; judged where it is defined
            if forbidden_name(name):
                offenders.append(f"{module.__name__}.{name}")
            if inspect.isclass(obj) and obj.__module__.startswith("fabric_nb"):
                offenders += [
                    f"{module.__name__}.{name}.{attr}"
                    for klass in obj.__mro__
                    if klass.__module__.startswith("fabric_nb")  # not dict.clear of a TypedDict
                    for attr in vars(klass)
                    if not attr.startswith("_")
                    and forbidden_name(attr)
                    and f"{klass.__name__}.{attr}" not in MEMORY_ONLY
                ]
    assert offenders == []


def _strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """String constants of a module, docstrings excluded (prose may say "never deletes")."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


#: Modules whose SQL never reaches the history: the ingest cache is a file of its
#: own beside the database, disposable by design (docs/cli.md, "Incremental
#: ingest"); it records what ingest read, and replaces and drops those records.
NOT_HISTORY = {"_ingest_cache.py"}


def test_no_sql_in_the_package_deletes_compacts_or_migrates() -> None:
    sources = sorted(p for p in PACKAGE_DIR.rglob("*.py") if p.name not in NOT_HISTORY)
    assert any(p.name == "storage.py" for p in sources)
    offenders = [
        f"{path.name}:{line}: {text[:80]!r}"
        for path in sources
        for line, text in _strings(ast.parse(path.read_text(encoding="utf-8")))
        if FORBIDDEN_SQL.search(text) and not text.startswith("INSERT OR REPLACE INTO jobs")
    ]
    assert offenders == []


def test_the_ingest_cache_never_opens_the_database(tmp_path: Path) -> None:
    """Its SQL goes to ``<database>.ingest-cache``: the history's file is never its target."""
    from fabric_nb._ingest_cache import IngestCache, cache_path_for

    source = (PACKAGE_DIR / "_ingest_cache.py").read_text(encoding="utf-8")
    assert source.count("sqlite3.connect(") == 1
    assert "sqlite3.connect(self.path," in source
    db = tmp_path / "fabric.db"
    with IngestCache(db, warn=pytest.fail) as cache:
        assert cache.path == cache_path_for(db) != db
    assert not db.exists()


def test_the_patterns_would_catch_a_deletion() -> None:
    """Guard against patterns that can never match."""
    for name in (
        "delete_job",
        "compactStore",
        "MigrateSchema",
        "repair",
        "purge_older_than",
        "set_retention_days",
        "clear",
    ):
        assert forbidden_name(name), name  # fmt: skip
    for name in ("resolve_preset_used", "get_job_history", "FabricIndex", "fingerprint"):
        assert not forbidden_name(name), name
    for sql in (
        "DELETE FROM jobs WHERE 1",
        "VACUUM",
        "DROP TABLE jobs",
        "PRAGMA auto_vacuum = 1",
        "ALTER TABLE jobs ADD x",
        "UPDATE jobs SET x = 1",
        "PRAGMA journal_mode = WAL",
    ):
        assert FORBIDDEN_SQL.search(sql), sql  # fmt: skip
    tree = ast.parse('"""never DELETE"""\nQ = "DELETE FROM jobs"\n')
    assert [text for _, text in _strings(tree)] == ["DELETE FROM jobs"]


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement sent over connections opened while the test runs."""
    sent: list[str] = []
    real_connect = sqlite3.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(sent.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    return sent


def test_a_whole_lifecycle_sends_only_reads_and_insert_or_replace(
    tmp_path: Path, statements: list[str]
) -> None:
    path = tmp_path / "fabric.db"
    with create_persistence(path) as persistence:  # creates the store
        index = FabricIndex(persistence)
        index.add_jobs(tricky_jobs())
        index.add_job(make_job("j-utc", final_status="FAILED"))  # a replacement
        query_answers(FabricQueries(index))
    created = len(statements)
    with create_persistence(path) as persistence:  # an existing store
        FabricIndex(persistence).add_job(make_job("late"))
    with create_persistence(path, readonly=True) as persistence, pytest.raises(StorageError):
        FabricIndex(persistence).add_job(make_job("refused"))
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.Connection(foreign)  # the class itself: not recorded
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(StorageError):
        create_persistence(foreign).open()
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"x" * 8192)
    with pytest.raises(StorageError):
        create_persistence(broken).open()

    assert sum(s.startswith("INSERT OR REPLACE INTO jobs") for s in statements) == 8
    unexpected = [
        s for s in statements if not any(re.fullmatch(p, s, re.DOTALL) for p in ALLOWED_STATEMENTS)
    ]
    assert unexpected == []
    assert [s for s in statements if FORBIDDEN_SQL.search(s) and "INSERT OR REPLACE" not in s] == []
    assert not any(s.startswith("CREATE") for s in statements[created:])  # only a new file
    assert sum(s.startswith("CREATE") for s in statements[:created]) == 5


def test_index_clear_sends_nothing_to_storage(tmp_path: Path, statements: list[str]) -> None:
    """The one forgetting name allowed: ``clear()`` touches memory only."""
    path = tmp_path / "fabric.db"
    with create_persistence(path) as persistence:
        index = FabricIndex(persistence)
        index.add_jobs(tricky_jobs())
        stored = persistence.load_all_jobs()
        sent = len(statements)
        index.clear()
        assert statements[sent:] == []
        assert index.count_jobs() == 0
        assert index.get_all_jobs() == []
        assert persistence.load_all_jobs() == stored
        index.rebuild()
        assert index.get_all_jobs() == stored
