"""``fabric-nb info``, ``check`` and ``export`` over several histories (``--db`` repeated,
a folder or a glob), run as a user runs them, in a fresh process."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from support import RunCli, build_store, make_job, sample_jobs

from fabric_nb import open_fabric
from fabric_nb.cli import EXIT_DATABASE, EXIT_FAILED, EXIT_OK, EXIT_USAGE


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fleet")
    for i, name in enumerate(("bay-1", "bay-2")):
        build_store(folder / f"{name}.db", sample_jobs(60, seed=70 + i))
    return folder


def test_info_gives_each_history_and_the_total(run_cli: RunCli, fleet: Path) -> None:
    done = run_cli("info", "--db", fleet)
    assert done.returncode == EXIT_OK, done.stderr
    lines = done.stdout.splitlines()
    counts = {}
    for name in ("bay-1", "bay-2"):
        with open_fabric(fleet / f"{name}.db") as one:
            counts[name] = len(one)
        (line,) = [line for line in lines if line.startswith(name)]
        assert line.split()[1] == str(counts[name])
    (total,) = [line for line in lines if line.startswith("total")]
    assert total.split()[1] == str(sum(counts.values()))


def test_info_json_has_per_history_reports_and_totals(run_cli: RunCli, fleet: Path) -> None:
    done = run_cli("info", "--json", "--db", fleet / "bay-1.db", "--db", fleet / "bay-2.db")
    assert done.returncode == EXIT_OK, done.stderr
    document = json.loads(done.stdout)
    assert list(document["histories"]) == ["bay-1", "bay-2"]
    jobs = [document["histories"][n]["jobs"] for n in ("bay-1", "bay-2")]
    assert document["total"] == {
        "histories": 2,
        "jobs": sum(jobs),
        "outputs": sum(document["histories"][n]["outputs"] for n in ("bay-1", "bay-2")),
    }


def test_one_db_keeps_the_single_history_output(run_cli: RunCli, fleet: Path) -> None:
    done = run_cli("info", "--db", fleet / "bay-1.db")
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout.startswith("path:")


def test_check_reports_every_history_and_fails_when_one_fails(
    run_cli: RunCli, fleet: Path, tmp_path: Path
) -> None:
    done = run_cli("check", "--db", str(fleet / "*.db"))
    assert done.returncode == EXIT_OK, done.stderr
    assert [line.split(":")[1].strip() for line in done.stdout.splitlines()] == ["bay-1", "bay-2"]
    broken = tmp_path / "bay-9.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 2000)
    done = run_cli("check", "--db", fleet / "bay-1.db", "--db", broken)
    assert done.returncode == EXIT_FAILED
    assert "ok: bay-1:" in done.stdout
    assert "FAILED: bay-9:" in done.stderr
    assert "1 of 2 failed" in done.stderr


def test_an_empty_folder_is_a_database_error(run_cli: RunCli, tmp_path: Path) -> None:
    done = run_cli("info", "--db", tmp_path)
    assert done.returncode == EXIT_DATABASE
    assert "no *.db file in this folder" in done.stderr


def test_export_writes_one_dataset_by_history_and_month(
    run_cli: RunCli, fleet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dataset"
    done = run_cli("export", out, "--db", fleet)
    assert done.returncode == EXIT_OK, done.stderr
    parts = sorted(p.relative_to(out).parts[:3] for p in out.rglob("*.parquet"))
    assert {p[:2] for p in parts} == {
        ("jobs", "history=bay-1"),
        ("jobs", "history=bay-2"),
        ("outputs", "history=bay-1"),
        ("outputs", "history=bay-2"),
    }
    assert all(p[2].startswith("started_month=") for p in parts)
    table = ds.dataset(out / "jobs", format="parquet", partitioning="hive").to_table()
    with open_fabric(sorted(fleet.glob("*.db"))) as fleet_history:
        jobs = fleet_history.jobs()
    assert table.num_rows == len(jobs)
    got = sorted(zip(table["history"].to_pylist(), table["job_id"].to_pylist(), strict=True))
    assert got == sorted(zip(jobs["history"].astype(str), jobs["job_id"], strict=True))


def test_export_of_several_histories_is_parquet_only(
    run_cli: RunCli, fleet: Path, tmp_path: Path
) -> None:
    done = run_cli("export", tmp_path / "x", "--format", "csv", "--db", fleet)
    assert done.returncode == EXIT_USAGE
    assert "one Parquet dataset" in done.stderr
    assert not (tmp_path / "x").exists()


def test_a_job_in_two_histories_is_exported_in_each(run_cli: RunCli, tmp_path: Path) -> None:
    a = build_store(tmp_path / "a.db", [make_job("job_shared"), make_job("job_a")])
    b = build_store(tmp_path / "b.db", [make_job("job_shared")])
    out = tmp_path / "dataset"
    done = run_cli("export", out, "--db", a, "--db", b)
    assert done.returncode == EXIT_OK, done.stderr
    table = ds.dataset(out / "jobs", format="parquet", partitioning="hive").to_table()
    rows = sorted(zip(table["history"].to_pylist(), table["job_id"].to_pylist(), strict=True))
    assert rows == [("a", "job_a"), ("a", "job_shared"), ("b", "job_shared")]


# -- report -------------------------------------------------------------------------------


def test_report_of_several_histories_names_them_and_counts_them_all(
    run_cli: RunCli, fleet: Path, tmp_path: Path
) -> None:
    page = tmp_path / "fleet.html"
    done = run_cli("report", "--db", fleet, page)
    assert done.returncode == EXIT_OK, done.stderr
    with open_fabric([fleet]) as both:
        jobs = len(both)
        by_history = both.status_counts(by="history")["count"]
    assert f"({jobs} jobs)" in done.stdout
    text = page.read_text(encoding="utf-8")
    assert "<title>Fabric histories: bay-1, bay-2</title>" in text
    assert "from 2 histories (bay-1, bay-2)" in text
    assert f"<dt>jobs</dt><dd>{jobs}</dd>" in text
    section = text.split("<section id='histories'>", 1)[1].split("</section>", 1)[0]
    for name in ("bay-1", "bay-2"):
        total = int(by_history[name].sum())
        failed = int(by_history[name, "FAILED"])
        share = f"{100 * failed / total:.1f}% ({failed})"
        assert (
            f"<td class='text'>{name}</td><td class='n'>{total}</td><td class='n'>{share}</td>"
            in section
        )


def test_report_of_several_fails_naming_the_damaged_one(
    run_cli: RunCli, fleet: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "bay-9.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    page = tmp_path / "fleet.html"
    done = run_cli("report", "--db", fleet / "bay-1.db", "--db", damaged, page)
    assert done.returncode == EXIT_DATABASE
    assert str(damaged) in done.stderr
    assert not page.exists()
