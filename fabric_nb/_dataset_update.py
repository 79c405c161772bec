"""Bring a Parquet dataset up to date, rewriting only the month partitions that changed.

``fabric-nb export --update`` (``export_history(update=True)``,
``export_histories(update=True)``) keeps a manifest beside the tables,
:data:`MANIFEST_NAME` (hidden: Hive readers skip names starting with ``.``).
It records, per history and UTC month, the digest of the stored rows the
partition was written from (:meth:`FabricStorage.digests_by_start_month`),
and the fabric_nb version and Arrow schemas that wrote it. An update reads
every selected row's stored values (not decoding them), and writes only the
months whose digest differs, the months that appeared, and removes the
months that no longer hold a selected job (a month folder on disk that
the manifest does not know, as an interrupted update leaves it, counts as
one). After it, the dataset is byte for byte what a new export with the same
arguments would write. A symbolic link among the dataset's folders is
refused: an update never writes or removes where a link points.

Each partition changes in one step a reader cannot see half-done: a new
``part-0.parquet`` replaces the old one by ``rename``; a new month's folder
appears by ``rename``; a month that holds no job any more is renamed away
before it is removed. The files are written first into a hidden staging
folder inside OUTDIR. The manifest is replaced (written, then renamed) after
each history: an update killed midway leaves months the manifest does not
describe, and the next update rewrites them. One update runs at a time per
OUTDIR (a lock on the folder); another one is refused, not queued.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from ._export_staging import STAGING_PREFIX, _remove_abandoned, hold, owner_only
from ._regular_files import open_regular_file
from .errors import ExportError, NotRegularFileError, OutputExistsError
from .storage import FabricStorage

__all__ = [
    "MANIFEST_NAME",
    "DatasetUpdate",
    "MonthTables",
    "update_dataset",
    "writer_stamp",
]

#: The manifest of a dataset written by ``--update``, inside OUTDIR.
MANIFEST_NAME: Final[str] = ".fabric-export.json"
#: The manifest's own format; another one is refused.
_MANIFEST_FORMAT: Final[int] = 1
#: A manifest larger than this is not one fabric_nb wrote (a year of a
#: hundred histories is under 1 MB).
_MANIFEST_LIMIT: Final[int] = 64 * 1024 * 1024
_TABLES: Final[tuple[str, ...]] = ("jobs", "outputs")
#: The prefix of the manifest's next version while it is written.
_MANIFEST_DRAFT: Final[str] = f"{MANIFEST_NAME}.draft-"

#: Reads and converts one month: (storage, rowids) -> {"jobs": table, "outputs": table}.
MonthTables = Callable[[FabricStorage, list[int]], dict[str, pa.Table]]


@dataclass(frozen=True, slots=True)
class DatasetUpdate:
    """What :func:`update_dataset` did and what the dataset holds afterwards."""

    #: Per history (``""`` for a one-history dataset): (jobs, outputs) in the dataset.
    counts: dict[str, tuple[int, int]]
    #: The partitions written or removed, as ``history=NAME/started_month=YYYY-MM``
    #: (``started_month=YYYY-MM`` for one history), sorted.
    changed: tuple[str, ...]
    #: The files written, relative to OUTDIR, sorted.
    files: tuple[Path, ...]


def update_dataset(
    target: Path,
    sources: Mapping[str, FabricStorage],
    *,
    layout: str,
    stamp: str,
    months_of: Callable[[FabricStorage], dict[int, tuple[list[int], str]]],
    month_tables: MonthTables,
    partition: Callable[[int], str],
) -> DatasetUpdate:
    """Update the dataset in ``target`` (created when missing or empty) from ``sources``.

    ``sources`` maps each history's partition name (``""`` for the one-history
    layout) to its open storage; ``layout`` (``"history"`` or ``"histories"``)
    and ``stamp`` (what wrote the files) must match the manifest's, or every
    month is rewritten (stamp) or the update refused (layout). ``months_of``
    gives a storage's selected months with their rowids and digests.

    :raises OutputExistsError: ``target`` is a non-empty folder without a
        manifest, or not a folder.
    :raises ExportError: the manifest is not one fabric_nb wrote, the dataset
        is of the other layout or holds a history not given, another update
        runs, or a file could not be written.
    """
    created = _prepare(target)
    try:
        lock = hold(target)
    except OSError as exc:
        raise ExportError(f"{target}: another export is updating this dataset") from exc
    try:
        _remove_abandoned(target, restore=False)
        for left in target.glob(f"{_MANIFEST_DRAFT}*"):  # by an update killed while writing it
            if left.is_file() and not left.is_symlink():
                left.unlink()
        manifest = _read_manifest(target) if not created else None
        manifest = manifest or {"format": _MANIFEST_FORMAT, "layout": layout, "stamp": stamp}
        if manifest["layout"] != layout:
            raise ExportError(
                f"{target} holds a dataset of {manifest['layout']!r} layout, not {layout!r}; "
                "export into a new folder"
            )
        parts: dict[str, dict[str, dict[str, Any]]] = manifest.setdefault("parts", {})
        strangers = sorted(set(parts) - set(sources))
        if strangers:
            raise ExportError(
                f"{target} holds histories not given: {', '.join(strangers)}; "
                "give them too, or export into a new folder"
            )
        if manifest["stamp"] != stamp:  # written by another version: nothing is trusted
            parts.clear()
            manifest["stamp"] = stamp
        _write_manifest(target, manifest)
        updater = _Updater(target, months_of, month_tables, partition)
        counts: dict[str, tuple[int, int]] = {}
        for name, storage in sources.items():
            known = parts.setdefault(name, {})
            updater.history(name, storage, known)
            counts[name] = (
                sum(part["jobs"] for part in known.values()),
                sum(part["outputs"] for part in known.values()),
            )
            _write_manifest(target, manifest)
    except OSError as exc:
        raise ExportError(f"cannot update {target}: {exc.strerror or exc}") from exc
    finally:
        os.close(lock)
    return DatasetUpdate(
        counts=counts, changed=tuple(sorted(updater.changed)), files=tuple(sorted(updater.files))
    )


def _prepare(target: Path) -> bool:
    """Check ``target`` can be updated; create it when missing. True when it starts empty."""
    _remove_abandoned(target.parent, restore=False)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputExistsError(f"{target} exists and is not a folder")
    if not target.exists():
        try:
            target.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise ExportError(f"cannot create {target}: {exc.strerror or exc}") from exc
        return True
    _remove_abandoned(target, restore=False)
    with os.scandir(target) as entries:
        names = [entry.name for entry in entries]
    if not names:
        return True
    if MANIFEST_NAME not in names:
        raise OutputExistsError(
            f"{target} is not empty and holds no {MANIFEST_NAME}: --update brings up to date "
            "a dataset it wrote; export into a new or empty folder"
        )
    return False


@dataclass
class _Updater:
    """One update's writer: what it reads each month with, and what it wrote so far."""

    target: Path
    months_of: Callable[[FabricStorage], dict[int, tuple[list[int], str]]]
    month_tables: MonthTables
    partition: Callable[[int], str]
    changed: set[str] = field(default_factory=set)
    files: set[Path] = field(default_factory=set)

    def history(self, name: str, storage: FabricStorage, known: dict[str, dict[str, Any]]) -> None:
        """Rewrite the months of one history whose digest changed, as one committed state.

        Without a lock first, so writers are not held up; when a commit landed
        meanwhile (the change marker moved), once more under the read lock.
        """
        before = storage.change_marker()
        self._apply(name, storage, known)
        if before is not None and storage.change_marker() == before:
            return
        with storage.read_transaction():
            self._apply(name, storage, known)

    def _apply(self, name: str, storage: FabricStorage, known: dict[str, dict[str, Any]]) -> None:
        target, partition, changed, files = self.target, self.partition, self.changed, self.files
        months = {partition(month): value for month, value in self.months_of(storage).items()}
        prefix = Path(f"history={name}") if name else Path()
        # What is on disk counts too: a month an interrupted update wrote before
        # the manifest said so, or one the manifest forgot (another version's).
        stale = sorted((set(known) | _partitions_on_disk(target, prefix)) - set(months))
        fresh = [
            key for key, (_, digest) in months.items() if known.get(key, {}).get("digest") != digest
        ]
        if not stale and not fresh:
            return
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target))
        lock = hold(staging)
        try:
            for key in stale:
                for table in _TABLES:
                    _remove_partition(target, target / table / prefix / key, staging)
                    files.discard(Path(table) / prefix / key / "part-0.parquet")
                known.pop(key, None)
                changed.add((prefix / key).as_posix())
            for key in fresh:
                rowids, digest = months[key]
                tables = self.month_tables(storage, rowids)
                for table, data in tables.items():
                    place = target / table / prefix / key
                    if data.num_rows:
                        written = staging / table / prefix / key
                        written.mkdir(parents=True)
                        pq.write_table(data, written / "part-0.parquet")
                        owner_only(staging)
                        _put_partition(target, written, place)
                        files.add(Path(table) / prefix / key / "part-0.parquet")
                    else:
                        _remove_partition(target, place, staging)
                        files.discard(Path(table) / prefix / key / "part-0.parquet")
                known[key] = {
                    "digest": digest,
                    "jobs": tables["jobs"].num_rows,
                    "outputs": tables["outputs"].num_rows,
                }
                changed.add((prefix / key).as_posix())
        finally:
            os.close(lock)
            shutil.rmtree(staging, ignore_errors=True)


def _partitions_on_disk(target: Path, prefix: Path) -> set[str]:
    """The month folders of one history in either table, as they are on disk."""
    found: set[str] = set()
    for table in _TABLES:
        folder = target / table / prefix
        _refuse_links(target, folder)
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_symlink():
                    _refuse_links(target, Path(entry.path))
                if entry.is_dir(follow_symlinks=False):
                    found.add(entry.name)
    return found


def _refuse_links(target: Path, place: Path) -> None:
    """Refuse a symbolic link on the way from ``target`` down to ``place``: an update
    writes and removes only inside folders of its own, never where a link points.

    :raises ExportError: one of those folders is a symbolic link.
    """
    path = target
    for part in place.relative_to(target).parts:
        path = path / part
        if path.is_symlink():
            raise ExportError(
                f"{path} is a symbolic link: an update writes only in folders of its own; "
                "export into a new folder"
            )


def _put_partition(target: Path, written: Path, place: Path) -> None:
    """Put the partition folder ``written`` at ``place`` in one step readers cannot split."""
    _refuse_links(target, place)
    if place.is_dir():
        os.replace(written / "part-0.parquet", place / "part-0.parquet")
        return
    missing = [folder for folder in place.parents if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
    os.rename(written, place)


def _remove_partition(target: Path, place: Path, staging: Path) -> None:
    """Take the partition folder ``place`` out of the dataset in one step, then delete it."""
    _refuse_links(target, place)
    if not place.is_dir():
        return
    gone = Path(tempfile.mkdtemp(prefix="removed-", dir=staging))
    os.rename(place, gone / "partition")
    shutil.rmtree(gone)


def _read_manifest(target: Path) -> dict[str, Any]:
    path = target / MANIFEST_NAME
    try:
        with open(open_regular_file(path), "rb") as handle:
            raw = handle.read(_MANIFEST_LIMIT + 1)
    except (OSError, NotRegularFileError) as exc:
        raise ExportError(f"{path}: cannot read the dataset's manifest: {exc}") from exc
    try:
        if len(raw) > _MANIFEST_LIMIT:
            raise ValueError(f"larger than {_MANIFEST_LIMIT} bytes")
        manifest = json.loads(raw)
        _check_manifest(manifest)
    except (ValueError, TypeError, KeyError) as exc:
        raise ExportError(
            f"{path}: not a manifest fabric_nb wrote ({exc}); export into a new folder"
        ) from exc
    return dict(manifest)


def _check_manifest(manifest: Any) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != _MANIFEST_FORMAT:
        raise ValueError(f"format is not {_MANIFEST_FORMAT}")
    if not isinstance(manifest["layout"], str) or not isinstance(manifest["stamp"], str):
        raise ValueError("layout and stamp must be text")
    parts = manifest.get("parts", {})
    if not isinstance(parts, dict):
        raise ValueError("parts must be an object")
    for months in parts.values():
        if not isinstance(months, dict):
            raise ValueError("each history's parts must be an object")
        for key, part in months.items():
            if (
                not key.startswith("started_month=")
                or "/" in key
                or not isinstance(part, dict)
                or not isinstance(part.get("digest"), str)
                or not all(
                    isinstance(part.get(n), int) and part[n] >= 0 for n in ("jobs", "outputs")
                )
            ):
                raise ValueError(f"bad entry {key!r}")


def _write_manifest(target: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest in one step (written beside it, then renamed)."""
    fd, temporary = tempfile.mkstemp(prefix=_MANIFEST_DRAFT, dir=target)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(manifest, out, sort_keys=True, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target / MANIFEST_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def writer_stamp(version: str, *schemas: pa.Schema) -> str:
    """What wrote a dataset's files: the fabric_nb and pyarrow versions and the schemas."""
    text = "\n".join([version, pa.__version__, *(schema.to_string() for schema in schemas)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
