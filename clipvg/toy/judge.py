"""The analytic judge: what object is in a region of a render, without any network.

From the pixels alone:

- **segmentation**: the background colour is the median of the region's border pixels;
  the object is the largest connected set of pixels at least :data:`SEGMENT_DISTANCE`
  CIELAB units from it;
- **colour term**: the nearest basic-colour CIELAB centroid to the mean CIELAB colour of
  the object's interior (the mask eroded by one pixel, so edge pixels mixed with the
  background do not count);
- **shape class**: from contour features of the mask (OpenCV): a hole makes a ring;
  otherwise solidity (area / convex hull area), concavity (the deepest convexity defect
  over the equivalent radius), circularity (4 pi area / perimeter^2) and the vertex count
  of the polygonal approximations of the contour and its hull tell star, heart, triangle,
  square and circle apart (:func:`classify_shape`); a contour that fits none is ``"other"``;
- **position**: the mask's centroid, named by :func:`clipvg.toy.scenes.position_term`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..errors import ClipvgError
from .palette import COLOR_TERMS, LAB_CENTROIDS, to_lab
from .scenes import position_term

#: CIELAB distance from the background colour above which a pixel is the object's.
SEGMENT_DISTANCE = 12.0
#: A hole bigger than this fraction of the outer area makes a ring.
RING_HOLE_FRACTION = 0.04
#: Deepest convexity defect, as a fraction of the equivalent radius, of a concave shape.
CONCAVE = 0.22
#: Polygon approximation tolerance, as a fraction of the contour's perimeter.
POLY_EPSILON = 0.04


@dataclass(frozen=True)
class Verdict:
    """What the judge sees in one region.

    ``color``/``shape``/``position`` are terms (``shape`` may be ``"other"``, and all
    three are ``"none"`` when the region holds no object); ``rgb`` the object's mean sRGB;
    ``features`` the contour features used for the shape.
    """

    color: str
    shape: str
    position: str
    rgb: tuple[float, float, float]
    background_rgb: tuple[float, float, float]
    area: float
    features: dict

    def matches(
        self, color: str | None = None, shape: str | None = None, position: str | None = None
    ) -> bool:
        """True when every given term agrees."""
        return all(
            want is None or got == want
            for want, got in ((color, self.color), (shape, self.shape), (position, self.position))
        )


def _as_array(image) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ClipvgError(f"the judge needs an (H, W, 3) image, got shape {a.shape}")
    a = a[..., :3]
    return a.astype(np.float64) / 255 if a.dtype == np.uint8 else a.astype(np.float64)


def nearest_lab_term(lab: np.ndarray) -> str:
    """The basic colour term nearest to one CIELAB colour."""
    return COLOR_TERMS[int(np.argmin(((LAB_CENTROIDS - lab) ** 2).sum(-1)))]


def contour_features(mask: np.ndarray) -> dict:
    """Contour features of a binary (h, w) mask's largest outer contour (and its holes)."""
    contours, hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE
    )
    if not contours:
        return {}
    areas = [cv2.contourArea(c) for c in contours]
    parents = hierarchy[0][:, 3]
    outer = max((i for i in range(len(contours)) if parents[i] < 0), key=lambda i: areas[i])
    c = contours[outer]
    area = max(areas[outer], 1e-9)
    perimeter = cv2.arcLength(c, True)
    hull = cv2.convexHull(c)
    holes = sum(areas[i] for i in range(len(contours)) if parents[i] == outer)
    approx = cv2.approxPolyDP(c, POLY_EPSILON * perimeter, True)
    hull_index = cv2.convexHull(c, returnPoints=False)
    depth = 0.0
    if len(c) > 3 and len(hull_index) > 3:
        try:
            defects = cv2.convexityDefects(c, np.sort(hull_index, axis=0))
        except cv2.error:  # self-intersecting pixel contours
            defects = None
        if defects is not None and defects.size:  # OpenCV gives None or (0, 1, 4) for none
            depth = float(defects.reshape(-1, 4)[:, 3].max()) / 256
    return {
        "concavity": depth / math.sqrt(area / math.pi),
        "area": float(area),
        "hole_fraction": float(holes / area),
        "circularity": float(4 * math.pi * area / max(perimeter, 1e-9) ** 2),
        "solidity": float(area / max(cv2.contourArea(hull), 1e-9)),
        "vertices": int(len(approx)),
        "convex_vertices": int(len(cv2.approxPolyDP(hull, POLY_EPSILON * perimeter, True))),
    }


def classify_shape(f: dict) -> str:
    """The shape class of a contour's features (see :func:`contour_features`)."""
    if not f:
        return "none"
    if f["hole_fraction"] > RING_HOLE_FRACTION:
        return "ring"
    if f["solidity"] < 0.75:
        return "star" if f["vertices"] >= 8 else "other"
    if f["concavity"] > CONCAVE:
        return "heart" if f["solidity"] > 0.8 else "other"
    if f["convex_vertices"] == 3:
        return "triangle"
    if f["convex_vertices"] == 4 and f["circularity"] < 0.85:
        return "square"
    if f["circularity"] > 0.84:
        return "circle"
    return "other"


def judge(image, box: tuple[float, float, float, float] | None = None) -> Verdict:
    """Judge the object in ``box`` of ``image``.

    Args:
        image: (H, W, 3) render, float in [0, 1] or uint8 (tensor or array).
        box: (x, y, w, h) in pixels of ``image``; None: the whole image.

    Returns:
        A :class:`Verdict`; its position is relative to the whole image.
    """
    rgb = _as_array(image)
    H, W = rgb.shape[:2]
    x0, y0, bw, bh = box if box is not None else (0, 0, W, H)
    x0, y0 = max(0, int(math.floor(x0))), max(0, int(math.floor(y0)))
    x1, y1 = min(W, int(math.ceil(x0 + bw))), min(H, int(math.ceil(y0 + bh)))
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise ClipvgError(
            f"judge: the region {box} is smaller than 4 x 4 pixels of the {W}x{H} image"
        )
    crop = rgb[y0:y1, x0:x1]
    lab = to_lab(crop)
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    bg_lab = np.median(border, axis=0)
    far = np.sqrt(((lab - bg_lab) ** 2).sum(-1)) > SEGMENT_DISTANCE
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(
        far.astype(np.uint8), connectivity=8
    )
    bg_rgb = tuple(
        float(v) for v in np.median(np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]]), 0)
    )
    if count <= 1:
        return Verdict("none", "none", "none", (0.0, 0.0, 0.0), bg_rgb, 0.0, {})
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = labels == k
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    pixels = inner if inner.sum() >= 4 else mask
    color = nearest_lab_term(lab[pixels].mean(0))
    feats = contour_features(np.pad(mask, 1))
    cx, cy = centroids[k]
    return Verdict(
        color=color,
        shape=classify_shape(feats),
        position=position_term((x0 + cx + 0.5) / W, (y0 + cy + 0.5) / H),
        rgb=tuple(float(v) for v in crop[pixels].mean(0)),
        background_rgb=bg_rgb,
        area=float(mask.sum()) / (W * H),
        features=feats,
    )


def pixel_box(
    box: tuple[float, float, float, float], size: int
) -> tuple[float, float, float, float]:
    """A box given as fractions of the canvas, in pixels of a ``size`` x ``size`` render."""
    return tuple(v * size for v in box)  # type: ignore[return-value]
