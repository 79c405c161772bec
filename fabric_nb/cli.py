"""The ``fabric-nb`` command line: a thin layer over the library.

Every command calls library functions and prints what they return; the
command line has no logic of its own. Expected failures (a corrupt database,
a schema version mismatch, a missing file, a bad argument) print one line on
stderr and exit with a documented code, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn

from . import __version__
from ._export_formats import EXPORT_FORMATS
from ._safe_text import cut_text, escape_control, escape_json_text
from ._scan import DEFAULT_PATTERNS, ScanResult, scan_paths
from .bulk import DEFAULT_BATCH_SIZE, IngestReport, RejectedFile, ingest_scanned
from .errors import (
    BackupExistsError,
    BackupNameError,
    BackupWriteError,
    ExportError,
    FabricError,
    IngestAborted,
    IngestInterrupted,
    IngestPathError,
    MissingExtraError,
    OutputExistsError,
    RenderError,
    StorageError,
)
from .persistence import create_persistence, resolve_storage_path
from .storage import DEFAULT_STORAGE_PATH, FABRIC_DB_ENV

__all__ = [
    "ERROR_EXIT_CODES",
    "EXIT_DATABASE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOTHING_FOUND",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

#: Everything asked for was done.
EXIT_OK: Final[int] = 0
#: ``ingest``: a file was newly rejected (any rejected file with ``--strict``),
#: or not read after ``--fail-fast``; ``check``: the database failed a check.
EXIT_FAILED: Final[int] = 1
#: Bad arguments: unknown option, bad number, an OUTDIR that is not empty, a
#: backup DEST that exists.
EXIT_USAGE: Final[int] = 2
#: The database cannot be used: missing (read-only commands), unreadable,
#: corrupt, another schema version, or a write failed (disk full).
EXIT_DATABASE: Final[int] = 3
#: ``export`` / ``sample`` / ``backup`` / ``report`` could not write their output.
EXIT_OUTPUT: Final[int] = 4
#: ``ingest`` / ``watch``: a PATH does not exist or cannot be listed, or a
#: folder holds no result file (a share that failed to mount looks like this).
EXIT_NOTHING_FOUND: Final[int] = 5
#: Interrupted (Ctrl-C); batches already committed stay stored.
EXIT_INTERRUPTED: Final[int] = 130

#: The exit code of each refusal a command lets through, the most specific
#: class first: every command answers the same refusal with the same code, and
#: ``main`` prints it as ``fabric-nb COMMAND: message``.
ERROR_EXIT_CODES: Final[tuple[tuple[type[FabricError], int], ...]] = (
    (OutputExistsError, EXIT_USAGE),
    (BackupExistsError, EXIT_USAGE),
    (BackupNameError, EXIT_USAGE),
    (BackupWriteError, EXIT_OUTPUT),
    (ExportError, EXIT_OUTPUT),
    (RenderError, EXIT_FAILED),
    (MissingExtraError, EXIT_USAGE),
    (IngestPathError, EXIT_NOTHING_FOUND),
    (StorageError, EXIT_DATABASE),
)

PROG: Final[str] = "fabric-nb"
#: Help is formatted for this width whatever the terminal, so it is the same
#: everywhere and ``docs/cli.md`` can quote it verbatim.
HELP_WIDTH: Final[int] = 80

_DESCRIPTION = """\
Keep the execution history of Proxx jobs in SQLite: ingest JobExecutionResult
files (once, or watching folders), inspect, check, back up and export the
database."""

_EPILOG = f"""\
database:
  Every command that reads or writes the database takes --db PATH, before or
  after the command name. Without --db: $FABRIC_DB when set, else
  {DEFAULT_STORAGE_PATH}.

exit codes:
  {EXIT_OK}    all well
  {EXIT_FAILED}    ingest: files newly rejected or not read; check: the check failed
  {EXIT_USAGE}    bad arguments (unknown option, OUTDIR not empty, DEST exists)
  {EXIT_DATABASE}    database missing, unreadable, corrupt, of another schema version,
       or a write failed
  {EXIT_OUTPUT}    export/sample/backup cannot write their output; report cannot
       write OUT.html
  {EXIT_NOTHING_FOUND}    ingest/watch: a PATH is missing or unreadable, or holds no result
       file
  {EXIT_INTERRUPTED}  interrupted

See docs/cli.md."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=HELP_WIDTH, max_help_position=30)


class _UsageError(Exception):
    """A bad argument found by the parser."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and never exit by themselves."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _whole_number(minimum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` reading a whole number, at least ``minimum`` when given."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a number of at least {minimum}, got {value}"
            )
        return value

    return parse


def _seconds(text: str) -> float:
    """An argparse ``type`` reading a number of seconds, at least 0.1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0.1 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected at least 0.1 seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fabric-nb``, with every subcommand."""
    from .samples import SAMPLE_JOBS, SAMPLE_SEED
    from .watch import DEFAULT_INTERVAL, DEFAULT_SETTLE

    db_help = f"the database (default: ${FABRIC_DB_ENV}, else {DEFAULT_STORAGE_PATH})"
    parser = _Parser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--db", metavar="PATH", default=None, help=db_help)
    # On each command too, without a default, so it does not hide the global one.
    with_db = _Parser(add_help=False)
    with_db.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help=db_help)
    # info, check, export and report also read several histories as one.
    with_dbs = _Parser(add_help=False)
    with_dbs.add_argument(
        "--db",
        metavar="PATH",
        action="append",
        default=argparse.SUPPRESS,
        help=db_help + "; repeat it, or give a folder of *.db files or a quoted glob, "
        "to read several histories as one",
    )

    # What ingest and watch share: which files are result files, and batches.
    scanning = _Parser(add_help=False)
    scanning.add_argument(
        "--pattern",
        action="append",
        metavar="GLOB",
        help="a result file's name, ignoring case (repeatable; default: "
        + ", ".join(DEFAULT_PATTERNS)
        + ")",
    )
    scanning.add_argument(
        "--batch-size",
        type=_whole_number(1),
        default=DEFAULT_BATCH_SIZE,
        metavar="BATCH",
        help=f"files per transaction (default: {DEFAULT_BATCH_SIZE})",
    )

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ingest = commands.add_parser(
        "ingest",
        parents=[with_db, scanning],
        formatter_class=_Formatter,
        help="store new and changed result files (files and folders)",
        description="""\
Read the JobExecutionResult files that are new or changed since the last run
and store them, BATCH files per transaction. Folders are searched recursively
for files matching --pattern, in sorted order; a file given by name is read
whatever its name. A file unchanged since it was stored is not read again; a
file that fails validation is reported (path and reason) and skipped, and
counted as still rejected while it stays unchanged; a JobSpec is skipped.
A job_id seen before is replaced by the later file. Creates the database if
missing (not when no result file is found).""",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="result file or folder")
    ingest.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first rejected file; the good files before it are stored",
    )
    ingest.add_argument(
        "--full",
        action="store_true",
        help="read every file again, changed or not (and refresh the ingest cache)",
    )
    ingest.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any file is rejected, newly or still (and list them all)",
    )
    ingest.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list the files still rejected and the files skipped",
    )
    ingest.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar (there is none anyway when stderr is not a terminal)",
    )
    ingest.set_defaults(handler=_cmd_ingest)

    watch = commands.add_parser(
        "watch",
        parents=[with_db, scanning],
        formatter_class=_Formatter,
        help="keep ingesting new and changed result files as they appear",
        description=f"""\
Poll the folders every INTERVAL seconds and ingest the result files that are
new or changed, with the same rules and cache as ingest. A file is read once
unchanged for SETTLE seconds (or older than that); a file that fails
validation is rejected only once it has been unchanged for SETTLE seconds,
so a file still being written is never rejected. One line per pass that
stored or rejected something; nothing when idle. SIGTERM or Ctrl-C stops it:
the files already read are committed, the last line says what was stored,
exit 0. Works on network shares (polling, no inotify). Creates the database
if missing. Default INTERVAL {DEFAULT_INTERVAL:g}, SETTLE {DEFAULT_SETTLE:g}.""",
    )
    watch.add_argument("paths", nargs="+", metavar="DIR", help="folder (or file) to watch")
    watch.add_argument(
        "--interval",
        type=_seconds,
        default=DEFAULT_INTERVAL,
        metavar="INTERVAL",
        help="seconds between two polls",
    )
    watch.add_argument(
        "--settle",
        type=_seconds,
        default=DEFAULT_SETTLE,
        metavar="SETTLE",
        help="seconds a file must stay unchanged (see above)",
    )
    watch.set_defaults(handler=_cmd_watch)

    backup = commands.add_parser(
        "backup",
        parents=[with_db],
        formatter_class=_Formatter,
        help="write a verified copy of the database (safe while others write)",
        description="""\
Copy the database into DEST with SQLite's online backup API, from a
read-only open: the copy is a consistent snapshot even while an ingest or a
watch writes, and it reads in short steps so a writer is not held up. The
copy is written beside DEST, checked as Fabric checks a database at open
(schema version, integrity, every row decodes), then renamed into place. DEST
may be a folder: the file is then named after the database and the UTC time
(fabric-20261129T030000Z.db). An existing file is never replaced without
--force. The last line gives the job count and size of the verified copy.""",
    )
    backup.add_argument("dest", metavar="DEST", help="file to create, or an existing folder")
    backup.add_argument("--force", action="store_true", help="replace DEST if it is a file")
    backup.set_defaults(handler=_cmd_backup)

    info = commands.add_parser(
        "info",
        parents=[with_dbs],
        formatter_class=_Formatter,
        help="what the database holds (read-only)",
        description="""\
Open the database read-only, check it (schema version, integrity, every row
decodes) and print its path and size, schema version, integrity result, job
counts by status, engine and profile, and the range of started_at.""",
    )
    info.add_argument("--json", action="store_true", help="print one JSON object instead")
    info.set_defaults(handler=_cmd_info)

    check = commands.add_parser(
        "check",
        parents=[with_dbs],
        formatter_class=_Formatter,
        help="check the database (read-only; for cron and CI)",
        description="""\
Check the schema version, run PRAGMA integrity_check and decode every row's
outputs. Exit 0 when all is well, 1 with the reason on stderr otherwise.
Never writes anything.""",
    )
    check.add_argument("-q", "--quiet", action="store_true", help="print nothing when all is well")
    check.set_defaults(handler=_cmd_check)

    export = commands.add_parser(
        "export",
        parents=[with_dbs],
        formatter_class=_Formatter,
        help="write the jobs and outputs tables as Parquet, CSV or Excel (read-only)",
        description="""\
Write the jobs table and the outputs table into OUTDIR, which must not exist
or be empty. Parquet is partitioned Hive-style by the UTC month of
started_at (jobs/started_month=YYYY-MM/part-0.parquet, same for outputs);
CSV is one file per table (jobs.csv, outputs.csv); Excel is one workbook
(history.xlsx) with a jobs and an outputs sheet, timestamps in UTC without
offset. The scope options select jobs as fabric.jobs() does; the outputs
written are those of the selected jobs. The database is opened read-only.

With --update (Parquet), OUTDIR may hold a dataset an earlier --update
wrote: only the month partitions whose jobs changed are rewritten, each in
one step, so a nightly cron line costs a read of the database and the
changed months. Its first run writes everything.""",
    )
    export.add_argument("outdir", metavar="OUTDIR", help="folder to create")
    export.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        default=EXPORT_FORMATS[0],
        help=f"file format (default: {EXPORT_FORMATS[0]}; xlsx needs the excel extra)",
    )
    export.add_argument(
        "--raw-csv",
        action="store_true",
        help="CSV and Excel: write text exactly as stored, even cells a spreadsheet would "
        "run as a formula (by default those get a ' in front)",
    )
    export.add_argument(
        "--update",
        action="store_true",
        help="Parquet: bring the dataset in OUTDIR up to date, rewriting only the month "
        "partitions that changed (OUTDIR missing or empty: write it whole)",
    )
    _add_scope_options(export, status=True)
    export.set_defaults(handler=_cmd_export)

    sample = commands.add_parser(
        "sample",
        formatter_class=_Formatter,
        help="write synthetic result files (for trying Fabric out)",
        description="""\
Write N SYNTHETIC JobExecutionResult files into OUTDIR (created if missing),
from fabric_nb.samples: the same seed gives byte-identical files on every
machine. Does not touch the database.""",
    )
    sample.add_argument("outdir", metavar="OUTDIR", help="folder to write into")
    sample.add_argument(
        "--jobs",
        type=_whole_number(0),
        default=SAMPLE_JOBS,
        metavar="N",
        help=f"result files (default: {SAMPLE_JOBS})",
    )
    sample.add_argument(
        "--seed",
        type=_whole_number(),
        default=SAMPLE_SEED,
        metavar="S",
        help=f"random seed (default: {SAMPLE_SEED})",
    )
    sample.set_defaults(handler=_cmd_sample)

    report = commands.add_parser(
        "report",
        parents=[with_dbs],
        formatter_class=_Formatter,
        help="the history's report as one HTML page (read-only)",
        description="""\
Write a report of the history, opened read-only, as one self-contained HTML
page for someone who never opens Jupyter: when it was made, the period its
jobs cover and its scope; jobs and failure shares; failures by engine and by
profile; the top failure reasons; the weekly failure rate per engine as a
chart; the slowest profiles per clip; and what the history does not hold.
Nothing is loaded from the web, so it can be mailed. The page reads on a
phone and prints whole. OUT.html is replaced if it exists; on failure nothing
is written.""",
    )
    report.add_argument("out", metavar="OUT.html", help="the HTML file to write")
    report.add_argument(
        "--title", help="the page's title (default: 'Fabric history: ' and the file name)"
    )
    _add_scope_options(report)
    report.set_defaults(handler=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fabric-nb`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except _UsageError as exc:
            return _fail(EXIT_USAGE, str(exc))
        except SystemExit as exc:  # --help and --version print, then exit 0
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        handler: Callable[[argparse.Namespace], int] = args.handler
        if "db" in vars(args):
            try:  # ``~nosuchuser/x.db``, from --db or $FABRIC_DB: one line, not a traceback
                args.histories = _several(args.db)
                args.db = None if args.histories else resolve_storage_path(_one(args.db))
            except StorageError as exc:
                code = EXIT_FAILED if args.command == "check" else EXIT_DATABASE  # check's own
                return _fail(code, f"{PROG} {args.command}: {exc}")
        try:
            code = handler(args)
        except FabricError as exc:
            refused = _exit_code_for(exc)
            if refused is None:
                raise
            return _fail(refused, f"{PROG} {args.command}: {exc}")
        sys.stdout.flush()  # here, so a closed pipe is caught below, not at exit
        return code
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, f"{PROG}: interrupted")
    except BrokenPipeError:
        # The reader went away (``fabric-nb info | head``): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _exit_code_for(exc: BaseException) -> int | None:
    """The exit code :data:`ERROR_EXIT_CODES` gives ``exc``, if any."""
    for kind, code in ERROR_EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return None


# -- commands ---------------------------------------------------------------------


def _cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    scan, code = _scan_for(args, "ingest")
    if not scan.files:
        return _fail(
            EXIT_NOTHING_FOUND,
            f"{PROG} ingest: warning: no result file found; nothing was read and the "
            "database was not opened",
        )
    show_bar = not args.quiet and sys.stderr.isatty()

    def bar(items: Sequence[str | Path]) -> tqdm[str | Path]:
        return tqdm(items, unit="file", file=sys.stderr, disable=not show_bar, leave=False)

    persistence = create_persistence(resolve_storage_path(args.db))
    report: IngestReport | None = None
    try:
        with persistence:
            report = ingest_scanned(
                scan,
                persistence,
                full=args.full,
                batch_size=args.batch_size,
                fail_fast=args.fail_fast,
                progress=bar,
                warn=_warner("ingest"),
            )
    except IngestAborted as exc:  # what landed before the failure, then the failure
        _print_ingest_report(exc.report, persistence.path, args)
        raise
    except IngestInterrupted as exc:
        report = exc.report
        _print_ingest_report(report, persistence.path, args)
        return _fail(
            EXIT_INTERRUPTED,
            f"{PROG} ingest: interrupted: {report.ingested} files stored, "
            f"{report.rolled_back} read but not stored, {report.not_attempted} not read "
            "(a batch is stored whole or not at all)",
        )
    except KeyboardInterrupt:
        if report is None:
            return _fail(EXIT_INTERRUPTED, f"{PROG} ingest: interrupted before any file was stored")
        _print_ingest_report(report, persistence.path, args)
        return _fail(
            EXIT_INTERRUPTED,
            f"{PROG} ingest: interrupted after the run; {report.ingested} files stored",
        )
    _print_ingest_report(report, persistence.path, args)
    if code != EXIT_OK:
        return code
    failed = not report.clean or (args.strict and report.still_rejected)
    return EXIT_FAILED if failed else EXIT_OK


def _scan_for(args: argparse.Namespace, command: str) -> tuple[ScanResult, int]:
    """Scan the PATHs, warning on stderr about missing paths and empty folders.

    Returns the scan and the exit code these warnings call for.

    :raises IngestPathError: a folder cannot be listed.
    """
    scan = scan_paths(args.paths, args.pattern or DEFAULT_PATTERNS)
    patterns = ", ".join(args.pattern or DEFAULT_PATTERNS)
    for path in scan.missing:
        _fail(0, f"{PROG} {command}: warning: {path}: no such file or folder (not mounted?)")
    for path in scan.empty:
        _fail(0, f"{PROG} {command}: warning: {path}: no result file in it ({patterns})")
    return scan, EXIT_NOTHING_FOUND if scan.missing or scan.empty else EXIT_OK


def _warner(command: str) -> Callable[[str], None]:
    def warn(line: str) -> None:
        _fail(0, f"{PROG} {command}: warning: {line}")

    return warn


def _print_rejected(files: Iterable[RejectedFile], label: str = "rejected") -> None:
    """One ``label: path: reason`` line per file, escaped; on stderr unless still rejected."""
    stream = sys.stdout if label == "still rejected" else sys.stderr
    for rejected in files:
        print(
            f"{label}: {escape_control(str(rejected.path))}: {escape_control(rejected.reason)}",
            file=stream,
        )


def _print_ingest_report(report: IngestReport, db: Path, args: argparse.Namespace) -> None:
    _print_rejected(report.rejected)
    if args.strict:
        _print_rejected(report.still_rejected)
    elif args.verbose:
        _print_rejected(report.still_rejected, "still rejected")
    if args.verbose:
        for skipped in report.skipped:
            print(f"skipped: {escape_control(str(skipped.path))}: {escape_control(skipped.reason)}")
    lines = {
        "database": str(db),
        "files found": str(report.files),
        "ingested": f"{report.ingested} ({report.new} new, {report.replaced} replaced)",
        "unchanged": str(report.unchanged),
        "rejected": str(len(report.rejected)),
        "still rejected": str(len(report.still_rejected)),
        "skipped": f"{len(report.skipped)} (not result files)",
    }
    if report.superseded:
        lines["superseded"] = f"{report.superseded} (a later file holds the same job_id)"
    if report.vanished:
        lines["vanished"] = f"{report.vanished} (gone since the scan)"
    if report.rolled_back:
        lines["rolled back"] = str(report.rolled_back)
    if report.not_attempted:
        fail_fast = args.fail_fast and report.rejected and not report.rolled_back
        lines["not read"] = f"{report.not_attempted}{' (--fail-fast)' if fail_fast else ''}"
    _print_fields(lines)


def _cmd_watch(args: argparse.Namespace) -> int:
    import signal

    from .watch import WatchBatch, watch_paths

    scan, _ = _scan_for(args, "watch")
    if scan.missing:
        return _fail(EXIT_NOTHING_FOUND, f"{PROG} watch: a DIR does not exist; not started")
    stop: list[int] = []

    def request_stop(signum: int, _frame: object) -> None:
        stop.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_batch(batch: WatchBatch) -> None:
        report = batch.report
        _print_rejected(report.rejected)
        print(
            f"{batch.finished_at.strftime('%Y-%m-%dT%H:%M:%SZ')}  "
            f"{report.ingested + len(report.rejected)} files: {report.new} new, "
            f"{report.replaced} replaced, {len(report.rejected)} rejected"
            + (f", {report.vanished} vanished" if report.vanished else ""),
            flush=True,
        )

    persistence = create_persistence(resolve_storage_path(args.db))
    totals = None
    try:
        with persistence:
            totals = watch_paths(
                args.paths,
                persistence,
                should_stop=lambda: bool(stop),
                on_batch=on_batch,
                interval=args.interval,
                settle=args.settle,
                patterns=args.pattern or DEFAULT_PATTERNS,
                batch_size=args.batch_size,
                warn=_warner("watch"),
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    name = signal.Signals(stop[0]).name if stop else "stop"
    print(
        f"stopped ({name}): {totals.ingested} files stored since the start "
        f"({totals.new} new, {totals.replaced} replaced) in {totals.transactions} "
        f"transactions, {totals.rejected} rejected; every file read was committed"
    )
    return EXIT_OK


def _cmd_backup(args: argparse.Namespace) -> int:
    from .backup import backup_storage

    result = backup_storage(resolve_storage_path(args.db), args.dest, force=args.force)
    print(
        f"backup: {escape_control(str(result.path))}: {result.jobs} jobs, "
        f"{result.size_bytes} bytes, verified (schema version, integrity, every row decodes)"
    )
    return EXIT_OK


def _several(given: str | list[str] | None) -> dict[str, Path] | None:
    """The histories named by ``--db`` given more than once, or as a folder or a glob;
    ``None`` for one database (the commands' single-history behaviour)."""
    if not isinstance(given, list):
        return None
    if len(given) == 1:
        one = os.path.expanduser(given[0])
        if not glob.has_magic(one) and not os.path.isdir(one):
            return None
    from .histories import resolve_histories

    try:
        return resolve_histories(given)
    except ValueError as exc:  # HistoriesError: nothing found, given twice
        raise StorageError(str(exc)) from exc


def _one(given: str | list[str] | None) -> str | None:
    return given[0] if isinstance(given, list) else given


def _cmd_info(args: argparse.Namespace) -> int:
    from .storage_report import inspect_storage

    if args.histories:
        return _info_several(args)

    try:
        report = inspect_storage(resolve_storage_path(args.db))
    except OSError as exc:
        return _fail(EXIT_DATABASE, f"{PROG} info: {exc}")
    if args.json:
        print(escape_json_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False)))
        return EXIT_OK
    summary = report.summary
    first, last = summary.first_started_at, summary.last_started_at
    span = "-" if first is None or last is None else f"{first.isoformat()} .. {last.isoformat()}"
    _print_fields(
        {
            "path": str(report.path),
            "size": f"{report.size_bytes} bytes",
            "schema version": str(report.schema_version),
            "integrity": report.integrity,
            "jobs": str(summary.jobs),
            "outputs": str(summary.outputs),
            "started_at": span,
        }
    )
    for title, counts in (
        ("by status", summary.by_status),
        ("by engine", summary.by_engine),
        ("by profile", summary.by_profile),
    ):
        print(f"{title}:")
        _print_counts(counts)
    return EXIT_OK


def _info_several(args: argparse.Namespace) -> int:
    """``info`` of several histories: each one's figures, then the totals."""
    from .storage_report import inspect_storage

    reports = {}
    for name, path in args.histories.items():
        try:
            reports[name] = inspect_storage(path)
        except OSError as exc:
            return _fail(EXIT_DATABASE, f"{PROG} info: {exc}")
    jobs = sum(r.summary.jobs for r in reports.values())
    outputs = sum(r.summary.outputs for r in reports.values())
    if args.json:
        document = {
            "histories": {name: r.to_dict() for name, r in reports.items()},
            "total": {"histories": len(reports), "jobs": jobs, "outputs": outputs},
        }
        print(escape_json_text(json.dumps(document, indent=2, ensure_ascii=False)))
        return EXIT_OK
    width = max(len(name) for name in reports)
    print(f"{'history':<{width}}  {'jobs':>9}  {'outputs':>9}  integrity  path")
    for name, r in reports.items():
        print(
            escape_control(
                f"{name:<{width}}  {r.summary.jobs:>9}  {r.summary.outputs:>9}  "
                f"{r.integrity:<9}  {r.path}"
            )
        )
    print(f"{'total':<{width}}  {jobs:>9}  {outputs:>9}  ({len(reports)} histories)")
    by_status: Counter[str | None] = Counter()
    for r in reports.values():
        by_status.update(r.summary.by_status)
    print("by status (all histories):")
    _print_counts(dict(by_status))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from .storage_report import inspect_storage

    if args.histories:
        return _check_several(args)

    try:
        report = inspect_storage(resolve_storage_path(args.db))
    except (FabricError, OSError) as exc:
        return _fail(EXIT_FAILED, f"{PROG} check: FAILED: {exc}")
    if not args.quiet:
        print(
            f"ok: {escape_control(str(report.path))}: schema version {report.schema_version}, "
            f"integrity {report.integrity}, {report.summary.jobs} jobs decoded"
        )
    return EXIT_OK


def _check_several(args: argparse.Namespace) -> int:
    """``check`` of several histories: every one checked and reported, 1 if any failed."""
    from .storage_report import inspect_storage

    failed = 0
    for name, path in args.histories.items():
        try:
            report = inspect_storage(path)
        except (FabricError, OSError) as exc:
            failed += 1
            _fail(EXIT_FAILED, f"{PROG} check: FAILED: {name}: {exc}")
            continue
        if not args.quiet:
            print(
                escape_control(
                    f"ok: {name}: {report.path}: schema version {report.schema_version}, "
                    f"integrity {report.integrity}, {report.summary.jobs} jobs decoded"
                )
            )
    if failed:
        return _fail(EXIT_FAILED, f"{PROG} check: {failed} of {len(args.histories)} failed")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_history

    if args.histories:
        return _export_several(args)

    try:
        with _warnings_as_lines("export"):
            result = export_history(
                resolve_storage_path(args.db),
                args.outdir,
                fmt=args.format,
                raw_csv=args.raw_csv,
                update=args.update,
                **_scope(args),
            )
    except (TypeError, ValueError) as exc:
        return _fail(EXIT_USAGE, f"{PROG} export: {exc}")
    _print_fields(
        {
            "database": str(result.database),
            "written": str(result.outdir),
            "format": result.format,
            "jobs": str(result.jobs),
            "outputs": str(result.outputs),
            "files": str(len(result.files)),
            **_changed_field(result.changed),
        }
    )
    return EXIT_OK


def _changed_field(changed: tuple[str, ...] | None) -> dict[str, str]:
    """The ``changed`` line of an ``export --update``: how many partitions, and which."""
    if changed is None:
        return {}
    shown = ", ".join(changed[:6]) + (
        f", ... ({len(changed) - 6} more)" if len(changed) > 6 else ""
    )
    count = f"{len(changed)} partition" + ("" if len(changed) == 1 else "s")
    return {"changed": count + (f": {shown}" if changed else "")}


def _export_several(args: argparse.Namespace) -> int:
    """``export`` of several histories: one Parquet dataset, partitioned by history and month."""
    from .export import export_histories

    if args.format != "parquet":
        return _fail(
            EXIT_USAGE,
            f"{PROG} export: several histories are exported as one Parquet dataset "
            f"(partitioned by history and month); --format {args.format} takes one --db",
        )
    try:
        with _warnings_as_lines("export"):
            result = export_histories(
                args.histories, args.outdir, update=args.update, **_scope(args)
            )
    except (TypeError, ValueError) as exc:
        return _fail(EXIT_USAGE, f"{PROG} export: {exc}")
    _print_fields(
        {
            "histories": ", ".join(result.databases),
            "written": str(result.outdir),
            "format": "parquet (partitioned by history and month)",
            "jobs": str(result.jobs),
            "outputs": str(result.outputs),
            "files": str(len(result.files)),
            **_changed_field(result.changed),
        }
    )
    return EXIT_OK


def _cmd_sample(args: argparse.Namespace) -> int:
    from .samples import write_results

    try:
        paths = write_results(args.outdir, args.jobs, seed=args.seed)
    except OSError as exc:
        return _fail(EXIT_OUTPUT, f"{PROG} sample: cannot write {args.outdir}: {exc}")
    shown = escape_control(str(args.outdir))
    print(f"wrote {len(paths)} synthetic result files to {shown} (seed {args.seed})")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from .history import open_fabric
    from .report import write_report

    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        why = "is a folder" if out.is_dir() else f"folder {out.parent} does not exist"
        return _fail(EXIT_OUTPUT, f"{PROG} report: cannot write {out}: {why}")
    given: Any = args.histories or resolve_storage_path(args.db)
    # Every check, every row decoded, here: a bad database is exit 3 with its reason.
    with open_fabric(given) as fabric:
        members = [fabric.history(n) for n in fabric.names] if args.histories else [fabric]
        for member in members:
            member.persistence.storage.check_stored_rows()
        scope = _scope(args)
        try:
            with _warnings_as_lines("report"):
                written = write_report(fabric, out, title=args.title, **scope)
        except (TypeError, ValueError) as exc:
            return _fail(EXIT_USAGE, f"{PROG} report: {exc}")
        except OSError as exc:
            return _fail(EXIT_OUTPUT, f"{PROG} report: cannot write {out}: {exc}")
        db = ", ".join(str(m.path) for m in members)
    print(f"wrote {escape_control(f'{out}: the report of {db}')} ({written.jobs} jobs)")
    return EXIT_OK


# -- helpers ----------------------------------------------------------------------


def _add_scope_options(parser: argparse.ArgumentParser, *, status: bool = False) -> None:
    """The job filters of ``fabric.jobs()`` as options (repeat one to give several values)."""
    scope = parser.add_argument_group(
        "scope", "which jobs (as fabric.jobs() selects them; repeat an option for several values)"
    )
    scope.add_argument(
        "--since", metavar="WHEN", help="jobs started at or after WHEN: 2026-09-01, "
        "2026-09-01T12:00Z, or a span back from now such as 7d, 4w, 12h"
    )  # fmt: skip
    scope.add_argument("--until", metavar="WHEN", help="jobs started before WHEN (as --since)")
    if status:
        scope.add_argument(
            "--status", action="append", metavar="STATUS",
            help="final status: COMPLETED, FAILED or PARTIAL",
        )  # fmt: skip
    scope.add_argument("--engine", action="append", metavar="NAME", help="engine_used")
    scope.add_argument("--profile", action="append", metavar="NAME", help="canonical_proxy_profile")


def _scope(args: argparse.Namespace) -> dict[str, Any]:
    """The filters given by :func:`_add_scope_options`' options, unset ones left out."""
    names = ("since", "until", "status", "engine", "profile")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


@contextlib.contextmanager
def _warnings_as_lines(command: str) -> Iterator[None]:
    """Warnings raised inside, each printed as one ``fabric-nb COMMAND: warning:`` line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                _fail(EXIT_OK, f"{PROG} {command}: warning: {warning.message}")


def _fail(code: int, message: str) -> int:
    """Print ``message`` as one line on stderr, control characters escaped; return ``code``."""
    print(" ".join(escape_control(message).split()), file=sys.stderr)
    return code


def _print_fields(fields: Mapping[str, str]) -> None:
    """``name: value`` lines, aligned; values come from data, so they are escaped."""
    shown = {name: escape_control(value) for name, value in fields.items()}
    width = max(len(name) for name in shown) + 2
    for name, value in shown.items():
        print(f"{name + ':':<{width}}{value}")


def _print_counts(counts: Mapping[str, int] | Mapping[str | None, int]) -> None:
    if not counts:
        print("  -")
        return
    # Cut, so one huge value (another tool's 200 kB engine name) pads no line.
    names = ["(none)" if key is None else cut_text(escape_control(key)) for key in counts]
    width = max(len(name) for name in names) + 2
    for name, value in zip(names, counts.values(), strict=True):
        print(f"  {name:<{width}}{value}")
