"""fabric_nb: Fabric Phase 2 — persistent, queryable history of Proxx jobs.

Fabric reads the JobExecutionResult files Proxx writes, remembers them in
SQLite, and answers questions about what happened. It observes; it never
decides. See ``docs/`` for the guarantees and the failure modes.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    FabricError,
    IngestionError,
    PersistenceError,
    StorageCorruptionError,
    StorageError,
)
from .index import FabricIndex
from .ingestion import ingest_execution_result
from .models import CLIP_STATUSES, JOB_STATUSES, IngestedJob, IngestedOutput
from .persistence import (
    FABRIC_DB_ENV,
    FabricPersistence,
    create_persistence,
    resolve_storage_path,
)
from .queries import FabricQueries
from .storage import DEFAULT_STORAGE_PATH, STORAGE_SCHEMA_VERSION, FabricStorage

if TYPE_CHECKING:
    from .excel import write_excel
    from .filters import JobFilters, OutputFilters, UnknownValueWarning
    from .frames import (
        JOBS_FRAME_DTYPES,
        OUTPUTS_FRAME_DTYPES,
        jobs,
        jobs_frame,
        outputs,
        outputs_frame,
        select_jobs,
    )
    from .history import FabricHistory, open_fabric
    from .plots import (
        STATUS_COLORS,
        plot_durations,
        plot_failure_rate,
        plot_failure_reasons,
        plot_jobs_over_time,
        plot_output_sizes,
        plot_usage_over_time,
    )
    from .summaries import (
        WEEKS_FROM_MONDAY,
        daily_counts,
        duration_stats,
        engine_profile_table,
        failure_reasons,
        repeated_failures,
        retries,
        slowest_jobs,
        slowest_profiles,
        status_counts,
        usage_over_time,
    )

#: The analyst toolkit, by module, imported on first use: ``import fabric_nb``
#: stays free of pandas and matplotlib, so tools that only ingest start fast.
#: The ``TYPE_CHECKING`` imports above name the same (type checkers read those),
#: and ``__all__`` lists them: ``tests/test_package_names.py`` holds the three equal.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "excel": ("write_excel",),
    "filters": ("JobFilters", "OutputFilters", "UnknownValueWarning"),
    "frames": (
        "JOBS_FRAME_DTYPES",
        "OUTPUTS_FRAME_DTYPES",
        "jobs",
        "jobs_frame",
        "outputs",
        "outputs_frame",
        "select_jobs",
    ),
    "history": ("FabricHistory", "open_fabric"),
    "plots": (
        "STATUS_COLORS",
        "plot_durations",
        "plot_failure_rate",
        "plot_failure_reasons",
        "plot_jobs_over_time",
        "plot_output_sizes",
        "plot_usage_over_time",
    ),
    "summaries": (
        "WEEKS_FROM_MONDAY",
        "daily_counts",
        "duration_stats",
        "engine_profile_table",
        "failure_reasons",
        "repeated_failures",
        "retries",
        "slowest_jobs",
        "slowest_profiles",
        "status_counts",
        "usage_over_time",
    ),
}
_LAZY: dict[str, str] = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "CLIP_STATUSES",
    "DEFAULT_STORAGE_PATH",
    "FABRIC_DB_ENV",
    "JOBS_FRAME_DTYPES",
    "JOB_STATUSES",
    "OUTPUTS_FRAME_DTYPES",
    "STATUS_COLORS",
    "STORAGE_SCHEMA_VERSION",
    "WEEKS_FROM_MONDAY",
    "FabricError",
    "FabricHistory",
    "FabricIndex",
    "FabricPersistence",
    "FabricQueries",
    "FabricStorage",
    "IngestedJob",
    "IngestedOutput",
    "IngestionError",
    "JobFilters",
    "OutputFilters",
    "PersistenceError",
    "StorageCorruptionError",
    "StorageError",
    "UnknownValueWarning",
    "create_persistence",
    "daily_counts",
    "duration_stats",
    "engine_profile_table",
    "failure_reasons",
    "ingest_execution_result",
    "jobs",
    "jobs_frame",
    "open_fabric",
    "outputs",
    "outputs_frame",
    "plot_durations",
    "plot_failure_rate",
    "plot_failure_reasons",
    "plot_jobs_over_time",
    "plot_output_sizes",
    "plot_usage_over_time",
    "repeated_failures",
    "resolve_storage_path",
    "retries",
    "select_jobs",
    "slowest_jobs",
    "slowest_profiles",
    "status_counts",
    "usage_over_time",
    "write_excel",
]

#: The package version: the one place it is written (pyproject.toml reads it from here).
__version__ = "0.1.0"
