"""Segmentation for one vectorization round: over-segment, then merge regions.

The merge criterion is Ward's: merging regions ``a`` and ``b`` raises the squared
reconstruction error of a flat-color fill by exactly
``n_a * n_b / (n_a + n_b) * |mean_a - mean_b|^2``, so merging cheapest first keeps
the piecewise-constant image as close to the input (in PSNR) as a greedy method can.
Merging happens in vectorized passes of mutually-nearest pairs, so a partition into
thousands of regions costs a few numpy passes rather than a Python heap loop.

Every merge level of one hierarchy nests inside the finer ones, which is what lets
the pipeline stack rounds: a fine region always lies inside one coarse region.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from clipvg.errors import ClipvgError

_STEP = 0.25  # largest fraction of the regions merged in one pass (0.1: 2x the time, +0.03 dB)
# Largest fraction of the merges still needed to reach the target done in one pass. A
# quarter of all regions at once overshot (7234 regions for 8000 on a 512 px photo) and
# merged the last, costly pairs blind to each other: capped, every level of `detailed`
# hits its count, 0.1-0.4 dB closer to the photo (flat fills), for 1.5x the merging time.
_NEAR = 0.3
_FREE = 0.02  # merges below this squared-error cost happen even past the target count


def oversegment(image: np.ndarray, opaque: np.ndarray, scale: float = 4.0) -> np.ndarray:
    """Split an image into many small, color-coherent superpixels (Felzenszwalb).

    Args:
        image: (H, W, 3) float32 in [0, 1], sRGB.
        opaque: (H, W) bool, pixels that belong to the picture (alpha >= 0.5).
        scale: Felzenszwalb's scale; larger gives fewer, bigger superpixels.

    Returns:
        (H, W) int32 labels ``0..K-1``; -1 on pixels that are not ``opaque``. Labels
        are 4-connected components, so adjacency in the label map is real adjacency.
    """
    from skimage.segmentation import felzenszwalb

    _check_image(image, opaque)
    seg = felzenszwalb(image, scale=scale, sigma=0.5, min_size=3)
    seg[~opaque] = -1
    # Felzenszwalb regions may be disconnected once transparent pixels are cut out.
    return _components(seg)


def _components(seg: np.ndarray) -> np.ndarray:
    """(H, W) int32: 4-connected components of equal labels ``>= 0``, numbered ``0..K-1``
    in raster order of their first pixel; -1 where ``seg < 0``.

    The pixel graph goes through scipy's ``connected_components``, already loaded for
    the merging (``skimage.measure.label`` is as fast, but its first use imports
    ``scipy.ndimage``: 0.3 s or more, a quarter of the ``fast`` preset).
    """
    h, w = seg.shape
    index = np.arange(h * w).reshape(h, w)
    pairs = []
    for a, b, ia, ib in (
        (seg[:, :-1], seg[:, 1:], index[:, :-1], index[:, 1:]),
        (seg[:-1, :], seg[1:, :], index[:-1, :], index[1:, :]),
    ):
        same = (a == b) & (a >= 0)
        pairs.append((ia[same], ib[same]))
    rows = np.concatenate([p[0] for p in pairs])
    cols = np.concatenate([p[1] for p in pairs])
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(h * w, h * w))
    _, comp = connected_components(graph, directed=False)
    valid = (seg >= 0).ravel()
    used = np.zeros(int(comp.max()) + 1, bool)
    used[comp[valid]] = True
    number = np.cumsum(used) - 1
    return np.where(valid, number[comp], -1).reshape(h, w).astype(np.int32)


def region_adjacency(labels: np.ndarray) -> np.ndarray:
    """(E, 2) int64 unique pairs ``a < b`` of labels that touch (4-neighbourhood)."""
    k = int(labels.max()) + 1
    pairs = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        a, b = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
        keep = (a != b) & (a >= 0) & (b >= 0)
        a, b = a[keep], b[keep]
        pairs.append(np.minimum(a, b) * k + np.maximum(a, b))
    keys = _sorted_unique(np.concatenate(pairs)) if pairs else np.zeros(0, np.int64)
    return np.stack([keys // max(k, 1), keys % max(k, 1)], 1)


def ward_levels(image: np.ndarray, labels: np.ndarray, targets: Sequence[int]) -> list[np.ndarray]:
    """Merge superpixels down to each target region count, coarsest hierarchy first.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        labels: (H, W) int32 superpixels from :func:`oversegment` (-1 = transparent).
        targets: region counts wanted, any order, each >= 1.

    Returns:
        One (H, W) int32 label map per target, in the order of ``targets``. The maps
        nest: every region of a finer map lies inside one region of a coarser map.
        A map has more regions than asked when the picture has more separate parts,
        and fewer when merging further costs (next to) nothing, as on flat color.
    """
    if any(int(t) < 1 for t in targets):
        raise ClipvgError(f"region counts must be >= 1, got {list(targets)}")
    k = int(labels.max()) + 1
    valid = labels >= 0
    flat = labels[valid]
    count = np.bincount(flat, minlength=k).astype(np.float64)
    sums = np.stack([np.bincount(flat, image[..., c][valid], minlength=k) for c in range(3)], 1)
    edges = region_adjacency(labels)
    mapping = np.arange(k)  # superpixel -> current region
    wanted = sorted({int(t) for t in targets}, reverse=True)
    found: dict[int, np.ndarray] = {}
    cur = k
    for target in wanted:
        while len(edges):
            mean = sums / count[:, None]
            a, b = edges[:, 0], edges[:, 1]
            na, nb = count[a], count[b]
            cost = na * nb / (na + nb) * ((mean[a] - mean[b]) ** 2).sum(1)
            # Equal costs (flat colours, checkerboards) are ordered by a hash of the
            # edge, not by label: by label, every region proposes to its lower
            # neighbour, almost all receive, and a pass merges only a handful.
            order = np.lexsort((_edge_hash(a, b), cost))
            rank = np.arange(len(order))
            best = np.full(cur, len(order), dtype=np.int64)
            np.minimum.at(best, a[order], rank)
            np.minimum.at(best, b[order], rank)
            # Every region proposes its cheapest edge. A region moves into its proposed
            # neighbour unless some other region proposes to it (then it receives),
            # which merges stars at once but never chains A->B->C into one blob
            # whose true cost nobody looked at. Of a mutual pair, the larger id moves.
            has = best < len(order)
            e = order[np.where(has, best, 0)]
            node = np.arange(cur)
            partner = np.where(has, np.where(a[e] == node, b[e], a[e]), -1)
            mutual = has & (partner[np.maximum(partner, 0)] == node)
            proposers = np.bincount(partner[has & ~mutual], minlength=cur)
            moves = has & (proposers == 0) & ~(mutual & (node < partner))
            chosen = np.sort(best[moves])
            room = cur - target
            step = cur * _STEP if room <= 0 else min(cur * _STEP, room * _NEAR)
            step = max(1, int(np.ceil(step)))
            # Past the target, only merges that cost (next to) nothing go on.
            free = int(np.searchsorted(cost[order[chosen]], _FREE, side="right"))
            take = min(max(cur - target, free), step)
            if take == 0:
                break
            sel = order[chosen[:take]]
            n_comp, newid = connected_components(
                coo_matrix((np.ones(len(sel)), (a[sel], b[sel])), shape=(cur, cur)), directed=False
            )
            newid = newid.astype(np.int64)  # int32 from scipy: a * cur below would overflow
            cur = int(newid.max()) + 1
            count = np.bincount(newid, count, minlength=cur)
            sums = np.stack([np.bincount(newid, sums[:, c], minlength=cur) for c in range(3)], 1)
            mapping = newid[mapping]
            a, b = newid[a], newid[b]
            keep = a != b
            keys = _sorted_unique(np.minimum(a[keep], b[keep]) * cur + np.maximum(a[keep], b[keep]))
            edges = np.stack([keys // cur, keys % cur], 1)
        found[target] = np.where(valid, mapping[np.maximum(labels, 0)], -1).astype(np.int32)
    return [found[int(t)] for t in targets]


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys)`` for a 1-D int array, by sorting: numpy 2's hash-based unique
    took half of the merging time here."""
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys


def _edge_hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random uint64 per edge ``(a, b)`` (multiplicative hashing)."""
    with np.errstate(over="ignore"):
        h = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + b.astype(np.uint64)
        h ^= h >> np.uint64(29)
        return h * np.uint64(0xBF58476D1CE4E5B9)


def _check_image(image: np.ndarray, opaque: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ClipvgError(f"expected an (H, W, 3) image, got shape {image.shape}")
    if opaque.shape != image.shape[:2]:
        raise ClipvgError("the opacity mask must have the image's height and width")
