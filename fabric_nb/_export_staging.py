"""Put an export's files in place all or nothing, and clean up after a killed export.

An export is written into a hidden staging folder (:data:`STAGING_PREFIX`)
and moved into place at the end. A new OUTDIR is the staging folder renamed,
in one step; an existing empty OUTDIR is kept (its mode, owner, group and
ACLs stay) and the staging folder inside it is emptied into it. Each live
export holds a lock on its staging folder, so one nobody holds was left by a
killed export and the next export next to it removes it. Nothing else is
ever replaced or deleted: inside a kept OUTDIR, only the tables a staging
folder records (by name and inode) having moved out are taken back.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

from .errors import ExportError, OutputExistsError

__all__ = [
    "EXCEL_FILE",
    "STAGING_PREFIX",
    "check_outdir",
    "hold",
    "owner_only",
    "staged",
]

#: The workbook of an Excel export, inside OUTDIR.
EXCEL_FILE: Final[str] = "history.xlsx"
#: The prefix of the folder an export is written into before it is put in
#: place; one left by a killed export is removed by the next export.
STAGING_PREFIX: Final[str] = ".fabric-export-partial-"
#: What an export puts in OUTDIR, whatever the format.
_LAYOUT: Final[tuple[str, ...]] = ("jobs", "outputs", "jobs.csv", "outputs.csv", EXCEL_FILE)
# Inside a staging folder: what it moved out into a kept OUTDIR, one
# "name<TAB>device<TAB>inode" line per entry, written before each move.
_MOVED_RECORD: Final[str] = ".moved"


def staged(target: Path, write: Callable[[Path], None]) -> tuple[Path, ...]:
    """Run ``write`` into a new staging folder, then put what it wrote in place as
    ``target``; all or nothing. The files written, relative to ``target``, sorted."""
    keep = target.is_dir()  # an empty folder given: write inside it, keep it
    home = target if keep else target.parent
    try:
        home.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=home))
        lock = hold(staging)
    except OSError as exc:
        raise ExportError(f"cannot create {target}: {exc.strerror or exc}") from exc
    try:
        write(staging)
        owner_only(staging)
        files = tuple(sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file()))
        if keep:
            _publish_into(staging, target)
        else:
            os.rename(staging, target)
    except BaseException as exc:
        if keep:
            _remove_published(staging, target)
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise
    finally:
        os.close(lock)
    return files


def owner_only(staging: Path) -> None:
    """Files 0600 and folders 0700 under ``staging``, whatever the umask: the
    export holds the history, and the history is kept owner-only."""
    for entry in staging.rglob("*"):
        os.chmod(entry, 0o700 if entry.is_dir() else 0o600)


def check_outdir(target: Path) -> None:
    """Refuse an OUTDIR that is not missing or an empty folder; first remove the
    staging folders that killed exports left beside it or inside it.

    :raises OutputExistsError: ``target`` holds something, or is not a folder.
    """
    _remove_abandoned(target.parent, restore=False)
    if target.is_dir():
        _remove_abandoned(target, restore=True)
        with os.scandir(target) as entries:
            if next(entries, None) is None:
                return
        raise OutputExistsError(f"{target} is not empty; export into a new or empty folder")
    if target.exists() or target.is_symlink():
        raise OutputExistsError(f"{target} exists and is not a folder")


def hold(staging: Path) -> int:
    """Lock ``staging`` for as long as this export runs; the descriptor to close.

    The lock dies with the process, so a staging folder nobody holds was
    left by an export that was killed, and is removed by the next one.
    """
    fd = os.open(staging, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _publish_into(staging: Path, target: Path) -> None:
    """Move the tables of ``staging`` into the kept folder ``target``, then remove ``staging``.

    Before each move, the entry's name and inode are appended to
    :data:`_MOVED_RECORD` inside ``staging``: that record is the only thing
    a later cleanup trusts to take anything back out of ``target``.
    """
    record = staging / _MOVED_RECORD
    for name in sorted(e.name for e in staging.iterdir() if e.name != _MOVED_RECORD):
        info = os.lstat(staging / name)
        with open(record, "a", encoding="ascii") as out:
            out.write(f"{name}\t{info.st_dev}\t{info.st_ino}\n")
        os.rename(staging / name, target / name)
    record.unlink(missing_ok=True)
    staging.rmdir()


def _remove_abandoned(folder: Path, *, restore: bool) -> None:
    """Remove the staging folders of killed exports in ``folder`` (none that a live export holds).

    Only the staging folders themselves are removed. With ``restore`` (``folder``
    is the kept OUTDIR being exported into), a staging folder killed between
    the moves that publish it first takes back the tables it records having
    moved out (``jobs`` but not ``outputs``): they are part of that
    interrupted export, not an export. Nothing else in ``folder`` is touched.
    """
    try:
        entries = [e for e in folder.iterdir() if e.name.startswith(STAGING_PREFIX)]
    except OSError:
        return
    for entry in entries:
        if entry.is_symlink() or not entry.is_dir():
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live export holds it
        else:
            if restore:
                _remove_published(entry, folder)
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(fd)


def _remove_published(staging: Path, target: Path) -> None:
    """Move back into ``staging`` what it records having moved out into ``target``.

    An entry is taken back only if ``staging``'s record names it and the
    entry now in ``target`` is that very file or folder (same device and
    inode): a file of the user's with the same name is never touched.
    """
    try:
        lines = (staging / _MOVED_RECORD).read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    for line in lines:
        name, _, ident = line.partition("\t")
        if name not in _LAYOUT or (staging / name).exists():
            continue
        moved = target / name
        try:
            info = os.lstat(moved)
        except OSError:
            continue
        if ident == f"{info.st_dev}\t{info.st_ino}":
            with contextlib.suppress(OSError):
                os.rename(moved, staging / name)
