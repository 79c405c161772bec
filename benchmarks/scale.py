"""The figures of docs/scale.md: one question in pandas, DuckDB and Dask, and the nightly export.

Run as ``python benchmarks/scale.py STORE [STORE_100K]`` after ``make bench-1m``
(which builds ``benchmarks/results/stores-built/export-1000000.db``); prints a
Markdown table. Each measurement runs in a fresh process; times are wall
clock from before the first import of the engine's own package to the
answer, peak RSS is the process's (Dask's workers are separate processes,
shown apart).

The question is the one an analyst asks first of a facility: how did jobs
end, per engine (counts by ``engine_used`` and ``final_status``). Each
engine's answer is checked equal to fabric_nb's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SQL = """
import json, resource, sys, time
t0 = time.perf_counter()
from fabric_nb import open_fabric
with open_fabric(sys.argv[1]) as fabric:
    table = fabric.status_counts(by="engine_used")["count"]
    answer = {f"{e}|{s}": int(n) for (e, s), n in table.items() if n}
print(json.dumps({"seconds": time.perf_counter() - t0, "answer": answer,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PANDAS = """
import json, resource, sys, time
t0 = time.perf_counter()
import pandas as pd
from fabric_nb import open_fabric
with open_fabric(sys.argv[1]) as fabric:
    jobs = fabric.jobs()
    table = jobs.groupby(["engine_used", "final_status"], dropna=False, observed=True).size()
    answer = {f"{'<NA>' if pd.isna(e) else e}|{s}": int(n) for (e, s), n in table.items() if n}
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    jobs_mb = jobs.memory_usage(deep=True).sum() / 1e6
    outputs_mb = fabric.outputs().memory_usage(deep=True).sum() / 1e6
print(json.dumps({"seconds": seconds, "answer": answer, "rss_mb": rss, "jobs_mb": jobs_mb,
    "outputs_mb": outputs_mb}))
"""

EXPORT = """
import json, sys, time
from fabric_nb.export import export_history
t0 = time.perf_counter()
export_history(sys.argv[1], sys.argv[2], update=True)
first = time.perf_counter() - t0
t0 = time.perf_counter()
again = export_history(sys.argv[1], sys.argv[2], update=True)
print(json.dumps({"first": first, "again": time.perf_counter() - t0,
    "changed": len(again.changed or ())}))
"""

DUCKDB = """
import json, resource, sys, time
t0 = time.perf_counter()
import duckdb
con = duckdb.connect()
rows = con.execute(
    "SELECT engine_used, final_status, count(*) FROM read_parquet(?, hive_partitioning = true) "
    "GROUP BY ALL", [sys.argv[1] + "/jobs/**/*.parquet"]).fetchall()
answer = {f"{e if e is not None else '<NA>'}|{s}": n for e, s, n in rows}
print(json.dumps({"seconds": time.perf_counter() - t0, "answer": answer,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

DASK = """
import json, logging, resource, sys, time
t0 = time.perf_counter()
import dask.dataframe as dd
from distributed import Client, LocalCluster
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                  silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
    started = time.perf_counter()
    jobs = dd.read_parquet(sys.argv[1] + "/jobs", dataset={"partitioning": "hive"},
                           columns=["engine_used", "final_status"])
    jobs = jobs.assign(engine_used=jobs["engine_used"].astype(object),
                       final_status=jobs["final_status"].astype(str))
    counts = jobs.groupby(["engine_used", "final_status"], dropna=False).size().compute()
    done = time.perf_counter()
    workers = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
answer = {f"{'<NA>' if e is None or e != e else e}|{s}": int(n) for (e, s), n in counts.items()}
print(json.dumps({"seconds": done - t0, "cluster_seconds": started - t0, "answer": answer,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "worker_rss_mb": max(workers.values())}))
"""


def run(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(store: Path, small: Path | None) -> None:
    """Measure and print; every engine runs in a child started from this small process."""
    work = Path(tempfile.mkdtemp(prefix="fabric-scale-"))
    try:
        export = run(EXPORT, str(store), str(work / "dataset"))
        size = sum(p.stat().st_size for p in (work / "dataset").rglob("*.parquet")) / 1e6
        rows = {}
        for name, code, target in (
            ("fabric_nb: open_fabric + status_counts (SQL)", SQL, store),
            ("pandas: open_fabric + jobs() + groupby", PANDAS, store),
            ("DuckDB on the dataset", DUCKDB, work / "dataset"),
            ("Dask, LocalCluster of 2 workers, on the dataset", DASK, work / "dataset"),
        ):
            run(code, str(target))  # warm the page cache, untimed
            rows[name] = run(code, str(target))
        answers = [row["answer"] for row in rows.values()]
        assert all(a == answers[0] for a in answers), "the engines disagree"

        jobs = sum(answers[0].values())
        print(f"jobs: {jobs:,} (store {store.stat().st_size / 1e9:.2f} GB; dataset {size:.0f} MB)")
        print("| how | time to the answer | peak memory |")
        print("| --- | ---: | ---: |")
        for name, row in rows.items():
            extra = ""
            if "worker_rss_mb" in row:
                extra = (
                    f" (+ 2 workers of {row['worker_rss_mb']:.0f} MB; "
                    f"cluster start {row['cluster_seconds']:.1f} s)"
                )
            print(f"| {name} | {row['seconds']:.1f} s | {row['rss_mb']:.0f} MB{extra} |")
        frames = rows["pandas: open_fabric + jobs() + groupby"]
        print(
            f"frames at {jobs:,} jobs: jobs {frames['jobs_mb']:.0f} MB, "
            f"outputs {frames['outputs_mb']:.0f} MB"
        )
        print(
            f"export --update, first run {export['first']:.1f} s; "
            f"again with nothing changed {export['again']:.1f} s ({export['changed']} changed)"
        )
        if small is not None:
            small_row = run(PANDAS, str(small))
            print(
                f"frames at 100k: jobs {small_row['jobs_mb']:.0f} MB, "
                f"outputs {small_row['outputs_mb']:.0f} MB, peak RSS {small_row['rss_mb']:.0f} MB"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
