"""Build hook: the wheel carries the bundled examples the web page lists.

Everything else is in pyproject.toml. In a source checkout the page reads
``examples/`` itself; an installed copy reads ``clipvg/serve/examples/``, which this
hook fills from ``examples/`` at build time (pictures and SVGs only, no scripts).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLE_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".webp"}


class BuildWithExamples(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "clipvg" / "serve" / "examples"
        target.mkdir(parents=True, exist_ok=True)
        for src in sorted(Path(__file__).resolve().parent.joinpath("examples").iterdir()):
            if src.suffix.lower() in EXAMPLE_SUFFIXES:
                shutil.copyfile(src, target / src.name)


setup(cmdclass={"build_py": BuildWithExamples})
