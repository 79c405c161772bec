"""The package's import layering, held as data.

Every module of ``fabric_nb`` sits in one layer; a module imports only from
layers below its own (``import`` statements anywhere in the file count,
those inside functions too), so there is no cycle and the order reads as
the design: models, then reading and the row codec, storage, persistence,
the index and queries, the frames and what is built on them, and the
operators' tools and the command line on top. pandas, matplotlib, pyarrow
and numpy are imported by no module below the frames.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fabric_nb"

#: Lowest first. A new module must be placed here.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "errors _collector _safe_text _slots _export_formats _sqlite",
        "models",
        "_packed schema _regular_files filters samples _scan",
        "_schema_shape _rows ingestion",
        "storage",
        "persistence _ingest_cache _stored_stamps",
        "index storage_report backup",
        "queries bulk _export_staging",
        "frames watch _stored_queries excel display _dataset_update",
        "summaries export",
        "plots histories",
        "history",
        "render demo",
        "report",
        "cli",
        "demo_cli",
        "__init__",
        "__main__",
    )
)
#: The first layer allowed to import the data stack.
FRAMES_LAYER = next(i for i, layer in enumerate(LAYERS) if "frames" in layer)
DATA_STACK = frozenset({"pandas", "matplotlib", "pyarrow", "numpy"})


def layer_of(module: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if module in layer)


def _type_only(tree: ast.Module) -> set[int]:
    """Ids of the nodes inside ``if TYPE_CHECKING:`` blocks: read by type checkers only.

    ``errors`` names ``IngestReport`` (from ``bulk``) in two signatures; such an
    import never runs, so it can make no cycle and load nothing early.
    """
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            hidden.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return hidden


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(modules of the package, top-level outside packages) imported anywhere in
    ``path`` when it runs (not under ``if TYPE_CHECKING:``)."""
    inside, outside = set(), set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = _type_only(tree)
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                inside.add(node.module.split(".")[0])
            else:
                inside.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            outside.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            outside.update(alias.name.split(".")[0] for alias in node.names)
    inside.discard("__version__")  # the package's own version attribute, from __init__
    return inside, outside


MODULES = sorted(path.stem for path in PACKAGE.glob("*.py"))


def test_every_module_has_exactly_one_layer() -> None:
    placed = [name for layer in LAYERS for name in layer]
    assert sorted(placed) == MODULES  # none missing, none twice, none gone


@pytest.mark.parametrize("module", MODULES)
def test_a_module_imports_only_from_layers_below_it(module: str) -> None:
    inside, outside = imports_of(PACKAGE / f"{module}.py")
    level = layer_of(module)

    against = sorted(name for name in inside if layer_of(name) >= level)
    assert against == [], f"{module} (layer {level}) imports {against} from its layer or above"
    if level < FRAMES_LAYER:
        assert not outside & DATA_STACK, f"{module} imports {sorted(outside & DATA_STACK)}"
