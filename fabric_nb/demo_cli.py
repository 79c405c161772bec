"""``make demo``: build the sample history and render the example notebooks against it.

``python -m fabric_nb.demo_cli`` (what ``make demo`` runs; ``python -m
fabric_nb.demo`` runs it too) writes the sample results to
``./demo/results/``, ingests them into ``./demo/fabric.db`` with
:func:`fabric_nb.demo.build_sample_database`, and renders the example
notebooks against that database as HTML into ``./demo/`` with
:func:`fabric_nb.render.render_notebook`; then it writes the history's report
(``demo/report.html``, what ``fabric-nb report`` writes). The notebooks
themselves are never modified.

Re-running the demo does not start from scratch: it rewrites the same result
files and ingests them again into the same database. Ingestion is idempotent
(the same ``job_id`` replaces the stored job), so the database ends with the
same set of jobs every time; only ``ingested_at`` moves on. Fabric deletes
nothing, so jobs put into ``./demo/fabric.db`` by other means stay there. To
start over, delete the ``demo/`` folder (``make clean`` does).

Paths and error messages are printed through
:func:`fabric_nb._safe_text.escape_control`, as the ``fabric-nb`` command
does: a control character in a folder name cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from ._safe_text import escape_control
from .cli import EXIT_DATABASE, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .demo import build_sample_database
from .errors import RenderError, StorageError
from .persistence import create_persistence
from .render import NOTEBOOKS_DIR, missing_packages, render_notebook

__all__ = ["DEFAULT_DEMO_DIR", "main"]

#: Where the demo writes, relative to the working directory.
DEFAULT_DEMO_DIR: Final[Path] = Path("demo")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fabric_nb.demo_cli",
        description=(
            "Write the SYNTHETIC sample results, ingest them into OUTDIR/fabric.db and "
            "render the example notebooks against it as HTML into OUTDIR. Re-running "
            "ingests the same files again: the database keeps the same set of jobs."
        ),
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_DEMO_DIR,
        metavar="OUTDIR",
        help=f"where to write (default: ./{DEFAULT_DEMO_DIR})",
    )
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=NOTEBOOKS_DIR,
        metavar="DIR",
        help="folder of the example notebooks (default: those installed with fabric_nb, else notebooks/ of this checkout)",
    )
    return parser


def _shown(value: object) -> str:
    """A path or an error message as the terminal may print it (control characters escaped)."""
    return escape_control(str(value))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the exit code.

    0: done; 1: a notebook failed; 2: no notebooks, or the ``notebooks`` extra
    is not installed; 3: the database refused (left as it was). Prints each
    step and, at the end, where everything is.
    """
    args = _parser().parse_args(argv)
    out: Path = args.output_dir
    results_dir, db_path = out / "results", out / "fabric.db"
    notebooks = sorted(Path(args.notebooks).glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print(
            f"demo: no example notebooks (NN_name.ipynb) in {_shown(args.notebooks)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    missing = missing_packages()
    if missing:
        print(
            f"demo: running the notebooks needs {', '.join(missing)}: "
            "pip install 'fabric-nb[notebooks]' (make demo installs it)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    try:
        report = build_sample_database(db_path, results_dir)
        with create_persistence(db_path, readonly=True) as persistence:
            stored = len(persistence.load_job_ids())
    except StorageError as exc:
        print(
            f"demo: {_shown(exc)}\n"
            f"demo: {_shown(db_path)} was left as it is; delete {_shown(out)}/ to start over",
            file=sys.stderr,
        )
        return EXIT_DATABASE
    print(f"wrote {report.files} synthetic result files to {_shown(results_dir)}/")
    superseded = (
        f", {report.superseded} superseded by a later re-run of their job"
        if report.superseded
        else ""
    )
    print(
        f"ingested {report.ingested} files into {_shown(db_path)} "
        f"({report.new} new, {report.replaced} replaced{superseded}); it holds {stored} jobs"
    )

    pages = []
    for notebook in notebooks:
        html = out / f"{notebook.stem}.html"
        print(f"executing {_shown(notebook.name)} with FABRIC_DB={_shown(db_path)} ...", flush=True)
        try:
            render_notebook(notebook, html, fabric_db=db_path)
        except RenderError as exc:
            print(f"demo: {_shown(exc)}", file=sys.stderr)
            return EXIT_FAILED
        pages.append(html)

    from .history import open_fabric
    from .report import write_report

    with open_fabric(db_path) as fabric:
        report_page = write_report(fabric, out / "report.html").path

    print()
    print("done:")
    print(f"  result files   {_shown(results_dir)}/")
    print(f"  database       {_shown(db_path)}")
    for html in pages:
        print(f"  notebook       {_shown(html)}")
    print(f"  report         {_shown(report_page)}")
    print(
        "open the HTML files in a browser, or explore the notebooks with: "
        f"FABRIC_DB={_shown(db_path.resolve())} make lab"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
