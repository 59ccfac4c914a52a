"""The one exception type users see.

Every public function validates its input and raises :class:`ClipvgError` with a
message a user can act on; ``cli.py`` turns it into one line on stderr and exit code 2.
"""


class ClipvgError(Exception):
    """Bad input or an unmet precondition, with a message that says what to do."""


class TooLargeError(ClipvgError):
    """An input over a size limit (bytes, pixels); the web server answers 413."""
