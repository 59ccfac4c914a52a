"""uvicorn settings of the editor: a header timeout, and a shutdown no client can stall.

uvicorn's HTTP/1.1 protocol times out idle keep-alive connections, but not a client
that opens a connection and sends its request line and headers a byte at a time
("slow loris"): it holds the socket forever. :class:`TimedH11Protocol` closes a
connection whose request headers are not complete ``header_timeout`` seconds after
it opened, or after the previous response. (The body has its own limit, enforced by
the perimeter: see :mod:`clipvg.serve.perimeter`.)

At shutdown uvicorn waits for every response to finish; an event stream whose reader
never reads blocks in a full socket buffer. ``timeout_graceful_shutdown`` cancels what
is left after :data:`SHUTDOWN_TIMEOUT` seconds, so Ctrl-C or SIGTERM always ends the
server promptly (the running edit's state is saved by the lifespan shutdown that follows).
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from ..errors import ClipvgError

#: Seconds a client has to send its request line and headers.
HEADER_TIMEOUT = 10.0
#: Seconds open responses may take to finish once the server is stopping.
SHUTDOWN_TIMEOUT = 3


def timed_protocol(header_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing connections whose headers take over ``header_timeout`` s."""

    class TimedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_header_timer()

        def connection_lost(self, exc) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            if self.transport.is_closing():
                return
            waiting_for = self.cycle  # a new request replaces it once its headers are in
            self._header_timer = self.loop.call_later(
                header_timeout, self._header_timeout, waiting_for
            )

        def _cancel_header_timer(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
                self._header_timer = None

        def _header_timeout(self, waiting_for) -> None:
            self._header_timer = None
            idle = self.cycle is waiting_for and (
                self.cycle is None or self.cycle.response_complete
            )
            if idle and not self.transport.is_closing():
                self.logger.info("closing a connection whose request headers took too long")
                self.transport.close()

    return TimedH11Protocol


def uvicorn_config(
    app,
    host: str,
    port: int,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    shutdown_timeout: int = SHUTDOWN_TIMEOUT,
    **options: Any,
):
    """The ``uvicorn.Config`` the editor runs with (``serve`` and the tests' servers)."""
    import uvicorn

    options.setdefault("log_level", "warning")
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        http=timed_protocol(header_timeout),
        ws="none",
        timeout_graceful_shutdown=shutdown_timeout,
        **options,
    )


def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` for uvicorn to listen on (port 0: a free one,
    read back with ``getsockname()``).

    Raises:
        ClipvgError: the address cannot be bound (in use, not this machine's), in one line.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise ClipvgError(f"cannot serve on {host}: {exc.strerror or exc}; check --host") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ClipvgError(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}; pick another --port "
            "(0: any free one)"
        ) from None
    return sock
