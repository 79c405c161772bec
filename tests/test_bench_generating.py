"""benchmarks/generating.py: a built store's results, made in a second process, are the generator's own.

``make bench-1m`` builds its stores from results a child process generates
while the parent stores them. The shortcut must not change the data: the
batches, joined, are exactly what ``samples.generate_results`` yields here,
in the same order.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from fabric_nb.samples import generate_results

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def generating(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # On sys.path as under benchmarks/run.py, so the child process imports it too.
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    return importlib.import_module("generating")


@pytest.mark.parametrize(("n", "seed", "days"), [(0, 1, 1), (1, 2, 1), (2_345, 6, 3)])
def test_batches_join_to_the_generators_results(
    generating: ModuleType, n: int, seed: int, days: int
) -> None:
    batches = list(generating.generated_batches(n, seed=seed, days=days, clips_per_job=4))
    joined = [doc for batch in batches for doc in batch]
    assert joined == list(generate_results(n, seed=seed, days=days, clips_per_job=4))
    assert all(0 < len(batch) <= generating.BATCH for batch in batches)


def test_a_generator_that_fails_is_an_error_not_a_short_store(generating: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="generating process"):
        list(generating.generated_batches(5, seed=1, days=0, clips_per_job=4))
