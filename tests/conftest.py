"""pytest settings and fixtures shared by the whole suite.

Helpers that are plain functions (builders, records, runners) live in
``support.py`` and are imported from there; this file holds what pytest
itself must find: the hypothesis profiles and the fixtures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from support import (
    REPO_ROOT,
    TESTS_DIR,
    RunCli,
    RunPython,
    build_store,
    run_python_code,
    sample_jobs,
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
    rendered for 80 columns without colour. Returns the completed process,
    whatever its exit code.
    """

    def run(
        *args: str | os.PathLike[str],
        env: dict[str, str] | None = None,
        timeout: float = 120,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        drop = {"FABRIC_DB", "COLUMNS", "FORCE_COLOR", "PYTHONHASHSEED"}
        child_env = {k: v for k, v in os.environ.items() if k not in drop}
        child_env["HOME"] = str(home_dir)
        child_env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(TESTS_DIR)])
        child_env["PYTHONDONTWRITEBYTECODE"] = "1"
        child_env.update(COLUMNS="80", NO_COLOR="1", PYTHON_COLORS="0")
        child_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "fabric_nb", *map(str, args)],
            env=child_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the standard synthetic sample (400 result files); do not write to it."""
    return build_store(tmp_path_factory.mktemp("sample") / "fabric.db", sample_jobs(400))
