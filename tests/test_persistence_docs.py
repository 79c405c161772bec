"""docs/persistence.md names, for every guarantee and failure mode of the spec, the
test that proves it. Those names must exist, so the table cannot drift from the suite."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "persistence.md"

SPEC_ROWS = [
    "Durability", "Transactional writes", "Idempotent ingestion", "Deterministic rebuild",
    "Explicit schema", "Corruption detection", "Foreign keys enforced",
    "Schema version explicit", "Auto-migration", "Background compaction",
    "Retention policies", "Deletion", "Data healing", "Schema version mismatch",
    "Database corruption", "Disk full", "Missing storage file",
]  # fmt: skip


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]


def test_every_referenced_test_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    references = re.findall(r"`((?:reliability/)?test_\w+\.py)::(test_\w+)`", text)
    assert len(references) > 40
    missing = [
        f"{module}::{name}"
        for module, name in references
        if name not in defined_tests(ROOT / "tests" / module)
    ]
    assert missing == []


def test_every_spec_guarantee_and_failure_mode_has_a_row_naming_a_test() -> None:
    rows = table_rows(DOC.read_text(encoding="utf-8"))
    for topic in SPEC_ROWS:
        matching = [row for row in rows if row.startswith(f"| {topic}")]
        assert matching, f"no table row for {topic!r}"
        assert all(
            re.search(r"`(?:reliability/)?test_\w+\.py::test_\w+`", row) for row in matching
        ), topic


def test_reliability_section_is_present() -> None:
    assert "\n## Reliability under abuse\n" in DOC.read_text(encoding="utf-8")
