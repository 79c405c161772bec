"""The sample history the example notebooks explore.

Library helpers, used by the notebooks, the demo and the tests:

- :func:`build_sample_database` writes the SYNTHETIC sample result files of
  :mod:`fabric_nb.samples` and ingests exactly those files into a database.
- :func:`open_example_history` is the first cell of the example notebooks
  about one history: the database named by ``$FABRIC_DB`` when it is set,
  else the synthetic sample built in a temporary folder; opened read-only
  either way.
- :func:`build_sample_histories` and :func:`open_example_histories` do the
  same for several machines (notebook 05): one synthetic history per
  machine, two of which ingested some of the same result files.

The command line that builds the demo (``make demo``) is
:mod:`fabric_nb.demo_cli` (``python -m fabric_nb.demo_cli``), which imports
this module, not the other way round.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from .bulk import IngestReport, ingest_files
from .errors import MissingExtraError
from .persistence import create_persistence
from .samples import SAMPLE_JOBS, SAMPLE_SEED, write_results

if TYPE_CHECKING:
    from .histories import Histories
    from .history import FabricHistory

__all__ = [
    "FABRIC_DBS_ENV",
    "SAMPLE_JOBS",
    "SAMPLE_MACHINES",
    "SHARED_FILES",
    "build_sample_database",
    "build_sample_histories",
    "open_example_histories",
    "open_example_history",
    "require_fleet",
]

#: The machines of the several-histories sample, one history each.
SAMPLE_MACHINES: Final[tuple[str, ...]] = ("bay-1", "bay-2", "bay-3")
#: How many of the first machine's result files the second machine ingested
#: too (a folder both watched), so the sample holds a ``job_id`` in two histories.
SHARED_FILES: Final[int] = 12
#: The environment variable naming the histories notebook 05 explores: a
#: folder of ``*.db`` files, a quoted glob, or paths joined by ``os.pathsep``.
FABRIC_DBS_ENV: Final[str] = "FABRIC_DBS"

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

    def build(folder: Path) -> FabricHistory:
        db_path = folder / "fabric.db"
        build_sample_database(db_path, folder / "results", n_jobs=n_jobs, seed=seed)
        return open_fabric(db_path)

    return _kept_in_temporary_folder("fabric-sample-", build)


# -- several machines ------------------------------------------------------------------


def build_sample_histories(
    folder: str | os.PathLike[str],
    *,
    machines: Sequence[str] = SAMPLE_MACHINES,
    n_jobs: int = SAMPLE_JOBS,
    seed: int = SAMPLE_SEED,
) -> dict[str, Path]:
    """Build one SYNTHETIC sample history per machine in ``folder``; name to database file.

    Machine ``i`` (from 0) gets the sample of ``n_jobs`` jobs with seed
    ``seed + i``: its result files in ``folder/NAME/results/`` and its
    history in ``folder/NAME.db``. The second machine also ingests the
    first :data:`SHARED_FILES` result files of the first one, as if both
    had watched one shared folder for a while: those jobs are in two
    histories (``Histories.duplicate_jobs()`` lists them). Same bytes on
    every machine, for the same arguments.

    :raises ValueError: ``n_jobs`` < 0, no machine, or a machine named twice.
    :raises OSError: ``folder`` cannot be written.
    :raises IngestAborted: a database refused the write; nothing was stored in it.
    :raises StorageError: a database in ``folder`` is unusable or of another version.
    """
    names = list(machines)
    if not names or len(set(names)) < len(names):
        raise ValueError(f"machines must be distinct names, got {names!r}")
    root = Path(folder)
    databases: dict[str, Path] = {}
    shared: list[Path] = []
    for i, name in enumerate(names):
        files = write_results(root / name / "results", n_jobs, seed=seed + i)
        if i == 0:
            shared = sorted(files)[:SHARED_FILES]
        elif i == 1:
            files = files + shared
        databases[name] = root / f"{name}.db"
        with create_persistence(databases[name]) as persistence:
            ingest_files(files, persistence, batch_size=max(len(files), 1))
    return databases


def open_example_histories(
    *,
    machines: Sequence[str] = SAMPLE_MACHINES,
    n_jobs: int = SAMPLE_JOBS,
    seed: int = SAMPLE_SEED,
) -> Histories:
    """The histories notebook 05 explores, opened read-only as one.

    When ``$FABRIC_DBS`` is set (and not empty) this is
    :func:`fabric_nb.open_fabric` of what it names: a folder of ``*.db``
    files, a glob, or paths joined by ``os.pathsep``. Otherwise it builds the
    SYNTHETIC machines of :func:`build_sample_histories` in a new temporary
    folder and opens them; the folder is removed when the returned object is
    garbage-collected or the interpreter exits.

    :raises HistoriesError: ``$FABRIC_DBS`` names nothing.
    :raises StorageError: a database it names fails its checks (the file is named).
    """
    from .history import open_fabric

    real = os.environ.get(FABRIC_DBS_ENV)
    if real:
        return open_fabric([part for part in real.split(os.pathsep) if part])

    def build(folder: Path) -> Histories:
        return open_fabric(
            build_sample_histories(folder, machines=machines, n_jobs=n_jobs, seed=seed)
        )

    return _kept_in_temporary_folder("fabric-machines-", build)


_Opened = TypeVar("_Opened")


def _kept_in_temporary_folder(prefix: str, build: Callable[[Path], _Opened]) -> _Opened:
    """``build`` an object in a new temporary folder that lives as long as the object.

    The folder is removed when the object is garbage-collected or the
    interpreter exits, and at once when ``build`` fails.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        opened = build(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(opened, shutil.rmtree, folder, ignore_errors=True)
    return opened


#: What reading the dataset past one machine needs (the ``fleet`` extra).
_FLEET_PACKAGES: Final[tuple[str, ...]] = ("duckdb", "dask", "distributed")


def require_fleet() -> None:
    """Refuse, naming the extra, when DuckDB or Dask (with ``distributed``) is missing.

    :raises MissingExtraError: a package of the ``fleet`` extra is not installed.
    """
    missing = [name for name in _FLEET_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"reading the dataset with DuckDB and Dask needs {', '.join(missing)}, "
            "which is not installed: pip install 'fabric-nb[fleet]'"
        )
