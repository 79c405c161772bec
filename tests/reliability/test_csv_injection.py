"""CSV export never hands a spreadsheet a formula to run (OWASP's advice).

A ``job_id``, ``failure_reason`` or ``validation_error`` starting with
``=``, ``+``, ``-``, ``@`` (or a tab or line break) is written into the CSV
with a ``'`` in front, which spreadsheets show as text. ``--raw-csv`` writes
the exact values for tools that are not spreadsheets, and Parquet always
keeps them exact. Real store, real command.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support import RunCli, make_clip, make_result, write_result

HOSTILE = {
    '=HYPERLINK("http://x","y")': ("+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0"),
    "@SUM(1+1)*cmd|' /C calc'!A0": ("\t=1+1", "\r=1+1"),
}
SAFE = ("job-plain", "a=b is not a formula", "12-3")


@pytest.fixture
def store(tmp_path: Path, run_cli: RunCli) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [*HOSTILE.items(), (SAFE[0], SAFE[1:])]
    for i, (job_id, (reason, error)) in enumerate(rows):
        doc = make_result(
            job_id=job_id,
            final_status="FAILED",
            clips=[make_clip(0, status="FAILED", failure_reason=reason)],
        )
        doc["_metadata"]["validation_error"] = error
        write_result(folder, doc, f"{i}.json")
    assert run_cli("--db", tmp_path / "f.db", "ingest", folder).returncode == 0
    return tmp_path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_cells_that_would_run_as_formulas_get_a_quote(store: Path, run_cli: RunCli) -> None:
    done = run_cli("--db", store / "f.db", "export", store / "out", "--format", "csv")
    assert done.returncode == 0, done.stderr

    jobs = {row["job_id"]: row for row in read_csv(store / "out" / "jobs.csv")}
    outputs = read_csv(store / "out" / "outputs.csv")
    for job_id, (reason, error) in HOSTILE.items():
        assert jobs[f"'{job_id}"]["validation_error"] == f"'{error}"
        [output] = [o for o in outputs if o["job_id"] == f"'{job_id}"]
        assert output["failure_reason"] == f"'{reason}"
    assert jobs[SAFE[0]]["validation_error"] == SAFE[2]  # untouched
    assert [o["failure_reason"] for o in outputs if o["job_id"] == SAFE[0]] == [SAFE[1]]
    for row in [*jobs.values(), *outputs]:
        for value in row.values():
            assert not value or value[0] not in "=+-@\t\r\n", value


def test_raw_csv_and_parquet_keep_the_exact_values(store: Path, run_cli: RunCli) -> None:
    raw = run_cli("--db", store / "f.db", "export", store / "raw", "--format", "csv", "--raw-csv")
    parquet = run_cli("--db", store / "f.db", "export", store / "pq")
    assert raw.returncode == 0, raw.stderr
    assert parquet.returncode == 0, parquet.stderr

    expected = {*HOSTILE, SAFE[0]}
    assert {row["job_id"] for row in read_csv(store / "raw" / "jobs.csv")} == expected
    table = pq.read_table(store / "pq" / "jobs").to_pydict()
    assert set(table["job_id"]) == expected
    errors = dict(zip(table["job_id"], table["validation_error"], strict=True))
    assert errors['=HYPERLINK("http://x","y")'] == "-2+3+cmd|' /C calc'!A0"
