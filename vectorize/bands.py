"""A refinement step's loss and gradient, rendered in horizontal bands, on threads.

The canvas is cut into :data:`BANDS` bands of rows; each band is rendered, forward and
backward, on its own Python thread with one torch thread. The renderer's ops release
the GIL, and a band is one coarse piece of work, so a core taken by another process
slows only its band. Torch's own threads split every op instead, and every op then
waits for the slowest thread: on the 2-core machine beside one other busy process, a
1000-path 512 px step took 0.6-1.1 s on one torch thread and 4.2-8.0 s on two.

A step renders ``threads`` bands (at most :data:`BANDS`), so one thread renders the
whole canvas at once: each band repeats the per-path work (flattening, bounding boxes,
paint levels), and on the busy 2-core machine two bands one after the other took
1.4-1.6x the time of one whole render. Results are the same from run to run for a
given thread count; different counts differ in the last bits (the sums are split
differently).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import torch

from clipvg.scene import Scene

#: Most horizontal bands a step renders (one per thread).
BANDS = 2


class BandedLoss:
    """``loss(points, colors, target) -> (mse, (grad points, grad colors))``, by bands.

    Args:
        draw: ``f(points, colors) -> Scene``, what a step renders at the canvas size.
        threads: threads the bands run on (1: one after the other, on the caller's).
    """

    def __init__(self, draw: Callable[[torch.Tensor, torch.Tensor], Scene], threads: int = 1):
        self.draw = draw
        self.bands = max(1, min(threads, BANDS))
        # torch's thread count is per OS thread under OpenMP: a new thread starts with
        # one per core, so each band thread is set to one as it starts.
        self.pool = (
            ThreadPoolExecutor(
                min(threads, BANDS), initializer=torch.set_num_threads, initargs=(1,)
            )
            if threads > 1
            else None
        )

    def __enter__(self) -> BandedLoss:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def __call__(
        self,
        points: torch.Tensor,
        colors: torch.Tensor,
        target: torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Mean squared error of the premultiplied render against ``target`` and its gradient.

        Args:
            points, colors: the leaves to differentiate (P, 2) and (N, 4).
            target: (h, w, 4) premultiplied RGBA, the render size of this step.
            noise: (P, 2) added to the points before rendering (the gradient still
                reaches ``points``), or None.
        """
        sh = target.shape[0]
        k = max(1, min(self.bands, sh))
        cuts = [round(sh * i / k) for i in range(k + 1)]
        bands = list(zip(cuts[:-1], cuts[1:], strict=True))

        def one(band):
            return _band(self.draw, points, colors, target, noise, *band)

        parts = list(self.pool.map(one, bands)) if self.pool else [one(b) for b in bands]
        loss = sum(p[0] for p in parts)
        grads = tuple(sum(p[1][j] for p in parts) for j in range(2))
        return loss, grads  # type: ignore[return-value]


def _band(draw, points, colors, target, noise, y0: int, y1: int):
    """Loss share and gradient of rows ``y0:y1`` of the render (each band its own graph)."""
    from clipvg.render import render

    sh, sw = target.shape[:2]
    part = draw(points if noise is None else points + noise, colors)
    if (y0, y1) != (0, sh):
        top, bottom = y0 * part.height / sh, y1 * part.height / sh
        shift = torch.tensor([0.0, top], dtype=part.points.dtype, device=part.device)
        part = dataclasses.replace(part, points=part.points - shift, height=bottom - top)
    rgba = render(part, width=sw, height=y1 - y0, background="none", tolerance=0.3)
    image = torch.cat([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], -1)
    loss = torch.sum((image - target[y0:y1]) ** 2) / target.numel()
    return loss.detach(), torch.autograd.grad(loss, (points, colors))


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block on one torch thread (CPU), then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
