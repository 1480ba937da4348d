"""Who may use the page's API: only the page itself, and loudly so when others could reach it.

The sandbox acts as any teacher and operator and shows every code, so another web page in the
same browser must not drive it (CSRF) or read it through a hostname it points at 127.0.0.1
(DNS rebinding). Rules for `/api/…`:

- the Host header names this server (loopback names, or the configured host) — else 403;
- `Sec-Fetch-Site`, when the browser sends it, is `same-origin` (or `none`: typed by the person);
  `Origin`, when sent, is this server's own origin — else 403;
- a request that changes something (POST, PUT, PATCH) carries `Content-Type: application/json`,
  which no plain HTML form and no "simple" cross-site fetch can send — else 415.

Requests with neither Origin nor Sec-Fetch-Site come from programs on this machine (tests, curl),
which could act on the sandbox anyway. The Bot API (`/bot<token>/…`) is the bot's, not the page's,
and keeps Telegram's own rules.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
SAME_ORIGIN_FETCH_SITES = frozenset({"same-origin", "none"})
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH"})


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, «localhost»)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname: it may resolve to anything


def allowed_hosts(bind_host: str) -> frozenset[str] | None:
    """Host names the page may be reached by; None when bound to every interface (any name)."""
    if bind_host in WILDCARD_HOSTS:
        return None
    return LOOPBACK_NAMES | {bind_host.strip("[]").lower()}


def _host_name(host_header: str) -> str:
    """`127.0.0.1:8080` → `127.0.0.1`, `[::1]:8080` → `::1`, `Example.org` → `example.org`."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")].lower()
    return host_header.rsplit(":", 1)[0].lower() if ":" in host_header else host_header.lower()


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def same_origin_guard(hosts: Iterable[str] | None) -> Middleware:
    """The aiohttp middleware enforcing the rules above on `/api/…` (and Host on the page)."""
    known = None if hosts is None else frozenset(hosts)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/bot"):
            return await handler(request)
        if known is not None and _host_name(request.host) not in known:
            logger.warning("sandbox refused a request for an unknown host: %s", request.host)
            return _refuse(403, "unknown host")
        if not path.startswith("/api/"):
            return await handler(request)
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in SAME_ORIGIN_FETCH_SITES:
            logger.warning("sandbox refused a %s request from another site", fetch_site)
            return _refuse(403, "cross-origin requests are refused")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            logger.warning("sandbox refused a request from origin %s", origin)
            return _refuse(403, "cross-origin requests are refused")
        if request.method in CHANGING_METHODS and request.content_type != "application/json":
            return _refuse(415, "send JSON (Content-Type: application/json)")
        return await handler(request)

    return guard


def warn_if_exposed(bind_host: str, url: str) -> bool:
    """Say loudly (log and terminal) when the page is reachable from other machines."""
    if is_loopback(bind_host):
        return False
    message = (
        f"the sandbox listens on {bind_host or 'every interface'} ({url}): anyone who can reach "
        "this address can act as any demo teacher and operator and read every code. "
        "Use SANDBOX_HOST=127.0.0.1 unless you mean it."
    )
    logger.warning(message)
    print(f"WARNING: {message}", file=sys.stderr, flush=True)
    return True
