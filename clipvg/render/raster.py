"""Pure-PyTorch differentiable rasterizer for filled closed cubic paths.

The method, in four vectorized stages (no Python loop over paths or pixels):

1. **Flatten.** Each cubic segment is sampled at ``k`` uniform parameters, with
   ``k`` chosen per segment (without gradient) so that the polyline stays within
   ``tolerance`` pixels of the curve. The sample points are differentiable
   functions of the control points.
2. **Split into cells.** Every line is cut at integer rows, then at integer columns,
   so each piece lies inside one pixel cell.
3. **Signed-area accumulation** (the font-rs / stb_truetype technique). A piece with
   signed height ``dy`` and mean x ``xm`` inside cell ``(r, c)`` adds
   ``dy * (1 - (xm - c))`` to cell ``c`` and ``dy * (xm - c)`` to cell ``c + 1``; a
   prefix sum along the row then gives, for every pixel, the exact integral of the
   winding number over the pixel's area. Coverage is ``min(|w|, 1)`` (nonzero) or a
   triangle wave of ``|w|`` (evenodd). Coverage is continuous in the vertices, so
   autograd yields boundary gradients with no edge sampling. Each path accumulates
   into its own buffer that spans only its bounding box, so memory grows with the
   sum of bounding-box areas, not with paths x pixels.
4. **Compositing.** Paths are grouped into *levels*: a path's level is one more than
   the highest level among earlier paths whose bounding boxes overlap it, so the
   paths of one level never share a pixel and can be painted at once. Source-over
   compositing then runs level by level in a custom autograd function that stores
   what lay under each painted cell and replays the recurrence backwards, which
   keeps gradients exact even under fully opaque paths.

Shared edges between abutting shapes are a property of per-shape coverage: two
shapes each covering half a pixel let a quarter of the background through
("conflation"). ``samples=2`` renders 2x2 sub-pixels of exact area each and
averages them, which shrinks those seams by the same factor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ClipvgError
from .composite import Composite

#: Largest number of line pieces one cubic segment is split into.
MAX_PIECES_PER_SEGMENT = 256
#: Coverage below this is treated as none (far below 1/255 of a pixel).
COVER_EPSILON = 1e-6
#: Bounding-box cells accumulated at once (bounds peak memory on dense scenes).
CHUNK_CELLS = 1 << 22
#: Side of the square tiles used to group paths into levels, in pixels.
LEVEL_TILE = 8
#: Most output pixels one rasterization may have (sub-pixels included): the image
#: and its compositing buffers take about 50 bytes a pixel.
MAX_PIXELS = 1 << 24
#: Most line pieces, row pieces or cell pieces one rasterization may create; each
#: costs up to ~100 bytes while it is split (forward pass).
MAX_PIECES = 1 << 22
#: Most bounding-box cells one rasterization may accumulate (~40 bytes each kept).
MAX_CELLS = 1 << 25
#: Points farther than this many canvas sizes from the canvas are pulled towards it.
FAR = 1024.0


def check_size(width: float, height: float) -> tuple[int, int]:
    """Validate an output size: whole, at least 1x1 and at most :data:`MAX_PIXELS` pixels.

    Returns:
        ``(width, height)`` as ints.

    Raises:
        ClipvgError: a size that is not finite, below 1 or too large to render.
    """
    w, h = float(width), float(height)
    if not (math.isfinite(w) and math.isfinite(h)) or w * h > MAX_PIXELS:
        raise ClipvgError(
            f"output size {w:.6g}x{h:.6g} is over the limit of {MAX_PIXELS} pixels "
            f"(e.g. {math.isqrt(MAX_PIXELS)}x{math.isqrt(MAX_PIXELS)}); ask for a smaller width or height"
        )
    if w < 1 or h < 1 or w != int(w) or h != int(h):
        raise ClipvgError(f"output size must be whole pixels, at least 1x1, got {w:g}x{h:g}")
    return int(w), int(h)


def _check_pieces(count: int, what: str, width: int, height: int, limit: int = MAX_PIECES) -> None:
    if count > limit:
        raise ClipvgError(
            f"rendering this scene at {width}x{height} needs {count} {what}, over the limit of "
            f"{limit}; render it smaller or simplify the paths"
        )


def pull_in(points: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Move points farther than :data:`FAR` canvas sizes from the canvas centre
    radially onto that distance (max-norm), so the arithmetic stays finite and
    precise; nearer points (any sane scene) are returned unchanged.

    The direction of a far edge as seen from the canvas changes by at most about
    1/FAR radian, which is what its pixels can show of it anyway.
    """
    centre = points.new_tensor([width / 2, height / 2])
    reach = FAR * max(width, height)
    offset = points - centre
    dist = offset.detach().abs().amax(1, keepdim=True)
    far = dist > reach
    if not bool(far.any()):
        return points
    # where(): the near points keep their exact values (centre + offset may round).
    return torch.where(far, centre + offset * (reach / dist.clamp(min=reach)), points)


@dataclass(frozen=True)
class Topology:
    """Index arrays that depend only on how points are grouped into contours.

    Segment ``s`` is the cubic ``points[i0], points[i1], points[i2], points[i3]``. An
    open contour (:mod:`clipvg.scene`) gets one extra *closing* segment, a straight
    line from its last point back to its first, which a fill needs and a stroke
    skips. All tensors are on the points' device; indices int64.
    """

    seg_start: torch.Tensor  # (S,) i0, the segment's first point
    seg_c1: torch.Tensor  # (S,) i1
    seg_c2: torch.Tensor  # (S,) i2
    seg_next: torch.Tensor  # (S,) i3, the point that ends the segment
    seg_path: torch.Tensor  # (S,) path of each segment
    seg_contour: torch.Tensor  # (S,) contour of each segment
    seg_closing: torch.Tensor  # (S,) bool: the closing line of an open contour

    @staticmethod
    def build(
        contour_sizes: torch.Tensor,
        contour_path: torch.Tensor,
        contour_closed: torch.Tensor | None = None,
    ) -> Topology:
        device = contour_sizes.device
        if contour_closed is None:
            closed = torch.ones_like(contour_sizes, dtype=torch.bool)
        else:
            closed = contour_closed.to(device)
        nseg = torch.where(closed, contour_sizes // 3, (contour_sizes - 1) // 3 + 1)
        offsets = torch.cumsum(contour_sizes, 0) - contour_sizes
        seg_contour = torch.repeat_interleave(torch.arange(len(nseg), device=device), nseg)
        first_seg = torch.cumsum(nseg, 0) - nseg
        local = torch.arange(int(nseg.sum()), device=device) - first_seg[seg_contour]
        off = offsets[seg_contour]
        start = off + 3 * local
        last = local + 1 == nseg[seg_contour]
        closing = last & ~closed[seg_contour]
        # The last segment of a closed contour, and the closing line, end at p0.
        nxt = torch.where(last, off, start + 3)
        c1 = torch.where(closing, start, start + 1)
        c2 = torch.where(closing, off, start + 2)
        return Topology(start, c1, c2, nxt, contour_path[seg_contour], seg_contour, closing)


def flatten(
    points: torch.Tensor, topo: Topology, tolerance: float, width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample every cubic into a polyline, closed per contour.

    Args:
        points: (P, 2) in output pixels; topo: their :class:`Topology`;
        tolerance: largest distance between a curve and its polyline, in pixels.

    Returns:
        start: (L, 2) first vertex of each line; end: (L, 2) second vertex;
        seg: (L,) int64 the segment of each line. Lines are in contour order, each
        contour's lines form a closed loop (an open contour's closing line last).
    """
    # index_select, not t[i]: several times faster, forward and backward.
    p0, p1, p2, p3 = (
        points.index_select(0, i) for i in (topo.seg_start, topo.seg_c1, topo.seg_c2, topo.seg_next)
    )
    with torch.no_grad():
        dd = torch.maximum((p0 - 2 * p1 + p2).norm(dim=1), (p1 - 2 * p2 + p3).norm(dim=1))
        k = torch.ceil(torch.sqrt(0.75 * dd / tolerance)).nan_to_num_(MAX_PIECES_PER_SEGMENT)
        k = k.clamp_(1, MAX_PIECES_PER_SEGMENT).long()
        k = k.masked_fill_(topo.seg_closing, 1)
        _check_pieces(int(k.sum()), "line pieces", width, height)
        seg = torch.repeat_interleave(torch.arange(len(k), device=k.device), k)
        first = torch.cumsum(k, 0) - k
        i = torch.arange(len(seg), device=k.device) - first.index_select(0, seg)
        k_line = k.index_select(0, seg)
        t = (i.to(points.dtype) / k_line.to(points.dtype)).unsqueeze(1)
        # The line from sample v goes to sample v + 1, or to the segment's end point.
        last_in_seg = i + 1 == k_line
    mt = 1 - t
    q0, q1, q2, q3 = (p.index_select(0, seg) for p in (p0, p1, p2, p3))
    start = mt**3 * q0 + 3 * mt**2 * t * q1 + 3 * mt * t**2 * q2 + t**3 * q3
    # The last line of all ends its segment, so the shifted start is never used there.
    end = torch.where(last_in_seg.unsqueeze(1), q3, torch.cat([start[1:], start[-1:]]))
    return start, end, seg


def _split_rows(start, end, path, width, height):
    """Cut lines at integer rows; drop rows off the canvas.

    Horizontal lines are kept as zero-height pieces: they cover nothing, but their
    height has a derivative, which is how moving an edge up or down gets a gradient.

    Returns per row piece: x at the top, x at the bottom, height (>= 0), sign of the
    winding (+1 downward), row index, path index.
    """
    x0, y0, x1, y1 = start[:, 0], start[:, 1], end[:, 0], end[:, 1]
    down = y1 > y0
    ytop = torch.where(down, y0, y1)
    ybot = torch.where(down, y1, y0)
    xtop = torch.where(down, x0, x1)
    xbot = torch.where(down, x1, x0)
    with torch.no_grad():
        r_lo = torch.floor(ytop).clamp_(0, height).long()
        # A line ending exactly on a row boundary also gets a zero-height piece in
        # the next row, which carries the gradient of moving it further down.
        r_hi = torch.floor(ybot).clamp_(-1, height - 1).long()
        count = (r_hi - r_lo + 1).clamp_(min=0)
        _check_pieces(int(count.sum()), "row pieces", width, height)
        line = torch.repeat_interleave(torch.arange(len(count), device=count.device), count)
        row = (
            torch.arange(len(line), device=count.device)
            - (torch.cumsum(count, 0) - count).index_select(0, line)
            + r_lo.index_select(0, line)
        )
    # index_select, not t[line]: several times faster, forward and backward.
    yt, yb, xt, xb = (t.index_select(0, line) for t in (ytop, ybot, xtop, xbot))
    rowf = row.to(yt.dtype)
    # Clip with torch.where, not maximum/minimum (which split ties in half), and
    # break ties the way the vertex moves for a positive step: a vertex on the
    # row's top edge moves into the row, one on its bottom edge into the next row
    # (which holds a zero-height piece for it).
    ya = torch.where(yt >= rowf, yt, rowf)
    yz = torch.where(yb < rowf + 1, yb, rowf + 1)
    span = yb - yt
    flat = span <= 0
    safe = torch.where(flat, torch.ones_like(span), span)
    ta = torch.where(flat, torch.zeros_like(span), (ya - yt) / safe)
    tz = torch.where(flat, torch.ones_like(span), (yz - yt) / safe)
    xa = xt + ta * (xb - xt)
    xz = xt + tz * (xb - xt)
    sign = torch.where(down.index_select(0, line), 1.0, -1.0).to(yt.dtype)
    return xa, xz, yz - ya, sign, row, path.index_select(0, line)


def _clamp_unit(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] for rounding only: the gradient passes unchanged, also at 0 and 1."""
    return x + (x.clamp(0, 1) - x).detach()


def _split_cols(xa, xz, h, sign, width, height):
    """Cut row pieces at integer columns.

    Column -1 stands for everything left of the canvas and column ``width`` for
    everything right of it.

    Returns per cell piece: signed area for column c, signed area for column c + 1,
    the column c, and the index of the row piece it came from.
    """
    xmin = torch.minimum(xa, xz)
    xmax = torch.maximum(xa, xz)
    with torch.no_grad():
        c_lo = torch.floor(xmin).clamp_(-1, width).long()
        c_hi = torch.floor(xmax).clamp_(-1, width).long()  # see r_hi in _split_rows
        count = c_hi - c_lo + 1
        _check_pieces(int(count.sum()), "cell pieces", width, height)
        piece = torch.repeat_interleave(torch.arange(len(count), device=count.device), count)
        col = (
            torch.arange(len(piece), device=count.device)
            - (torch.cumsum(count, 0) - count).index_select(0, piece)
            + c_lo.index_select(0, piece)
        )
        single = (count == 1).index_select(0, piece)
    colf = col.to(xa.dtype)
    lo = torch.where(col < 0, -math.inf, colf)
    hi = torch.where(col >= width, math.inf, colf + 1)
    pmin, pmax = xmin.index_select(0, piece), xmax.index_select(0, piece)
    xl = torch.where(pmin >= lo, pmin, lo)  # ties as in _split_rows
    xr = torch.where(pmax < hi, pmax, hi)
    # Per row piece, then gathered (fewer ops on the more numerous cell pieces); a
    # piece of more than one cell has xmax > xmin.
    span = torch.where(count == 1, 1.0, xmax - xmin).index_select(0, piece)
    frac_h = torch.where(single, 1.0, (xr - xl) / span)
    dy = (sign * h).index_select(0, piece) * frac_h
    # Where the piece sits inside the cell: 0 at the left edge, 1 at the right.
    pos = _clamp_unit((xl + xr) * 0.5 - colf)
    pos = torch.where(col < 0, 1.0, torch.where(col >= width, 0.0, pos))
    right = dy * pos
    return dy - right, right, col, piece


def _levels(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Paint levels such that paths of one level never overlap (by tiles).

    Args:
        boxes: (N, 4) int array of inclusive pixel boxes ``c0, r0, c1, r1``; empty
            boxes have ``c1 < c0``.
    Returns:
        (N,) int array of levels, non-decreasing along any chain of overlapping paths.
    """
    tiles = np.zeros(((height - 1) // LEVEL_TILE + 1, (width - 1) // LEVEL_TILE + 1), np.int64)
    t = boxes // LEVEL_TILE
    level = np.zeros(len(boxes), np.int64)
    for i in range(len(boxes)):  # sequential by nature; ~1 us of numpy per path
        c0, r0, c1, r1 = t[i]
        if boxes[i, 2] < boxes[i, 0]:
            continue
        view = tiles[r0 : r1 + 1, c0 : c1 + 1]
        lv = view.max() + 1
        view[...] = lv
        level[i] = lv
    return level


def rasterize(
    points: torch.Tensor,
    colors: torch.Tensor,
    contour_sizes: torch.Tensor,
    contour_path: torch.Tensor,
    evenodd: torch.Tensor,
    width: int,
    height: int,
    background: torch.Tensor | None = None,
    tolerance: float = 0.1,
    topology: Topology | None = None,
    contour_closed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Rasterize filled cubic paths with exact-area anti-aliasing.

    Args:
        points: (P, 2) float, already in output pixel units (x right, y down).
            Contours are cubic chains (see :mod:`clipvg.scene`).
        colors: (N, 4) straight RGBA in [0, 1]; alpha includes opacity.
        contour_sizes: (C,) int64 points per contour (3n closed, 3n + 1 open).
        contour_path: (C,) int64 path of each contour, non-decreasing.
        evenodd: (N,) bool fill rule per path.
        width, height: output size in pixels.
        background: (3,) RGB in [0, 1] to paint over, or None for a transparent
            canvas (the result is then straight RGBA).
        tolerance: largest distance, in pixels, between a curve and its polyline.
        topology: precomputed :class:`Topology` for these contours (optional).
        contour_closed: (C,) bool, open contours are filled as if closed by a line;
            all closed when None.

    Returns:
        (height, width, 3) over a background, else (height, width, 4); float, in
        [0, 1], differentiable w.r.t. ``points``, ``colors`` and ``background``.
    """
    if points.ndim != 2 or points.shape[1] != 2:
        raise ClipvgError(f"points must be (P, 2), got {tuple(points.shape)}")
    width, height = check_size(width, height)
    check_finite(points, "coordinates")
    points = pull_in(points, width, height)
    device, dtype = points.device, points.dtype
    transparent = background is None
    if transparent:
        # Transparent canvas: composite premultiplied colour and alpha as four channels.
        paint = torch.cat([colors[:, :3], torch.ones_like(colors[:, :1])], 1)
        base = torch.zeros(4, dtype=dtype, device=device)
    else:
        paint = colors[:, :3]
        base = torch.as_tensor(background, dtype=dtype, device=device)
    if colors.shape[0] == 0 or points.shape[0] == 0:
        image = base.expand(height, width, base.shape[0]).clone()
    else:
        topo = topology or Topology.build(contour_sizes, contour_path, contour_closed)
        start, end, seg = flatten(points, topo, tolerance, width, height)
        image = rasterize_lines(
            start, end, topo.seg_path[seg], colors[:, 3], paint, evenodd, width, height, base
        )
    if not transparent:
        return image
    return unpremultiply(image)


def unpremultiply(image: torch.Tensor) -> torch.Tensor:
    """(H, W, 4) premultiplied RGBA -> straight RGBA, clamped to [0, 1]."""
    alpha = image[..., 3:].clamp(0, 1)
    rgb = image[..., :3] / alpha.clamp(min=1e-8)
    return torch.cat([rgb.clamp(0, 1), alpha], -1)


def check_finite(t: torch.Tensor, what: str) -> None:
    """Raise a one-line ClipvgError if ``t`` holds an infinity or a NaN."""
    if not bool(torch.isfinite(t.detach()).all()):
        raise ClipvgError(f"the scene has infinite or NaN {what}; it cannot be rendered")


#: ``shader(cell_path, cell_pixel) -> (alpha, paint, clip)``, see :func:`rasterize_lines`.
Shader = Callable[
    [torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]
]


def rasterize_lines(
    start: torch.Tensor,
    end: torch.Tensor,
    line_path: torch.Tensor,
    opacity: torch.Tensor,
    rgb: torch.Tensor,
    evenodd: torch.Tensor,
    width: int,
    height: int,
    background: torch.Tensor,
    shader: Shader | None = None,
) -> torch.Tensor:
    """Fill closed line loops (the core behind :func:`rasterize`) and composite them.

    Args:
        start, end: (L, 2) the lines, in output pixels; every path's lines form
            closed loops (a stroke outline is such loops, filled nonzero).
        line_path: (L,) int64 path of each line, in [0, N); paths paint in index order.
        opacity: (N,) alpha per path; rgb: (N, K) colour per path (K channels, any K).
        evenodd: (N,) bool fill rule.
        background: (K,) what lies under everything.
        shader: optional, gives each coverage cell its own alpha and colour
            (gradients) and a coverage factor (clip masks, or None), replacing
            ``opacity`` and ``rgb``: called with ``cell_path`` (M,) int32 and
            ``cell_pixel`` (M,) int64 flat pixel index ``row * width + col``
            (``height * width`` for cells that are no pixel); returns
            ``(alpha (M,), paint (M, K), clip (M,) or None)``.

    Returns:
        (height, width, K), source-over of every path over ``background``.
    """
    device = start.device
    n = rgb.shape[0]
    channels = rgb.shape[1]
    if n == 0 or start.shape[0] == 0:
        return background.expand(height, width, channels).clone()
    xa, xz, h, sign, row, rpath = _split_rows(start, end, line_path, width, height)
    left, right, col, piece = _split_cols(xa, xz, h, sign, width, height)
    cell_row, cell_path = row.index_select(0, piece), rpath.index_select(0, piece)

    with torch.no_grad():
        # Per-path bounding boxes in pixels, clamped to the canvas. Every line
        # loop is closed, so the line starts are all its vertices.
        pts = start.detach()
        owner = line_path.unsqueeze(1).expand(-1, 2)
        lo = torch.full((n, 2), math.inf, dtype=pts.dtype, device=device).scatter_reduce_(
            0, owner, pts, "amin"
        )
        hi = torch.full((n, 2), -math.inf, dtype=pts.dtype, device=device).scatter_reduce_(
            0, owner, pts, "amax"
        )
        c0 = torch.floor(lo[:, 0]).clamp(0, width - 1)
        r0 = torch.floor(lo[:, 1]).clamp(0, height - 1)
        c1 = torch.floor(hi[:, 0]).clamp(-1, width - 1)
        r1 = torch.floor(hi[:, 1]).clamp(-1, height - 1)
        empty = (hi[:, 0] < 0) | (lo[:, 0] >= width) | (hi[:, 1] <= 0) | (lo[:, 1] >= height)
        empty |= ~torch.isfinite(lo).all(1) | (r1 < r0)
        c1 = torch.where(empty, c0 - 1, c1)
        r1 = torch.where(empty, r0 - 1, r1)
        boxes = torch.stack([c0, r0, c1, r1], 1).long()
        level = torch.from_numpy(_levels(boxes.cpu().numpy(), width, height)).to(device)
        # Buffers laid out level by level, then in paint order, so each level is a
        # contiguous range of cells.
        order = torch.argsort(level * n + torch.arange(n, device=device))
        bw = (boxes[:, 2] - boxes[:, 0] + 2).clamp(min=0)  # one spare column on the right
        bh = (boxes[:, 3] - boxes[:, 1] + 1).clamp(min=0)
        size = torch.where(empty, torch.zeros_like(bw), bw * bh)
        _check_pieces(int(size.sum()), "bounding-box cells", width, height, MAX_CELLS)
        offset = torch.zeros(n, dtype=torch.long, device=device)
        offset[order] = torch.cumsum(size[order], 0) - size[order]
        box_c0, box_r0 = boxes[:, 0].contiguous(), boxes[:, 1].contiguous()
        # Pieces of paths entirely off the canvas change no visible pixel.
        live = ~empty.index_select(0, cell_path)
        # Buffer index of each cell piece's row start, its row's spare last cell, and
        # its cell and the next one (int32 and in place: these are the forward
        # pass's largest temporaries).
        piece_bw = bw.index_select(0, cell_path)
        base = cell_row - box_r0.index_select(0, cell_path)
        base.mul_(piece_bw).add_(offset.index_select(0, cell_path))
        idx_last = (base + piece_bw).sub_(1)
        del piece_bw
        ccol = col - box_c0.index_select(0, cell_path)  # -1 only left of the canvas
        base += ccol
        del ccol
        idx_right = torch.minimum(base + 1, idx_last)
        idx_left = torch.minimum(base.clamp_(min=0), idx_last)  # col -1: the first cell
        del base
        idx_left, idx_right, idx_last = (t.int() for t in (idx_left, idx_right, idx_last))
        all_live = bool(live.all())
        if not all_live:
            for t in (idx_left, idx_right, idx_last):
                t.masked_fill_(~live, 0)

        ends = torch.cumsum(size[order], 0)
        # Accumulate in chunks of whole paths so that the dense bounding-box
        # buffers never all exist at once.
        rank = torch.empty_like(order)
        rank[order] = torch.arange(n, device=device)
        chunk_of_rank = torch.div(ends - size[order], CHUNK_CELLS, rounding_mode="floor")
        piece_chunk = torch.where(
            live, chunk_of_rank.index_select(0, rank.index_select(0, cell_path)), -1
        )
        chunk_ids = torch.unique(chunk_of_rank[size[order] > 0]).tolist()
        starts = ends - size[order]

        # One chunk holding every piece (most scenes) needs no selection: no copies.
        whole = len(chunk_ids) == 1 and all_live
        del live

    windings, kept = [], []
    for k in chunk_ids:
        with torch.no_grad():
            in_chunk = chunk_of_rank == k
            lo, hi = int(starts[in_chunk].min()), int(ends[in_chunk].max())
            if whole:
                il, ir, iz = idx_left, idx_right, idx_last
            else:
                sel = (piece_chunk == k).nonzero().squeeze(1)
                il, ir, iz = (t.index_select(0, sel) for t in (idx_left, idx_right, idx_last))
            if lo:
                il, ir, iz = il - lo, ir - lo, iz - lo
        lk = (left if whole else left.index_select(0, sel)).double()
        rk = (right if whole else right.index_select(0, sel)).double()
        with torch.no_grad():
            # Each row's pieces sum to zero, but only up to float32 rounding; left in,
            # that residue would drift along the running sum below, so that every
            # later cell of the chunk keeps a tiny winding (and is composited). Its
            # negation in the row's spare last cell ends every row at zero.
            acc = torch.zeros(hi - lo, dtype=torch.float64, device=device)
            acc.index_add_(0, iz, -(lk + rk))
        acc.index_add_(0, il, lk)
        acc.index_add_(0, ir, rk)
        # float64 keeps the running sum exact across a chunk (every row sums back
        # to zero), so no per-row restart is needed.
        winding = torch.cumsum(acc, 0).to(start.dtype)
        with torch.no_grad():
            # Only cells that the path covers take part in compositing; this drops
            # the empty corners of bounding boxes.
            # Cells crossed by an edge stay even when their coverage is zero: an
            # edge lying exactly on a pixel boundary still has a gradient there.
            cell_kept = torch.zeros(hi - lo, dtype=torch.bool, device=device)
            cell_kept.index_fill_(0, il.long(), True)  # faster than cell_kept[il] = True
            cell_kept.index_fill_(0, ir.long(), True)
            cell_kept |= winding.abs() > COVER_EPSILON
            keep = cell_kept.nonzero().squeeze(1)
            del cell_kept
            kept.append(keep + lo)
            keep = keep.int()  # the gather below saves its index for backward
        windings.append(winding.index_select(0, keep))
        del acc, winding, keep, il, ir
    # The pieces are done with (what backward needs, autograd holds): free them before
    # compositing, where memory peaks.
    del xa, xz, h, sign, row, rpath, left, right, col, piece, cell_row, cell_path
    del idx_left, idx_right, idx_last, piece_chunk
    w = torch.cat(windings) if windings else start.new_zeros(0)
    del windings
    with torch.no_grad():
        # Orientation of each path (sign of its shoelace area): |winding| needs a
        # side to take at zero, where an edge lying on a pixel boundary would
        # otherwise lose its gradient. Outward is the growing side.
        cross = start[:, 0] * end[:, 1] - end[:, 0] * start[:, 1]
        area = cross.detach().new_zeros(n).index_add_(0, line_path, cross.detach())
        outward = area < 0  # y points down

    with torch.no_grad():
        # Owner path and pixel of every kept cell, computed in place to bound memory.
        local = torch.cat(kept) if kept else torch.zeros(0, dtype=torch.long, device=device)
        del kept
        cell_owner = order.index_select(0, torch.searchsorted(ends, local, right=True))
        local -= offset.index_select(0, cell_owner)
        bw_o = bw.index_select(0, cell_owner)
        # Float division is exact here (values far below 2**52) and much faster.
        pixel = torch.floor(local.double() / bw_o.double()).long()
        local -= pixel * bw_o  # now the column inside the box
        # Spare-column cells are not pixels: they go to a sink pixel.
        spare = local == bw_o - 1
        del bw_o
        pixel += box_r0.index_select(0, cell_owner)
        pixel *= width
        pixel += local
        pixel += box_c0.index_select(0, cell_owner)
        del local
        cell_pixel = pixel.masked_fill_(spare, height * width)
        del spare
        counts = torch.bincount(level.index_select(0, cell_owner), minlength=1)
        level_ends = torch.cumsum(counts, 0).tolist()
        bounds = [(s, e) for s, e in zip([0] + level_ends[:-1], level_ends) if e > s]
        cell_owner = cell_owner.int()

    with torch.no_grad():
        # |w|, taking the path's outward side at 0 (saves one bool per cell).
        plus = (w > 0) | ((w == 0) & outward.index_select(0, cell_owner))
    w = torch.where(plus, w, -w)
    del plus
    if bool(evenodd.any()):
        # Triangle wave of the winding; where() keeps the gradient at the kinks.
        m = torch.remainder(w, 2)
        cover = torch.where(
            evenodd[cell_owner], torch.where(m <= 1, m, 2 - m), torch.where(w <= 1, w, 1)
        )
    else:
        cover = torch.where(w <= 1, w, 1)
    del w
    per_cell = shader is not None
    if per_cell:
        opacity, rgb, clip = shader(cell_owner, cell_pixel)
        if clip is not None:  # a clip is geometry: it scales coverage, not just alpha
            cover = cover * clip
    image = Composite.apply(
        cover, opacity, rgb, background, cell_owner, cell_pixel, bounds, height * width, per_cell
    )
    return image.view(height, width, -1)
