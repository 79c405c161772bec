"""A job loaded from storage keeps its outputs packed, and nobody can tell from outside.

Storage checks every output at load and keeps them as compact text
(``fabric_nb._packed.PackedOutputs``); ``job.outputs`` builds the tuple on each read. These tests
pin that a loaded job behaves exactly like the job that was stored: the same
tuple, equality, hash, repr, ``dataclasses`` helpers, pickling, frames and
summaries; and that what is packed was checked.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import msgspec
import pandas as pd
import pytest
from support import make_job, make_output, sample_jobs, tricky_jobs

from fabric_nb import FabricIndex, IngestedJob, IngestedOutput, create_persistence
from fabric_nb._packed import OutputRecord, output_records
from fabric_nb.frames import outputs, outputs_frame
from fabric_nb.queries import FabricQueries
from fabric_nb.rows import _StoredOutput
from fabric_nb.schema import OUTPUT_FIELDS
from fabric_nb.storage_report import summarize_jobs


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
        assert loaded == original and original == loaded
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
    assert first == second and first is not second  # nothing cached
    for record, output in zip(output_records(loaded), original.outputs, strict=True):
        assert msgspec.structs.astuple(record) == dataclasses.astuple(output)[1:]
    assert all(o.job_id is loaded.job_id for o in loaded.outputs)


def test_a_job_without_outputs_holds_an_empty_tuple(db_path: Path) -> None:
    ((original, loaded),) = _stored_and_loaded(
        db_path, [make_job("job_empty", outputs=(), total_clips=0, completed_clips=0)]
    )
    assert tuple(output_records(loaded)) == () and loaded.outputs == () == original.outputs


def test_a_loaded_job_is_frozen(pairs: list[tuple[IngestedJob, IngestedJob]]) -> None:
    _, loaded = pairs[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.outputs = ()  # type: ignore[misc]


def test_any_iterable_of_outputs_still_becomes_a_tuple() -> None:
    outs = [make_output("job_list", 0), make_output("job_list", 1)]
    job = make_job("job_list", outputs=outs)
    assert job.outputs == tuple(outs) and type(job.outputs) is tuple
    assert len(output_records(job)) == 2


def test_record_and_stored_fields_follow_the_output_fields() -> None:
    assert [f.name for f in dataclasses.fields(IngestedOutput)] == list(OUTPUT_FIELDS)
    assert OutputRecord.__struct_fields__ == OUTPUT_FIELDS[1:]
    assert _StoredOutput.__struct_fields__ == OUTPUT_FIELDS


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
