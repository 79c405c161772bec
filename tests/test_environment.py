"""environment.yml (conda users) must list what pyproject.toml declares.

Checks that the set of dependency names (runtime + every extra) is the same in
both files and that every lower bound from pyproject.toml is stated in
environment.yml too.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

# Packages that belong to the conda environment itself, not to pyproject.toml.
CONDA_ONLY = {"python", "pip"}

# conda-forge name -> PyPI name, where they differ.
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}


def normalize(name: str) -> str:
    """PEP 503 normalization: case-insensitive, runs of -_. are equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lower_bounds(spec: SpecifierSet) -> set[Version]:
    return {
        Version(s.version.removesuffix(".*")) for s in spec if s.operator in (">=", ">", "==", "~=")
    }


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(Requirement(r) for r in extra)
    out: dict[str, Requirement] = {}
    for req in reqs:
        if normalize(req.name) == "fabric-nb":  # self-references such as fabric-nb[dev]
            continue
        out[normalize(req.name)] = req
    return out


CONDA_SPEC = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*(.*?)\s*$")


def parse_conda_spec(spec: str) -> tuple[str, SpecifierSet]:
    """Parse a simple conda match spec such as ``pandas>=2.2`` or ``python=3.11``."""
    if "::" in spec:  # channel::name
        spec = spec.split("::", 1)[1]
    m = CONDA_SPEC.match(spec)
    assert m, f"cannot parse conda spec {spec!r}"
    name, constraint = m.group(1), m.group(2).replace(" ", "")
    if constraint.startswith("=") and not constraint.startswith("=="):
        constraint = "=" + constraint.rstrip("*").rstrip(".") + ".*"  # conda fuzzy =X.Y
    name = CONDA_TO_PYPI.get(normalize(name), name)
    return normalize(name), SpecifierSet(constraint)


def environment_requirements() -> dict[str, SpecifierSet]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out: dict[str, SpecifierSet] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the `pip:` sub-list installs the project itself
            continue
        name, spec = parse_conda_spec(dep)
        if name in CONDA_ONLY:
            continue
        assert name not in out, f"{name} listed twice in environment.yml"
        out[name] = spec
    return out


def test_environment_yml_basics() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "fabric-nb"
    assert "conda-forge" in env["channels"]
    specs = dict(parse_conda_spec(d) for d in env["dependencies"] if isinstance(d, str))
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    # the conda python pin must satisfy requires-python
    assert "python" in specs
    assert min(lower_bounds(specs["python"])) in SpecifierSet(python)
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections == [["-e ."]], "environment.yml should pip-install the project itself"


def test_same_dependency_names() -> None:
    pyproject = set(pyproject_requirements())
    environment = set(environment_requirements())
    assert pyproject == environment, (
        f"only in pyproject.toml: {sorted(pyproject - environment)}; "
        f"only in environment.yml: {sorted(environment - pyproject)}"
    )


@pytest.mark.parametrize("name", sorted(pyproject_requirements()))
def test_lower_bounds_match(name: str) -> None:
    req = pyproject_requirements()[name]
    env_spec = environment_requirements().get(name)
    assert env_spec is not None, f"{name} missing from environment.yml"
    for bound in lower_bounds(req.specifier):
        assert bound in lower_bounds(env_spec), (
            f"{name}: pyproject.toml has lower bound {bound}, environment.yml says '{env_spec}'"
        )
