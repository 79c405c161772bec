"""The SQL read path gives exactly the answers of the in-memory index.

``open_fabric()`` answers each question by SQL (``fabric_nb._stored_queries``);
``FabricHistory(persistence, FabricIndex(persistence))`` answers from the
index rebuilt from every row, as every history did before. For random
histories and random questions (every helper of ``FabricHistory`` with random
filters, ``by=`` and options, and every method of the Phase-1 question API),
both must give the same result: equal frames (rows, order, columns, dtypes,
values and ``attrs``), the same warnings, or the same error with the same
message. ``make test`` runs a small derandomized budget; ``make fuzz`` a long
random one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import FIXED_INGESTED_AT, build_store, counted_jobs, make_output, sample_jobs

from fabric_nb import FabricHistory, FabricIndex, IngestedJob, create_persistence
from fabric_nb._stored_queries import StoredQueries, _counts_from_indexes, status_groups
from fabric_nb.filters import FilterSelection
from fabric_nb.models import CLIP_STATUSES, JOB_STATUSES
from fabric_nb.queries import FabricQueries
from fabric_nb.summaries import WEEKS_FROM_MONDAY

ENGINES = ["ffmpeg", "resolve", None]
PROFILES = ["proxy_h264_low", "proxy_prores_proxy", "proxy_dnxhr_lb", None]
FINGERPRINTS = ["sha256:aaa", "sha256:bbb", None]
STAGES = ["execution", "validation", "pre-job", None]
JOB_ERRORS = [None, None, "Source file not found", "jobspec 9 is not supported"]
CLIP_REASONS = [None, "disk full", "Resolve render job failed: Media offline"]
SOURCES = [f"/Volumes/A/C{i:03d}.mov" for i in range(4)]
OFFSETS = [timezone(timedelta(hours=h)) for h in (-12, -5, 0, 2, 14)] + [
    timezone(timedelta(hours=5, minutes=30))
]
BASE = datetime(2026, 9, 1, tzinfo=UTC)
#: Instants far from the rest: SQLite's julianday() still reads them, or does not.
FAR = [
    datetime(1901, 3, 1, 12, tzinfo=UTC),
    datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-12))),
    datetime(1, 1, 1, 12, tzinfo=UTC),
]
UNKNOWN = "Resolve"  # a value no job has: a typo's warning


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from(FAR))
    minutes = draw(st.integers(-3 * 1440, 30 * 1440).map(lambda m: m - m % 7))
    micros = draw(st.sampled_from([0, 1, 500_000, 999_999]))
    offset = draw(st.sampled_from(OFFSETS))
    return (BASE + timedelta(minutes=minutes, microseconds=micros)).astimezone(offset)


@st.composite
def jobs(draw: st.DrawFn, job_id: str) -> IngestedJob:
    outputs = tuple(
        make_output(
            job_id,
            i,
            source_path=draw(st.sampled_from(SOURCES)),
            status=(status := draw(st.sampled_from(CLIP_STATUSES))),
            failure_reason=draw(st.sampled_from(CLIP_REASONS)) if status == "FAILED" else None,
            output_exists=draw(st.sampled_from([True, False, None])),
            output_size_bytes=draw(st.sampled_from([None, 0, 1_500_000_000, 2**40])),
            engine_used=draw(st.sampled_from(ENGINES)),
            proxy_profile_used=draw(st.sampled_from(PROFILES)),
        )
        for i in range(draw(st.integers(0, 3)))
    )
    started = draw(instants())
    completed = None
    if draw(st.integers(0, 4)):
        completed = started + timedelta(seconds=draw(st.integers(0, 4000)), microseconds=7)
    failed = sum(o.status == "FAILED" for o in outputs)
    return IngestedJob(
        job_id=job_id,
        final_status=draw(st.sampled_from(JOB_STATUSES)),
        started_at=started,
        canonical_proxy_profile=draw(st.sampled_from(PROFILES)),
        fingerprint=draw(st.sampled_from(FINGERPRINTS)),
        validation_stage=draw(st.sampled_from(STAGES)),
        validation_error=draw(st.sampled_from(JOB_ERRORS)),
        engine_used=draw(st.sampled_from(ENGINES)),
        resolve_preset_used=draw(st.sampled_from([None, "ProRes 422 Proxy"])),
        jobspec_version=draw(st.sampled_from([None, "2.1"])),
        completed_at=completed,
        ingested_at=FIXED_INGESTED_AT,
        total_clips=len(outputs),
        completed_clips=len(outputs) - failed,
        failed_clips=failed,
        outputs=outputs,
    )


@st.composite
def histories(draw: st.DrawFn) -> list[IngestedJob]:
    count = draw(st.integers(0, 24))
    ids = draw(st.lists(st.sampled_from([f"job_{i:02d}" for i in range(40)] + ["job é"]),
                        min_size=count, max_size=count, unique=True))  # fmt: skip
    return [draw(jobs(job_id)) for job_id in ids]


def one_or_many(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(values),
        st.lists(st.sampled_from(values), min_size=0, max_size=3),  # [] is an error in both
    )


def bounds() -> st.SearchStrategy[Any]:
    return st.one_of(
        instants(),
        instants().map(lambda t: t.date()),
        instants().map(lambda t: t.isoformat()),
        st.sampled_from(["2026-09-03", "2026-09-10T12:00Z", "not a date", date(2026, 9, 5)]),
        st.just(datetime(2026, 9, 5)),  # naive: refused by both
    )


@st.composite
def job_filters(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    choices: dict[str, st.SearchStrategy[Any]] = {
        "status": one_or_many([*JOB_STATUSES, *(["SKIPPED"] * draw(st.integers(0, 1)))]),
        "engine": one_or_many(["ffmpeg", "resolve", UNKNOWN]),
        "profile": one_or_many(["proxy_h264_low", "proxy_prores_proxy", UNKNOWN]),
        "fingerprint": one_or_many(["sha256:aaa", "sha256:bbb", "sha256:zzz"]),
        "job_id": one_or_many([*ids[:4], "job_missing", "\ud800"]),
        "since": bounds(),
        "until": bounds(),
    }
    names = draw(st.lists(st.sampled_from(list(choices)), max_size=3, unique=True))
    return {name: draw(choices[name]) for name in names}


@st.composite
def output_filters(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    chosen = draw(job_filters(ids))
    chosen.pop("status", None)
    extra: dict[str, st.SearchStrategy[Any]] = {
        "status": one_or_many(list(CLIP_STATUSES)),
        "source_path": one_or_many(SOURCES[:2]),
        "failure_reason": one_or_many(["disk full", "nothing like this"]),
    }
    for name in draw(st.lists(st.sampled_from(list(extra)), max_size=2, unique=True)):
        chosen[name] = draw(extra[name])
    return chosen


BY = st.sampled_from(
    [
        None,
        "engine_used",
        "canonical_proxy_profile",
        ["engine_used", "canonical_proxy_profile"],
        "validation_stage",
        "fingerprint",
        "success",
        "final_status",
        [],
        "no_such_column",
        ["engine_used", "engine_used"],
    ]
)
FREQS = st.sampled_from(["D", "W-MON", WEEKS_FROM_MONDAY, "MS"])


def questions(ids: list[str]) -> st.SearchStrategy[tuple[str, Callable[[FabricHistory], Any]]]:
    """One question, by name, as a function of a history."""
    jf, of = job_filters(ids), output_filters(ids)

    def ask(name: str, *args: Any) -> st.SearchStrategy[Any]:
        """``fabric.<name>(*positional, **filters)``: the last strategy draws the filters."""
        return st.tuples(st.just(name), *args).map(
            lambda t: (f"{t[0]}{t[1:]!r}", lambda h: getattr(h, t[0])(*t[1:-1], **t[-1]))
        )

    return st.one_of(
        ask("jobs", jf),
        ask("outputs", of),
        ask("status_counts", BY, jf),
        ask("failure_reasons", BY, jf),
        ask("engine_profile_table", jf),
        ask("daily_counts", FREQS, st.sampled_from([None, "engine_used"]), jf),
        ask("repeated_failures", st.integers(1, 3), of),
        ask("retries", of),
        ask("slowest_jobs", st.integers(1, 4), jf),
        ask("duration_stats", BY, st.one_of(st.none(), FREQS), jf),
        ask("slowest_profiles", st.sampled_from(["canonical_proxy_profile", "engine_used"]), jf),
        ask(
            "usage_over_time",
            st.sampled_from(["canonical_proxy_profile", "engine_used"]),
            FREQS,
            jf,
        ),
        st.sampled_from([*ids[:3], "job_missing"]).map(
            lambda i: (f"job({i!r})", lambda h: h.job(i))
        ),
        st.just(("len", len)),
    )


def phase1_calls(ids: list[str]) -> st.SearchStrategy[tuple[str, tuple[Any, ...]]]:
    """One method of the Phase-1 question API with arguments."""
    text = st.sampled_from([*ids[:3], "ffmpeg", "resolve", "sha256:aaa", "proxy_h264_low", "x"])
    return st.one_of(
        st.tuples(
            st.sampled_from(
                [
                    "get_job",
                    "get_job_history",
                    "get_jobs_by_fingerprint",
                    "get_jobs_by_profile",
                    "get_jobs_by_engine",
                    "get_outputs_for_job",
                    "count_jobs_by_status",
                ]
            ),
            st.tuples(st.one_of(text, st.sampled_from([*JOB_STATUSES, "SKIPPED", None, 5]))),
        ),
        st.tuples(
            st.sampled_from(
                [
                    "get_all_jobs",
                    "count_jobs",
                    "get_completed_jobs",
                    "get_failed_jobs",
                    "get_partial_jobs",
                ]
            ),
            st.just(()),
        ),
        st.tuples(
            st.just("get_jobs_started_between"),
            st.tuples(
                st.one_of(st.none(), instants(), st.just(datetime(2026, 9, 2))),
                st.one_of(st.none(), instants()),
            ),
        ),
    )


def outcome(call: Callable[[], Any]) -> tuple[str, Any, list[tuple[type, str]]]:
    """What a call gave: ("ok", value) or ("raised", (type, message)), and its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = call()
            kind = "ok"
        except Exception as exc:  # the error itself is the answer compared
            value, kind = (type(exc), str(exc)), "raised"
    return kind, value, [(w.category, str(w.message)) for w in caught]


def assert_same(name: str, slow: tuple[str, Any, Any], fast: tuple[str, Any, Any]) -> None:
    assert fast[0] == slow[0], f"{name}: {fast[0]} {fast[1]!r} where the index gave {slow[1]!r}"
    assert fast[2] == slow[2], f"{name}: warnings differ"
    if isinstance(slow[1], pd.DataFrame):
        pd.testing.assert_frame_equal(fast[1], slow[1], check_exact=True, obj=name)
        assert fast[1].attrs == slow[1].attrs, name
    else:
        assert fast[1] == slow[1], name


@pytest.mark.slow  # many small stores
@settings(max_examples=max(120, settings().max_examples))
@given(data=st.data(), history=histories())
def test_fuzz_sql_answers_equal_the_index_answers(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, history: list[IngestedJob]
) -> None:
    db = build_store(tmp_path_factory.mktemp("stored") / "fabric.db", history)
    ids = sorted(job.job_id for job in history)
    with create_persistence(db, readonly=True) as persistence:
        eager = FabricHistory(persistence, FabricIndex(persistence))
        lazy = FabricHistory(persistence)
        assert isinstance(lazy.queries, StoredQueries)
        for name, question in data.draw(st.lists(questions(ids), min_size=4, max_size=10)):
            assert_same(name, outcome(partial(question, eager)), outcome(partial(question, lazy)))
        for method, args in data.draw(st.lists(phase1_calls(ids), min_size=3, max_size=8)):
            assert_same(
                f"{method}{args!r}",
                outcome(partial(getattr(eager.queries, method), *args)),
                outcome(partial(getattr(lazy.queries, method), *args)),
            )


def test_the_sql_path_answers_every_phase1_question_itself() -> None:
    # A method added to FabricQueries must be answered by SQL too, not inherited
    # from the index path (which StoredQueries never sets up).
    public = {name for name in vars(FabricQueries) if not name.startswith("_")}
    assert public - {"index"} <= set(vars(StoredQueries))


@pytest.mark.parametrize("column", ["engine_used", "canonical_proxy_profile", "fingerprint"])
def test_counts_read_from_the_indexes_equal_the_table_group_by(tmp_path: Path, column: str) -> None:
    # Realistic jobs and the hand-counted ones, whose engine, profile and
    # fingerprint are missing here and there: every group, NULL included.
    db = build_store(tmp_path / "fabric.db", [*sample_jobs(300), *counted_jobs()])
    with create_persistence(db, readonly=True) as persistence:
        storage = persistence.storage
        from_indexes = _counts_from_indexes(storage, column)
        table = storage.read_rows(
            f"SELECT {column}, final_status, count(*) FROM jobs NOT INDEXED GROUP BY 1, 2"
        )
        assert from_indexes == {(value, status): n for value, status, n in table}
        assert {value is None for value, _ in from_indexes} == {True, False}
        assert len({status for _, status in from_indexes}) == 3
        everything = FilterSelection({}, None, None, {})
        assert status_groups(storage, everything, [column]) == from_indexes
