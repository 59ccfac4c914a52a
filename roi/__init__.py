"""Regions of interest: box + prompt + weights (see :mod:`roi.region`)."""

from .region import ROI, build_rois, check_roi

__all__ = ["ROI", "build_rois", "check_roi"]
