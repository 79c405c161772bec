"""Run an example notebook against a history and write it as one self-contained HTML file.

What ``fabric-nb report`` and ``make demo`` (``python -m fabric_nb.demo_cli``)
both use. The notebook runs in a fresh kernel of this Python interpreter,
with ``FABRIC_DB`` set to the database, so its first cell
(:func:`fabric_nb.demo.open_example_history`) opens that history read-only.
The ``.ipynb`` file is read, never written.

The HTML needs nothing else to be read: plots are embedded as PNG images
(``data:`` URIs), styles are inline, and the scripts nbconvert would load from
the web (require.js, MathJax, Mermaid) are left out, so the file can be
mailed to someone who does not use Jupyter and opened offline. It is written
to a temporary file beside the target, then renamed: a failed run leaves no
half-written page.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .errors import RenderError
from .storage import FABRIC_DB_ENV

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager
    from nbformat import NotebookNode

__all__ = [
    "NOTEBOOKS_DIR",
    "OVERVIEW_NOTEBOOK",
    "missing_packages",
    "render_notebook",
    "write_atomically",
]

_PACKAGE_DIR: Final[Path] = Path(__file__).resolve().parent
#: The file name of the overview notebook, the page ``fabric-nb report`` renders.
_OVERVIEW_NAME: Final[str] = "01_quickstart.ipynb"
#: Where an installed wheel holds the example notebooks (``fabric_nb/_notebooks/``).
_INSTALLED_NOTEBOOKS_DIR: Final[Path] = _PACKAGE_DIR / "_notebooks"
#: The example notebooks of a source checkout (``notebooks/`` beside the package).
_CHECKOUT_NOTEBOOKS_DIR: Final[Path] = _PACKAGE_DIR.parent / "notebooks"


def _find_notebooks_dir(
    candidates: tuple[Path, ...] = (_INSTALLED_NOTEBOOKS_DIR, _CHECKOUT_NOTEBOOKS_DIR),
) -> Path:
    """The first folder of ``candidates`` that holds the overview notebook.

    By default the copy a wheel installs inside the package comes first, then
    the ``notebooks/`` folder of a source checkout (an editable install has
    only that one). When none holds it, the last candidate is returned, so
    that a message about the missing notebook names the checkout's path.
    """
    for folder in candidates:
        if (folder / _OVERVIEW_NAME).is_file():
            return folder
    return candidates[-1]


#: The example notebooks this copy of fabric_nb uses (:func:`_find_notebooks_dir`).
NOTEBOOKS_DIR: Final[Path] = _find_notebooks_dir()
#: The notebook ``fabric-nb report`` renders: the overview of a history.
OVERVIEW_NOTEBOOK: Final[Path] = NOTEBOOKS_DIR / _OVERVIEW_NAME
#: What executing and rendering notebooks needs (the ``notebooks`` extra).
_NOTEBOOK_PACKAGES: Final[tuple[str, ...]] = (
    "ipykernel",
    "jupyter_client",
    "nbclient",
    "nbconvert",
    "nbformat",
)
#: Seconds one notebook cell may run before the rendering gives up on it.
_CELL_TIMEOUT: Final[int] = 300

# nbconvert's "lab" page without the scripts it would fetch from a CDN: the
# notebooks use no JavaScript, LaTeX or Mermaid, and a report must open offline.
_OFFLINE_TEMPLATE: Final = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def missing_packages() -> list[str]:
    """The packages of the ``notebooks`` extra that are not installed (empty when all are)."""
    return [name for name in _NOTEBOOK_PACKAGES if importlib.util.find_spec(name) is None]


def _this_python_kernel_manager() -> type[AsyncKernelManager]:
    """A kernel manager class whose kernels run this interpreter.

    Whatever kernels the machine has installed, the notebooks then run with
    the same Python and the same installed ``fabric_nb`` as the caller.
    """
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ThisPythonSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(
                resource_dir=ipykernel.kernelspec.RESOURCES,
                **ipykernel.kernelspec.get_kernel_dict(),
            )

    class ThisPythonKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return ThisPythonSpecs(data_dir=self.data_dir)

    return ThisPythonKernelManager


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename."""
    # Owner-only (0600) whatever the umask, as the database it shows.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        # A path that is not UTF-8 (shown in the page) is written escaped: \udce9.
        with open(fd, "w", encoding="utf-8", errors="backslashreplace") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def render_notebook(
    notebook: str | os.PathLike[str],
    html_path: str | os.PathLike[str],
    *,
    fabric_db: str | os.PathLike[str],
    code: bool = True,
    title: str | None = None,
) -> None:
    """Execute ``notebook`` with ``FABRIC_DB=fabric_db`` and write it as HTML to ``html_path``.

    The notebook runs in a fresh kernel of this Python interpreter, in the
    notebook's own folder; the ``.ipynb`` file is never written. The page is
    self-contained (images embedded, no script fetched from the web). With
    ``code=False`` the code cells' source is left out and only their outputs
    (tables, text, plots) and the notebook's prose are shown. ``title`` is
    the page's title (default: the notebook's name).

    :raises RenderError: a cell raised or timed out (the message names the
        notebook and the error); nothing is written.
    :raises OSError: the notebook cannot be read or the HTML cannot be written.
    """
    import jinja2
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError
    from nbconvert import HTMLExporter

    source = Path(notebook)
    nb: NotebookNode = nbformat.read(source, as_version=4)
    env = dict(os.environ)
    env[FABRIC_DB_ENV] = str(Path(fabric_db).resolve())
    client = NotebookClient(
        nb,
        kernel_manager_class=_this_python_kernel_manager(),
        timeout=_CELL_TIMEOUT,
        record_timing=False,
        # The kernel's own start-up notices (e.g. that it talks to this process
        # over local TCP) are not about the notebook; cell errors still surface.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(source.resolve().parent)}},
    )
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        raise RenderError(f"{source}: a cell failed: {exc.ename}: {exc.evalue}") from exc
    except CellTimeoutError as exc:
        raise RenderError(f"{source}: a cell ran longer than {_CELL_TIMEOUT} s") from exc
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"fabric_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="fabric_offline.html.j2",
        exclude_input=not code,
        exclude_input_prompt=not code,
        exclude_output_prompt=not code,
        embed_images=True,
    )
    if title is not None:
        nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": source.stem}})
    write_atomically(Path(html_path), body)
