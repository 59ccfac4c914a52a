"""Build hooks: everything else is in pyproject.toml.

Namespacing: a source checkout keeps the command line (``cli.py``, ``cli_options.py``),
``roi/`` and ``vectorize/`` at the top of the repository, but a wheel installs them
only inside clipvg, as ``clipvg.cli``, ``clipvg.cli_options``, ``clipvg.roi`` and
``clipvg.vectorize``: no top-level module with a generic name lands in site-packages.
The packages are mapped with ``package_dir``; the two modules are copied into the
built ``clipvg/`` (setuptools maps folders, not single files). In a checkout,
``clipvg.SourceTreeFinder`` resolves the same names to the top-level files.

Examples: the wheel carries the bundled examples the web page lists. In a source
checkout the page reads ``examples/`` itself; an installed copy reads
``clipvg/serve/examples/``, which the build fills from ``examples/`` (pictures and SVGs
only, no scripts).
"""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: Top-level packages of the checkout that install as clipvg.<name>.
NAMESPACED_PACKAGES = ("roi", "vectorize")
#: Top-level modules of the checkout that install as clipvg/<file>.
NAMESPACED_MODULES = ("cli.py", "cli_options.py")
EXAMPLE_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".webp"}

PACKAGES = find_packages(include=["clipvg", "clipvg.*"]) + [
    f"clipvg.{name}"
    for top in NAMESPACED_PACKAGES
    for name in find_packages(include=[top, f"{top}.*"])
]


class BuildNamespaced(build_py):
    def run(self):
        super().run()
        package = Path(self.build_lib) / "clipvg"
        for name in NAMESPACED_MODULES:
            shutil.copyfile(ROOT / name, package / name)
        self.byte_compile([str(package / name) for name in NAMESPACED_MODULES])
        target = package / "serve" / "examples"
        target.mkdir(parents=True, exist_ok=True)
        for src in sorted((ROOT / "examples").iterdir()):
            if src.suffix.lower() in EXAMPLE_SUFFIXES:
                shutil.copyfile(src, target / src.name)


setup(
    packages=PACKAGES,
    package_dir={f"clipvg.{top}": top for top in NAMESPACED_PACKAGES},
    cmdclass={"build_py": BuildNamespaced},
)
