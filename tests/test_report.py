"""``fabric-nb report``: a history's report as one self-contained HTML page.

Run as a user runs it (a fresh process, real SQLite files): on the sample
history, scoped, on an empty one, read-only, with nothing fetched from the
web, and with clear exits when the database, the scope or the target is
wrong. What the page says is checked against the history's own answers;
how it looks in a browser is ``test_report_browser.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import (
    REPO_ROOT,
    RunCli,
    build_store,
    cli_env,
    make_job,
    make_output,
    sample_jobs,
    sha256_of,
)

from fabric_nb import IngestedJob, create_persistence, open_fabric
from fabric_nb.render import (
    _CHECKOUT_NOTEBOOKS_DIR,
    _INSTALLED_NOTEBOOKS_DIR,
    NOTEBOOKS_DIR,
    OVERVIEW_NOTEBOOK,
    _find_notebooks_dir,
    render_notebook,
)
from fabric_nb.report import build_report, write_report

REPORT_TIMEOUT = 300  # seconds; a report takes about 2 s
GENERATED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SECTIONS = (
    "Headline",
    "Failures by engine",
    "Failures by profile",
    "Top failure reasons",
    "Weekly failure rate per engine",
    "Slowest profiles per clip",
    "What this history does not hold",
)


def external_references(html: str) -> list[str]:
    """``src`` / ``href`` attributes of tags that would load something from the web."""
    return re.findall(
        r"<(?:script|link|img|iframe|source)\b[^>]*(?:src|href|srcset)=[\"']"
        r"(https?:[^\"']*)",
        html,
    )


def cell_texts(html: str) -> list[str]:
    return re.findall(r"<td class='[^']*'>(.*?)</td>", html)


#: Jobs the sample history of 120 result files stores: a few re-run a job_id.
STORED = len({job.job_id for job in sample_jobs(120)})


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("report") / "fabric.db", sample_jobs(120))


@pytest.mark.slow
def test_report_of_the_sample_history(run_cli: RunCli, sample_db: Path, tmp_path: Path) -> None:
    before = sha256_of(sample_db)
    side_files = sorted(p.name for p in sample_db.parent.iterdir())
    pages = tmp_path / "pages"
    pages.mkdir()
    out = pages / "history.html"

    done = run_cli("report", "--db", sample_db, out, timeout=REPORT_TIMEOUT)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {out}: the report of {sample_db} ({STORED} jobs)\n"
    assert done.stderr == ""
    html = out.read_text(encoding="utf-8")
    assert "<title>Fabric history: fabric.db</title>" in html
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in html
    assert [h for h in re.findall(r"<h2>(.*?)</h2>", html)] == list(SECTIONS)
    assert "Scope: every job in the history." in html
    # The chart twice, as SVG: wide, and narrow for phones.
    assert len(re.findall(r"data:image/svg\+xml;base64,", html)) == 2
    assert external_references(html) == []
    assert "<script" not in html
    assert "@media print" in html
    # Read-only: the database and its folder are exactly as they were.
    assert sha256_of(sample_db) == before
    assert sorted(p.name for p in sample_db.parent.iterdir()) == side_files
    assert [p.name for p in pages.iterdir()] == ["history.html"]  # no temporary left
    assert out.stat().st_mode & 0o777 == 0o600


def test_the_page_says_what_the_history_answers(sample_db: Path) -> None:
    with open_fabric(sample_db) as fabric:
        page, jobs = build_report(fabric, generated_at=GENERATED)
        frame = fabric.jobs()
        by_engine = fabric.status_counts(by="engine_used")
        reasons = fabric.failure_reasons()
    assert jobs == len(frame) == STORED
    assert "Generated 2026-12-01 09:30 UTC from fabric.db." in page
    first, last = frame["started_at"].min(), frame["started_at"].max()
    assert f"Jobs started from {first:%Y-%m-%d %H:%M} UTC to {last:%Y-%m-%d %H:%M} UTC." in page
    failed = int((frame["final_status"] == "FAILED").sum())
    assert f"<dt>failed</dt><dd>{100 * failed / STORED:.1f}% ({failed})</dd>" in page
    engines = re.search(r"<section id='engines'>.*?</section>", page, re.S)
    assert engines is not None
    for engine in ("ffmpeg", "resolve"):
        count = by_engine.xs(engine, level="engine_used")["count"]
        total, lost = int(count.sum()), int(count["FAILED"])
        assert (
            f"<td class='text'>{engine}</td><td class='n'>{total}</td>"
            f"<td class='n'>{100 * lost / total:.1f}% ({lost})</td>"
        ) in engines.group(0)
    top = reasons.iloc[0]
    assert f"{100 * top['share']:.1f}% ({top['count']})" in page
    assert top["reason"] in page


def test_the_same_history_gives_the_same_page(sample_db: Path) -> None:
    with open_fabric(sample_db) as fabric:
        first, _ = build_report(fabric, generated_at=GENERATED)
        second, _ = build_report(fabric, generated_at=GENERATED)
    assert first == second


def _timed(job_id: str, profile: str, seconds: float, clips: int = 1) -> IngestedJob:
    start = datetime(2026, 9, 7, 10, tzinfo=UTC)
    outputs = tuple(make_output(job_id, i) for i in range(clips))
    return make_job(
        job_id,
        canonical_proxy_profile=profile,
        started_at=start,
        completed_at=start + timedelta(seconds=seconds),
        outputs=outputs,
        total_clips=clips,
        completed_clips=clips,
    )


def test_a_column_of_durations_is_in_one_unit(tmp_path: Path) -> None:
    quick = build_store(tmp_path / "quick.db", [_timed("a", "p1", 12.34), _timed("b", "p2", 3.5)])
    with open_fabric(quick) as fabric:
        page, _ = build_report(fabric, generated_at=GENERATED)
    slowest = re.search(r"<section id='slowest'>.*?</section>", page, re.S)
    assert slowest is not None
    assert "<td class='n'>12.3 s</td>" in slowest.group(0)
    assert "<td class='n'>3.5 s</td>" in slowest.group(0)
    # One job over a minute: the whole column turns to h:mm:ss, none left in seconds.
    mixed = build_store(tmp_path / "mixed.db", [_timed("a", "p1", 3725, 1), _timed("b", "p2", 7.6)])
    with open_fabric(mixed) as fabric:
        page, _ = build_report(fabric, generated_at=GENERATED)
    slowest = re.search(r"<section id='slowest'>.*?</section>", page, re.S)
    assert slowest is not None
    cells = cell_texts(slowest.group(0))
    assert "1:02:05" in cells
    assert "0:00:08" in cells
    assert not [c for c in cells if c.endswith(" s")]


def test_sizes_read_in_decimal_units(tmp_path: Path) -> None:
    size = 1_234_567_890_123  # 1.23 TB over two clips
    job = make_job(
        "big",
        outputs=(
            make_output("big", 0, output_size_bytes=size - 10**9),
            make_output("big", 1, output_size_bytes=10**9),
        ),
    )
    with open_fabric(build_store(tmp_path / "big.db", [job])) as fabric:
        page, _ = build_report(fabric, generated_at=GENERATED)
    assert "<dt>proxies written</dt><dd>1.23 TB</dd>" in page


@pytest.mark.slow
def test_a_scoped_report_says_its_scope_and_counts_only_it(
    run_cli: RunCli, sample_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scoped.html"
    done = run_cli(
        "report", "--db", sample_db, out, "--since", "2026-09-15", "--until", "2026-10-01",
        "--engine", "resolve", "--title", "Resolve, late September",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with open_fabric(sample_db) as fabric:
        expected = len(fabric.jobs(since="2026-09-15", until="2026-10-01", engine=["resolve"]))
    assert 0 < expected < STORED
    assert done.stdout.endswith(f"({expected} jobs)\n")
    html = out.read_text(encoding="utf-8")
    assert "<title>Resolve, late September</title>" in html
    assert "Scope: jobs selected by since 2026-09-15; until 2026-10-01; engine resolve." in html
    assert f"<dt>jobs</dt><dd>{expected}</dd>" in html
    engines = re.search(r"<section id='engines'>.*?</section>", html, re.S)
    assert engines is not None
    assert "ffmpeg" not in engines.group(0)


def test_a_bad_scope_is_the_frames_own_error_and_writes_nothing(
    run_cli: RunCli, sample_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.html"
    with open_fabric(sample_db) as fabric, pytest.raises(ValueError, match="month") as raised:
        fabric.jobs(since="2026-13-01")
    done = run_cli("report", "--db", sample_db, out, "--since", "2026-13-01")
    assert done.returncode == 2
    assert done.stderr == f"fabric-nb report: {raised.value}\n"
    assert "month" in done.stderr
    assert not out.exists()


def test_an_engine_no_job_has_is_a_warning_and_an_empty_scope(
    run_cli: RunCli, sample_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.html"
    done = run_cli("report", "--db", sample_db, out, "--engine", "nuke")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("fabric-nb report: warning: ")
    assert "nuke" in done.stderr
    assert done.stdout.endswith("(0 jobs)\n")
    html = out.read_text(encoding="utf-8")
    assert "No job in this scope." in html


def test_a_report_takes_only_its_filters(sample_db: Path, tmp_path: Path) -> None:
    with open_fabric(sample_db) as fabric, pytest.raises(TypeError, match="not by status"):
        write_report(fabric, tmp_path / "x.html", status="FAILED")
    assert not (tmp_path / "x.html").exists()


def test_report_of_an_empty_history(run_cli: RunCli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    with create_persistence(empty):
        pass
    out = tmp_path / "empty.html"
    done = run_cli("report", out, env={"FABRIC_DB": str(empty)}, timeout=REPORT_TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert "(0 jobs)" in done.stdout
    html = out.read_text(encoding="utf-8")
    assert "This history holds no job yet." in html
    assert "What this history does not hold" in html
    assert external_references(html) == []


def test_values_from_the_data_are_escaped(tmp_path: Path) -> None:
    job = make_job(
        "j",
        final_status="FAILED",
        engine_used="<img src=x onerror=alert(1)>",
        validation_error="bad \x1b[2J\u202e reason",
    )
    with open_fabric(build_store(tmp_path / "odd.db", [job])) as fabric:
        page, _ = build_report(fabric, generated_at=GENERATED, title="<b>t</b>")
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\x1b" not in page
    assert "\u202e" not in page
    assert r"bad \x1b[2J\u202e reason" in page
    assert "<title>&lt;b&gt;t&lt;/b&gt;</title>" in page


def test_a_missing_database_is_exit_3_and_writes_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "out.html"
    done = run_cli("report", "--db", tmp_path / "nope.db", out)
    assert done.returncode == 3
    assert "nope.db" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not out.exists()
    assert not (tmp_path / "nope.db").exists()


def test_a_damaged_database_is_exit_3_and_left_alone(run_cli: RunCli, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"this is not a database" * 100)
    before = sha256_of(damaged)
    done = run_cli("report", "--db", damaged, tmp_path / "out.html")
    assert done.returncode == 3
    assert "damaged.db" in done.stderr
    assert sha256_of(damaged) == before
    assert not (tmp_path / "out.html").exists()


def test_an_unwritable_target_is_exit_4(run_cli: RunCli, sample_db: Path, tmp_path: Path) -> None:
    done = run_cli("report", "--db", sample_db, tmp_path / "no" / "such" / "out.html")
    assert done.returncode == 4
    assert "does not exist" in done.stderr
    done = run_cli("report", "--db", sample_db, tmp_path)
    assert done.returncode == 4
    assert "is a folder" in done.stderr


# -- the notebooks ``make demo`` renders --------------------------------------------


@pytest.mark.slow
def test_a_failing_notebook_leaves_no_page(sample_db: Path, tmp_path: Path) -> None:
    import nbformat

    from fabric_nb.render import RenderError

    notebook = tmp_path / "broken.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise RuntimeError('boom')")]
    nbformat.write(nb, notebook)
    out = tmp_path / "page.html"
    out.write_text("the previous page", encoding="utf-8")
    with pytest.raises(RenderError, match=r"broken.ipynb: a cell failed: RuntimeError: boom"):
        render_notebook(notebook, out, fabric_db=sample_db)
    assert out.read_text(encoding="utf-8") == "the previous page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.ipynb", "page.html"]


# -- where the overview notebook is found ------------------------------------------


def test_the_installed_notebooks_come_first_then_the_checkout(tmp_path: Path) -> None:
    installed, checkout = tmp_path / "installed", tmp_path / "checkout"
    installed.mkdir()
    checkout.mkdir()
    assert _find_notebooks_dir((installed, checkout)) == checkout  # neither: the checkout's path
    (checkout / OVERVIEW_NOTEBOOK.name).write_text("{}")
    assert _find_notebooks_dir((installed, checkout)) == checkout
    (installed / OVERVIEW_NOTEBOOK.name).write_text("{}")
    assert _find_notebooks_dir((installed, checkout)) == installed
    # This editable install: the package is the source tree, so the checkout's notebooks.
    assert (_INSTALLED_NOTEBOOKS_DIR.parent, _CHECKOUT_NOTEBOOKS_DIR) == (
        REPO_ROOT / "fabric_nb",
        REPO_ROOT / "notebooks",
    )
    assert NOTEBOOKS_DIR == _CHECKOUT_NOTEBOOKS_DIR
    assert OVERVIEW_NOTEBOOK.is_file()


@pytest.mark.slow
def test_the_wheel_ships_the_notebooks_and_an_installed_copy_writes_the_report(
    run_cli: RunCli, sample_db: Path, tmp_path: Path
) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            str(REPO_ROOT),
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=REPORT_TIMEOUT,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("fabric_nb-*.whl")
    notebooks = sorted(_CHECKOUT_NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert OVERVIEW_NOTEBOOK in notebooks
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(n for n in archive.namelist() if n.startswith("fabric_nb/_notebooks/"))
        assert shipped == [f"fabric_nb/_notebooks/{path.name}" for path in notebooks]
        for path in notebooks:
            assert archive.read(f"fabric_nb/_notebooks/{path.name}") == path.read_bytes()
        # What pip puts in site-packages: the wheel's files, with no checkout beside them.
        site = tmp_path / "site-packages"
        archive.extractall(site)

    where = tmp_path / "elsewhere"  # not the checkout: `python -m` imports from the working folder
    where.mkdir()
    out = tmp_path / "installed.html"
    env = {"PYTHONPATH": str(site)}
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fabric_nb.render as r; print(r.__file__); print(r.OVERVIEW_NOTEBOOK)",
        ],
        env=cli_env(tmp_path, env),
        cwd=where,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines() == [
        str(site / "fabric_nb" / "render.py"),
        str(site / "fabric_nb" / "_notebooks" / OVERVIEW_NOTEBOOK.name),
    ]
    done = run_cli("report", "--db", sample_db, out, env=env, cwd=where, timeout=REPORT_TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert "<title>Fabric history: fabric.db</title>" in out.read_text(encoding="utf-8")
