"""Figure 6 probe: the RSS an opened index of a store adds to a fresh process.

Run as ``python benchmarks/memory_probe.py STORE``; prints one JSON object.
The process imports what it needs, collects garbage and reads its resident set
size, then opens the store and rebuilds the index (the spec's startup), and
reads the resident set size again with the index still open. ``growth`` is
the difference; ``peak_growth`` is the high-water mark of the process's
resident set (``VmHWM`` in ``/proc/self/status``, which starts afresh at
``exec``, unlike ``ru_maxrss``, which a child inherits from its parent) above
the first reading, so a load that briefly holds twice the data shows there
even when the memory was given back.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import Any

import psutil

from fabric_nb import FabricIndex, create_persistence

__all__ = ["measure"]


def measure(store: str) -> dict[str, Any]:
    """Open ``store`` read-only, rebuild its index and report the RSS it added, in bytes."""
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    persistence = create_persistence(store, readonly=True)
    persistence.open()
    index = FabricIndex(persistence)
    gc.collect()
    after = process.memory_info().rss
    peak = _high_water_mark()
    jobs = index.count_jobs()
    persistence.close()
    return {
        "jobs": jobs,
        "rss_before": before,
        "rss_after": after,
        "growth": after - before,
        "peak_growth": max(peak - before, after - before),
    }


def _high_water_mark() -> int:
    """Peak resident set size of this process, in bytes (Linux ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (the probe needs Linux)")


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1])))
