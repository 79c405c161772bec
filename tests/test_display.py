"""``readable``: frames made narrow enough to read, and the notebooks' tables that use it.

The helper is checked on its own (paths shortened from the left keeping the
file name, long text cut, timestamps to the second, nothing else changed),
and the example notebooks' stored tables are measured: none is wider than a
notebook's output area at its default width.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import REPO_ROOT, sample_jobs

from fabric_nb.display import readable, short_path
from fabric_nb.frames import jobs_frame, outputs_frame

#: Characters of table text that fit JupyterLab's output area at its default
#: width in a 1,280 px window (about 1,100 px: 6.5 px a character, padding counted).
OUTPUT_AREA_CHARS = 160
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_a_long_path_keeps_its_file_name() -> None:
    path = "/Volumes/B015_0905CH/Clip/B015C040_260905_R1CH.mov"
    assert short_path(path) == "…/Clip/B015C040_260905_R1CH.mov"
    assert short_path(path, width=len(path)) == path
    assert short_path("/a/" + "x" * 50 + ".mov", width=20) == "…" + ("x" * 50 + ".mov")[-19:]


@given(
    folders=st.lists(st.text("abc_-é ", min_size=1, max_size=12), max_size=6),
    name=st.text("abcdef._0123", min_size=1, max_size=40),
    width=st.integers(8, 60),
)
def test_short_path_fits_and_ends_as_the_path_ends(
    folders: list[str], name: str, width: int
) -> None:
    path = "/".join(["", *folders, name])
    shown = short_path(path, width)
    assert len(shown) <= max(width, len(path) if len(path) <= width else width)
    tail = shown.removeprefix("…")
    assert path.endswith(tail)
    if len(path) > width and len(name) + 2 <= width:
        assert shown.endswith("/" + name)


def test_readable_changes_only_what_is_shown() -> None:
    jobs = sample_jobs(40)
    outputs = outputs_frame(jobs)
    before = outputs.copy()
    shown = readable(outputs, path_width=24, text_width=20)
    pd.testing.assert_frame_equal(outputs, before)  # the frame given is untouched
    assert list(shown.columns) == list(outputs.columns)
    assert shown.dtypes.equals(outputs.dtypes)
    assert shown.index.equals(outputs.index)
    for full, short in zip(outputs["source_path"], shown["source_path"], strict=True):
        assert len(short) <= 24
        assert full.endswith(short.removeprefix("…"))
    reasons = shown["failure_reason"].dropna()
    assert (reasons.str.len() <= 20).all()
    assert (shown["started_at"].dt.microsecond == 0).all()
    assert shown["clip_index"].equals(outputs["clip_index"])
    frame = jobs_frame(jobs)
    assert readable(frame)["job_id"].equals(frame["job_id"])  # short text is left alone
    with pytest.raises(ValueError, match="at least 8"):
        readable(frame, path_width=4)


def table_widths(notebook: Path) -> list[tuple[int, int]]:
    """(cell number, characters of its widest row) of every HTML table a notebook shows."""
    found = []
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for number, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            page = "".join(output.get("data", {}).get("text/html", []))
            widths: dict[int, int] = {}
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
                for i, item in enumerate(re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)):
                    text = html.unescape(re.sub(r"<[^>]+>", "", item)).strip()
                    widths[i] = max(widths.get(i, 0), len(text) + 2)
            if widths:
                found.append((number, sum(widths.values())))
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_table_is_wider_than_the_output_area(notebook: Path) -> None:
    widths = table_widths(notebook)
    assert widths, "the notebook shows tables"
    too_wide = [(cell, chars) for cell, chars in widths if chars > OUTPUT_AREA_CHARS]
    assert too_wide == []
