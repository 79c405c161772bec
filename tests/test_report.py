"""``fabric-nb report``: the overview notebook of a history as one self-contained HTML page.

Run as a user runs it (a fresh process, real kernels, real SQLite files):
on the sample history and on an empty one, read-only, with nothing fetched
from the web, and with clear exits when the database or the target is wrong.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support import REPO_ROOT, RunCli, build_store, cli_env, sample_jobs, sha256_of

from fabric_nb import create_persistence
from fabric_nb.render import (
    CHECKOUT_NOTEBOOKS_DIR,
    INSTALLED_NOTEBOOKS_DIR,
    NOTEBOOKS_DIR,
    OVERVIEW_NOTEBOOK,
    find_notebooks_dir,
    render_notebook,
)

pytestmark = pytest.mark.slow  # runs notebooks or whole commands end to end

REPORT_TIMEOUT = 300  # seconds; a report takes about 7 s


def external_references(html: str) -> list[str]:
    """``src`` / ``href`` attributes of tags that would load something from the web."""
    return re.findall(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)=\"(https?:[^\"]*)\"", html)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("report") / "fabric.db", sample_jobs(120))


def test_report_of_the_sample_history(run_cli: RunCli, sample_db: Path, tmp_path: Path) -> None:
    before = sha256_of(sample_db)
    side_files = sorted(p.name for p in sample_db.parent.iterdir())
    pages = tmp_path / "pages"
    pages.mkdir()
    out = pages / "history.html"

    done = run_cli("report", "--db", sample_db, out, timeout=REPORT_TIMEOUT)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}: the overview of {sample_db} (")
    html = out.read_text(encoding="utf-8")
    assert f"<title>Fabric history: {sample_db}</title>" in html
    assert re.search(r"<img [^>]*src=\"data:image/png;base64,", html)  # the plot, embedded
    assert "COMPLETED" in html
    assert "engine_used" in html
    assert external_references(html) == []
    assert "open_example_history" not in html  # no code cells without --code
    assert "Traceback" not in html
    # Read-only: the database and its folder are exactly as they were.
    assert sha256_of(sample_db) == before
    assert sorted(p.name for p in sample_db.parent.iterdir()) == side_files
    assert [p.name for p in pages.iterdir()] == ["history.html"]  # no temporary left


def test_report_with_code_shows_the_code(run_cli: RunCli, sample_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "with-code.html"
    done = run_cli("--db", sample_db, "report", "--code", out, timeout=REPORT_TIMEOUT)
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert "open_example_history" in html
    assert external_references(html) == []


def test_report_of_an_empty_history(run_cli: RunCli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    with create_persistence(empty):
        pass
    out = tmp_path / "empty.html"
    done = run_cli("report", out, env={"FABRIC_DB": str(empty)}, timeout=REPORT_TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert "(0 jobs)" in done.stdout
    html = out.read_text(encoding="utf-8")
    assert "This history holds no job yet" in html
    assert "Traceback" not in html
    assert external_references(html) == []


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
    assert find_notebooks_dir((installed, checkout)) == checkout  # neither: the checkout's path
    (checkout / OVERVIEW_NOTEBOOK.name).write_text("{}")
    assert find_notebooks_dir((installed, checkout)) == checkout
    (installed / OVERVIEW_NOTEBOOK.name).write_text("{}")
    assert find_notebooks_dir((installed, checkout)) == installed
    # This editable install: the package is the source tree, so the checkout's notebooks.
    assert (INSTALLED_NOTEBOOKS_DIR.parent, CHECKOUT_NOTEBOOKS_DIR) == (
        REPO_ROOT / "fabric_nb",
        REPO_ROOT / "notebooks",
    )
    assert NOTEBOOKS_DIR == CHECKOUT_NOTEBOOKS_DIR
    assert OVERVIEW_NOTEBOOK.is_file()


def test_the_wheel_ships_the_notebooks_and_an_installed_copy_renders_the_report(
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
    notebooks = sorted(CHECKOUT_NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
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
    assert f"<title>Fabric history: {sample_db}</title>" in out.read_text(encoding="utf-8")
