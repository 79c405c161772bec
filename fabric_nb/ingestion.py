"""Read one JobExecutionResult JSON file into an :class:`IngestedJob`.

Ingestion is strict and read-only. It checks every key the schema needs and
every type, rejects anything it would have to guess (a timestamp without an
offset, an unknown status), and never writes anywhere. Keys the Phase-2 schema
does not name are read past. Every :class:`IngestionError` message starts
with the file, then names the JSON location of the bad value and what was
expected. The original Fabric's refusals keep their words right after the
file, so scripts that matched them still do: ``File not found``, ``Invalid
JSON``, ``Missing required fields`` (every absent required key of the file,
clips included) and ``Invalid final_status``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, NoReturn, overload

import msgspec

from ._regular_files import MAX_RESULT_FILE_BYTES, read_regular_file
from ._safe_text import short_repr
from ._slots import checked_constructor
from .errors import (
    FileTooLargeError,
    IngestionError,
    NotAResultFile,
    NotRegularFileError,
    ResultFileVanished,
)
from .models import (
    CLIP_STATUSES,
    JOB_STATUSES,
    IngestedJob,
    IngestedOutput,
    is_aware,
    require_aware,
)
from .schema import MAX_INTEGER

__all__ = [
    "EARLIEST_TIMESTAMP",
    "END_OF_TIMESTAMPS",
    "clip_id_for",
    "ingest_execution_bytes",
    "ingest_execution_result",
    "parse_execution_result",
    "read_result_bytes",
]

#: The earliest ``started_at``/``completed_at`` ingestion accepts, and the first
#: instant past the latest: the range of 64-bit nanosecond timestamps (pandas'
#: default unit, numpy, Arrow ``timestamp[ns]``, DuckDB ``TIMESTAMP_NS``) in
#: whole years, so every tool downstream can hold every accepted instant.
EARLIEST_TIMESTAMP: Final[datetime] = datetime(1678, 1, 1, tzinfo=UTC)
#: See :data:`EARLIEST_TIMESTAMP`.
END_OF_TIMESTAMPS: Final[datetime] = datetime(2262, 1, 1, tzinfo=UTC)
_RANGE_TEXT = (
    f"a timestamp from {EARLIEST_TIMESTAMP:%Y-%m-%dT%H:%M:%SZ} to before "
    f"{END_OF_TIMESTAMPS:%Y-%m-%dT%H:%M:%SZ} (the instants every tool downstream can hold)"
)
#: Years strictly inside the range: any instant in them is in it, whatever its
#: offset (less than a day), so only the edge years compare instants.
_INNER_YEARS: Final[range] = range(EARLIEST_TIMESTAMP.year + 1, END_OF_TIMESTAMPS.year - 1)
#: A fraction of a second with digits beyond the microsecond (``fromisoformat``
#: would drop them without a word).
_SUB_MICROSECOND: Final[re.Pattern[str]] = re.compile(r"[.,]\d{6}(\d+)")
_JOB_STATUS_TEXT = ", ".join(JOB_STATUSES)
_CLIP_STATUS_TEXT = ", ".join(CLIP_STATUSES)
_MISSING = object()
#: Keys a result must have, and keys each of its clips must have, in the order a
#: refusal names them (the format's required keys).
_REQUIRED_FIELDS = ("job_id", "final_status", "started_at", "clips")
_REQUIRED_CLIP_FIELDS = ("source_path", "resolved_output_path", "status")
_REQUIRED_KEYS = frozenset(_REQUIRED_FIELDS)
_REQUIRED_CLIP_KEYS = frozenset(_REQUIRED_CLIP_FIELDS)


#: Each clip status, as the one string object every output shares.
_CLIP_STATUS = {status: status for status in CLIP_STATUSES}
#: Constructors that skip the frozen ``__init__`` and ``__post_init__``: the
#: parser builds jobs and outputs only of values it has checked (types,
#: aware timestamps, a tuple of outputs), about half the cost of the classes'
#: own constructors. ``tests/test_fast_paths.py`` pins them to those.
_new_output: Final = checked_constructor(IngestedOutput)
_new_job: Final = checked_constructor(IngestedJob)
_sha256: Final = hashlib.sha256


def _shared_output(
    job_id: str,
    clip_id: str,
    source_path: str,
    output_path: str,
    output_exists: bool | None,
    output_size_bytes: int | None,
    status: str,
    failure_reason: str | None = None,
    engine_used: str | None = None,
    proxy_profile_used: str | None = None,
    resolve_preset_used: str | None = None,
) -> IngestedOutput:
    """An :class:`IngestedOutput` whose often repeated strings are shared.

    A history repeats a handful of statuses, failure reasons, engines,
    profiles and presets hundreds of thousands of times; interning them keeps
    one copy of each in memory. Values are taken as given: the parser has
    checked them.
    """
    intern = sys.intern
    return _new_output(
        job_id,
        clip_id,
        source_path,
        output_path,
        output_exists,
        output_size_bytes,
        intern(status),
        failure_reason and intern(failure_reason),
        engine_used and intern(engine_used),
        proxy_profile_used and intern(proxy_profile_used),
        resolve_preset_used and intern(resolve_preset_used),
    )


def _plain_output(clip: Any, job_id: str) -> IngestedOutput | None:
    """The output of a clip whose values are all plainly valid, else ``None``.

    The common case in one expression: ASCII text without NUL, a known
    status, a boolean or null, a size in range. Anything else, valid or not,
    returns ``None`` and goes through :meth:`_Parser.output`, which checks
    field by field and names the first bad value. Repeated strings (status,
    failure reason, engine, profile, preset) come out shared, since a
    history repeats a handful of them for every clip.
    """
    if type(clip) is not dict:
        return None
    get = clip.get
    source, output, status = get("source_path"), get("resolved_output_path"), get("status")
    exists, size = get("output_exists"), get("output_size_bytes")
    reason, engine = get("failure_reason"), get("engine_used")
    profile, preset = get("proxy_profile_used"), get("resolve_preset_used")
    status = _CLIP_STATUS.get(status) if type(status) is str else None
    if not (
        status is not None
        and type(source) is str
        and type(output) is str
        and source
        and output
        and source.isascii()
        and output.isascii()
        and "\x00" not in source
        and "\x00" not in output
        and (exists is None or exists is True or exists is False)
        and (size is None or (type(size) is int and 0 <= size <= MAX_INTEGER))
        and (reason is None or (type(reason) is str and reason.isascii() and "\x00" not in reason))
        and (engine is None or (type(engine) is str and engine.isascii() and "\x00" not in engine))
        and (
            profile is None
            or (type(profile) is str and profile.isascii() and "\x00" not in profile)
        )
        and (preset is None or (type(preset) is str and preset.isascii() and "\x00" not in preset))
    ):
        return None
    # _shared_output, inlined (this runs for every clip): the status is
    # already the shared one, and ASCII text encodes as UTF-8 as it is.
    intern = sys.intern
    return _new_output(
        job_id,
        _sha256(source.encode()).hexdigest()[:16],  # clip_id_for(source)
        source,
        output,
        exists,
        size,
        status,
        reason and intern(reason),
        engine and intern(engine),
        profile and intern(profile),
        preset and intern(preset),
    )


def clip_id_for(source_path: str) -> str:
    """Stable clip id: the first 16 hex digits of SHA-256 of the source path as recorded.

    The path is never resolved against the local filesystem, so the same
    result file gives the same ids on every machine.
    """
    return hashlib.sha256(source_path.encode("utf-8")).hexdigest()[:16]


def ingest_execution_result(path: str | os.PathLike[str]) -> IngestedJob:
    """Read and strictly validate one JobExecutionResult file.

    Only a regular file is read (a FIFO or a device is refused without being
    opened for long), and only up to
    :data:`~fabric_nb._regular_files.MAX_RESULT_FILE_BYTES`.

    :raises NotAResultFile: the file is plainly a Proxx JobSpec, not a result
        (see :func:`ingest_execution_bytes`).
    :raises IngestionError: the file is missing, unreadable, not a regular
        file, too large, empty, not UTF-8 (or starts with a byte-order mark),
        not JSON (NaN and Infinity included), or any value fails validation.
    """
    source = path if isinstance(path, Path) else Path(path)
    return ingest_execution_bytes(read_result_bytes(source), source=source)


def read_result_bytes(path: str | os.PathLike[str], *, seen_regular: bool = False) -> bytes:
    """The bytes of one result file, with the read errors an operator can act on.

    Only a regular file of at most
    :data:`~fabric_nb._regular_files.MAX_RESULT_FILE_BYTES` is read.
    ``seen_regular``: a scan has just seen a regular file there (see
    :func:`~fabric_nb._regular_files.read_regular_file`).

    :raises IngestionError: the file is missing, a folder, not a regular file,
        too large, or unreadable.
    """
    try:
        return read_regular_file(path, limit=MAX_RESULT_FILE_BYTES, seen_regular=seen_regular)
    except FileNotFoundError:
        raise ResultFileVanished(f"{path}: File not found") from None
    except (IsADirectoryError, NotRegularFileError) as exc:
        if os.path.isdir(path):
            raise IngestionError(f"{path}: is a directory, expected a JSON file") from None
        raise IngestionError(f"{path}: {exc}") from None
    except FileTooLargeError as exc:
        raise IngestionError(f"{path}: {exc}") from None
    except OSError as exc:
        raise IngestionError(f"{path}: cannot read file: {exc.strerror or exc}") from None


def ingest_execution_bytes(raw: bytes, *, source: str | os.PathLike[str]) -> IngestedJob:
    """Validate the bytes of one JobExecutionResult file (read by the caller).

    ``source`` is the file they came from: it names the file in messages and
    tells a JobSpec by its sibling. A document is *plainly a JobSpec* when it
    is an object with neither ``final_status`` nor ``clips`` and either
    carries ``jobspec_version`` at its top level (a result keeps it under
    ``_metadata``) or has a ``<name>.result.json`` beside it (a watch folder's
    layout).

    :raises NotAResultFile: the document is plainly a JobSpec.
    :raises IngestionError: the bytes are empty, start with a UTF-8
        byte-order mark, are not UTF-8 or not JSON, or a value fails
        validation.
    """
    if not raw:
        raise IngestionError(f"{source}: Invalid JSON: empty file")
    if raw.startswith(_UTF8_BOM):
        raise IngestionError(
            f"{source}: Invalid JSON: starts with a UTF-8 byte-order mark (BOM); result files are "
            "plain UTF-8 JSON, save it again without the BOM"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestionError(
            f"{source}: Invalid JSON: not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None
    try:
        document = _decode_document(text, raw)
    except _ConstantError as exc:
        raise IngestionError(
            f"{source}: Invalid JSON: {exc.args[0]} is not a JSON number"
        ) from None
    except _DuplicateKeyError as exc:
        raise IngestionError(
            f"{source}: Invalid JSON: the key {_show(exc.args[0])} appears twice in one "
            "object (Fabric does not pick one of the values)"
        ) from None
    except json.JSONDecodeError as exc:
        raise IngestionError(
            f"{source}: Invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise IngestionError(f"{source}: Invalid JSON: nesting too deep") from None
    except ValueError as exc:  # e.g. an integer literal with too many digits
        raise IngestionError(f"{source}: Invalid JSON: {exc}") from None
    if _is_jobspec(document, source):
        raise NotAResultFile(f"{source}: not a result file: a Proxx JobSpec")
    return parse_execution_result(document, source=str(source))


#: The UTF-8 encoding of U+FEFF, which some Windows editors put at the start of a file.
_UTF8_BOM = b"\xef\xbb\xbf"


def _is_jobspec(document: Any, source: str | os.PathLike[str]) -> bool:
    """Whether ``document`` is plainly a JobSpec: see :func:`ingest_execution_bytes`."""
    if type(document) is not dict or "final_status" in document or "clips" in document:
        return False
    if "jobspec_version" in document:
        return True
    source = Path(source)
    name = source.name
    stem = name[: -len(".json")] if name.lower().endswith(".json") else None
    return stem is not None and source.with_name(f"{stem}.result.json").exists()


def parse_execution_result(
    document: Any, *, source: str = "<memory>", ingested_at: datetime | None = None
) -> IngestedJob:
    """Validate an already decoded JobExecutionResult and build the job.

    ``source`` only names the document in error messages.

    :raises IngestionError: any value fails validation.
    :raises ValueError: ``ingested_at`` is naive (as :class:`IngestedJob` says).
    """
    if ingested_at is None:
        ingested_at = datetime.now(UTC)
    else:
        require_aware("ingested_at", ingested_at)  # what IngestedJob itself refuses
    return _Parser(source).job(document, ingested_at)


class _ConstantError(ValueError):
    pass


class _DuplicateKeyError(ValueError):
    """One JSON object names the same key twice; ``args[0]`` is the key."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's pairs as a dict, refusing a key written twice (json keeps the last)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return obj


def _reject_constant(name: str) -> NoReturn:
    raise _ConstantError(name)


#: ``json.loads(text, parse_constant=_reject_constant)`` without building a decoder
#: per file; an object that names a key twice raises ``_DuplicateKeyError``.
_json_decode = json.JSONDecoder(
    parse_constant=_reject_constant, object_pairs_hook=_unique_object
).decode
_fast_decode = msgspec.json.Decoder().decode
#: JSON's whitespace, as bytes: what may stand between a key and its colon.
_JSON_WHITESPACE: Final[bytes] = b" \t\n\r"


def _decode_document(text: str, raw: bytes | None = None) -> Any:
    """The JSON value of ``text``, as :func:`_json_decode` gives it, several times faster.

    msgspec accepts a subset of what json accepts and, where both accept,
    gives the same value. Whatever it refuses goes to json, whose verdict
    stands: its error messages, and the few documents only json accepts
    (a lone surrogate escape, ``1e400``), which validation then judges.
    ``raw`` is ``text`` in UTF-8, when the caller has it.
    """
    try:
        document = _fast_decode(text)
    except (msgspec.DecodeError, RecursionError):
        return _json_decode(text)
    # msgspec, like json, keeps the last of two equal keys without a word. The
    # text has at least as many key ends (a quote, JSON whitespace, a colon)
    # as the document has keys: inside a string a quote is escaped, so a string
    # can only add some. The decoded document has fewer keys than the text
    # exactly when a key was repeated: when the counts agree, no key was.
    # Otherwise json decides. Deleting the whitespace (ASCII bytes, never part
    # of a longer UTF-8 sequence) turns each key end into '":' and makes no
    # other '":', so one count of the bytes left counts the key ends.
    if raw is None:
        raw = text.encode("utf-8", "surrogatepass")
    keys_in_text = raw.translate(None, _JSON_WHITESPACE).count(b'":')
    if keys_in_text != _known_keys(document) and keys_in_text != _all_keys(document):
        _json_decode(text)  # raises _DuplicateKeyError naming the key, if there is one
    return document


def _known_keys(document: Any) -> int:
    """The keys of the objects a result usually has (top level, ``_metadata``, clips)."""
    if type(document) is not dict:
        return -1
    count = len(document)
    meta = document.get("_metadata")
    if type(meta) is dict:
        count += len(meta)
    clips = document.get("clips")
    if type(clips) is list:
        for clip in clips:
            if type(clip) is dict:
                count += len(clip)
    return count


def _all_keys(document: Any) -> int:
    """The keys of every object in ``document``, however deep."""
    count = 0
    pending = [document]
    while pending:
        value = pending.pop()
        if type(value) is dict:
            count += len(value)
            pending.extend(value.values())
        elif type(value) is list:
            pending.extend(value)
    return count


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "an array"
    return short_repr(value)


class _Parser:
    """Validation of one document; ``source`` prefixes every message."""

    __slots__ = ("doc", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.doc: Any = None

    def fail(self, where: str, expected: str, value: Any = _MISSING) -> NoReturn:
        got = "missing" if value is _MISSING else f"got {_show(value)}"
        raise IngestionError(f"{self.source}: {where}: expected {expected}, {got}")

    def missing(self) -> NoReturn:
        """Refuse the document naming every required field it lacks, clips included.

        A field is missing when its key is absent; a required key holding
        ``null`` or a wrong type is refused by :meth:`fail`, naming its location.
        """
        doc = self.doc
        names = [key for key in _REQUIRED_FIELDS if key not in doc]
        clips = doc.get("clips")
        if type(clips) is list:
            names += [
                f"clips[{i}].{key}"
                for i, clip in enumerate(clips)
                if type(clip) is dict
                for key in _REQUIRED_CLIP_FIELDS
                if key not in clip
            ]
        raise IngestionError(f"{self.source}: Missing required fields: {', '.join(names)}")

    # -- scalars -----------------------------------------------------------------

    @overload
    def text(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: Literal[True]
    ) -> str: ...
    @overload
    def text(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: bool
    ) -> str | None: ...
    def text(self, obj: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
        """The text at ``key``: never ``None`` when ``required`` (missing text fails)."""
        value = obj.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.fail(where, "a non-empty string", value)
            return None
        if type(value) is not str or (required and not value):
            self.fail(where, "a non-empty string" if required else "a string or null", value)
        if "\x00" in value:
            self.fail(where, "text without NUL characters", value)
        if not value.isascii():  # ASCII text cannot hold a lone surrogate
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                self.fail(where, "valid Unicode text (no lone surrogates)", value)
        return value

    def count(self, obj: Mapping[str, Any], key: str, default: int) -> int:
        value = obj.get(key)
        if value is None:
            return default
        if type(value) is not int or not 0 <= value <= MAX_INTEGER:
            self.fail(key, "a non-negative integer (at most 2**63-1)", value)
        return value

    @overload
    def timestamp(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: Literal[True]
    ) -> datetime: ...
    @overload
    def timestamp(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: bool
    ) -> datetime | None: ...
    def timestamp(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: bool
    ) -> datetime | None:
        """The aware datetime at ``key``: never ``None`` when ``required``."""
        value = obj.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.fail(where, "an ISO 8601 timestamp with a UTC offset", value)
            return None
        if type(value) is not str:
            self.fail(where, "an ISO 8601 timestamp string with a UTC offset", value)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(where, "an ISO 8601 timestamp with a UTC offset", value)
        if not is_aware(parsed):
            self.fail(
                where,
                "a timestamp with a UTC offset (Fabric does not guess a time zone)",
                value,
            )
        fraction = _SUB_MICROSECOND.search(value)
        if fraction is not None and fraction.group(1).strip("0"):
            self.fail(
                where,
                "a timestamp precise to the microsecond at most (Fabric does not round)",
                value,
            )
        if not (parsed.year in _INNER_YEARS or EARLIEST_TIMESTAMP <= parsed < END_OF_TIMESTAMPS):
            self.fail(where, _RANGE_TEXT, value)
        return parsed

    # -- structure ---------------------------------------------------------------

    def job(self, doc: Any, ingested_at: datetime) -> IngestedJob:
        if not isinstance(doc, dict):
            self.fail("top level", "a JSON object", doc)
        self.doc = doc
        if not doc.keys() >= _REQUIRED_KEYS:
            self.missing()
        job_id = self.text(doc, "job_id", "job_id", required=True)
        status = doc["final_status"]
        if type(status) is not str or status not in JOB_STATUSES:
            raise IngestionError(
                f"{self.source}: Invalid final_status: expected one of {_JOB_STATUS_TEXT}, "
                f"got {_show(status)}"
            )
        started_at = self.timestamp(doc, "started_at", "started_at", required=True)
        completed_at = self.timestamp(doc, "completed_at", "completed_at", required=False)

        meta = doc.get("_metadata")
        if meta is None:
            meta = {}
        elif not isinstance(meta, dict):
            self.fail("_metadata", "an object or null", meta)

        clips = doc.get("clips", _MISSING)
        if type(clips) is not list:
            self.fail("clips", "an array of clip objects", clips)
        plain = _plain_output
        outputs = tuple(
            [plain(clip, job_id) or self.output(clip, i, job_id) for i, clip in enumerate(clips)]
        )

        n_completed = [o.status for o in outputs].count("COMPLETED")
        total_clips = self.count(doc, "total_clips", len(outputs))
        completed_clips = self.count(doc, "completed_clips", n_completed)
        failed_clips = self.count(doc, "failed_clips", len(outputs) - n_completed)
        get = meta.get
        profile, fingerprint = get("proxy_profile_used"), get("fingerprint")
        stage, error = get("validation_stage"), get("validation_error")
        engine, preset, version = (
            get("engine_used"),
            get("resolve_preset_used"),
            get("jobspec_version"),
        )
        if type(fingerprint) is not str or not fingerprint:
            fingerprint = None  # a fingerprint that is not text is no fingerprint
        # The common case in one expression: each is null or plain ASCII text
        # without NUL. Anything else goes through text(), which names it.
        if not (
            (
                profile is None
                or (type(profile) is str and profile.isascii() and "\x00" not in profile)
            )
            and (fingerprint is None or (fingerprint.isascii() and "\x00" not in fingerprint))
            and (stage is None or (type(stage) is str and stage.isascii() and "\x00" not in stage))
            and (error is None or (type(error) is str and error.isascii() and "\x00" not in error))
            and (
                engine is None
                or (type(engine) is str and engine.isascii() and "\x00" not in engine)
            )
            and (
                preset is None
                or (type(preset) is str and preset.isascii() and "\x00" not in preset)
            )
            and (
                version is None
                or (type(version) is str and version.isascii() and "\x00" not in version)
            )
        ):
            text = self.text
            profile = text(
                meta, "proxy_profile_used", "_metadata.proxy_profile_used", required=False
            )
            if fingerprint is not None:
                fingerprint = text(meta, "fingerprint", "_metadata.fingerprint", required=False)
            stage = text(meta, "validation_stage", "_metadata.validation_stage", required=False)
            error = text(meta, "validation_error", "_metadata.validation_error", required=False)
            engine = text(meta, "engine_used", "_metadata.engine_used", required=False)
            preset = text(
                meta, "resolve_preset_used", "_metadata.resolve_preset_used", required=False
            )
            version = text(meta, "jobspec_version", "_metadata.jobspec_version", required=False)
        return _new_job(
            job_id=job_id,
            final_status=status,
            started_at=started_at,
            completed_at=completed_at,
            ingested_at=ingested_at,
            total_clips=total_clips,
            completed_clips=completed_clips,
            failed_clips=failed_clips,
            outputs=outputs,
            canonical_proxy_profile=profile,
            fingerprint=fingerprint,
            validation_stage=stage,
            validation_error=error,
            engine_used=engine,
            resolve_preset_used=preset,
            jobspec_version=version,
        )

    def output(self, clip: Any, index: int, job_id: str) -> IngestedOutput:
        plain = _plain_output(clip, job_id)
        if plain is not None:
            return plain
        at = f"clips[{index}]"
        if not isinstance(clip, dict):
            self.fail(at, "a clip object", clip)
        if not clip.keys() >= _REQUIRED_CLIP_KEYS:
            self.missing()
        source_path = self.text(clip, "source_path", f"{at}.source_path", required=True)
        status = clip.get("status", _MISSING)
        if status not in CLIP_STATUSES or type(status) is not str:
            self.fail(f"{at}.status", f"one of {_CLIP_STATUS_TEXT}", status)
        exists = clip.get("output_exists")
        if exists is not None and type(exists) is not bool:
            self.fail(f"{at}.output_exists", "true, false or null", exists)
        size = clip.get("output_size_bytes")
        if size is not None and (type(size) is not int or not 0 <= size <= MAX_INTEGER):
            self.fail(
                f"{at}.output_size_bytes", "a non-negative integer or null (at most 2**63-1)", size
            )
        return _shared_output(
            job_id=job_id,
            clip_id=clip_id_for(source_path),
            source_path=source_path,
            output_path=self.text(
                clip, "resolved_output_path", f"{at}.resolved_output_path", required=True
            ),
            output_exists=exists,
            output_size_bytes=size,
            status=status,
            failure_reason=self.text(
                clip, "failure_reason", f"{at}.failure_reason", required=False
            ),
            engine_used=self.text(clip, "engine_used", f"{at}.engine_used", required=False),
            proxy_profile_used=self.text(
                clip, "proxy_profile_used", f"{at}.proxy_profile_used", required=False
            ),
            resolve_preset_used=self.text(
                clip, "resolve_preset_used", f"{at}.resolve_preset_used", required=False
            ),
        )
