"""Strict ingestion never picks for the user: duplicate keys and sub-microsecond times.

``json`` and msgspec both keep the last value of a key written twice, and
``datetime.fromisoformat`` drops digits beyond the microsecond, all without
a word. Each is now a refusal naming the key or the value, through the real
file reader (and the command line), wherever in the document it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import RunCli, make_result

from fabric_nb import IngestionError, ingest_execution_result


def duplicated(key: str, first: object, second: object, where: str = "top") -> str:
    """A valid result as text, with ``key`` written twice in one object."""
    doc = make_result(job_id="job-1")
    text = json.dumps(doc)
    pair = f"{json.dumps(key)}: {json.dumps(first)}, {json.dumps(key)}: {json.dumps(second)}, "
    if where == "top":
        return "{" + pair + text[1:]
    if where == "clip":
        return text.replace('"clips": [{', '"clips": [{' + pair, 1)
    if where == "metadata":
        return text.replace('"_metadata": {', '"_metadata": {' + pair, 1)
    raise AssertionError(where)


CASES = {
    "two job_ids": ("job_id", duplicated("job_id", "a", "b")),
    "a known key twice in a clip": ("status", duplicated("status", "FAILED", "COMPLETED", "clip")),
    "an unknown key twice": ("note", duplicated("note", 1, 2)),
    "twice in _metadata": ("engine_used", duplicated("engine_used", "a", "b", "metadata")),
    "spelled once with an escape": (
        "job_id",
        '{"job_\\u0069d": "a", ' + json.dumps(make_result(job_id="b"))[1:],
    ),
    "nested in an unknown object": (
        "k",
        duplicated("extra", {"k": 1}, 0).replace('"extra": {"k": 1}', '"extra": {"k": 1, "k" : 2}'),
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_key_written_twice_is_refused_naming_it(tmp_path: Path, case: str) -> None:
    key, text = CASES[case]
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(IngestionError) as caught:
        ingest_execution_result(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: Invalid JSON: the key {key!r} appears twice")


def test_a_quote_colon_inside_a_value_is_not_a_key(tmp_path: Path) -> None:
    doc = make_result(job_id='a":b', _metadata={"validation_error": 'x" : y'})
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert ingest_execution_result(path).job_id == 'a":b'


FRACTIONS = {
    "seven digits": ("2026-01-05T10:00:00.1234567+00:00", False),
    "nanoseconds": ("2026-01-05T10:00:00.123456789Z", False),
    "comma separator": ("2026-01-05T10:00:00,0000001+00:00", False),
    "trailing zeros only": ("2026-01-05T10:00:00.123456000+00:00", True),
    "microseconds": ("2026-01-05T10:00:00.123456+00:00", True),
}


@pytest.mark.parametrize("case", FRACTIONS, ids=list(FRACTIONS))
@pytest.mark.parametrize("field", ["started_at", "completed_at"])
def test_fractions_beyond_the_microsecond_are_refused_not_truncated(
    tmp_path: Path, case: str, field: str
) -> None:
    value, accepted = FRACTIONS[case]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(make_result(job_id="j", **{field: value})), encoding="utf-8")

    if accepted:
        assert getattr(ingest_execution_result(path), field).microsecond == 123456
        return
    with pytest.raises(IngestionError) as caught:
        ingest_execution_result(path)
    assert str(caught.value) == (
        f"{path}: {field}: expected a timestamp precise to the microsecond at most "
        f"(Fabric does not round), got {value!r}"
    )


def test_the_command_line_rejects_them_by_name_and_stores_the_rest(
    tmp_path: Path, run_cli: RunCli
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.json").write_text(duplicated("job_id", "x", "y"))
    (folder / "b.json").write_text(json.dumps(make_result(job_id="good")))
    done = run_cli("--db", tmp_path / "f.db", "ingest", folder)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"rejected: {folder / 'a.json'}: Invalid JSON: the key 'job_id' appears twice in one "
        "object (Fabric does not pick one of the values)"
    ]
    assert "ingested: 1 (1 new, 0 replaced)" in " ".join(done.stdout.split())
