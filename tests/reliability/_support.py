"""Code shared by the reliability tests and the child processes they start.

Child processes run the scripts in this folder with ``sys.executable``; they
import this module as ``reliability._support`` (``tests/`` is on their
``PYTHONPATH``), so parent and children compute digests the same way.

Only what the reliability tests alone need lives here; the helpers the
whole suite shares (``child_env``, ``job_record``, ``REPO_ROOT``...) are in
``tests/support.py`` and are imported from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import zlib
from pathlib import Path
from urllib.parse import quote

from support import job_record

from fabric_nb.models import IngestedJob

__all__ = [
    "RELIABILITY_DIR",
    "append_line",
    "complete_lines",
    "job_digest",
    "raw_integrity_check",
    "script_command",
    "side_files",
]

RELIABILITY_DIR = Path(__file__).resolve().parent


def script_command(name: str, *args: object) -> list[str]:
    """Command line running ``tests/reliability/<name>`` with this interpreter."""
    return [sys.executable, str(RELIABILITY_DIR / name), *(str(a) for a in args)]


def job_digest(job: IngestedJob) -> str:
    """SHA-256 of every field of ``job``: equal digests mean identical jobs."""
    text = json.dumps(job_record(job), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def append_line(path: Path, line: str) -> None:
    """Append one line durably: a single ``write``, then ``fsync``.

    A process killed during the write may leave an incomplete last line (a
    write crossing a page boundary can stop there). The next append starts a
    new line first, and each line carries its CRC-32, so :func:`complete_lines`
    drops the torn one and keeps every line written whole.
    """
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        data = ("\n" if torn else "") + f"{zlib.crc32(line.encode()):08x} {line}\n"
        os.write(fd, data.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def complete_lines(path: Path) -> list[str]:
    """The lines :func:`append_line` wrote whole to ``path``, in order; a torn
    line (no newline yet, or cut and then ended by the next append) is dropped."""
    if not path.exists():
        return []
    lines = []
    for raw in path.read_bytes().split(b"\n")[:-1]:
        crc, _, line = raw.partition(b" ")
        if crc == b"%08x" % zlib.crc32(line):
            lines.append(line.decode("utf-8"))
    return lines


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
