"""``render``: a Scene in, an image tensor out, on the backend of your choice."""

from __future__ import annotations

import math

import torch

from ..errors import ClipvgError
from ..scene import Scene
from .draw import check_scene, fill_colors, flat_fills, render_scene
from .raster import check_size, rasterize, unpremultiply

_NAMED = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "magenta": (1.0, 0.0, 1.0)}


def parse_background(background) -> tuple[float, float, float] | None:
    """``"white"``, ``"none"``/None (transparent), ``"#rrggbb"``, a name, or an RGB triple in [0, 1]."""
    if background is None:
        return None
    if isinstance(background, str):
        name = background.strip().lower()
        if name in ("none", "transparent"):
            return None
        if name in _NAMED:
            return _NAMED[name]
        if name.startswith("#") and len(name) == 7:
            try:
                return tuple(int(name[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]
            except ValueError:
                pass
        raise ClipvgError(
            f"unknown background {background!r}; use white, none, black, magenta or #rrggbb"
        )
    rgb = tuple(float(v) for v in torch.as_tensor(background).flatten().tolist())
    if len(rgb) != 3 or not all(0 <= v <= 1 for v in rgb):
        raise ClipvgError(f"background must be 3 values in [0, 1], got {rgb}")
    return rgb  # type: ignore[return-value]


def output_size(scene: Scene, width: float | None, height: float | None) -> tuple[int, int]:
    """The pixel size to render ``scene`` at: ``width`` and/or ``height`` (one alone
    keeps the aspect ratio), or the canvas size.

    Raises:
        ClipvgError: a size below 1 pixel, not finite, or over :data:`~clipvg.render.raster.MAX_PIXELS`.
    """
    sw, sh = float(scene.width), float(scene.height)
    if width is None and height is None:
        w, h = sw, sh
    else:
        if width is not None and height is None:
            w = float(width)
            h = max(1.0, w * (sh / sw))
        elif height is not None and width is None:
            h = float(height)
            w = max(1.0, h * (sw / sh))
        else:
            w, h = float(width), float(height)  # type: ignore[arg-type]
    if math.isfinite(w) and math.isfinite(h):
        w, h = round(w), round(h)
    return check_size(w, h)


def render(
    scene: Scene,
    width: int | None = None,
    height: int | None = None,
    background="white",
    backend: str = "torch",
    samples: int = 1,
    tolerance: float = 0.1,
) -> torch.Tensor:
    """Render a scene, differentiably.

    Args:
        scene: the scene; gradients flow to ``scene.points`` and ``scene.colors``.
        width, height: output size in pixels. One of them alone keeps the aspect
            ratio; neither gives the canvas size.
        background: see :func:`parse_background`; ``"none"`` gives RGBA.
        backend: ``"torch"`` (built in) or ``"diffvg"`` (needs pydiffvg).
        samples: sub-pixels per side; 2 averages 2x2 exact-area sub-pixels, which
            shrinks the seams between shapes that share an edge.
        tolerance: largest distance between a curve and its polyline, in output pixels.

    Returns:
        (H, W, 3) float32 in [0, 1] over a background, or (H, W, 4) straight RGBA
        over a transparent canvas, on the scene's device.

    Example:
        >>> scene = clipvg.load_svg("pitt.svg")
        >>> image = clipvg.render(scene, 256)          # (256, 256, 3)
    """
    width, height = output_size(scene, width, height)
    if not (isinstance(samples, int) and 1 <= samples <= 8):
        raise ClipvgError(f"samples must be an integer from 1 to 8, got {samples!r}")
    check_size(width * samples, height * samples)
    bg = parse_background(background)
    if backend == "diffvg":
        from .diffvg_backend import render_diffvg

        if not scene.is_plain:
            raise ClipvgError(
                "the diffvg backend here renders flat fills only, and this scene has strokes, "
                "gradients, open contours, groups, clips or opacity; use --backend torch"
            )

        return render_diffvg(scene, width, height, bg)
    if backend != "torch":
        raise ClipvgError(f"unknown backend {backend!r}; use torch or diffvg")
    sw, sh = width * samples, height * samples
    plain = scene.is_plain
    colors = scene.colors
    if not plain and flat_fills(scene):  # e.g. inert <g> or element opacity: no layers
        check_scene(scene)
        plain, colors = True, fill_colors(scene)
    if not plain:
        image = render_scene(scene, sw, sh, bg, tolerance * samples)  # premultiplied if bg None
        if samples > 1:
            image = _pool(image, samples)
        return unpremultiply(image) if bg is None else image
    scale = torch.tensor(
        [sw / scene.width, sh / scene.height], dtype=scene.points.dtype, device=scene.device
    )
    image = rasterize(
        scene.points * scale,
        colors,
        scene.contour_sizes,
        scene.contour_path,
        scene.evenodd,
        sw,
        sh,
        background=bg,
        tolerance=tolerance * samples,
        contour_closed=scene.contour_closed,
    )
    if samples > 1:
        if bg is None:  # average premultiplied colour, not straight colour
            image = torch.cat([image[..., :3] * image[..., 3:], image[..., 3:]], -1)
        image = _pool(image, samples)
        if bg is None:
            image = unpremultiply(image)
    return image


def _pool(image: torch.Tensor, samples: int) -> torch.Tensor:
    """Average ``samples x samples`` blocks of an (H, W, K) image."""
    pooled = torch.nn.functional.avg_pool2d(image.permute(2, 0, 1)[None], samples)
    return pooled[0].permute(1, 2, 0)
