"""Hostile input: property-based fuzzing of the JSON given to ``ingest_execution_result``.

Every generated file goes through the real pipeline (ingest, then ``add_job``
on an index backed by a real store). The properties:

- only :class:`IngestionError` ever escapes ingestion;
- its message starts with the file and names the JSON location of the bad
  value, or every absent required field (or, for a file that is not UTF-8
  JSON at all, says so);
- a rejected file writes nothing: the store's bytes, the index, the input file
  and its folder are exactly as before;
- an accepted file is read exactly: for a result with one field mutated, the
  job equals the unmutated job with just that fact changed, and it round-trips
  through SQLite unchanged.

The budget comes from the hypothesis profile (``tests/conftest.py``): small and
derandomized by default, large with ``HYPOTHESIS_PROFILE=fuzz`` (``make fuzz``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import META_FIELDS, job_record, sha256_of

from fabric_nb import (
    FabricIndex,
    FabricPersistence,
    IngestedJob,
    IngestionError,
    create_persistence,
    ingest_execution_result,
)
from fabric_nb.ingestion import EARLIEST_TIMESTAMP, END_OF_TIMESTAMPS, clip_id_for
from fabric_nb.models import CLIP_STATUSES, JOB_STATUSES
from fabric_nb.samples import generate_results

_INGESTED_AT = datetime(2030, 1, 1, tzinfo=UTC)
_MAX_INTEGER = 2**63 - 1

#: Realistic results to mutate: every shape the generator makes (watch folder,
#: recovery, validation failures, non-UTC offsets, missing counts...).
BASE_DOCS: list[dict[str, Any]] = list(generate_results(120, seed=3))

#: Every JSON location an IngestionError may name (besides file-level problems).
_LOCATION = re.compile(
    r"top level|job_id|final_status|started_at|completed_at|total_clips|completed_clips"
    r"|failed_clips|clips(\[\d+\](\.\w+)?)?|_metadata(\.\w+)?"
)
_FILE_LEVEL = re.compile(r"Invalid JSON|File not found")

_CLIP_OPTIONAL_TEXT = ("failure_reason", "engine_used", "proxy_profile_used", "resolve_preset_used")
_COUNTS = ("total_clips", "completed_clips", "failed_clips")


class _Deleted:
    """Marker for "the key was removed"."""

    def __repr__(self) -> str:
        return "<deleted>"


DELETED = _Deleted()


class _Rejected(Exception):
    """The oracle's verdict: ingestion must reject, naming ``location``."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


# -- the pipeline under test -------------------------------------------------------


class Pipeline:
    """A real store and index; :meth:`run` ingests one file the way Fabric does.

    Every accepted job is stored. To keep each example's checks cheap in long
    runs, a store holding :data:`ROWS_PER_STORE` jobs is closed and a new one
    started (each store is checked to hold exactly what was written to it).
    """

    ROWS_PER_STORE = 100

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stores = 0
        self.persistence, self.index = self._new_store()

    def _new_store(self) -> tuple[FabricPersistence, FabricIndex]:
        self.stores += 1
        persistence = create_persistence(self.folder / f"fabric-{self.stores}.db")
        persistence.open()
        return persistence, FabricIndex(persistence)

    def close(self) -> None:
        self.persistence.close()

    def snapshot(self) -> tuple[str, list[dict[str, Any]]]:
        return sha256_of(self.persistence.path), [job_record(j) for j in self.index.get_all_jobs()]

    def run(self, raw: bytes) -> IngestedJob | IngestionError:
        """Write ``raw`` to a file, ingest it and, when accepted, store it.

        Returns the stored job (checked to round-trip through SQLite) or the
        IngestionError (checked to have written nothing).
        """
        inbox = Path(tempfile.mkdtemp(dir=self.folder))
        try:
            path = inbox / "result.json"
            path.write_bytes(raw)
            before = self.snapshot()
            try:
                job = ingest_execution_result(path)
            except IngestionError as exc:
                message = str(exc)
                assert message.startswith(f"{path}: "), message
                assert self.snapshot() == before, "a rejected file changed the store or index"
                assert path.read_bytes() == raw
                assert [p.name for p in inbox.iterdir()] == ["result.json"]
                return exc
            self.index.add_job(job)
            stored = {j.job_id: job_record(j) for j in self.persistence.load_all_jobs()}
            assert stored[job.job_id] == job_record(job)
            assert stored == {j.job_id: job_record(j) for j in self.index.get_all_jobs()}
            if len(stored) >= self.ROWS_PER_STORE:
                self.close()
                self.persistence, self.index = self._new_store()
            return job
        finally:
            shutil.rmtree(inbox)


def _pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipeline = Pipeline(tmp_path_factory.mktemp("fuzz"))
    try:
        yield pipeline
    finally:
        pipeline.close()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Stores shared by the module's tests: jobs accumulate, as they would in real use."""
    yield from _pipeline(tmp_path_factory)


@pytest.fixture(scope="module")
def huge_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A store of its own for megabyte rows, so the other tests hash a small file."""
    yield from _pipeline(tmp_path_factory)


def _named(error: IngestionError) -> str:
    """What an IngestionError message names after ``<file>: ``: a location or a file problem.

    The original Fabric's words name their location too: ``Missing required
    fields: LOCATION, ...`` names the locations listed, ``Invalid final_status``
    names ``final_status``.
    """
    named = str(error).split(": ", 2)[1]
    if named == "Missing required fields":
        return str(error).split(": ", 2)[2]
    if named == "Invalid final_status":
        return "final_status"
    return named


def _assert_names_a_field(error: IngestionError) -> None:
    where = _named(error)
    if _FILE_LEVEL.match(where):
        return
    assert all(_LOCATION.fullmatch(one) for one in where.split(", ")), str(error)


# -- strategies --------------------------------------------------------------------

TRICKY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "COMPLETED",
        "completed",
        "SKIPPED",
        "FAILED",
        "PARTIAL",
        "ffmpeg",
        "nul\x00inside",
        "lone \ud800 surrogate",
        "\udcff",
        "2026-01-05T10:00:00+00:00",
        "2026-01-05T10:00:00",
        "2026-01-05T10:00:00Z",
        "2026-13-45T99:00:00+00:00",
        "20260105T100000+0530",
        "NaN",
        "null",
        "\u202e\ufeff",
        "Été 撮影 🎬",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([-1, 0, 2**63 - 1, 2**63, 2**64, -(2**63)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | TRICKY_TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def _has_nonfinite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_has_nonfinite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    return False


def _locations(value: Any, prefix: str = "") -> Iterator[str]:
    """Every location in a document, written the way ingestion names them."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{prefix}.{key}" if prefix else key
            yield here
            yield from _locations(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            here = f"{prefix}[{i}]"
            yield here
            yield from _locations(item, here)


_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _mutate(doc: Any, location: str, value: Any) -> None:
    steps = [int(i) if i else k for k, i in _STEP.findall(location)]
    target = doc
    for step in steps[:-1]:
        target = target[step]
    if value is DELETED:
        del target[steps[-1]]
    else:
        target[steps[-1]] = value


def _dump(doc: Any) -> bytes:
    # ensure_ascii keeps lone surrogates writable (as \\udXXX escapes); NaN is
    # written as the non-standard token Python emits, as a careless writer would.
    return json.dumps(doc, ensure_ascii=True, allow_nan=True).encode("ascii")


# -- the oracle for one mutated field ----------------------------------------------


def _text(value: Any, location: str, *, required: bool) -> str | None:
    if value is DELETED or value is None:
        if required:
            raise _Rejected(location)
        return None
    if type(value) is not str or (required and not value) or "\x00" in value:
        raise _Rejected(location)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Rejected(location) from None
    return value


def _timestamp(value: Any, location: str, *, required: bool) -> datetime | None:
    if value is DELETED or value is None:
        if required:
            raise _Rejected(location)
        return None
    if type(value) is not str:
        raise _Rejected(location)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Rejected(location) from None
    if parsed.tzinfo is None:
        raise _Rejected(location)
    fraction = re.search(r"[.,]\d{6}(\d+)", value)
    if fraction is not None and fraction.group(1).strip("0"):
        raise _Rejected(location)  # finer than a microsecond: never rounded
    if not EARLIEST_TIMESTAMP <= parsed < END_OF_TIMESTAMPS:
        raise _Rejected(location)  # outside what tools downstream can hold
    return parsed


def _integer(value: Any, location: str, *, nullable: bool) -> int | None:
    if value is DELETED or value is None:
        if nullable:
            return None
        raise _Rejected(location)
    if type(value) is not int or not 0 <= value <= _MAX_INTEGER:
        raise _Rejected(location)
    return value


def _expected_job(base: IngestedJob, location: str, value: Any) -> IngestedJob | None:
    """What ingestion must return after ``location`` became ``value``.

    ``None`` means the outcome is not predicted field by field (a whole object
    or array was replaced): then only the error's location is checked.

    :raises _Rejected: ingestion must reject the file, naming the location.
    """
    replace = dataclasses.replace
    if location == "job_id":
        job_id = _text(value, location, required=True)
        outputs = tuple(replace(o, job_id=job_id) for o in base.outputs)
        return replace(base, job_id=job_id, outputs=outputs)
    if location == "final_status":
        if type(value) is not str or value not in JOB_STATUSES:
            raise _Rejected(location)
        return replace(base, final_status=value)
    if location in ("started_at", "completed_at"):
        stamp = _timestamp(value, location, required=location == "started_at")
        return replace(base, **{location: stamp})
    if location in _COUNTS:
        count = _integer(value, location, nullable=True)
        if count is None:
            completed = sum(1 for o in base.outputs if o.status == "COMPLETED")
            count = {
                "total_clips": len(base.outputs),
                "completed_clips": completed,
                "failed_clips": len(base.outputs) - completed,
            }[location]
        return replace(base, **{location: count})
    if location == "_metadata":
        if value is DELETED or value is None:
            return replace(base, **{field: None for field in META_FIELDS.values()})
        if not isinstance(value, dict):
            raise _Rejected(location)
        return None
    if location.startswith("_metadata."):
        key = location.removeprefix("_metadata.")
        if key not in META_FIELDS:
            return base  # read past
        if key == "fingerprint" and not (type(value) is str and value):
            return replace(base, fingerprint=None)  # the rule: a non-empty string, else None
        return replace(base, **{META_FIELDS[key]: _text(value, location, required=False)})
    if location == "clips":
        if type(value) is not list:
            raise _Rejected(location)
        return None
    match = re.fullmatch(r"clips\[(\d+)\](?:\.(.+))?", location)
    if match is None:
        return base  # an informational key (duration_seconds, source_files, _recovery...)
    i, key = int(match.group(1)), match.group(2)
    if key is None:
        if value is DELETED:
            return None  # one clip fewer: still a valid result
        if not isinstance(value, dict):
            raise _Rejected(location)
        return None
    out = base.outputs[i]
    if key in ("source_path", "resolved_output_path"):
        text = _text(value, location, required=True)
        if key == "source_path":
            out = replace(out, source_path=text, clip_id=clip_id_for(text))  # type: ignore[arg-type]
        else:
            out = replace(out, output_path=text)
    elif key == "status":
        if type(value) is not str or value not in CLIP_STATUSES:
            raise _Rejected(location)
        out = replace(out, status=value)
    elif key == "output_exists":
        if not (value is DELETED or value is None or type(value) is bool):
            raise _Rejected(location)
        out = replace(out, output_exists=None if value is DELETED else value)
    elif key == "output_size_bytes":
        out = replace(out, output_size_bytes=_integer(value, location, nullable=True))
    elif key in _CLIP_OPTIONAL_TEXT:
        out = replace(out, **{key: _text(value, location, required=False)})
    else:
        return base  # informational clip key (ffmpeg_command, exit_code, ...)
    outputs = (*base.outputs[:i], out, *base.outputs[i + 1 :])
    if location.endswith(".status"):
        # Counts left out of the file are derived from clip statuses.
        doc_counts = BASE_COUNTS[base.job_id, base.started_at.isoformat()]
        completed = sum(1 for o in outputs if o.status == "COMPLETED")
        derived = {"completed_clips": completed, "failed_clips": len(outputs) - completed}
        base = replace(base, **{k: v for k, v in derived.items() if doc_counts.get(k) is None})
    return replace(base, outputs=outputs)


BASE_COUNTS: dict[tuple[str, str], dict[str, Any]] = {
    (doc["job_id"], doc["started_at"]): {k: doc.get(k) for k in _COUNTS} for doc in BASE_DOCS
}


def _same(job: IngestedJob, expected: IngestedJob) -> bool:
    return job_record(replace_ingested(job)) == job_record(replace_ingested(expected))


def replace_ingested(job: IngestedJob) -> IngestedJob:
    return dataclasses.replace(job, ingested_at=_INGESTED_AT)


# -- properties --------------------------------------------------------------------


@given(data=st.data())
def test_fuzz_valid_result_with_one_field_mutated(pipeline: Pipeline, data: st.DataObject) -> None:
    doc = json.loads(json.dumps(data.draw(st.sampled_from(BASE_DOCS), label="base")))
    base = replace_ingested(pipeline_parse(doc))
    location = data.draw(st.sampled_from(sorted(set(_locations(doc)))), label="location")
    value = data.draw(
        st.just(DELETED) | JSON_VALUES | TRICKY_TEXT | st.integers(), label="new value"
    )
    _mutate(doc, location, value)
    outcome = pipeline.run(_dump(doc))

    if _has_nonfinite(value):
        assert isinstance(outcome, IngestionError)
        assert "is not a JSON number" in str(outcome)
        return
    try:
        expected = _expected_job(base, location, value)
    except _Rejected as verdict:
        assert isinstance(outcome, IngestionError), f"accepted a bad {location}: {value!r}"
        assert _named(outcome) == verdict.location, str(outcome)
        return
    if expected is None:  # a whole object/array replaced: check the location only
        if isinstance(outcome, IngestionError):
            assert _named(outcome).startswith(location), str(outcome)
        return
    assert not isinstance(outcome, IngestionError), f"rejected a valid {location}: {outcome}"
    assert _same(outcome, expected)


def pipeline_parse(doc: dict[str, Any]) -> IngestedJob:
    """The job the unmutated document gives (parsed in memory, nothing stored)."""
    from fabric_nb.ingestion import parse_execution_result

    return parse_execution_result(doc, ingested_at=_INGESTED_AT)


SCHEMA_KEYS = st.sampled_from(
    ["job_id", "final_status", "started_at", "completed_at", "clips", "_metadata", *_COUNTS]
)


@given(
    document=JSON_VALUES
    | st.dictionaries(SCHEMA_KEYS | st.text(max_size=8), JSON_VALUES, max_size=8)
    | st.fixed_dictionaries(
        {
            "job_id": TRICKY_TEXT | st.text(max_size=12),
            "final_status": st.sampled_from(JOB_STATUSES) | SCALARS,
            "started_at": TRICKY_TEXT,
            "clips": st.lists(
                st.dictionaries(
                    st.sampled_from(
                        [
                            "source_path",
                            "resolved_output_path",
                            "status",
                            "output_exists",
                            "output_size_bytes",
                            "failure_reason",
                        ]
                    ),
                    SCALARS,
                ),
                max_size=3,
            )
            | JSON_VALUES,
        },
        optional={"_metadata": st.dictionaries(st.sampled_from(sorted(META_FIELDS)), SCALARS)},
    )
)
def test_fuzz_random_structures(pipeline: Pipeline, document: Any) -> None:
    outcome = pipeline.run(_dump(document))
    if isinstance(outcome, IngestionError):
        _assert_names_a_field(outcome)
        if _has_nonfinite(document):
            assert "is not a JSON number" in str(outcome)
    else:  # accepted: it really was a valid result
        assert isinstance(document, dict)
        assert outcome.job_id == document["job_id"]


@given(raw=st.binary(max_size=300))
def test_fuzz_random_bytes(pipeline: Pipeline, raw: bytes) -> None:
    outcome = pipeline.run(raw)
    assert isinstance(outcome, IngestionError)
    _assert_names_a_field(outcome)


# Each example moves megabytes through JSON, SQLite and back: a tenth of the budget.
@settings(max_examples=max(20, settings().max_examples // 10))
@given(
    data=st.data(),
    piece=st.text(min_size=1, max_size=4),
    size=st.integers(min_value=50_000, max_value=1_000_000),
)
def test_fuzz_huge_strings(
    huge_pipeline: Pipeline, data: st.DataObject, piece: str, size: int
) -> None:
    huge = (piece * (size // len(piece) + 1))[:size]
    doc = json.loads(json.dumps(BASE_DOCS[0]))
    doc["job_id"] = "huge-strings"  # one row, replaced by every example
    base = replace_ingested(pipeline_parse(doc))
    location = data.draw(
        st.sampled_from(
            [
                "job_id",
                "clips[0].source_path",
                "clips[0].resolved_output_path",
                "clips[1].failure_reason",
                "_metadata.validation_error",
                "_metadata.engine_used",
                "clips[0].ffmpeg_command",
                "duration_seconds",
            ]
        ),
        label="location",
    )
    _mutate(doc, location, huge)
    outcome = huge_pipeline.run(_dump(doc))
    try:
        expected = _expected_job(base, location, huge)
    except _Rejected as verdict:  # NUL or a lone surrogate in the piece
        assert isinstance(outcome, IngestionError)
        assert _named(outcome) == verdict.location, str(outcome)
        return
    assert expected is not None
    assert not isinstance(outcome, IngestionError), str(outcome)
    assert _same(outcome, expected)


@given(
    depth=st.integers(min_value=1, max_value=200_000),
    opener=st.sampled_from(["[", '{"k":']),
    where=st.sampled_from(["top", "job_id", "_metadata", "clips", "duration_seconds", "clip"]),
)
def test_fuzz_deep_nesting(pipeline: Pipeline, depth: int, opener: str, where: str) -> None:
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + "0" + closer * depth
    doc_text = json.dumps(BASE_DOCS[0])
    marker = '"__NESTED__"'
    if where == "top":
        text = nested
    elif where == "clip":
        doc = json.loads(doc_text)
        doc["clips"][0]["exit_code"] = "__NESTED__"
        text = json.dumps(doc).replace(marker, nested)
    else:
        doc = json.loads(doc_text)
        doc[where] = "__NESTED__"
        text = json.dumps(doc).replace(marker, nested)
    outcome = pipeline.run(text.encode())
    if isinstance(outcome, IngestionError):
        _assert_names_a_field(outcome)
        if where in ("duration_seconds", "clip"):  # informational: only depth can reject it
            assert "Invalid JSON: nesting too deep" in str(outcome)
    else:  # informational keys are read past; an object is a valid _metadata
        assert where in ("duration_seconds", "clip") or (where, opener) == ("_metadata", '{"k":')


@given(
    data=st.data(),
    bad=st.lists(st.integers(min_value=0x80, max_value=0xFF), min_size=1, max_size=4),
)
def test_fuzz_non_utf8_bytes(pipeline: Pipeline, data: st.DataObject, bad: list[int]) -> None:
    raw = json.dumps(data.draw(st.sampled_from(BASE_DOCS)), ensure_ascii=False).encode("utf-8")
    at = data.draw(st.integers(min_value=0, max_value=len(raw)), label="offset")
    spliced = raw[:at] + bytes(bad) + raw[at:]
    outcome = pipeline.run(spliced)
    try:
        spliced.decode("utf-8")
    except UnicodeDecodeError:
        assert isinstance(outcome, IngestionError)
        assert "Invalid JSON: not UTF-8" in str(outcome)
    else:  # the bytes happened to form valid UTF-8: any verdict, named properly
        if isinstance(outcome, IngestionError):
            _assert_names_a_field(outcome)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-32", "cp1252"])
def test_fuzz_result_in_another_encoding_is_rejected(pipeline: Pipeline, encoding: str) -> None:
    doc = json.loads(json.dumps(BASE_DOCS[0]))
    doc["clips"][0]["source_path"] = "/Volumes/Tournage_Été/A001.mov"
    outcome = pipeline.run(json.dumps(doc, ensure_ascii=False).encode(encoding))
    assert isinstance(outcome, IngestionError)
    assert "Invalid JSON: not UTF-8" in str(outcome)


@given(
    data=st.data(),
    token=st.sampled_from(["NaN", "Infinity", "-Infinity"]),
)
def test_fuzz_nan_anywhere_is_rejected(pipeline: Pipeline, data: st.DataObject, token: str) -> None:
    doc = json.loads(json.dumps(data.draw(st.sampled_from(BASE_DOCS))))
    location = data.draw(st.sampled_from(sorted(set(_locations(doc)))), label="location")
    _mutate(doc, location, "__TOKEN__")
    outcome = pipeline.run(json.dumps(doc).replace('"__TOKEN__"', token).encode())
    assert isinstance(outcome, IngestionError)
    assert str(outcome).endswith(f"Invalid JSON: {token} is not a JSON number")


def test_fuzz_integer_too_long_to_parse_is_rejected(pipeline: Pipeline) -> None:
    doc = json.loads(json.dumps(BASE_DOCS[0]))
    doc["duration_seconds"] = "__BIG__"
    text = json.dumps(doc).replace('"__BIG__"', "9" * 5000)
    outcome = pipeline.run(text.encode())
    assert isinstance(outcome, IngestionError)
    assert "Invalid JSON" in str(outcome)


_WRONG_TYPES: list[Any] = [DELETED, None, True, False, 0, -1, 7, 2**63, 1.5, "", "x", [], {}, ["x"]]


def test_fuzz_every_schema_field_with_every_type(pipeline: Pipeline) -> None:
    """The deterministic core of the mutation property: every field the schema reads,
    in a job with every kind of clip, replaced by every JSON type (and deleted)."""
    doc = next(d for d in BASE_DOCS if len(d["clips"]) >= 2 and d["_metadata"].get("fingerprint"))
    fields = ["job_id", "final_status", "started_at", "completed_at", *_COUNTS, "clips"]
    fields += ["_metadata", *(f"_metadata.{key}" for key in META_FIELDS)]
    fields += [f"clips[1].{key}" for key in ("source_path", "resolved_output_path", "status")]
    fields += [f"clips[1].{key}" for key in ("output_exists", "output_size_bytes")]
    fields += [f"clips[1].{key}" for key in _CLIP_OPTIONAL_TEXT] + ["clips[1]"]
    base = replace_ingested(pipeline_parse(doc))
    checked = 0
    for location in fields:
        for value in _WRONG_TYPES:
            mutated = json.loads(json.dumps(doc))
            _mutate(mutated, location, value)
            outcome = pipeline.run(_dump(mutated))
            try:
                expected = _expected_job(base, location, value)
            except _Rejected as verdict:
                assert isinstance(outcome, IngestionError), f"accepted {location} = {value!r}"
                assert _named(outcome) == verdict.location, str(outcome)
            else:
                if expected is None:
                    if isinstance(outcome, IngestionError):
                        assert _named(outcome).startswith(location), str(outcome)
                else:
                    assert not isinstance(outcome, IngestionError), f"{location}: {outcome}"
                    assert _same(outcome, expected), f"{location} = {value!r}"
            checked += 1
    assert checked == len(fields) * len(_WRONG_TYPES)
