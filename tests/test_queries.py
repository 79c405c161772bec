"""The Phase-1 question API over an index: complete, exact, read-only, and the same
whether the index is memory-only or rebuilt from storage in another process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import (
    RunPython,
    job_record,
    make_job,
    make_output,
    query_answers,
    sample_jobs,
    sha256_of,
    tricky_jobs,
    tz,
)

from fabric_nb import FabricIndex, FabricQueries, IngestedJob, create_persistence
from fabric_nb.models import job_order_key

PHASE_1_METHODS = {
    "get_job", "get_job_history", "get_jobs_by_fingerprint", "get_jobs_by_profile",
    "get_jobs_by_engine", "get_completed_jobs", "get_failed_jobs", "get_partial_jobs",
    "get_outputs_for_job", "get_all_jobs", "count_jobs", "count_jobs_by_status",
}  # fmt: skip
#: What fabric_nb adds to the Phase-1 list: questions, never decisions.
ADDED_METHODS = {"get_jobs_started_between"}


def queries_over(jobs: list[IngestedJob]) -> FabricQueries:
    index = FabricIndex()
    index.add_jobs(jobs)
    return FabricQueries(index)


def ids(found: list[IngestedJob]) -> list[str]:
    return [job.job_id for job in found]


def expected_ids(jobs: list[IngestedJob], keep) -> list[str]:
    latest = {job.job_id: job for job in jobs}
    return [j.job_id for j in sorted(latest.values(), key=job_order_key) if keep(j)]


def test_the_full_phase_1_method_list_and_nothing_that_decides() -> None:
    public = {name for name in dir(FabricQueries) if not name.startswith("_")}
    assert public == PHASE_1_METHODS | ADDED_METHODS | {"index"}
    for name in PHASE_1_METHODS:
        assert callable(getattr(FabricQueries, name))


def test_each_question_has_the_right_answer() -> None:
    jobs = sample_jobs(150) + tricky_jobs()
    queries = queries_over(jobs)
    latest = {job.job_id: job for job in jobs}

    assert queries.count_jobs() == len(latest)
    assert ids(queries.get_all_jobs()) == expected_ids(jobs, lambda j: True)
    assert ids(queries.get_completed_jobs()) == expected_ids(
        jobs, lambda j: j.final_status == "COMPLETED"
    )
    assert ids(queries.get_failed_jobs()) == expected_ids(
        jobs, lambda j: j.final_status == "FAILED"
    )
    assert ids(queries.get_partial_jobs()) == expected_ids(
        jobs, lambda j: j.final_status == "PARTIAL"
    )
    for status in ("COMPLETED", "FAILED", "PARTIAL"):
        assert queries.count_jobs_by_status(status) == sum(
            1 for j in latest.values() if j.final_status == status
        )
    for engine in ("ffmpeg", "resolve"):
        assert ids(queries.get_jobs_by_engine(engine)) == expected_ids(
            jobs, lambda j, e=engine: j.engine_used == e
        )
    profiles = {
        j.canonical_proxy_profile for j in latest.values() if j.canonical_proxy_profile is not None
    }
    assert len(profiles) >= 5
    for profile in profiles:
        assert ids(queries.get_jobs_by_profile(profile)) == expected_ids(
            jobs, lambda j, p=profile: j.canonical_proxy_profile == p
        )
    fingerprints = {j.fingerprint for j in latest.values() if j.fingerprint is not None}
    assert any(len(queries.get_jobs_by_fingerprint(f)) > 1 for f in fingerprints)
    for fingerprint in fingerprints:
        assert ids(queries.get_jobs_by_fingerprint(fingerprint)) == expected_ids(
            jobs, lambda j, f=fingerprint: j.fingerprint == f
        )
    for job_id, job in latest.items():
        assert queries.get_job(job_id) is job
        assert queries.get_outputs_for_job(job_id) == list(job.outputs)


def test_outputs_keep_execution_order() -> None:
    outputs = [make_output("j", i, source_path=f"/m/{name}.mov") for i, name in
               enumerate(["zeta", "alpha", "mid"])]  # fmt: skip
    queries = queries_over([make_job("j", outputs=outputs)])
    assert [o.source_path for o in queries.get_outputs_for_job("j")] == [
        "/m/zeta.mov", "/m/alpha.mov", "/m/mid.mov",
    ]  # fmt: skip


def test_missing_things_are_none_or_empty_never_an_error() -> None:
    for queries in (queries_over([]), queries_over(tricky_jobs())):
        assert queries.get_job("no-such-job") is None
        assert queries.get_outputs_for_job("no-such-job") == []
        assert queries.get_jobs_by_fingerprint("sha256:never") == []
        assert queries.get_jobs_by_profile("no_profile") == []
        assert queries.get_jobs_by_engine("handbrake") == []
    empty = queries_over([])
    assert empty.get_all_jobs() == []
    assert empty.get_completed_jobs() == []
    assert empty.get_failed_jobs() == []
    assert empty.get_partial_jobs() == []
    assert empty.get_job_history("no-such-job") is None
    assert empty.get_jobs_started_between() == []
    assert empty.count_jobs() == 0
    assert empty.count_jobs_by_status("FAILED") == 0


def test_lookups_are_exact_and_case_sensitive() -> None:
    queries = queries_over(tricky_jobs())
    assert ids(queries.get_jobs_by_engine("resolve")) == ["j-same-b"]
    assert queries.get_jobs_by_engine("Resolve") == []
    assert queries.get_jobs_by_profile("PROXY_H264_LOW") == []
    assert queries.get_job("J-EAST") is None


@pytest.mark.parametrize("status", ["completed", "Failed", "SKIPPED", "", "ALL"])
def test_a_status_nobody_has_counts_zero(status: str) -> None:
    """Phase 1's rule: a question about what is not there is answered, not refused."""
    queries = queries_over(tricky_jobs())
    assert queries.count_jobs_by_status(status) == 0
    assert queries.index.count_by_status(status) == 0
    assert queries.index.get_jobs_by_status(status) == []


def test_get_job_history_is_the_latest_record_of_the_job() -> None:
    first = make_job("j", final_status="FAILED", failed_clips=2, completed_clips=0)
    latest = make_job("j")
    queries = queries_over([first, latest])
    assert queries.get_job_history("j") == latest == queries.get_job("j")
    assert queries.get_job_history(job_id="j") is queries.get_job("j")
    assert queries.get_job_history("other") is None


def test_counts_by_status() -> None:
    queries = queries_over(tricky_jobs())
    assert [queries.count_jobs_by_status(s) for s in ("COMPLETED", "FAILED", "PARTIAL")] == [
        2, 3, 1,
    ]  # fmt: skip


# -- time windows ----------------------------------------------------------------------


def test_window_is_since_inclusive_until_exclusive() -> None:
    queries = queries_over(tricky_jobs())
    nine = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # j-utc starts exactly here
    noon = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # j-same-a and j-same-b start here
    assert ids(queries.get_jobs_started_between(since=nine, until=noon)) == ["j-utc", "j-india"]
    assert ids(queries.get_jobs_started_between(nine, noon)) == ["j-utc", "j-india"]
    assert ids(queries.get_jobs_started_between(since=noon)) == ["j-same-a", "j-same-b"]
    assert ids(queries.get_jobs_started_between(until=nine)) == ["j-bare", "j-east"]
    assert ids(queries.get_jobs_started_between()) == ids(queries.get_all_jobs())
    assert queries.get_jobs_started_between(since=noon, until=nine) == []
    assert queries.get_jobs_started_between(since=nine, until=nine) == []


def test_window_bounds_compare_as_instants_whatever_their_offset() -> None:
    queries = queries_over(tricky_jobs())
    nine_utc = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for offset in (-8, 0, 5.5, 14):
        bound = nine_utc.astimezone(tz(offset))
        assert ids(queries.get_jobs_started_between(since=bound)) == ids(
            queries.get_jobs_started_between(since=nine_utc)
        )
    # A job written as 10:00+02:00 (08:00Z) is before a 09:00Z bound.
    assert "j-east" in ids(queries.get_jobs_started_between(until=nine_utc))


def test_window_microsecond_edges() -> None:
    start = datetime(2026, 1, 5, 15, 0, 0, 1, tzinfo=tz(5.5))  # j-india
    queries = queries_over(tricky_jobs())
    assert "j-india" in ids(
        queries.get_jobs_started_between(since=start, until=start + timedelta(0, 0, 1))
    )
    assert "j-india" not in ids(queries.get_jobs_started_between(until=start))
    assert "j-india" not in ids(
        queries.get_jobs_started_between(since=start + timedelta(microseconds=1))
    )


@pytest.mark.parametrize("bound", ["since", "until"])
def test_a_window_bound_that_is_not_a_datetime_is_a_type_error(bound: str) -> None:
    queries = queries_over(tricky_jobs())
    with pytest.raises(TypeError, match=f"^{bound} must be a datetime or None, not str$"):
        queries.get_jobs_started_between(**{bound: "2026-01-05"})  # type: ignore[arg-type]


@pytest.mark.parametrize("bound", ["since", "until"])
def test_naive_window_bound_is_a_value_error(bound: str) -> None:
    queries = queries_over(tricky_jobs())
    with pytest.raises(ValueError, match=f"^{bound} must be timezone-aware"):
        queries.get_jobs_started_between(**{bound: datetime(2026, 1, 5, 9, 0)})


# -- copies, not views -------------------------------------------------------------


def test_returned_lists_are_copies() -> None:
    queries = queries_over(tricky_jobs())
    before = query_answers(queries)
    for get in (
        queries.get_all_jobs,
        queries.get_completed_jobs,
        queries.get_failed_jobs,
        queries.get_partial_jobs,
        queries.get_jobs_started_between,
        lambda: queries.get_jobs_by_fingerprint("sha256:aa"),
        lambda: queries.get_jobs_by_profile("proxy_prores_proxy"),
        lambda: queries.get_jobs_by_engine("ffmpeg"),
        lambda: queries.get_outputs_for_job("j-utc"),
        lambda: queries.index.get_jobs_by_status("FAILED"),
    ):
        found = get()
        assert found, "the data must give something to mutate"
        found.clear()
        found.append(make_job("intruder"))  # type: ignore[arg-type]  # the point
        found.reverse()
    assert query_answers(queries) == before
    assert queries.get_job("intruder") is None


def test_queries_never_write(db_path: Path) -> None:
    with create_persistence(db_path) as persistence:
        FabricIndex(persistence).add_jobs(tricky_jobs())
    digest = sha256_of(db_path)
    with create_persistence(db_path) as persistence:
        query_answers(FabricQueries(FabricIndex(persistence)))
    assert sha256_of(db_path) == digest


# -- parity: memory-only vs storage-backed after a restart ------------------------

WRITE = """
from support import sample_jobs, tricky_jobs
from fabric_nb import FabricIndex, create_persistence
with create_persistence({db!r}) as persistence:
    index = FabricIndex(persistence)
    jobs = sample_jobs(150) + tricky_jobs()
    index.add_jobs(jobs[:-30])  # most in one transaction, the rest one job at a time
    for job in jobs[-30:]:
        index.add_job(job)
"""

ANSWER = """
import json
from support import query_answers
from fabric_nb import FabricIndex, FabricQueries, create_persistence
with create_persistence({db!r}, readonly=True) as persistence:
    print(json.dumps(query_answers(FabricQueries(FabricIndex(persistence)))))
"""


def test_parity_between_memory_only_and_storage_backed_after_restart(
    db_path: Path, run_py: RunPython
) -> None:
    run_py(WRITE.format(db=str(db_path)))
    from_storage = json.loads(run_py(ANSWER.format(db=str(db_path))))
    in_memory = json.loads(
        json.dumps(query_answers(queries_over(sample_jobs(150) + tricky_jobs())))
    )
    assert from_storage == in_memory
    assert from_storage["job"]["j-east"] == job_record(tricky_jobs()[0])
