"""Fonts on this machine: finding a file, matching a CSS family, glyph outlines as cubics.

Used by :mod:`clipvg.text` (lettering) and :mod:`clipvg.svg.text` (``<text>`` import).
:class:`CubicPen` records what a fontTools-style pen is drawn with (glyph outlines,
skia-pathops paths) as closed cubic chains: quadratics are elevated exactly, lines
become straight cubics.
"""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fontTools.pens.basePen import BasePen

from .errors import ClipvgError

FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.fonts",
    "~/.local/share/fonts",
    "/Library/Fonts",
    "C:/Windows/Fonts",
)
PREFERRED = (
    "DejaVuSans.ttf",
    "LiberationSans-Regular.ttf",
    "NotoSans-Regular.ttf",
    "Arial.ttf",
    "arial.ttf",
)
#: CSS generic families -> the installed families tried in order.
GENERIC = {
    "serif": ("Noto Serif", "DejaVu Serif", "Liberation Serif", "Times New Roman"),
    "sans-serif": ("Noto Sans", "DejaVu Sans", "Liberation Sans", "Arial"),
    "monospace": ("Noto Sans Mono", "DejaVu Sans Mono", "Liberation Mono", "Courier New"),
    "cursive": ("Noto Sans", "DejaVu Sans"),
    "fantasy": ("Noto Sans", "DejaVu Sans"),
    "system-ui": ("Noto Sans", "DejaVu Sans", "Liberation Sans"),
}
FALLBACK = GENERIC["sans-serif"]


def font_files(roots: Sequence[str | os.PathLike]) -> Iterator[Path]:
    """Every .ttf/.otf under ``roots`` (sorted per root; missing roots skipped)."""
    for root in roots:
        root = Path(os.path.expanduser(str(root)))
        if root.is_dir():
            for suffix in ("*.ttf", "*.otf", "*.TTF", "*.OTF"):
                yield from sorted(root.rglob(suffix))


def find_font() -> Path:
    """A font on this machine: DejaVu Sans (or another common sans) if present, else any.

    Searches the usual system font folders, then installed Python packages.

    Raises:
        ClipvgError: no .ttf/.otf found anywhere; says how to supply one.
    """
    site = [p for p in sys.path if p.endswith("site-packages")]
    for roots in (FONT_DIRS, site):
        found = list(font_files(roots))
        for name in PREFERRED:
            for f in found:
                if f.name == name:
                    return f
        if found:
            return found[0]
    raise ClipvgError(
        "no font file (.ttf/.otf) found on this machine; pass --font FILE.ttf (e.g. apt-get install fonts-dejavu-core)"
    )


class CubicPen(BasePen):
    """Records every contour as a closed cubic chain: a list of (x, y), ``3n`` points,
    the chain ending back at its first point implicitly (BasePen elevates quadratics)."""

    def __init__(self, glyph_set=None):
        super().__init__(glyph_set)
        self.contours: list[list[tuple[float, float]]] = []
        self._cur: list[tuple[float, float]] | None = None

    def _moveTo(self, pt):
        self._finish()
        self._cur = [pt]

    def _lineTo(self, pt):
        p0 = self._cur[-1]
        self._cur += [_lerp(p0, pt, 1 / 3), _lerp(p0, pt, 2 / 3), pt]

    def _curveToOne(self, pt1, pt2, pt3):
        self._cur += [pt1, pt2, pt3]

    def _closePath(self):
        self._finish()

    def _endPath(self):
        self._finish()

    def _finish(self):
        cur, self._cur = self._cur, None
        if not cur or len(cur) < 4:
            return
        if cur[-1] != cur[0]:  # close with a straight segment
            p0, p1 = cur[-1], cur[0]
            cur += [_lerp(p0, p1, 1 / 3), _lerp(p0, p1, 2 / 3), p1]
        self.contours.append(cur[:-1])


def _lerp(a, b, t):
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


@dataclass(frozen=True)
class Face:
    """One font file's family and style, as its ``name`` and ``OS/2`` tables say."""

    path: Path
    family: str
    weight: int
    italic: bool


@dataclass(eq=False)
class Font:
    """A loaded font: cmap, harfbuzz shaper and glyph outlines in font units (cached)."""

    face: Face
    _outlines: dict[int, list[np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import uharfbuzz as hb
        from fontTools.ttLib import TTFont

        data = self.face.path.read_bytes()  # in memory: no file left open
        self._tt = TTFont(io.BytesIO(data), fontNumber=0, lazy=True)
        self.cmap = self._tt.getBestCmap() or {}
        self.units_per_em = float(self._tt["head"].unitsPerEm)
        hhea = self._tt["hhea"]
        self.ascent, self.descent = float(hhea.ascent), float(hhea.descent)  # descent < 0
        self._order = self._tt.getGlyphOrder()
        self._glyph_set = self._tt.getGlyphSet()
        self.hb_font = hb.Font(hb.Face(hb.Blob(data)))

    def has(self, char: str) -> bool:
        return ord(char) in self.cmap

    def outline(self, gid: int) -> list[np.ndarray]:
        """Glyph ``gid``'s contours: closed cubic chains, (3n, 2) float64 font units, y up."""
        found = self._outlines.get(gid)
        if found is None:
            pen = CubicPen(self._glyph_set)
            if 0 <= gid < len(self._order):
                self._glyph_set[self._order[gid]].draw(pen)
            found = [np.asarray(c, dtype=np.float64) for c in pen.contours]
            self._outlines[gid] = found
        return found


def _read_face(path: Path) -> Face | None:
    from fontTools.ttLib import TTFont

    try:
        with TTFont(str(path), fontNumber=0, lazy=True) as tt:
            return _face_of(tt, path)
    except Exception:  # an unreadable file is not a candidate
        return None


def _face_of(tt, path: Path) -> Face:
    family = tt["name"].getBestFamilyName() or path.stem
    os2 = tt["OS/2"] if "OS/2" in tt else None
    weight = int(os2.usWeightClass) if os2 is not None else 400
    italic = bool(os2.fsSelection & 1) if os2 is not None else bool(tt["head"].macStyle & 2)
    return Face(path, family, weight, italic)


class FontLibrary:
    """The fonts under ``roots``, matched by CSS family name, weight and style.

    Files whose name starts with the family's letters (``NotoSans-Bold.ttf`` for
    "Noto Sans") are read first; every file's ``name`` table only when that finds
    nothing (once, about a second for a few hundred fonts).
    """

    def __init__(self, roots: Sequence[str | os.PathLike] = FONT_DIRS) -> None:
        self._files = list(font_files(roots))
        self._by_stem: dict[str, list[Path]] = {}  # "notosans" -> NotoSans-*.ttf
        for p in self._files:
            self._by_stem.setdefault(p.stem.split("-")[0].lower(), []).append(p)
        self._faces: dict[Path, Face | None] = {}
        self._fonts: dict[Path, Font] = {}
        self._by_family: dict[str, list[Face]] | None = None
        self._found: dict[str, list[Face]] = {}  # family key -> its faces (cached)

    def _face(self, path: Path) -> Face | None:
        if path not in self._faces:
            self._faces[path] = _read_face(path)
        return self._faces[path]

    def faces(self, family: str) -> list[Face]:
        """The installed faces of ``family`` (case- and space-insensitive)."""
        key = family.replace(" ", "").lower()
        if not key:
            return []
        if key in self._found:
            return list(self._found[key])
        quick = self._by_stem.get(key, [])
        found = [f for p in quick if (f := self._face(p)) and _key(f.family) == key]
        if found:
            self._found[key] = found
            return list(found)
        if self._by_family is None:  # every file's name table, once
            self._by_family = {}
            for p in self._files:
                if (face := self._face(p)) is not None:
                    self._by_family.setdefault(_key(face.family), []).append(face)
        self._found[key] = self._by_family.get(key, [])
        return list(self._found[key])

    def match(
        self, families: Sequence[str], weight: int = 400, italic: bool = False
    ) -> Font | None:
        """The best face of the first installed family (generic names expanded), or None."""
        for family in families:
            for name in GENERIC.get(family.lower(), (family,)):
                faces = self.faces(name)
                if faces:
                    best = min(faces, key=lambda f: _distance(f, weight, italic))
                    return self.load(best)
        return None

    def fallback(self, weight: int = 400, italic: bool = False) -> Font:
        """A common sans (see :data:`FALLBACK`), else whatever :func:`find_font` finds."""
        found = self.match(FALLBACK, weight, italic)
        if found is not None:
            return found
        path = find_font()
        return self.load(self._face(path) or Face(path, path.stem, 400, False))

    def covering(self, char: str, weight: int = 400, italic: bool = False) -> Font | None:
        """The fallback font if it has ``char``, else the first font already loaded that
        does (no font is loaded for it, so a character no font has costs little)."""
        first = self.fallback(weight, italic)
        if first.has(char):
            return first
        return next((f for f in self._fonts.values() if f.has(char)), None)

    def load(self, face: Face) -> Font:
        font = self._fonts.get(face.path)
        if font is None:
            font = self._fonts[face.path] = Font(face)
        return font


def _key(family: str) -> str:
    return family.replace(" ", "").lower()


def _distance(face: Face, weight: int, italic: bool) -> tuple[int, int]:
    """CSS font matching, simplified: style first, then the nearest weight (bolder
    wins a tie above 500, lighter below 400)."""
    gap = face.weight - weight
    lean = gap if weight > 500 else -gap
    return (int(face.italic != italic), abs(gap) * 2 + (lean < 0))


@functools.lru_cache(maxsize=1)
def system_fonts() -> FontLibrary:
    """The fonts in the usual system folders (one library per process)."""
    return FontLibrary()
