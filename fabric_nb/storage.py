"""SQLite storage for ingested jobs: schema, startup checks, transactional writes.

The startup sequence is the spec's: open the file, check the schema version
(fail on mismatch), run ``PRAGMA integrity_check`` (fail on corruption). A
failed open writes nothing and leaves no connection open. Writes are single
transactions of ``INSERT OR REPLACE``; they commit whole or roll back whole.
Nothing here deletes, compacts, migrates or repairs.

Journal mode stays SQLite's default rollback journal with
``synchronous = FULL``: a committed job survives power loss, and a read-only
open never creates side files next to the database.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from ._collector import collector_paused
from .errors import StorageCorruptionError, StorageError
from .models import CLIP_STATUSES, JOB_STATUSES, IngestedJob, IngestedOutput, job_order_key
from .schema import (
    INDEX_STATEMENTS,
    JOB_COLUMNS,
    OUTPUT_FIELDS,
    STORAGE_SCHEMA_VERSION,
    TABLE_STATEMENT,
)

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "DEFAULT_STORAGE_PATH",
    "STORAGE_SCHEMA_VERSION",
    "FabricStorage",
]

#: Where Fabric keeps its history unless told otherwise (``~`` expanded on use).
DEFAULT_STORAGE_PATH: Final[Path] = Path("~/.proxx/fabric/fabric.db")
#: How long a connection waits for another process's lock before giving up.
BUSY_TIMEOUT_SECONDS: Final[float] = 60.0

_COLUMN_NAMES: Final[tuple[str, ...]] = tuple(name for name, _ in JOB_COLUMNS)
_INSERT: Final[str] = (
    f"INSERT OR REPLACE INTO jobs ({', '.join(_COLUMN_NAMES)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMN_NAMES)})"
)
_SELECT_ALL: Final[str] = f"SELECT {', '.join(_COLUMN_NAMES)} FROM jobs"
_OUTPUT_KEYS: Final[frozenset[str]] = frozenset(OUTPUT_FIELDS)


class FabricStorage:
    """One SQLite file holding Fabric's ``jobs`` table.

    :param path: the database file; its folders are created when missing
        (never in read-only mode).
    :param readonly: open the file read-only; it must exist and every write
        raises :class:`StorageError`.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path: Path = Path(path).expanduser()
        self.readonly: bool = readonly
        self._conn: sqlite3.Connection | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether a connection is open."""
        return self._conn is not None

    def open(self) -> None:
        """Open the file, check the schema version, then check integrity.

        Opening an open storage does nothing.

        :raises StorageError: the path is unusable, read-only and missing, or
            the schema version is not :data:`STORAGE_SCHEMA_VERSION`.
        :raises StorageCorruptionError: the file is not a database or fails
            ``PRAGMA integrity_check``.
        """
        if self._conn is not None:
            return
        conn = self._connect()
        try:
            self._check_version(conn)
            self._check_integrity(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        """Close the connection; closing twice does nothing."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def __enter__(self) -> FabricStorage:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reads -------------------------------------------------------------------

    def get_schema_version(self) -> int:
        """The ``user_version`` recorded in the file."""
        return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    def load_all_jobs(self) -> list[IngestedJob]:
        """Every stored job, ordered by ``started_at`` (as an instant), then ``job_id``.

        :raises StorageCorruptionError: a row cannot be decoded into a valid job.
        """
        conn = self._connection()
        jobs = []
        # Rows are decoded as SQLite steps through them, so the raw text of the
        # whole table is never held at once (it would stay in the process's
        # footprint after being freed). The cursor is closed on any failure so
        # no read lock outlives the call.
        with collector_paused():
            try:
                cursor = conn.execute(_SELECT_ALL)
                try:
                    for row in cursor:
                        jobs.append(self._decode_row(row))
                finally:
                    cursor.close()
            except sqlite3.DatabaseError as exc:
                raise _read_error(self.path, exc) from exc
            jobs.sort(key=job_order_key)
        return jobs

    def load_job_ids(self) -> set[str]:
        """The ids of every stored job, read without decoding the rows.

        Cheap next to :meth:`load_all_jobs`: bulk ingestion uses it to tell a
        new job from one that replaces a stored job.
        """
        conn = self._connection()
        try:
            return {row[0] for row in conn.execute("SELECT job_id FROM jobs")}
        except sqlite3.DatabaseError as exc:
            raise _read_error(self.path, exc) from exc

    # -- writes ------------------------------------------------------------------

    def persist_job(self, job: IngestedJob) -> None:
        """Store one job in one transaction, replacing any job with the same id.

        :raises StorageError: ``Failed to persist job <id>: <SQLite's message>``;
            nothing of the job is stored.
        """
        self._write([job])

    def persist_jobs(self, jobs: Iterable[IngestedJob]) -> None:
        """Store many jobs in one transaction: all of them, or none.

        :raises StorageError: ``Failed to persist jobs ...``; none is stored.
        """
        self._write(list(jobs))

    def _write(self, jobs: Sequence[IngestedJob]) -> None:
        conn = self._connection()
        if not jobs:
            return
        what = _describe(jobs)
        if self.readonly:
            raise StorageError(f"Failed to persist {what}: storage {self.path} is read-only")
        rows = [_encode_job(job) for job in jobs]
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        # Binding also refuses values SQLite cannot hold: text with lone surrogates
        # (not UTF-8) and integers beyond its 64-bit INTEGER.
        except (sqlite3.Error, UnicodeEncodeError, OverflowError) as exc:
            raise StorageError(f"Failed to persist {what}: {exc}") from exc

    # -- internals ---------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"Storage {self.path} is not open")
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        if path.is_dir():
            raise StorageError(f"Cannot open storage {path}: it is a directory")
        if self.readonly:
            if not path.exists():
                raise StorageError(
                    f"Storage file not found: {path} (read-only mode never creates it)"
                )
            target, uri = f"file:{quote(str(path.resolve()))}?mode=ro", True
        else:
            _create_private(path)
            target, uri = str(path), False
        try:
            conn = sqlite3.connect(
                target, uri=uri, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open storage {path}: {exc}") from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.readonly:
                conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _read_error(path, exc) from exc
        return conn

    def _check_version(self, conn: sqlite3.Connection) -> None:
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version == 0:
                has_objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
                if has_objects:
                    # Another process may have committed the new schema between the
                    # two reads: its tables are visible, so read the version again.
                    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise _read_error(self.path, exc) from exc
        if version == 0 and not has_objects and not self.readonly:
            self._initialise(conn)
            return
        if version != STORAGE_SCHEMA_VERSION:
            raise StorageError(
                f"Schema version mismatch: expected {STORAGE_SCHEMA_VERSION}, "
                f"found {version} ({self.path})"
            )

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Create the schema in an empty file; another process may race us to it."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                empty = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
                if version == 0 and empty:
                    conn.execute(TABLE_STATEMENT)
                    for statement in INDEX_STATEMENTS:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {STORAGE_SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot initialise storage {self.path}: {exc}") from exc
        self._check_version(conn)

    def _check_integrity(self, conn: sqlite3.Connection) -> None:
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
        except sqlite3.DatabaseError as exc:
            raise _read_error(self.path, exc) from exc
        if problems != ["ok"]:
            shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
            raise StorageCorruptionError(f"Database corruption detected in {self.path}: {shown}")
        if tuple(columns) != _COLUMN_NAMES:
            raise StorageCorruptionError(
                f"Database corruption detected in {self.path}: schema version "
                f"{STORAGE_SCHEMA_VERSION} but the jobs table is missing or has other columns"
            )

    def _decode_row(self, row: Sequence[Any]) -> IngestedJob:
        job_id = row[0]
        try:
            return _decode_job(row)
        except (ValueError, TypeError, KeyError) as exc:
            problem = str(exc)
        except RecursionError:  # JSON nested deeper than the decoder can follow
            problem = "outputs_json is nested too deeply to be outputs"
        raise StorageCorruptionError(
            f"Database corruption detected in {self.path}: job {job_id!r} "
            f"cannot be decoded: {problem}"
        )


_CORRUPTION_CODES: Final[frozenset[int]] = frozenset(
    {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
)
# Raised by the sqlite3 module itself (no SQLite error code) when stored text is
# not UTF-8: Fabric only ever writes UTF-8, so those bytes were damaged on disk.
_NOT_UTF8: Final[re.Pattern[str]] = re.compile(r"Could not decode to UTF-8 column '([^']*)'")


def _read_error(path: Path, exc: sqlite3.Error) -> StorageError:
    """Classify a failed read: damage is corruption, anything else a plain storage error."""
    if getattr(exc, "sqlite_errorcode", None) in _CORRUPTION_CODES:
        return StorageCorruptionError(f"Database corruption detected in {path}: {exc}")
    not_utf8 = _NOT_UTF8.match(str(exc))
    if not_utf8 is not None:  # the message would repeat the damaged (maybe huge) text
        return StorageCorruptionError(
            f"Database corruption detected in {path}: column {not_utf8.group(1)!r} "
            "holds bytes that are not UTF-8 text"
        )
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_READONLY_ROLLBACK:
        # SQLite's own message ("attempt to write a readonly database") hides the cause.
        return StorageError(
            f"Cannot read storage {path} in read-only mode: a write to it was interrupted "
            f"and its journal {path}-journal must be rolled back first; opening it once "
            "in read-write mode lets SQLite finish that rollback"
        )
    return StorageError(f"Cannot read storage {path}: {exc}")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if SQLite has not already done so; the original error matters more."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _describe(jobs: Sequence[IngestedJob]) -> str:
    if len(jobs) == 1:
        return f"job {jobs[0].job_id!r}"
    return f"jobs {jobs[0].job_id!r} ... {jobs[-1].job_id!r} ({len(jobs)} jobs, none stored)"


def _create_private(path: Path) -> None:
    """Create missing folders (0700) and an empty file (0600) for a new store."""
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StorageError(f"Cannot create storage {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    os.chmod(path, 0o600)


# -- row encoding -----------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


#: ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``, with the
#: encoder built once rather than once per row.
_encode_json: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
#: How that encoder writes one string (``ensure_ascii=False``): quoted, escaped.
_quote: Final = json.encoder.encode_basestring


def _encode_outputs(outputs: tuple[IngestedOutput, ...]) -> str:
    """``outputs_json``: the outputs as a JSON array of objects, keys in field order.

    Exactly the text of ``_encode_json`` over one dict per output. Outputs
    whose values have the types ingestion produces are written straight into
    the text with json's own string quoting, which costs half as much as
    building the dicts and encoding them; any other value sends the whole
    job through the generic encoder.
    """
    parts = []
    for o in outputs:
        job_id, clip_id, source, output = o.job_id, o.clip_id, o.source_path, o.output_path
        exists, size, status = o.output_exists, o.output_size_bytes, o.status
        reason, engine = o.failure_reason, o.engine_used
        profile, preset = o.proxy_profile_used, o.resolve_preset_used
        if not (
            type(job_id) is str
            and type(clip_id) is str
            and type(source) is str
            and type(output) is str
            and type(status) is str
            and (exists is None or exists is True or exists is False)
            and (size is None or type(size) is int)
            and (reason is None or type(reason) is str)
            and (engine is None or type(engine) is str)
            and (profile is None or type(profile) is str)
            and (preset is None or type(preset) is str)
        ):
            return _encode_json(
                [{name: getattr(o, name) for name in OUTPUT_FIELDS} for o in outputs]
            )
        parts.append(
            f'{{"job_id":{_quote(job_id)},"clip_id":{_quote(clip_id)},'
            f'"source_path":{_quote(source)},"output_path":{_quote(output)},'
            f'"output_exists":{"null" if exists is None else "true" if exists else "false"},'
            f'"output_size_bytes":{"null" if size is None else int.__repr__(size)},'
            f'"status":{_quote(status)},'
            f'"failure_reason":{"null" if reason is None else _quote(reason)},'
            f'"engine_used":{"null" if engine is None else _quote(engine)},'
            f'"proxy_profile_used":{"null" if profile is None else _quote(profile)},'
            f'"resolve_preset_used":{"null" if preset is None else _quote(preset)}}}'
        )
    return "[" + ",".join(parts) + "]"


def _encode_job(job: IngestedJob) -> tuple[Any, ...]:
    outputs = _encode_outputs(job.outputs)
    return (
        job.job_id,
        job.final_status,
        job.started_at.isoformat(),
        job.canonical_proxy_profile,
        job.fingerprint,
        job.validation_stage,
        job.validation_error,
        job.engine_used,
        job.resolve_preset_used,
        job.jobspec_version,
        _iso(job.completed_at),
        job.ingested_at.isoformat(),
        job.total_clips,
        job.completed_clips,
        job.failed_clips,
        outputs,
    )


def _aware(text: Any, name: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{name} {text!r} has no UTC offset")
    return value


def _count(value: Any, name: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} is {value!r}, expected a non-negative integer")
    return value


def _optional_text(value: Any, name: str) -> str | None:
    if value is not None and type(value) is not str:
        raise ValueError(f"{name} is {value!r}, expected text or NULL")
    return value


_intern: Final = sys.intern


def _shared_text(value: Any, name: str) -> str | None:
    """:func:`_optional_text` for values a history repeats: one interned string for all."""
    if value is None:
        return None
    if type(value) is not str:
        raise ValueError(f"{name} is {value!r}, expected text or NULL")
    return _intern(value)


def _check_output(i: int, item: dict[str, Any]) -> None:
    """Refuse an output whose values ingestion could never have produced."""
    for key in ("job_id", "clip_id", "source_path", "output_path"):
        if type(item[key]) is not str or not item[key]:
            raise ValueError(f"outputs_json[{i}].{key} is {item[key]!r}, expected non-empty text")
    for key in ("failure_reason", "engine_used", "proxy_profile_used", "resolve_preset_used"):
        _optional_text(item[key], f"outputs_json[{i}].{key}")
    exists, size = item["output_exists"], item["output_size_bytes"]
    if exists is not None and type(exists) is not bool:
        raise ValueError(f"outputs_json[{i}].output_exists is {exists!r}, expected a boolean")
    if size is not None and (type(size) is not int or size < 0):
        raise ValueError(f"outputs_json[{i}].output_size_bytes is {size!r}, expected an integer")


def _checked_output(job_id: str, i: int, item: Any) -> IngestedOutput:
    """One output, every check spelled out: the path of anything unusual, and of errors."""
    if type(item) is not dict or item.keys() != _OUTPUT_KEYS:
        raise ValueError(f"outputs_json[{i}] does not hold the IngestedOutput fields")
    if item["job_id"] != job_id or item["status"] not in CLIP_STATUSES:
        raise ValueError(f"outputs_json[{i}] has a foreign job_id or an unknown status")
    _check_output(i, item)
    return IngestedOutput(**item)


#: Each clip status, as the one string object every decoded output shares.
_CLIP_STATUS: Final[dict[str, str]] = {status: status for status in CLIP_STATUSES}
#: Each job status, likewise.
_JOB_STATUS: Final[dict[str, str]] = {status: status for status in JOB_STATUSES}


def _decode_outputs(job_id: str, text: str) -> tuple[IngestedOutput, ...]:
    """Decode and check ``outputs_json``; repeated strings come out shared.

    Every output Fabric wrote has its keys in :data:`OUTPUT_FIELDS` order and
    passes the one-expression check below; anything else (other key order,
    bad values) goes through :func:`_checked_output`, which accepts what the
    schema allows and raises ``ValueError`` naming the bad value. The job id
    of each output is the row's own string; statuses, engines, profiles,
    presets and failure reasons are interned, since a history repeats a
    handful of them hundreds of thousands of times.
    """
    if type(text) is not str:
        raise ValueError(f"outputs_json is {type(text).__name__}, expected text")
    items = json.loads(text)
    if type(items) is not list:
        raise ValueError("outputs_json is not a JSON array")
    outputs = []
    for i, item in enumerate(items):
        if type(item) is dict and tuple(item) == OUTPUT_FIELDS:
            (owner, clip_id, source, output, exists, size, status, reason, engine, profile,
             preset) = item.values()  # fmt: skip
            status = _CLIP_STATUS.get(status) if type(status) is str else None
            if (
                status is not None
                and owner == job_id
                and type(clip_id) is str
                and type(source) is str
                and type(output) is str
                and clip_id
                and source
                and output
                and (exists is None or exists is True or exists is False)
                and (size is None or (type(size) is int and size >= 0))
                and (reason is None or type(reason) is str)
                and (engine is None or type(engine) is str)
                and (profile is None or type(profile) is str)
                and (preset is None or type(preset) is str)
            ):
                outputs.append(
                    IngestedOutput(
                        job_id,
                        clip_id,
                        source,
                        output,
                        exists,
                        size,
                        status,
                        reason and _intern(reason),
                        engine and _intern(engine),
                        profile and _intern(profile),
                        preset and _intern(preset),
                    )
                )
                continue
        outputs.append(_checked_output(job_id, i, item))
    return tuple(outputs)


def _decode_job(row: Sequence[Any]) -> IngestedJob:
    (
        job_id,
        final_status,
        started_at,
        profile,
        fingerprint,
        stage,
        error,
        engine,
        preset,
        jobspec_version,
        completed_at,
        ingested_at,
        total,
        completed,
        failed,
        outputs_json,
    ) = row
    if type(job_id) is not str:
        raise ValueError(f"job_id {job_id!r} is not text")
    status = _JOB_STATUS.get(final_status) if type(final_status) is str else None
    if status is None:
        raise ValueError(f"final_status {final_status!r} is not one of {', '.join(JOB_STATUSES)}")
    return IngestedJob(
        job_id=job_id,
        final_status=status,
        started_at=_aware(started_at, "started_at"),
        completed_at=None if completed_at is None else _aware(completed_at, "completed_at"),
        ingested_at=_aware(ingested_at, "ingested_at"),
        total_clips=_count(total, "total_clips"),
        completed_clips=_count(completed, "completed_clips"),
        failed_clips=_count(failed, "failed_clips"),
        outputs=_decode_outputs(job_id, outputs_json),
        canonical_proxy_profile=_shared_text(profile, "canonical_proxy_profile"),
        fingerprint=_optional_text(fingerprint, "fingerprint"),
        validation_stage=_shared_text(stage, "validation_stage"),
        validation_error=_shared_text(error, "validation_error"),
        engine_used=_shared_text(engine, "engine_used"),
        resolve_preset_used=_shared_text(preset, "resolve_preset_used"),
        jobspec_version=_shared_text(jobspec_version, "jobspec_version"),
    )
