"""The figures of the benchmark, their targets, and the verdict on each.

Shared by ``run.py`` (which measures) and ``report.py`` (which writes the docs).
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "FIGURES",
    "FIGURE_BY_KEY",
    "GROWTH_SLACK",
    "INCREMENTAL_MEMORY_FIXED",
    "INCREMENTAL_MEMORY_PER_FILE",
    "Figure",
    "Measurement",
    "PerJobCommit",
    "Verdict",
    "short",
    "show",
    "verdicts",
]


def short(n: int) -> str:
    """10000 -> '10k', 1000000 -> '1M'."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


@dataclass(frozen=True, slots=True)
class Figure:
    """One benchmarked figure: what Fabric does, what its baseline is, and the limit."""

    key: str
    number: int
    title: str
    baseline: str
    target: float
    unit: str = "s"


FIGURES: Final[tuple[Figure, ...]] = (
    Figure("ingest", 1, "bulk ingest (ingest_paths)", "json.load + one executemany", 1.5),
    Figure("add_job", 2, "one durable add_job", "INSERT OR REPLACE + commit", 1.2, "ms"),
    Figure("startup", 3, "startup: open + load + rebuild", "SELECT * + json.loads", 1.3),
    Figure("jobs_frame", 4, "jobs_frame of all jobs", "pandas.read_sql_query", 1.5),
    Figure("outputs_frame", 5, "outputs_frame of all outputs", "pandas.DataFrame(dicts)", 1.5),
    Figure("memory", 6, "RSS growth of an opened index", "database file size", 1.0, "MB"),
    Figure(
        "incremental",
        8,
        "incremental re-run + 100 new files",
        "integrity_check + stat of every file",
        3.0,
    ),
    Figure(
        "export",
        9,
        "export --format parquet (fresh process)",
        "SELECT of a month + pyarrow write, month by month",
        1.5,
    ),
    Figure(
        "export_memory",
        10,
        "peak RSS growth of the export",
        "database file size",
        0.5,
        "MB",
    ),
    Figure(
        "read_filtered",
        11,
        "open_fabric + jobs(FAILED, resolve) (fresh process)",
        "PRAGMA integrity_check of the file",
        1.5,
    ),
    Figure(
        "read_counts",
        12,
        "open_fabric + status_counts(by=engine) (fresh process)",
        "PRAGMA integrity_check of the file",
        1.5,
    ),
    Figure("read_filtered_memory", 13, "peak RSS growth of #11", "database file size", 0.25, "MB"),
    Figure("read_counts_memory", 14, "peak RSS growth of #12", "database file size", 0.25, "MB"),
    Figure(
        "incremental_memory",
        15,
        "peak RSS of a cron run: fabric-nb ingest, 100 new files (fresh process)",
        "120 MB + 300 B per known file",
        1.0,
        "MB",
    ),
)
FIGURES += (
    Figure(
        "histories",
        16,
        "open_fabric of 10 histories of N/10 jobs (fresh process)",
        "open_fabric of one history of N jobs",
        1.2,
    ),
)
#: Figure 15's budget: a fixed part and a part per file the run knows.
INCREMENTAL_MEMORY_FIXED: Final[int] = 120_000_000
INCREMENTAL_MEMORY_PER_FILE: Final[int] = 300
FIGURE_BY_KEY: Final[dict[str, Figure]] = {f.key: f for f in FIGURES}
#: Growth limit between two sizes: 10 % above linear (the size ratio), or above the
#: baseline's own growth in the same run when that is steeper.
GROWTH_SLACK: Final[float] = 1.1


@dataclass(slots=True)
class Measurement:
    """Fabric's and the baseline's samples of one figure at one size (seconds or bytes)."""

    key: str
    n: int
    fabric: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def fabric_median(self) -> float:
        """Median of Fabric's samples."""
        return statistics.median(self.fabric)

    @property
    def raw_median(self) -> float:
        """Median of the baseline's samples."""
        return statistics.median(self.raw)

    @property
    def ratio(self) -> float:
        """Fabric's median over the baseline's median."""
        return self.fabric_median / self.raw_median


@dataclass(slots=True)
class PerJobCommit:
    """The per-job-commit design (one transaction per file), measured on a subset."""

    files: int
    per_job_seconds: float
    batched_seconds: float

    @property
    def per_file(self) -> float:
        """Seconds per file when every file is its own transaction."""
        return self.per_job_seconds / self.files

    @property
    def speedup(self) -> float:
        """How much faster batched ingest was on the same subset."""
        return self.per_job_seconds / self.batched_seconds


@dataclass(frozen=True, slots=True)
class Verdict:
    """One printed line: a ratio and its limit."""

    label: str
    detail: str
    ratio: float
    target: float

    @property
    def ok(self) -> bool:
        """Whether the ratio is within the target."""
        return self.ratio <= self.target

    def line(self) -> str:
        """The line the script prints."""
        state = "ok" if self.ok else "MISSED"
        return (
            f"{self.label:<44} {self.detail:<38} ratio {self.ratio:6.2f}x  "
            f"target <= {self.target:.2f}x  {state}"
        )


def show(value: float, unit: str) -> str:
    """A sample in the figure's unit."""
    if unit == "ms":
        return f"{value * 1e3:8.2f} ms"
    if unit == "MB":
        return f"{value / 1e6:8.1f} MB"
    return f"{value:8.3f} s "


def verdicts(results: dict[int, dict[str, Measurement]]) -> list[Verdict]:
    """Every figure's line, then the growth lines between consecutive sizes."""
    lines = []
    for n, by_key in results.items():
        for key, m in by_key.items():
            figure = FIGURE_BY_KEY[key]
            label = f"#{figure.number} {figure.title}  N={short(n)}"
            detail = (
                f"fabric {show(m.fabric_median, figure.unit)} raw {show(m.raw_median, figure.unit)}"
            )
            lines.append(Verdict(label, detail, m.ratio, figure.target))
    sizes = sorted(results)
    pairs = list(itertools.pairwise(sizes))
    if len(sizes) > 2:
        pairs.append((sizes[0], sizes[-1]))  # the whole range too: 100k -> 1M
    for small, large in pairs:
        linear = large / small
        for figure in FIGURES:
            if figure.unit == "MB":
                continue  # a memory figure is already a ratio to the file, which grows
            if figure.key not in results[small] or figure.key not in results[large]:
                continue  # not measured at both sizes in this run
            a, b = results[small][figure.key], results[large][figure.key]
            # Linear, or the baseline's own growth measured in the same minutes
            # when that is steeper (the integrity check, SQLite's page cache at
            # 2 GB): Fabric's work must not grow faster than the least work.
            baseline = b.raw_median / a.raw_median
            limit = GROWTH_SLACK * max(linear, baseline)
            label = f"#7 growth of #{figure.number} {short(small)} -> {short(large)}"
            detail = (
                f"{show(a.fabric_median, figure.unit).strip()} -> "
                f"{show(b.fabric_median, figure.unit).strip()} (baseline {baseline:.1f}x)"
            )
            lines.append(Verdict(label, detail, b.fabric_median / a.fabric_median, limit))
    return lines
