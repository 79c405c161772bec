"""Wrong types get the same clear errors as wrong values: named, with what was expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import build_store, sample_jobs

import fabric_nb
from fabric_nb import FabricHistory, open_fabric


@pytest.fixture(scope="module")
def fabric(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = build_store(Path(tmp_path_factory.mktemp("wrong")) / "f.db", sample_jobs(120))
    with open_fabric(db) as history:
        yield history


CASES: list[tuple[str, Callable[[FabricHistory], object], type[Exception], str]] = [
    (
        "engine=1",
        lambda f: f.jobs(engine=1),  # type: ignore[arg-type]
        TypeError,
        "engine takes text or a list of text, got int",
    ),
    ("engine=dict", lambda f: f.jobs(engine={"ffmpeg": 1}), TypeError, "got dict"),
    ("status=[1]", lambda f: f.jobs(status=[1]), TypeError, "status takes text .* got int"),  # type: ignore[list-item]
    (
        "status_counts(list)",
        lambda f: fabric_nb.status_counts([1, 2, 3]),  # type: ignore[arg-type]
        TypeError,
        r"status_counts needs a jobs frame or an outputs frame .* got list",
    ),
    (
        "slowest_jobs(list)",
        lambda f: fabric_nb.slowest_jobs([1]),  # type: ignore[arg-type]
        TypeError,
        r"expected a DataFrame from jobs_frame\(\) .* got list",
    ),
    (
        "freq=weekly",
        lambda f: f.daily_counts(freq="weekly"),
        ValueError,
        r"^freq='weekly' is not a pandas frequency: write e.g. 'D' .*'MS' \(months\)$",
    ),
    ("freq=7", lambda f: f.daily_counts(freq=7), TypeError, "freq takes a pandas frequency"),  # type: ignore[arg-type]
    (
        "by typo",
        lambda f: f.status_counts(by="engine"),
        ValueError,
        r"cannot group by 'engine' \(did you mean 'engine_used'\?\): the columns are",
    ),
    ("by=[1]", lambda f: f.status_counts(by=[1]), TypeError, "by takes column names, got int"),  # type: ignore[list-item]
    (
        "since month 13",
        lambda f: f.jobs(since="2026-13-01"),
        ValueError,
        "since='2026-13-01' is not a valid date: month must be in 1..12",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_wrong_type_is_a_clear_error(
    fabric: FabricHistory,
    call: Callable[[FabricHistory], object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message) as caught:
        call(fabric)
    assert "Failed to parse" not in str(caught.value)  # pandas' own message, once, not repeated


def test_a_by_with_no_near_column_lists_the_columns(fabric: FabricHistory) -> None:
    with pytest.raises(
        ValueError, match=r"^cannot group by 'zzz': the columns are job_id, "
    ) as caught:
        fabric.status_counts(by="zzz")
    assert "did you mean" not in str(caught.value)
