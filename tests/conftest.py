"""pytest settings and fixtures shared by the whole suite.

Helpers that are plain functions (builders, records, runners) live in
``support.py`` and are imported from there; this file holds what pytest
itself must find: the hypothesis profiles and the fixtures.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from support import (
    RunCli,
    RunPython,
    build_store,
    run_cli_process,
    run_python_code,
    sample_jobs,
    start_cli,
)

# Hypothesis budgets, chosen with HYPOTHESIS_PROFILE. "ci" (the default) is small
# and derandomized, so `make test` is deterministic and quick; "fuzz" is the long
# run behind `make fuzz`, random each time, remembering failures in .hypothesis/.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=5_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def home_dir(tmp_path: Path) -> Path:
    """An empty HOME for child processes, so the default store is never the real one."""
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def run_py(home_dir: Path) -> RunPython:
    """Run code in a fresh interpreter with ``HOME`` set to :func:`home_dir`; returns stdout."""

    def run(code: str, *, env: dict[str, str] | None = None, timeout: float = 60) -> str:
        return run_python_code(code, home=home_dir, env=env, timeout=timeout).stdout

    return run


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a test's store lives (not created)."""
    return tmp_path / "store" / "fabric.db"


@pytest.fixture
def run_cli(home_dir: Path) -> RunCli:
    """Run ``python -m fabric_nb ARGS...`` as a user would, in a fresh process.

    ``HOME`` is :func:`home_dir`; ``FABRIC_DB`` is unset unless ``env`` sets
    it; stdin is closed and stdout/stderr are pipes (not a terminal); help is
    rendered for 80 columns without colour; ``timeout`` (120 s by default)
    turns a hang into a failure; ``cwd`` and ``preexec`` are the child's.
    Returns the completed process, whatever its exit code
    (:func:`support.run_cli_process`).
    """
    return partial(run_cli_process, home=home_dir)


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the standard synthetic sample (400 result files); do not write to it."""
    return build_store(tmp_path_factory.mktemp("sample") / "fabric.db", sample_jobs(400))


@pytest.fixture
def start(home_dir: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``fabric-nb ARGS`` in the background (:func:`support.start_cli`);
    every process still running at the end of the test is killed."""
    started: list[subprocess.Popen[str]] = []

    def run(*args: object) -> subprocess.Popen[str]:
        process = start_cli(*args, home=home_dir)  # type: ignore[arg-type]
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
