"""``make demo`` (``python -m fabric_nb.demo_cli``) and the sample-history helpers behind it.

The demo runs as a user runs it: a fresh interpreter, in an empty working
directory, with ``HOME`` pointing at a temporary folder. Its notebooks run in
real Jupyter kernels against the real SQLite file it wrote.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import (
    build_store,
    child_env,
    job_records,
    make_job,
    run_python_code,
    sha256_of,
)

from fabric_nb import StorageError, create_persistence, open_fabric
from fabric_nb.demo import (
    SAMPLE_JOBS,
    SAMPLE_MACHINES,
    SHARED_FILES,
    build_sample_database,
    build_sample_histories,
    open_example_histories,
    open_example_history,
    require_fleet,
)
from fabric_nb.render import NOTEBOOKS_DIR
from fabric_nb.samples import SAMPLE_SEED, generate_results

pytestmark = pytest.mark.slow  # runs notebooks or whole commands end to end

DEMO_TIMEOUT = 300  # seconds; a demo run takes about 20 s on a laptop


def sample_job_ids(n_jobs: int = SAMPLE_JOBS, seed: int = SAMPLE_SEED) -> set[str]:
    """The distinct job ids of the sample, counted from the generator itself."""
    return {result["job_id"] for result in generate_results(n_jobs, seed=seed)}


def stored_records(db: Path) -> list[dict[str, Any]]:
    """Every stored job as plain data, without ``ingested_at`` (when Fabric read it)."""
    with create_persistence(db, readonly=True) as persistence:
        records = job_records(persistence.load_all_jobs())
    for record in records:
        del record["ingested_at"]
    return records


def run_demo(
    cwd: Path,
    *args: str | os.PathLike[str],
    env: dict[str, str] | None = None,
    module: str = "fabric_nb.demo_cli",
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` in ``cwd`` (the demo's command line), with ``HOME`` in ``cwd``."""
    home = cwd / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=cwd,
        env=child_env(home, env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )


def notebook_hashes() -> dict[str, str]:
    return {path.name: sha256_of(path) for path in sorted(NOTEBOOKS_DIR.iterdir())}


@dataclass
class DemoRun:
    cwd: Path
    first: subprocess.CompletedProcess[str]
    first_records: list[dict[str, Any]]
    notebooks_before: dict[str, str]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One demo run with the defaults, as ``make demo`` does it, in an empty folder.

    ``FABRIC_DB`` points at a file that does not exist: the demo must run its
    notebooks against its own database, whatever the caller's environment says.
    """
    cwd = tmp_path_factory.mktemp("demo-run")
    before = notebook_hashes()
    done = run_demo(cwd, env={"FABRIC_DB": str(cwd / "not-this.db")})
    assert done.returncode == 0, done.stderr
    return DemoRun(cwd, done, stored_records(cwd / "demo" / "fabric.db"), before)


# -- one run ------------------------------------------------------------------------


def test_demo_writes_the_sample_results(demo_run: DemoRun) -> None:
    results = demo_run.cwd / "demo" / "results"
    files = sorted(results.iterdir())
    assert len(files) == SAMPLE_JOBS
    ids = {json.loads(path.read_bytes())["job_id"] for path in files}
    assert ids == sample_job_ids()


def test_demo_database_holds_exactly_the_sample_jobs(demo_run: DemoRun) -> None:
    assert {record["job_id"] for record in demo_run.first_records} == sample_job_ids()
    assert not (demo_run.cwd / "not-this.db").exists()


def test_demo_renders_every_notebook_against_its_database(demo_run: DemoRun) -> None:
    demo = demo_run.cwd / "demo"
    db = (demo / "fabric.db").resolve()
    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert [p.stem for p in notebooks] == [
        "01_quickstart",
        "02_failures",
        "03_history_over_time",
        "04_questions",
        "05_past_one_machine",
    ]
    for notebook in notebooks:
        html = (demo / f"{notebook.stem}.html").read_text(encoding="utf-8")
        if notebook.stem == "05_past_one_machine":
            # Several histories: FABRIC_DB names one, so the synthetic machines are read.
            assert re.search(r"<b>Fabric histories</b>: 3, \d+ jobs", html)
            assert all(f">{name}</th>" in html for name in SAMPLE_MACHINES)
            assert "Dask equals fabric_nb: True" in html
        else:
            # The setup cell ran with FABRIC_DB set to the demo's database ...
            assert f"Exploring {db}: {len(sample_job_ids())} jobs" in html
        # ... and the plots were drawn and embedded in the page, which loads
        # nothing from the web.
        assert "data:image/png;base64," in html
        assert not re.search(r"<(?:script|link)\b[^>]*(?:src|href)=\"https?:", html)


def test_demo_prints_where_everything_is(demo_run: DemoRun) -> None:
    out = demo_run.first.stdout
    assert f"wrote {SAMPLE_JOBS} synthetic result files to demo/results/" in out
    distinct = len(sample_job_ids())
    assert (
        f"ingested {distinct} files into demo/fabric.db ({distinct} new, 0 replaced, "
        f"{SAMPLE_JOBS - distinct} superseded by a later re-run of their job); "
        f"it holds {distinct} jobs"
    ) in out
    for name in ("01_quickstart", "02_failures", "03_history_over_time"):
        assert f"notebook       demo/{name}.html" in out
    assert "database       demo/fabric.db" in out
    assert "report         demo/report.html" in out


def test_demo_writes_the_report_of_its_history(demo_run: DemoRun) -> None:
    page = (demo_run.cwd / "demo" / "report.html").read_text(encoding="utf-8")
    assert "<title>Fabric history: fabric.db</title>" in page
    assert f"<dt>jobs</dt><dd>{len(sample_job_ids())}</dd>" in page


def test_demo_does_not_modify_the_notebooks(demo_run: DemoRun) -> None:
    assert notebook_hashes() == demo_run.notebooks_before


# -- running it again ---------------------------------------------------------------


def test_second_run_leaves_the_same_jobs(demo_run: DemoRun) -> None:
    """Re-running ingests the same files again: same jobs, same facts; only ingested_at moves."""
    again = run_demo(demo_run.cwd)
    assert again.returncode == 0, again.stderr
    distinct = len(sample_job_ids())
    assert (
        f"(0 new, {distinct} replaced, {SAMPLE_JOBS - distinct} superseded by a later re-run "
        f"of their job); it holds {distinct} jobs"
    ) in again.stdout
    assert stored_records(demo_run.cwd / "demo" / "fabric.db") == demo_run.first_records
    assert len(list((demo_run.cwd / "demo" / "results").iterdir())) == SAMPLE_JOBS


# -- failures -----------------------------------------------------------------------


def test_a_damaged_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "out" / "fabric.db"
    db.parent.mkdir()
    db.write_bytes(b"this is not a SQLite database" * 100)
    before = sha256_of(db)
    done = run_demo(tmp_path, "--output-dir", tmp_path / "out")
    assert done.returncode == 3
    assert str(db) in done.stderr
    assert "delete" in done.stderr
    assert sha256_of(db) == before
    assert not list((tmp_path / "out").glob("*.html"))


def test_a_failing_notebook_stops_the_demo_and_is_named(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    broken = new_notebook(cells=[new_code_cell("raise RuntimeError('no such column: oops')")])
    nbformat.write(broken, notebooks / "01_broken.ipynb")
    before = sha256_of(notebooks / "01_broken.ipynb")
    done = run_demo(tmp_path, "--output-dir", tmp_path / "out", "--notebooks", notebooks)
    assert done.returncode == 1
    assert "01_broken.ipynb" in done.stderr
    assert "RuntimeError: no such column: oops" in done.stderr
    assert not (tmp_path / "out" / "01_broken.html").exists()
    assert sha256_of(notebooks / "01_broken.ipynb") == before


def test_no_notebooks_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_demo(tmp_path, "--output-dir", tmp_path / "out", "--notebooks", empty)
    assert done.returncode == 2
    assert str(empty) in done.stderr
    assert not (tmp_path / "out").exists()


def test_paths_and_errors_are_printed_with_control_characters_escaped(tmp_path: Path) -> None:
    empty = tmp_path / "empty\x1b[31m"
    empty.mkdir()
    done = run_demo(tmp_path, "--notebooks", empty)
    assert done.returncode == 2
    assert "empty\\x1b[31m" in done.stderr
    assert "\x1b" not in done.stderr

    out = tmp_path / "out\x1b]0;pwned\x07"
    out.mkdir()
    (out / "fabric.db").write_bytes(b"this is not a SQLite database" * 100)
    done = run_demo(tmp_path, "--output-dir", out)
    assert done.returncode == 3
    assert "out\\x1b]0;pwned\\x07" in done.stderr
    assert "\x1b" not in done.stderr
    assert "\x07" not in done.stderr


def test_without_the_notebooks_extra_the_demo_says_what_to_install(tmp_path: Path) -> None:
    """``nbclient`` blocked in the child, as if ``fabric-nb[notebooks]`` were not installed."""
    code = (
        "import sys; sys.modules['nbclient'] = None\n"
        "from fabric_nb.demo_cli import main\n"
        f"sys.exit(main(['--output-dir', {str(tmp_path / 'out')!r}]))\n"
    )
    done = run_python_code(code, home=tmp_path, check=False)
    assert done.returncode == 2
    assert "nbclient" in done.stderr
    assert "pip install 'fabric-nb[notebooks]'" in done.stderr
    assert not (tmp_path / "out").exists()


# -- the library helpers ------------------------------------------------------------


def test_build_sample_database_twice_gives_the_same_jobs(tmp_path: Path) -> None:
    db, results = tmp_path / "db" / "fabric.db", tmp_path / "results"
    results.mkdir()
    (results / "zz_not_from_the_sample.json").write_text("{ not json")
    first = build_sample_database(db, results, n_jobs=60, seed=7)
    records = stored_records(db)
    second = build_sample_database(db, results, n_jobs=60, seed=7)
    assert first.files == second.files == 60  # the foreign file was neither read nor rejected
    assert first.rejected == second.rejected == ()
    distinct = len(sample_job_ids(60, seed=7))
    assert second.new == 0
    assert second.replaced == second.ingested == distinct
    assert second.superseded == 60 - distinct  # the earlier file of each re-run job
    assert stored_records(db) == records
    assert {r["job_id"] for r in records} == sample_job_ids(60, seed=7)


def test_build_sample_database_keeps_other_jobs(tmp_path: Path) -> None:
    db = build_store(tmp_path / "fabric.db", [make_job("someone-elses-job")])
    build_sample_database(db, tmp_path / "results", n_jobs=20, seed=3)
    ids = {r["job_id"] for r in stored_records(db)}
    assert ids == sample_job_ids(20, seed=3) | {"someone-elses-job"}


@pytest.fixture
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``tempfile`` create its folders under this test's own directory."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.parametrize("env_value", [None, ""])
def test_open_example_history_builds_the_sample_without_fabric_db(
    env_value: str | None, private_tempdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env_value is None:
        monkeypatch.delenv("FABRIC_DB", raising=False)
    else:
        monkeypatch.setenv("FABRIC_DB", env_value)  # empty counts as unset
    fabric = open_example_history(n_jobs=40, seed=11)
    folder = fabric.path.parent
    assert folder.parent == private_tempdir
    assert fabric.readonly
    assert {job.job_id for job in fabric.queries.get_all_jobs()} == sample_job_ids(40, seed=11)
    with pytest.raises(StorageError):
        fabric.index.add_job(make_job("not-allowed"))
    fabric.close()
    del fabric
    gc.collect()
    assert not folder.exists()  # the temporary sample goes with the history


def test_open_example_history_opens_fabric_db_read_only(
    tmp_path: Path, private_tempdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = build_store(tmp_path / "real" / "fabric.db", [make_job("real-1"), make_job("real-2")])
    before = sha256_of(db)
    monkeypatch.setenv("FABRIC_DB", str(db))
    with open_example_history() as fabric:
        assert fabric.path == db
        assert fabric.readonly
        assert [job.job_id for job in fabric.queries.get_all_jobs()] == ["real-1", "real-2"]
        with pytest.raises(StorageError):
            fabric.index.add_job(make_job("real-3"))
    assert sha256_of(db) == before
    assert list(private_tempdir.iterdir()) == []  # no sample was built


def test_open_example_history_refuses_a_missing_fabric_db(
    tmp_path: Path, private_tempdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "fabric.db"
    monkeypatch.setenv("FABRIC_DB", str(missing))
    with pytest.raises(StorageError):
        open_example_history()
    assert not missing.parent.exists()
    assert list(private_tempdir.iterdir()) == []


# -- several machines ---------------------------------------------------------------


def test_sample_histories_are_one_sample_per_machine_with_shared_jobs(tmp_path: Path) -> None:
    databases = build_sample_histories(tmp_path, n_jobs=50, seed=5)
    assert list(databases) == list(SAMPLE_MACHINES)
    assert databases == {name: tmp_path / f"{name}.db" for name in SAMPLE_MACHINES}
    ids = {name: {r["job_id"] for r in stored_records(db)} for name, db in databases.items()}
    shared_files = sorted((tmp_path / "bay-1" / "results").iterdir())[:SHARED_FILES]
    shared = {json.loads(path.read_bytes())["job_id"] for path in shared_files}
    assert ids["bay-1"] == sample_job_ids(50, seed=5)
    assert ids["bay-2"] == sample_job_ids(50, seed=6) | shared
    assert ids["bay-3"] == sample_job_ids(50, seed=7)
    with open_fabric(databases) as fleet:
        assert set(fleet.duplicate_jobs()["job_id"]) == shared


def test_sample_histories_are_the_same_bytes_every_time(tmp_path: Path) -> None:
    first = build_sample_histories(tmp_path / "a", machines=("x", "y"), n_jobs=20, seed=1)
    second = build_sample_histories(tmp_path / "b", machines=("x", "y"), n_jobs=20, seed=1)
    for name in ("x", "y"):
        records = [{**r, "ingested_at": None} for r in stored_records(first[name])]
        assert records == [{**r, "ingested_at": None} for r in stored_records(second[name])]


@pytest.mark.parametrize("machines", [(), ("a", "a")])
def test_sample_histories_refuse_bad_machine_names(
    tmp_path: Path, machines: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="distinct names"):
        build_sample_histories(tmp_path, machines=machines)
    assert list(tmp_path.iterdir()) == []


def test_open_example_histories_builds_the_machines_and_removes_them(
    private_tempdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FABRIC_DBS", raising=False)
    fleet = open_example_histories(n_jobs=30, seed=4)
    folders = {path.parent for path in fleet.paths.values()}
    assert fleet.names == list(SAMPLE_MACHINES)
    assert len(folders) == 1
    folder = folders.pop()
    assert folder.parent == private_tempdir
    fleet.close()
    del fleet
    gc.collect()
    assert not folder.exists()


def test_open_example_histories_opens_fabric_dbs_read_only(
    tmp_path: Path, private_tempdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = build_store(tmp_path / "m" / "one.db", [make_job("a")])
    two = build_store(tmp_path / "other" / "two.db", [make_job("b")])
    before = sha256_of(one), sha256_of(two)
    monkeypatch.setenv("FABRIC_DBS", f"{tmp_path / 'm'}{os.pathsep}{two}")
    with open_example_histories() as fleet:
        assert fleet.paths == {"one": one, "two": two}
        assert sorted(fleet.jobs()["job_id"]) == ["a", "b"]
    assert (sha256_of(one), sha256_of(two)) == before
    assert list(private_tempdir.iterdir()) == []


def test_require_fleet_names_the_extra_when_an_engine_is_missing(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['duckdb'] = None\n"
        "import importlib.util\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'duckdb' else real(name, *a)\n"
        "from fabric_nb.demo import require_fleet\n"
        "require_fleet()\n"
    )
    done = run_python_code(code, home=tmp_path, check=False)
    assert done.returncode == 1
    assert "MissingExtraError" in done.stderr
    assert "needs duckdb" in done.stderr
    assert "pip install 'fabric-nb[fleet]'" in done.stderr


def test_require_fleet_passes_when_the_extra_is_installed() -> None:
    """The test environment installs the ``fleet`` extra (make test, .ci/run)."""
    require_fleet()  # raises MissingExtraError when one of its packages is missing
