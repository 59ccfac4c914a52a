"""The server's perimeter: a pure ASGI middleware every request passes before any route.

A request is refused, in this order, with a one-line JSON ``{"error": ...}``, when:

1. its ``Host`` is not this server's: the bound address, ``localhost``, or a name
   given with ``--allow-host`` (403). This stops DNS rebinding, where a page whose
   name re-resolves to 127.0.0.1 talks to the server under its own name. A request
   without a Host (HTTP/1.0) is refused too;
2. the server has a token (``--host`` off loopback) and the request does not carry
   it (401). The token comes once in the URL printed at start (``/?token=...``: the
   answer is a redirect that keeps it in an HttpOnly, SameSite=Strict cookie), or
   with every request as ``Authorization: Bearer TOKEN``;
3. it changes state (any method but GET, HEAD, OPTIONS) and its ``Origin``, or else
   its ``Referer``, is not the page's own (403): another site's page cannot drive
   the server through the user's browser (CSRF);
4. its body is not of the route's content type (415): ``multipart/form-data`` for the
   uploads in :data:`MULTIPART_ROUTES`, ``application/json`` (or no body) elsewhere.
   This also keeps every state change out of reach of "simple" cross-site requests;
5. its body is over ``max_body_bytes``, by ``Content-Length`` or counted as chunks
   arrive (413), or it has not all arrived ``body_timeout`` seconds after the headers (408).

Every response carries the security headers below. A client that goes away in the
middle of sending its body is logged in one line, without a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import ClientDisconnect
from starlette.responses import Response

log = logging.getLogger("clipvg.serve")

MB = 1024 * 1024
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
#: Routes whose body is a multipart form (uploads); every other state change takes JSON.
MULTIPART_ROUTES = ("/api/scenes", "/api/images")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CLOSE = (b"connection", b"close")


@dataclass(frozen=True)
class PerimeterSettings:
    """What the perimeter enforces.

    Args:
        max_body_bytes: largest request body (413 above); 0 for no limit.
        allow_hosts: Host names accepted besides the bound address and ``localhost``.
        token: when set, every request must carry it (see the module docstring).
        body_timeout: seconds a request body may take to arrive (408 after); None: no limit.
    """

    max_body_bytes: int = 50 * MB
    allow_hosts: tuple[str, ...] = ()
    token: str | None = None
    body_timeout: float | None = 60.0


def hostname(value: str) -> str | None:
    """The host name of a ``Host`` header value (``"[::1]:8000"`` -> ``"::1"``), lowercased,
    without a trailing dot; None when malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        if rest and not (rest[:1] == ":" and rest[1:].isdigit()):
            return None
    else:
        name, _, port = value.partition(":")
        if port and not port.isdigit():
            return None
    name = name.rstrip(".")
    return name or None


def cookie_name(port: int | None) -> str:
    """The token cookie, one per port (cookies are shared by every port of a host)."""
    return f"clipvg-token-{port or 0}"


class Perimeter:
    """The ASGI middleware (``app`` is the inner ASGI app, kept as ``.app``)."""

    def __init__(self, app, settings: PerimeterSettings):
        self.app, self.settings = app, settings
        self.allowed = {"localhost"} | {
            h for h in (hostname(a) for a in settings.allow_hosts) if h is not None
        }

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                message = {**message, "headers": headers}
            await send(message)

        headers = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.decode("latin-1"), v.decode("latin-1"))
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            return await respond(send_with_headers, *refusal)
        if self.settings.token and _query_token(scope) is not None:
            return await self._token_redirect(scope, send_with_headers)
        guard = _BodyGuard(scope, receive, send_with_headers, self.settings, lambda: started)
        if guard.max_bytes and (guard.declared or 0) > guard.max_bytes:
            return await respond(send_with_headers, 413, guard.too_large(), [CLOSE])
        try:
            await self.app(scope, guard.receive, guard.send)
        except ClientDisconnect:
            pass  # logged by the guard; the route stopped reading
        except asyncio.CancelledError:  # only uvicorn cancels a request: shutdown timed out
            log.warning(
                "cut off %s %s at shutdown (its client was too slow)",
                scope["method"],
                scope["path"],
            )

    # ---- checks ---------------------------------------------------------------------
    def _refusal(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host")
        if host is None:
            return 403, "the request has no Host header; send Host: the address you connect to"
        name = hostname(host)
        server = scope.get("server") or (None, None)
        bound = hostname(f"[{server[0]}]" if ":" in str(server[0]) else str(server[0]))
        if name is None or (name not in self.allowed and name != bound):
            shown = host[:60]
            return 403, (
                f"Host {shown!r} is not this server's; use the address it was started on, "
                "localhost, or a name given with --allow-host"
            )
        if self.settings.token and not self._has_token(scope, headers):
            return 401, (
                "this server needs its token: open the URL printed at start (/?token=...) "
                "or send the header Authorization: Bearer TOKEN"
            )
        if scope["method"] in SAFE_METHODS:
            return None
        own = f"{scope.get('scheme', 'http')}://{host.strip().lower()}"
        origin = headers.get("origin")
        if origin is None and headers.get("referer"):
            parts = urlsplit(headers["referer"])
            origin = f"{parts.scheme}://{parts.netloc}"
        if origin is not None and origin.strip().lower() != own:
            return 403, (
                f"cross-site request refused: Origin {origin[:60]!r} is not this server's page"
            )
        return self._content_type_refusal(scope, headers)

    def _content_type_refusal(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        expected = (
            "multipart/form-data" if scope["path"] in MULTIPART_ROUTES else "application/json"
        )
        given = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        if given == expected or (not given and not has_body):
            return None
        what = f"content type {given!r}" if given else "a body without a content type"
        return 415, f"{scope['method']} {scope['path']} takes {expected}, not {what}"

    def _has_token(self, scope, headers: dict[str, str]) -> bool:
        token = self.settings.token
        scheme, _, value = headers.get("authorization", "").partition(" ")
        candidates = [value.strip()] if scheme.lower() in ("bearer", "token") else []
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header carries no token
            cookies = SimpleCookie()
        name = cookie_name((scope.get("server") or (None, None))[1])
        if name in cookies:
            candidates.append(cookies[name].value)
        if scope["method"] == "GET":
            candidates.append(_query_token(scope) or "")
        return any(hmac.compare_digest(c.encode(), token.encode()) for c in candidates if c)

    async def _token_redirect(self, scope, send) -> None:
        """``GET /path?token=T``: 303 to ``/path`` with the token kept in a cookie."""
        rest = [
            (k, v) for k, v in parse_qsl(scope["query_string"].decode("latin-1")) if k != "token"
        ]
        location = scope["path"] + (f"?{urlencode(rest)}" if rest else "")
        name = cookie_name((scope.get("server") or (None, None))[1])
        cookie = f"{name}={self.settings.token}; Path=/; HttpOnly; SameSite=Strict"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode("latin-1")),
                    (b"set-cookie", cookie.encode("latin-1")),
                    (b"content-length", b"0"),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _query_token(scope) -> str | None:
    for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if k == "token":
            return v
    return None


class _BodyGuard:
    """``receive``/``send`` for one request: counts the body, times it, refuses it.

    On refusal the guard answers (413 or 408, closing the connection), hands the route
    ``http.disconnect`` (it stops with ClientDisconnect) and drops what it then sends.
    """

    def __init__(self, scope, receive, send, settings: PerimeterSettings, started):
        self.scope, self._receive, self._send = scope, receive, send
        self.max_bytes, self.started = settings.max_body_bytes, started
        self.seen, self.done, self.refused = 0, False, False
        loop = asyncio.get_running_loop()
        self.deadline = (
            None if settings.body_timeout is None else loop.time() + settings.body_timeout
        )
        length = dict(scope.get("headers", [])).get(b"content-length")
        self.declared = int(length) if length is not None and length.isdigit() else None

    async def receive(self):
        if self.refused:
            return {"type": "http.disconnect"}
        if self.done:
            return await self._receive()
        try:
            if self.deadline is None:
                message = await self._receive()
            else:
                left = self.deadline - asyncio.get_running_loop().time()
                message = await asyncio.wait_for(self._receive(), max(left, 0.001))
        except TimeoutError:
            return await self._refuse(
                408, "the request body did not arrive in time; send it at once"
            )
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.max_bytes and self.seen > self.max_bytes:
                return await self._refuse(413, self.too_large())
            self.done = not message.get("more_body", False)
        elif message["type"] == "http.disconnect":
            self.done = True
            log.warning(
                "client went away during %s %s after %d bytes of its body",
                self.scope["method"],
                self.scope["path"],
                self.seen,
            )
        return message

    async def send(self, message):
        if not self.refused:
            await self._send(message)

    def too_large(self) -> str:
        return (
            f"the request is over the upload limit of {self.max_bytes / MB:g} MB (--max-upload-mb)"
        )

    async def _refuse(self, status: int, message: str):
        self.refused = True
        if not self.started():
            await respond(self._send, status, message, [CLOSE])
        return {"type": "http.disconnect"}


async def respond(send, status: int, message: str, headers=()) -> None:
    """Send a whole JSON ``{"error": message}`` response."""
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def protect(app, settings: PerimeterSettings) -> Perimeter:
    """Wrap a FastAPI/Starlette ``app`` in the perimeter.

    Also makes a route that stops on a vanished client (ClientDisconnect) end
    quietly: the perimeter has logged it in one line.
    """

    async def client_gone(request, exc):
        return Response(status_code=400)  # never delivered: the client is gone

    app.add_exception_handler(ClientDisconnect, client_gone)
    return Perimeter(app, settings)
