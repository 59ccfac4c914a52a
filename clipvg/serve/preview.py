"""Preview PNGs of scenes: what the page shows of an upload and of a running edit."""

from __future__ import annotations

import io

import torch

from ..scene import Scene

#: Longest side of preview PNGs (the editor shows at most this much detail live).
PREVIEW_SIZE = 512


def preview_png(scene: Scene, size: int = PREVIEW_SIZE) -> bytes:
    """PNG bytes of ``scene`` rendered over white, ``size`` px on the longer side at most."""
    from PIL import Image

    from ..io import image_to_uint8
    from ..render import render

    scale = min(1.0, size / max(scene.width, scene.height))
    with torch.no_grad():
        image = render(scene, width=max(1, round(scene.width * scale)))
    buf = io.BytesIO()
    Image.fromarray(image_to_uint8(image), "RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
