"""fabric_nb.samples: the synthetic history must be deterministic, valid and varied.

The standard sample (``write_sample_history``: 400 results, seed
``SAMPLE_SEED``) is written once per module and read back from disk, so the
feature checks below look at exactly what notebooks and the demo ingest.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from fabric_nb import samples
from fabric_nb.samples import (
    SAMPLE_SEED,
    generate_results,
    write_results,
    write_sample_history,
)

ROOT = Path(__file__).resolve().parent.parent
JOB_ID = re.compile(r"^job_\d{8}_\d{4,}_[0-9a-f]{6}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$")


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_sample_history(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def sample(sample_files: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sample_files]


def timestamps(result: dict[str, Any]) -> list[str]:
    """Every timestamp string in one result."""
    found = [result["started_at"], result["completed_at"]]
    found += [clip[key] for clip in result["clips"] for key in ("started_at", "completed_at")]
    meta = result["_metadata"]
    found += [meta.get("result_written_at"), meta.get("worker_started_at")]
    found.append(result.get("_recovery", {}).get("recovered_at"))
    return [value for value in found if value is not None]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- determinism -------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_results(tmp_path / "a", 120, seed=7)
    second = write_results(tmp_path / "b", 120, seed=7)
    assert [p.name for p in first] == [p.name for p in second]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_different_seed_gives_different_history() -> None:
    one = json.dumps(list(generate_results(50, seed=1)))
    two = json.dumps(list(generate_results(50, seed=2)))
    assert one != two


def _digest_in_subprocess(hash_seed: str) -> str:
    code = (
        "import hashlib, json\n"
        "from fabric_nb.samples import generate_results\n"
        "text = json.dumps(list(generate_results(300, seed=5)), ensure_ascii=False)\n"
        "print(hashlib.sha256(text.encode('utf-8')).hexdigest())\n"
    )
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_output_does_not_depend_on_pythonhashseed() -> None:
    here = json.dumps(list(generate_results(300, seed=5)), ensure_ascii=False)
    expected = hashlib.sha256(here.encode("utf-8")).hexdigest()
    assert _digest_in_subprocess("0") == expected
    assert _digest_in_subprocess("4242") == expected


# -- files -------------------------------------------------------------------------


def test_write_results_writes_one_file_per_result(tmp_path: Path) -> None:
    target = tmp_path / "not" / "there" / "yet"
    paths = write_results(target, 150, seed=3)
    assert len(paths) == 150
    assert len(set(paths)) == 150
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in paths)
    for path, result in zip(paths, generate_results(150, seed=3), strict=True):
        assert path.parent == target
        assert re.fullmatch(r"job_\w+__run[123]\.json", path.name)
        assert path.name.startswith(result["job_id"] + "__run")
        # json.dumps(indent=2), UTF-8, nothing added or lost
        assert path.read_bytes() == json.dumps(result, indent=2, ensure_ascii=False).encode()


def test_write_results_accepts_str_directory(tmp_path: Path) -> None:
    paths = write_results(str(tmp_path), 3)
    assert all(p.is_file() for p in paths)


def test_zero_jobs_is_an_empty_history(tmp_path: Path) -> None:
    assert list(generate_results(0)) == []
    assert write_results(tmp_path / "empty", 0) == []
    assert (tmp_path / "empty").is_dir()


def test_sample_history_default_size(sample_files: list[Path]) -> None:
    assert len(sample_files) == 400


def test_non_ascii_paths_are_raw_utf8_in_files(sample_files: list[Path]) -> None:
    raw = b"".join(path.read_bytes() for path in sample_files)
    assert "Été".encode() in raw
    assert "撮影".encode() in raw
    assert b"\\u" not in raw  # not escaped


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"n_jobs": -1}, "n_jobs"),
        ({"n_jobs": 5, "days": 0}, "days"),
        ({"n_jobs": 5, "clips_per_job": 0}, "clips_per_job"),
    ],
)
def test_invalid_arguments_are_refused(kwargs: dict[str, int], named: str) -> None:
    with pytest.raises(ValueError, match=f"^{named} must be"):
        generate_results(**kwargs)  # type: ignore[arg-type]


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_results(5, start=datetime(2026, 9, 1))


# -- content -----------------------------------------------------------------------


def test_both_engines_and_several_profiles(sample: list[dict[str, Any]]) -> None:
    engines = Counter(r["_metadata"]["engine_used"] for r in sample)
    assert set(engines) == {"ffmpeg", "resolve"}
    assert len({r["_metadata"]["proxy_profile_used"] for r in sample}) >= 4
    for result in sample:
        meta = result["_metadata"]
        if meta["engine_used"] == "resolve":
            assert meta["resolve_preset_used"]
            assert meta["resolve_edition_detected"] in ("studio", "free")
            assert meta["resolve_version_detected"]
        else:
            assert meta["resolve_preset_used"] is None
        for clip in result["clips"]:
            assert clip["engine_used"] == meta["engine_used"]
            assert clip["proxy_profile_used"] == meta["proxy_profile_used"]
            assert clip["resolve_preset_used"] == meta["resolve_preset_used"]
            assert clip["validation_stage"] == "execution"
            if meta["engine_used"] == "ffmpeg":
                command = clip["ffmpeg_command"]
                assert command[0] == "ffmpeg"
                assert clip["source_path"] in command
                assert command[-1] == clip["resolved_output_path"]
            else:
                assert "ffmpeg_command" not in clip


def test_all_final_statuses_and_never_skipped(sample: list[dict[str, Any]]) -> None:
    statuses = Counter(r["final_status"] for r in sample)
    assert set(statuses) == {"COMPLETED", "FAILED", "PARTIAL"}
    assert statuses["COMPLETED"] > statuses["FAILED"] > 0


def test_clip_statuses_agree_with_final_status(sample: list[dict[str, Any]]) -> None:
    for result in sample:
        clip_statuses = [clip["status"] for clip in result["clips"]]
        assert set(clip_statuses) <= {"COMPLETED", "FAILED"}
        if result["final_status"] == "COMPLETED":
            assert clip_statuses
            assert "FAILED" not in clip_statuses
        elif result["final_status"] == "PARTIAL":
            assert "COMPLETED" in clip_statuses
            assert "FAILED" in clip_statuses
        else:
            assert "COMPLETED" not in clip_statuses


def test_counts_are_consistent_with_clips(sample: list[dict[str, Any]]) -> None:
    without_counts = 0
    for result in sample:
        if "total_clips" not in result:
            assert "completed_clips" not in result
            assert "failed_clips" not in result
            without_counts += 1
            continue
        clips = result["clips"]
        failed = sum(clip["status"] == "FAILED" for clip in clips)
        assert result["total_clips"] == len(clips)
        assert result["failed_clips"] == failed
        assert result["completed_clips"] == len(clips) - failed
        for key in ("total_clips", "completed_clips", "failed_clips"):
            assert type(result[key]) is int
            assert result[key] >= 0
    assert 0 < without_counts < len(sample) // 10


def test_clip_objects_are_complete_and_plausible(sample: list[dict[str, Any]]) -> None:
    reasons = set()
    for clip in (clip for r in sample for clip in r["clips"]):
        assert clip["source_path"]
        assert clip["resolved_output_path"]
        assert clip["source_path"] != clip["resolved_output_path"]
        assert type(clip["output_exists"]) is bool
        assert type(clip["exit_code"]) is int
        if clip["output_exists"]:
            assert type(clip["output_size_bytes"]) is int
            assert clip["output_size_bytes"] > 0
        else:
            assert clip["output_size_bytes"] is None
        if clip["status"] == "COMPLETED":
            assert clip["failure_reason"] is None
            assert clip["output_exists"]
            size = clip["output_size_bytes"]
            assert size is not None
            assert 20_000_000 <= size <= 2_000_000_000
        else:
            assert clip["failure_reason"]
            reasons.add(clip["failure_reason"])
        started, completed = instant(clip["started_at"]), instant(clip["completed_at"])
        assert clip["duration_seconds"] == pytest.approx((completed - started).total_seconds())
        assert 0 < clip["duration_seconds"] < 3 * 3600
    assert "Output file missing after render" in reasons
    assert "Disk full while writing output" in reasons
    assert "Resolve render job failed: Media offline" in reasons


def test_pre_job_failures_have_no_clips(sample: list[dict[str, Any]]) -> None:
    refused = [r for r in sample if r["_metadata"]["validation_stage"] in ("pre-job", "validation")]
    assert {r["_metadata"]["validation_stage"] for r in refused} == {"pre-job", "validation"}
    for result in refused:
        assert result["clips"] == []
        assert result["final_status"] == "FAILED"
        assert result["_metadata"]["validation_error"]
        assert "_recovery" not in result
    assert any(r["completed_at"] is None for r in refused)
    assert any(r["completed_at"] is not None for r in refused)
    errors = " | ".join(r["_metadata"]["validation_error"] for r in refused)
    assert "Source file not found: /" in errors
    # Every kind of refusal occurs in a longer history of the same seed.
    longer = generate_results(2000, seed=SAMPLE_SEED)
    errors = " | ".join(
        r["_metadata"]["validation_error"] for r in longer if r["_metadata"]["validation_error"]
    )
    assert "Resolve Studio required for preset" in errors


def test_crash_recovery_results(sample: list[dict[str, Any]]) -> None:
    recovered = [r for r in sample if "_recovery" in r]
    assert recovered
    for result in recovered:
        assert result["clips"] == []
        assert result["final_status"] == "FAILED"
        assert result["completed_at"] is None
        assert result["duration_seconds"] is None
        recovery = result["_recovery"]
        assert set(recovery) == {"reason", "recovered_at", "original_path"}
        assert recovery["reason"]
        assert recovery["original_path"].endswith(".json")
        assert instant(recovery["recovered_at"]) > instant(result["started_at"])


def test_execution_results_have_clips(sample: list[dict[str, Any]]) -> None:
    for result in sample:
        if "_recovery" not in result and result["_metadata"]["validation_stage"] == "execution":
            assert result["clips"]
            assert result["_metadata"]["validation_error"] is None


def test_watch_folder_metadata(sample: list[dict[str, Any]]) -> None:
    watched = [r for r in sample if "jobspec_path" in r["_metadata"]]
    assert 0 < len(watched) < len(sample)
    for result in watched:
        meta = result["_metadata"]
        assert meta["jobspec_path"].endswith(".json")
        assert instant(meta["result_written_at"]) >= instant(result["started_at"])
        assert (meta["failure_reason"] is None) == (result["final_status"] == "COMPLETED")
        if "worker_id" in meta:
            assert instant(meta["worker_started_at"]) <= instant(result["started_at"])
    with_worker = [r for r in watched if "worker_id" in r["_metadata"]]
    assert 0 < len(with_worker) < len(watched)


def test_reruns_of_the_same_job_id(sample: list[dict[str, Any]], sample_files: list[Path]) -> None:
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in sample:
        runs[result["job_id"]].append(result)
    rerun = {job_id: results for job_id, results in runs.items() if len(results) > 1}
    assert rerun
    assert all(len(results) <= 3 for results in runs.values())
    for results in rerun.values():
        for earlier, later in itertools.pairwise(results):
            assert instant(later["started_at"]) > instant(earlier["started_at"])
            if earlier["completed_at"] is not None:
                assert instant(later["started_at"]) > instant(earlier["completed_at"])
    assert any(path.name.endswith("__run2.json") for path in sample_files)


def test_some_fingerprints_are_shared_by_several_jobs(sample: list[dict[str, Any]]) -> None:
    jobs_by_fingerprint: dict[str, set[str]] = defaultdict(set)
    for result in sample:
        fingerprint = result["_metadata"].get("fingerprint")
        if fingerprint is not None:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", fingerprint)
            jobs_by_fingerprint[fingerprint].add(result["job_id"])
    assert 0 < sum(len(ids) for ids in jobs_by_fingerprint.values()) < len(sample)
    assert any(len(ids) > 1 for ids in jobs_by_fingerprint.values())


def test_job_ids(sample: list[dict[str, Any]]) -> None:
    for result in sample:
        assert JOB_ID.fullmatch(result["job_id"])


def test_timestamps_have_offsets_and_microseconds(sample: list[dict[str, Any]]) -> None:
    offsets: Counter[str] = Counter()
    for result in sample:
        for text in timestamps(result):
            assert TIMESTAMP.fullmatch(text), text
            # hand-formatted text must be what datetime itself would write
            assert instant(text).isoformat(timespec="microseconds") == text
            offsets[text[-6:]] += 1
    assert offsets.most_common(1)[0][0] == "+00:00"
    assert len(offsets) >= 3


def test_times_are_ordered_and_durations_consistent(sample: list[dict[str, Any]]) -> None:
    starts = [instant(r["started_at"]) for r in sample]
    assert starts == sorted(starts)
    assert starts[-1] - starts[0] > timedelta(days=35)
    assert starts[0] >= samples.DEFAULT_START
    for result in sample:
        if result["completed_at"] is None:
            assert result["duration_seconds"] is None
            continue
        started, completed = instant(result["started_at"]), instant(result["completed_at"])
        assert started <= completed
        assert result["duration_seconds"] == pytest.approx((completed - started).total_seconds())
        previous_end = started
        for clip in result["clips"]:
            assert previous_end <= instant(clip["started_at"]) <= instant(clip["completed_at"])
            previous_end = instant(clip["completed_at"])
        assert previous_end <= completed


def test_camera_card_and_non_ascii_paths(sample: list[dict[str, Any]]) -> None:
    paths = [path for r in sample for path in r["source_files"]]
    assert any("/PRIVATE/M4ROOT/CLIP/" in p and p.endswith(".MP4") for p in paths)
    assert any(p.startswith("/mnt/shoot/day") and p.endswith(".MXF") for p in paths)
    assert any(re.search(r"/Clip/[ABC]\d{3}C\d{3}_\d{6}_R\d\w\w\.mov$", p) for p in paths)
    assert any(not p.isascii() for p in paths)
    outputs = [clip["resolved_output_path"] for r in sample for clip in r["clips"]]
    assert any(not p.isascii() for p in outputs)
    for result in sample:
        assert result["source_files"]
        extensions = {"." + p.rsplit(".", 1)[1].lower() for p in result["source_files"]}
        assert result["source_extensions"] == sorted(extensions)
        assert [c["source_path"] for c in result["clips"]] == result["source_files"][
            : len(result["clips"])
        ]


def test_forced_clip_count() -> None:
    results = list(generate_results(300, seed=11, clips_per_job=4))
    assert {len(r["clips"]) for r in results} == {0, 4}
    assert all(len(r["source_files"]) == 4 for r in results)


def test_custom_start_and_days() -> None:
    start = datetime(2027, 1, 4, 13, 30, 15, 250_000, tzinfo=timezone(timedelta(hours=2)))
    results = list(generate_results(200, seed=4, start=start, days=3))
    for result in results:
        assert start <= instant(result["started_at"]) < start + timedelta(days=3)
    assert all(r["job_id"].startswith(("job_20270104_", "job_20270105_", "job_20270106_"))
               for r in results)  # fmt: skip


def test_other_seeds_still_cover_every_feature() -> None:
    """The feature mix is not an accident of SAMPLE_SEED."""
    for seed in (0, 1, 99):
        results = list(generate_results(400, seed=seed))
        ids = Counter(r["job_id"] for r in results)
        assert {r["final_status"] for r in results} == {"COMPLETED", "FAILED", "PARTIAL"}
        assert any("_recovery" in r for r in results)
        assert any(r["_metadata"]["validation_error"] for r in results)
        assert max(ids.values()) > 1
        assert any(not r["started_at"].endswith("+00:00") for r in results)


# -- accepted by Fabric ------------------------------------------------------------


def test_every_sample_file_is_accepted_by_strict_ingestion(
    sample_files: list[Path], sample: list[dict[str, Any]]
) -> None:
    from fabric_nb.ingestion import ingest_execution_result

    for path, result in zip(sample_files, sample, strict=True):
        job = ingest_execution_result(path)
        assert job.job_id == result["job_id"]
        assert job.final_status == result["final_status"]
        assert len(job.outputs) == len(result["clips"])
        assert job.failed_clips == sum(c["status"] == "FAILED" for c in result["clips"])
        assert job.fingerprint == result["_metadata"].get("fingerprint")
        assert job.engine_used == result["_metadata"]["engine_used"]
        assert job.canonical_proxy_profile == result["_metadata"]["proxy_profile_used"]


def test_benchmark_shaped_history_is_accepted(tmp_path: Path) -> None:
    from fabric_nb.ingestion import ingest_execution_result

    for path in write_results(tmp_path, 200, seed=123, clips_per_job=4):
        assert ingest_execution_result(path).total_clips in (0, 4)


def test_public_api_is_documented() -> None:
    assert samples.__doc__
    assert "SYNTHETIC" in samples.__doc__
    for name in samples.__all__:
        value = getattr(samples, name)
        if callable(value):
            assert value.__doc__, name
