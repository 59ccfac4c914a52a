"""The server's security middleware, in one place: headers and the request size limit.

- every response carries a Content-Security-Policy that allows scripts, styles and
  connections from this origin only (no inline or remote script), ``nosniff`` and
  ``no-referrer``;
- request bodies over ``max_bytes`` are refused with 413 before they are read.

Further perimeter checks (hosts, origins) wrap the app here too, so that one module
lists what stands between the network and the routes.
"""

from __future__ import annotations

import json

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


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware: security headers on every response, request body size limit."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {
                    **message,
                    "headers": list(message.get("headers", [])) + SECURITY_HEADERS,
                }
            await send(message)

        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._too_large(send_with_headers)
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except _TooLarge:
            if not started:
                await self._too_large(send_with_headers)

    async def _too_large(self, send):
        mb = self.max_bytes / MB
        body = json.dumps(
            {"error": f"the request is over the upload limit of {mb:g} MB (--max-upload-mb)"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
