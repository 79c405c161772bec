"""The sample history the example notebooks explore, and ``make demo``.

Two library helpers, used by the notebooks, the demo and the tests:

- :func:`build_sample_database` writes the SYNTHETIC sample result files of
  :mod:`fabric_nb.samples` and ingests exactly those files into a database.
- :func:`open_example_history` is the first cell of every example notebook:
  the database named by ``$FABRIC_DB`` when it is set, else the synthetic
  sample built in a temporary folder; opened read-only either way.

``python -m fabric_nb.demo`` (what ``make demo`` runs) writes the sample
results to ``./demo/results/``, ingests them into ``./demo/fabric.db``,
and renders the example notebooks against that database as HTML into
``./demo/`` with :func:`fabric_nb.render.render_notebook`, the rendering
``fabric-nb report`` uses. The notebooks themselves are never modified.

Re-running the demo does not start from scratch: it rewrites the same result
files and ingests them again into the same database. Ingestion is idempotent
(the same ``job_id`` replaces the stored job), so the database ends with the
same set of jobs every time; only ``ingested_at`` moves on. Fabric deletes
nothing, so jobs put into ``./demo/fabric.db`` by other means stay there. To
start over, delete the ``demo/`` folder (``make clean`` does).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .bulk import IngestReport, ingest_files
from .errors import StorageError
from .persistence import create_persistence
from .render import NOTEBOOKS_DIR, RenderError, missing_packages, render_notebook
from .samples import SAMPLE_JOBS, SAMPLE_SEED, write_results

if TYPE_CHECKING:
    from .history import FabricHistory

__all__ = [
    "DEFAULT_DEMO_DIR",
    "SAMPLE_JOBS",
    "build_sample_database",
    "main",
    "open_example_history",
]

#: Where ``python -m fabric_nb.demo`` writes, relative to the working directory.
DEFAULT_DEMO_DIR: Final[Path] = Path("demo")

_EXIT_OK: Final = 0
_EXIT_NOTEBOOK: Final = 1
_EXIT_USAGE: Final = 2
_EXIT_DATABASE: Final = 3


# -- the sample history -------------------------------------------------------------


def build_sample_database(
    db_path: str | os.PathLike[str],
    results_dir: str | os.PathLike[str],
    *,
    n_jobs: int = SAMPLE_JOBS,
    seed: int = SAMPLE_SEED,
) -> IngestReport:
    """Write the synthetic sample results into ``results_dir`` and ingest them into ``db_path``.

    The files are those of :func:`fabric_nb.samples.write_results` (same
    ``n_jobs`` and ``seed``, same bytes on every machine); exactly those files
    are ingested, in one transaction, so other files in ``results_dir`` are
    left alone and not read. The database is created when missing; jobs
    already in it stay, and a stored ``job_id`` is replaced by the sample's.
    Doing this twice leaves the same set of jobs.

    :raises ValueError: ``n_jobs`` < 0.
    :raises OSError: ``results_dir`` cannot be written.
    :raises IngestAborted: the database refused the write; nothing was stored.
    :raises StorageError: the database is unusable or of another schema version.
    :raises StorageCorruptionError: the database is damaged.
    """
    files = write_results(results_dir, n_jobs, seed=seed)
    with create_persistence(db_path) as persistence:
        return ingest_files(files, persistence, batch_size=max(len(files), 1))


def open_example_history(*, n_jobs: int = SAMPLE_JOBS, seed: int = SAMPLE_SEED) -> FabricHistory:
    """The history an example notebook explores, opened read-only.

    When the ``FABRIC_DB`` environment variable is set (and not empty), this
    is :func:`fabric_nb.open_fabric` on that database. Otherwise it builds the
    SYNTHETIC sample (:func:`build_sample_database` with ``n_jobs`` and
    ``seed``) in a new temporary folder and opens that; the folder is removed
    when the returned history is garbage-collected or the interpreter exits.
    Either way the database is opened read-only: a notebook cannot change it.

    :raises StorageError: ``$FABRIC_DB`` names a missing, unusable or
        other-version database.
    :raises StorageCorruptionError: ``$FABRIC_DB`` names a damaged database.
    """
    from .history import FABRIC_DB_ENV, open_fabric

    real = os.environ.get(FABRIC_DB_ENV)
    if real:
        return open_fabric(real)
    folder = Path(tempfile.mkdtemp(prefix="fabric-sample-"))
    try:
        db_path = folder / "fabric.db"
        build_sample_database(db_path, folder / "results", n_jobs=n_jobs, seed=seed)
        history = open_fabric(db_path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(history, shutil.rmtree, folder, ignore_errors=True)
    return history


# -- python -m fabric_nb.demo --------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fabric_nb.demo",
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
        help="folder of the example notebooks (default: notebooks/ of this checkout)",
    )
    return parser


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
        print(f"demo: no example notebooks (NN_name.ipynb) in {args.notebooks}", file=sys.stderr)
        return _EXIT_USAGE
    missing = missing_packages()
    if missing:
        print(
            f"demo: running the notebooks needs {', '.join(missing)}: "
            "pip install 'fabric-nb[notebooks]' (make demo installs it)",
            file=sys.stderr,
        )
        return _EXIT_USAGE

    try:
        report = build_sample_database(db_path, results_dir)
        with create_persistence(db_path, readonly=True) as persistence:
            stored = len(persistence.load_job_ids())
    except StorageError as exc:
        print(
            f"demo: {exc}\ndemo: {db_path} was left as it is; delete {out}/ to start over",
            file=sys.stderr,
        )
        return _EXIT_DATABASE
    print(f"wrote {report.files} synthetic result files to {results_dir}/")
    print(
        f"ingested {report.ingested} files into {db_path} "
        f"({report.new} new, {report.replaced} replaced); it holds {stored} jobs"
    )

    pages = []
    for notebook in notebooks:
        html = out / f"{notebook.stem}.html"
        print(f"executing {notebook.name} with FABRIC_DB={db_path} ...", flush=True)
        try:
            render_notebook(notebook, html, fabric_db=db_path)
        except RenderError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return _EXIT_NOTEBOOK
        pages.append(html)

    print()
    print("done:")
    print(f"  result files   {results_dir}/")
    print(f"  database       {db_path}")
    for html in pages:
        print(f"  notebook       {html}")
    print(
        "open the HTML files in a browser, or explore the notebooks with: "
        f"FABRIC_DB={db_path.resolve()} make lab"
    )
    return _EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
