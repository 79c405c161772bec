"""docs/scale.md documents the dataset's schema column by column: held to the code."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from fabric_nb.export import JOBS_ARROW_SCHEMA, OUTPUTS_ARROW_SCHEMA
from fabric_nb.frames import JOBS_FRAME_DTYPES, OUTPUTS_FRAME_DTYPES

DOC = (Path(__file__).resolve().parent.parent / "docs" / "scale.md").read_text(encoding="utf-8")


def documented(table: str) -> list[tuple[str, str, str]]:
    """(column, Arrow type, null) rows of the ``### `table` `` section's table."""
    section = DOC.split(f"### `{table}`\n", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| `([^`]+)` \| ([^|]+) \|$", section, flags=re.M)
    return [(name, kind, null.strip()) for name, kind, null in rows]


@pytest.mark.parametrize(
    ("table", "schema"), [("jobs", JOBS_ARROW_SCHEMA), ("outputs", OUTPUTS_ARROW_SCHEMA)]
)
def test_every_column_is_documented_in_order_with_its_arrow_type(
    table: str, schema: pa.Schema
) -> None:
    rows = documented(table)
    assert [(name, kind) for name, kind, _ in rows] == [(f.name, str(f.type)) for f in schema]


@pytest.mark.parametrize(
    ("table", "dtypes"), [("jobs", JOBS_FRAME_DTYPES), ("outputs", OUTPUTS_FRAME_DTYPES)]
)
def test_a_column_said_never_null_has_a_dtype_or_a_rule_that_keeps_it(
    table: str, dtypes: dict[str, object]
) -> None:
    """A column documented as null-able must be one whose frame dtype can hold a missing value."""
    for name, _, null in documented(table):
        if not null.startswith("never"):
            assert str(dtypes[name]) in {"string", "Int64", "Float64", "boolean"} or str(
                dtypes[name]
            ).startswith("datetime64"), (name, dtypes[name])
