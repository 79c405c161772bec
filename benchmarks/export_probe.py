"""Figures 9 and 10 probe: one export of a store, in a fresh process, timed and weighed.

Run as ``python benchmarks/export_probe.py fabric|raw STORE OUTDIR``; prints one
JSON object: ``seconds`` the export took and ``peak_growth``, the high-water
mark of the process's resident set (``VmHWM``, which starts afresh at
``exec``) above its size once the imports were done, in bytes.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet  # noqa: F401  (imported before the first reading, by both sides)
import raw
from probing import high_water_mark

from fabric_nb.export import export_history

__all__ = ["measure"]


def measure(side: str, store: str, outdir: str) -> dict[str, Any]:
    """Export ``store`` into ``outdir`` with Fabric or the raw baseline."""
    gc.collect()
    before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    if side == "fabric":
        result = export_history(store, outdir)
        counts = (result.jobs, result.outputs)
    else:
        counts = raw.export_by_month(Path(store), Path(outdir))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_growth": high_water_mark() - before,
        "jobs": counts[0],
        "outputs": counts[1],
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2], sys.argv[3])))
