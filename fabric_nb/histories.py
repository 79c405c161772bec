"""Several histories read as one: one facility, many Proxx machines.

Fabric's database is per machine and per user, so a facility with ten Proxx
workstations has ten histories. ``open_fabric([a, b, c])`` (or a folder of
``*.db`` files, or a glob such as ``"machines/*/fabric.db"``, or
``{"edit-bay-3": path, ...}``) opens each exactly as a single
:func:`~fabric_nb.history.open_fabric` opens one (read-only; schema version
and ``PRAGMA integrity_check`` at open, each row checked when a question
reads it) and returns a :class:`Histories`: the questions of a
:class:`~fabric_nb.history.FabricHistory`, answered over all of them.

The rules (``docs/histories.md``):

- **Names.** Each history has a short, stable name: the one given in a
  mapping, else its file name without ``.db``, with parent folders added
  while two would share a name (``bay-1/fabric``, ``bay-2/fabric``). Every
  frame carries it as a categorical ``history`` column, first, whose
  categories are the names in the order given; ``by="history"`` groups by it.
- **Order.** Rows follow Fabric's order (``started_at``, then ``job_id``),
  then the order the histories were given in.
- **Failures are never silent.** A database that fails its checks fails the
  open, with the spec's message naming that file. ``on_error="warn"`` skips
  it instead with a :class:`HistorySkippedWarning`; :attr:`Histories.skipped`,
  the ``repr`` and the report name every skipped history.
- **The same job in several histories** (a result file copied between
  machines, or two machines ingesting one shared folder) is kept once per
  history, each row with its ``history``; :meth:`Histories.duplicate_jobs`
  lists them. Frames and summaries count such a job once per history unless
  given ``dedupe=True``: then the row with the latest ``ingested_at`` is kept
  (on a tie, the history given first). Every frame and summary says which it
  did in ``.attrs["counted"]``.
"""

from __future__ import annotations

import glob
import html
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias, Unpack

import numpy as np
import pandas as pd

from . import summaries
from .errors import FabricError, StorageError
from .filters import (
    FILTER_COLUMNS,
    JOB_FILTERS,
    OUTPUT_FILTERS,
    FilterSelection,
    JobFilters,
    OutputFilters,
    UnknownValueWarning,
    parse_filters,
    warn_unknown,
)
from .frames import HISTORY_COLUMN
from .models import CLIP_STATUSES, JOB_STATUSES, IngestedJob
from .summaries import By

if TYPE_CHECKING:
    from .history import FabricHistory

__all__ = [
    "HISTORY_COLUMN",
    "Histories",
    "HistoriesError",
    "HistoryPaths",
    "HistorySkippedWarning",
    "SkippedHistory",
    "history_names",
    "open_several",
    "resolve_histories",
]

#: What ``open_fabric`` takes for several histories: paths (files, folders of
#: ``*.db`` files, glob patterns), or names mapped to paths.
HistoryPaths: TypeAlias = Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]]


_COUNTED_PER_HISTORY: Final = "once per history"
_COUNTED_ONCE: Final = "once (dedupe=True: the latest ingested_at of each job_id)"
_ON_ERROR: Final = ("raise", "warn")


class HistoriesError(FabricError, ValueError):
    """The histories to open cannot be named: none found, one given twice, a bad name."""


class HistorySkippedWarning(UserWarning):
    """A history failed its checks at open and was skipped (``on_error="warn"``)."""


@dataclass(frozen=True, slots=True)
class SkippedHistory:
    """A history left out by ``on_error="warn"``: its name, file and the error's message."""

    name: str
    path: Path
    reason: str


# -- which files, under which names ---------------------------------------------------


def _expand(item: str | os.PathLike[str]) -> list[Path]:
    """One item of a list: a database file, a folder of ``*.db`` files, or a glob."""
    text = os.fspath(item)
    if isinstance(text, bytes):  # pragma: no cover - typed away; refused by name anyway
        raise HistoriesError(f"a history path must be text, got {text!r}")
    expanded = os.path.expanduser(text)
    if glob.has_magic(expanded):
        found = sorted(Path(p) for p in glob.glob(expanded) if not os.path.isdir(p))
        if not found:
            raise HistoriesError(f"{text}: no database matches this pattern")
        return found
    path = Path(expanded)
    if path.is_dir():
        found = sorted(p for p in path.glob("*.db") if not p.is_dir())
        if not found:
            raise HistoriesError(f"{text}: no *.db file in this folder")
        return found
    return [path]


def history_names(paths: Sequence[Path]) -> list[str]:
    """A short, stable name for each database: its file name without ``.db``,
    with parent folders added (``bay-1/fabric``) while two would share one."""
    parts = [Path(os.path.abspath(p)).parts for p in paths]
    names: list[str] = []
    for index, own in enumerate(parts):
        depth = 1
        while True:
            name = _tail(own, depth)
            clash = any(_tail(other, depth) == name for i, other in enumerate(parts) if i != index)
            if not clash or depth >= len(own):
                break
            depth += 1
        names.append(name)
    return names


def _tail(parts: tuple[str, ...], depth: int) -> str:
    """The last ``depth`` parts of a path, ``.db`` taken off the file name."""
    tail = list(parts[-depth:])
    if tail[-1].endswith(".db") and len(tail[-1]) > 3:
        tail[-1] = tail[-1][:-3]
    return "/".join(tail)


def _check_name(name: object) -> str:
    """A name given in a mapping: text a folder name can hold (it names a Hive partition)."""
    if not isinstance(name, str):
        raise HistoriesError(f"a history name must be text, got {type(name).__name__}")
    if (
        not name
        or name.startswith(".")
        or any(c in name for c in '/\\=%"')
        or not name.isprintable()
        or name != name.strip()
    ):
        raise HistoriesError(
            f"{name!r} cannot name a history: use printable text without /, \\, =, %, "
            "quotes, surrounding spaces or a leading dot (it names a folder of the export)"
        )
    return name


def resolve_histories(given: HistoryPaths | str | os.PathLike[str]) -> dict[str, Path]:
    """Name to database file for what ``open_fabric`` was given, in the order given.

    :raises HistoriesError: nothing found, a file given twice, or a bad name.
    """
    if isinstance(given, Mapping):
        named = {
            _check_name(name): Path(os.path.expanduser(os.fspath(p))) for name, p in given.items()
        }
    else:
        items = [given] if isinstance(given, (str, os.PathLike)) else list(given)
        if not items:
            raise HistoriesError("no history given: pass one or more database paths")
        paths = [path for item in items for path in _expand(item)]
        named = dict(zip(history_names(paths), paths, strict=True))
        if len(named) < len(paths):
            raise HistoriesError("two paths name the same history; give names with a mapping")
    seen: dict[str, str] = {}
    for name, path in named.items():
        key = os.path.realpath(path)
        if key in seen:
            raise HistoriesError(
                f"{path}: the same database is given twice ({seen[key]!r} and {name!r}); "
                "its jobs would be counted twice"
            )
        seen[key] = name
    return named


# -- the combined history ---------------------------------------------------------------


class Histories:
    """Several opened histories, asked as one.

    Made by :func:`~fabric_nb.history.open_fabric` given several databases.
    A context manager; :meth:`close` closes every database. Questions take
    the filters of :meth:`FabricHistory.jobs` and ``dedupe`` (see the module
    docstring); frames start with the categorical ``history`` column.
    """

    def __init__(
        self, members: Mapping[str, FabricHistory], skipped: Sequence[SkippedHistory] = ()
    ) -> None:
        self._members = dict(members)
        self.skipped: tuple[SkippedHistory, ...] = tuple(skipped)
        self._dtype = pd.CategoricalDtype(list(self._members), ordered=False)

    # -- what it is ------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """The names of the opened histories, in the order given."""
        return list(self._members)

    @property
    def paths(self) -> dict[str, Path]:
        """Each opened history's database file, by name."""
        return {name: member.path for name, member in self._members.items()}

    def history(self, name: str) -> FabricHistory:
        """One of the histories, by name.

        :raises KeyError: no opened history has that name (a skipped one says so).
        """
        if name in self._members:
            return self._members[name]
        skipped = [s for s in self.skipped if s.name == name]
        if skipped:
            raise KeyError(f"history {name!r} was skipped at open: {skipped[0].reason}")
        raise KeyError(f"no history named {name!r}; the histories are {', '.join(self.names)}")

    def is_open(self) -> bool:
        """Whether every database is still open."""
        return all(member.is_open() for member in self._members.values())

    def close(self) -> None:
        """Close every database; closing twice does nothing."""
        for member in self._members.values():
            member.close()

    def __enter__(self) -> Histories:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        """Jobs over every history, a job held by two counted twice."""
        return sum(len(member) for member in self._members.values())

    def __repr__(self) -> str:
        shown = ", ".join(self.names) or "none"
        text = f"<Histories of {len(self._members)}: {shown}"
        if self.is_open():
            text += f"; {len(self)} jobs"
        if self.skipped:
            text += f"; skipped {', '.join(s.name for s in self.skipped)}"
        return text + ">"

    def _repr_html_(self) -> str | None:
        """Jupyter's view: each history's file and job count, and what was skipped."""
        if not self.is_open():
            return None
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td>{html.escape(str(member.path))}</td><td>{len(member)}</td></tr>"
            for name, member in self._members.items()
        )
        skipped = "".join(
            f"<li>{html.escape(s.name)} ({html.escape(str(s.path))}): {html.escape(s.reason)}</li>"
            for s in self.skipped
        )
        return (
            f"<p><b>Fabric histories</b>: {len(self._members)}, {len(self)} jobs</p>"
            "<table><thead><tr><th>history</th><th>file</th><th>jobs</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            + (
                f"<p>Skipped (failed their checks at open):</p><ul>{skipped}</ul>"
                if skipped
                else ""
            )
        )

    # -- frames ----------------------------------------------------------------------

    def jobs(self, *, dedupe: bool = False, **filters: Unpack[JobFilters]) -> pd.DataFrame:
        """The jobs frame of every history, ``history`` first.

        :raises ValueError: unknown status, or a bad ``since`` / ``until``.
        :raises TypeError: an unknown filter name.
        """
        selection = parse_filters(dict(filters), JOB_FILTERS, JOB_STATUSES)
        return self._frame(selection, "jobs", dedupe)

    def outputs(self, *, dedupe: bool = False, **filters: Unpack[OutputFilters]) -> pd.DataFrame:
        """The outputs frame of every history, ``history`` first.

        With ``dedupe=True``, the outputs of the job rows :meth:`jobs` keeps.

        :raises ValueError: unknown clip status, or a bad ``since`` / ``until``.
        :raises TypeError: an unknown filter name.
        """
        selection = parse_filters(dict(filters), OUTPUT_FILTERS, CLIP_STATUSES)
        return self._frame(selection, "outputs", dedupe)

    def job(self, job_id: str) -> IngestedJob | None:
        """Job ``job_id`` as the history that ingested it last holds it; ``None`` if none does.

        On a tie of ``ingested_at``, the history given first wins, as with ``dedupe=True``.
        """
        found = [job for m in self._members.values() if (job := m.job(job_id)) is not None]
        if not found:
            return None
        latest = max(job.ingested_at for job in found)
        return next(job for job in found if job.ingested_at == latest)

    def duplicate_jobs(self) -> pd.DataFrame:
        """Every job held by more than one history: one row per history holding it.

        Columns ``job_id``, ``history``, ``ingested_at``, ``started_at``,
        ``final_status`` and ``kept``: whether ``dedupe=True`` keeps that row.
        Sorted by ``job_id``, then the order the histories were given in.
        """
        every = self.jobs()
        counts = every["job_id"].value_counts()
        repeated = every[every["job_id"].isin(counts.index[counts > 1])]
        kept = _kept_rows(repeated)
        table = repeated.assign(kept=kept)[
            ["job_id", HISTORY_COLUMN, "ingested_at", "started_at", "final_status", "kept"]
        ]
        table = table.sort_values(["job_id", HISTORY_COLUMN], kind="stable", ignore_index=True)
        return table

    def _frame(self, selection: FilterSelection, kind: str, dedupe: bool) -> pd.DataFrame:
        filters = _resolved(selection)
        with warnings.catch_warnings():
            # One warning for a value no history has, not one per history lacking it.
            warnings.simplefilter("ignore", UnknownValueWarning)
            parts = [getattr(member, kind)(**filters) for member in self._members.values()]
        self._warn_unknown(selection)
        frame = self._combined(parts)
        if dedupe:
            frame = self._deduped(frame, kind, filters)
        frame.attrs["filters"] = dict(selection.given)
        frame.attrs["counted"] = _COUNTED_ONCE if dedupe else _COUNTED_PER_HISTORY
        frame.attrs["histories"] = self.names
        return frame

    def _combined(self, parts: list[pd.DataFrame]) -> pd.DataFrame:
        """The members' frames as one, ``history`` first, in Fabric's order then history's."""
        codes = np.repeat(np.arange(len(parts), dtype=np.int32), [len(p) for p in parts])
        frame = pd.concat(parts, ignore_index=True)
        names = pd.Categorical.from_codes(codes, dtype=self._dtype)
        frame.insert(0, HISTORY_COLUMN, pd.Series(names, index=frame.index, copy=False))
        keys = ["started_at", "job_id", HISTORY_COLUMN]
        if "clip_index" in frame.columns:
            keys.append("clip_index")
        frame = frame.sort_values(keys, kind="stable", ignore_index=True)
        frame.attrs = {}
        return frame

    def _deduped(self, frame: pd.DataFrame, kind: str, filters: dict[str, Any]) -> pd.DataFrame:
        """Only the rows of each job's latest ingestion (ties: the history given first)."""
        if kind == "jobs":
            return frame[_kept_rows(frame)].reset_index(drop=True)
        job_filters = {
            k: v for k, v in filters.items() if k in ("fingerprint", "job_id", "since", "until")
        }
        jobs = self.jobs(**job_filters)
        kept = jobs[_kept_rows(jobs)]
        keep = pd.MultiIndex.from_frame(kept[[HISTORY_COLUMN, "job_id"]].astype(object))
        rows = pd.MultiIndex.from_frame(frame[[HISTORY_COLUMN, "job_id"]].astype(object))
        return frame[rows.isin(keep)].reset_index(drop=True)

    def _warn_unknown(self, selection: FilterSelection) -> None:
        """Warn once about each engine or profile value that no history has."""
        if selection.get("job_id") is not None:
            return
        for name in ("profile", "engine"):
            wanted = selection.get(name)
            if wanted is None:
                continue
            column = FILTER_COLUMNS[name]
            known: set[str] = set()
            for member in self._members.values():
                known.update(member.distinct(column))
            warn_unknown(name, wanted, known, where="these histories")

    # -- summaries -------------------------------------------------------------------
    # Each is the single-history summary of the combined frame (``by="history"``
    # groups by history), and says in ``.attrs["counted"]`` how jobs were counted.

    def _over_jobs(
        self,
        make: Callable[..., pd.DataFrame],
        dedupe: bool,
        filters: Mapping[str, Any],
        **options: Any,
    ) -> pd.DataFrame:
        frame = self.jobs(dedupe=dedupe, **filters)
        return _labelled(make(frame, **options), frame)

    def _over_outputs(
        self,
        make: Callable[..., pd.DataFrame],
        dedupe: bool,
        filters: Mapping[str, Any],
        **options: Any,
    ) -> pd.DataFrame:
        frame = self.outputs(dedupe=dedupe, **filters)
        return _labelled(make(frame, **options), frame)

    def status_counts(
        self, by: By = None, *, dedupe: bool = False, **filters: Unpack[JobFilters]
    ) -> pd.DataFrame:
        """Jobs per final status with their share (:func:`fabric_nb.summaries.status_counts`)."""
        return self._over_jobs(summaries.status_counts, dedupe, filters, by=by)

    def failure_reasons(
        self, by: By = None, *, dedupe: bool = False, **filters: Unpack[JobFilters]
    ) -> pd.DataFrame:
        """Recorded failure reasons, one row per reason (:func:`fabric_nb.summaries.failure_reasons`).

        A clip belongs to its job in its own history, even when another
        history holds a job of the same ``job_id``.
        """
        selection = parse_filters(dict(filters), JOB_FILTERS, JOB_STATUSES)
        jobs = self.jobs(dedupe=dedupe, **filters)
        outputs = self.outputs(dedupe=dedupe, **_job_level(selection))
        # Clips of the selected jobs only: outputs filters are the clip's own.
        table = summaries.failure_reasons(jobs, outputs, by=by)
        return _labelled(table, jobs)

    def engine_profile_table(
        self, *, dedupe: bool = False, **filters: Unpack[JobFilters]
    ) -> pd.DataFrame:
        """Job counts by engine, profile and status (:func:`fabric_nb.summaries.engine_profile_table`)."""
        return self._over_jobs(summaries.engine_profile_table, dedupe, filters)

    def daily_counts(
        self,
        freq: str = "D",
        by: By = None,
        *,
        dedupe: bool = False,
        **filters: Unpack[JobFilters],
    ) -> pd.DataFrame:
        """Jobs started per period and status (:func:`fabric_nb.summaries.daily_counts`)."""
        return self._over_jobs(summaries.daily_counts, dedupe, filters, freq=freq, by=by)

    def repeated_failures(
        self, min_jobs: int = 2, *, dedupe: bool = False, **filters: Unpack[OutputFilters]
    ) -> pd.DataFrame:
        """Source files that failed in ``min_jobs`` jobs or more (:func:`fabric_nb.summaries.repeated_failures`).

        Jobs are told apart by ``job_id``: one job held by two histories is one job here.
        """
        return self._over_outputs(summaries.repeated_failures, dedupe, filters, min_jobs=min_jobs)

    def retries(self, *, dedupe: bool = False, **filters: Unpack[OutputFilters]) -> pd.DataFrame:
        """Per source file that failed: did a later run get it (:func:`fabric_nb.summaries.retries`)."""
        return self._over_outputs(summaries.retries, dedupe, filters)

    def slowest_profiles(
        self,
        by: str = "canonical_proxy_profile",
        *,
        dedupe: bool = False,
        **filters: Unpack[JobFilters],
    ) -> pd.DataFrame:
        """Profiles ranked by time per clip (:func:`fabric_nb.summaries.slowest_profiles`)."""
        return self._over_jobs(summaries.slowest_profiles, dedupe, filters, by=by)

    def duration_stats(
        self,
        by: By = None,
        freq: str | None = None,
        q: Sequence[float] = (0.5, 0.95),
        *,
        per_clip: bool = False,
        dedupe: bool = False,
        **filters: Unpack[JobFilters],
    ) -> pd.DataFrame:
        """Quantiles of job duration per group and period (:func:`fabric_nb.summaries.duration_stats`)."""
        return self._over_jobs(
            summaries.duration_stats, dedupe, filters, by=by, freq=freq, q=q, per_clip=per_clip
        )

    def slowest_jobs(
        self,
        top: int = 10,
        *,
        per_clip: bool = False,
        dedupe: bool = False,
        **filters: Unpack[JobFilters],
    ) -> pd.DataFrame:
        """The longest jobs (:func:`fabric_nb.summaries.slowest_jobs`), with their history."""
        frame = self.jobs(dedupe=dedupe, **filters)
        table = summaries.slowest_jobs(frame, top, per_clip=per_clip)
        return _labelled(table, frame)

    def usage_over_time(
        self,
        by: str = "canonical_proxy_profile",
        freq: str = "W-MON",
        *,
        dedupe: bool = False,
        **filters: Unpack[JobFilters],
    ) -> pd.DataFrame:
        """Jobs per period for each profile (or engine) (:func:`fabric_nb.summaries.usage_over_time`)."""
        return self._over_jobs(summaries.usage_over_time, dedupe, filters, by=by, freq=freq)


def _labelled(table: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """``table`` (a summary of ``frame``) saying how jobs were counted, and its filters."""
    table.attrs["counted"] = frame.attrs["counted"]
    table.attrs["histories"] = frame.attrs["histories"]
    table.attrs.setdefault("filters", frame.attrs["filters"])
    return table


def _resolved(selection: FilterSelection) -> dict[str, Any]:
    """The filters as given, with ``since`` / ``until`` as the instants they were read as.

    Every history then selects the same window, even for a span back from now.
    """
    filters = {
        name: value for name, value in selection.given.items() if name not in ("since", "until")
    }
    if selection.since is not None:
        filters["since"] = selection.since
    if selection.until is not None:
        filters["until"] = selection.until
    return filters


def _job_level(selection: FilterSelection) -> dict[str, Any]:
    """The job-level filters that select the same jobs on an outputs frame."""
    filters = _resolved(selection)
    return {
        name: value
        for name, value in filters.items()
        if name in ("fingerprint", "job_id", "since", "until")
    }


def _kept_rows(jobs: pd.DataFrame) -> np.ndarray:
    """Which rows ``dedupe=True`` keeps: per ``job_id``, the latest ``ingested_at``,
    on a tie the history given first."""
    if jobs.empty:
        return np.zeros(0, dtype=bool)
    order = np.lexsort(
        (
            jobs[HISTORY_COLUMN].cat.codes.to_numpy(),
            -jobs["ingested_at"].array.asi8,  # latest first
            jobs["job_id"].to_numpy(dtype=object).astype(str),
        )
    )
    ids = jobs["job_id"].to_numpy(dtype=object)[order]
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    kept = np.zeros(len(ids), dtype=bool)
    kept[order[first]] = True
    return kept


def _open_each(
    named: Mapping[str, Path], open_one: Callable[[Path], FabricHistory]
) -> dict[str, FabricHistory | StorageError]:
    """Each history opened, or the StorageError its checks raised, in the order given.

    The checks at open (``integrity_check`` reads every page) run in one
    thread per core: SQLite releases the GIL while it reads, so ten
    histories open in about the time of one history of their size. Any
    other exception, or an interrupt, closes what did open and propagates.
    """

    def attempt(path: Path) -> FabricHistory | StorageError:
        try:
            return open_one(path)
        except StorageError as exc:
            return exc

    workers = max(1, min(len(named), os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fabric-open")
    futures = {name: pool.submit(attempt, path) for name, path in named.items()}
    try:
        return {name: future.result() for name, future in futures.items()}
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        for future in futures.values():
            if future.done() and not future.cancelled() and future.exception() is None:
                opened = future.result()
                if not isinstance(opened, StorageError):
                    opened.close()
        raise
    finally:
        pool.shutdown(wait=True)


def open_several(
    given: HistoryPaths,
    open_one: Callable[[Path], FabricHistory],
    *,
    on_error: str = "raise",
) -> Histories:
    """Open several histories with ``open_one`` (a read-only ``open_fabric`` of one file).

    What :func:`~fabric_nb.history.open_fabric` does when given a list or a
    mapping; see the module docstring for the names, the order and the rules.

    :raises HistoriesError: nothing found, a database given twice, a bad name,
        or every history skipped.
    :raises StorageError: with ``on_error="raise"``, the first database that
        fails its checks (the message names it); the others are closed.
    :raises ValueError: ``on_error`` is neither ``"raise"`` nor ``"warn"``.
    """
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be 'raise' or 'warn', got {on_error!r}")
    named = resolve_histories(given)
    outcomes = _open_each(named, open_one)
    members: dict[str, FabricHistory] = {}
    skipped: list[SkippedHistory] = []
    try:
        for name, outcome in outcomes.items():
            if not isinstance(outcome, StorageError):
                members[name] = outcome
                continue
            if on_error == "raise":
                raise outcome
            skipped.append(SkippedHistory(name, named[name], str(outcome)))
            warnings.warn(
                f"history {name!r} skipped: {outcome}", HistorySkippedWarning, stacklevel=3
            )
    except BaseException:
        for outcome in outcomes.values():
            if not isinstance(outcome, StorageError):
                outcome.close()
        raise
    if not members:
        raise HistoriesError(
            "every history failed its checks at open: "
            + "; ".join(f"{s.name}: {s.reason}" for s in skipped)
        )
    return Histories(members, skipped)
