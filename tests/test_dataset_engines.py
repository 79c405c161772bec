"""The Parquet dataset of several histories, read by the engines that go past one machine.

``fabric-nb export --db A --db B ...`` writes one dataset partitioned by
history and month (``fabric_nb.export.export_histories``). Here the real
engines read it, DuckDB embedded and Dask on a ``dask.distributed``
``LocalCluster`` of two worker processes (the same code runs on a cluster by
changing the scheduler's address), and compute three everyday questions:
status counts by history and engine, the daily failure share, and the median
and 95th percentile of job duration per engine. Each answer equals
fabric_nb's own on the same histories, value for value.

Under ``CI=true`` a missing engine is a failure, not a skip: the test
environment installs the ``fleet`` extra.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest
from support import sample_jobs

from fabric_nb import open_fabric
from fabric_nb.export import export_histories
from fabric_nb.histories import Histories

pytestmark = pytest.mark.slow

NAMES = ("bay-1", "bay-2", "bay-3")
QUANTILES = (0.5, 0.95)


def engine(name: str) -> Any:
    """Import an engine; missing, it skips locally and fails under CI=true."""
    try:
        return __import__(name)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"SKIPPED, NOT RUN: {name} is not installed (pip install '.[fleet]')")


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from support import build_store

    folder = tmp_path_factory.mktemp("machines")
    return {
        name: build_store(folder / f"{name}.db", sample_jobs(150, seed=90 + i))
        for i, name in enumerate(NAMES)
    }


@pytest.fixture(scope="module")
def dataset(histories: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "dataset"
    export_histories(histories, out)
    return out


@pytest.fixture(scope="module")
def fleet(histories: dict[str, Path]) -> Iterator[Histories]:
    with open_fabric(histories) as opened:
        yield opened


# -- fabric_nb's own answers ------------------------------------------------------------


def fabric_status_counts(fleet: Histories) -> dict[tuple[Any, ...], int]:
    table = fleet.status_counts(by=["history", "engine_used"])
    counts: dict[tuple[Any, ...], int] = {}
    for key, count in table["count"].items():
        history, engine_used, status = cast(tuple[Any, Any, Any], key)
        if count:
            counts[str(history), engine_used, str(status)] = int(count)
    return counts


def fabric_daily_failure_share(fleet: Histories) -> dict[pd.Timestamp, float]:
    table = fleet.daily_counts(freq="D")
    total = table[["COMPLETED", "FAILED", "PARTIAL"]].sum(axis=1)
    return {
        pd.Timestamp(day).tz_convert("UTC"): float(share)
        for day, share, jobs in zip(table.index, table["FAILED_share"], total, strict=True)
        if jobs
    }


def fabric_durations(fleet: Histories) -> dict[Any, tuple[float, float]]:
    table = fleet.duration_stats(by="engine_used", q=QUANTILES)
    return {
        engine_used: (float(row["p50_seconds"]), float(row["p95_seconds"]))
        for engine_used, row in table.iterrows()
    }


def same_numbers(got: dict[Any, Any], expected: dict[Any, Any]) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        pair = zip(
            got[key] if isinstance(value, tuple) else (got[key],),
            value if isinstance(value, tuple) else (value,),
            strict=True,
        )
        for a, b in pair:
            assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), (key, a, b)


# -- DuckDB ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def duck(dataset: Path) -> Iterator[Any]:
    duckdb = engine("duckdb")
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    pattern = str(dataset / "jobs" / "**" / "*.parquet")
    connection.read_parquet(pattern, hive_partitioning=True).create_view("jobs")
    yield connection
    connection.close()


def test_duckdb_status_counts_by_history_and_engine(duck: Any, fleet: Histories) -> None:
    rows = duck.execute(
        "SELECT history, engine_used, final_status, count(*) FROM jobs GROUP BY ALL"
    ).fetchall()
    assert {(h, e, s): n for h, e, s, n in rows} == fabric_status_counts(fleet)


def test_duckdb_daily_failure_share(duck: Any, fleet: Histories) -> None:
    rows = duck.execute(
        "SELECT date_trunc('day', started_at) AS day, "
        "count(*) FILTER (WHERE final_status = 'FAILED') / count(*) FROM jobs GROUP BY day"
    ).fetchall()
    got = {pd.Timestamp(day).tz_convert("UTC"): share for day, share in rows}
    same_numbers(got, fabric_daily_failure_share(fleet))


def test_duckdb_duration_quantiles_per_engine(duck: Any, fleet: Histories) -> None:
    rows = duck.execute(
        "SELECT engine_used, quantile_cont(duration_seconds, 0.5), "
        "quantile_cont(duration_seconds, 0.95) FROM jobs "
        "WHERE duration_seconds IS NOT NULL GROUP BY engine_used"
    ).fetchall()
    same_numbers({e: (p50, p95) for e, p50, p95 in rows}, fabric_durations(fleet))


# -- Dask on a LocalCluster -----------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_jobs(dataset: Path) -> Iterator[Any]:
    engine("dask")
    engine("distributed")
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        yield dd.read_parquet(str(dataset / "jobs"), dataset={"partitioning": "hive"})


def test_dask_status_counts_by_history_and_engine(dask_jobs: Any, fleet: Histories) -> None:
    frame = dask_jobs[["history", "engine_used", "final_status", "job_id"]]
    frame = frame.assign(
        history=frame["history"].astype(str),
        final_status=frame["final_status"].astype(str),
        engine_used=frame["engine_used"].astype(object),
    )
    counts = frame.groupby(["history", "engine_used", "final_status"], dropna=False).size()
    got = {(h, None if pd.isna(e) else e, s): int(n) for (h, e, s), n in counts.compute().items()}
    assert got == fabric_status_counts(fleet)


def test_dask_daily_failure_share(dask_jobs: Any, fleet: Histories) -> None:
    frame = dask_jobs[["started_at", "final_status"]]
    frame = frame.assign(
        day=frame["started_at"].dt.floor("D"),
        failed=(frame["final_status"].astype(str) == "FAILED").astype("int64"),
    )
    shares = frame.groupby("day")["failed"].mean().compute()
    got = {pd.Timestamp(day).tz_convert("UTC"): float(v) for day, v in shares.items()}
    same_numbers(got, fabric_daily_failure_share(fleet))


def _quantiles(group: pd.DataFrame) -> pd.Series:
    values = group["duration_seconds"].dropna().astype("float64")
    return pd.Series({"p50": values.quantile(0.5), "p95": values.quantile(0.95)})


def test_dask_duration_quantiles_per_engine(dask_jobs: Any, fleet: Histories) -> None:
    frame = dask_jobs[["engine_used", "duration_seconds"]]
    frame = frame[frame["duration_seconds"].notnull()]
    frame = frame.assign(engine_used=frame["engine_used"].astype(object))
    table = (
        frame.groupby("engine_used", dropna=False)
        .apply(_quantiles, meta={"p50": "f8", "p95": "f8"})
        .compute()
    )
    got = {
        None if pd.isna(e) else e: (float(row["p50"]), float(row["p95"]))
        for e, row in table.iterrows()
    }
    same_numbers(got, fabric_durations(fleet))
