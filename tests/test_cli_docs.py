"""``docs/cli.md`` is kept in step with the program's ``--help``.

The docs quote the help of the main parser and of every command verbatim, in
``text`` code blocks; these tests render the help as a user would (a
subprocess) and fail when a word differs. A command added to the parser
without docs fails here too.
"""

from __future__ import annotations

import argparse

import pytest
from support import REPO_ROOT, RunCli

from fabric_nb import cli

DOC = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def command_names() -> list[str]:
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(commands.choices)


COMMANDS = command_names()


def test_the_commands_are_the_documented_ones() -> None:
    assert COMMANDS == [
        "ingest",
        "watch",
        "backup",
        "info",
        "check",
        "export",
        "sample",
        "report",
    ]
    for name in COMMANDS:
        assert f"\n## `fabric-nb {name}`\n" in DOC, f"docs/cli.md has no section for {name}"


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_docs_quote_the_help_verbatim(run_cli: RunCli, command: str) -> None:
    args = [command] if command else []
    done = run_cli(*args, "--help")

    assert done.returncode == 0
    assert done.stderr == ""
    text = done.stdout.rstrip("\n")
    assert f"```text\n{text}\n```\n" in DOC, (
        f"docs/cli.md does not quote `fabric-nb {command} --help` as printed:\n{text}"
    )


@pytest.mark.parametrize("command", ["", "ingest", "watch", "backup"])
def test_help_does_not_depend_on_the_terminal_width(run_cli: RunCli, command: str) -> None:
    args = [command] if command else []
    narrow = run_cli(*args, "--help", env={"COLUMNS": "40"}).stdout
    wide = run_cli(*args, "--help", env={"COLUMNS": "200"}).stdout
    assert narrow == wide
    assert max(len(line) for line in wide.splitlines()) <= cli.HELP_WIDTH


def test_every_exit_code_is_documented() -> None:
    codes = [value for name, value in vars(cli).items() if name.startswith("EXIT_")]
    assert sorted(codes) == [0, 1, 2, 3, 4, 5, 130]
    for code in codes:
        assert f"\n| {code} | " in DOC, f"exit code {code} missing from the table in docs/cli.md"
