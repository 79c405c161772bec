"""The names of the export formats, importable without the data stack.

:mod:`fabric_nb.export` writes them; the command line offers them as the
choices of ``fabric-nb export --format`` without importing pyarrow to do so.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["EXPORT_FORMATS", "ExportFormat"]

#: The export formats, as a type: ``"parquet"``, ``"csv"`` or ``"xlsx"``.
ExportFormat = Literal["parquet", "csv", "xlsx"]
#: The formats :func:`fabric_nb.export.export_history` writes, the default first.
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = ("parquet", "csv", "xlsx")
