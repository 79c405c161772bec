"""What incremental ingest and ``watch`` read of a store beyond the spec: stamps and proofs.

The spec's classes (:class:`~fabric_nb.persistence.FabricPersistence`,
:class:`~fabric_nb.storage.FabricStorage`) persist and load jobs. Telling
whether the database still holds what an ingest cache recorded is another
job: the stored ``ingested_at`` of each job, whether a job is stored with
exactly the content a file gives, a proof that the file's bytes are those
recorded, and SQLite's ``data_version``. :class:`StoredStamps` is that
narrow view, built on an open storage's generic reads; it writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from ._rows import encode_job
from .models import IngestedJob
from .schema import JOB_COLUMNS
from .storage import FabricStorage

__all__ = ["StoredStamps"]

_COLUMNS: Final[tuple[str, ...]] = tuple(name for name, _ in JOB_COLUMNS)
_INGESTED_AT: Final[int] = _COLUMNS.index("ingested_at")
#: Ids per ``IN (...)`` list, well under SQLite's limit on bound parameters.
_IN_CHUNK: Final[int] = 500


class StoredStamps:
    """The stamps and proofs of an open storage that incremental ingest compares."""

    def __init__(self, storage: FabricStorage) -> None:
        self._storage = storage

    def load_ingested_at(self) -> dict[str, str]:
        """Each stored job's ``ingested_at`` as stored (ISO 8601 text), by ``job_id``.

        Read without decoding the rows. Incremental ingest compares it with
        what its cache recorded, so a cache entry is trusted only while the
        database still holds the very row that entry wrote.

        :raises StorageError: the database cannot be read now.
        """
        return dict(self._storage.read_rows("SELECT job_id, ingested_at FROM jobs"))

    def iter_ingested_at(self) -> Iterator[tuple[str, str]]:
        """Each stored job's ``(job_id, ingested_at)``, streamed in ``job_id`` order.

        :meth:`load_ingested_at` without the dictionary: the ingest cache
        copies it into its own file when it must compare every stamp.

        :raises StorageError: the database cannot be read now.
        """
        yield from self._storage.stream_rows("SELECT job_id, ingested_at FROM jobs ORDER BY job_id")

    def unchanged_stamps(self, jobs: Sequence[IngestedJob]) -> dict[str, str]:
        """Of these jobs, those already stored with exactly this content: id -> stored ``ingested_at``.

        Every column is compared except ``ingested_at`` (when Fabric read the
        file): storing such a job again would change nothing but that stamp.
        Incremental ingest uses it so that reading a file again (``--full``,
        a cache deleted) never rewrites a job whose content is the same.

        :raises StorageError: the database cannot be read now.
        """
        wanted = {job.job_id: encode_job(job) for job in jobs}
        same: dict[str, str] = {}
        ids = list(wanted)
        select = f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE job_id IN "
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            for row in self._storage.read_rows(select + f"({', '.join('?' * len(chunk))})", chunk):
                mine = wanted[row[0]]
                if all(
                    a == b
                    for i, (a, b) in enumerate(zip(row, mine, strict=True))
                    if i != _INGESTED_AT
                ):
                    same[row[0]] = row[_INGESTED_AT]
        return same

    def content_proof(self) -> str | None:
        """The change marker and the SHA-256 of the file's bytes, as one string.

        Taken under a read lock, so no write lands while the file is hashed:
        equal proofs mean the same bytes (no write, no file put in its place,
        no bit flipped on the disk since). ``None`` when it cannot tell (see
        :meth:`FabricStorage.change_marker`). The file is opened once and
        closed last: closing another descriptor of it would drop SQLite's lock.

        :raises StorageError: the read lock cannot be taken.
        """
        with self._storage.read_transaction():
            return self._storage.change_marker(digest=True)

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: changes when another connection commits.

        Lets a long-running reader (``fabric-nb watch``) reuse what it read
        while nobody else has written.

        :raises StorageError: the database cannot be read now.
        """
        return int(self._storage.read_rows("PRAGMA data_version")[0][0])
