"""The sample history the example notebooks explore, and ``make demo``.

Two library helpers, used by the notebooks, the demo and the tests:

- :func:`build_sample_database` writes the SYNTHETIC sample result files of
  :mod:`fabric_nb.samples` and ingests exactly those files into a database.
- :func:`open_example_history` is the first cell of every example notebook:
  the database named by ``$FABRIC_DB`` when it is set, else the synthetic
  sample built in a temporary folder; opened read-only either way.

``python -m fabric_nb.demo`` (what ``make demo`` runs) writes the sample
results to ``./demo/results/``, ingests them into ``./demo/fabric.db``,
executes the example notebooks against that database and writes each as HTML
to ``./demo/``. The notebooks themselves are never modified.

Re-running the demo does not start from scratch: it rewrites the same result
files and ingests them again into the same database. Ingestion is idempotent
(the same ``job_id`` replaces the stored job), so the database ends with the
same set of jobs every time; only ``ingested_at`` moves on. Fabric deletes
nothing, so jobs put into ``./demo/fabric.db`` by other means stay there. To
start over, delete the ``demo/`` folder (``make clean`` does).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sqlite3
import sys
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .bulk import IngestReport, ingest_files
from .errors import FabricError, StorageError
from .persistence import create_persistence
from .samples import SAMPLE_SEED, write_results

if TYPE_CHECKING:
    from jupyter_client import AsyncKernelManager
    from nbformat import NotebookNode

    from .history import FabricHistory

__all__ = [
    "DEFAULT_DEMO_DIR",
    "NOTEBOOKS_DIR",
    "SAMPLE_JOBS",
    "DemoError",
    "build_sample_database",
    "main",
    "open_example_history",
    "render_notebook",
]

#: Result files in the standard sample (as :func:`fabric_nb.samples.write_sample_history`).
SAMPLE_JOBS: Final[int] = 400
#: Where ``python -m fabric_nb.demo`` writes, relative to the working directory.
DEFAULT_DEMO_DIR: Final[Path] = Path("demo")
#: The example notebooks of a source checkout (``notebooks/`` beside the package).
NOTEBOOKS_DIR: Final[Path] = Path(__file__).resolve().parent.parent / "notebooks"
#: Seconds one notebook cell may run before the demo gives up on it.
_CELL_TIMEOUT: Final[int] = 300
# What executing and rendering notebooks needs (the ``notebooks`` extra).
_NOTEBOOK_PACKAGES: Final = ("ipykernel", "jupyter_client", "nbclient", "nbconvert", "nbformat")

_EXIT_OK: Final = 0
_EXIT_NOTEBOOK: Final = 1
_EXIT_USAGE: Final = 2
_EXIT_DATABASE: Final = 3


class DemoError(FabricError):
    """A notebook failed while the demo ran it (a cell raised or timed out).

    The message names the notebook and the failing cell's error.
    """


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


# -- notebooks ----------------------------------------------------------------------


def _this_python_kernel_manager() -> type[AsyncKernelManager]:
    """A kernel manager class whose kernels run this interpreter.

    Whatever kernels the machine has installed, the notebooks then run with
    the same Python and the same installed ``fabric_nb`` as the demo itself.
    """
    import ipykernel.kernelspec
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from traitlets import default

    class ThisPythonSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(
                resource_dir=ipykernel.kernelspec.RESOURCES,
                **ipykernel.kernelspec.get_kernel_dict(),
            )

    class ThisPythonKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return ThisPythonSpecs(data_dir=self.data_dir)

    return ThisPythonKernelManager


def render_notebook(
    notebook: str | os.PathLike[str],
    html_path: str | os.PathLike[str],
    *,
    fabric_db: str | os.PathLike[str],
) -> None:
    """Execute ``notebook`` with ``FABRIC_DB=fabric_db`` and write it as HTML to ``html_path``.

    The notebook runs in a fresh kernel of this Python interpreter, in the
    notebook's own folder. It is read into memory and executed there; the
    ``.ipynb`` file is never written.

    :raises DemoError: a cell raised or timed out (the message names the notebook
        and the error).
    :raises OSError: the notebook cannot be read or the HTML cannot be written.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError
    from nbconvert import HTMLExporter

    source = Path(notebook)
    nb: NotebookNode = nbformat.read(source, as_version=4)
    env = dict(os.environ)
    env["FABRIC_DB"] = str(Path(fabric_db).resolve())
    client = NotebookClient(
        nb,
        kernel_manager_class=_this_python_kernel_manager(),
        timeout=_CELL_TIMEOUT,
        record_timing=False,
        # The kernel's own start-up notices (e.g. that it talks to this process
        # over local TCP) are not about the notebook; cell errors still surface.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(source.resolve().parent)}},
    )
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        raise DemoError(f"{source}: a cell failed: {exc.ename}: {exc.evalue}") from exc
    except CellTimeoutError as exc:
        raise DemoError(f"{source}: a cell ran longer than {_CELL_TIMEOUT} s") from exc
    body, _ = HTMLExporter().from_notebook_node(nb)
    Path(html_path).write_text(body, encoding="utf-8")


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
    missing = [name for name in _NOTEBOOK_PACKAGES if importlib.util.find_spec(name) is None]
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
    except (StorageError, sqlite3.Error) as exc:
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
        except DemoError as exc:
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
