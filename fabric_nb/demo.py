"""The sample history the example notebooks explore.

Two library helpers, used by the notebooks, the demo and the tests:

- :func:`build_sample_database` writes the SYNTHETIC sample result files of
  :mod:`fabric_nb.samples` and ingests exactly those files into a database.
- :func:`open_example_history` is the first cell of every example notebook:
  the database named by ``$FABRIC_DB`` when it is set, else the synthetic
  sample built in a temporary folder; opened read-only either way.

The command line that builds the demo (``make demo``) is
:mod:`fabric_nb.demo_cli` (``python -m fabric_nb.demo_cli``), which imports
this module, not the other way round.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from .bulk import IngestReport, ingest_files
from .persistence import create_persistence
from .samples import SAMPLE_JOBS, SAMPLE_SEED, write_results

if TYPE_CHECKING:
    from .history import FabricHistory

__all__ = [
    "SAMPLE_JOBS",
    "build_sample_database",
    "open_example_history",
]

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
