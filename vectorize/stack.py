"""Choosing and ordering the regions of every round into one paint stack.

Round 1 covers every picture pixel. A later round adds, on top, only those of its
regions whose own mean color lowers the squared error of what the rounds below
already show, best gain first, within a path budget.

Inside a round, regions are painted largest bounding box first, so a region that
encloses others is painted before them. That lets each path's mask reach *under*
the paths painted after it: holes that later paths cover are filled, and borders
are dilated a few pixels under later neighbours. Shapes get simpler, and a moved
border shows the layer beneath instead of a crack onto the canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Layer:
    """One round's chosen regions in paint order.

    ``labels``: (H, W) int32 region map of the round (-1 = no region);
    ``regions``: (R,) int64 chosen region ids, bottom first; ``name``: group id.
    """

    name: str
    labels: np.ndarray
    regions: np.ndarray


def region_means(image: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel count (K,) and mean color (K, 3) of every region of ``labels``."""
    valid = labels >= 0
    flat = labels[valid]
    k = int(labels.max()) + 1 if valid.any() else 0
    count = np.bincount(flat, minlength=k).astype(np.float64)
    sums = np.stack([np.bincount(flat, image[..., c][valid], minlength=k) for c in range(3)], 1)
    return count, sums / np.maximum(count, 1)[:, None]


def select_gains(
    image: np.ndarray,
    shown: np.ndarray,
    labels: np.ndarray,
    budget: int,
    min_gain: float,
    jitter: float = 0.0,
) -> np.ndarray:
    """Regions of ``labels`` worth painting over ``shown``, best first, at most ``budget``.

    The gain of a region is ``sum |image - shown|^2 - sum |image - mean|^2`` over its
    pixels: how much painting it with its mean color lowers the squared error. With
    ``jitter`` it is lowered by ``jitter * perimeter * |mean - shown mean|^2``, the
    error the region makes when its border moves by ``jitter`` pixels; thin slivers
    and specks, which any later edit scrambles, then lose to solid regions.

    Args:
        image, shown: (H, W, 3) float in [0, 1].
        labels: (H, W) int32 regions (-1 = none).
        min_gain: smallest gain (summed squared error, in [0,1]^2 units) worth a path.
        jitter: expected border displacement, pixels (0: plain gain).
    """
    valid = labels >= 0
    if budget <= 0 or not valid.any():
        return np.zeros(0, np.int64)
    count, mean = region_means(image, labels)
    flat = labels[valid]
    before = np.bincount(flat, ((image - shown) ** 2).sum(-1)[valid], minlength=len(count))
    after = np.bincount(
        flat, ((image - mean[labels.clip(0)]) ** 2).sum(-1)[valid], minlength=len(count)
    )
    gain = before - after
    if jitter > 0:
        under = np.stack(
            [np.bincount(flat, shown[..., c][valid], minlength=len(count)) for c in range(3)], 1
        )
        contrast = ((mean - under / np.maximum(count, 1)[:, None]) ** 2).sum(1)
        gain = gain - jitter * perimeter(labels, len(count)) * contrast
    order = np.argsort(-gain, kind="stable")
    order = order[gain[order] > min_gain]
    return order[:budget].astype(np.int64)


def perimeter(labels: np.ndarray, k: int) -> np.ndarray:
    """(K,) float64 number of pixel edges between each region and anything else."""
    lab = np.pad(labels, 1, constant_values=-1)
    out = np.zeros(k, np.float64)
    for a, b in ((lab[:, :-1], lab[:, 1:]), (lab[:-1, :], lab[1:, :])):
        cut = a != b
        for side in (a[cut], b[cut]):
            out += np.bincount(side[side >= 0], minlength=k)[:k]
    return out


def paint_order(labels: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """``regions`` sorted largest bounding box first (enclosing before enclosed)."""
    if len(regions) == 0:
        return regions
    boxes = region_boxes(labels, int(labels.max()) + 1)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keyed = area[regions]
    return regions[np.lexsort((regions, -keyed))]


def region_boxes(labels: np.ndarray, k: int) -> np.ndarray:
    """(K, 4) int64 ``x0, y0, x1, y1`` (exclusive) box of every region id < k."""
    ys, xs = np.nonzero(labels >= 0)
    ids = labels[ys, xs]
    boxes = np.zeros((k, 4), np.int64)
    boxes[:, 0] = boxes[:, 1] = np.iinfo(np.int64).max
    np.minimum.at(boxes[:, 0], ids, xs)
    np.minimum.at(boxes[:, 1], ids, ys)
    np.maximum.at(boxes[:, 2], ids, xs + 1)
    np.maximum.at(boxes[:, 3], ids, ys + 1)
    return boxes


def top_index(layers: list[Layer]) -> np.ndarray:
    """(H, W) int64: paint index of the region on top at each pixel, -1 for none.

    Paint indices count the chosen regions of all layers, bottom first: the order
    in which :func:`stack_masks` yields them.
    """
    h, w = layers[0].labels.shape
    top = np.full((h, w), -1, np.int64)
    index = 0
    for layer in layers:
        if len(layer.regions):
            rank = np.full(int(layer.labels.max()) + 2, -1, np.int64)
            rank[layer.regions] = index + np.arange(len(layer.regions))
            painted = np.where(layer.labels >= 0, rank[layer.labels], -1)
            top = np.where(painted >= 0, painted, top)
        index += len(layer.regions)
    return top


def stack_masks(layers: list[Layer], dilate: int):
    """Yield ``(layer_index, region_id, mask, (x0, y0))`` for every path, bottom first.

    ``mask`` is the crop of the region, plus its filled holes where a later path
    paints on top, plus a ``dilate``-pixel border under later regions of its round.
    """
    h, w = layers[0].labels.shape
    starts = np.cumsum([0] + [len(layer.regions) for layer in layers])[:-1]
    kernel = (
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        if dilate
        else None
    )
    for li, layer in enumerate(layers):
        if len(layer.regions) == 0:
            continue
        # Paint index, within this layer, of the region at each pixel (-1: none chosen).
        rank = np.full(int(layer.labels.max()) + 2, -1, np.int64)
        rank[layer.regions] = starts[li] + np.arange(len(layer.regions))
        own = rank[layer.labels]
        boxes = region_boxes(layer.labels, int(layer.labels.max()) + 1)
        pad = dilate + 1
        for j, r in enumerate(layer.regions):
            x0, y0, x1, y1 = boxes[r]
            x0, y0 = max(x0 - pad, 0), max(y0 - pad, 0)
            x1, y1 = min(x1 + pad, w), min(y1 + pad, h)
            region = (layer.labels[y0:y1, x0:x1] == r).astype(np.uint8)
            i = starts[li] + j
            # Borders grow only under later regions of the same round, whose color is
            # the neighbour's; filling whole holes would hide a wrong color under them.
            mask = region
            if kernel is not None:
                mask = mask | (
                    cv2.dilate(region, kernel) & (own[y0:y1, x0:x1] > i).astype(np.uint8)
                )
            yield li, int(r), mask, (int(x0), int(y0))


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """(h, w) uint8 mask with every hole filled."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled | mask
