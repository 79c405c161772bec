"""Nothing from data reaches a terminal raw: control characters are escaped.

Stored engine and profile names, job ids and file names can hold escape
sequences (clear the screen, retitle the terminal), newlines that forge
report lines, C1 controls and bidirectional overrides. Every command runs in
a real process on a real store; its output must hold none of them raw, show
them escaped, keep one line per fact, and ``--json`` must still parse to the
exact stored values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import RunCli, make_result, write_result

from fabric_nb._safe_text import escape_control, escape_json_text

CLEAR = "\x1b[2J\x1b]0;owned\x07"
FORGE = "resolve\nrejected: 0\nby status:"
C1 = "csi\x9b31m"
BIDI = "gpj.\u202eexe"
RAW = ["\x1b", "\x07", "\x9b", "\u202e", "\r"]


@pytest.fixture
def hostile(tmp_path: Path, run_cli: RunCli) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i, (engine, profile) in enumerate([(CLEAR, FORGE), (C1, BIDI)]):
        doc = make_result(job_id=f"job-{i}\x1b[8m")
        doc["_metadata"] = {"engine_used": engine, "proxy_profile_used": profile}
        write_result(folder, doc, f"{i}.json")
    write_result(folder, b"{}", "evil\n\x1b[31mrejected: none\r.json")
    done = run_cli("--db", tmp_path / "f.db", "ingest", folder)
    assert done.returncode == 1  # the evil file is rejected, the two jobs stored
    return folder


def assert_nothing_raw(*streams: str) -> None:
    for text in streams:
        for char in RAW:
            assert char not in text, (char, text)


def test_ingest_escapes_rejected_file_names(tmp_path: Path, hostile: Path, run_cli: RunCli) -> None:
    # --strict lists the file the fixture's run rejected again (it is unchanged since).
    done = run_cli("--db", tmp_path / "f.db", "ingest", "--strict", hostile)
    assert_nothing_raw(done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert lines == [
        f"rejected: {hostile}/evil\\n\\x1b[31mrejected: none\\r.json: "
        "Missing required fields: job_id, final_status, started_at, clips"
    ]


def test_info_prints_stored_names_escaped_one_line_each(
    tmp_path: Path, hostile: Path, run_cli: RunCli
) -> None:
    done = run_cli("--db", tmp_path / "f.db", "info")
    assert done.returncode == 0, done.stderr
    assert_nothing_raw(done.stdout, done.stderr)
    out = done.stdout
    assert "  \\x1b[2J\\x1b]0;owned\\x07  1" in out
    assert "  resolve\\nrejected: 0\\nby status:  1" in out
    assert "csi\\x9b31m" in out
    assert "gpj.\\u202eexe" in out
    lines = out.splitlines()
    assert [line for line in lines if line.startswith(("by status:", "rejected:"))] == [
        "by status:"
    ]


def test_info_json_stays_exact_and_holds_nothing_raw(
    tmp_path: Path, hostile: Path, run_cli: RunCli
) -> None:
    done = run_cli("--db", tmp_path / "f.db", "info", "--json")
    assert done.returncode == 0, done.stderr
    assert_nothing_raw(done.stdout)
    report = json.loads(done.stdout)
    assert {row["engine"] for row in report["by_engine"]} == {CLEAR, C1}
    assert {row["profile"] for row in report["by_profile"]} == {FORGE, BIDI}


def test_errors_naming_data_are_escaped(tmp_path: Path, run_cli: RunCli) -> None:
    db = tmp_path / "evil\x1b[2J.db"
    db.mkdir()
    done = run_cli("--db", db, "check")
    assert done.returncode == 1
    assert_nothing_raw(done.stderr)
    assert "evil\\x1b[2J.db: it is a directory" in done.stderr


def test_the_helpers() -> None:
    assert escape_control("plain é ü 漢字 text") == "plain é ü 漢字 text"
    assert escape_control("a\tb\x00\x7f\u200b\U000e0041") == "a\\tb\\x00\\x7f\\u200b\\U000e0041"
    text = json.dumps({"k": "\x7f\x9b\u202e\U000e0041 ok é"}, ensure_ascii=False, indent=2)
    safe = escape_json_text(text)
    assert json.loads(safe) == json.loads(text)
    assert safe.isascii() or all(c.isprintable() or c in " \n" for c in safe)
