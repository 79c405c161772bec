"""Does a file hold exactly Fabric's schema? The whole of it, not just column names.

A file that says ``user_version = 1`` is only Fabric's if its ``sqlite_master``
holds the objects :mod:`fabric_nb.schema` creates and nothing else: the
``jobs`` table as declared (types, ``NOT NULL``, the ``PRIMARY KEY``, no
collation, no other constraint), the four indexes with their ``WHERE``
clauses, the index SQLite makes for the primary key, and no trigger, view or
other table. Anything else would change what Fabric stores without an error
(a ``COLLATE NOCASE`` merges ids, a trigger deletes rows, a missing primary
key duplicates them), so it is refused as corruption.

Statements are compared token by token, so the variations SQLite itself
allows without changing the meaning are accepted: whitespace and comments,
the case of keywords and names, and the quoting of the table, column and
index names (``"job_id"``, ``[job_id]``, `` `job_id` ``). The statistics
tables ``ANALYZE`` creates (``sqlite_stat1``, ``sqlite_stat4``) are accepted
too: they only guide SQLite's query planner and hold no data of Fabric's.
Everything else is a difference.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from .schema import INDEX_STATEMENTS, JOB_COLUMNS, TABLE_STATEMENT

__all__ = ["ANALYZE_TABLES", "schema_differences", "sql_tokens"]

#: The tables ``ANALYZE`` may add, with the statement SQLite writes for each.
ANALYZE_TABLES: Final[dict[str, str]] = {
    "sqlite_stat1": "CREATE TABLE sqlite_stat1(tbl,idx,stat)",
    "sqlite_stat4": "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)",
}

_TOKEN: Final[re.Pattern[str]] = re.compile(
    r"""
    (?P<skip>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
    |(?P<string>'(?:[^']|'')*')
    |(?P<quoted>"(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`)
    |(?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    |(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
    |(?P<symbol><>|<=|>=|==|!=|\|\||<<|>>|.)
    """,
    re.S | re.X,
)

#: Names Fabric's schema uses: a quoted spelling of one of these is the same name.
_NAMES: Final[frozenset[str]] = frozenset(
    {"JOBS", *(name.upper() for name, _ in JOB_COLUMNS)}
    | {statement.split()[2].upper() for statement in INDEX_STATEMENTS}
)


def sql_tokens(sql: str) -> tuple[str, ...]:
    """The tokens of ``sql`` as SQLite reads them, spelled one way.

    Whitespace and comments are dropped; keywords and names are upper-cased
    (SQLite ignores their case); a quoted name that is one of Fabric's names
    becomes that name. Any other quoted identifier keeps its quotes, so it
    never compares equal to a keyword.
    """
    tokens = []
    for match in _TOKEN.finditer(sql):
        kind, text = match.lastgroup, match.group()
        if kind == "skip":
            continue
        if kind == "word":
            text = text.upper()
        elif kind == "quoted":
            inner = text[1:-1]
            if inner.upper() in _NAMES:
                text = inner.upper()
        tokens.append(text)
    return tuple(tokens)


_Entry = tuple[str, str, str, str | None]  # type, name, tbl_name, sql of sqlite_master

_EXPECTED: Final[dict[tuple[str, str], tuple[str, tuple[str, ...] | None]]] = {
    ("table", "jobs"): ("jobs", sql_tokens(TABLE_STATEMENT)),
    ("index", "sqlite_autoindex_jobs_1"): ("jobs", None),
    **{
        ("index", statement.split()[2].lower()): ("jobs", sql_tokens(statement))
        for statement in INDEX_STATEMENTS
    },
}
_ALLOWED_EXTRA: Final[dict[tuple[str, str], tuple[str, tuple[str, ...] | None]]] = {
    ("table", name): (name, sql_tokens(statement)) for name, statement in ANALYZE_TABLES.items()
}


def schema_differences(entries: Iterable[_Entry]) -> list[str]:
    """How the rows of ``sqlite_master`` differ from Fabric's schema; empty when they do not.

    :param entries: ``(type, name, tbl_name, sql)`` of every row of ``sqlite_master``.
    :returns: one sentence per difference, in a stable order.
    """
    problems = []
    seen = set()
    for kind, name, table, sql in sorted(entries, key=lambda e: (e[0], e[1].lower())):
        key = (kind, name.lower())
        expected = _EXPECTED.get(key) or _ALLOWED_EXTRA.get(key)
        if expected is None:
            problems.append(f"it holds {kind} {name!r}, which Fabric's schema does not have")
            continue
        seen.add(key)
        owner, tokens = expected
        actual = None if sql is None else sql_tokens(sql)
        if table.lower() != owner or actual != tokens:
            if key == ("table", "jobs"):
                problems.append(
                    "the jobs table is missing or has other columns, types, constraints "
                    "or collations than Fabric's"
                )
            else:
                problems.append(f"{kind} {name!r} is not defined as in Fabric's schema")
    for kind, name in _EXPECTED:
        if (kind, name) not in seen:
            if name == "jobs":
                problems.append("the jobs table is missing or has other columns")
            else:
                problems.append(f"{kind} {name!r} of Fabric's schema is missing")
    return problems
