"""clipvg: text-guided vector graphics editing.

Data flows one way: image -> vectorize -> Scene -> render -> loss -> optimizer -> Scene -> SVG.
"""

from .errors import ClipvgError
from .render import render
from .scene import PathInfo, Scene
from .svg import load_svg, save_svg

__all__ = ["ClipvgError", "PathInfo", "Scene", "load_svg", "save_svg", "render"]
__version__ = "0.1.0"
