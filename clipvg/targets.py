"""What each ROI aims at: its target features and the direction from the source.

A text ROI aims at ``E_T(prompt)``; its direction is the raw text change
``E_T(prompt) - E_T(source_prompt)`` (:func:`clipvg.losses.text_direction`, whose length
sets the directional loss's floor). An exemplar ROI (an ``image``: ``--prompt-image``
for ROI 0) aims at ``normalize(E_I(reference))``; its direction is
``normalize(normalize(E_I(reference)) - normalize(E_I(source region)))``, the source
region being the ROI's whole crop of the initial render.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from clipvg.roi import ROI

from .clip import Encoder, TextFeatureCache
from .errors import ClipvgError
from .losses import text_direction
from .metrics import read_rgb, roi_crops, square_image


def roi_targets(
    rois: list[ROI],
    encoder: Encoder,
    texts: TextFeatureCache,
    initial_image: torch.Tensor,
    canvas: tuple[float, float],
    source_prompt: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets and directions of every ROI.

    Args:
        rois: the edit's ROIs, in canvas units.
        initial_image: (H, W, 3) render of the initial scene in [0, 1].
        canvas: the scene's (width, height).

    Returns:
        (R, D) unit targets and (R, D) directions, on ``initial_image``'s device.
    """
    device = initial_image.device
    hw = tuple(initial_image.shape[:2])
    sx, sy = hw[1] / canvas[0], hw[0] / canvas[1]
    size = encoder.image_size
    targets, directions = [], []
    for i, roi in enumerate(rois):
        if roi.image is None:
            target = texts.features(roi.prompt)
            targets.append(target)
            directions.append(text_direction(target, texts.features(source_prompt)))
            continue
        with torch.no_grad():
            ref = square_image(read_rgb(roi.image).to(device), size)
            src = roi_crops(initial_image, [roi.scaled(sx, sy).box], size)
            feats = F.normalize(encoder.encode_image(torch.cat([ref, src])).float(), dim=-1)
        d = feats[0] - feats[1]
        if float(d.norm()) < 1e-6:
            raise ClipvgError(
                f"ROI {i}: the exemplar {roi.image} encodes exactly like the source region; "
                "pick a reference that differs from it"
            )
        targets.append(feats[0])
        directions.append(F.normalize(d, dim=-1))
    return (
        torch.stack([t.to(device) for t in targets]),
        torch.stack([d.to(device) for d in directions]),
    )
