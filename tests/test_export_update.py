"""``export --update``: only the changed month partitions are rewritten, and the
dataset is then byte for byte what a new export with the same arguments writes.

The shortcut is checked against the slow path on random histories and random
sequences of changes (hypothesis); the failure modes on real folders; a kill
-9 in the middle of an update in a real separate process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import build_store, child_env, make_job, run_cli_process

from fabric_nb.errors import ExportError, OutputExistsError
from fabric_nb.export import MANIFEST_NAME, export_histories, export_history
from fabric_nb.filters import JobFilters
from fabric_nb.models import IngestedJob

START = datetime(2026, 1, 1, tzinfo=UTC)


def job(job_id: str, day: int, status: str = "COMPLETED", clips: int = 2) -> IngestedJob:
    started = START + timedelta(days=day, hours=9)
    base = make_job(job_id, started_at=started, completed_at=started + timedelta(minutes=3))
    return replace(base, final_status=status, outputs=base.outputs[:clips])


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of a dataset (the manifest left out), by path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }


def hidden(folder: Path) -> list[str]:
    """Names starting with a dot anywhere in the dataset, the manifest left out."""
    return [p.name for p in folder.rglob(".*") if p.name != MANIFEST_NAME]


# -- the shortcut equals the slow path --------------------------------------------------

ids = st.sampled_from([f"job_{i:02d}" for i in range(12)])
events = st.lists(
    st.tuples(
        st.sampled_from(["bay-1", "bay-2"]),
        ids,
        st.integers(0, 120),  # day: about four months
        st.sampled_from(["COMPLETED", "FAILED", "PARTIAL"]),
        st.integers(0, 2),  # clips
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(events, min_size=1, max_size=4), since=st.sampled_from([None, 30]))
def test_update_after_any_changes_equals_a_new_export(
    tmp_path_factory: pytest.TempPathFactory, steps: list[list[tuple]], since: int | None
) -> None:
    root = tmp_path_factory.mktemp("update")
    dbs = {name: root / f"{name}.db" for name in ("bay-1", "bay-2")}
    for db in dbs.values():
        build_store(db, [])
    scope: JobFilters = {} if since is None else {"since": START + timedelta(days=since)}
    dataset = root / "dataset"
    for number, step in enumerate(steps):
        for name in dbs:
            changes = [job(i, d, s, c) for h, i, d, s, c in step if h == name]
            if changes:
                build_store(dbs[name], changes)  # adds new jobs, replaces stored ones
        updated = export_histories(dbs, dataset, update=True, **scope)
        fresh = export_histories(dbs, root / f"fresh-{number}", **scope)
        assert tree(dataset) == tree(root / f"fresh-{number}")
        assert (updated.jobs, updated.outputs) == (fresh.jobs, fresh.outputs)
        assert updated.counts == fresh.counts
        assert hidden(dataset) == []  # no staging folder or manifest draft left


def test_one_history_update_equals_a_new_export(tmp_path: Path) -> None:
    db = build_store(tmp_path / "fabric.db", [job("a", 1), job("b", 40), job("c", 70)])
    first = export_history(db, tmp_path / "dataset", update=True)
    assert first.changed == (
        "started_month=2026-01",
        "started_month=2026-02",
        "started_month=2026-03",
    )
    build_store(db, [job("b", 75, "FAILED")])  # b moves from February to March
    second = export_history(db, tmp_path / "dataset", update=True)
    assert second.changed == ("started_month=2026-02", "started_month=2026-03")
    export_history(db, tmp_path / "fresh")
    assert tree(tmp_path / "dataset") == tree(tmp_path / "fresh")
    assert (second.jobs, second.outputs) == (3, 6)


# -- only what changed is written -------------------------------------------------------


def test_only_the_changed_months_are_rewritten(tmp_path: Path) -> None:
    dbs = {
        "bay-1": build_store(tmp_path / "bay-1.db", [job("a", 1), job("b", 40)]),
        "bay-2": build_store(tmp_path / "bay-2.db", [job("c", 2)]),
    }
    dataset = tmp_path / "dataset"
    export_histories(dbs, dataset, update=True)
    january = dataset / "jobs" / "history=bay-1" / "started_month=2026-01" / "part-0.parquet"
    untouched = {p: os.stat(p).st_ino for p in dataset.rglob("*.parquet")}

    again = export_histories(dbs, dataset, update=True)
    assert again.changed == ()
    assert again.files == ()
    assert {p: os.stat(p).st_ino for p in dataset.rglob("*.parquet")} == untouched

    build_store(dbs["bay-1"], [job("d", 45)])  # a new job in February, on bay-1
    third = export_histories(dbs, dataset, update=True)
    assert third.changed == ("history=bay-1/started_month=2026-02",)
    assert third.files == (
        Path("jobs/history=bay-1/started_month=2026-02/part-0.parquet"),
        Path("outputs/history=bay-1/started_month=2026-02/part-0.parquet"),
    )
    assert os.stat(january).st_ino == untouched[january]
    assert third.counts == {"bay-1": (3, 6), "bay-2": (1, 2)}


def test_a_job_written_again_unchanged_changes_nothing(tmp_path: Path) -> None:
    db = build_store(tmp_path / "fabric.db", [job("a", 1)])
    export_history(db, tmp_path / "dataset", update=True)
    build_store(db, [job("a", 1)])
    assert export_history(db, tmp_path / "dataset", update=True).changed == ()


def test_a_month_left_without_jobs_is_removed(tmp_path: Path) -> None:
    db = build_store(tmp_path / "fabric.db", [job("a", 1), job("b", 40, clips=0)])
    export_history(db, tmp_path / "dataset", update=True)
    build_store(db, [job("b", 2)])  # February is empty now
    done = export_history(db, tmp_path / "dataset", update=True)
    assert done.changed == ("started_month=2026-01", "started_month=2026-02")
    assert not (tmp_path / "dataset" / "jobs" / "started_month=2026-02").exists()
    export_history(db, tmp_path / "fresh")
    assert tree(tmp_path / "dataset") == tree(tmp_path / "fresh")


def test_another_fabric_nb_version_rewrites_everything(tmp_path: Path) -> None:
    import json

    db = build_store(tmp_path / "fabric.db", [job("a", 1), job("b", 40)])
    export_history(db, tmp_path / "dataset", update=True)
    manifest = tmp_path / "dataset" / MANIFEST_NAME
    data = json.loads(manifest.read_text())
    data["stamp"] = "written by another version"
    manifest.write_text(json.dumps(data))
    done = export_history(db, tmp_path / "dataset", update=True)
    assert done.changed == ("started_month=2026-01", "started_month=2026-02")


def test_a_month_on_disk_the_manifest_does_not_know_is_taken_out(tmp_path: Path) -> None:
    """As an update killed after writing a month and before the manifest said so leaves it."""
    db = build_store(tmp_path / "fabric.db", [job("a", 1), job("b", 40)])
    dataset = tmp_path / "dataset"
    export_history(db, dataset, update=True)
    for table in ("jobs", "outputs"):
        orphan = dataset / table / "started_month=2025-06"
        orphan.mkdir()
        shutil.copy(dataset / table / "started_month=2026-01" / "part-0.parquet", orphan)
    done = export_history(db, dataset, update=True)
    assert done.changed == ("started_month=2025-06",)
    export_history(db, tmp_path / "fresh")
    assert tree(dataset) == tree(tmp_path / "fresh")


def test_another_version_s_months_left_without_jobs_are_taken_out(tmp_path: Path) -> None:
    import json

    db = build_store(tmp_path / "fabric.db", [job("a", 1), job("b", 40)])
    dataset = tmp_path / "dataset"
    export_history(db, dataset, update=True)
    manifest = dataset / MANIFEST_NAME
    data = json.loads(manifest.read_text())
    data["stamp"] = "written by another version"
    manifest.write_text(json.dumps(data))
    build_store(db, [job("b", 2)])  # February is empty now
    done = export_history(db, dataset, update=True)
    assert done.changed == ("started_month=2026-01", "started_month=2026-02")
    export_history(db, tmp_path / "fresh")
    assert tree(dataset) == tree(tmp_path / "fresh")


@pytest.mark.parametrize("linked", ["jobs", "jobs/started_month=2026-01"])
def test_a_symbolic_link_inside_the_dataset_is_refused_and_nothing_is_written_through_it(
    tmp_path: Path, linked: str
) -> None:
    db = build_store(tmp_path / "fabric.db", [job("a", 1)])
    dataset = tmp_path / "dataset"
    export_history(db, dataset, update=True)
    elsewhere = tmp_path / "elsewhere"
    (dataset / linked).rename(elsewhere)
    (dataset / linked).symlink_to(elsewhere, target_is_directory=True)
    before = {p.relative_to(elsewhere): p.read_bytes() for p in elsewhere.rglob("*") if p.is_file()}
    build_store(db, [job("a", 1, "FAILED")])
    with pytest.raises(ExportError, match="is a symbolic link"):
        export_history(db, dataset, update=True)
    after = {p.relative_to(elsewhere): p.read_bytes() for p in elsewhere.rglob("*") if p.is_file()}
    assert after == before


# -- refusals -----------------------------------------------------------------------------


def test_a_folder_not_written_by_update_is_refused(tmp_path: Path) -> None:
    db = build_store(tmp_path / "fabric.db", [job("a", 1)])
    export_history(db, tmp_path / "plain")  # a whole export keeps no manifest
    before = tree(tmp_path / "plain")
    with pytest.raises(OutputExistsError, match=r"holds no \.fabric-export\.json"):
        export_history(db, tmp_path / "plain", update=True)
    assert tree(tmp_path / "plain") == before


@pytest.mark.parametrize(
    "content",
    [b"{ not json", b"[]", b'{"format": 99}', b'{"format": 1, "layout": "history"}'],
)
def test_a_damaged_manifest_is_named_and_nothing_changes(tmp_path: Path, content: bytes) -> None:
    db = build_store(tmp_path / "fabric.db", [job("a", 1)])
    export_history(db, tmp_path / "dataset", update=True)
    (tmp_path / "dataset" / MANIFEST_NAME).write_bytes(content)
    build_store(db, [job("b", 3)])
    before = tree(tmp_path / "dataset")
    with pytest.raises(ExportError, match=r"\.fabric-export\.json: not a manifest"):
        export_history(db, tmp_path / "dataset", update=True)
    assert tree(tmp_path / "dataset") == before


def test_a_manifest_that_is_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    db = build_store(tmp_path / "fabric.db", [job("a", 1)])
    export_history(db, tmp_path / "dataset", update=True)
    manifest = tmp_path / "dataset" / MANIFEST_NAME
    manifest.unlink()
    os.mkfifo(manifest)
    with pytest.raises(ExportError, match="cannot read the dataset's manifest"):
        export_history(db, tmp_path / "dataset", update=True)


def test_the_other_layout_and_histories_not_given_are_refused(tmp_path: Path) -> None:
    one = build_store(tmp_path / "one.db", [job("a", 1)])
    two = build_store(tmp_path / "two.db", [job("b", 1)])
    export_histories({"one": one, "two": two}, tmp_path / "dataset", update=True)
    before = tree(tmp_path / "dataset")
    with pytest.raises(ExportError, match="histories not given: two"):
        export_histories({"one": one}, tmp_path / "dataset", update=True)
    with pytest.raises(ExportError, match="'histories' layout"):
        export_history(one, tmp_path / "dataset", update=True)
    assert tree(tmp_path / "dataset") == before


def test_update_is_parquet_only(tmp_path: Path) -> None:
    db = build_store(tmp_path / "fabric.db", [job("a", 1)])
    with pytest.raises(ValueError, match="Parquet"):
        export_history(db, tmp_path / "out", fmt="csv", update=True)
    assert not (tmp_path / "out").exists()


def test_two_updates_at_once_the_second_is_refused(tmp_path: Path) -> None:
    import fcntl

    db = build_store(tmp_path / "fabric.db", [job("a", 1)])
    dataset = tmp_path / "dataset"
    export_history(db, dataset, update=True)
    fd = os.open(dataset, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running update holds it
        with pytest.raises(ExportError, match="another export is updating"):
            export_history(db, dataset, update=True)
    finally:
        os.close(fd)


# -- killed in the middle ---------------------------------------------------------------

KILLED_UPDATE = """
import sys
from fabric_nb.export import export_history
print("start", flush=True)
export_history(sys.argv[1], sys.argv[2], update=True)
print("done", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.3])  # the child writes half the months
def test_an_update_killed_midway_leaves_whole_partitions_and_the_next_one_repairs(
    tmp_path: Path, fraction: float
) -> None:
    db = build_store(
        tmp_path / "fabric.db", [job(f"j{i:05d}", i % 360, clips=3) for i in range(20_000)]
    )
    began = time.monotonic()
    export_history(db, tmp_path / "timed", update=True)  # how long the whole update takes here
    delay = fraction * (time.monotonic() - began)
    dataset = tmp_path / "dataset"
    export_history(db, dataset, since=START + timedelta(days=200), update=True)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_UPDATE, str(db), str(dataset)],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(tmp_path),
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "start\n"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL
    assert child.stdout.read() == ""  # killed before it finished
    visible = [
        part
        for part in dataset.rglob("part-0.parquet")
        if not any(name.startswith(".") for name in part.relative_to(dataset).parts)
    ]
    assert visible
    for part in visible:
        pq.read_table(part)  # every partition a reader sees is a whole file
    export_history(db, dataset, update=True)
    export_history(db, tmp_path / "fresh")
    assert tree(dataset) == tree(tmp_path / "fresh")
    assert hidden(dataset) == []


# -- the command line ---------------------------------------------------------------------


def test_cli_update_says_which_partitions_changed(tmp_path: Path) -> None:
    db = build_store(tmp_path / "fabric.db", [job("a", 1), job("b", 40)])
    out = tmp_path / "dataset"
    first = run_cli_process("export", "--db", db, "--update", out, home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "changed:  2 partitions: started_month=2026-01, started_month=2026-02" in first.stdout
    build_store(db, [job("c", 41)])
    second = run_cli_process("export", "--db", db, "--update", out, home=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "changed:  1 partition: started_month=2026-02" in second.stdout
    plain = run_cli_process("export", "--db", db, out, home=tmp_path)
    assert plain.returncode != 0
    assert "not empty" in plain.stderr
