"""The ``freeze`` setting: which paths it names (they are left exactly as they are).

A name is the id of a path, the id of a ``<g>`` around it, or a group's
``inkscape:label`` (the layer name Inkscape shows; such groups often have only a
generated id, or none). The vectorizer's layers are the groups ``round-1``, ``round-2``...
An edit-only copy of a path (``wall-clipvg-roi``) answers to its original's names too.
"""

from __future__ import annotations

import torch

from clipvg.roi.split import COPY_MARK, is_region_copy

from .errors import Setting, SettingError
from .scene import Scene


def path_names(scene: Scene) -> list[set[str]]:
    """For each of the scene's N paths, every name ``freeze`` can reach it by."""
    groups = scene.groups
    parent = groups.parent.tolist()
    own: list[set[str]] = []  # per group: its names and those of the groups around it
    for g in range(len(groups)):  # parent[g] < g: the enclosing group's set is ready
        names = {n for n in (groups.ids[g], groups.labels[g]) if n}
        own.append(names | (own[parent[g]] if parent[g] >= 0 else set()))
    where = scene.path_group.tolist() if scene.path_group is not None else [-1] * scene.num_paths
    out = []
    for info, g in zip(scene.info, where):
        names = set(info.groups) | ({info.id} if info.id else set())
        if is_region_copy(info.id):
            source = info.id[: info.id.rindex(COPY_MARK)].removesuffix("-")
            names |= {source} if source else set()
        out.append(names | (own[g] if g >= 0 else set()))
    return out


def frozen_paths(scene: Scene, names: list[str]) -> torch.Tensor:
    """(N,) bool on the scene's device: the paths ``names`` reach.

    Raises:
        SettingError: a name reaches no path (a typo, or a group with no paths).
    """
    wanted = set(names)
    per_path = path_names(scene)
    unknown = sorted(wanted.difference(*per_path)) if per_path else sorted(wanted)
    if unknown:
        known = sorted(set().union(*per_path) - {p.id for p in scene.info if p.id})
        hint = f"; its groups are {', '.join(known[:12])}" + (" ..." if len(known) > 12 else "")
        raise SettingError(
            Setting("freeze"),
            f": no path or group here is named {', '.join(map(repr, unknown))}"
            + (hint if known else "; this picture has no named groups"),
        )
    return torch.tensor(
        [bool(wanted & n) for n in per_path], dtype=torch.bool, device=scene.points.device
    )
