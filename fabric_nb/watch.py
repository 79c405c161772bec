"""Watch result folders and ingest new and changed files as they appear.

:func:`watch_paths` is what ``fabric-nb watch`` runs on a machine that runs
Proxx. It polls: every ``interval`` seconds it scans the folders (one
``stat`` per file, as incremental ingest does, see
:func:`~fabric_nb.bulk.ingest_scan`) and ingests what is new or changed, with
the same cache and the same rules as ``fabric-nb ingest``. Polling works on
any filesystem, a network share included, where inotify and its kin see
nothing of what other machines write.

A file still being written must not be rejected for being half-written:

- a file is read once it is *ready*: its ``stat`` has not changed for
  ``settle`` seconds of this machine's clock, or its modification time is
  already ``settle`` seconds old;
- a ready file that fails validation is rejected only if it is also
  *settled* (its ``stat`` seen unchanged for ``settle`` seconds by this
  process); otherwise it is *pending* and judged again at the next poll.

Stopping: ``should_stop`` is asked between files and between polls. When it
says yes, the files already read in the current pass are committed (that
batch commits whole or not at all) and nothing more is read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ._ingest_cache import IngestCache
from ._scan import (
    DEFAULT_PATTERNS,
    FolderScanError,
    ScannedFile,
    ScannedFiles,
    ScanResult,
    scan_paths,
)
from ._stored_stamps import StoredStamps
from .bulk import DEFAULT_BATCH_SIZE, IngestReport, Warn, ingest_scan
from .persistence import FabricPersistence

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_SETTLE",
    "WatchBatch",
    "WatchTotals",
    "watch_paths",
]

#: Seconds between two polls of the folders.
DEFAULT_INTERVAL: Final[float] = 2.0
#: Seconds a file must stay unchanged before it is read (unless already older)
#: and before a file that fails validation is rejected. Proxx writes a result
#: in well under a second; 5 s leaves room for a slow share.
DEFAULT_SETTLE: Final[float] = 5.0
#: How often a sleeping watch looks at ``should_stop``.
_TICK: Final[float] = 0.1


@dataclass(frozen=True, slots=True)
class WatchBatch:
    """One pass that found something to do: when it ended, and what it did."""

    finished_at: datetime
    report: IngestReport


@dataclass(slots=True)
class WatchTotals:
    """What a watch stored and rejected since it started."""

    passes: int = 0
    batches: int = 0
    ingested: int = 0
    new: int = 0
    replaced: int = 0
    rejected: int = 0
    transactions: int = 0
    last: IngestReport | None = field(default=None)

    def add(self, report: IngestReport) -> None:
        """Count one pass's report."""
        self.passes += 1
        self.ingested += report.ingested
        self.new += report.new
        self.replaced += report.replaced
        self.rejected += len(report.rejected)
        self.transactions += report.transactions
        if report.ingested or report.rejected:
            self.batches += 1
            self.last = report


def watch_paths(
    paths: Sequence[str | os.PathLike[str]],
    persistence: FabricPersistence,
    *,
    should_stop: Callable[[], bool],
    on_batch: Callable[[WatchBatch], None],
    interval: float = DEFAULT_INTERVAL,
    settle: float = DEFAULT_SETTLE,
    patterns: Sequence[str] = DEFAULT_PATTERNS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    warn: Warn | None = None,
) -> WatchTotals:
    """Poll ``paths`` and ingest new and changed result files until ``should_stop()``.

    :param persistence: an open persistence; its database's cache is used.
    :param on_batch: called after each pass that ingested or rejected a file.
    :param warn: receives one line per warning (a folder gone or back, a
        damaged cache rebuilt).
    :returns: the totals since the start; ``.last`` is the last pass that did
        something.
    :raises ValueError: ``interval`` or ``settle`` is negative, or
        ``batch_size`` less than 1.
    :raises IngestAborted: a batch could not be stored (disk full, a lock
        held beyond the busy timeout); what landed before stays stored.
    :raises FolderScanError: never after the start: a folder that vanishes,
        loops or cannot be listed is a warning, once, and each pass tries
        again. (A path wrong at start-up is the caller's to refuse.)
    """
    if interval < 0 or settle < 0:
        raise ValueError("interval and settle must not be negative")
    say = warn or (lambda _line: None)
    totals = WatchTotals()
    stability = _Stability(settle)
    gone: set[Path] = set()
    stamps_version: int | None = None
    stamps: dict[str, str] = {}
    unlisted: str | None = None  # the scan's last error, said once until it clears
    with IngestCache(persistence.path, warn=say) as cache:
        while not should_stop():
            try:
                scan = scan_paths(paths, patterns)
            except FolderScanError as exc:
                # After the start, a folder that vanishes, loops or cannot be
                # listed is a warning for this pass; the next pass tries again.
                if str(exc) != unlisted:
                    say(f"{exc}; still watching, trying again at the next pass")
                    unlisted = str(exc)
                _sleep(interval, should_stop)
                continue
            if unlisted is not None:
                say("the folders can be listed again")
                unlisted = None
            _report_gone(scan, gone, say)
            stability.observe(scan.files)
            ready = ScannedFiles(f for f in scan.files if stability.ready(f))
            stored = StoredStamps(persistence.storage)
            version = stored.data_version()  # changes when another process commits
            if version != stamps_version:
                stamps_version, stamps = version, stored.load_ingested_at()
            cache.refresh()
            report = ingest_scan(
                ScanResult(files=ready, other=(), missing=(), empty=(), started_ns=scan.started_ns),
                persistence,
                cache=cache,
                stamps=stamps,
                batch_size=batch_size,
                progress=lambda files: _until(files, should_stop),
                defer=lambda path: not stability.settled(os.path.abspath(path)),
            )
            if report.transactions:  # our own commits do not change data_version
                stamps_version = None
            totals.add(report)
            if report.ingested or report.rejected or report.vanished:
                on_batch(WatchBatch(datetime.now(UTC), report))
            _sleep(interval, should_stop)
    return totals


class _Stability:
    """When each file's ``stat`` was first seen as it is now (monotonic clock)."""

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self.seen: dict[str, tuple[tuple[int, int, int, int], float]] = {}  # by absolute path

    def observe(self, files: Iterable[ScannedFile]) -> None:
        now = time.monotonic()
        seen: dict[str, tuple[tuple[int, int, int, int], float]] = {}
        for file in files:
            info = file.stat
            key = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
            before = self.seen.get(file.key)
            seen[file.key] = before if before is not None and before[0] == key else (key, now)
        self.seen = seen

    def settled(self, key: str) -> bool:
        """Whether the file's ``stat`` has been the same for ``settle`` seconds."""
        entry = self.seen.get(key)
        return entry is not None and time.monotonic() - entry[1] >= self.settle

    def ready(self, file: ScannedFile) -> bool:
        """Settled, or last modified at least ``settle`` seconds ago."""
        age = time.time() - file.stat.st_mtime_ns / 1e9
        return age >= self.settle or self.settled(file.key)


def _until(files: Sequence[str | Path], should_stop: Callable[[], bool]) -> Iterator[str | Path]:
    for path in files:
        if should_stop():
            return
        yield path


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while not should_stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(_TICK, left))


def _report_gone(scan: ScanResult, gone: set[Path], say: Warn) -> None:
    """Warn once when a watched path disappears (a share unmounted) and when it is back."""
    missing = set(scan.missing)
    for path in sorted(missing - gone):
        say(f"{path}: no such file or folder (not mounted?); still watching")
    for path in sorted(gone - missing):
        say(f"{path}: back")
    gone.clear()
    gone.update(missing)
