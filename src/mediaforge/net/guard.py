"""SSRF guard: outbound requests reach public addresses only, unless a host is explicitly allowed.

The check runs on the *resolved* addresses, so every spelling of a private address (``127.1``,
``2130706433``, ``0x7f.1``, ``::ffff:127.0.0.1``, a DNS name pointing inward) is caught the same way.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

from mediaforge.errors import BadRequest

__all__ = ["BlockedAddress", "Target", "allowed_target", "check_url", "is_public_ip", "resolve_public"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOSTNAME = re.compile(r"[a-z0-9._-]+")

# Ranges that ``is_global`` lets through on some Python patch releases, or that are never a
# legitimate fetch target (shared, multicast, reserved, benchmarking, IETF protocol assignments).
_BLOCKED_V4 = tuple(
    IPv4Network(n)
    for n in ("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4")
)
_BLOCKED_V6 = tuple(
    IPv6Network(n)
    for n in ("::/96", "64:ff9b:1::/48", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10")
)
_NAT64 = IPv6Network("64:ff9b::/96")


class BlockedAddress(BadRequest):
    """The URL points at an address mediaforge refuses to contact (loopback, private, metadata...)."""

    code = "url_blocked"


@dataclass(frozen=True, slots=True)
class Target:
    """A validated absolute http(s) URL, split into the parts a pinned connection needs."""

    scheme: str
    host: str
    """Lowercase ASCII (IDNA) host name or IP literal, without brackets."""
    port: int
    path: str
    """Path plus query, never empty; the fragment is dropped."""

    @property
    def authority(self) -> str:
        """The ``Host`` header value: the port appears only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if _DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"

    def url_for(self, address: str) -> str:
        """This URL with the host replaced by an already-resolved IP address."""
        literal = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{literal}:{self.port}{self.path}"


def is_public_ip(ip: IPv4Address | IPv6Address) -> bool:
    """Whether ``ip`` is globally routable and safe to contact from inside the deployment."""
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_ip(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public_ip(IPv4Address(int(ip) & 0xFFFFFFFF))
        embedded = [ip.sixtofour] if ip.sixtofour is not None else list(ip.teredo or ())
        if any(not is_public_ip(v4) for v4 in embedded):
            return False
        if ip.is_site_local or any(ip in net for net in _BLOCKED_V6):
            return False
    elif any(ip in net for net in _BLOCKED_V4):
        return False
    flags = (ip.is_loopback, ip.is_private, ip.is_link_local, ip.is_multicast, ip.is_reserved)
    return ip.is_global and not ip.is_unspecified and not any(flags)


def check_url(url: str) -> Target:
    """Validate an outbound URL's shape: http(s), a host, no credentials, a valid port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BadRequest(f"invalid URL: {exc}", code="invalid_url") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        shown = scheme or "(none)"
        raise BadRequest(f"URL scheme {shown!r} is not allowed; use http or https", code="invalid_url")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("URLs with credentials are not allowed", code="invalid_url")
    host = _normalize_host(parts.hostname or "")
    if port == 0:
        raise BadRequest("URL port 0 is not allowed", code="invalid_url")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, port=port or _DEFAULT_PORTS[scheme], path=path)


def resolve_public(host: str, port: int, allow_hosts: frozenset[str]) -> list[str]:
    """Resolve ``host`` and return its addresses, refusing if any of them is not public.

    ``allow_hosts`` entries (``host`` or ``host:port``, lowercase) skip the public check.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BadRequest(f"cannot resolve host {host!r}", code="url_unresolvable") from exc
    families = (socket.AF_INET, socket.AF_INET6)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos if info[0] in families))
    if not addresses:
        raise BadRequest(f"host {host!r} has no IP address", code="url_unresolvable")
    if _is_allowed(host, port, allow_hosts):
        return addresses
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not is_public_ip(ip):
            where = host if host == address else f"{host!r} (resolves to {address})"
            raise BlockedAddress(f"refusing to contact {where}: not a public address")
    return addresses


def allowed_target(url: str, allow_hosts: frozenset[str]) -> None:
    """Raise unless ``url`` is well formed and every address it resolves to may be contacted."""
    target = check_url(url)
    resolve_public(target.host, target.port, allow_hosts)


def _normalize_host(host: str) -> str:
    if not host:
        raise BadRequest("URL has no host", code="invalid_url")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise BadRequest(f"invalid host name {host!r}", code="invalid_url") from exc
    if not _HOSTNAME.fullmatch(ascii_host):
        raise BadRequest(f"invalid host name {host!r}", code="invalid_url")
    return ascii_host


def _is_allowed(host: str, port: int, allow_hosts: frozenset[str]) -> bool:
    host = host.lower()
    names = {host, f"[{host}]"} if ":" in host else {host}
    return any(name in allow_hosts or f"{name}:{port}" in allow_hosts for name in names)
