"""Index rebuild: an index rebuilt from storage answers every question exactly as the
index that wrote the data, in one deterministic order, under any PYTHONHASHSEED."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import (
    RunPython,
    job_record,
    job_records,
    make_job,
    query_answers,
    sample_jobs,
    tricky_jobs,
    tz,
)

from fabric_nb import FabricIndex, FabricQueries, create_persistence
from fabric_nb.models import job_order_key


def test_rebuilt_index_answers_every_query_like_the_writer(db_path: Path) -> None:
    jobs = sample_jobs(100) + tricky_jobs()
    with create_persistence(db_path) as persistence:
        writer = FabricIndex(persistence)
        writer.add_jobs(jobs[:40])  # one batch, then one job per transaction
        for job in jobs[40:]:
            writer.add_job(job)
        written = query_answers(FabricQueries(writer))
    with create_persistence(db_path, readonly=True) as persistence:
        rebuilt = query_answers(FabricQueries(FabricIndex(persistence)))
    assert rebuilt == written
    assert written["count"] == len({job.job_id for job in jobs})
    assert written["fingerprint"]["sha256:aa"] == ["j-east", "j-utc"]


def test_rebuild_in_place_gives_the_same_answers(db_path: Path) -> None:
    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence)
        index.add_jobs(sample_jobs(80))
        before = query_answers(FabricQueries(index))
        index.rebuild()
        assert query_answers(FabricQueries(index)) == before


def test_rebuild_replaces_memory_with_storage(db_path: Path) -> None:
    """What another process committed appears after rebuild; nothing stale is kept."""
    with create_persistence(db_path) as persistence:
        index = FabricIndex(persistence)
        index.add_job(make_job("mine", final_status="FAILED", completed_clips=0, failed_clips=2))
        with create_persistence(db_path) as other:
            other.persist_ingested_jobs([make_job("mine"), make_job("theirs", engine_used="x")])
        assert [j.job_id for j in index.get_all_jobs()] == ["mine"]
        index.rebuild()
        assert [j.job_id for j in index.get_all_jobs()] == ["mine", "theirs"]
        assert index.get_jobs_by_status("FAILED") == []
        assert [j.job_id for j in index.get_jobs_by_engine("x")] == ["theirs"]


def test_memory_only_rebuild_is_a_no_op() -> None:
    index = FabricIndex()
    index.add_job(make_job())
    index.rebuild()
    assert index.count_jobs() == 1


# -- the one order -----------------------------------------------------------------

# 23:59:59.999999Z (day before), 08:00Z, 09:00Z, 09:30:00.000001Z, 12:00Z twice.
EXPECTED_ORDER = ["j-bare", "j-east", "j-utc", "j-india", "j-same-a", "j-same-b"]


def test_order_is_started_at_instant_then_job_id(db_path: Path) -> None:
    jobs = tricky_jobs()
    # Sanity of the data: the ISO strings sort differently from the instants.
    by_string = sorted(jobs, key=lambda j: (j.started_at.isoformat(), j.job_id))
    assert [j.job_id for j in by_string] != EXPECTED_ORDER
    # j-same-a (07:00-05:00) and j-same-b (12:00Z) are one instant.
    same = {j.job_id: j.started_at for j in jobs if j.job_id.startswith("j-same")}
    assert same["j-same-a"] == same["j-same-b"]
    for seed in range(5):  # insertion order must not matter
        shuffled = jobs[:]
        random.Random(seed).shuffle(shuffled)
        path = db_path.with_name(f"order{seed}.db")
        with create_persistence(path) as persistence:
            memory = FabricIndex()
            for job in shuffled:
                persistence.persist_ingested_job(job)
                memory.add_job(job)
            assert [j.job_id for j in persistence.load_all_jobs()] == EXPECTED_ORDER
            assert [j.job_id for j in FabricIndex(persistence).get_all_jobs()] == EXPECTED_ORDER
            assert [j.job_id for j in memory.get_all_jobs()] == EXPECTED_ORDER


def test_every_lookup_uses_the_same_order() -> None:
    jobs = [
        make_job(f"job{i}", started_at=datetime(2026, 3, 1, 12, i, tzinfo=tz(h)))
        for i, h in enumerate([3, -3, 0, 5.5, -9.5, 1, 0])
    ]
    index = FabricIndex()
    index.add_jobs(reversed(jobs))
    expected = [j.job_id for j in sorted(jobs, key=job_order_key)]
    queries = FabricQueries(index)
    for found in (
        queries.get_all_jobs(),
        queries.get_completed_jobs(),
        queries.get_jobs_by_profile("proxy_prores_proxy"),
        queries.get_jobs_by_engine("ffmpeg"),
        queries.get_jobs_started_between(since=datetime(2000, 1, 1, tzinfo=UTC)),
    ):
        assert [j.job_id for j in found] == expected


# -- PYTHONHASHSEED ----------------------------------------------------------------

PRINT_ANSWERS = """
import json
from support import query_answers
from fabric_nb import FabricIndex, FabricQueries, create_persistence
with create_persistence({db!r}, readonly=True) as persistence:
    print(json.dumps(query_answers(FabricQueries(FabricIndex(persistence)))))
"""

WRITE_SHUFFLED = """
import random
from support import sample_jobs, tricky_jobs
from fabric_nb import FabricIndex, create_persistence
jobs = sample_jobs(120) + tricky_jobs()
latest = {{}}
for job in jobs:
    latest[job.job_id] = job
ordered = list(latest.values())
random.Random({seed}).shuffle(ordered)
with create_persistence({db!r}) as persistence:
    FabricIndex(persistence).add_jobs(ordered)
"""


@pytest.mark.parametrize("seeds", [("0", "1"), ("12345", "random")])
def test_rebuild_is_identical_under_any_hash_seed(
    tmp_path: Path, run_py: RunPython, seeds: tuple[str, str]
) -> None:
    outputs = []
    for n, seed in enumerate(seeds):
        # Each process writes its own store, in its own insertion order, then a
        # fresh process with its own hash seed rebuilds and prints every answer.
        path = tmp_path / f"store{n}.db"
        run_py(WRITE_SHUFFLED.format(db=str(path), seed=n), env={"PYTHONHASHSEED": seed})
        outputs.append(run_py(PRINT_ANSWERS.format(db=str(path)), env={"PYTHONHASHSEED": seed}))
    assert outputs[0] == outputs[1]
    answers = json.loads(outputs[0])
    in_process = sorted(
        {j.job_id: j for j in sample_jobs(120) + tricky_jobs()}.values(), key=job_order_key
    )
    assert answers["all"] == job_records(in_process)
    assert answers["job"]["j-india"] == job_record(tricky_jobs()[4])
