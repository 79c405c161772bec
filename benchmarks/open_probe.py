"""Figure 16 probe: open histories with ``open_fabric`` in a fresh process, and count their jobs.

Run as ``python benchmarks/open_probe.py STORE [STORE...]``; prints one JSON
object. One store is opened as one history, several as ``open_fabric([...])``
(read-only, each with the spec's checks at open: schema version and
``PRAGMA integrity_check``). ``seconds`` runs from before the open to the
job count.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pandas as pd  # noqa: F401  (imported before the clock starts, by both sides)

from fabric_nb import open_fabric

__all__ = ["measure"]


def measure(stores: list[str]) -> dict[str, Any]:
    """Open ``stores`` (one, or several as one) and count the jobs."""
    started = time.perf_counter()
    with open_fabric(stores[0] if len(stores) == 1 else stores) as opened:
        jobs = len(opened)
    return {"seconds": time.perf_counter() - started, "jobs": jobs}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1:])))
