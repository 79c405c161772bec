"""Strict, read-only ingestion of JobExecutionResult files.

Every malformed input is rejected with an IngestionError that names the file,
the JSON location of the bad value and what was expected; valid variants Proxx
really writes are accepted; clip ids and fingerprints follow the Phase-1 rules;
ingestion never writes anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import make_clip, make_result, write_result

from fabric_nb import FabricError, IngestionError, ingest_execution_result
from fabric_nb.errors import NotAResultFile
from fabric_nb.ingestion import clip_id_for, parse_execution_result

Doc = dict[str, Any]


def put(*path: Any, value: Any) -> Callable[[Doc], Doc]:
    """A mutation that sets ``doc[path...] = value``."""

    def mutate(doc: Doc) -> Doc:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return doc

    return mutate


def drop(*path: Any) -> Callable[[Doc], Doc]:
    """A mutation that deletes ``doc[path...]``."""

    def mutate(doc: Doc) -> Doc:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return doc

    return mutate


def four_clips(doc: Doc) -> Doc:
    doc["clips"] = [make_clip(i) for i in range(4)]
    return doc


def then(*mutations: Callable[[Doc], Doc]) -> Callable[[Doc], Doc]:
    def mutate(doc: Doc) -> Doc:
        for m in mutations:
            doc = m(doc)
        return doc

    return mutate


# (id, mutation of a valid result, JSON location, fragment of "expected ..." text, got text).
# A final_status is named with the original Fabric's words, "Invalid final_status".
MALFORMED: list[tuple[str, Callable[[Doc], Any], str, str, str]] = [
    ("top-level-array", lambda d: [d], "top level", "a JSON object", "got an array"),
    ("top-level-string", lambda d: "job", "top level", "a JSON object", "got 'job'"),
    ("top-level-null", lambda d: None, "top level", "a JSON object", "got null"),
    ("job_id-empty", put("job_id", value=""), "job_id", "a non-empty string", "got ''"),
    ("job_id-null", put("job_id", value=None), "job_id", "a non-empty string", "got null"),
    ("job_id-int", put("job_id", value=17), "job_id", "a non-empty string", "got 17"),
    ("job_id-NUL", put("job_id", value="job\x00x"), "job_id", "without NUL", "got 'job"),
    ("job_id-lone-surrogate", put("job_id", value="job\ud800"), "job_id", "no lone surrogates",
     "got 'job"),
    ("final_status-SKIPPED", put("final_status", value="SKIPPED"), "Invalid final_status",
     "one of COMPLETED, FAILED, PARTIAL", "got 'SKIPPED'"),
    ("final_status-lowercase", put("final_status", value="completed"), "Invalid final_status",
     "one of COMPLETED, FAILED, PARTIAL", "got 'completed'"),
    ("final_status-RUNNING", put("final_status", value="RUNNING"), "Invalid final_status",
     "one of COMPLETED, FAILED, PARTIAL", "got 'RUNNING'"),
    ("final_status-list", put("final_status", value=["COMPLETED"]), "Invalid final_status",
     "one of COMPLETED, FAILED, PARTIAL", "got an array"),
    ("started_at-null", put("started_at", value=None), "started_at", "ISO 8601 timestamp",
     "got null"),
    ("started_at-no-offset", put("started_at", value="2026-01-05T10:00:00.123456"), "started_at",
     "with a UTC offset (Fabric does not guess a time zone)", "got '2026-01-05T10:00:00.123456'"),
    ("started_at-date-only", put("started_at", value="2026-01-05"), "started_at",
     "Fabric does not guess a time zone", "got '2026-01-05'"),
    ("started_at-number", put("started_at", value=1767607200), "started_at",
     "an ISO 8601 timestamp string with a UTC offset", "got 1767607200"),
    ("started_at-garbage", put("started_at", value="yesterday"), "started_at",
     "an ISO 8601 timestamp with a UTC offset", "got 'yesterday'"),
    ("started_at-bad-offset", put("started_at", value="2026-01-05T10:00:00+25:00"), "started_at",
     "an ISO 8601 timestamp with a UTC offset", "got '2026-01-05T10:00:00+25:00'"),
    ("completed_at-no-offset", put("completed_at", value="2026-01-05T10:01:00"), "completed_at",
     "Fabric does not guess a time zone", "got '2026-01-05T10:01:00'"),
    ("completed_at-bool", put("completed_at", value=True), "completed_at",
     "timestamp string", "got true"),
    ("total_clips-bool", put("total_clips", value=True), "total_clips",
     "a non-negative integer", "got true"),
    ("completed_clips-negative", put("completed_clips", value=-1), "completed_clips",
     "a non-negative integer", "got -1"),
    ("failed_clips-float", put("failed_clips", value=0.0), "failed_clips",
     "a non-negative integer", "got 0.0"),
    ("total_clips-string", put("total_clips", value="2"), "total_clips",
     "a non-negative integer", "got '2'"),
    ("clips-null", put("clips", value=None), "clips", "an array of clip objects", "got null"),
    ("clips-object", put("clips", value={}), "clips", "an array of clip objects",
     "got an object"),
    ("clip-not-object", put("clips", 1, value="A001C001.mov"), "clips[1]", "a clip object",
     "got 'A001C001.mov'"),
    ("clip-source_path-empty", put("clips", 1, "source_path", value=""), "clips[1].source_path",
     "a non-empty string", "got ''"),
    ("clip-source_path-array", put("clips", 0, "source_path", value=["/a.mov"]),
     "clips[0].source_path", "a non-empty string", "got an array"),
    ("clip-status-SKIPPED", then(four_clips, put("clips", 3, "status", value="SKIPPED")),
     "clips[3].status", "one of COMPLETED, FAILED", "got 'SKIPPED'"),
    ("clip-status-PARTIAL", put("clips", 0, "status", value="PARTIAL"), "clips[0].status",
     "one of COMPLETED, FAILED", "got 'PARTIAL'"),
    ("clip-output_exists-string", put("clips", 0, "output_exists", value="yes"),
     "clips[0].output_exists", "true, false or null", "got 'yes'"),
    ("clip-output_exists-int", put("clips", 0, "output_exists", value=1),
     "clips[0].output_exists", "true, false or null", "got 1"),
    ("clip-size-negative", put("clips", 1, "output_size_bytes", value=-5),
     "clips[1].output_size_bytes", "a non-negative integer or null", "got -5"),
    ("clip-size-string", put("clips", 0, "output_size_bytes", value="12"),
     "clips[0].output_size_bytes", "a non-negative integer or null", "got '12'"),
    ("clip-size-float", put("clips", 0, "output_size_bytes", value=1.5),
     "clips[0].output_size_bytes", "a non-negative integer or null", "got 1.5"),
    ("clip-size-bool", put("clips", 0, "output_size_bytes", value=False),
     "clips[0].output_size_bytes", "a non-negative integer or null", "got false"),
    ("clip-failure_reason-int", put("clips", 1, "failure_reason", value=42),
     "clips[1].failure_reason", "a string or null", "got 42"),
    ("clip-engine-object", put("clips", 0, "engine_used", value={"name": "ffmpeg"}),
     "clips[0].engine_used", "a string or null", "got an object"),
    ("metadata-array", put("_metadata", value=[]), "_metadata", "an object or null",
     "got an array"),
    ("metadata-string", put("_metadata", value="ffmpeg"), "_metadata", "an object or null",
     "got 'ffmpeg'"),
    ("metadata-engine-int", put("_metadata", "engine_used", value=1), "_metadata.engine_used",
     "a string or null", "got 1"),
    ("metadata-profile-bool", put("_metadata", "proxy_profile_used", value=False),
     "_metadata.proxy_profile_used", "a string or null", "got false"),
    ("metadata-validation_error-array", put("_metadata", "validation_error", value=["x"]),
     "_metadata.validation_error", "a string or null", "got an array"),
    ("metadata-jobspec_version-float", put("_metadata", "jobspec_version", value=2.1),
     "_metadata.jobspec_version", "a string or null", "got 2.1"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "where", "expected", "got"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED],
)
def test_malformed_value_is_rejected_naming_file_location_and_expectation(
    tmp_path: Path, mutate: Callable[[Doc], Any], where: str, expected: str, got: str
) -> None:
    path = write_result(tmp_path, mutate(make_result()), name="bad result.json")
    with pytest.raises(IngestionError) as info:
        ingest_execution_result(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {where}: expected ")
    assert expected in message
    assert message.endswith(got) or f", {got}" in message


# (id, mutation of a valid result, every field the message must name, in order)
MISSING: list[tuple[str, Callable[[Doc], Any], str]] = [
    ("job_id", drop("job_id"), "job_id"),
    ("final_status", drop("final_status"), "final_status"),
    ("started_at", drop("started_at"), "started_at"),
    ("clips", drop("clips"), "clips"),
    ("clip-source_path", drop("clips", 0, "source_path"), "clips[0].source_path"),
    ("clip-output-path", drop("clips", 1, "resolved_output_path"),
     "clips[1].resolved_output_path"),
    ("clip-status", drop("clips", 1, "status"), "clips[1].status"),
    ("all-top-level", then(drop("job_id"), drop("final_status"), drop("started_at"),
                           drop("clips")),
     "job_id, final_status, started_at, clips"),
    ("top-level-and-clips", then(four_clips, drop("started_at"), drop("clips", 0, "status"),
                                 drop("clips", 3, "source_path"),
                                 drop("clips", 3, "resolved_output_path")),
     "started_at, clips[0].status, clips[3].source_path, clips[3].resolved_output_path"),
    ("only-in-a-later-clip", then(four_clips, drop("clips", 2, "status"),
                                  drop("clips", 3, "status")),
     "clips[2].status, clips[3].status"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "fields"), [pytest.param(*case[1:], id=case[0]) for case in MISSING]
)
def test_missing_required_fields_are_all_named_with_the_original_words(
    tmp_path: Path, mutate: Callable[[Doc], Any], fields: str
) -> None:
    path = write_result(tmp_path, mutate(make_result()), name="bad result.json")
    with pytest.raises(IngestionError, match="Missing required fields") as info:
        ingest_execution_result(path)
    assert str(info.value) == f"{path}: Missing required fields: {fields}"


def test_a_null_required_value_is_not_missing_but_named_by_location(tmp_path: Path) -> None:
    """``null`` is a value of the wrong type, not an absent key: its own message."""
    path = write_result(tmp_path, put("clips", 0, "status", value=None)(make_result()))
    with pytest.raises(IngestionError) as info:
        ingest_execution_result(path)
    assert str(info.value) == (
        f"{path}: clips[0].status: expected one of COMPLETED, FAILED, got null"
    )


def test_every_malformed_value_has_its_own_message(tmp_path: Path) -> None:
    messages = []
    for _, mutate, *_ in MALFORMED:
        path = write_result(tmp_path, mutate(make_result()))
        with pytest.raises(IngestionError) as info:
            ingest_execution_result(path)
        messages.append(str(info.value))
    assert len(set(messages)) == len(MALFORMED)


# (id, raw file content, fragment of the message)
UNREADABLE: list[tuple[str, bytes, str]] = [
    (
        "not-utf8",
        b'{"job_id": "caf\xe9"}',
        "Invalid JSON: not UTF-8 text (invalid byte at offset 15)",
    ),
    ("utf16", '{"job_id": "a"}'.encode("utf-16"), "Invalid JSON: not UTF-8 text"),
    ("not-json", b'{"job_id": "a",', "Invalid JSON: "),
    ("empty-file", b"", "Invalid JSON: empty file"),
    ("trailing-garbage", b'{"job_id": "a"} x', "Invalid JSON: Extra data"),
    ("NaN", b'{"job_id": "a", "total_clips": NaN}', "Invalid JSON: NaN is not a JSON number"),
    ("Infinity", b'{"duration_seconds": Infinity}', "Infinity is not a JSON number"),
    ("-Infinity", b'{"duration_seconds": -Infinity}', "-Infinity is not a JSON number"),
    (
        "utf8-bom",
        b'\xef\xbb\xbf{"job_id": "a"}',
        "Invalid JSON: starts with a UTF-8 byte-order mark (BOM)",
    ),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, "Invalid JSON"),
]


@pytest.mark.parametrize(
    ("content", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in UNREADABLE]
)
def test_unreadable_file_is_rejected_naming_the_file(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = write_result(tmp_path, content)
    with pytest.raises(IngestionError) as info:
        ingest_execution_result(path)
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "result.json"
    with pytest.raises(IngestionError, match=r"File not found$") as info:
        ingest_execution_result(path)
    assert str(info.value) == f"{path}: File not found"
    assert not (tmp_path / "nowhere").exists()


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(IngestionError) as info:
        ingest_execution_result(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, expected a JSON file"


def test_unreadable_permissions(tmp_path: Path) -> None:
    path = write_result(tmp_path, make_result())
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything; make the file unreadable another way
        path.chmod(0o644)
        path.unlink()
        path.symlink_to(path)  # a symlink loop cannot be read by anyone
    with pytest.raises(IngestionError, match="cannot read file") as info:
        ingest_execution_result(path)
    assert str(info.value).startswith(f"{path}: cannot read file: ")


def test_ingestion_error_is_a_fabric_error(tmp_path: Path) -> None:
    with pytest.raises(FabricError):
        ingest_execution_result(tmp_path / "missing.json")


# -- valid variants ----------------------------------------------------------------


def ingest(tmp_path: Path, doc: Doc, name: str = "result.json"):
    return ingest_execution_result(write_result(tmp_path, doc, name=name))


def test_full_result_is_read_field_by_field(tmp_path: Path) -> None:
    doc = make_result()
    doc["_metadata"].update(
        fingerprint="sha256:abc",
        validation_error="none",
        resolve_preset_used="ProRes 422 Proxy",
    )
    doc["clips"][1].update(
        status="FAILED", output_exists=False, output_size_bytes=None, failure_reason="boom"
    )
    job = ingest(tmp_path, doc)
    assert job.job_id == "job_0001"
    assert job.final_status == "COMPLETED"
    assert job.started_at == datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)
    assert job.completed_at == datetime(2026, 1, 5, 10, 1, 0, 654321, tzinfo=UTC)
    assert (job.total_clips, job.completed_clips, job.failed_clips) == (2, 2, 0)
    assert job.canonical_proxy_profile == "proxy_prores_proxy"
    assert job.fingerprint == "sha256:abc"
    assert job.validation_stage == "execution"
    assert job.validation_error == "none"
    assert job.engine_used == "ffmpeg"
    assert job.resolve_preset_used == "ProRes 422 Proxy"
    assert job.jobspec_version == "2.1"
    assert [o.source_path for o in job.outputs] == [c["source_path"] for c in doc["clips"]]
    second = job.outputs[1]
    assert second.job_id == "job_0001"
    assert second.output_path == doc["clips"][1]["resolved_output_path"]
    assert (second.status, second.output_exists, second.output_size_bytes) == (
        "FAILED",
        False,
        None,
    )
    assert second.failure_reason == "boom"
    assert (second.engine_used, second.proxy_profile_used, second.resolve_preset_used) == (
        "ffmpeg",
        "proxy_prores_proxy",
        None,
    )
    assert job.outputs[0].output_size_bytes == 1_000_000


def test_empty_clips_pre_job_failure(tmp_path: Path) -> None:
    doc = make_result(final_status="FAILED", clips=[], completed_at=None)
    for key in ("total_clips", "completed_clips", "failed_clips"):
        del doc[key]
    doc["_metadata"].update(validation_stage="pre-job", validation_error="Source file not found")
    job = ingest(tmp_path, doc)
    assert job.outputs == ()
    assert (job.total_clips, job.completed_clips, job.failed_clips) == (0, 0, 0)
    assert job.validation_stage == "pre-job"
    assert job.validation_error == "Source file not found"
    assert job.completed_at is None
    assert job.duration_seconds is None


def test_crash_recovery_result(tmp_path: Path) -> None:
    doc = make_result(
        final_status="FAILED",
        clips=[],
        completed_at=None,
        total_clips=0,
        completed_clips=0,
        failed_clips=0,
        _recovery={
            "reason": "Process terminated during execution; no result was written",
            "recovered_at": "2026-01-05T12:00:00+00:00",
            "original_path": "/Users/proxx/jobs/in_progress/job_0001.json",
        },
    )
    job = ingest(tmp_path, doc)
    assert job.final_status == "FAILED"
    assert job.outputs == ()


def test_watch_folder_metadata_is_read_past(tmp_path: Path) -> None:
    plain = ingest(tmp_path, make_result(), name="plain.json")
    doc = make_result()
    doc["_metadata"].update(
        jobspec_path="/Volumes/Watch/incoming/job_0001.json",
        result_written_at="2026-01-05T10:01:01+00:00",
        failure_reason="1 of 2 clips failed",
        worker_id="render-node-01",
        worker_started_at="2026-01-05T03:00:00+00:00",
    )
    watched = ingest(tmp_path, doc, name="watched.json")
    assert dataclasses.replace(watched, ingested_at=plain.ingested_at) == plain


def test_unknown_keys_are_read_past_everywhere(tmp_path: Path) -> None:
    plain = ingest(tmp_path, make_result(), name="plain.json")
    doc = make_result(future_field={"x": [1, 2]}, schema="v9")
    doc["clips"][0]["gpu"] = "none"
    doc["clips"][1]["ffmpeg_command"] = "not even a list"
    doc["_metadata"]["resolve_edition_detected"] = {"odd": True}
    extra = ingest(tmp_path, doc, name="extra.json")
    assert dataclasses.replace(extra, ingested_at=plain.ingested_at) == plain


def test_metadata_absent_or_null_gives_none_fields(tmp_path: Path) -> None:
    for name, meta in (("absent.json", None), ("null.json", "null")):
        doc = make_result()
        if meta is None:
            del doc["_metadata"]
        else:
            doc["_metadata"] = None
        job = ingest(tmp_path, doc, name=name)
        assert job.canonical_proxy_profile is None
        assert job.engine_used is None
        assert job.fingerprint is None
        assert job.validation_stage is None
        assert job.jobspec_version is None


def test_non_ascii_paths(tmp_path: Path) -> None:
    source = "/Volumes/Tournage_Été/撮影_2026/Señal_A/Ü clip 🎬.mov"
    output = "/mnt/rodaje/Día_01/Proxy/Ü clip 🎬.mov"
    doc = make_result(clips=[make_clip(0, source_path=source, resolved_output_path=output)])
    doc["total_clips"], doc["completed_clips"] = 1, 1
    job = ingest(tmp_path, doc, name="résultat_撮影.json")
    assert job.outputs[0].source_path == source
    assert job.outputs[0].output_path == output
    assert job.outputs[0].clip_id == hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def test_absent_counts_are_counted_from_clips(tmp_path: Path) -> None:
    clips = [make_clip(0), make_clip(1, status="FAILED"), make_clip(2), make_clip(3)]
    doc = make_result(final_status="PARTIAL", clips=clips)
    for key in ("total_clips", "completed_clips", "failed_clips"):
        del doc[key]
    job = ingest(tmp_path, doc)
    assert (job.total_clips, job.completed_clips, job.failed_clips) == (4, 3, 1)


def test_null_counts_are_treated_as_absent(tmp_path: Path) -> None:
    doc = make_result(total_clips=None, completed_clips=None, failed_clips=None)
    job = ingest(tmp_path, doc)
    assert (job.total_clips, job.completed_clips, job.failed_clips) == (2, 2, 0)


def test_recorded_counts_are_kept_not_reconciled(tmp_path: Path) -> None:
    # Fabric records what Proxx wrote; it does not "fix" counts that disagree with clips.
    doc = make_result(total_clips=10, completed_clips=7, failed_clips=3)
    job = ingest(tmp_path, doc)
    assert (job.total_clips, job.completed_clips, job.failed_clips) == (10, 7, 3)
    assert len(job.outputs) == 2


def test_optional_strings_are_kept_as_written(tmp_path: Path) -> None:
    doc = make_result()
    doc["_metadata"].update(
        engine_used="FFmpeg ", validation_stage="post-render", proxy_profile_used=""
    )
    job = ingest(tmp_path, doc)
    assert job.engine_used == "FFmpeg "
    assert job.validation_stage == "post-render"
    assert job.canonical_proxy_profile == ""


def test_timestamps_keep_their_offset_and_microseconds(tmp_path: Path) -> None:
    doc = make_result(
        started_at="2026-01-05T15:30:00.000001+05:30", completed_at="2026-01-05T10:00:00.5Z"
    )
    job = ingest(tmp_path, doc)
    assert job.started_at.isoformat() == "2026-01-05T15:30:00.000001+05:30"
    assert job.completed_at is not None
    assert job.completed_at.utcoffset() == timedelta(0)
    assert job.duration_seconds == 0.499999


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"fingerprint": "sha256:0f1e"}, "sha256:0f1e"),
        ({"fingerprint": ""}, None),
        ({"fingerprint": None}, None),
        ({"fingerprint": 1234}, None),
        ({"fingerprint": ["sha256:0f1e"]}, None),
        ({"fingerprint": True}, None),
        ({}, None),
    ],
    ids=["string", "empty", "null", "number", "array", "bool", "absent"],
)
def test_fingerprint_rule(tmp_path: Path, metadata: dict[str, Any], expected: str | None) -> None:
    """A non-empty string is the fingerprint; anything else is no fingerprint (issue 2)."""
    doc = make_result()
    doc["_metadata"].update(metadata)
    assert ingest(tmp_path, doc).fingerprint == expected


# -- clip ids ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "/Volumes/CARD_A/Clip/A001C001.mov",
        "/no/such/volume/on/this/machine/X.R3D",
        "relative/clip.mov",
        "C:\\Footage\\Day 1\\clip.MXF",
        "/Volumes/Tournage_Été/撮影/clip.mov",
        "/Volumes/A/../B/./clip.mov",
    ],
)
def test_clip_id_is_sha256_of_the_path_as_recorded(tmp_path: Path, source: str) -> None:
    expected = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    assert clip_id_for(source) == expected
    doc = make_result(clips=[make_clip(0, source_path=source)], total_clips=1, completed_clips=1)
    assert ingest(tmp_path, doc).outputs[0].clip_id == expected


def test_clip_id_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "relative").mkdir()
    (tmp_path / "relative" / "clip.mov").write_bytes(b"media")  # exists here, not elsewhere
    doc = make_result(clips=[make_clip(0, source_path="relative/clip.mov")])
    path = write_result(tmp_path, doc)
    monkeypatch.chdir(tmp_path)
    here = ingest_execution_result(path).outputs[0].clip_id
    monkeypatch.chdir("/")
    assert ingest_execution_result(path).outputs[0].clip_id == here
    assert here == hashlib.sha256(b"relative/clip.mov").hexdigest()[:16]


# -- determinism and read-only -----------------------------------------------------


def test_same_file_twice_gives_the_same_job_apart_from_ingested_at(tmp_path: Path) -> None:
    path = write_result(tmp_path, make_result())
    before = datetime.now(UTC)
    first = ingest_execution_result(path)
    second = ingest_execution_result(path)
    after = datetime.now(UTC)
    assert first == dataclasses.replace(second, ingested_at=first.ingested_at)
    for job in (first, second):
        assert job.ingested_at.utcoffset() == timedelta(0)
        assert before <= job.ingested_at <= after


def test_parse_uses_the_given_ingested_at() -> None:
    when = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    job = parse_execution_result(make_result(), ingested_at=when)
    assert job.ingested_at == when


def test_parse_names_the_source_it_was_given() -> None:
    with pytest.raises(IngestionError, match=r"^inbox/7\.json: job_id: expected"):
        parse_execution_result(make_result(job_id=""), source="inbox/7.json")


def _tree(root: Path) -> dict[str, tuple[int, int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size, p.stat().st_mode)
        for p in sorted(root.rglob("*"))
    }


def test_ingestion_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = write_result(inbox, make_result(), name="good.json")
    bad = write_result(inbox, make_result(final_status="SKIPPED"), name="bad.json")
    junk = write_result(inbox, b"\xff\xfe not json", name="junk.json")
    monkeypatch.chdir(inbox)
    before = _tree(tmp_path)
    ingest_execution_result(good)
    for path in (bad, junk, inbox / "missing.json", inbox):
        with pytest.raises(IngestionError):
            ingest_execution_result(path)
    assert _tree(tmp_path) == before
    assert list(home.iterdir()) == []


# -- JobSpecs are not results -----------------------------------------------------------


def test_a_jobspec_is_not_a_result_file(tmp_path: Path) -> None:
    spec = write_result(tmp_path, {"jobspec_version": "2.1", "sources": ["/a.mov"]}, "s.json")
    with pytest.raises(NotAResultFile, match=r"s\.json: not a result file: a Proxx JobSpec$"):
        ingest_execution_result(spec)


def test_a_jobspec_without_a_version_is_known_by_its_result_beside_it(tmp_path: Path) -> None:
    spec = write_result(tmp_path, {"job_id": "j", "sources": []}, "shoot.json")
    with pytest.raises(IngestionError) as alone:
        ingest_execution_result(spec)
    assert not isinstance(alone.value, NotAResultFile)  # a broken result, as far as we know
    write_result(tmp_path, make_result(job_id="j"), "shoot.result.json")
    with pytest.raises(NotAResultFile):
        ingest_execution_result(spec)


def test_a_result_with_a_jobspec_version_at_top_level_is_still_a_result(tmp_path: Path) -> None:
    path = write_result(tmp_path, make_result(job_id="j", jobspec_version="2.1"), "r.json")
    assert ingest_execution_result(path).job_id == "j"
