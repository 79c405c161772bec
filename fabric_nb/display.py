"""Frames made readable in a notebook: :func:`readable`.

A frame with full source paths, long failure reasons and microsecond
timestamps is wider than a notebook's output area, and the part cut off
is the part that matters: the file name at the end of a path. ``readable``
returns a copy for showing, never for computing:

- a path (a column whose name ends in ``path``) longer than ``path_width``
  is shortened from the left, whole folders first, keeping the file name:
  ``…/Clip/B015C040_260905_R1CH.mov``;
- other text longer than ``text_width`` is cut at the end with "…";
- timestamps are shown to the second (floored; still UTC).

The frame given is not changed. Join or filter on the full frame, then
show ``readable(result)``.
"""

from __future__ import annotations

import functools
from typing import Final

import pandas as pd

__all__ = ["readable", "short_path"]

_ELLIPSIS: Final = "…"


def short_path(path: str, width: int = 36) -> str:
    """``path`` in at most ``width`` characters, shortened from the left, file name kept.

    Whole folders are dropped from the left first (``…/Clip/A001.mov``); a
    file name longer than ``width`` keeps its end, where the extension is.
    """
    if len(path) <= width:
        return path
    parts = path.split("/")
    kept = parts[-1]
    for folder in reversed(parts[:-1]):
        longer = f"{folder}/{kept}"
        if len(longer) + 2 > width:
            break
        kept = longer
    if len(kept) + 2 <= width:
        return f"{_ELLIPSIS}/{kept}"
    return _ELLIPSIS + kept[-(width - 1) :]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + _ELLIPSIS


def readable(frame: pd.DataFrame, *, path_width: int = 36, text_width: int = 40) -> pd.DataFrame:
    """A copy of ``frame`` for showing: paths shortened from the left, long text cut,
    timestamps to the second. Index, columns and row order are kept.

    :raises ValueError: a width below 8.
    """
    if min(path_width, text_width) < 8:
        raise ValueError(f"widths must be at least 8, got {path_width} and {text_width}")
    shown = frame.copy()
    for name in shown.columns:
        column = shown[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            shown[name] = column.dt.floor("s")
        elif isinstance(column.dtype, pd.StringDtype) or column.dtype == object:
            if str(name).endswith("path"):
                shorten = functools.partial(short_path, width=path_width)
            else:
                shorten = functools.partial(_cut, width=text_width)
            shown[name] = column.map(
                lambda v, shorten=shorten: shorten(v) if isinstance(v, str) else v,
                na_action="ignore",
            ).astype(column.dtype)
    return shown
