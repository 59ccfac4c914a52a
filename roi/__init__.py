"""Regions of interest: box, polygon or mask + prompt + weights (see :mod:`roi.region`),
their soft masks at a render size (see :mod:`roi.mask`), and what keeps ``--edit-only``
inside them: clipped copies of the paths crossing their edge (see :mod:`roi.split`)."""

from .mask import (
    box_mask,
    feather,
    keep_weights,
    parse_polygon,
    paths_overlapping,
    polygon_mask,
    read_mask,
    roi_mask,
    stroke_reach,
    union_mask,
)
from .region import ROI, build_rois, check_roi

__all__ = [
    "ROI",
    "box_mask",
    "build_rois",
    "check_roi",
    "feather",
    "keep_weights",
    "parse_polygon",
    "paths_overlapping",
    "polygon_mask",
    "read_mask",
    "roi_mask",
    "stroke_reach",
    "union_mask",
]
