"""Find the result files under the paths an operator gives, with one ``stat`` each.

:func:`scan_paths` is the first step of every ingest and of every poll of a
watch: it walks the folders, sorts what it finds, tells result files from the
other files by name (``--pattern``), and keeps the ``stat`` of every result
file, so the incremental ingest can decide what is new without opening
anything. A path that does not exist, and a folder holding no result file,
are reported rather than raised, so the caller decides how loud to be.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple, overload

from ._collector import collector_paused
from .errors import FabricError

__all__ = [
    "DEFAULT_PATTERNS",
    "FolderScanError",
    "ScanResult",
    "ScannedFile",
    "scan_paths",
]

#: Which files of a folder are result files unless told otherwise. Patterns
#: match the file name (not the folder), ignoring case, so ``X.JSON`` counts.
DEFAULT_PATTERNS: Final[tuple[str, ...]] = ("*.json",)


class FolderScanError(FabricError):
    """A folder given to ingest (or one inside it) cannot be listed."""


class ScannedFile(NamedTuple):
    """A result file found by a scan, with the ``stat`` taken before it is read.

    A scan of a large folder makes one per file, so it is a plain tuple of
    strings: ``name`` is the path as the caller wrote it joined with the
    file's place in the folder, ``key`` the same file as an absolute path
    (what the ingest cache is keyed by).
    """

    name: str
    key: str
    stat: os.stat_result

    @property
    def path(self) -> Path:
        """``name`` as a :class:`~pathlib.Path`."""
        return Path(self.name)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What :func:`scan_paths` found.

    :ivar files: result files, in ingest order, each once (at its first place).
    :ivar other: files of the folders whose name matches no pattern.
    :ivar missing: paths given that do not exist.
    :ivar empty: folders given that hold no result file.
    :ivar started_ns: when the scan began (``time.time_ns()``): no ``stat``
        of it is older, which is what the ingest cache's racy rule needs.
    """

    files: tuple[ScannedFile, ...]
    other: tuple[Path, ...]
    missing: tuple[Path, ...]
    empty: tuple[Path, ...]
    started_ns: int = 0


def scan_paths(
    paths: Iterable[str | os.PathLike[str]],
    patterns: Sequence[str] = DEFAULT_PATTERNS,
) -> ScanResult:
    """Expand files and folders into result files, each with its ``stat``.

    A file given by name is a result file whatever its name. A folder is
    walked recursively (symbolic links to folders are not followed, so a link
    loop cannot make the walk endless); a file in it is a result file when
    its name matches one of ``patterns`` (``fnmatch`` syntax, case ignored).
    The result files of one folder are sorted by their path relative to the
    folder, compared folder name by folder name, so the order is the same on
    every machine. Paths are handled in the order given.

    :raises FolderScanError: a folder cannot be listed.
    :raises ValueError: ``patterns`` is empty.
    """
    if not patterns:
        raise ValueError("at least one pattern is needed")
    match = _matcher(patterns)
    started_ns = time.time_ns()
    groups: list[Sequence[ScannedFile]] = []  # what each path gave, in order
    other: list[Path] = []
    missing: list[Path] = []
    empty: list[Path] = []
    for given in paths:
        path = Path(given)
        try:
            info = path.stat()
        except FileNotFoundError:
            missing.append(path)
            continue
        except OSError as exc:
            raise FolderScanError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if not stat.S_ISDIR(info.st_mode):
            groups.append((ScannedFile(str(path), os.path.abspath(path), info),))
            continue
        with collector_paused():  # many small tuples, no cycle: see _collector
            walked, skipped = _walk(path, match)
        if not walked:
            empty.append(path)
        groups.append(walked)
        other.extend(skipped)
    if len(groups) == 1:  # one file, or one walk: each key is there once already
        files = tuple(groups[0])
    else:
        found: dict[str, ScannedFile] = {}
        for group in groups:
            for file in group:
                found.setdefault(file.key, file)  # a file keeps its first place
        files = tuple(found.values())
    return ScanResult(
        files=files,
        other=tuple(other),
        missing=tuple(missing),
        empty=tuple(empty),
        started_ns=started_ns,
    )


def _matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """A test of a file name against the patterns, ignoring case.

    Patterns that are ``*`` and a plain ending (``*.json``, ``*.result.json``,
    the usual ones) become one ``str.endswith``; others go through ``fnmatch``.
    """
    lowered = [p.lower() for p in patterns]
    if all(p.startswith("*") and not any(c in p[1:] for c in "*?[") for p in lowered):
        endings = tuple(p[1:] for p in lowered)
        return lambda name: name.lower().endswith(endings)
    regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in lowered), re.I | re.S)
    return lambda name: regex.fullmatch(name) is not None


def _walk(folder: Path, match: Callable[[str], bool]) -> tuple[list[ScannedFile], list[Path]]:
    """(result files, other files) under ``folder``, both in order.

    Each folder's names are sorted and a subfolder's files take its place in
    that order, which is the order of the relative paths compared folder name
    by folder name.

    A folder is listed by name (``os.listdir``: no ``DirEntry`` object per
    file) and a result file costs the one ``stat`` the cache needs, which
    also tells a folder from a file. Only a name that matches no pattern, or
    a result name that turns out to be a folder, costs an ``lstat`` (is it a
    folder to walk, or a link to one, not followed?).
    """
    files: list[ScannedFile] = []
    other: list[Path] = []
    shown_root = os.path.join(str(folder), "")  # the folder as given, one separator after
    absolute_root = os.path.join(os.path.abspath(folder), "")
    same = shown_root == absolute_root  # an absolute folder: one string serves as both
    new = tuple.__new__  # ScannedFile without its Python-level __new__
    stat_of, lstat_of, is_dir, is_link = os.stat, os.lstat, stat.S_ISDIR, stat.S_ISLNK
    # A stack of (relative folder with its separator, its sorted names, next index).
    stack: list[tuple[str, list[str], int]] = [("", _sorted_names(str(folder)), 0)]
    while stack:
        relative_dir, names, index = stack.pop()
        count = len(names)
        while index < count:
            name = names[index]
            index += 1
            relative = relative_dir + name
            shown = shown_root + relative
            if match(name):
                try:
                    info = stat_of(shown)  # follows a symlink to a file
                    if not is_dir(info.st_mode):
                        key = absolute_root + relative
                        files.append(new(ScannedFile, (key if same else shown, key, info)))
                        continue
                    if is_link(lstat_of(shown).st_mode):  # a symlink to a folder: not followed
                        continue
                except FileNotFoundError:  # gone since listed, or a dangling link
                    continue
            else:
                try:
                    folder_here = is_dir(lstat_of(shown).st_mode)
                except FileNotFoundError:  # gone since listed
                    continue
                except OSError:  # not even its kind can be read: an other file, as listed
                    folder_here = False
                if not folder_here:
                    other.append(Path(shown))
                    continue
            inside = _sorted_names(shown, gone_ok=True)
            if inside is None:  # removed since it was listed: gone, like a file
                continue
            stack.append((relative_dir, names, index))
            stack.append((relative + os.sep, inside, 0))
            break
    return files, other


@overload
def _sorted_names(directory: str) -> list[str]: ...
@overload
def _sorted_names(directory: str, *, gone_ok: bool) -> list[str] | None: ...
def _sorted_names(directory: str, *, gone_ok: bool = False) -> list[str] | None:
    """The names in ``directory``, sorted; ``None`` when it is gone and ``gone_ok``."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError) as exc:
        if gone_ok:
            return None
        raise _cannot_list(directory, exc) from None
    except OSError as exc:
        raise _cannot_list(directory, exc) from None
    names.sort()
    return names


def _cannot_list(directory: str, exc: OSError) -> FolderScanError:
    return FolderScanError(
        f"{exc.filename or directory}: cannot list folder: {exc.strerror or exc}"
    )
