"""Local web editor: an ASGI app over the editing library (``python cli.py serve``).

``scenes`` stores uploads as our own SVG re-export, ``jobs`` runs edits one at a time
in a worker thread (same run folders as ``cli.py edit``), ``app`` is the HTTP API and
the single page in ``static/``.
"""

from .app import create_app, serve

__all__ = ["create_app", "serve"]
