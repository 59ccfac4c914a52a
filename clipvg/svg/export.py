"""Export: a Scene -> SVG text (svgwrite), written whole."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ClipvgError
from ..io import write_text
from ..scene import Scene

_TRAILING_ZEROS = re.compile(r"\.?0+(?= |$)")


def _fmt(values: np.ndarray) -> str:
    """Numbers -> space-separated text with 4 decimals, trailing zeros stripped."""
    # adding +0.0 turns -0.0 into 0.0
    rounded = np.round(np.asarray(values, dtype=np.float64).ravel(), 4) + 0.0
    text = " ".join(f"{v:.4f}" for v in rounded.tolist())
    return _TRAILING_ZEROS.sub("", text)


def _fmt_exact(values: np.ndarray) -> str:
    """float32 numbers -> the shortest text that reads back as the same float32."""
    flat = np.asarray(values, dtype=np.float32).ravel() + np.float32(0.0)
    return " ".join(np.format_float_positional(v, unique=True, trim="-") for v in flat)


def _path_d(points: np.ndarray, sizes: list[int], fmt=_fmt) -> str:
    parts = []
    start = 0
    for size in sizes:
        c = points[start : start + size]
        start += size
        ring = np.concatenate([c[1:], c[:1]])  # c0a c0b p1 ... c(n-1)a c(n-1)b p0
        parts.append(f"M{fmt(c[0])}C{fmt(ring)}Z")
    return "".join(parts)


def _unique(name: str | None, used: set[str]) -> str | None:
    if not name:
        return None
    candidate, k = name, 1
    while candidate in used:
        k += 1
        candidate = f"{name}-{k}"
    used.add(candidate)
    return candidate


def scene_to_svg_string(scene: Scene, exact: Sequence[bool] | torch.Tensor | None = None) -> str:
    """Write ``scene`` as SVG text (svgwrite): one ``<path>`` per scene path.

    ``exact``: (N,) flags of paths whose coordinates and fill-opacity are written with
    as many digits as it takes to read back the same float32 values (the local
    editor uses this for the paths it must leave untouched; RGB stays 8-bit).

    Coordinates have 4 decimals (re-import is within 1e-4 px); colors are written as
    ``rgb(r,g,b)`` with 0-255 ints plus ``fill-opacity`` (omitted when 1), so re-import
    is within 1/255. ``<g id>`` nesting is rebuilt from ``PathInfo.groups``;
    consecutive paths sharing a group prefix share the ``<g>`` element. Duplicate ids
    get a ``-2``, ``-3`` ... suffix so the document stays valid.
    """
    import svgwrite

    if not isinstance(scene, Scene):
        raise ClipvgError(f"expected a Scene, got {type(scene).__name__}")
    points32 = scene.points.detach().cpu().float().numpy()
    points = points32.astype(np.float64)
    exact_flags = [False] * scene.num_paths if exact is None else [bool(e) for e in exact]
    if len(exact_flags) != scene.num_paths:
        raise ClipvgError(f"exact flags: expected {scene.num_paths}, got {len(exact_flags)}")
    alpha32 = scene.colors.detach().cpu().float().clamp(0, 1)[:, 3].numpy()
    if not np.isfinite(points).all():
        raise ClipvgError("the scene has infinite or NaN coordinates; it cannot be written as SVG")
    colors = scene.colors.detach().cpu().double().clamp(0, 1).numpy()
    rgb = np.rint(colors[:, :3] * 255).astype(int).tolist()
    alpha = colors[:, 3].tolist()
    evenodd = scene.evenodd.cpu().tolist()
    sizes = scene.contour_sizes.cpu().tolist()
    owner = scene.contour_path.cpu().tolist()
    path_sizes: list[list[int]] = [[] for _ in range(scene.num_paths)]
    for size, p in zip(sizes, owner, strict=True):
        path_sizes[p].append(size)

    w, h = _fmt(np.array([scene.width])), _fmt(np.array([scene.height]))
    dwg = svgwrite.Drawing(size=(w, h), viewBox=f"0 0 {w} {h}", debug=False)
    used: set[str] = set()
    stack: list[tuple[str, object]] = []  # open <g> elements: (source id, element)
    start = 0
    for i in range(scene.num_paths):
        n_points = sum(path_sizes[i])
        groups = scene.info[i].groups if i < len(scene.info) else ()
        keep = 0
        while keep < min(len(stack), len(groups)) and stack[keep][0] == groups[keep]:
            keep += 1
        del stack[keep:]
        for gid in groups[keep:]:
            g = dwg.g(id=_unique(gid, used)) if gid else dwg.g()
            (stack[-1][1] if stack else dwg).add(g)
            stack.append((gid, g))
        attrs: dict[str, object] = {"fill": "rgb({},{},{})".format(*rgb[i])}
        if exact_flags[i]:
            if alpha32[i] != 1:
                attrs["fill_opacity"] = _fmt_exact(alpha32[i : i + 1])
        elif alpha[i] < 0.99995:
            attrs["fill_opacity"] = _fmt(np.array([alpha[i]]))
        if evenodd[i]:
            attrs["fill_rule"] = "evenodd"
        pid = _unique(scene.info[i].id if i < len(scene.info) else None, used)
        if pid:
            attrs["id"] = pid
        if exact_flags[i]:
            d = _path_d(points32[start : start + n_points], path_sizes[i], _fmt_exact)
        else:
            d = _path_d(points[start : start + n_points], path_sizes[i])
        path = dwg.path(d=d, **attrs)
        (stack[-1][1] if stack else dwg).add(path)
        start += n_points
    out = io.StringIO()
    dwg.write(out, pretty=False)
    return out.getvalue() + "\n"


def save_svg(
    scene: Scene, path: str | os.PathLike, exact: Sequence[bool] | torch.Tensor | None = None
) -> None:
    """Write ``scene`` to ``path`` as SVG, whole (temp file, then rename).

    ``exact``: see :func:`scene_to_svg_string`.

    Raises:
        ClipvgError: the output folder does not exist, or the scene cannot be written.
    """
    write_text(scene_to_svg_string(scene, exact), path)
