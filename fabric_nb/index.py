"""In-memory lookups over ingested jobs, optionally backed by storage.

Without persistence the index is Phase 1's memory-only index. With an open
:class:`FabricPersistence` it rebuilds itself from storage when constructed,
and every write goes to storage first: memory changes only after the commit
succeeded, so a failed write leaves the index exactly as it was.

Every list returned is in one order: ``started_at`` as an instant, then
``job_id`` (:func:`fabric_nb.models.job_order_key`). Lists are new objects;
changing one never changes the index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter

from ._collector import collector_paused
from .models import IngestedJob, job_order_key
from .persistence import FabricPersistence

__all__ = ["FabricIndex"]

_Key = Callable[[IngestedJob], str | None]

# The secondary lookups the spec names: attribute of the job -> bucket key.
_LOOKUPS: dict[str, _Key] = {
    "fingerprint": attrgetter("fingerprint"),
    "profile": attrgetter("canonical_proxy_profile"),
    "status": attrgetter("final_status"),
    "engine": attrgetter("engine_used"),
}


class FabricIndex:
    """Jobs by id, with lookups by fingerprint, profile, status and engine.

    :param persistence: an open persistence to rebuild from and write through,
        or ``None`` for a memory-only index.
    :raises PersistenceError: ``persistence`` is not open.
    :raises StorageCorruptionError: a stored row cannot be decoded.
    """

    def __init__(self, persistence: FabricPersistence | None = None) -> None:
        self._persistence = persistence
        self._jobs: dict[str, IngestedJob] = {}
        self._buckets: dict[str, dict[str, dict[str, IngestedJob]]] = {
            name: {} for name in _LOOKUPS
        }
        self._ordered: list[IngestedJob] | None = None
        if persistence is not None:
            self.rebuild()

    @property
    def persistence(self) -> FabricPersistence | None:
        """The persistence this index writes through, or ``None`` when memory-only."""
        return self._persistence

    def rebuild(self) -> None:
        """Replace memory with exactly what storage holds (no-op when memory-only).

        Storage is read completely before memory is touched, so a failed read
        leaves the index as it was.
        """
        if self._persistence is None:
            return
        with collector_paused():  # the load pauses it too; keep it off until indexed
            jobs = self._persistence.load_all_jobs()
            self.clear()
            self._remember(jobs)
        self._ordered = jobs  # storage returns Fabric's order already

    def clear(self) -> None:
        """Empty the in-memory index; storage is not touched.

        Nothing is deleted: the history stays in the database, and
        :meth:`rebuild` (or a new index over the same persistence) brings it
        back. This only forgets what this process holds in memory.
        """
        self._jobs.clear()
        for buckets in self._buckets.values():
            buckets.clear()
        self._ordered = None

    # -- writes ------------------------------------------------------------------

    def add_job(self, job: IngestedJob) -> None:
        """Persist (when backed by storage), then index; replaces a job with the same id.

        :raises StorageError: the write failed; the index is unchanged.
        """
        if self._persistence is not None:
            try:
                self._persistence.persist_ingested_job(job)
            except KeyboardInterrupt as exc:
                if getattr(exc, "committed", False):  # stored: memory follows storage
                    self._remember((job,))
                raise
        self._remember((job,))

    def add_jobs(self, jobs: Iterable[IngestedJob]) -> None:
        """Persist many jobs in one transaction, then index them all.

        Within one call a later job with the same id replaces an earlier one,
        as it does in storage.

        :raises StorageError: the write failed; nothing was stored or indexed.
        """
        batch = list(jobs)
        if self._persistence is not None:
            try:
                self._persistence.persist_ingested_jobs(batch)
            except KeyboardInterrupt as exc:
                if getattr(exc, "committed", False):  # stored: memory follows storage
                    self._remember(batch)
                raise
        self._remember(batch)

    def _remember(self, jobs: Iterable[IngestedJob]) -> None:
        by_id = self._jobs
        lookups = [(key_of, self._buckets[name]) for name, key_of in _LOOKUPS.items()]
        for job in jobs:
            job_id = job.job_id
            old = by_id.get(job_id)
            for key_of, buckets in lookups:
                if old is not None:
                    old_key = key_of(old)
                    if old_key is not None:
                        bucket = buckets[old_key]
                        del bucket[job_id]
                        if not bucket:
                            del buckets[old_key]
                key = key_of(job)
                if key is not None:
                    found = buckets.get(key)
                    if found is None:
                        buckets[key] = found = {}
                    found[job_id] = job
            by_id[job_id] = job
        self._ordered = None

    # -- reads -------------------------------------------------------------------

    def get_job(self, job_id: str) -> IngestedJob | None:
        """The job with this id, or ``None``."""
        return self._jobs.get(job_id)

    def get_all_jobs(self) -> list[IngestedJob]:
        """Every job, in Fabric's order."""
        if self._ordered is None:
            self._ordered = sorted(self._jobs.values(), key=job_order_key)
        return list(self._ordered)

    def count_jobs(self) -> int:
        """How many jobs the index holds."""
        return len(self._jobs)

    def get_jobs_by_fingerprint(self, fingerprint: str) -> list[IngestedJob]:
        """Jobs whose source fingerprint is ``fingerprint``."""
        return self._lookup("fingerprint", fingerprint)

    def get_jobs_by_profile(self, profile_id: str) -> list[IngestedJob]:
        """Jobs whose canonical proxy profile is ``profile_id``."""
        return self._lookup("profile", profile_id)

    def get_jobs_by_status(self, status: str) -> list[IngestedJob]:
        """Jobs whose final status is ``status`` (exact, case-sensitive)."""
        return self._lookup("status", status)

    def get_jobs_by_engine(self, engine: str) -> list[IngestedJob]:
        """Jobs run by ``engine`` (``ffmpeg`` or ``resolve``)."""
        return self._lookup("engine", engine)

    def count_by_status(self, status: str) -> int:
        """How many jobs have final status ``status`` (exact, case-sensitive)."""
        return len(self._buckets["status"].get(status, ()))

    def _lookup(self, name: str, key: str) -> list[IngestedJob]:
        bucket = self._buckets[name].get(key)
        return sorted(bucket.values(), key=job_order_key) if bucket else []
