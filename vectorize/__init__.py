"""Raster image -> layered Scene of filled cubic paths, round by round.

Modules, in the order data flows through them:

- ``image_io``: decode PNG / JPEG / WebP (EXIF orientation, alpha, downscaling);
- ``segment``: superpixels, then Ward merging to each round's region count;
- ``stack``: which regions each round adds, paint order, masks that reach under
  later paths;
- ``trace``: mask borders -> closed cubic Bezier contours;
- ``edges``: borders moved to the sub-pixel edge the input's mixed pixels show;
- ``refine``: color refit, optional coarse-to-fine Adam refinement through
  :func:`clipvg.render`, stopped early when the PSNR flattens;
- ``pipeline``: :func:`vectorize_image`, tying them together.
"""

from .pipeline import PRESETS, Preset, vectorize_image

__all__ = ["PRESETS", "Preset", "vectorize_image"]
