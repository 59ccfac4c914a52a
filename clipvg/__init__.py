"""clipvg: text-guided vector graphics editing.

Data flows one way: image -> vectorize -> Scene -> render -> loss -> optimizer -> Scene -> SVG.

Namespaced modules of a source checkout: the command line (``cli.py``,
``cli_options.py``), the region package ``roi/`` and the vectorizer ``vectorize/`` sit at
the top of the repository, but they are part of clipvg and are imported only as
``clipvg.cli``, ``clipvg.cli_options``, ``clipvg.roi`` and ``clipvg.vectorize``. A wheel
installs them inside this package (setup.py maps them there). In a checkout (PYTHONPATH
at the repository root, or an editable install) :class:`SourceTreeFinder` resolves those
four names, and only those, to the top-level files and folders.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

#: clipvg's submodules that live at the top of a source checkout: name -> path from the root.
SOURCE_TREE_MODULES = {
    "cli": "cli.py",
    "cli_options": "cli_options.py",
    "roi": "roi/__init__.py",
    "vectorize": "vectorize/__init__.py",
}


class SourceTreeFinder(importlib.abc.MetaPathFinder):
    """Finds ``clipvg.<name>`` for the names of :data:`SOURCE_TREE_MODULES` under ``root``.

    Only a checkout installs it (a wheel has the modules inside the package), at the front
    of ``sys.meta_path``, so the clipvg that was imported gets these from its own tree.
    Submodules (``clipvg.roi.split``) follow from the package's ``__path__`` as usual.
    """

    def __init__(self, root: Path):
        self.root = root

    def find_spec(self, fullname, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.partition(".")
        if package != __name__ or name not in SOURCE_TREE_MODULES:
            return None
        file = self.root / SOURCE_TREE_MODULES[name]
        if not file.is_file():
            return None
        folder = [str(file.parent)] if file.name == "__init__.py" else None
        return importlib.util.spec_from_file_location(
            fullname, file, submodule_search_locations=folder
        )


def _install_source_tree_finder() -> None:
    here = Path(__file__).resolve().parent
    if (here / "roi").is_dir():
        return  # installed from a wheel: the modules are inside the package
    if not any((here.parent / p).is_file() for p in SOURCE_TREE_MODULES.values()):
        return
    if not any(isinstance(f, SourceTreeFinder) for f in sys.meta_path):
        # First: an editable install of another checkout (a git worktree's shared venv)
        # maps clipvg.roi to *its* roi/; this checkout's clipvg must get its own.
        sys.meta_path.insert(0, SourceTreeFinder(here.parent))


_install_source_tree_finder()

from .errors import ClipvgError  # noqa: E402
from .render import render  # noqa: E402
from .scene import PathInfo, Scene  # noqa: E402
from .svg import load_svg, save_svg  # noqa: E402

__all__ = ["ClipvgError", "PathInfo", "Scene", "load_svg", "save_svg", "render"]
__version__ = "0.1.0"
