"""Closed cubic chains, as numpy arrays or torch tensors alike.

A closed chain of n cubic segments is a (3n, 2) array: for each segment, its start
anchor and its two control points; segment k ends at the anchor of segment k + 1
(mod n). This is how :class:`clipvg.scene.Scene` stores a closed contour.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Chain = TypeVar("Chain", np.ndarray, torch.Tensor)


def straight_chain(anchors: Chain) -> Chain:
    """The closed polygon through ``anchors`` (n, 2), each edge a straight cubic: (3n, 2)
    (controls at a third and two thirds of the edge); differentiable for tensors."""
    n = len(anchors)
    after = anchors[[(k + 1) % n for k in range(n)]]
    step = (after - anchors) / 3
    stack = torch.stack if isinstance(anchors, torch.Tensor) else np.stack
    return stack([anchors, anchors + step, anchors + 2 * step], 1).reshape(-1, 2)


def reverse_chain(chain: Chain) -> Chain:
    """The same closed chain (3n, 2) walked the other way, from the same first anchor."""
    n = len(chain) // 3
    order = []
    for j in range(n):
        k = n - 1 - j  # segment k, walked backwards, ends at anchor k
        order += [3 * ((k + 1) % n), 3 * k + 2, 3 * k + 1]
    return chain[order]
