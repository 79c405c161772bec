"""The original Fabric API, called the way its callers call it.

Code written against the original (``fabric.`` imports) runs on ``fabric_nb``
with nothing changed but the import path: every signature of
PHASE_1_CONTEXT.md "The original API's signatures", positionally and by
keyword, the spec's whole usage flow, a restart in a second process, and
``FabricIndex.clear()`` followed by ``rebuild()``. The table in
docs/persistence.md ("The original Fabric API") maps each name.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import (
    RunPython,
    make_clip,
    make_job,
    make_output,
    make_result,
    query_answers,
    sha256_of,
    tricky_jobs,
    write_result,
)

from fabric_nb.index import FabricIndex
from fabric_nb.ingestion import IngestionError, ingest_execution_result
from fabric_nb.models import IngestedJob, IngestedOutput
from fabric_nb.persistence import FabricPersistence, PersistenceError, create_persistence
from fabric_nb.queries import FabricQueries
from fabric_nb.storage import (
    DEFAULT_STORAGE_PATH,
    FabricStorage,
    StorageCorruptionError,
    StorageError,
)

STARTED = datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)
COMPLETED = STARTED + timedelta(minutes=1)
INGESTED = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)

#: The original's field order for IngestedJob, with its defaults (``...`` = required).
JOB_SIGNATURE: list[tuple[str, Any]] = [
    ("job_id", ...), ("final_status", ...), ("started_at", ...),
    ("canonical_proxy_profile", None), ("fingerprint", None), ("validation_stage", None),
    ("validation_error", None), ("engine_used", None), ("resolve_preset_used", None),
    ("jobspec_version", None), ("completed_at", None), ("ingested_at", "now"),
    ("total_clips", 0), ("completed_clips", 0), ("failed_clips", 0), ("outputs", "empty"),
]  # fmt: skip
OUTPUT_SIGNATURE: list[tuple[str, Any]] = [
    ("job_id", ...), ("clip_id", ...), ("source_path", ...), ("output_path", ...),
    ("output_exists", ...), ("output_size_bytes", ...), ("status", ...),
    ("failure_reason", None), ("engine_used", None), ("proxy_profile_used", None),
    ("resolve_preset_used", None),
]  # fmt: skip


# -- imports ------------------------------------------------------------------------


def test_every_original_name_is_where_the_original_had_it() -> None:
    """``from fabric.X import Y`` becomes ``from fabric_nb.X import Y``; the package has them too."""
    import fabric_nb.index
    import fabric_nb.ingestion
    import fabric_nb.models
    import fabric_nb.persistence
    import fabric_nb.queries
    import fabric_nb.storage

    where = {
        fabric_nb.models: ["IngestedJob", "IngestedOutput"],
        fabric_nb.ingestion: ["ingest_execution_result", "IngestionError"],
        fabric_nb.storage: ["FabricStorage", "StorageError", "StorageCorruptionError",
                            "DEFAULT_STORAGE_PATH"],
        fabric_nb.persistence: ["FabricPersistence", "create_persistence", "PersistenceError"],
        fabric_nb.index: ["FabricIndex"],
        fabric_nb.queries: ["FabricQueries"],
    }  # fmt: skip
    for module, names in where.items():
        for name in names:
            assert getattr(module, name) is getattr(fabric_nb, name), (module, name)
    assert issubclass(StorageCorruptionError, StorageError)
    assert Path("~/.proxx/fabric/fabric.db") == DEFAULT_STORAGE_PATH


# -- models -------------------------------------------------------------------------


def test_ingested_output_signature_is_the_original() -> None:
    assert [(f.name) for f in dataclasses.fields(IngestedOutput)] == [
        name for name, _ in OUTPUT_SIGNATURE
    ]
    values: list[Any] = ["j", "c1", "/in/a.mov", "/out/a.mov", True, 10, "COMPLETED"]
    positional = IngestedOutput(*values)
    keyword = IngestedOutput(
        **{name: v for (name, _), v in zip(OUTPUT_SIGNATURE[:7], values, strict=True)}
    )
    assert positional == keyword
    assert (positional.failure_reason, positional.engine_used) == (None, None)
    assert (positional.proxy_profile_used, positional.resolve_preset_used) == (None, None)
    full = IngestedOutput(
        "j", "c1", "/in/a.mov", "/out/a.mov", True, 10, "FAILED", "boom", "ffmpeg", "p", "preset"
    )
    assert full.failure_reason == "boom"
    assert full.resolve_preset_used == "preset"
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.status = "COMPLETED"  # type: ignore[misc]


def test_ingested_job_signature_is_the_original() -> None:
    job_fields = dataclasses.fields(IngestedJob)
    assert [f.name for f in job_fields] == [name for name, _ in JOB_SIGNATURE]
    for f, (_, default) in zip(job_fields, JOB_SIGNATURE, strict=True):
        if default is ...:
            assert f.default is dataclasses.MISSING
            assert f.default_factory is dataclasses.MISSING
        elif default in ("now", "empty"):
            pass  # checked on a built job below
        else:
            assert f.default == default, f.name


def test_ingested_job_with_only_the_required_fields_has_the_original_defaults() -> None:
    before = datetime.now(UTC)
    job = IngestedJob("job-1", "COMPLETED", STARTED)
    after = datetime.now(UTC)
    assert job.canonical_proxy_profile is None
    assert job.fingerprint is None
    assert job.validation_stage is None
    assert job.validation_error is None
    assert job.engine_used is None
    assert job.resolve_preset_used is None
    assert job.jobspec_version is None
    assert job.completed_at is None
    assert (job.total_clips, job.completed_clips, job.failed_clips) == (0, 0, 0)
    assert job.outputs == ()
    assert list(job.outputs) == []
    assert job.ingested_at.utcoffset() == timedelta(0)  # UTC, as the original
    assert before <= job.ingested_at <= after
    assert IngestedJob(job_id="job-1", final_status="COMPLETED", started_at=STARTED).outputs == ()


def test_ingested_job_positional_and_keyword_calls_build_the_same_job() -> None:
    outputs = [make_output("job-1", 0), make_output("job-1", 1)]
    values: list[Any] = [
        "job-1", "PARTIAL", STARTED, "proxy_prores_proxy", "sha256:ab", "execution",
        "one clip failed", "resolve", "DNxHR LB", "2.1", COMPLETED, INGESTED, 2, 1, 1, outputs,
    ]  # fmt: skip
    positional = IngestedJob(*values)
    keyword = IngestedJob(**{name: v for (name, _), v in zip(JOB_SIGNATURE, values, strict=True)})
    mixed = IngestedJob("job-1", "PARTIAL", STARTED, "proxy_prores_proxy",
                        **{name: v for (name, _), v in zip(JOB_SIGNATURE[4:], values[4:], strict=True)})  # fmt: skip
    assert positional == keyword == mixed
    assert hash(positional) == hash(keyword)
    for (name, _), value in zip(JOB_SIGNATURE, values, strict=True):
        expected = tuple(value) if name == "outputs" else value
        assert getattr(positional, name) == expected, name
    assert positional.duration_seconds == 60.0
    assert positional.success is False


def test_outputs_given_as_a_list_are_kept_as_a_tuple_and_the_job_stays_frozen() -> None:
    outputs = [make_output("job-1", 0)]
    job = IngestedJob("job-1", "COMPLETED", STARTED, ingested_at=INGESTED,
                      outputs=outputs,  # type: ignore[arg-type]  # a list, as the original took
                      total_clips=1, completed_clips=1)  # fmt: skip
    outputs.append(make_output("job-1", 1))  # the caller's list is not the job's
    assert job.outputs == (make_output("job-1", 0),)
    assert type(job.outputs) is tuple
    assert job == IngestedJob("job-1", "COMPLETED", STARTED, ingested_at=INGESTED,
                              outputs=tuple(outputs[:1]), total_clips=1,
                              completed_clips=1)  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.outputs = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.final_status = "FAILED"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["started_at", "completed_at", "ingested_at"])
def test_a_naive_datetime_is_refused(name: str) -> None:
    """The one deliberate difference in the models: Fabric does not guess a time zone."""
    kwargs: dict[str, Any] = {"job_id": "j", "final_status": "COMPLETED", "started_at": STARTED}
    kwargs[name] = datetime(2026, 1, 5, 10, 0)
    with pytest.raises(ValueError, match=f"^{name} must be timezone-aware"):
        IngestedJob(**kwargs)


# -- storage and persistence --------------------------------------------------------


def test_fabric_storage_positional_keyword_and_default_path(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    default = tmp_path / "home" / ".proxx" / "fabric" / "fabric.db"
    assert FabricStorage().db_path == default
    assert FabricStorage(None).db_path == default
    assert FabricStorage(db_path=None).path == default
    assert FabricStorage(str(db_path)).db_path == db_path
    assert FabricStorage(db_path=db_path).db_path == db_path == FabricStorage(db_path).path

    job = make_job("job-1")
    with FabricStorage(db_path) as storage:
        assert storage.get_schema_version() == 1
        storage.persist_job(job)
        assert storage.load_all_jobs() == [job]
    storage = FabricStorage(db_path=db_path)
    storage.open()
    assert storage.load_all_jobs() == [job]
    storage.close()

    with FabricStorage() as storage:  # the default path, created under HOME
        storage.persist_job(job)
    assert default.is_file()


@pytest.mark.parametrize("as_text", [True, False])
def test_fabric_persistence_takes_a_path_positionally_or_by_keyword(
    db_path: Path, as_text: bool
) -> None:
    given: str | Path = str(db_path) if as_text else db_path
    for persistence in (FabricPersistence(given), FabricPersistence(storage_path=given)):
        assert persistence.path == db_path
        assert persistence.is_open() is False
        persistence.open()
        assert persistence.is_open() is True
        assert persistence.get_schema_version() == 1
        persistence.persist_ingested_job(make_job("job-1"))
        assert [j.job_id for j in persistence.load_all_jobs()] == ["job-1"]
        persistence.close()  # the original's own call; it once raised AttributeError
        assert persistence.is_open() is False
        persistence.close()
    with FabricPersistence(given) as persistence:
        assert persistence.is_open()
    assert not persistence.is_open()


def test_persistence_and_create_persistence_default_to_the_default_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    default = tmp_path / ".proxx" / "fabric" / "fabric.db"
    for persistence in (
        FabricPersistence(),
        FabricPersistence(None),
        FabricPersistence(storage_path=None),
        create_persistence(),
        create_persistence(None),
        create_persistence(storage_path=None),
    ):
        assert persistence.path == default
    with FabricPersistence() as persistence:
        persistence.persist_ingested_job(make_job("job-1"))
    with create_persistence() as persistence:
        assert [j.job_id for j in persistence.load_all_jobs()] == ["job-1"]


def test_a_fabric_storage_object_is_accepted_too(db_path: Path) -> None:
    storage = FabricStorage(db_path)
    with FabricPersistence(storage) as persistence:
        persistence.persist_ingested_job(make_job("job-1"))
        assert persistence.path == db_path
    with FabricPersistence(FabricStorage(db_path, readonly=True)) as persistence:
        assert persistence.readonly
        assert [j.job_id for j in persistence.load_all_jobs()] == ["job-1"]
    with pytest.raises(TypeError, match="carries its own mode"):
        FabricPersistence(FabricStorage(db_path), readonly=True)


@pytest.mark.parametrize("bad", [0, 1.5, True, b"/tmp/fabric.db", ["fabric.db"], {}, object()])
def test_anything_else_is_a_type_error_at_construction(bad: Any, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"^FabricPersistence: storage_path must be a str"):
        FabricPersistence(bad)
    with pytest.raises(TypeError, match=r"storage_path must be"):
        FabricPersistence(storage_path=bad)
    with pytest.raises(TypeError):
        create_persistence(bad)
    assert list(tmp_path.iterdir()) == []  # nothing was created anywhere near


def test_persistence_not_opened(db_path: Path) -> None:
    persistence = FabricPersistence(db_path)
    for call in (
        lambda: persistence.persist_ingested_job(make_job("job-1")),
        persistence.load_all_jobs,
        persistence.get_schema_version,
    ):
        with pytest.raises(PersistenceError, match=r"^Persistence not opened$"):
            call()
    assert not db_path.exists()


# -- the spec's usage flow ----------------------------------------------------------

SEED_FLOW = """
import json
from support import query_answers
from fabric_nb.persistence import {maker}
from fabric_nb.index import FabricIndex
from fabric_nb.queries import FabricQueries
from fabric_nb.ingestion import ingest_execution_result

persistence = {maker}({args})
persistence.open()
index = FabricIndex(persistence=persistence)
for path in {paths!r}:
    job = ingest_execution_result(path)
    index.add_job(job)
queries = FabricQueries(index)
print(json.dumps(query_answers(queries)))
persistence.close()
"""


def _results(folder: Path) -> list[str]:
    """Three result files: two jobs, one of them run twice (the later run wins)."""
    folder.mkdir()
    first = make_result(job_id="job-a", final_status="FAILED",
                        clips=[make_clip(0, status="FAILED", failure_reason="boom")],
                        _metadata={"engine_used": "ffmpeg", "proxy_profile_used": "p1",
                                   "fingerprint": "sha256:aa"})  # fmt: skip
    other = make_result(job_id="job-b", started_at="2026-01-05T11:00:00+02:00",
                        _metadata={"engine_used": "resolve", "proxy_profile_used": "p2"})  # fmt: skip
    again = make_result(job_id="job-a", started_at="2026-01-05T12:00:00+00:00",
                        _metadata={"engine_used": "ffmpeg", "proxy_profile_used": "p1",
                                   "fingerprint": "sha256:aa"})  # fmt: skip
    return [
        str(write_result(folder, doc, name=f"{i}.json"))
        for i, doc in enumerate([first, other, again])
    ]


@pytest.mark.parametrize(
    ("maker", "args"),
    [
        ("create_persistence", ""),  # the spec's own lines: the default path under HOME
        ("FabricPersistence", ""),
        ("FabricPersistence", "{db!r}"),
        ("FabricPersistence", "storage_path={db!r}"),
        ("create_persistence", "{db!r}"),
    ],
)
def test_the_spec_usage_flow_then_a_restart_in_a_second_process(
    tmp_path: Path, db_path: Path, home_dir: Path, run_py: RunPython, maker: str, args: str
) -> None:
    paths = _results(tmp_path / "results")
    code = SEED_FLOW.format(maker=maker, args=args.format(db=str(db_path)), paths=paths)
    written = json.loads(run_py(code))
    store = db_path if args else home_dir / ".proxx" / "fabric" / "fabric.db"
    assert store.is_file()

    # A second process, the same flow and nothing to add: the history is what was written.
    restarted = json.loads(run_py(SEED_FLOW.format(maker=maker, args=args.format(db=str(db_path)),
                                                   paths=[])))  # fmt: skip
    assert restarted == written
    assert written["count"] == 2
    assert written["by_status"] == {"COMPLETED": 2, "FAILED": 0, "PARTIAL": 0}
    assert written["profile"]["p1"] == ["job-a"]
    assert written["engine"]["resolve"] == ["job-b"]

    # And it answers as the in-memory index over the same files does.
    memory = FabricIndex()
    for path in paths:
        memory.add_job(ingest_execution_result(path))
    expected = query_answers(FabricQueries(memory))
    ignore = {"all", "job"}  # ingested_at differs between the two reads of the files
    assert {k: v for k, v in restarted.items() if k not in ignore} == {
        k: v for k, v in expected.items() if k not in ignore
    }


def test_every_query_positionally_and_by_keyword(db_path: Path) -> None:
    jobs = tricky_jobs()
    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence=persistence)
        for job in jobs:
            index.add_job(job)
        queries = FabricQueries(index)
        same = FabricQueries(index=index)
        by_id = {job.job_id: job for job in jobs}

        assert queries.get_job("j-utc") == same.get_job(job_id="j-utc") == by_id["j-utc"]
        assert queries.get_job_history("j-utc") == same.get_job_history(job_id="j-utc")
        assert queries.get_job_history("j-utc") == by_id["j-utc"]
        assert queries.get_job_history("nope") is None
        assert [j.job_id for j in queries.get_jobs_by_fingerprint("sha256:aa")] == [
            j.job_id for j in same.get_jobs_by_fingerprint(fingerprint="sha256:aa")
        ] == ["j-east", "j-utc"]  # fmt: skip
        assert queries.get_jobs_by_profile("proxy_h264_low") == same.get_jobs_by_profile(
            profile_id="proxy_h264_low"
        ) == [by_id["j-east"]]  # fmt: skip
        assert index.get_jobs_by_profile(profile_id="proxy_h264_low") == [by_id["j-east"]]
        assert queries.get_jobs_by_engine("resolve") == same.get_jobs_by_engine(
            engine="resolve"
        ) == [by_id["j-same-b"]]  # fmt: skip
        assert [j.job_id for j in queries.get_completed_jobs()] == ["j-east", "j-utc"]
        assert [j.job_id for j in queries.get_failed_jobs()] == ["j-bare", "j-india", "j-same-b"]
        assert [j.job_id for j in queries.get_partial_jobs()] == ["j-same-a"]
        assert queries.get_outputs_for_job("j-utc") == same.get_outputs_for_job(job_id="j-utc")
        assert queries.get_outputs_for_job("j-utc") == list(by_id["j-utc"].outputs)
        assert queries.get_outputs_for_job("nope") == []
        assert len(queries.get_all_jobs()) == queries.count_jobs() == 6
        assert queries.count_jobs_by_status("FAILED") == same.count_jobs_by_status(status="FAILED")
        assert queries.count_jobs_by_status("FAILED") == 3
        for unknown in ("SKIPPED", "completed", "", "RUNNING"):
            assert queries.count_jobs_by_status(unknown) == 0

        # The index's own lookups, positionally and by keyword.
        assert index.get_job("j-utc") == index.get_job(job_id="j-utc")
        assert index.get_jobs_by_fingerprint(fingerprint="sha256:aa") == (
            index.get_jobs_by_fingerprint("sha256:aa")
        )
        assert index.get_jobs_by_status(status="PARTIAL") == [by_id["j-same-a"]]
        assert index.get_jobs_by_engine(engine="resolve") == [by_id["j-same-b"]]
        assert index.count_jobs() == len(index.get_all_jobs()) == 6
        index.add_job(job=make_job("added"))
        assert index.count_jobs() == 7


def test_a_memory_only_index_as_in_phase_1() -> None:
    for index in (FabricIndex(), FabricIndex(None), FabricIndex(persistence=None)):
        index.add_job(make_job("job-1"))
        assert index.get_job("job-1") == make_job("job-1")
        index.clear()
        assert index.get_job("job-1") is None
        assert index.count_jobs() == 0
        index.rebuild()  # no storage: nothing to restore
        assert index.get_all_jobs() == []


def test_clear_then_rebuild(db_path: Path) -> None:
    jobs = tricky_jobs()
    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence=persistence)
        for job in jobs:
            index.add_job(job)
        answers = query_answers(FabricQueries(index))
        digest = sha256_of(db_path)

        index.clear()
        assert index.count_jobs() == 0
        assert index.get_all_jobs() == []
        assert index.get_jobs_by_status("FAILED") == []
        assert index.get_jobs_by_profile("proxy_h264_low") == []
        assert FabricQueries(index).count_jobs_by_status("FAILED") == 0
        assert sha256_of(db_path) == digest  # storage untouched
        assert len(persistence.load_all_jobs()) == len(jobs)

        index.rebuild()
        assert query_answers(FabricQueries(index)) == answers
        assert sha256_of(db_path) == digest

        index.clear()
        index.add_job(make_job("after-clear"))  # writes through as before
        assert [j.job_id for j in index.get_all_jobs()] == ["after-clear"]
        index.rebuild()
        assert index.count_jobs() == len(jobs) + 1


# -- the spec's words ---------------------------------------------------------------


def test_a_failed_write_starts_with_the_spec_words(db_path: Path) -> None:
    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence=persistence)
        index.add_job(make_job("kept"))
    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence=persistence)
        # A real SQLite refusal, with SQLite's own disk-full text (the real full
        # disk is in test_disk_full.py). Added by another connection while the
        # store is open: a trigger is not Fabric's schema, so an open refuses it.
        conn = sqlite3.connect(db_path)
        conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON jobs "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        conn.commit()
        conn.close()
        with pytest.raises(StorageError) as one:
            index.add_job(make_job("new"))
        with pytest.raises(StorageError) as batch:
            index.add_jobs([make_job("x"), make_job("y")])
        with pytest.raises(StorageError) as direct:
            persistence.persist_ingested_job(make_job("z"))
        assert [j.job_id for j in persistence.load_all_jobs()] == ["kept"]
    spec = "Failed to persist job: database or disk is full"
    assert str(one.value) == f"{spec} (job 'new')"
    assert str(direct.value) == f"{spec} (job 'z')"
    assert str(batch.value) == f"{spec} (jobs 'x' ... 'y', 2 jobs, none stored)"


def test_version_and_corruption_messages_start_with_the_spec_words(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with create_persistence(newer):
        pass
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with pytest.raises(StorageError, match=r"^Schema version mismatch: expected 1, found 2 "):
        FabricPersistence(newer).open()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 1000)
    with pytest.raises(StorageCorruptionError, match=r"^Database corruption detected"):
        FabricPersistence(garbage).open()


def test_ingestion_refusals_carry_the_original_words(tmp_path: Path) -> None:
    def refusal(path: Path) -> str:
        with pytest.raises(IngestionError) as info:
            ingest_execution_result(path)
        message = str(info.value)
        assert message.startswith(f"{path}: "), message  # the file, as every refusal
        return message.removeprefix(f"{path}: ")

    assert refusal(tmp_path / "missing.json") == "File not found"
    assert refusal(write_result(tmp_path, b'{"job_id": ', name="cut.json")).startswith(
        "Invalid JSON: Expecting value (line 1, column 12)"
    )
    doc = make_result()
    del doc["job_id"], doc["started_at"], doc["clips"][1]["status"]
    assert refusal(write_result(tmp_path, doc, name="holes.json")) == (
        "Missing required fields: job_id, started_at, clips[1].status"
    )
    assert refusal(write_result(tmp_path, make_result(final_status="SKIPPED"))) == (
        "Invalid final_status: expected one of COMPLETED, FAILED, PARTIAL, got 'SKIPPED'"
    )
