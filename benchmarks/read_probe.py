"""Figures 11 to 14 probe: an analyst's first question, in a fresh process, timed and weighed.

Run as ``python benchmarks/read_probe.py fabric|floor STORE filtered|counts``;
prints one JSON object. ``fabric`` opens the store with ``open_fabric`` (the
spec's checks at open) and asks one question: ``filtered`` is
``fabric.jobs(status="FAILED", engine="resolve")``, ``counts`` is
``fabric.status_counts(by="engine_used")``. ``floor`` is what every open must
do anyway: ``PRAGMA integrity_check`` of the same file through a plain
read-only connection. ``seconds`` is the time from before the open to the
answer; ``peak_growth`` the high-water mark of the resident set above its
size once the imports were done, in bytes (as the other probes measure it).
"""

from __future__ import annotations

import gc
import json
import sqlite3
import sys
import time
from typing import Any
from urllib.parse import quote

import pandas as pd  # noqa: F401  (imported before the first reading, by both sides)
import psutil
from probing import high_water_mark

from fabric_nb import open_fabric

__all__ = ["QUESTIONS", "measure"]

QUESTIONS = ("filtered", "counts")


def _floor(store: str) -> int:
    conn = sqlite3.connect(f"file:{quote(store)}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise RuntimeError(f"{store} fails integrity_check")
        return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])
    finally:
        conn.close()


def _ask(store: str, question: str) -> int:
    with open_fabric(store) as fabric:
        if question == "filtered":
            return len(fabric.jobs(status="FAILED", engine="resolve"))
        return int(fabric.status_counts(by="engine_used")["count"].sum())


def measure(side: str, store: str, question: str) -> dict[str, Any]:
    """Answer ``question`` on ``store`` with Fabric, or run the floor."""
    gc.collect()
    before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    rows = _ask(store, question) if side == "fabric" else _floor(store)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_growth": high_water_mark() - before, "rows": rows}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2], sys.argv[3])))
