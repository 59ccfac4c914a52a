"""Differentiable rendering of a :class:`~clipvg.scene.Scene`.

``render`` is the public entry point; ``rasterize`` is the pure tensor function
behind it (see :mod:`clipvg.render.raster`). ``backend="diffvg"`` uses pydiffvg
when it is importable.
"""

from .api import parse_background, render
from .raster import rasterize

__all__ = ["render", "rasterize", "parse_background"]
