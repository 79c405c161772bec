"""Code shared by the reliability tests and the child processes they start.

Child processes run the scripts in this folder with ``sys.executable``; they
import this module as ``reliability._support`` (``tests/`` is on their
``PYTHONPATH``), so parent and children compute digests the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fabric_nb.models import IngestedJob

__all__ = [
    "RELIABILITY_DIR",
    "REPO_ROOT",
    "TESTS_DIR",
    "append_line",
    "child_env",
    "complete_lines",
    "job_digest",
    "job_plain",
    "raw_integrity_check",
    "script_command",
    "side_files",
]

RELIABILITY_DIR = Path(__file__).resolve().parent
TESTS_DIR = RELIABILITY_DIR.parent
REPO_ROOT = TESTS_DIR.parent


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a child interpreter: ``HOME`` is a test folder, imports resolve.

    ``HOME`` points into the test's temporary folder so that nothing a child
    does can reach the real default store (``~/.proxx/fabric/fabric.db``).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    env["HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(TESTS_DIR)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def script_command(name: str, *args: object) -> list[str]:
    """Command line running ``tests/reliability/<name>`` with this interpreter."""
    return [sys.executable, str(RELIABILITY_DIR / name), *(str(a) for a in args)]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # keeps the UTC offset, unlike == on datetimes
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def job_plain(job: IngestedJob) -> dict[str, Any]:
    """Every field of ``job`` as JSON-ready data; datetimes keep their offsets."""
    return _plain(asdict(job))


def job_digest(job: IngestedJob) -> str:
    """SHA-256 of every field of ``job``: equal digests mean identical jobs."""
    text = json.dumps(job_plain(job), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def append_line(path: Path, line: str) -> None:
    """Append one line durably: a single ``write``, then ``fsync``.

    A process killed during the write leaves at most one incomplete last
    line, which :func:`complete_lines` ignores.
    """
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def complete_lines(path: Path) -> list[str]:
    """The newline-terminated lines of ``path`` (a torn last line is dropped)."""
    if not path.exists():
        return []
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    return lines[:-1]  # the part after the last newline is empty or torn


def side_files(db: Path) -> list[Path]:
    """SQLite side files that exist next to ``db`` (journal, WAL, shared memory)."""
    return [p for p in (Path(f"{db}-journal"), Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def raw_integrity_check(db: Path) -> list[str]:
    """``PRAGMA integrity_check`` through a plain read-only SQLite connection.

    A second opinion next to the library's own check; call it only when no
    hot journal is present (a read-only connection cannot roll one back).
    """
    conn = sqlite3.connect(f"file:{quote(str(db))}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
