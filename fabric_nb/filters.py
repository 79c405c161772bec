"""The filter arguments of the frames and summaries, declared once.

:func:`fabric_nb.frames.jobs`, :func:`fabric_nb.frames.outputs`,
:func:`fabric_nb.frames.select_jobs` and the summary methods of an open
history (``fabric.status_counts(...)``) all take the same keyword filters.
They are declared here, once, as the :class:`JobFilters` and
:class:`OutputFilters` ``TypedDict`` s (used with ``Unpack``), and checked
here, once, by :func:`parse_filters`, so a filter behaves the same whichever
function it is given to:

- every value filter takes one value or a list (any iterable) of values,
  and keeps the rows whose column equals one of them;
- ``since`` / ``until`` take an aware ``datetime``, a ``pd.Timestamp`` with a
  time zone, a ``date`` or ISO 8601 text (``"2026-09-10"``,
  ``"2026-09-10T12:00Z"``); text or a date without an offset means UTC. A
  naive ``datetime`` is an error: Fabric does not guess the zone of a clock.
  A span back from now (UTC) is a bound too: text such as ``"7d"``, ``"4w"``,
  ``"12h"``, ``"30min"``, ``"90s"``, a ``timedelta`` / ``pd.Timedelta``, or a
  ``pd.DateOffset`` (``pd.DateOffset(months=3)``), read when the filter is;
- a status outside the known set is a ``ValueError`` listing the valid ones;
  each engine or profile value that no job in the history has selects
  nothing and gives an :class:`UnknownValueWarning` naming it and the values
  that exist, even when other values given do match.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeAlias, TypedDict

from .models import is_aware

if TYPE_CHECKING:
    from pandas import DateOffset

__all__ = [
    "FILTER_COLUMNS",
    "JOB_FILTERS",
    "OUTPUT_FILTERS",
    "Bound",
    "FilterSelection",
    "JobFilters",
    "OneOrMany",
    "OutputFilters",
    "UnknownValueWarning",
    "describe_filters",
    "parse_filters",
    "warn_unknown",
]

#: One value, or several (a list, tuple or set) of them.
OneOrMany: TypeAlias = str | Iterable[str]
#: A time bound: aware datetime or Timestamp, date (UTC midnight), ISO 8601 text,
#: or a span back from now: ``"7d"``-style text, a timedelta, a ``pd.DateOffset``.
Bound: TypeAlias = "datetime | date | str | timedelta | DateOffset"

#: A span back from now written as text: a whole number and a unit.
_SPAN: Final[re.Pattern[str]] = re.compile(r"\s*(\d+)\s*(s|min|h|d|w)\s*", re.ASCII)
_SPAN_UNITS: Final[dict[str, str]] = {
    "s": "seconds",
    "min": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
}
_BOUND_EXAMPLES: Final[str] = (
    "write e.g. '2026-09-10', '2026-09-10T12:00Z', or '7d' for 7 days back"
)


def _utc_now() -> datetime:
    """Now, in UTC: what a span such as ``since="7d"`` is measured back from."""
    return datetime.now(UTC)


#: The clock spans are measured from (a test sets a fixed one).
now: Callable[[], datetime] = _utc_now


class JobFilters(TypedDict, total=False):
    """The filters of :func:`~fabric_nb.frames.jobs`, :func:`~fabric_nb.frames.select_jobs`
    and the summaries of an open history, as keyword arguments.

    ``status`` is ``final_status``; ``engine`` is ``engine_used``; ``profile``
    is ``canonical_proxy_profile``; ``fingerprint`` and ``job_id`` are those
    columns; ``since`` / ``until`` keep jobs that started in ``[since, until)``.
    """

    status: OneOrMany | None
    engine: OneOrMany | None
    profile: OneOrMany | None
    fingerprint: OneOrMany | None
    job_id: OneOrMany | None
    since: Bound | None
    until: Bound | None


class OutputFilters(JobFilters, total=False):
    """The filters of :func:`~fabric_nb.frames.outputs`: :class:`JobFilters` plus two.

    On outputs, ``status``, ``engine`` and ``profile`` are the clip's own
    ``status``, ``engine_used`` and ``proxy_profile_used``; ``fingerprint``,
    ``job_id``, ``since`` and ``until`` are its job's. ``source_path`` and
    ``failure_reason`` are the clip's.
    """

    source_path: OneOrMany | None
    failure_reason: OneOrMany | None


#: The names of :class:`JobFilters`, in their documented order.
JOB_FILTERS: Final[tuple[str, ...]] = tuple(JobFilters.__annotations__)
#: The names of :class:`OutputFilters`: :data:`JOB_FILTERS` then the clip-only ones.
OUTPUT_FILTERS: Final[tuple[str, ...]] = (*JOB_FILTERS, "source_path", "failure_reason")
#: Each value filter of a jobs selection and the ``jobs`` column it compares.
FILTER_COLUMNS: Final[dict[str, str]] = {
    "status": "final_status",
    "engine": "engine_used",
    "profile": "canonical_proxy_profile",
    "fingerprint": "fingerprint",
    "job_id": "job_id",
}
_VALUE_FILTERS: Final = tuple(n for n in OUTPUT_FILTERS if n not in ("since", "until"))


class UnknownValueWarning(UserWarning):
    """An ``engine`` or ``profile`` filter names a value no job in the history has.

    That value selects nothing, as asked; the warning names it and the values
    that exist, so a typo (``engine="Resolve"``, or ``engine=["ffmpeg",
    "Resolve"]``) does not pass for a quiet history.
    """


@dataclass(frozen=True, slots=True)
class FilterSelection:
    """Checked filters: each value filter as a set (``None``: not filtered), bounds in UTC.

    Made by :func:`parse_filters`; ``given`` keeps the filters as they were
    passed (without the ``None`` ones), for describing a selection.
    """

    values: dict[str, frozenset[str]]
    since: datetime | None
    until: datetime | None
    given: dict[str, object]

    def get(self, name: str) -> frozenset[str] | None:
        """The set of values of filter ``name``, ``None`` when it is not filtered."""
        return self.values.get(name)

    def keeps(self, name: str, value: str | None) -> bool:
        """Whether a row whose column of filter ``name`` holds ``value`` is kept."""
        wanted = self.values.get(name)
        return wanted is None or value in wanted

    def in_window(self, started: datetime) -> bool:
        """Whether a job that started at ``started`` is inside ``[since, until)``."""
        return (self.since is None or started >= self.since) and (
            self.until is None or started < self.until
        )

    @property
    def empty(self) -> bool:
        """Whether no filter was given at all."""
        return not self.values and self.since is None and self.until is None


def _bound(name: str, value: Bound) -> datetime:
    """A query bound as an aware datetime; text and dates without an offset are UTC."""
    given = value
    if isinstance(value, str):
        text = value
        span = _SPAN.fullmatch(text)
        if span is not None:
            unit = _SPAN_UNITS[span.group(2)]
            return now() - timedelta(**{unit: int(span.group(1))})
        try:
            value = datetime.fromisoformat(text.strip())
        except ValueError as exc:
            if re.match(r"\s*\d{4}-\d", text):  # a date with a part out of range: say which
                raise ValueError(f"{name}={given!r} is not a valid date: {exc}") from None
            raise ValueError(
                f"{name}={given!r} is neither an ISO 8601 date or date-time nor a span "
                f"back from now ({_BOUND_EXAMPLES})"
            ) from None
        return value if is_aware(value) else value.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        if not is_aware(value):
            raise ValueError(
                f"{name}={value.isoformat()!r} is a naive datetime; Fabric does not guess "
                "the time zone of a clock (give tzinfo, e.g. datetime(..., tzinfo=UTC), "
                "or ISO text such as '2026-09-10T12:00Z')"
            )
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, timedelta):  # pd.Timedelta is one too
        if value < timedelta(0):
            raise ValueError(f"{name}={value!r} is a span into the future; give how far back")
        return now() - value
    if type(value).__module__.startswith("pandas") and "Offset" in type(value).__name__:
        moved: datetime = now() - value  # pd.DateOffset(months=3): months back, a Timestamp
        return datetime.fromisoformat(moved.isoformat(timespec="microseconds"))
    raise TypeError(
        f"{name} must be a datetime, a date, ISO 8601 text or a span back from now "
        f"(a timedelta, a pd.DateOffset, text such as '7d'), got {type(value).__name__}"
    )


def _values(name: str, value: OneOrMany) -> frozenset[str]:
    """One value or several, as a set; an iterable of something else is a TypeError."""
    if isinstance(value, str):
        items: tuple[object, ...] = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        items = tuple(value)
    else:
        raise TypeError(f"{name} takes text or a list of text, got {type(value).__name__}")
    texts = [item for item in items if isinstance(item, str)]
    if len(texts) != len(items):
        odd = next(item for item in items if not isinstance(item, str))
        raise TypeError(f"{name} takes text or a list of text, got {type(odd).__name__}")
    if not texts:
        raise ValueError(f"{name}=[] selects nothing; pass None to leave {name} unfiltered")
    return frozenset(texts)


def parse_filters(
    filters: dict[str, object], allowed: Sequence[str], statuses: Sequence[str]
) -> FilterSelection:
    """Check keyword filters once, for every function that takes them.

    ``allowed`` is :data:`JOB_FILTERS` or :data:`OUTPUT_FILTERS`; ``statuses``
    the valid values of ``status`` (job or clip statuses). ``None`` means
    "not filtered".

    :raises TypeError: an unknown filter name, or a value of the wrong type.
    :raises ValueError: an unknown status, an empty list, a naive datetime,
        text that is not ISO 8601, or ``since`` later than ``until``.
    """
    unknown = [name for name in filters if name not in allowed]
    if unknown:
        raise TypeError(f"unknown filter {unknown[0]!r}: the filters are {', '.join(allowed)}")
    given = {name: value for name, value in filters.items() if value is not None}
    values = {
        name: _values(name, given[name])  # type: ignore[arg-type]
        for name in _VALUE_FILTERS
        if name in given
    }
    # A generator given as a filter is read once: describe the set it gave.
    given.update({name: sorted(found) for name, found in values.items()})
    wanted = values.get("status")
    if wanted is not None:
        bad = sorted(wanted.difference(statuses))
        if bad:
            raise ValueError(f"unknown status {bad[0]!r}: expected one of {', '.join(statuses)}")
    since = None if "since" not in given else _bound("since", given["since"])  # type: ignore[arg-type]
    until = None if "until" not in given else _bound("until", given["until"])  # type: ignore[arg-type]
    if since is not None and until is not None and since > until:
        raise ValueError(
            f"since={since.isoformat()} is later than until={until.isoformat()}: "
            "the window [since, until) would be empty"
        )
    return FilterSelection(values, since, until, given)


def warn_unknown(
    name: str,
    wanted: frozenset[str],
    known: Iterable[str | None],
    *,
    where: str = "this history",
) -> None:
    """Warn (:class:`UnknownValueWarning`) naming each of ``wanted`` not among ``known``.

    It warns whether or not the other wanted values exist, so
    ``engine=["ffmpeg", "Resolve"]`` does not drop the typo silently; the
    message names the values that do exist.
    """
    existing = sorted({value for value in known if value is not None})
    missing = sorted(wanted.difference(existing))
    if not missing:
        return
    shown = ", ".join(repr(v) for v in missing)
    exist = ", ".join(repr(v) for v in existing) or "none recorded"
    outcome = "the result is empty" if len(missing) == len(wanted) else "they select nothing"
    warnings.warn(
        f"no job in {where} has {name} {shown}; {outcome} ({name} values that exist: {exist})",
        UnknownValueWarning,
        stacklevel=_outside_the_package(),
    )


def _outside_the_package() -> int:
    """The ``stacklevel`` of the first caller outside ``fabric_nb``, so a warning names it."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("fabric_nb"):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def describe_filters(given: dict[str, object]) -> str:
    """A short text of the filters a frame was selected with, for chart titles.

    ``{"status": ["FAILED", "PARTIAL"], "engine": "resolve"}`` gives
    ``"status FAILED, PARTIAL; engine resolve"``; no filters give ``""``.
    """
    parts = []
    for name, value in given.items():
        if value is None:
            continue
        if isinstance(value, datetime | date | str) and name in ("since", "until"):
            shown = value.isoformat() if isinstance(value, datetime | date) else value
        elif isinstance(value, str):
            shown = value
        else:
            shown = ", ".join(sorted(str(v) for v in value))  # type: ignore[attr-defined]
        parts.append(f"{name} {shown}")
    return "; ".join(parts)
