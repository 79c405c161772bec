"""The fast paths of ingestion and storage give exactly what the checked paths give.

Ingestion and storage handle the common case (plain ASCII text, known
statuses, keys in field order) in one expression and fall back to the
field-by-field checks for anything else. These tests pin what that must not
change: the stored text, the decoded jobs, the errors, the garbage
collector's state, and the sharing of repeated strings that keeps an opened
history small (``docs/performance.md``).

A job loaded from storage keeps its outputs packed (``fabric_nb._packed``) and
nobody can tell from outside: the last sections pin that a loaded job is the
job that was stored (tuple, equality, hash, repr, ``dataclasses`` helpers,
pickling, frames and summaries), that what is packed was checked, that the
fast constructors build what the constructors build, and that a large outputs
frame built in pieces is the frame built at once.
The folder scan, which lists folders by name and stats each result file
once, is pinned against a walk of ``DirEntry`` kinds (links, folders named
like result files, files given twice).
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import json
import os
import pickle
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import (
    META_FIELDS,
    job_record,
    job_records,
    make_job,
    make_output,
    make_result,
    sample_jobs,
    tricky_jobs,
    write_result,
)

from fabric_nb import (
    FabricIndex,
    IngestedJob,
    IngestedOutput,
    IngestionError,
    StorageCorruptionError,
    create_persistence,
    ingest_execution_result,
)
from fabric_nb._packed import OutputRecord, output_records
from fabric_nb._rows import _StoredOutput
from fabric_nb._slots import checked_constructor
from fabric_nb.bulk import ingest_paths
from fabric_nb.frames import outputs, outputs_frame
from fabric_nb.ingestion import _shared_output
from fabric_nb.queries import FabricQueries
from fabric_nb.schema import OUTPUT_FIELDS
from fabric_nb.storage_report import summarize_jobs


def stored_outputs_json(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT job_id, outputs_json FROM jobs"))
    finally:
        conn.close()


def expected_outputs_json(job: IngestedJob) -> str:
    return json.dumps(
        [{name: getattr(o, name) for name in OUTPUT_FIELDS} for o in job.outputs],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def odd_jobs() -> list[IngestedJob]:
    """Values at the edges: escapes, non-ASCII text, extreme sizes, empty text, no outputs."""
    return [
        make_job(
            "j-quotes", outputs=(make_output("j-quotes", 0, source_path='/a/"b"\\c\n\t.mov'),)
        ),
        make_job(
            "j-unicode",
            outputs=(
                make_output("j-unicode", 0, source_path="/Volumes/Tournage_Été/撮影/Ç.mov"),
                make_output("j-unicode", 1, failure_reason="Fichier illisible: « é »"),
            ),
        ),
        make_job(
            "j-extremes",
            outputs=(
                make_output("j-extremes", 0, output_size_bytes=2**63 - 1, output_exists=None),
                make_output("j-extremes", 1, output_size_bytes=0, output_exists=False),
                make_output("j-extremes", 2, output_size_bytes=None, failure_reason=""),
            ),
        ),
        make_job("j-empty", outputs=(), total_clips=0, completed_clips=0, failed_clips=0),
    ]


def test_stored_outputs_text_is_exactly_json_dumps(db_path: Path) -> None:
    jobs = sample_jobs(300) + odd_jobs()
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_jobs(jobs)
    stored = stored_outputs_json(db_path)
    last = {job.job_id: job for job in jobs}  # re-runs: the later job replaced the earlier
    assert stored == {job_id: expected_outputs_json(job) for job_id, job in last.items()}


def test_jobs_come_back_equal_through_either_path(db_path: Path) -> None:
    jobs = sample_jobs(300) + odd_jobs()
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_jobs(jobs)
        loaded = persistence.load_all_jobs()
    last = {job.job_id: job for job in jobs}
    assert {job.job_id: job_record(job) for job in loaded} == {
        job_id: job_record(job) for job_id, job in last.items()
    }


def rewrite_outputs(db: Path, job_id: str, items: list[Any]) -> None:
    """Replace one row's outputs_json behind Fabric's back (a hand edit, or damage)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "UPDATE jobs SET outputs_json = ? WHERE job_id = ?",
            (json.dumps(items, ensure_ascii=False), job_id),
        )
        conn.commit()
    finally:
        conn.close()


def test_outputs_with_keys_in_another_order_still_load(db_path: Path) -> None:
    job = make_job("j-order", outputs=(make_output("j-order", 0), make_output("j-order", 1)))
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_job(job)
    reordered = [
        dict(reversed([(name, getattr(o, name)) for name in OUTPUT_FIELDS])) for o in job.outputs
    ]
    rewrite_outputs(db_path, "j-order", reordered)
    with create_persistence(db_path, readonly=True) as persistence:
        (loaded,) = persistence.load_all_jobs()
    assert job_records([loaded]) == job_records([job])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("job_id", "someone-else", "foreign job_id"),
        ("status", "SKIPPED", "unknown status"),
        ("status", 7, "unknown status"),
        ("output_exists", 1, "expected a boolean"),
        ("output_size_bytes", -1, "expected an integer"),
        ("output_size_bytes", True, "expected an integer"),
        ("clip_id", "", "expected non-empty text"),
        ("source_path", ["a"], "expected non-empty text"),
        ("engine_used", 3, "expected text or NULL"),
    ],
)
def test_a_bad_stored_output_fails_loudly_naming_the_job(
    db_path: Path, field: str, value: Any, message: str
) -> None:
    job = make_job("j-bad", outputs=(make_output("j-bad", 0), make_output("j-bad", 1)))
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_job(job)
    items = [{name: getattr(o, name) for name in OUTPUT_FIELDS} for o in job.outputs]
    items[1][field] = value
    rewrite_outputs(db_path, "j-bad", items)
    bad = r"job 'j-bad'.*outputs_json\[1\]"
    with (
        create_persistence(db_path, readonly=True) as persistence,
        pytest.raises(StorageCorruptionError, match=bad) as err,
    ):
        persistence.load_all_jobs()
    assert message in str(err.value)


@pytest.fixture(params=[True, False], ids=["collector-on", "collector-off"])
def collector(request: pytest.FixtureRequest) -> Iterator[bool]:
    """The cyclic garbage collector switched on or off for one test, then restored."""
    was = gc.isenabled()
    enabled: bool = request.param
    if enabled:
        gc.enable()
    else:
        gc.disable()
    try:
        yield enabled
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()


def test_a_load_leaves_the_garbage_collector_as_it_found_it(db_path: Path, collector: bool) -> None:
    job = make_job("j-gc", outputs=(make_output("j-gc", 0),))
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_job(job)
    with create_persistence(db_path, readonly=True) as persistence:
        persistence.load_all_jobs()
        assert gc.isenabled() is collector
        rewrite_outputs(db_path, "j-gc", [{"not": "an output"}])
        with pytest.raises(StorageCorruptionError):
            persistence.load_all_jobs()
        assert gc.isenabled() is collector


def test_a_failed_load_holds_no_read_lock(db_path: Path) -> None:
    jobs = [make_job(f"j-{i:02d}", outputs=(make_output(f"j-{i:02d}", 0),)) for i in range(20)]
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_jobs(jobs)
    rewrite_outputs(db_path, "j-03", [{"not": "an output"}])
    with create_persistence(db_path, readonly=True) as reader:
        with pytest.raises(StorageCorruptionError, match="j-03"):
            reader.load_all_jobs()
        # The reader stays open; a writer must not wait for the aborted read.
        writer = sqlite3.connect(db_path, timeout=0)
        try:
            writer.execute("BEGIN EXCLUSIVE")
            writer.execute("ROLLBACK")
        finally:
            writer.close()


def test_an_opened_history_shares_repeated_strings(db_path: Path) -> None:
    """Job columns are shared; outputs are packed (the packed outputs section below)."""
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_jobs(sample_jobs(300))
    with create_persistence(db_path, readonly=True) as persistence:
        jobs = FabricIndex(persistence).get_all_jobs()
    assert any(job.outputs for job in jobs)
    assert all(o.job_id is job.job_id for job in jobs for o in job.outputs)
    for name in ("final_status", "engine_used", "canonical_proxy_profile", "validation_stage"):
        values = [getattr(j, name) for j in jobs if getattr(j, name) is not None]
        assert len({id(v) for v in values}) == len(set(values)), name


def test_ingested_outputs_share_repeated_strings(tmp_path: Path) -> None:
    paths = [
        write_result(tmp_path, make_result(job_id=f"job_{i}"), name=f"r{i}.json") for i in range(3)
    ]
    outputs = [o for path in paths for o in ingest_execution_result(path).outputs]
    for name in ("status", "engine_used", "proxy_profile_used"):
        assert len({id(getattr(o, name)) for o in outputs}) == 1, name


def test_outputs_off_the_fast_path_share_repeated_strings(tmp_path: Path) -> None:
    """Non-ASCII values take the checked path; their repeats are shared all the same."""
    paths = []
    for i in range(3):
        doc = make_result(job_id=f"job_{i}")
        for clip in doc["clips"]:
            clip.update(status="FAILED", failure_reason="Média hors ligne", engine_used="résolve")
        paths.append(write_result(tmp_path, doc, name=f"r{i}.json"))
    outputs = [o for path in paths for o in ingest_execution_result(path).outputs]
    for name in ("status", "failure_reason", "engine_used"):
        assert len({id(getattr(o, name)) for o in outputs}) == 1, name


@pytest.mark.parametrize(
    ("clip_override", "message"),
    [
        ({"source_path": "/a/\x00.mov"}, "clips[1].source_path: expected text without NUL"),
        ({"resolved_output_path": ""}, "clips[1].resolved_output_path: expected a non-empty"),
        ({"status": "SKIPPED"}, "clips[1].status: expected one of COMPLETED, FAILED"),
        ({"output_exists": 0}, "clips[1].output_exists: expected true, false or null"),
        ({"output_size_bytes": 2**63}, "clips[1].output_size_bytes: expected a non-negative"),
        ({"engine_used": "ff\udc80"}, "clips[1].engine_used: expected valid Unicode text"),
        ({"failure_reason": 12}, "clips[1].failure_reason: expected a string or null"),
    ],
)
def test_ingestion_still_names_the_first_bad_clip_value(
    tmp_path: Path, clip_override: dict[str, Any], message: str
) -> None:
    doc = make_result()
    doc["clips"][1].update(clip_override)
    path = write_result(tmp_path, doc)
    with pytest.raises(IngestionError) as err:
        ingest_execution_result(path)
    assert str(err.value).startswith(f"{path}: {message}")


def test_non_ascii_clip_values_take_the_checked_path_unchanged(tmp_path: Path) -> None:
    doc = make_result()
    doc["clips"][0]["source_path"] = "/Volumes/Tournage_Été/Ç.mov"
    doc["clips"][0]["failure_reason"] = "Fichier « illisible »"
    job = ingest_execution_result(write_result(tmp_path, doc))
    assert job.outputs[0].source_path == "/Volumes/Tournage_Été/Ç.mov"
    assert job.outputs[0].failure_reason == "Fichier « illisible »"
    assert job.outputs[1].source_path == doc["clips"][1]["source_path"]


def interrupted_after_one(files: Sequence[Path]) -> Iterator[Path]:
    """A progress wrapper standing for a user pressing Ctrl-C after the first file."""
    yield files[0]
    raise KeyboardInterrupt


def test_a_bulk_ingest_leaves_the_garbage_collector_as_it_found_it(
    tmp_path: Path, db_path: Path, collector: bool
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    write_result(folder, make_result(job_id="job_ok"), name="a.json")
    write_result(folder, {"job_id": 5}, name="b.json")  # rejected, the run goes on
    with create_persistence(db_path) as persistence:
        report = ingest_paths([folder], persistence)
        assert gc.isenabled() is collector
        with pytest.raises(KeyboardInterrupt):  # a run stopped half-way restores it too
            ingest_paths([folder], persistence, progress=interrupted_after_one)  # type: ignore[arg-type]
        assert gc.isenabled() is collector
    assert (report.ingested, len(report.rejected)) == (1, 1)


# -- reading result files: msgspec first, json's verdict -------------------------------

#: Documents where a fast JSON parser could part ways with json: huge and
#: out-of-range numbers, duplicate keys, raw control characters, lone
#: surrogates, NaN, trailing data, deep nesting, NUL, subnormals, non-ASCII.
JSON_EDGE_CASES = [
    "18446744073709551616",
    "19446744073709551617",  # msgspec 0.18 decoded this as 1000000000000000001
    '{"output_size_bytes": 19446744073709551617}',
    "-9223372036854775809",
    "1" * 5000,
    "1" * 400,
    "0." + "1" * 5000,
    "1.5e400",
    "5e-324",
    "-0",
    "-0.0",
    "1E2",
    '{"a": 1, "a": 2}',
    '{"a" : 1, "a"\t:\r\n2}',
    '{"a"  :1,"b":"x\\" :y"}',
    '{"a":"\\":","a":1}',
    '{"clips":[{"k":1,"k" :2}]}',
    '{"x":{"y":{"z":1,"z":2}}}',
    '{"\u00e9" :1,"é":2}',
    '"a\tb"',
    '"\\ud800"',
    '"\\u0000"',
    '"\\u00e9t\\u00e9"',
    '"été"',
    "NaN",
    "[1, Infinity]",
    "[1] x",
    "[" * 5000 + "]" * 5000,
    "[" * 500 + "]" * 500,
    " \n{}\t",
    "",
]


def _verdict(decode: Any, text: str) -> tuple[Any, ...]:
    try:
        return ("value", repr(decode(text)))  # repr: nan, -0.0 and inf compare as written
    except (ValueError, RecursionError) as exc:
        return ("error", type(exc).__name__, str(exc))


@pytest.mark.parametrize("text", JSON_EDGE_CASES, ids=lambda t: repr(t[:20]))
def test_result_files_decode_exactly_as_json_decodes_them(text: str) -> None:
    from fabric_nb import ingestion

    assert _verdict(ingestion._decode_document, text) == _verdict(ingestion._json_decode, text)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON_VALUES, ensure_ascii=st.booleans())
def test_any_json_document_decodes_exactly_as_json_decodes_it(
    value: Any, ensure_ascii: bool
) -> None:
    from fabric_nb import ingestion

    text = json.dumps(value, ensure_ascii=ensure_ascii)
    assert _verdict(ingestion._decode_document, text) == _verdict(ingestion._json_decode, text)


@settings(max_examples=300, deadline=None)
@given(
    value=_JSON_VALUES,
    before=st.sampled_from(["", " ", "\t", "\n", " \r\n "]),
    indent=st.sampled_from([None, 0, 2]),
)
def test_spaced_key_ends_are_counted_and_duplicates_refused_as_json_does(
    value: Any, before: str, indent: int | None
) -> None:
    """The duplicate-key count deletes whitespace from the bytes: any spacing gives json's verdict."""
    from fabric_nb import ingestion

    text = json.dumps(value, indent=indent, separators=(",", before + ":"))
    assert _verdict(ingestion._decode_document, text) == _verdict(ingestion._json_decode, text)
    if isinstance(value, dict) and value:  # the same object with its first key written twice
        key = next(iter(value))
        twice = "{" + json.dumps(key) + before + ":0," + text[1:]
        assert _verdict(ingestion._decode_document, twice) == _verdict(
            ingestion._json_decode, twice
        )
        assert _verdict(ingestion._decode_document, twice)[0] == "error"


def test_parsed_jobs_are_the_jobs_the_constructors_build(tmp_path: Path) -> None:
    """The parser's checked constructors build what IngestedJob/IngestedOutput build."""
    from fabric_nb import samples
    from fabric_nb.ingestion import parse_execution_result

    records = [make_result(), make_result(completed_at=None, _metadata=None)]
    records += [
        json.loads(path.read_bytes()) for path in samples.write_results(tmp_path, 20, seed=3)
    ]
    for record in records:
        job = parse_execution_result(record)
        rebuilt = IngestedJob(
            **{
                f.name: getattr(job, f.name)
                for f in dataclasses.fields(IngestedJob)
                if f.name != "outputs"
            },
            outputs=tuple(
                IngestedOutput(*(getattr(o, f.name) for f in dataclasses.fields(IngestedOutput)))
                for o in job.outputs
            ),
        )
        assert job == rebuilt
        assert hash(job) == hash(rebuilt)
        assert repr(job) == repr(rebuilt)
        assert type(job.outputs) is tuple
        assert all(type(o) is IngestedOutput for o in job.outputs)


def test_a_naive_ingested_at_is_refused_as_the_job_refuses_it() -> None:
    from fabric_nb.ingestion import parse_execution_result

    record = make_result()
    with pytest.raises(ValueError, match="ingested_at must be timezone-aware"):
        parse_execution_result(record, ingested_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="ingested_at must be timezone-aware"):
        IngestedJob(
            "j", "COMPLETED", datetime(2026, 1, 1, tzinfo=UTC), ingested_at=datetime(2026, 1, 1)
        )


# -- packed outputs -------------------------------------------------------------


def _stored_and_loaded(
    db_path: Path, jobs: list[IngestedJob]
) -> list[tuple[IngestedJob, IngestedJob]]:
    """Each distinct job as given (last one per id wins) next to the same job loaded back."""
    with create_persistence(db_path) as persistence:
        persistence.persist_ingested_jobs(jobs)
    with create_persistence(db_path, readonly=True) as persistence:
        loaded = {job.job_id: job for job in FabricIndex(persistence).get_all_jobs()}
    given = {job.job_id: job for job in jobs}
    assert loaded.keys() == given.keys()
    return [(given[job_id], loaded[job_id]) for job_id in given]


@pytest.fixture
def pairs(db_path: Path) -> list[tuple[IngestedJob, IngestedJob]]:
    return _stored_and_loaded(db_path, sample_jobs(120) + tricky_jobs())


def test_a_loaded_job_is_the_job_that_was_stored(
    pairs: list[tuple[IngestedJob, IngestedJob]],
) -> None:
    assert any(original.outputs for original, _ in pairs)
    for original, loaded in pairs:
        assert type(loaded.outputs) is tuple
        assert all(type(o) is IngestedOutput for o in loaded.outputs)
        assert loaded.outputs == original.outputs
        assert loaded == original
        assert original == loaded
        assert hash(loaded) == hash(original)
        assert repr(loaded) == repr(original)
        assert dataclasses.asdict(loaded) == dataclasses.asdict(original)
        assert pickle.loads(pickle.dumps(loaded)) == original
        assert len(output_records(loaded)) == len(original.outputs)


def test_replace_on_a_loaded_job_keeps_its_outputs(
    pairs: list[tuple[IngestedJob, IngestedJob]],
) -> None:
    original, loaded = next((o, lo) for o, lo in pairs if o.outputs)
    changed = dataclasses.replace(loaded, fingerprint="sha256:other")
    assert changed.outputs == original.outputs
    assert changed.fingerprint == "sha256:other"
    assert changed != original
    assert dataclasses.replace(loaded, outputs=()).outputs == ()


def test_loaded_outputs_are_packed_and_built_on_each_read(
    pairs: list[tuple[IngestedJob, IngestedJob]],
) -> None:
    original, loaded = next((o, lo) for o, lo in pairs if len(o.outputs) > 1)
    assert all(type(r) is OutputRecord for r in output_records(loaded))
    assert output_records(original) is original.outputs
    first, second = loaded.outputs, loaded.outputs
    assert first == second
    assert first is not second
    for record, output in zip(output_records(loaded), original.outputs, strict=True):
        assert msgspec.structs.astuple(record) == dataclasses.astuple(output)[1:]
    assert all(o.job_id is loaded.job_id for o in loaded.outputs)


def test_a_job_without_outputs_holds_an_empty_tuple(db_path: Path) -> None:
    ((original, loaded),) = _stored_and_loaded(
        db_path, [make_job("job_empty", outputs=(), total_clips=0, completed_clips=0)]
    )
    assert tuple(output_records(loaded)) == ()
    assert loaded.outputs == () == original.outputs


def test_a_loaded_job_is_frozen(pairs: list[tuple[IngestedJob, IngestedJob]]) -> None:
    _, loaded = pairs[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.outputs = ()  # type: ignore[misc]


def test_any_iterable_of_outputs_still_becomes_a_tuple() -> None:
    outs = [make_output("job_list", 0), make_output("job_list", 1)]
    job = make_job("job_list", outputs=outs)
    assert job.outputs == tuple(outs)
    assert type(job.outputs) is tuple
    assert len(output_records(job)) == 2


def test_record_and_stored_fields_follow_the_output_fields() -> None:
    assert [f.name for f in dataclasses.fields(IngestedOutput)] == list(OUTPUT_FIELDS)
    assert OutputRecord.__struct_fields__ == OUTPUT_FIELDS[1:]
    assert _StoredOutput.__struct_fields__ == OUTPUT_FIELDS
    assert tuple(inspect.signature(_shared_output).parameters) == OUTPUT_FIELDS


def test_frames_and_summaries_of_loaded_jobs_match_the_stored_jobs(
    pairs: list[tuple[IngestedJob, IngestedJob]],
) -> None:
    originals = [original for original, _ in pairs]
    loaded = [job for _, job in pairs]
    pd.testing.assert_frame_equal(outputs_frame(loaded), outputs_frame(originals))
    assert summarize_jobs(loaded) == summarize_jobs(originals)

    def queries_over(jobs: list[IngestedJob]) -> FabricQueries:
        index = FabricIndex()
        index.add_jobs(jobs)
        return FabricQueries(index)

    for filters in ({}, {"status": "FAILED"}, {"engine": "resolve"}, {"profile": "proxy_h264_low"}):
        pd.testing.assert_frame_equal(
            outputs(queries_over(loaded), **filters), outputs(queries_over(originals), **filters)
        )


# -- fast constructors ----------------------------------------------------------


def test_checked_constructor_builds_what_the_constructor_builds() -> None:
    for original in (make_output("job_c", 2), make_job("job_c")):
        cls = type(original)
        values = [getattr(original, f.name) for f in dataclasses.fields(cls)]
        built = checked_constructor(cls)(*values)
        assert type(built) is cls
        assert built == original
        assert dataclasses.astuple(built) == dataclasses.astuple(original)
        assert hash(built) == hash(original)
        with pytest.raises(dataclasses.FrozenInstanceError):
            built.job_id = "other"  # type: ignore[misc]
        with pytest.raises(TypeError):
            checked_constructor(cls)(*values[:-1])


# -- outputs frames built in pieces -----------------------------------------------


@pytest.fixture(scope="module")
def sample_index() -> FabricIndex:
    index = FabricIndex()
    index.add_jobs(sample_jobs(300))
    return index


def test_a_frame_built_in_pieces_is_the_frame_built_at_once(
    sample_index: FabricIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fabric_nb import frames

    all_jobs = sample_index.get_all_jobs()
    whole = outputs_frame(all_jobs)
    monkeypatch.setattr(frames, "_JOBS_PER_PIECE", 7)
    assert len(all_jobs) > 7 * 3
    pd.testing.assert_frame_equal(outputs_frame(all_jobs), whole)
    pd.testing.assert_frame_equal(outputs(FabricQueries(sample_index)), whole)


def test_an_unknown_clip_status_in_a_later_piece_names_its_clip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fabric_nb import frames

    monkeypatch.setattr(frames, "_JOBS_PER_PIECE", 2)
    good = [make_job(f"job_{i}", started_at=datetime(2026, 1, 1, i, tzinfo=UTC)) for i in range(5)]
    bad = make_job(
        "job_x",
        started_at=datetime(2026, 1, 2, tzinfo=UTC),
        outputs=(make_output("job_x", 0), make_output("job_x", 1, status="OK")),
    )
    with pytest.raises(ValueError, match=r"clip 1 of job 'job_x' has status 'OK'"):
        outputs_frame([*good, bad])


# -- reading a file a scan has just seen ----------------------------------------


def test_a_file_seen_regular_is_still_checked_once_open(tmp_path: Path) -> None:
    """``seen_regular`` skips the look before opening, never the check on the open file."""
    import os

    from fabric_nb._regular_files import FileTooLargeError, NotRegularFileError, read_regular_file

    good = tmp_path / "good.json"
    good.write_bytes(b"{}")
    assert read_regular_file(good, limit=10, seen_regular=True) == b"{}"
    fifo = tmp_path / "swapped.json"  # a FIFO swapped in after the scan: refused, not waited on
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match="FIFO"):
        read_regular_file(fifo, limit=10, seen_regular=True)
    with pytest.raises(NotRegularFileError, match="directory"):
        read_regular_file(tmp_path, limit=10, seen_regular=True)
    with pytest.raises(FileTooLargeError):
        read_regular_file(good, limit=1, seen_regular=True)


def test_a_result_file_swapped_for_a_fifo_after_the_scan_is_rejected(tmp_path: Path) -> None:
    import os

    from fabric_nb._ingest_cache import IngestCache
    from fabric_nb._scan import scan_paths
    from fabric_nb.bulk import ingest_scan

    folder = tmp_path / "results"
    folder.mkdir()
    write_result(folder, make_result(job_id="job_a"), "a.json")
    write_result(folder, make_result(job_id="job_b"), "b.json")
    scan = scan_paths([folder], ["*.json"])
    (folder / "a.json").unlink()
    os.mkfifo(folder / "a.json")
    db = tmp_path / "fabric.db"
    with create_persistence(db) as persistence, IngestCache(db, warn=print) as cache:
        report = ingest_scan(scan, persistence, cache=cache)
        assert persistence.storage.load_job_ids() == {"job_b"}
    assert [(r.path.name, "FIFO" in r.reason) for r in report.rejected] == [("a.json", True)]


@pytest.mark.parametrize("key", list(META_FIELDS))
@pytest.mark.parametrize("value", [None, "", "plain", "été", "a\x00b", "\ud800", 5, True, ["x"]])
def test_metadata_fast_path_gives_what_the_field_checks_give(key: str, value: Any) -> None:
    """The one-expression metadata check keeps, refuses and names as text() does."""
    from fabric_nb.ingestion import _Parser, parse_execution_result

    def verdict(call: Any) -> tuple[str, Any]:
        try:
            return ("value", call())
        except IngestionError as exc:
            return ("error", str(exc).replace("<memory>", "x"))

    expected = verdict(
        lambda: _Parser("x").text({key: value}, key, f"_metadata.{key}", required=False)
    )
    if key == "fingerprint" and not (type(value) is str and value):
        expected = ("value", None)  # a fingerprint that is not text is no fingerprint
    got = verdict(
        lambda: getattr(
            parse_execution_result(make_result(_metadata={key: value})), META_FIELDS[key]
        )
    )
    assert got == expected


# -- the folder scan ------------------------------------------------------------


def _reference_scan(folder: Path, suffix: str) -> tuple[list[tuple[str, int]], list[str]]:
    """What a scan must find, by the slow road: DirEntry kinds, sorted relative parts.

    (result files as (path, inode), other files), each sorted by the relative
    path compared folder name by folder name; links to folders are not followed.
    """
    found: list[tuple[tuple[str, ...], str, int]] = []
    other: list[tuple[tuple[str, ...], str]] = []
    pending = [folder]
    while pending:
        with os.scandir(pending.pop()) as listing:
            for entry in listing:
                parts = Path(entry.path).relative_to(folder).parts
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif not entry.name.lower().endswith(suffix):
                    other.append((parts, entry.path))
                elif os.path.exists(entry.path) and not entry.is_dir():
                    found.append((parts, entry.path, entry.stat().st_ino))
    return (
        [(path, inode) for _, path, inode in sorted(found)],
        [path for _, path in sorted(other)],
    )


def test_the_scan_finds_what_a_walk_of_direntries_finds(tmp_path: Path) -> None:
    from fabric_nb._scan import FileStat, ScannedFile, scan_paths

    root = tmp_path / "results"
    for relative in (
        "b.json", "A.JSON", "a.json", "a-b.json", "a/z.json", "a/b/c.json", "a.b/x.json",
        "dir.json/inner.json", "notes.txt", "a/b/readme", "zz/deep/er/q.json", "é.json",
    ):  # fmt: skip
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("{}")
    (root / "empty").mkdir()
    (root / "link-to-file.json").symlink_to(root / "a" / "z.json")
    (root / "link-to-dir.json").symlink_to(root / "a", target_is_directory=True)
    (root / "link-to-dir").symlink_to(root / "a", target_is_directory=True)
    (root / "dangling.json").symlink_to(root / "nowhere.json")
    (root / "dangling.txt").symlink_to(root / "nowhere.txt")

    scan = scan_paths([root])
    files, other = _reference_scan(root, ".json")
    assert [(file.name, file.stat.st_ino) for file in scan.files] == files
    assert [str(path) for path in scan.other] == other
    for file in scan.files:
        assert type(file) is ScannedFile
        assert file == ScannedFile(file.name, os.path.abspath(file.name), file.stat)
        assert file.path == Path(file.name)
        assert file.stat == FileStat.of(os.stat(file.name))


def test_a_relative_folder_keeps_its_written_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fabric_nb._scan import scan_paths

    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "r.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    (file,) = scan_paths(["in"]).files
    assert file.name == os.path.join("in", "sub", "r.json")
    assert file.key == str(tmp_path / "in" / "sub" / "r.json")


def test_a_file_given_twice_or_inside_a_given_folder_is_found_once(tmp_path: Path) -> None:
    from fabric_nb._scan import scan_paths

    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text("{}")
    one, two = tmp_path / "a.json", tmp_path / "b.json"
    assert [f.name for f in scan_paths([two, tmp_path, one, two]).files] == [str(two), str(one)]
    assert [f.name for f in scan_paths([tmp_path, tmp_path]).files] == [str(one), str(two)]
    assert [f.name for f in scan_paths([one]).files] == [str(one)]
