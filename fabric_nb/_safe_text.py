"""Text from data, made safe to print on a terminal or in a log.

A stored engine name, a job id or a file name may hold anything: an escape
sequence that clears the screen or retitles the terminal, a newline that
forges a line of a report, a right-to-left override that reorders what is
shown. Everything the command line prints that comes from data goes through
:func:`escape_control`; JSON output goes through :func:`escape_json_text`,
which keeps it exact JSON (the same values once parsed). A job id named in
an error message goes through :func:`short_repr`, so a huge one cannot
swamp the message.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SHOWN_VALUE_MAX", "cut_text", "escape_control", "escape_json_text", "short_repr"]

_NAMED: Final[dict[str, str]] = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_control(text: str) -> str:
    """``text`` with every character that is not printable written as an escape.

    Printable is Python's :meth:`str.isprintable` (the rule ``repr`` uses),
    plus the space: control characters (C0, DEL, C1), format characters such
    as bidirectional overrides and zero-width marks, line and paragraph
    separators, and unassigned or surrogate code points become ``\\n``,
    ``\\x1b``, ``\\u202e``... Printable text, non-ASCII letters included,
    is returned as it is.
    """
    if text.isprintable():
        return text
    return "".join(
        char if char == " " or char.isprintable() else _escape_char(char) for char in text
    )


def _json_escape_char(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_json_text(text: str) -> str:
    """JSON text from ``json.dumps(..., ensure_ascii=False)``, with nothing raw a terminal acts on.

    ``json.dumps`` escapes the C0 controls inside strings but writes DEL, C1
    controls and format characters raw; they become ``\\uXXXX`` escapes,
    which parse back to the same characters. Newlines and spaces outside
    strings (indentation) are kept.
    """
    if text.isprintable():
        return text
    return "".join(
        char if char in " \n" or char.isprintable() else _json_escape_char(char) for char in text
    )


#: The longest a value shown by :func:`short_repr` may be, quotes and "..." included.
_SHORT_REPR_MAX: Final[int] = 60


def short_repr(value: object) -> str:
    """``repr(value)`` for a message, cut to 60 characters (ending ``...``) when longer.

    A job id may be megabytes long; an error message names it, quoted, by
    its start. ``repr`` also escapes control characters in a string.
    """
    shown = repr(value)
    if len(shown) <= _SHORT_REPR_MAX:
        return shown
    return shown[: _SHORT_REPR_MAX - 3] + "..."


#: The longest value a terminal line shows in full (``fabric-nb info``).
SHOWN_VALUE_MAX: Final[int] = 80


def cut_text(text: str, limit: int = SHOWN_VALUE_MAX) -> str:
    """``text`` cut to ``limit`` characters for a terminal, saying how long it was.

    A value another tool stored can be megabytes long; printed whole, and
    padded to, it would make every line as long. The cut keeps the start and
    ends with ``... (N characters)``.
    """
    if len(text) <= limit:
        return text
    tail = f"... ({len(text)} characters)"
    return text[: max(limit - len(tail), 1)] + tail
