"""Download a URL to a file without letting it reach inside the deployment.

Each hop is validated, resolved once and connected to by IP (the ``Host`` header and TLS SNI
carry the real name), so a DNS answer cannot change between the check and the connection.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from mediaforge.errors import BadRequest, PayloadTooLarge
from mediaforge.net.guard import Target, check_url, resolve_public

__all__ = ["FetchResult", "fetch_to_file"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = {"User-Agent": "mediaforge-fetch/1", "Accept": "*/*", "Accept-Encoding": "identity"}


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a successful download produced; the body itself went to ``dest``."""

    final_url: str
    status: int
    content_type: str | None
    """The server's ``Content-Type`` header, verbatim; never trust it for the media type."""
    size: int
    filename: str | None
    """From ``Content-Disposition``, else the last URL path segment; stripped of any path."""


def fetch_to_file(
    url: str,
    dest: BinaryIO,
    *,
    max_bytes: int,
    timeout: float,
    max_redirects: int,
    allow_hosts: frozenset[str],
    verify: ssl.SSLContext | bool = True,
) -> FetchResult:
    """GET ``url`` into ``dest``, following redirects by hand and re-checking every hop.

    ``timeout`` bounds the whole download, redirects included. On error ``dest`` may hold a
    partial body; the caller discards it. ``verify`` is for private CAs (and tests).
    """
    deadline = time.monotonic() + timeout
    target = check_url(url)
    for _ in range(max_redirects + 1):
        addresses = resolve_public(target.host, target.port, allow_hosts)
        with _http_errors(target), _open(target, addresses, deadline, verify) as response:
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                target = check_url(urljoin(target.url, location))
                continue
            if not 200 <= response.status_code < 300:
                raise BadRequest(
                    f"{target.url} answered HTTP {response.status_code}",
                    code="fetch_failed",
                    details={"status": response.status_code},
                )
            size = _copy_body(response, dest, max_bytes, deadline)
            return FetchResult(
                final_url=target.url,
                status=response.status_code,
                content_type=response.headers.get("content-type"),
                size=size,
                filename=_filename(response.headers.get("content-disposition"), target.path),
            )
    raise BadRequest(f"more than {max_redirects} redirects fetching {url}", code="too_many_redirects")


@contextmanager
def _http_errors(target: Target) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise _timeout(target) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise BadRequest(f"fetching {target.url} failed: {exc}", code="fetch_failed") from exc


@contextmanager
def _open(
    target: Target, addresses: list[str], deadline: float, verify: ssl.SSLContext | bool
) -> Iterator[httpx.Response]:
    # A client per hop: no pooled connection (or cookie) crosses from one host name to another
    # that happens to share an IP, so each TLS session is verified for the name it serves.
    with httpx.Client(verify=verify, trust_env=False, follow_redirects=False) as client:
        headers = {**_HEADERS, "Host": target.authority}
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        for index, address in enumerate(addresses):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _timeout(target)
            request = client.build_request(
                "GET", target.url_for(address), headers=headers, extensions=extensions, timeout=remaining
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
                continue
            try:
                yield response
            finally:
                response.close()
            return


def _copy_body(response: httpx.Response, dest: BinaryIO, max_bytes: int, deadline: float) -> int:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        if time.monotonic() > deadline:
            raise BadRequest("download exceeded its time limit", code="fetch_timeout")
        dest.write(chunk)
    return size


def _filename(content_disposition: str | None, path: str) -> str | None:
    name = None
    if content_disposition:
        message = Message()
        message["content-disposition"] = content_disposition
        name = message.get_filename()
    if not name:
        name = unquote(urlsplit(path).path.rsplit("/", 1)[-1])
    name = PurePosixPath(name.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:255] or None


def _timeout(target: Target) -> BadRequest:
    return BadRequest(f"fetching {target.url} timed out", code="fetch_timeout")


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"remote file is larger than {max_bytes} bytes", code="fetch_too_large")
