"""fabric_nb benchmarks: every figure of issue 6 against its raw baseline, same run, same data.

``make bench`` runs ``python benchmarks/run.py``: synthetic histories of
N = 10k and 100k result files (4 clips per job, from :mod:`fabric_nb.samples`),
and for each size

1. bulk ingest (``ingest_paths``)            vs ``json.load`` + one ``executemany``
2. one durable ``add_job`` on a store of N    vs one ``INSERT OR REPLACE`` + ``commit``
3. startup: open + load + index rebuild       vs ``SELECT *`` + ``json.loads`` of outputs
4. ``jobs_frame`` of all jobs                 vs ``pandas.read_sql_query``
5. ``outputs_frame`` of all outputs           vs ``pandas.DataFrame`` of the decoded dicts
6. RSS growth of an opened index              vs the size of the database file
7. growth of 1-5 from one size to the next    vs linear
8. incremental re-run of the ingested folder  vs its floor: ``PRAGMA integrity_check``
   plus 100 new files (``ingest_paths``)           of the store + one ``stat`` of every file
9-10. export of a 300k-job store (time, peak RSS) vs a raw month-by-month export, file size
11-14. ``open_fabric`` + a filtered jobs frame,  vs ``PRAGMA integrity_check`` of the file
   and + ``status_counts(by="engine_used")``       (time), and the file's size (peak RSS);
   fresh process each, at 100k jobs and more

Fabric and its baseline alternate run by run (which goes first alternates too)
and each figure is the median of ``--repeats`` runs, reported as a ratio. One
line per figure: the figure, the ratio, the target. The exit status is 1 when a
target is missed, so the script can gate a release. The per-job-commit design
(one transaction per result file) is measured on a subset and reported for
information. Results go to ``docs/performance.md`` and
``docs/performance_growth.png`` unless ``--no-write-docs``.

``make bench-1m`` runs ``--built-stores --sizes 100k,1M``: the stores are built
directly (generated results through the project's own codec, the rows ingest
would store) instead of ingesting result files, so a million-job history is
measured without writing 6.5 GB of files first. Figures 1 and 8 and the
per-job-commit design need the files and are left out; 9 and 10 are measured
at every size from 300k (the size their target names). The results go to their own section of ``performance.md``.

Generated files (result files, stores, ``results.json``, profiles) live in
``benchmarks/results/``, which ``make clean`` removes; result files are reused
between runs while the generator's source is unchanged.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import raw
import report
from figures import (
    FIGURES,
    INCREMENTAL_MEMORY_FIXED,
    INCREMENTAL_MEMORY_PER_FILE,
    Measurement,
    PerJobCommit,
    short,
    verdicts,
)
from generating import generated_batches
from probing import timed

import fabric_nb.samples as samples
from fabric_nb import FabricIndex, FabricQueries, create_persistence
from fabric_nb._ingest_cache import cache_path_for
from fabric_nb.bulk import ingest_files, ingest_paths
from fabric_nb.frames import jobs_frame, outputs_frame
from fabric_nb.ingestion import parse_execution_result

__all__ = ["BaselineMismatch", "build_parser", "main"]

BENCH_DIR: Final[Path] = Path(__file__).resolve().parent
REPO_ROOT: Final[Path] = BENCH_DIR.parent
CLIPS_PER_JOB: Final[int] = 4
SEED: Final[int] = 6
DEFAULT_SIZES: Final[str] = "10k,100k"


class BaselineMismatch(RuntimeError):
    """The raw baseline stored different rows than Fabric: the comparison would be unfair."""


# -- data ---------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    """``10k,100k``: comma-separated sizes, sorted, each as :func:`parse_size` reads it."""
    sizes = sorted({parse_size(part) for part in text.split(",") if part.strip()})
    if not sizes:
        raise argparse.ArgumentTypeError("no size given")
    return sizes


def parse_size(text: str) -> int:
    """``10k``, ``100k``, ``1M`` or a plain integer.

    :raises argparse.ArgumentTypeError: not a size, or below 100.
    """
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    try:
        value = int(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 10k, 100k, 1M)") from None
    if value < 100:
        raise argparse.ArgumentTypeError(f"size {value} is too small to measure (at least 100)")
    return value


def ensure_data(workdir: Path, n: int) -> Path:
    """The folder of N synthetic result files, written once and reused while valid.

    A marker records the parameters and the generator's source hash; files of
    an older generator are written again.
    """
    folder = workdir / "data" / f"n{n}"
    marker = folder / ".complete"
    wanted = {
        "n": n,
        "seed": SEED,
        "clips_per_job": CLIPS_PER_JOB,
        "samples_sha256": hashlib.sha256(Path(samples.__file__).read_bytes()).hexdigest(),
    }
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    started = time.perf_counter()
    print(f"  writing {n:,} synthetic result files to {folder} ...", flush=True)
    samples.write_results(folder, n, seed=SEED, clips_per_job=CLIPS_PER_JOB)
    marker.write_text(json.dumps(wanted))
    print(f"  written in {time.perf_counter() - started:.1f} s", flush=True)
    return folder


#: Jobs per day in a built store: a facility's realistic rate, so a month holds
#: about 30k jobs and the history spreads over many months.
EXPORT_JOBS_PER_DAY: Final[int] = 1_000
#: The smallest history figures 11-14 are measured at: below it the whole
#: question takes a few milliseconds, which a fresh process cannot time fairly.
READ_MIN_SIZE: Final[int] = 100_000
#: Figure 16 opens this many histories of N / HISTORY_PARTS jobs each, at N = HISTORIES_SIZE
#: (the size its target names: ten machines of 10k jobs against one of 100k).
HISTORY_PARTS: Final[int] = 10
HISTORIES_SIZE: Final[int] = 100_000
#: The size figures 9 and 10 are measured at (the size their target names).
EXPORT_SIZE: Final[int] = 300_000


def ensure_built_store(
    workdir: Path, n: int, *, seed: int | None = None, store: Path | None = None
) -> Path:
    """A store of ``n`` jobs at :data:`EXPORT_JOBS_PER_DAY`, built once and reused.

    Built without result files: generated results (made by a second process,
    :mod:`generating`) go through the project's own codec
    (``parse_execution_result``, what ingest runs on every file), then
    ``persist_ingested_jobs``, so the rows are the ones ingest stores
    (``ingested_at`` aside). A marker records the parameters and the
    generator's and codec's source hashes.
    """
    from fabric_nb import _rows as rows
    from fabric_nb import ingestion
    from fabric_nb.ingestion import parse_execution_result

    seed = SEED if seed is None else seed
    store = workdir / "stores-built" / f"export-{n}.db" if store is None else store
    marker = store.with_name(store.name + ".complete")
    days = max(n // EXPORT_JOBS_PER_DAY, 1)
    wanted = {
        "n": n,
        "days": days,
        "seed": seed,
        "clips_per_job": CLIPS_PER_JOB,
        "sources_sha256": hashlib.sha256(
            b"".join(Path(m.__file__ or "").read_bytes() for m in (samples, ingestion, rows))
        ).hexdigest(),
    }
    if store.exists() and marker.exists() and json.loads(marker.read_text()) == wanted:
        return store
    store.parent.mkdir(parents=True, exist_ok=True)
    fresh(store)
    marker.unlink(missing_ok=True)
    started = time.perf_counter()
    print(f"  building a {n:,}-job store over {days} days at {store} ...", flush=True)
    with create_persistence(store) as persistence:
        batch = []
        for docs in generated_batches(n, seed=seed, days=days, clips_per_job=CLIPS_PER_JOB):
            batch.extend(map(parse_execution_result, docs))
            if len(batch) >= 5_000:
                persistence.persist_ingested_jobs(batch)
                batch = []
        persistence.persist_ingested_jobs(batch)
    marker.write_text(json.dumps(wanted))
    print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)
    return store


def fresh(path: Path) -> Path:
    """``path`` with no database (or journal, or ingest cache) left from an earlier run."""
    cache = cache_path_for(path)
    for leftover in (path, path.with_name(path.name + "-journal"), cache):
        leftover.unlink(missing_ok=True)
    cache.with_name(cache.name + "-journal").unlink(missing_ok=True)
    return path


# -- timing -------------------------------------------------------------------------


class Profiler:
    """Optional cProfile of Fabric's side of a figure (``--profile``)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def run(self, name: str, call: Callable[[], Any]) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        gc.collect()
        profile = cProfile.Profile()
        result = profile.runcall(call)
        del result
        path = self.folder / f"{name}.prof"
        profile.dump_stats(path)
        print(f"  profile of {name}: {path}")
        pstats.Stats(str(path), stream=sys.stdout).sort_stats("tottime").print_stats(12)


def alternate(
    m: Measurement,
    fabric: Callable[[], Any],
    baseline: Callable[[], Any],
    repeats: int,
    before_fabric: Callable[[], None] | None = None,
) -> Measurement:
    """Run Fabric and its baseline ``repeats`` times each, alternating who goes first.

    ``before_fabric`` runs untimed before each Fabric run (e.g. to release
    what the previous run kept).
    """
    for i in range(repeats):
        pair = [(m.fabric, fabric), (m.raw, baseline)]
        for samples_of, call in pair if i % 2 == 0 else reversed(pair):
            if call is fabric and before_fabric is not None:
                before_fabric()
            samples_of.append(timed(call))
    return m


# -- figures ------------------------------------------------------------------------


def bench_ingest(
    data: Path, tmp: Path, n: int, repeats: int, profiler: Profiler
) -> tuple[Measurement, Path]:
    """Figure 1; returns the measurement and a store Fabric wrote (for figures 2-6)."""
    files = raw.json_files(data)
    for path in files:  # warm the page cache so the first run is not the cold one
        path.read_bytes()
    fabric_db, raw_db = tmp / f"ingest-fabric-{n}.db", tmp / f"ingest-raw-{n}.db"

    def fabric() -> None:
        with create_persistence(fresh(fabric_db)) as persistence:
            report_ = ingest_paths([data], persistence)
        # Every file is stored, or superseded by a later file of its job_id.
        if report_.ingested + report_.superseded != len(files) or report_.rejected:
            raise RuntimeError(
                f"ingest_paths stored {report_.ingested} and superseded "
                f"{report_.superseded} of {len(files)} files"
            )

    def baseline() -> None:
        raw.ingest(files, fresh(raw_db))

    m = alternate(Measurement("ingest", n), fabric, baseline, 1)
    if raw.stored_rows_digest(fabric_db) != raw.stored_rows_digest(raw_db):
        raise BaselineMismatch(
            f"the raw ingest baseline stored other rows than ingest_paths ({raw_db} vs "
            f"{fabric_db}); fix benchmarks/raw.py before comparing"
        )
    alternate(m, fabric, baseline, repeats - 1)
    profiler.run(f"n{n}-1-ingest", fabric)
    store = tmp / f"store-{n}.db"
    fresh(store)
    fabric_db.replace(store)
    fresh(raw_db)
    return m, store


def bench_add_job(store: Path, tmp: Path, n: int, commits: int) -> Measurement:
    """Figure 2: per-commit time of ``add_job`` vs one raw insert + commit, in seconds."""
    fabric_db, raw_db = tmp / f"add-fabric-{n}.db", tmp / f"add-raw-{n}.db"
    for copy in (fabric_db, raw_db):
        shutil.copyfile(store, fresh(copy))
        with open(copy, "rb+") as handle:  # the first timed commit must not flush the copy
            os.fsync(handle.fileno())
    stamp = datetime.now(UTC)
    docs = list(
        samples.generate_results(
            commits + 1, seed=SEED + 1, clips_per_job=CLIPS_PER_JOB, start=samples.DEFAULT_START
        )
    )
    jobs = [parse_execution_result(d, ingested_at=stamp) for d in docs]
    rows = [raw.row_of(d, stamp.isoformat()) for d in docs]
    m = Measurement("add_job", n)
    persistence = create_persistence(fabric_db)
    persistence.open()
    conn = raw.connect_for_writes(raw_db)
    try:
        index = FabricIndex(persistence)
        index.add_job(jobs[0])  # one untimed write each: statement caches, file handles
        raw.insert_one(conn, rows[0])
        gc.collect()
        for i in range(1, commits + 1):
            pair = [
                (m.fabric, lambda i=i: index.add_job(jobs[i])),
                (m.raw, lambda i=i: raw.insert_one(conn, rows[i])),
            ]
            for samples_of, call in pair if i % 2 == 0 else reversed(pair):
                started = time.perf_counter()
                call()
                samples_of.append(time.perf_counter() - started)
    finally:
        conn.close()
        persistence.close()
    fresh(fabric_db)
    fresh(raw_db)
    return m


def bench_read_side(
    store: Path, n: int, repeats: int, profiler: Profiler
) -> tuple[Measurement, Measurement, Measurement, Measurement]:
    """Figures 3 to 6, each run in a fresh process that opens the store, as a notebook does.

    One probe (:mod:`startup_probe`) per run and side times the startup, reads
    the RSS it added, then times both frames; Fabric and the raw baselines
    alternate which goes first. A long-lived process that has loaded and
    dropped several histories carries their heap into every later figure; a
    fresh process per run is what an analyst's notebook starts from.
    """
    m3, m4, m5 = (Measurement(key, n) for key in ("startup", "jobs_frame", "outputs_frame"))
    m6 = Measurement("memory", n)
    size = store.stat().st_size
    peaks, counts = [], set()
    for run in range(repeats):
        sides = ("fabric", "raw") if run % 2 == 0 else ("raw", "fabric")
        probes = {side: run_probe("startup_probe.py", side, str(store)) for side in sides}
        counts.add((probes["fabric"]["jobs"], probes["fabric"]["outputs"]))
        counts.add((probes["raw"]["jobs"], probes["raw"]["outputs"]))
        for m in (m3, m4, m5):
            m.fabric.append(probes["fabric"][m.key])
            m.raw.append(probes["raw"][m.key])
        m6.fabric.append(float(probes["fabric"]["growth"]))
        m6.raw.append(float(size))
        peaks.append(probes["fabric"]["peak_growth"])
    if len(counts) != 1:
        raise BaselineMismatch(f"Fabric and the raw baselines read other histories: {counts}")
    ((_, outputs),) = counts
    m5.note = f"{outputs:,} outputs"
    m6.note = (
        f"peak growth during the load {statistics.median(peaks) / size:.2f}x the file; "
        f"file {size / 1e6:.1f} MB"
    )
    if profiler.folder is not None:
        profile_read_side(store, n, profiler)
    return m3, m4, m5, m6


def profile_read_side(store: Path, n: int, profiler: Profiler) -> None:
    """``--profile``: Fabric's side of figures 3, 4 and 5, in this process."""
    persistence = create_persistence(store)
    opened: list[FabricIndex] = []

    def startup() -> None:  # the open too, as figure 3 times it
        persistence.open()
        opened.append(FabricIndex(persistence))

    try:
        profiler.run(f"n{n}-3-startup", startup)
        queries = FabricQueries(opened[0])
        profiler.run(f"n{n}-4-jobs_frame", lambda: jobs_frame(queries.get_all_jobs()))
        profiler.run(f"n{n}-5-outputs_frame", lambda: outputs_frame(queries.get_all_jobs()))
    finally:
        persistence.close()


def bench_export(store: Path, tmp: Path, n: int, repeats: int) -> tuple[Measurement, Measurement]:
    """Figures 9 and 10: a Parquet export of the store, each run in a fresh process.

    Fabric's ``export_history`` against the raw month-by-month baseline
    (:func:`raw.export_by_month`), alternating which goes first: the time
    (figure 9), and the peak RSS growth of Fabric's run against the size of
    the store (figure 10, the target being half the store).
    """
    timing, memory = Measurement("export", n), Measurement("export_memory", n)
    size = store.stat().st_size
    raw_peaks = []

    def probe(side: str) -> dict[str, Any]:
        out = tmp / f"export-{side}-{n}"
        shutil.rmtree(out, ignore_errors=True)
        result = run_probe("export_probe.py", side, str(store), str(out))
        shutil.rmtree(out, ignore_errors=True)
        return result

    for run in range(repeats):
        sides = ("fabric", "raw") if run % 2 == 0 else ("raw", "fabric")
        probes = {side: probe(side) for side in sides}
        if probes["fabric"]["jobs"] != probes["raw"]["jobs"]:
            raise RuntimeError(
                f"the exports wrote {probes['fabric']['jobs']} and {probes['raw']['jobs']} jobs"
            )
        timing.fabric.append(probes["fabric"]["seconds"])
        timing.raw.append(probes["raw"]["seconds"])
        memory.fabric.append(float(probes["fabric"]["peak_growth"]))
        memory.raw.append(float(size))
        raw_peaks.append(probes["raw"]["peak_growth"])
    memory.note = (
        f"the raw baseline's peak {statistics.median(raw_peaks) / size:.2f}x the file; "
        f"file {size / 1e6:.1f} MB"
    )
    return timing, memory


def ensure_history_stores(workdir: Path, n: int, parts: int = HISTORY_PARTS) -> list[Path]:
    """``parts`` stores of ``n // parts`` jobs each, as separate machines would keep them.

    Built as :func:`ensure_built_store` builds one (the project's own codec),
    each from its own seed, once, and reused while the codec is unchanged.
    """
    folder = workdir / "stores-built" / f"histories-{n}"
    stores = []
    for part in range(parts):
        stores.append(
            ensure_built_store(
                workdir, n // parts, seed=SEED + 1 + part, store=folder / f"bay-{part}.db"
            )
        )
    return stores


def run_probe(script: str, *args: str) -> dict[str, Any]:
    """Run ``benchmarks/SCRIPT ARGS...`` in a fresh process; the JSON object it prints."""
    done = subprocess.run(
        [sys.executable, str(BENCH_DIR / script), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def bench_histories(store: Path, stores: list[Path], n: int, repeats: int) -> Measurement:
    """Figure 16: open_fabric of several histories against one of the same size, fresh processes.

    Both sides open read-only with the spec's checks (schema version,
    ``integrity_check``) and count the jobs, each in a fresh process
    (:mod:`open_probe`); they alternate which goes first.
    """
    m = Measurement("histories", n)

    def probe(paths: list[Path]) -> dict[str, Any]:
        return run_probe("open_probe.py", *map(str, paths))

    probe([store, *stores])  # the files into the page cache, untimed
    jobs: dict[str, set[int]] = {"several": set(), "one": set()}
    for run in range(repeats):
        order = ((stores, m.fabric), ([store], m.raw))
        for paths, samples_of in order if run % 2 == 0 else reversed(order):
            result = probe(paths)
            samples_of.append(result["seconds"])
            jobs["one" if len(paths) == 1 else "several"].add(result["jobs"])
    m.note = (
        f"{len(stores)} histories, {min(jobs['several']):,} jobs in all; "
        f"one history of {min(jobs['one']):,}"
    )
    return m


def bench_reads(store: Path, n: int, repeats: int) -> dict[str, Measurement]:
    """Figures 11 to 14: an analyst's first question in a fresh process, against the floor.

    Each run is a fresh process (:mod:`read_probe`): Fabric opens the store
    with ``open_fabric`` and answers one question; the floor is the spec's
    integrity check of the same file, which every open runs. Fabric and the
    floor alternate which goes first. The memory figures weigh Fabric's peak
    RSS growth against the file's size.
    """
    size = store.stat().st_size
    out: dict[str, Measurement] = {}

    def probe(side: str, question: str) -> dict[str, Any]:
        return run_probe("read_probe.py", side, str(store), question)

    probe("floor", "counts")  # the file into the page cache, untimed
    for question, key in (("filtered", "read_filtered"), ("counts", "read_counts")):
        timing, memory = Measurement(key, n), Measurement(f"{key}_memory", n)
        floor_peaks, answers = [], set()
        for run in range(repeats):
            sides = ("fabric", "floor") if run % 2 == 0 else ("floor", "fabric")
            probes = {side: probe(side, question) for side in sides}
            timing.fabric.append(probes["fabric"]["seconds"])
            timing.raw.append(probes["floor"]["seconds"])
            memory.fabric.append(float(probes["fabric"]["peak_growth"]))
            memory.raw.append(float(size))
            floor_peaks.append(probes["floor"]["peak_growth"])
            answers.add(probes["fabric"]["rows"])
        if len(answers) != 1:
            raise RuntimeError(f"{question}: the runs gave different answers {sorted(answers)}")
        timing.note = f"{answers.pop():,} rows" if question == "filtered" else ""
        memory.note = (
            f"the floor's peak {statistics.median(floor_peaks) / 1e6:.1f} MB; "
            f"file {size / 1e6:.1f} MB"
        )
        out[key], out[f"{key}_memory"] = timing, memory
    return out


def bench_per_job_commit(data: Path, tmp: Path, files: int) -> PerJobCommit:
    """Ingest the first ``files`` files with ``batch_size=1``, then batched, into fresh stores."""
    subset = raw.json_files(data)[:files]
    times = {}
    for batch_size in (1, None):
        db = fresh(tmp / "per-job.db")

        def run(batch_size: int | None = batch_size, db: Path = db) -> None:
            with create_persistence(db) as persistence:
                if batch_size is None:
                    ingest_files(subset, persistence)
                else:
                    ingest_files(subset, persistence, batch_size=batch_size)

        times[batch_size] = timed(run)
        fresh(db)
    return PerJobCommit(len(subset), times[1], times[None])


NEW_FILES: Final[int] = 100


def floor_of_rerun(store: Path, folders: Sequence[Path]) -> None:
    """What no incremental design can avoid: the spec's integrity check, one stat per file."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise RuntimeError(f"{store} fails integrity_check")
    finally:
        conn.close()
    pending = [str(folder) for folder in folders]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    entry.stat()


def write_new_files(folder: Path, run: int) -> list[str]:
    """``NEW_FILES`` result files of jobs no other file carries; returns their job ids."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    docs = samples.generate_results(NEW_FILES, seed=SEED + 1000 + run, clips_per_job=CLIPS_PER_JOB)
    for i, doc in enumerate(docs):
        doc["job_id"] = f"incremental-{run:02d}-{i:03d}"
        (folder / f"{doc['job_id']}.json").write_text(json.dumps(doc), encoding="utf-8")
        ids.append(doc["job_id"])
    return ids


def bench_incremental(
    data: Path, tmp: Path, n: int, repeats: int
) -> tuple[Measurement, Measurement]:
    """Figures 8 and 15: a re-run of an ingested folder plus 100 new files.

    The store is a full ingest of the folder (timed once, reported in the
    note); each repeat adds 100 new files in a folder of their own, then
    times ``ingest_paths`` over every folder and the floor over the same
    folders, alternating which goes first (figure 8). Fails if a re-run
    writes any job but the 100 new ones. Then, as a cron job runs it,
    ``fabric-nb ingest`` in a fresh process with 100 more new files, its
    peak RSS against 120 MB + 300 B per file it found (figure 15).
    """
    store = fresh(tmp / f"incremental-{n}.db")
    news = tmp / f"incremental-new-{n}"
    if news.exists():
        shutil.rmtree(news)
    started = time.perf_counter()
    with create_persistence(store) as persistence:
        first = ingest_paths([data], persistence)
    full_seconds = time.perf_counter() - started
    m = Measurement("incremental", n)
    folders = [data]
    for run in range(repeats):
        folder = news / f"run{run:02d}"
        new_ids = write_new_files(folder, run)
        folders.append(folder)
        before = raw.stamps(store)

        paths = tuple(folders)

        def fabric(paths: tuple[Path, ...] = paths) -> None:
            with create_persistence(store) as persistence:
                done = ingest_paths(paths, persistence)
            if done.ingested != NEW_FILES or done.rejected:
                raise RuntimeError(f"re-run ingested {done.ingested} files, not {NEW_FILES}")

        pair = [
            (m.fabric, fabric),
            (m.raw, lambda paths=paths: floor_of_rerun(store, paths)),
        ]
        for samples_of, call in pair if run % 2 == 0 else reversed(pair):
            samples_of.append(timed(call))
        after = raw.stamps(store)
        written = {k for k, v in after.items() if before.get(k) != v}
        if written != set(new_ids):
            raise RuntimeError(
                f"the re-run wrote {len(written)} jobs, not the {NEW_FILES} new ones"
            )
    m.note = (
        f"writes only the {NEW_FILES} new jobs; full ingest of the same folder "
        f"{report.duration(full_seconds)} ({first.ingested:,} files, cache included)"
    )
    memory = Measurement("incremental_memory", n)
    for run in range(repeats, 2 * repeats):
        folder = news / f"run{run:02d}"
        write_new_files(folder, run)
        folders.append(folder)
        probe = run_probe("ingest_probe.py", str(store), *map(str, folders))
        if f"ingested:       {NEW_FILES} " not in probe["stdout"]:
            raise RuntimeError(f"the cron run did not store the {NEW_FILES} new files")
        memory.fabric.append(float(probe["peak_rss"]))
        memory.raw.append(
            float(INCREMENTAL_MEMORY_FIXED + INCREMENTAL_MEMORY_PER_FILE * probe["files"])
        )
        memory.note = (
            f"{probe['files']:,} files known; "
            f"{(probe['peak_rss'] - INCREMENTAL_MEMORY_FIXED) / probe['files']:.0f} B per file "
            "above the fixed 120 MB"
        )
    shutil.rmtree(news)
    fresh(store)
    return m, memory


# -- main ---------------------------------------------------------------------------


def environment() -> dict[str, str]:
    """The machine and the versions the figures were measured with."""
    import platform
    import sqlite3

    import numpy
    import pandas

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "load_average": load,
    }


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``benchmarks/run.py``."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark fabric_nb against raw sqlite3/json/pandas baselines.",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes(DEFAULT_SIZES),
        help=f"comma-separated history sizes, e.g. 10k,100k,1M (default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="runs per figure, median reported (default 5)"
    )
    parser.add_argument(
        "--commits", type=int, default=25, help="durable add_job commits timed per size"
    )
    parser.add_argument(
        "--per-job-files",
        type=int,
        default=1000,
        help="files ingested with one transaction each (default 1000; each costs a few fsyncs)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=BENCH_DIR / "results",
        help="where data, stores and results.json go (default benchmarks/results)",
    )
    parser.add_argument(
        "--write-docs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="update docs/performance.md and docs/performance_growth.png (default on)",
    )
    parser.add_argument(
        "--export-size",
        type=lambda text: 0 if text.strip() == "0" else parse_size(text),
        default=EXPORT_SIZE,
        help="jobs in the store figures 9 and 10 export (default 300k; 0 skips them)",
    )
    parser.add_argument(
        "--built-stores",
        action="store_true",
        help="measure stores built directly instead of ingested files (make bench-1m): "
        "figures 1 and 8 are left out, 9 and 10 measured at every size",
    )
    parser.add_argument(
        "--rewrite-docs",
        action="store_true",
        help="measure nothing: judge the results last saved (results.json, or "
        "results-built.json with --built-stores) again and rewrite their section of "
        "docs/performance.md",
    )
    parser.add_argument(
        "--only",
        choices=["incremental"],
        default=None,
        help="run only this figure (its section of docs/performance.md is still written)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile Fabric's side of figures 1, 3, 4, 5 (written to WORKDIR/profiles)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 when every figure is within its target, 1 otherwise."""
    args = build_parser().parse_args(argv)
    sizes: list[int] = args.sizes
    if args.repeats < 1 or args.commits < 1 or args.per_job_files < 1:
        raise SystemExit("--repeats, --commits and --per-job-files must be at least 1")
    workdir: Path = args.workdir.resolve()
    tmp = workdir / "stores"
    tmp.mkdir(parents=True, exist_ok=True)
    profiler = Profiler(workdir / "profiles" if args.profile else None)
    env = environment()
    print(
        f"fabric_nb benchmarks: N = {', '.join(short(n) for n in sizes)}, {CLIPS_PER_JOB} clips "
        f"per job, median of {args.repeats} runs; {env['cpu']}, {env['cores']} cores, "
        f"load {env['load_average']}",
        flush=True,
    )
    if args.rewrite_docs:
        return rewrite_docs(workdir, env, args)
    results: dict[int, dict[str, Measurement]] = {}
    data_dirs = {}
    started = time.perf_counter()
    if args.only == "incremental":
        return run_incremental_only(sizes, workdir, tmp, args, env)
    for n in sizes:
        print(f"N = {n:,}" + (" (built store)" if args.built_stores else ""), flush=True)
        by_key: dict[str, Measurement] = {}
        if args.built_stores:
            store = ensure_built_store(workdir, n)
        else:
            data = data_dirs[n] = ensure_data(workdir, n)
            by_key["ingest"], store = bench_ingest(data, tmp, n, args.repeats, profiler)
        read_side = bench_read_side(store, n, args.repeats, profiler)
        for m in read_side:
            by_key[m.key] = m
        by_key["add_job"] = bench_add_job(store, tmp, n, args.commits)
        if n >= READ_MIN_SIZE:
            by_key.update(bench_reads(store, n, min(args.repeats, 3)))
        if n == HISTORIES_SIZE:
            by_key["histories"] = bench_histories(
                store, ensure_history_stores(workdir, n), n, min(args.repeats, 3)
            )
        if not args.built_stores:
            by_key["incremental"], by_key["incremental_memory"] = bench_incremental(
                data, tmp, n, args.repeats
            )
            fresh(store)
        elif n >= EXPORT_SIZE:  # the export's target names 300k and up
            by_key["export"], by_key["export_memory"] = bench_export(
                store, tmp, n, min(args.repeats, 3)
            )
        results[n] = {f.key: by_key[f.key] for f in FIGURES if f.key in by_key}
        for verdict in verdicts({n: results[n]}):
            print("  " + verdict.line(), flush=True)
    if args.export_size and not args.built_stores:
        n = args.export_size
        print(f"N = {n:,} (figures 9 and 10: export)", flush=True)
        store = ensure_built_store(workdir, n)
        timing, memory = bench_export(store, tmp, n, min(args.repeats, 3))
        results.setdefault(n, {}).update({"export": timing, "export_memory": memory})
        for verdict in verdicts({n: results[n]}):
            print("  " + verdict.line(), flush=True)
    per_job = None
    if not args.built_stores:
        largest = sizes[-1]
        print(f"per-job-commit ingest: {min(args.per_job_files, largest):,} files ...", flush=True)
        per_job = bench_per_job_commit(data_dirs[largest], tmp, args.per_job_files)
    elapsed = time.perf_counter() - started

    lines = verdicts(results)
    print()
    for verdict in lines:
        print(verdict.line())
    if per_job is not None:
        print()
        for line in report.per_job_lines(per_job, results):
            print(line)
    missed = [v for v in lines if not v.ok]
    print()
    print(
        f"{len(lines) - len(missed)} of {len(lines)} figures within target ({elapsed / 60:.1f} min)"
    )
    saved = {
        "environment": env,
        "repeats": args.repeats,
        "clips_per_job": CLIPS_PER_JOB,
        "results": {str(n): {k: asdict(m) for k, m in r.items()} for n, r in results.items()},
        "per_job_commit": None if per_job is None else asdict(per_job),
        "verdicts": [
            {"label": v.label, "detail": v.detail, "ratio": v.ratio, "target": v.target}
            for v in lines
        ],
    }
    name = "results-built.json" if args.built_stores else "results.json"
    (workdir / name).write_text(json.dumps(saved, indent=2))
    if args.write_docs and per_job is None:
        md = report.write_built(REPO_ROOT / "docs", env, results, lines, args)
        print(f"wrote {md.relative_to(REPO_ROOT)}")
    elif args.write_docs:
        md, png = report.write_docs(REPO_ROOT / "docs", env, results, lines, per_job, args)
        report.write_incremental(REPO_ROOT / "docs", env, results, args)
        print(f"wrote {md.relative_to(REPO_ROOT)} and {png.relative_to(REPO_ROOT)}")
    return 1 if missed else 0


def rewrite_docs(workdir: Path, env: dict[str, str], args: argparse.Namespace) -> int:
    """``--rewrite-docs``: the verdicts on the last saved results, written again."""
    name = "results-built.json" if args.built_stores else "results.json"
    saved = json.loads((workdir / name).read_text())
    results = {
        int(n): {key: Measurement(**m) for key, m in by_key.items()}
        for n, by_key in saved["results"].items()
    }
    saved_env = saved["environment"]
    args.repeats = saved["repeats"]
    lines = verdicts(results)
    for verdict in lines:
        print(verdict.line())
    if args.built_stores:
        md = report.write_built(REPO_ROOT / "docs", saved_env, results, lines, args)
    else:
        per_job = PerJobCommit(**saved["per_job_commit"])
        md, _ = report.write_docs(REPO_ROOT / "docs", saved_env, results, lines, per_job, args)
    print(f"wrote {md.relative_to(REPO_ROOT)} from {name} (measured {saved_env['date']})")
    return 1 if any(not v.ok for v in lines) else 0


def run_incremental_only(
    sizes: list[int], workdir: Path, tmp: Path, args: argparse.Namespace, env: dict[str, str]
) -> int:
    """``--only incremental``: figure 8 alone, at each size."""
    results: dict[int, dict[str, Measurement]] = {}
    for n in sizes:
        print(f"N = {n:,}", flush=True)
        data = ensure_data(workdir, n)
        timing, memory = bench_incremental(data, tmp, n, args.repeats)
        results[n] = {"incremental": timing, "incremental_memory": memory}
    lines = verdicts(results)
    print()
    for verdict in lines:
        print(verdict.line())
    for n, by_key in results.items():
        print(f"  N={short(n)}: {by_key['incremental'].note}")
    if args.write_docs:
        md = report.write_incremental(REPO_ROOT / "docs", env, results, args)
        print(f"wrote {md.relative_to(REPO_ROOT)}")
    return 0 if all(v.ok for v in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
