"""fabric_nb: Fabric Phase 2 — persistent, queryable history of Proxx jobs.

Fabric reads the JobExecutionResult files Proxx writes, remembers them in
SQLite, and answers questions about what happened. It observes; it never
decides. See ``docs/`` for the guarantees and the failure modes.
"""

from __future__ import annotations

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
from .persistence import FabricPersistence, create_persistence
from .queries import FabricQueries
from .storage import DEFAULT_STORAGE_PATH, STORAGE_SCHEMA_VERSION, FabricStorage

__all__ = [
    "CLIP_STATUSES",
    "DEFAULT_STORAGE_PATH",
    "JOB_STATUSES",
    "STORAGE_SCHEMA_VERSION",
    "FabricError",
    "FabricIndex",
    "FabricPersistence",
    "FabricQueries",
    "FabricStorage",
    "IngestedJob",
    "IngestedOutput",
    "IngestionError",
    "PersistenceError",
    "StorageCorruptionError",
    "StorageError",
    "create_persistence",
    "ingest_execution_result",
]

__version__ = "0.1.0"
