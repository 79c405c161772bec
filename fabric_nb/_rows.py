"""How one job becomes one row of the ``jobs`` table, and back.

Writing: datetimes as ISO 8601 text (offset and microseconds kept), outputs
as a JSON array of objects with exactly the ``IngestedOutput`` fields.
Reading: every column and every output is checked, because a row Fabric did
not write (or that was damaged on disk) must be refused, never half-read;
:func:`decode_job` raises ``ValueError``/``TypeError``/``KeyError`` and the
storage layer turns that into ``StorageCorruptionError`` naming the job.
The checked outputs are kept packed (``fabric_nb._packed``, which this codec
owns: compact text, objects built when read), and repeated strings come out
shared, since a history repeats a handful of engines, profiles and statuses
hundreds of thousands of times.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from types import GenericAlias
from typing import Annotated, Any, Final, Literal, get_type_hints

import msgspec

from ._packed import PackedOutputs, pack_outputs
from ._slots import checked_constructor
from .models import CLIP_STATUSES, JOB_STATUSES, IngestedJob, IngestedOutput, is_aware
from .schema import MAX_INTEGER, OUTPUT_FIELDS

__all__ = ["decode_job", "decode_job_fields", "encode_job", "iso_text", "stored_instant"]

_OUTPUT_KEYS: Final[frozenset[str]] = frozenset(OUTPUT_FIELDS)
_OUTPUT_TYPES: Final[dict[str, Any]] = get_type_hints(IngestedOutput)
#: Output fields that hold required text (never empty), and optional text, in field order.
_REQUIRED_TEXT: Final = tuple(n for n in OUTPUT_FIELDS if _OUTPUT_TYPES[n] is str and n != "status")
_OPTIONAL_TEXT: Final = tuple(n for n in OUTPUT_FIELDS if _OUTPUT_TYPES[n] == str | None)


def iso_text(value: datetime | None) -> str | None:
    """A datetime as Fabric writes it: ISO 8601, offset and microseconds kept; ``None`` stays."""
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

    The f-string below is the one hand-written copy of the output fields
    (:data:`~fabric_nb.schema.OUTPUT_FIELDS`); ``tests/test_fast_paths.py``
    pins it to the generic encoding.
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


def encode_job(job: IngestedJob) -> tuple[Any, ...]:
    """The values of one ``jobs`` row, in :data:`~fabric_nb.schema.JOB_COLUMNS` order."""
    outputs = _encode_outputs(job.outputs)
    # iso_text, inlined (a row per job): None stays None.
    started_at, completed_at, ingested_at = job.started_at, job.completed_at, job.ingested_at
    return (
        job.job_id,
        job.final_status,
        None if started_at is None else started_at.isoformat(),
        job.canonical_proxy_profile,
        job.fingerprint,
        job.validation_stage,
        job.validation_error,
        job.engine_used,
        job.resolve_preset_used,
        job.jobspec_version,
        None if completed_at is None else completed_at.isoformat(),
        None if ingested_at is None else ingested_at.isoformat(),
        job.total_clips,
        job.completed_clips,
        job.failed_clips,
        outputs,
    )


def stored_instant(text: Any, name: str) -> datetime:
    """The aware datetime a stored timestamp column holds.

    :raises ValueError: (or ``TypeError``) not ISO 8601 text with a UTC offset.
    """
    value = datetime.fromisoformat(text)
    if not is_aware(value):
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
    for key in _REQUIRED_TEXT:
        if type(item[key]) is not str or not item[key]:
            raise ValueError(f"outputs_json[{i}].{key} is {item[key]!r}, expected non-empty text")
    for key in _OPTIONAL_TEXT:
        _optional_text(item[key], f"outputs_json[{i}].{key}")
    exists, size = item["output_exists"], item["output_size_bytes"]
    if exists is not None and type(exists) is not bool:
        raise ValueError(f"outputs_json[{i}].output_exists is {exists!r}, expected a boolean")
    if size is not None and (type(size) is not int or size < 0):
        raise ValueError(f"outputs_json[{i}].output_size_bytes is {size!r}, expected an integer")


def _explain_refusal(job_id: str, text: str) -> None:
    """Raise ``ValueError`` naming the first value of ``outputs_json`` Fabric could not have written.

    Only reached when the typed decoder of :func:`_pack_outputs` refused the
    text: this slower reading checks one value at a time so that the message
    names the output and the value. It returns quietly when it finds nothing
    (the typed decoder is the stricter of the two) and the caller says why.
    """
    items = json.loads(text)
    if type(items) is not list:
        raise ValueError("outputs_json is not a JSON array")
    for i, item in enumerate(items):
        if type(item) is not dict or item.keys() != _OUTPUT_KEYS:
            raise ValueError(f"outputs_json[{i}] does not hold the IngestedOutput fields")
        if item["job_id"] != job_id or item["status"] not in CLIP_STATUSES:
            raise ValueError(f"outputs_json[{i}] has a foreign job_id or an unknown status")
        _check_output(i, item)


#: Each job status, as the one string object every decoded job shares.
_JOB_STATUS: Final[dict[str, str]] = {status: status for status in JOB_STATUSES}


_Text = Annotated[str, msgspec.Meta(min_length=1)]
_Size = Annotated[int, msgspec.Meta(ge=0, le=MAX_INTEGER)]  # what SQLite and ingestion allow


def _stored_type(name: str) -> Any:
    """The type :data:`_StoredOutput` checks output field ``name`` against."""
    if name == "status":
        return Literal[CLIP_STATUSES]
    if name in _REQUIRED_TEXT:
        return _Text
    if _OUTPUT_TYPES[name] == int | None:
        return _Size | None
    return _OUTPUT_TYPES[name]


#: One element of ``outputs_json`` as Fabric writes it; decoding checks every value.
#: Built from the output fields, each with the type :func:`_stored_type` gives it.
_StoredOutput: Final = msgspec.defstruct(
    "_StoredOutput",
    [(name, _stored_type(name)) for name in OUTPUT_FIELDS],
    module=__name__,
    frozen=True,
    gc=False,
    forbid_unknown_fields=True,
)
_decode_stored: Final = msgspec.json.Decoder(GenericAlias(tuple, (_StoredOutput, ...))).decode


def _pack_outputs(job_id: str, text: Any) -> tuple[()] | PackedOutputs:
    """Check ``outputs_json`` and keep it packed.

    The check is a typed decode (every key present, no other key, each value
    of its type, text non-empty, sizes from 0 to 2**63-1, a known status)
    plus the owner of each output. What it refuses goes through
    :func:`_explain_refusal`, whose messages name the bad value; what only
    this check refuses (values Fabric never writes, such as a lone surrogate)
    is refused with its own reason.
    """
    if type(text) is not str:
        raise ValueError(f"outputs_json is {type(text).__name__}, expected text")
    try:
        stored = _decode_stored(text)
    except msgspec.DecodeError as exc:
        _explain_refusal(job_id, text)
        raise ValueError(f"outputs_json cannot be decoded: {exc}") from None
    for output in stored:
        if output.job_id != job_id:
            _explain_refusal(job_id, text)  # names the output
            raise ValueError("outputs_json holds an output of another job")
    return pack_outputs(job_id, stored)


#: ``IngestedJob`` from values :func:`decode_job` has checked (all that
#: ``__post_init__`` checks, and more), without the frozen constructor.
_checked_job: Final = checked_constructor(IngestedJob)


def decode_job(row: Sequence[Any]) -> IngestedJob:
    """The job one ``jobs`` row holds, every value checked.

    :raises ValueError: a value Fabric could never have written (also
        ``TypeError``/``KeyError`` for malformed ``outputs_json``).
    """
    return _decoded(row, with_outputs=True)


def decode_job_fields(row: Sequence[Any]) -> IngestedJob:
    """The job one ``jobs`` row holds without its outputs: every column but
    ``outputs_json``, checked as :func:`decode_job` checks it.

    For answers computed from those columns alone (a jobs frame, a count):
    the result has ``outputs == ()`` whatever the row stores, so it must not
    leave the code that asked for it.

    :raises ValueError: a value Fabric could never have written.
    """
    return _decoded(row, with_outputs=False)


def _decoded(row: Sequence[Any], *, with_outputs: bool) -> IngestedJob:
    """The job of a row: every column, or (``with_outputs`` false) all but the last."""
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
    ) = row[:15]
    if type(job_id) is not str:
        raise ValueError(f"job_id {job_id!r} is not text")
    status = _JOB_STATUS.get(final_status) if type(final_status) is str else None
    if status is None:
        raise ValueError(f"final_status {final_status!r} is not one of {', '.join(JOB_STATUSES)}")
    return _checked_job(
        job_id=job_id,
        final_status=status,
        started_at=stored_instant(started_at, "started_at"),
        ingested_at=stored_instant(ingested_at, "ingested_at"),
        total_clips=_count(total, "total_clips"),
        completed_clips=_count(completed, "completed_clips"),
        failed_clips=_count(failed, "failed_clips"),
        outputs=_pack_outputs(job_id, row[15]) if with_outputs else (),
        canonical_proxy_profile=_shared_text(profile, "canonical_proxy_profile"),
        fingerprint=_optional_text(fingerprint, "fingerprint"),
        validation_stage=_shared_text(stage, "validation_stage"),
        validation_error=_shared_text(error, "validation_error"),
        engine_used=_shared_text(engine, "engine_used"),
        resolve_preset_used=_shared_text(preset, "resolve_preset_used"),
        jobspec_version=_shared_text(jobspec_version, "jobspec_version"),
        completed_at=None if completed_at is None else stored_instant(completed_at, "completed_at"),
    )
