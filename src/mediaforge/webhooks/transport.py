"""Sending one delivery over HTTP or a websocket, always through the SSRF guard.

The target is resolved once, every address is checked, and the connection goes to a checked IP
(``Host`` header and TLS SNI carry the real name), so DNS cannot change between check and use.
Redirects are not followed: a 3xx is a failed attempt, as Standard Webhooks recommends.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from mediaforge import __version__
from mediaforge.errors import BadRequest
from mediaforge.net.guard import BlockedAddress, Target, check_url, resolve_public
from mediaforge.webhooks import signing
from mediaforge.webhooks.states import Transport

__all__ = ["Message", "Sent", "check_target", "send"]

USER_AGENT = f"mediaforge-webhooks/{__version__}"
SNIPPET_CHARS = 500
_READ_BYTES = 4 * SNIPPET_CHARS
_WS_SCHEMES = {"ws": "http", "wss": "https"}
_CLEAN_CLOSE = frozenset({1000, 1001, 1005})


@dataclass(frozen=True, slots=True)
class Message:
    """What goes out: the body is signed exactly as sent."""

    id: str
    target_url: str
    transport: Transport
    body: bytes
    secrets: Sequence[str]


@dataclass(frozen=True, slots=True)
class Sent:
    """What one attempt produced; ``status_code`` is None when no answer came."""

    status_code: int | None
    latency_ms: int
    delivered: bool = False
    """The target took it: a 2xx answer, or a websocket frame sent and the connection closed cleanly."""
    snippet: str | None = None
    error: str | None = None
    retry_after: str | None = None
    permanent: bool = False
    """The target must not be contacted at all (blocked or malformed URL): retrying cannot help."""


def check_target(url: str, transport: Transport, allow_hosts: frozenset[str]) -> Target:
    """Validate ``url`` for ``transport`` and check that every address it resolves to may be contacted.

    Returns the target in http(s) terms (a websocket URL maps ws -> http, wss -> https).
    """
    target = _target(url, transport)
    resolve_public(target.host, target.port, allow_hosts)
    return target


def send(
    message: Message,
    *,
    timeout: float,
    allow_hosts: frozenset[str],
    verify: ssl.SSLContext | bool = True,
) -> Sent:
    """Make one attempt; never raises for anything the target or the network does."""
    started = time.monotonic()
    try:
        target = _target(message.target_url, message.transport)
        addresses = resolve_public(target.host, target.port, allow_hosts)
    except BlockedAddress as exc:
        return Sent(None, 0, error=f"url_blocked: {exc.message}", permanent=True)
    except BadRequest as exc:
        return Sent(None, 0, error=f"{exc.code}: {exc.message}", permanent=exc.code == "invalid_url")
    headers = signing.headers(message.secrets, message.id, int(time.time()), message.body)
    deadline = started + timeout
    if message.transport is Transport.WEBSOCKET:
        return _websocket(message, target, addresses, headers, deadline, verify, started)
    return _post(message, target, addresses, headers, deadline, verify, started)


def _target(url: str, transport: Transport) -> Target:
    if transport is Transport.WEBSOCKET:
        scheme, sep, rest = url.strip().partition("://")
        if not sep or scheme.lower() not in _WS_SCHEMES:
            raise BadRequest("a websocket target URL starts with ws:// or wss://", code="invalid_url")
        return check_url(f"{_WS_SCHEMES[scheme.lower()]}://{rest}")
    return check_url(url)


def _post(
    message: Message,
    target: Target,
    addresses: list[str],
    headers: dict[str, str],
    deadline: float,
    verify: ssl.SSLContext | bool,
    started: float,
) -> Sent:
    headers = {
        **headers,
        "Host": target.authority,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    # A client per attempt: no pooled connection is shared between targets that share an IP.
    with httpx.Client(verify=verify, trust_env=False, follow_redirects=False) as client:
        for index, address in enumerate(addresses):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Sent(None, _ms(started), error="timeout")
            request = client.build_request(
                "POST",
                target.url_for(address),
                headers=headers,
                content=message.body,
                extensions=extensions,
                timeout=remaining,
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError as exc:
                if index < len(addresses) - 1:
                    continue
                return Sent(None, _ms(started), error=f"connect_failed: {exc}")
            except httpx.TimeoutException:
                return Sent(None, _ms(started), error="timeout")
            except httpx.HTTPError as exc:
                return Sent(None, _ms(started), error=f"{type(exc).__name__}: {exc}")
            try:
                snippet = _snippet(response)
            finally:
                response.close()
            return Sent(
                response.status_code,
                _ms(started),
                delivered=200 <= response.status_code < 300,
                snippet=snippet,
                retry_after=response.headers.get("retry-after"),
            )
    return Sent(None, _ms(started), error="connect_failed")  # pragma: no cover - addresses is never empty


def _snippet(response: httpx.Response) -> str | None:
    body = b""
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= _READ_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status line already answered; a broken body only shortens the snippet
    return body.decode("utf-8", errors="replace")[:SNIPPET_CHARS] or None


def _websocket(
    message: Message,
    target: Target,
    addresses: list[str],
    headers: dict[str, str],
    deadline: float,
    verify: ssl.SSLContext | bool,
    started: float,
) -> Sent:
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    sock, error = None, "timeout"
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            sock = socket.create_connection((address, target.port), timeout=remaining)
            break
        except OSError as exc:
            error = f"connect_failed: {exc}"
    if sock is None:
        return Sent(None, _ms(started), error=error)
    secure = target.scheme == "https"
    context = _ssl_context(verify) if secure else None
    host = f"[{target.host}]" if ":" in target.host else target.host
    uri = f"{'wss' if secure else 'ws'}://{host}:{target.port}{target.path}"
    remaining = max(deadline - time.monotonic(), 0.001)
    try:
        with connect(
            uri,
            sock=sock,
            ssl=context,
            server_hostname=target.host if secure else None,
            additional_headers=headers,
            user_agent_header=USER_AGENT,
            proxy=None,
            compression=None,
            open_timeout=remaining,
            close_timeout=remaining,
            ping_interval=None,
        ) as connection:
            connection.send(message.body.decode())
        code = connection.close_code
    except InvalidStatus as exc:
        response = exc.response
        snippet = response.body.decode("utf-8", errors="replace")[:SNIPPET_CHARS] if response.body else None
        retry_after = response.headers.get("Retry-After")
        return Sent(response.status_code, _ms(started), snippet=snippet, retry_after=retry_after)
    except TimeoutError:
        return Sent(None, _ms(started), error="timeout")
    except (OSError, WebSocketException) as exc:
        return Sent(None, _ms(started), error=f"{type(exc).__name__}: {exc}")
    finally:
        sock.close()
    if code is not None and code not in _CLEAN_CLOSE:
        return Sent(101, _ms(started), error=f"the target closed the websocket with code {code}")
    return Sent(101, _ms(started), delivered=True)


def _ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
