"""Figure 15 probe: the peak memory of an operator's incremental run, as cron runs it.

Run as ``python benchmarks/ingest_probe.py STORE FOLDER...``; prints one JSON
object. The probe runs ``fabric-nb ingest --db STORE FOLDER...`` as a child
process, the way a cron job does, and reports the child's peak resident set
size (``ru_maxrss`` of the one child this process waited for), in bytes, and
the number of files the run found.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from typing import Any

__all__ = ["measure"]


def measure(store: str, folders: list[str]) -> dict[str, Any]:
    """Run the incremental ingest of ``folders`` into ``store`` and weigh it."""
    done = subprocess.run(
        [sys.executable, "-m", "fabric_nb", "ingest", "--db", store, *folders],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    found = next(
        int(line.split(":", 1)[1].split()[0].replace(",", ""))
        for line in done.stdout.splitlines()
        if line.startswith("files found:")
    )
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {"peak_rss": peak_kib * 1024, "files": found, "stdout": done.stdout}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2:])))
