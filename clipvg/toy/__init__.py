"""clipvg-toy: a small CLIP trained on procedural scenes, and an analytic judge.

- :mod:`clipvg.toy.palette`: the 11 basic colour terms, their CIELAB centroids, and
  sampling colours continuously around a term.
- :mod:`clipvg.toy.shapes`: circle, square, triangle, star, heart and ring as closed
  cubic chains with the same number of segments (so shapes morph point by point).
- :mod:`clipvg.toy.scenes`: captioned scenes of 1 to 3 objects built as
  :class:`~clipvg.scene.Scene` objects and rendered by our renderer.
- :mod:`clipvg.toy.judge`: the analytic judge (colour term, shape class, position of
  the object in a region of a render), independent of any network.
- :mod:`clipvg.toy.model`: the ``clipvg-toy`` open_clip config and its packaged weights.
"""
