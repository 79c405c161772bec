"""The read-only question API, with Phase-1 semantics.

:class:`FabricQueries` answers "what happened?" questions over a
:class:`FabricIndex`. It never writes, scores, ranks or recommends. A job that
is not there is ``None`` or an empty list, never an exception; every list is
in Fabric's order (``started_at`` as an instant, then ``job_id``).
"""

from __future__ import annotations

from datetime import datetime

from .index import FabricIndex
from .models import IngestedJob, IngestedOutput, require_aware

__all__ = ["FabricQueries", "check_bounds"]


def check_bounds(since: datetime | None, until: datetime | None) -> None:
    """Refuse bounds of :meth:`FabricQueries.get_jobs_started_between` that are not aware datetimes.

    :raises TypeError: a bound is not a datetime (or ``None``).
    :raises ValueError: a bound is naive.
    """
    _check_aware("since", since)
    _check_aware("until", until)


def _check_aware(name: str, value: datetime | None) -> None:
    if value is not None and not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime or None, not {type(value).__name__}")
    require_aware(name, value)


class FabricQueries:
    """Questions over one index; holds no state of its own."""

    def __init__(self, index: FabricIndex) -> None:
        self._index = index

    @property
    def index(self) -> FabricIndex:
        """The index these queries read."""
        return self._index

    def get_job(self, job_id: str) -> IngestedJob | None:
        """What happened to job ``job_id``? ``None`` when Fabric has not seen it."""
        return self._index.get_job(job_id)

    def get_job_history(self, job_id: str) -> IngestedJob | None:
        """The recorded history of job ``job_id``, or ``None`` when Fabric has not seen it.

        A later record of the same ``job_id`` replaces the earlier one (the
        spec's "same ``job_id`` overwrites"), so the history is the latest
        record: the same job :meth:`get_job` returns. The original API's
        name, kept for its callers. For jobs in a time window, see
        :meth:`get_jobs_started_between`.
        """
        return self._index.get_job(job_id)

    def get_jobs_started_between(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[IngestedJob]:
        """Jobs that started in ``[since, until)``, oldest first; open ends when ``None``.

        Bounds compare as instants, whatever their offsets.

        :raises ValueError: a bound is a naive datetime.
        :raises TypeError: a bound is not a datetime.
        """
        check_bounds(since, until)
        return [
            job
            for job in self._index.get_all_jobs()
            if (since is None or job.started_at >= since)
            and (until is None or job.started_at < until)
        ]

    def get_jobs_by_fingerprint(self, fingerprint: str) -> list[IngestedJob]:
        """Have we seen this fingerprint before? Every job that carried it."""
        return self._index.get_jobs_by_fingerprint(fingerprint)

    def get_jobs_by_profile(self, profile_id: str) -> list[IngestedJob]:
        """Jobs whose canonical proxy profile is ``profile_id``."""
        return self._index.get_jobs_by_profile(profile_id)

    def get_jobs_by_engine(self, engine: str) -> list[IngestedJob]:
        """Jobs run by ``engine``."""
        return self._index.get_jobs_by_engine(engine)

    def get_completed_jobs(self) -> list[IngestedJob]:
        """Jobs whose final status is COMPLETED."""
        return self._index.get_jobs_by_status("COMPLETED")

    def get_failed_jobs(self) -> list[IngestedJob]:
        """Jobs whose final status is FAILED."""
        return self._index.get_jobs_by_status("FAILED")

    def get_partial_jobs(self) -> list[IngestedJob]:
        """Jobs whose final status is PARTIAL."""
        return self._index.get_jobs_by_status("PARTIAL")

    def get_outputs_for_job(self, job_id: str) -> list[IngestedOutput]:
        """The clip outputs of ``job_id`` in execution order; empty when unknown."""
        job = self._index.get_job(job_id)
        return [] if job is None else list(job.outputs)

    def get_all_jobs(self) -> list[IngestedJob]:
        """Every job Fabric remembers."""
        return self._index.get_all_jobs()

    def count_jobs(self) -> int:
        """How many jobs Fabric remembers."""
        return self._index.count_jobs()

    def count_jobs_by_status(self, status: str) -> int:
        """How many jobs ended with ``status`` (exact, case-sensitive).

        A status no job has, including one Fabric never accepts (``"SKIPPED"``,
        ``"completed"``), counts ``0``: a question about what is not there is
        answered, not refused, as in Phase 1. The analyst helpers
        (``fabric.jobs(status=...)``) are where a typo is refused.
        """
        return self._index.count_by_status(status)
