"""The package's names are written in three places that must agree.

``fabric_nb/__init__.py`` imports the analyst toolkit on first use: its lazy
names are listed once by module (``_LAZY_MODULES``), imported under
``TYPE_CHECKING`` for type checkers, and exported in ``__all__``, which static
tools read as a literal list.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import fabric_nb
from fabric_nb import _LAZY_MODULES

INIT = ast.parse(Path(fabric_nb.__file__).read_text(encoding="utf-8"))


def _imports(body: list[ast.stmt]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.setdefault(node.module, set()).update(a.asname or a.name for a in node.names)
    return found


def test_the_type_checking_imports_are_the_lazy_names() -> None:
    (block,) = [
        node
        for node in INIT.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    assert _imports(block.body) == {m: set(names) for m, names in _LAZY_MODULES.items()}


def test_all_is_the_eager_imports_and_the_lazy_names() -> None:
    eager = {name for names in _imports(INIT.body).values() for name in names}
    lazy = {name for names in _LAZY_MODULES.values() for name in names}
    assert set(fabric_nb.__all__) == (eager - {"import_module"}) | lazy
    assert len(fabric_nb.__all__) == len(set(fabric_nb.__all__))


def test_each_lazy_name_is_public_in_its_module_and_resolves() -> None:
    for module_name, names in _LAZY_MODULES.items():
        module = importlib.import_module(f"fabric_nb.{module_name}")
        for name in names:
            assert name in module.__all__, f"{module_name}.{name}"
            assert getattr(fabric_nb, name) is getattr(module, name)


def test_importing_the_package_loads_no_data_stack() -> None:
    code = (
        "import sys, fabric_nb; "
        "print(sorted(m for m in ('pandas', 'matplotlib', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
