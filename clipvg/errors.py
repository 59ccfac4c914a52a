"""The one exception type users see.

Every public function validates its input and raises :class:`ClipvgError` with a
message a user can act on; ``cli.py`` turns it into one line on stderr and exit code 2.
"""

import re
import reprlib

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4


def short(value: object) -> str:
    """``repr(value)`` cut to at most 80 characters, built without the whole repr (a
    YAML alias bomb's value never is)."""
    text = _SHORT.repr(value)
    return text if len(text) <= 80 else text[:76] + " ..."


#: Advice only a library caller can follow (``load_svg(..., limits=SvgLimits(...))``).
_LIBRARY_ADVICE = re.compile(r";\s*pass limits=SvgLimits\([^)]*\)[^;]*")


def without_library_advice(text: str) -> str:
    """A message as a front end's user sees it: the "pass limits=SvgLimits(...)" advice,
    meant for library callers, removed (the CLI and the web page cannot pass limits)."""
    return _LIBRARY_ADVICE.sub("", text)


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
