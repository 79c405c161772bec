"""pytest setup for validating the example notebooks with nbval.

``make test`` runs ``pytest --nbval --nbval-current-env ... notebooks/*.ipynb``.
The stored outputs were made from the synthetic sample, so the kernels that
re-run the notebooks must see the same environment:

- ``FABRIC_DB`` is removed: with it set, the notebooks would explore that
  database and rightly show other figures.
- matplotlib's font cache is built here, before any kernel starts. On a fresh
  machine where building it takes more than a few seconds, the first
  ``import matplotlib`` prints "Matplotlib is building the font cache" on
  stderr, which nbval would report as an unexpected output of the first cell.

Kernels started by nbval inherit this process's environment.
"""

from __future__ import annotations

import os

import matplotlib.font_manager

os.environ.pop("FABRIC_DB", None)
matplotlib.font_manager.findfont("DejaVu Sans")
