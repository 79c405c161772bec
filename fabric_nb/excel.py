"""Jobs and outputs frames as an Excel workbook, for people who work in spreadsheets.

What ``fabric-nb export --format xlsx`` writes (one workbook, a ``jobs`` sheet
and an ``outputs`` sheet) and what :func:`write_excel` writes from frames.
openpyxl writes it, row by row in its write-only mode, so memory stays flat
however many rows; it is the ``excel`` extra (``pip install
'fabric-nb[excel]'``), and without it :class:`MissingExtraError` says so.

Excel cannot hold everything a frame holds, and the workbook says what it
changed rather than change it silently:

- **Time zones**: Excel has none. Timestamps are written in UTC without an
  offset, and their column header says so: ``started_at (UTC)``. Excel keeps
  them to the millisecond.
- **Formulas**: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
  or a line break gets a ``'`` in front, as CSV exports do
  (:data:`fabric_nb.export.FORMULA_STARTS`), unless ``raw=True``. Even then
  every text cell is written as text: no cell is ever a formula.
- **Control characters** that the file format cannot carry (C0 controls
  other than tab, line feed and carriage return) are written as ``\\xNN``.
- **Integers** beyond 2**53, which Excel's numbers cannot hold exactly,
  are written as text, exact.
- **Limits**: a sheet holds 1,048,575 rows under its header and a cell
  32,767 characters. Past either, :class:`ExportError` names the sheet and
  the row's job, and nothing is written: narrow the export (``--since``) or
  use Parquet or CSV, which have no such limit.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from .errors import ExportError, MissingExtraError

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

__all__ = [
    "EXCEL_MAX_CELL",
    "EXCEL_MAX_ROWS",
    "ExcelBook",
    "require_openpyxl",
    "write_excel",
]

#: Rows an Excel sheet holds below its header row.
EXCEL_MAX_ROWS: Final[int] = 1_048_575
#: Characters an Excel cell holds.
EXCEL_MAX_CELL: Final[int] = 32_767
#: The largest integer Excel's numbers (IEEE doubles) hold exactly.
_EXACT_INTEGER: Final[int] = 2**53
#: First characters that make a spreadsheet read a cell as a formula (as CSV exports).
_FORMULA_STARTS: Final[str] = "=+-@\t\r\n"
#: Characters the workbook format cannot carry (openpyxl refuses them).
_UNWRITABLE: Final[re.Pattern[str]] = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: Column widths, in characters: at least the header's, at most this.
_WIDEST_COLUMN: Final = 40


def require_openpyxl() -> None:
    """Refuse, naming the extra, when openpyxl is not installed."""
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            "writing Excel needs openpyxl, which is not installed: pip install 'fabric-nb[excel]'"
        ) from exc


def _text_cells(raw: bool) -> Callable[[str], str]:
    def cell(value: str) -> str:
        value = _UNWRITABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
        if not raw and value[:1] and value[0] in _FORMULA_STARTS:
            value = "'" + value
        return value

    return cell


def _column_values(column: pd.Series, text: Callable[[str], str]) -> list[Any]:
    """A frame column as the Python values openpyxl writes (``None`` for a missing value)."""
    dtype = column.dtype
    missing = column.isna().to_numpy(dtype=bool)
    if isinstance(dtype, pd.DatetimeTZDtype):
        naive = column.dt.tz_convert("UTC").dt.tz_localize(None)
        values: list[Any] = list(naive.dt.to_pydatetime())
    elif isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or dtype is np.dtype(object):
        values = [None if gone else text(str(v)) for v, gone in zip(column, missing, strict=True)]
        return values
    elif pd.api.types.is_bool_dtype(dtype):
        values = [bool(v) for v in column.to_numpy(dtype=object, na_value=False)]
    elif pd.api.types.is_integer_dtype(dtype):
        values = [
            int(v) if abs(int(v)) <= _EXACT_INTEGER else str(int(v))
            for v in column.to_numpy(dtype=object, na_value=0)
        ]
    else:
        values = [float(v) for v in column.to_numpy(dtype=float, na_value=np.nan)]
    return [None if gone else v for v, gone in zip(values, missing, strict=True)]


def _headers(frame: pd.DataFrame) -> list[str]:
    return [
        f"{name} (UTC)" if isinstance(dtype, pd.DatetimeTZDtype) else str(name)
        for name, dtype in frame.dtypes.items()
    ]


class ExcelBook:
    """A workbook written sheet by sheet, a frame at a time, then saved once.

    ``append(sheet, frame)`` adds the frame's rows below those already in
    ``sheet`` (the first call writes its header); ``save()`` writes the file.
    The sheets stream to temporary files meanwhile, so memory does not grow
    with the rows. Used as a context manager, a book left without ``save()``
    (an error on the way) removes those temporary files.

    :raises MissingExtraError: openpyxl is not installed.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, raw: bool = False, name: str | None = None
    ) -> None:
        require_openpyxl()
        from openpyxl import Workbook

        self._path = Path(path)
        self._name = name or self._path.name  # what messages call the workbook
        self._book: Workbook = Workbook(write_only=True)
        self._sheets: dict[str, WriteOnlyWorksheet] = {}
        self._rows: dict[str, int] = {}
        self._text = _text_cells(raw)
        self._raw = raw
        self._saved = False

    def _sheet(self, name: str, frame: pd.DataFrame) -> WriteOnlyWorksheet:
        sheet = self._sheets.get(name)
        if sheet is None:
            from openpyxl.utils import get_column_letter

            sheet = self._book.create_sheet(name)
            headers = _headers(frame)
            for i, header in enumerate(headers, start=1):
                width = min(max(len(header) + 2, 12), _WIDEST_COLUMN)
                sheet.column_dimensions[get_column_letter(i)].width = width
            sheet.freeze_panes = "A2"
            sheet.append(headers)
            self._sheets[name] = sheet
            self._rows[name] = 0
        return sheet

    def append(self, name: str, frame: pd.DataFrame) -> None:
        """Add ``frame``'s rows to sheet ``name``.

        :raises ExportError: the sheet would pass :data:`EXCEL_MAX_ROWS`, or a
            cell :data:`EXCEL_MAX_CELL` (the message names the row's job).
        """
        sheet = self._sheet(name, frame)
        total = self._rows[name] + len(frame)
        if total > EXCEL_MAX_ROWS:
            raise ExportError(
                f"{self._name}: sheet {name!r} would need {total:,} rows and Excel holds "
                f"{EXCEL_MAX_ROWS:,}; narrow the export (--since, --until) or use parquet or csv"
            )
        columns = [_column_values(frame[c], self._text) for c in frame.columns]
        self._check_lengths(name, frame, columns)
        rows: Iterator[Sequence[Any]] = zip(*columns, strict=True)
        if self._raw:
            rows = (self._as_text(sheet, row) for row in rows)
        for row in rows:
            sheet.append(row)
        self._rows[name] = total

    @staticmethod
    def _as_text(sheet: WriteOnlyWorksheet, row: Sequence[Any]) -> Sequence[Any]:
        """``row`` with each text that openpyxl would write as a formula made a text cell."""
        if not any(isinstance(v, str) and v.startswith("=") for v in row):
            return row
        from openpyxl.cell import WriteOnlyCell

        cells: list[Any] = []
        for value in row:
            if isinstance(value, str) and value.startswith("="):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                cells.append(cell)
            else:
                cells.append(value)
        return cells

    def _check_lengths(self, name: str, frame: pd.DataFrame, columns: list[list[Any]]) -> None:
        for column, values in zip(frame.columns, columns, strict=True):
            for row, value in enumerate(values):
                if isinstance(value, str) and len(value) > EXCEL_MAX_CELL:
                    job = frame["job_id"].iloc[row] if "job_id" in frame.columns else row
                    raise ExportError(
                        f"{self._name}: sheet {name!r}, job {str(job)[:60]!r}: "
                        f"{column} holds {len(value):,} characters and an Excel cell "
                        f"{EXCEL_MAX_CELL:,}; use parquet or csv, which keep it whole"
                    )

    def save(self) -> None:
        """Write the workbook to its path (a sheet never appended to is not in it)."""
        self._book.save(self._path)
        self._saved = True

    def discard(self) -> None:
        """Drop what was appended: close each sheet and remove its temporary file."""
        for sheet in self._sheets.values():
            with contextlib.suppress(Exception):  # a sheet stopped mid-row cannot finish
                sheet.close()
            writer = getattr(sheet, "_writer", None)
            with contextlib.suppress(Exception):
                if writer is not None:
                    writer.cleanup()
        self._sheets.clear()

    def __enter__(self) -> ExcelBook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._saved:
            self.discard()


def write_excel(
    path: str | os.PathLike[str],
    jobs: pd.DataFrame,
    outputs: pd.DataFrame | None = None,
    *,
    raw: bool = False,
) -> Path:
    """Write a jobs frame (and an outputs frame) to the workbook ``path``.

    Any frame works, a filtered one or a summary: its columns become the
    sheet's (a summary's index too, as its first columns), ``jobs`` in sheet
    ``jobs`` and ``outputs`` in sheet ``outputs``.
    The file is written whole or not at all (through a temporary file beside
    it, then a rename), owner-only (``0600``).

    :raises MissingExtraError: openpyxl is not installed.
    :raises ExportError: a sheet or a cell passes Excel's limits.
    :raises OSError: the file cannot be written.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    sheets: Mapping[str, pd.DataFrame | None] = {"jobs": jobs, "outputs": outputs}
    try:
        with ExcelBook(temporary, raw=raw, name=target.name) as book:
            _append_all(book, sheets)
            book.save()
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def _append_all(book: ExcelBook, sheets: Mapping[str, pd.DataFrame | None]) -> None:
    """Each frame given into its sheet; a summary's index as its first columns."""
    for name, frame in sheets.items():
        if frame is not None:
            named_index = not isinstance(frame.index, pd.RangeIndex) or any(
                n is not None for n in frame.index.names
            )
            book.append(name, frame.reset_index() if named_index else frame)
