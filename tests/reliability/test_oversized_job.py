"""One result too big for SQLite never keeps the good files of its batch out.

``outputs_json`` repeats the job id in every output, so a valid file of a few
hundred kilobytes (a 64 KiB job id, 1 100 clips) becomes a row of 72 MB,
over :data:`~fabric_nb.storage.MAX_STORED_VALUE_BYTES`. It used to fail its
whole batch with SQLite's "string or blob too big", naming no file, on every
re-run. Now it is rejected by name and the rest of the batch is stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import RunCli, make_clip, make_job, make_result, stored_job_ids, write_result

from fabric_nb import create_persistence
from fabric_nb.errors import StorageError, UnstorableJobError
from fabric_nb.storage import MAX_STORED_VALUE_BYTES

BIG_ID = "j" * (64 * 1024)


def oversized_result() -> dict[str, object]:
    clips = [make_clip(i) for i in range(1100)]
    return make_result(job_id=BIG_ID, clips=clips)


def test_the_oversized_file_is_rejected_by_name_and_the_rest_is_stored(
    tmp_path: Path, run_cli: RunCli
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    write_result(folder, make_result(job_id="a"), "a.json")
    big = write_result(folder, oversized_result(), "b.json")
    write_result(folder, make_result(job_id="c"), "c.json")
    assert big.stat().st_size < 1024 * 1024

    done = run_cli("--db", tmp_path / "fabric.db", "ingest", folder)

    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"rejected: {big}: is too big to store: outputs_json is ")
    assert f"the limit is {MAX_STORED_VALUE_BYTES}" in lines[0]
    assert stored_job_ids(tmp_path / "fabric.db") == ["a", "c"]

    # A re-run: nothing blocks for good, and the unchanged file is still rejected, quietly.
    again = run_cli("--db", tmp_path / "fabric.db", "ingest", folder)
    assert (again.returncode, again.stderr) == (0, "")
    assert "still rejected: 1" in " ".join(again.stdout.split())
    assert stored_job_ids(tmp_path / "fabric.db") == ["a", "c"]


def test_storage_names_the_unstorable_jobs_and_stores_none(tmp_path: Path) -> None:
    db = tmp_path / "fabric.db"
    good = make_job("good")
    big = make_job(BIG_ID, outputs=[make_job(BIG_ID).outputs[0]] * 1100)
    with create_persistence(db) as persistence:
        with pytest.raises(UnstorableJobError) as caught:
            persistence.persist_ingested_jobs([good, big, good])
        assert caught.value.positions == (1,)
        assert "is too big to store: outputs_json" in caught.value.reasons[0]
        assert len(str(caught.value)) < 500  # the 64 KiB id is not printed whole
        assert persistence.load_job_ids() == set()
        persistence.persist_ingested_jobs([good])  # the connection is still usable


def test_a_failed_write_names_a_huge_job_id_cut_short(tmp_path: Path) -> None:
    db = tmp_path / "fabric.db"
    huge = "j" * (2 * 1024 * 1024)
    with create_persistence(db):
        pass
    with create_persistence(db, readonly=True) as persistence:
        for batch in ([make_job(huge)], [make_job(huge), make_job("good"), make_job(huge + "2")]):
            with pytest.raises(StorageError, match=r"read-only \(jobs? 'jjj") as caught:
                persistence.persist_ingested_jobs(batch)
            assert len(str(caught.value)) < 500  # not the 2 MiB id
