"""Pausing Python's cyclic garbage collector while Fabric builds many objects at once.

A load or a bulk ingest creates several container objects per job and no
reference cycle, yet the collector would walk the growing heap again and
again: about 15 % of a 100k-job load since outputs are kept packed (40 %
before), 5-15 % of a 100k-file ingest (``docs/performance.md`` has the
figures). Nothing runs in the background: the collector is
only held off for the duration of the call and resumed, if it was running,
when the call ends or fails. Objects freed by reference counting are freed
as usual meanwhile.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off inside the ``with`` block."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()
