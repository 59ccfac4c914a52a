"""The one exception type users see.

Every public function validates its input and raises :class:`ClipvgError` with a
message a user can act on; ``cli.py`` turns it into one line on stderr and exit code 2.
"""


class ClipvgError(Exception):
    """Bad input or an unmet precondition, with a message that says what to do."""


class Setting(str):
    """A setting's name inside an error message (an :class:`EditSettings` field, or a run
    option: ``output``, ``overwrite``, ``resume``, ``config``), spelled by the front end."""


class SettingError(ClipvgError):
    """A bad setting, worded once in terms of the settings' names.

    Built from text and :class:`Setting` pieces: ``SettingError(Setting("edit_only"),
    " needs at least one region")``. ``str()`` spells each name as it is (the library's,
    the web page's and the jobs file's spelling); the CLI rewords it with
    :meth:`spelled` (``--edit-only``).
    """

    def __init__(self, *parts: str):
        self.parts = parts
        super().__init__(self.spelled())

    @property
    def names(self) -> list[str]:
        """The settings this error is about, in order."""
        return [str(p) for p in self.parts if isinstance(p, Setting)]

    def spelled(self, spell=str) -> str:
        """The message with each setting's name passed through ``spell(name) -> text``."""
        return "".join(spell(str(p)) if isinstance(p, Setting) else p for p in self.parts)


class TooLargeError(ClipvgError):
    """An input over a size limit (bytes, pixels); the web server answers 413."""
