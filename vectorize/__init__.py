"""Raster image -> layered Scene of filled cubic paths, round by round.

Modules, in the order data flows through them:

- ``image_io``: decode PNG / JPEG / WebP (EXIF orientation, alpha, downscaling);
- ``segment``: superpixels, then Ward merging to each round's region count;
- ``stack``: which regions each round adds, paint order, masks that reach under
  later paths;
- ``trace``: mask borders -> closed cubic Bezier contours;
- ``refine``: color refit, optional Adam refinement through :func:`clipvg.render`;
- ``pipeline``: :func:`vectorize_image`, tying them together.
"""

from .pipeline import PRESETS, Preset, vectorize_image

__all__ = ["PRESETS", "Preset", "vectorize_image"]
