"""What the harness and its fresh-process probes measure alike: one timed run, the peak RSS."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["high_water_mark", "timed"]


def timed(call: Callable[[], Any]) -> float:
    """Seconds one call takes, including one full garbage collection at its end.

    Garbage from before is collected first (untimed). The collection at the
    end is timed, for Fabric and baseline alike, so work the collector
    deferred (a load that pauses it leaves its objects for the next pass) is
    charged to the run that caused it. The result is dropped afterwards.
    """
    gc.collect()
    started = time.perf_counter()
    result = call()
    gc.collect()
    elapsed = time.perf_counter() - started
    del result
    gc.collect()
    return elapsed


def high_water_mark() -> int:
    """Peak resident set size of this process, in bytes (Linux ``VmHWM``).

    ``VmHWM`` in ``/proc/self/status`` starts afresh at ``exec``, unlike
    ``ru_maxrss``, which a child inherits from its parent.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (the probe needs Linux)")
