"""SIGINT and SIGTERM: ask a run to stop, hold them while files are written.

``kill``, systemd, Docker, Kubernetes and Ray send SIGTERM; a terminal sends SIGINT
(Ctrl-C). Both mean the same to clipvg: a run that reads a stop flag between
iterations (``edit``, ``batch``) finishes its current iteration, saves its checkpoint
and run.json and ends "interrupted"; any other command is interrupted where it is
(its outputs are written whole or not at all). The exit code is ``128 + signal``
(130 for SIGINT, 143 for SIGTERM).

Only the main thread can install handlers; elsewhere these helpers do nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The signals that stop a run.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Raised by a stop signal where nothing polls the stop flag (``signum`` says which)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class SignalStop:
    """A stop flag (``is_set()``, as :class:`clipvg.run.StopFlag`) set by SIGINT/SIGTERM.

    Use as a context manager around a command. While ``polled`` is true (a run loop
    reads ``is_set()`` between iterations) the first signal only sets the flag; a
    second one raises :class:`Interrupted` (abandon the iteration). While it is false
    the first signal raises at once.

    Attributes:
        signum: the first signal received (None: none came).
    """

    def __init__(self, polled: bool = False):
        self.polled = polled
        self.signum: int | None = None
        self._event = threading.Event()
        self._previous: dict[int, Any] = {}

    def is_set(self) -> bool:
        return self._event.is_set()

    @property
    def exit_code(self) -> int:
        """``128 + signal`` once a signal came (130 SIGINT, 143 SIGTERM), else 0."""
        return 128 + self.signum if self.signum else 0

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
            self._event.set()
        if not (first and self.polled):
            raise Interrupted(signum)

    def install(self) -> None:
        """(Re)install the handlers: also after a library replaced them (``ray.init``
        sets its own SIGTERM handler, which exits at once)."""
        if _main_thread():
            for sig in STOP_SIGNALS:
                previous = signal.signal(sig, self._handle)
                self._previous.setdefault(sig, previous)

    def __enter__(self) -> SignalStop:
        self.install()
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()


@contextmanager
def held_signals(redeliver: bool = False, notice: str | None = None) -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM inside the block (main thread only).

    Args:
        redeliver: after the block, hand the first held signal to the handler that was
            in place (so a step's commit is never cut in half, yet the signal still
            counts); False: drop it (the block itself saved the run).
        notice: printed on stderr when the first signal is held.

    Yields:
        The signals held (empty when none came).
    """
    held: list[int] = []
    if not _main_thread() or any(signal.getsignal(s) is None for s in STOP_SIGNALS):
        yield held  # None: a handler set outside Python, which we cannot restore
        return

    def hold(signum: int, frame: Any) -> None:
        if notice and not held:
            print(f"{signal_name(signum)}: {notice}", file=sys.stderr)
        held.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in STOP_SIGNALS}
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if redeliver and held:
            signal.raise_signal(held[0])


#: Test hook: ``SIGNAME:K:MARKER`` sends SIGNAME to the process named by
#: ``CLIPVG_TEST_SIGNAL_PID`` (default: the process that first read the hook) at
#: iteration K, once: whoever creates the file MARKER first sends it.
TEST_HOOK_ENV = "CLIPVG_TEST_SIGNAL"


def test_signal_hook() -> Callable[[Any, int, dict], None] | None:
    """The run callback the test hook asks for (None without ``CLIPVG_TEST_SIGNAL``).

    Lets tests deliver a real signal at a chosen iteration through the real CLI
    (deterministically, rather than by sleeping); it does nothing unless the variable is set.
    """
    spec = os.environ.get(TEST_HOOK_ENV)
    if not spec:
        return None
    name, at, marker = spec.split(":", 2)
    signum = signal.Signals[name]
    at_iteration = int(at)
    pid = int(os.environ.setdefault(TEST_HOOK_ENV + "_PID", str(os.getpid())))

    def callback(session: Any, iteration: int, record: dict) -> None:
        if iteration != at_iteration:
            return
        try:
            Path(marker).touch(exist_ok=False)
        except FileExistsError:
            return
        os.kill(pid, signum)

    return callback
