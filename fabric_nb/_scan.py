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
import itertools
import os
import re
import stat
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple, overload

from ._collector import collector_paused
from .errors import IngestPathError

__all__ = [
    "DEFAULT_PATTERNS",
    "FileStat",
    "FolderScanError",
    "ScanResult",
    "ScannedFile",
    "ScannedFiles",
    "scan_paths",
]

#: A second name of :class:`~fabric_nb.errors.IngestPathError`, what the scan
#: raises when a folder cannot be listed; code written against this name
#: still catches it.
FolderScanError = IngestPathError

#: Which files of a folder are result files unless told otherwise. Patterns
#: match the file name (not the folder), ignoring case, so ``X.JSON`` counts.
DEFAULT_PATTERNS: Final[tuple[str, ...]] = ("*.json",)


_AddInt = Callable[[int], None]


class FileStat(NamedTuple):
    """The part of a file's ``stat`` that ingest uses, under ``os.stat_result``'s names.

    The incremental ingest compares size, times and inode with what its cache
    recorded (:mod:`fabric_nb._ingest_cache`); the mode tells a regular file
    from the rest.
    """

    st_mode: int
    st_ino: int
    st_size: int
    st_mtime_ns: int
    st_ctime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileStat:
        """The fields of ``info`` this type keeps."""
        return cls(info.st_mode, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class ScannedFile(NamedTuple):
    """A result file found by a scan, with the ``stat`` taken before it is read.

    ``name`` is the path as the caller wrote it joined with the file's place
    in the folder, ``key`` the same file as an absolute path (what the ingest
    cache is keyed by).
    """

    name: str
    key: str
    stat: FileStat

    @property
    def path(self) -> Path:
        """``name`` as a :class:`~pathlib.Path`."""
        return Path(self.name)


class ScannedFiles(Sequence[ScannedFile]):
    """The result files of a scan, in order, held as columns.

    A scan of a million files keeps a million of them until the ingest is
    over, so each costs its path below the folder it was found in (one
    string) and five machine integers, not a tuple, two paths and a
    ``stat_result`` of objects: indexing and iterating build the
    :class:`ScannedFile` on demand.
    """

    __slots__ = (
        "_absolute",
        "_ctime",
        "_ino",
        "_mode",
        "_mtime",
        "_relative",
        "_shown",
        "_size",
        "_starts",
    )

    def __init__(self, files: Iterable[ScannedFile] = ()) -> None:
        self._relative: list[str] = []  # each file's path below its group's roots
        # Groups of files that share their roots: where each starts, and its roots
        # as the caller wrote them and as absolute paths.
        self._starts: list[int] = []
        self._shown: list[str] = []
        self._absolute: list[str] = []
        self._mode = array("L")
        self._ino = array("Q")
        self._size = array("q")
        self._mtime = array("q")
        self._ctime = array("q")
        for file in files:
            self.append(file.name, file.key, file.stat)

    def append(self, name: str, key: str, info: os.stat_result | FileStat) -> None:
        """Add a file at the end."""
        if self._shown:
            shown, absolute = self._shown[-1], self._absolute[-1]
            if (
                name.startswith(shown)
                and key.startswith(absolute)
                and name[len(shown) :] == key[len(absolute) :]
            ):
                self.add_relative(name[len(shown) :], info)
                return
        self.start_group(name, key)
        self.add_relative("", info)

    def start_group(self, shown_root: str, absolute_root: str) -> None:
        """Files added next are ``shown_root`` / ``absolute_root`` followed by their own path."""
        self._starts.append(len(self._relative))
        self._shown.append(shown_root)
        self._absolute.append(absolute_root)

    def add_relative(self, relative: str, info: os.stat_result | FileStat) -> None:
        """Add a file of the last group, by its path below the group's roots."""
        self._relative.append(relative)
        self._mode.append(info.st_mode)
        self._ino.append(info.st_ino)
        self._size.append(info.st_size)
        self._mtime.append(info.st_mtime_ns)
        self._ctime.append(info.st_ctime_ns)

    def appenders(
        self,
    ) -> tuple[Callable[[str], None], _AddInt, _AddInt, _AddInt, _AddInt, _AddInt]:
        """The ``append`` of each column, in the order of :meth:`add_relative`'s
        values: relative path, mode, inode, size, mtime, ctime."""
        return (
            self._relative.append,
            self._mode.append,
            self._ino.append,
            self._size.append,
            self._mtime.append,
            self._ctime.append,
        )

    def keyed_stats(self) -> Iterator[tuple[int, str, int, int, int, int]]:
        """``(position, key, size, mtime_ns, ctime_ns, inode)`` of every file, in order."""
        starts = [*self._starts, len(self._relative)]
        for group, absolute in enumerate(self._absolute):
            start, end = starts[group], starts[group + 1]
            for position, relative, size, mtime, ctime, ino in zip(
                range(start, end),
                self._relative[start:end],
                self._size[start:end],
                self._mtime[start:end],
                self._ctime[start:end],
                self._ino[start:end],
                strict=True,
            ):
                yield position, absolute + relative, size, mtime, ctime, ino

    def extend(self, other: ScannedFiles) -> None:
        """Add every file of ``other`` at the end."""
        offset = len(self._relative)
        self._starts += [start + offset for start in other._starts]
        self._shown += other._shown
        self._absolute += other._absolute
        self._relative += other._relative
        for mine, theirs in self._columns(other):
            mine.extend(theirs)

    def _columns(self, other: ScannedFiles) -> Iterator[tuple[array[int], array[int]]]:
        yield self._mode, other._mode
        yield self._ino, other._ino
        yield self._size, other._size
        yield self._mtime, other._mtime
        yield self._ctime, other._ctime

    def _group(self, position: int) -> int:
        starts = self._starts
        return 0 if len(starts) == 1 else bisect_right(starts, position) - 1

    def __len__(self) -> int:
        return len(self._relative)

    @overload
    def __getitem__(self, index: int) -> ScannedFile: ...
    @overload
    def __getitem__(self, index: slice) -> ScannedFiles: ...
    def __getitem__(self, index: int | slice) -> ScannedFile | ScannedFiles:
        if isinstance(index, slice):
            return ScannedFiles(self[position] for position in range(len(self))[index])
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("ScannedFiles index out of range")
        return ScannedFile(self.name(index), self.key(index), self.stat(index))

    def __iter__(self) -> Iterator[ScannedFile]:
        for position in range(len(self._relative)):
            yield ScannedFile(self.name(position), self.key(position), self.stat(position))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ScannedFiles | tuple | list):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ScannedFiles: {len(self)} files>"

    def stat(self, position: int) -> FileStat:
        """The ``stat`` of the file at ``position``."""
        return FileStat(
            self._mode[position],
            self._ino[position],
            self._size[position],
            self._mtime[position],
            self._ctime[position],
        )

    def identity(self, position: int) -> tuple[int, int, int, int]:
        """``(size, mtime_ns, ctime_ns, inode)`` of the file at ``position``: what the
        ingest cache records, in its order."""
        return (
            self._size[position],
            self._mtime[position],
            self._ctime[position],
            self._ino[position],
        )

    def name(self, position: int) -> str:
        """The path of the file at ``position`` as the caller wrote it."""
        return self._shown[self._group(position)] + self._relative[position]

    def key(self, position: int) -> str:
        """The absolute path of the file at ``position``."""
        return self._absolute[self._group(position)] + self._relative[position]

    def names(self) -> list[str]:
        """Every ``name``, in order (a new list)."""
        return [self.name(position) for position in range(len(self))]

    def is_regular(self, position: int) -> bool:
        """Whether the file at ``position`` was a regular file when scanned."""
        return stat.S_ISREG(self._mode[position])


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

    files: ScannedFiles
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

    :raises IngestPathError: a folder cannot be listed.
    :raises ValueError: ``patterns`` is empty.
    """
    if not patterns:
        raise ValueError("at least one pattern is needed")
    match = _matcher(patterns)
    started_ns = time.time_ns()
    groups: list[tuple[str, ScannedFiles]] = []  # (absolute root, what it gave), in order
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
            raise IngestPathError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if not stat.S_ISDIR(info.st_mode):
            one = ScannedFiles()
            one.append(str(path), os.path.abspath(path), info)
            groups.append((os.path.abspath(path), one))
            continue
        with collector_paused():  # many small objects, no cycle: see _collector
            walked, skipped = _walk(path, match)
        if not walked:
            empty.append(path)
        groups.append((os.path.join(os.path.abspath(path), ""), walked))
        other.extend(skipped)
    files = _joined(groups)
    return ScanResult(
        files=files,
        other=tuple(other),
        missing=tuple(missing),
        empty=tuple(empty),
        started_ns=started_ns,
    )


def _joined(groups: Sequence[tuple[str, ScannedFiles]]) -> ScannedFiles:
    """The groups' files in order, each file once, at its first place.

    Groups whose roots do not overlap (no path given inside another, none
    given twice) hold distinct files and are joined as they are, with no set
    of every path.
    """
    if not groups:
        return ScannedFiles()
    if len(groups) == 1:  # one file, or one walk: each key is there once already
        return groups[0][1]
    # A root inside another (or given twice) is the prefix of its successor in
    # sorted order: every text between a prefix and a longer text starts with it.
    roots = sorted(root for root, _ in groups)
    joined = ScannedFiles()
    if not any(later.startswith(root) for root, later in itertools.pairwise(roots)):
        for _, group in groups:
            joined.extend(group)
        return joined
    seen: set[str] = set()
    for _, group in groups:
        for position in range(len(group)):
            key = group.key(position)
            if key not in seen:  # a file keeps its first place
                seen.add(key)
                joined.append(group.name(position), key, group.stat(position))
    return joined


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


def _walk(folder: Path, match: Callable[[str], bool]) -> tuple[ScannedFiles, list[Path]]:
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
    files = ScannedFiles()
    # One group: the folder's files, by their relative path, appended column
    # by column (a method call per file is a tenth of the walk).
    add_relative, add_mode, add_ino, add_size, add_mtime, add_ctime = files.appenders()
    other: list[Path] = []
    shown_root = os.path.join(str(folder), "")  # the folder as given, one separator after
    absolute_root = os.path.join(os.path.abspath(folder), "")
    files.start_group(shown_root, absolute_root)
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
                    mode = info.st_mode
                    if not is_dir(mode):
                        add_relative(relative)
                        add_mode(mode)
                        add_ino(info.st_ino)
                        add_size(info.st_size)
                        add_mtime(info.st_mtime_ns)
                        add_ctime(info.st_ctime_ns)
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


def _cannot_list(directory: str, exc: OSError) -> IngestPathError:
    return IngestPathError(
        f"{exc.filename or directory}: cannot list folder: {exc.strerror or exc}"
    )
