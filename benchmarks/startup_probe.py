"""Figures 3 to 6 probe: open a history in a fresh process, as a notebook does, then frame it.

Run as ``python benchmarks/startup_probe.py fabric|raw STORE``; prints one
JSON object.

``fabric`` opens the store and rebuilds the index (the spec's startup), then
builds ``jobs_frame`` and ``outputs_frame`` of every job from it. ``raw`` runs
the baselines in the same order: ``SELECT *`` plus ``json.loads`` of every
outputs column, ``pandas.read_sql_query`` of the jobs, and
``pandas.DataFrame`` of the decoded outputs. Each side keeps what its startup
loaded while it builds its frames (the index; the decoded outputs), as an
analyst's process does.

``startup``, ``jobs_frame`` and ``outputs_frame`` are seconds, each ending with
a full garbage collection (:func:`timing.timed`). ``growth`` is the resident
set the startup added, read once it is done; ``peak_growth`` the high-water
mark of the resident set during it, both above the first reading, in bytes.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd  # imported before the first reading, by both sides
import psutil
import raw
from probing import high_water_mark, timed

from fabric_nb import FabricIndex, FabricQueries, create_persistence
from fabric_nb.frames import jobs_frame, outputs_frame

__all__ = ["measure"]


def measure(side: str, store: str) -> dict[str, Any]:
    """Startup, RSS and both frames of ``store``, by Fabric or by the raw baselines."""
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    started = time.perf_counter()
    loaded: Any
    if side == "fabric":
        persistence = create_persistence(store)
        persistence.open()
        loaded = FabricIndex(persistence)
    else:
        loaded = raw.startup(Path(store))
    gc.collect()
    startup = time.perf_counter() - started
    after = process.memory_info().rss
    peak = high_water_mark()
    if side == "fabric":
        queries = FabricQueries(loaded)
        rows: list[int] = []

        def outputs() -> pd.DataFrame:
            frame = outputs_frame(queries.get_all_jobs())
            rows.append(len(frame))
            return frame

        frames = {
            "jobs_frame": timed(lambda: jobs_frame(queries.get_all_jobs())),
            "outputs_frame": timed(outputs),
        }
        jobs, outputs_count = loaded.count_jobs(), rows[0]
        persistence.close()
    else:
        decoded = raw.decoded_outputs(loaded)
        jobs = len(loaded)
        del loaded
        frames = {
            "jobs_frame": timed(lambda: raw.jobs_frame(Path(store))),
            "outputs_frame": timed(lambda: raw.outputs_frame(decoded)),
        }
        outputs_count = len(decoded)
    return {
        "jobs": jobs,
        "outputs": outputs_count,
        "startup": startup,
        **frames,
        "growth": after - before,
        "peak_growth": max(peak - before, after - before),
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))
