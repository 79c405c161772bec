"""Excel: ``fabric-nb export --format xlsx`` and :func:`fabric_nb.excel.write_excel`.

The workbook is read back with openpyxl and compared, cell by cell, with the
frames of the same history: timestamps in UTC without an offset (headers say
UTC), formulas defused as in CSV, control characters and huge integers
written so nothing is lost, Excel's limits refused by name with nothing
written, and a clear error naming the extra when openpyxl is missing.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from support import RunCli, build_store, cli_env, make_job, make_output, sample_jobs, sha256_of

import fabric_nb.excel
from fabric_nb import open_fabric
from fabric_nb.errors import ExportError, MissingExtraError
from fabric_nb.excel import EXCEL_MAX_CELL, write_excel
from fabric_nb.export import export_history, write_export

START = datetime(2026, 9, 14, 8, 30, 15, 123456, tzinfo=UTC)


def odd_jobs() -> list[Any]:
    formula = '=HYPERLINK("http://x.example","click")'
    return [
        make_job(
            "=cmd|' /C calc'!A0",
            final_status="FAILED",
            started_at=START,
            completed_at=START + timedelta(seconds=90.5),
            validation_error=formula,
            engine_used="@resolve",
            outputs=(
                make_output(
                    "=cmd|' /C calc'!A0",
                    0,
                    status="FAILED",
                    failure_reason="bad \x1b[2J byte\x00 here\ttab",
                    output_size_bytes=2**62,
                ),
            ),
            total_clips=1,
            completed_clips=0,
            failed_clips=1,
        ),
        make_job("plain", started_at=START + timedelta(days=40), completed_at=None),
    ]


def sheet_rows(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(path)
    return [tuple(c.value for c in row) for row in book[sheet].iter_rows()]


def cell_types(path: Path, sheet: str) -> list[tuple[str, ...]]:
    book = openpyxl.load_workbook(path)
    return [tuple(c.data_type for c in row) for row in book[sheet].iter_rows()]


def naive_ms(moment: Any) -> Any:
    """What Excel keeps of an instant: UTC, no offset, milliseconds."""
    if moment is None or moment is pd.NaT:
        return None
    utc = pd.Timestamp(moment).tz_convert(UTC).tz_localize(None)
    return utc.round("ms").to_pydatetime()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("excel") / "fabric.db", odd_jobs())


def test_the_workbook_holds_the_frames_cell_for_cell(
    run_cli: RunCli, history: Path, tmp_path: Path
) -> None:
    before = sha256_of(history)
    done = run_cli("export", tmp_path / "out", "--db", history, "--format", "xlsx")
    assert done.returncode == 0, done.stderr
    assert sha256_of(history) == before
    workbook = tmp_path / "out" / "history.xlsx"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["history.xlsx"]
    assert workbook.stat().st_mode & 0o777 == 0o600
    assert openpyxl.load_workbook(workbook).sheetnames == ["jobs", "outputs"]
    with open_fabric(history) as fabric:
        frames = {"jobs": fabric.jobs(), "outputs": fabric.outputs()}
    for sheet, frame in frames.items():
        header, *rows = sheet_rows(workbook, sheet)
        expected_header = [
            f"{c} (UTC)" if isinstance(t, pd.DatetimeTZDtype) else c
            for c, t in frame.dtypes.items()
        ]
        assert list(header) == expected_header
        assert len(rows) == len(frame)
        for row, (_, record) in zip(rows, frame.iterrows(), strict=True):
            for value, (column, original) in zip(row, record.items(), strict=True):
                dtype = frame[column].dtype
                if pd.isna(original):
                    assert value is None, column
                elif isinstance(dtype, pd.DatetimeTZDtype):
                    assert value == naive_ms(original), column
                elif isinstance(original, str) or isinstance(dtype, pd.CategoricalDtype):
                    text = str(original).replace("\x1b", "\\x1b").replace("\x00", "\\x00")
                    shown = "'" + text if text[0] in "=+-@\t\r\n" else text
                    assert value == shown, column
                elif column == "output_size_bytes" and original > 2**53:
                    assert value == str(original)  # past 2**53: text, exact
                else:
                    assert value == original, column


def test_formulas_are_defused_and_raw_keeps_text_as_text(history: Path, tmp_path: Path) -> None:
    export_history(history, tmp_path / "safe", fmt="xlsx")
    export_history(history, tmp_path / "raw", fmt="xlsx", raw_csv=True)
    safe = sheet_rows(tmp_path / "safe" / "history.xlsx", "jobs")
    raw = sheet_rows(tmp_path / "raw" / "history.xlsx", "jobs")
    assert safe[1][0] == "'=cmd|' /C calc'!A0"
    assert raw[1][0] == "=cmd|' /C calc'!A0"
    assert safe[1][7] == "'@resolve"
    assert raw[1][7] == "@resolve"
    # Even raw, no cell is a formula: every text is a text cell.
    types = {t for row in cell_types(tmp_path / "raw" / "history.xlsx", "jobs") for t in row}
    assert "f" not in types


def test_a_summary_frame_keeps_its_index(history: Path, tmp_path: Path) -> None:
    with open_fabric(history) as fabric:
        counts = fabric.status_counts(by="engine_used")
    path = write_excel(tmp_path / "counts.xlsx", counts)
    header, *rows = sheet_rows(path, "jobs")
    assert header == ("engine_used", "final_status", "count", "total", "share")
    assert len(rows) == len(counts)
    assert rows[0][:3] == ("'@resolve", "COMPLETED", 0)


def test_a_cell_past_excels_limit_is_refused_and_nothing_written(tmp_path: Path) -> None:
    long = make_job("long", validation_error="x" * (EXCEL_MAX_CELL + 1))
    db = build_store(tmp_path / "long.db", [long])
    with pytest.raises(ExportError, match=r"sheet 'jobs', job 'long': validation_error holds"):
        export_history(db, tmp_path / "out", fmt="xlsx")
    assert not (tmp_path / "out").exists()
    # Parquet and CSV keep it whole.
    assert export_history(db, tmp_path / "csv", fmt="csv").jobs == 1


def test_a_sheet_past_excels_rows_is_refused_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = build_store(tmp_path / "many.db", sample_jobs(40))
    monkeypatch.setattr(fabric_nb.excel, "EXCEL_MAX_ROWS", 30)  # the rule, at a testable size
    with pytest.raises(ExportError, match=r"sheet '\w+' would need \d+ rows and Excel holds 30"):
        export_history(db, tmp_path / "out", fmt="xlsx")
    assert not (tmp_path / "out").exists()
    target = tmp_path / "frames.xlsx"
    target.write_bytes(b"the previous file")
    with open_fabric(db) as fabric, pytest.raises(ExportError, match="would need"):
        write_excel(target, fabric.jobs())
    assert target.read_bytes() == b"the previous file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.xlsx", "many.db"]


def test_write_export_writes_excel_too(history: Path, tmp_path: Path) -> None:
    with open_fabric(history) as fabric:
        jobs, outputs = fabric.jobs(), fabric.outputs()
    files = write_export(jobs, outputs, tmp_path / "out", fmt="xlsx")
    assert files == (Path("history.xlsx"),)
    assert len(sheet_rows(tmp_path / "out" / "history.xlsx", "outputs")) == len(outputs) + 1


def test_an_empty_history_has_both_sheets_with_headers(tmp_path: Path) -> None:
    db = build_store(tmp_path / "empty.db", [])
    result = export_history(db, tmp_path / "out", fmt="xlsx")
    assert (result.jobs, result.outputs) == (0, 0)
    workbook = tmp_path / "out" / "history.xlsx"
    assert sheet_rows(workbook, "jobs")[0][:3] == ("job_id", "final_status", "started_at (UTC)")
    assert len(sheet_rows(workbook, "outputs")) == 1


BLOCK_OPENPYXL = "import sys; sys.modules['openpyxl'] = None; "


def test_without_openpyxl_the_error_names_the_extra(history: Path, tmp_path: Path) -> None:
    code = BLOCK_OPENPYXL + "from fabric_nb.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "export", str(tmp_path / "out"), "--db", str(history),
         "--format", "xlsx"],
        env=cli_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "fabric-nb export: writing Excel needs openpyxl, which is not installed: "
        "pip install 'fabric-nb[excel]'\n"
    )
    assert not (tmp_path / "out").exists()
    # Everything else works without it.
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_OPENPYXL + "import fabric_nb.export, fabric_nb.excel"],
        env=cli_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_missing_extra_is_an_import_error_too() -> None:
    assert issubclass(MissingExtraError, ImportError)
