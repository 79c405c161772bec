"""Documentation unit tests: every public name is documented, in the code and in ``docs/``.

The rule (also written in ``docs/api.md``, "How names are documented"):

- functions, classes and modules have a docstring of their own, and so do the
  public methods and properties of public classes;
- constants cannot carry a docstring, so each has a ``#:`` comment right above
  its assignment in the module that defines it (Sphinx's convention), unless
  the value carries a docstring of its own;
- every public name of every module appears in ``docs/*.md`` as code, and
  ``docs/api.md`` lists exactly ``fabric_nb.__all__`` in its first table.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support import REPO_ROOT

import fabric_nb

DOCS = REPO_ROOT / "docs"
API_PAGE = DOCS / "api.md"


def modules() -> list[ModuleType]:
    """The package and every module in it (``__main__`` only runs the command line)."""
    found = [fabric_nb]
    for info in sorted(pkgutil.iter_modules(fabric_nb.__path__), key=lambda m: m.name):
        if info.name != "__main__":
            found.append(importlib.import_module(f"fabric_nb.{info.name}"))
    return found


MODULES = modules()
PUBLIC = [(module, name) for module in MODULES for name in module.__all__]


def public_id(item: tuple[ModuleType, str]) -> str:
    module, name = item
    return f"{module.__name__}:{name}"


def is_code(obj: Any) -> bool:
    return inspect.isclass(obj) or inspect.isfunction(obj)


@cache
def docs_code() -> str:
    """Everything written as code on the docs pages: inline spans and fenced blocks."""
    text = "\n".join(page.read_text(encoding="utf-8") for page in sorted(DOCS.glob("*.md")))
    fenced = re.findall(r"^```.*?^```", text, flags=re.M | re.S)
    rest = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return "\n".join([*fenced, *re.findall(r"`[^`\n]+`", rest)])


def own_doc(obj: Any) -> str | None:
    """The docstring ``obj`` itself carries (a class's own, not its parent's)."""
    if inspect.isclass(obj):
        return vars(obj).get("__doc__")
    return getattr(obj, "__doc__", None)


@cache
def doc_comments(module_name: str) -> dict[str, list[str]]:
    """Top-level assignments of a module's source, with the ``#:`` comment lines above each."""
    source = Path(importlib.import_module(module_name).__file__ or "").read_text(encoding="utf-8")
    lines = source.splitlines()
    found: dict[str, list[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        else:
            continue
        above = []
        row = node.lineno - 2  # the line just above, 0-based
        while row >= 0 and lines[row].lstrip().startswith("#"):
            above.append(lines[row].strip())
            row -= 1
        for target in targets:
            found[target] = [line for line in reversed(above) if line.startswith("#:")]
    return found


def api_table_names(section: str) -> list[str]:
    """Names in the first column of the tables of one ``## `` section of ``docs/api.md``."""
    text = API_PAGE.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    names = []
    for line in text[start : end if end != -1 else None].splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.extend(re.findall(r"`([^`]+)`", first_cell))
    return names


# -- docstrings ---------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_module_has_a_docstring(module: ModuleType) -> None:
    assert (module.__doc__ or "").strip(), f"{module.__name__} has no module docstring"


@pytest.mark.parametrize("item", [p for p in PUBLIC if is_code(getattr(*p))], ids=public_id)
def test_every_public_function_and_class_has_its_own_docstring(
    item: tuple[ModuleType, str],
) -> None:
    module, name = item
    obj = getattr(module, name)
    assert (own_doc(obj) or "").strip(), f"{module.__name__}.{name} has no docstring"
    if inspect.isclass(obj):
        undocumented = []
        for member, value in vars(obj).items():
            if member.startswith("_"):
                continue
            target = value.fget if isinstance(value, property) else value
            if isinstance(target, (staticmethod, classmethod)):
                target = target.__func__
            if (inspect.isfunction(target) or isinstance(value, property)) and not (
                target.__doc__ or ""
            ).strip():
                undocumented.append(member)
        assert undocumented == [], f"{name}: public members without a docstring"


@pytest.mark.parametrize("item", [p for p in PUBLIC if not is_code(getattr(*p))], ids=public_id)
def test_every_public_constant_is_documented_where_it_is_defined(
    item: tuple[ModuleType, str],
) -> None:
    module, name = item
    value = getattr(module, name)
    carried = own_doc(value)
    if carried and carried != type(value).__doc__:
        return  # the value documents itself (e.g. a DocumentedMapping)
    defined_in = [m.__name__ for m in MODULES if name in doc_comments(m.__name__)]
    assert defined_in, f"{name}: no module-level assignment found in fabric_nb"
    for where in defined_in:
        assert doc_comments(where)[name], f"{where}.{name} has no '#:' comment above it"


# -- docs/ --------------------------------------------------------------------------


def test_api_page_lists_exactly_the_package_names() -> None:
    listed = api_table_names("The package: `fabric_nb`")
    assert sorted(listed) == sorted(set(listed)), "a name is listed twice"
    assert set(listed) == set(fabric_nb.__all__)


def test_api_page_names_only_what_exists() -> None:
    everything = {name for _, name in PUBLIC}
    text = API_PAGE.read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    listed = {name for section in sections for name in api_table_names(section)}
    assert listed, "docs/api.md has no tables"
    assert listed - everything == set(), "docs/api.md names something that is not public"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_public_name_appears_in_docs(module: ModuleType) -> None:
    code = docs_code()
    missing = [name for name in module.__all__ if not re.search(rf"\b{re.escape(name)}\b", code)]
    assert missing == [], f"{module.__name__}: not written as code anywhere in docs/*.md"
