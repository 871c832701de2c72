"""The headers every answer of the API process carries, the dashboard's pages included.

* `Content-Security-Policy`: scripts, styles, fonts and connections from this origin
  only, no inline script, no `eval`, no plugin, no `<base>`, forms posting here only, and
  no framing (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for old browsers).
  Images may also be `data:` URIs (the API page's icons). Every script and style is a file
  the package serves (`webmon/web/static`); the site page's chart data is a
  `<script type="application/json">`, a data block that no policy runs or blocks.
* `X-Content-Type-Options: nosniff`; `Referrer-Policy: no-referrer` (URLs carry badge
  tokens and one-time login links); `Cross-Origin-Opener-Policy: same-origin`.
* `Cache-Control: no-store` on what is not a static file and sets no caching of its own:
  pages and answers hold sites, results and keys' doings.
* `Strict-Transport-Security` on answers over TLS (directly, or through a trusted proxy).

A header the answer set already is left as it is.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
ALWAYS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"
# As ASGI carries them: lower-case names, bytes (added to every answer, so made once).
_ALWAYS = tuple((name.lower().encode(), value.encode()) for name, value in ALWAYS.items())
_NO_STORE = (b"cache-control", b"no-store")
_HSTS = (b"strict-transport-security", HSTS.encode())


class SecurityHeaders:
    """Plain ASGI: adds the headers to each answer's start."""

    def __init__(self, app: ASGIApp, static_prefix: str) -> None:
        self.app = app
        self._static = static_prefix.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = list(_ALWAYS)
        if not str(scope.get("path", "")).startswith(self._static):
            wanted.append(_NO_STORE)
        if scope.get("scheme") == "https":
            wanted.append(_HSTS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [header for header in wanted if header[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
