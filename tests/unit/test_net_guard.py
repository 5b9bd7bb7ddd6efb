"""The SSRF guard refuses every spelling of an inward address and lets public ones through."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from mediaforge.errors import BadRequest
from mediaforge.net import BlockedAddress, allowed_target, check_url, is_public_ip, resolve_public

NONE: frozenset[str] = frozenset()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "64:ff9b::a00:1",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "fe80::1",
        "fec0::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_not_public(address: str) -> None:
    """Loopback, private, link-local, metadata, CGNAT, multicast and v4-embedding v6 are refused."""
    assert is_public_ip(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]
)
def test_public_addresses_are_public(address: str) -> None:
    """Globally routable addresses, including v6 forms that embed a public v4, pass."""
    assert is_public_ip(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://017700000001/",
        "http://localhost:8000/",
        "https://LOCALHOST/",
    ],
)
def test_inward_urls_are_blocked(url: str) -> None:
    """Every literal and numeric spelling of an inward address, and ``localhost``, is blocked."""
    with pytest.raises(BlockedAddress) as caught:
        allowed_target(url, NONE)
    assert (caught.value.status, caught.value.code) == (400, "url_blocked")


def test_public_literal_ip_is_allowed() -> None:
    """A public IP literal resolves to itself and passes without any connection."""
    assert resolve_public("93.184.216.34", 443, NONE) == ["93.184.216.34"]


def test_dns_name_pointing_inward_is_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A public-looking name whose DNS answer includes a private address is blocked."""
    real = socket.getaddrinfo

    def fake_dns(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "evil.example":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port)),
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.1"):
        allowed_target("https://evil.example/image.png", NONE)


def test_allow_list_exempts_host_and_port() -> None:
    """``host:port`` in the allow list exempts exactly that port."""
    allow = frozenset({"127.0.0.1:8123"})
    assert resolve_public("127.0.0.1", 8123, allow) == ["127.0.0.1"]
    with pytest.raises(BlockedAddress):
        resolve_public("127.0.0.1", 8124, allow)


def test_allow_list_exempts_bare_host_on_any_port() -> None:
    """A bare host in the allow list exempts it on every port."""
    assert resolve_public("127.0.0.1", 9, frozenset({"127.0.0.1"})) == ["127.0.0.1"]


def test_unresolvable_host_is_a_bad_request() -> None:
    """A name that does not resolve is ``url_unresolvable``, not a crash."""
    with pytest.raises(BadRequest) as caught:
        resolve_public("does-not-exist.invalid", 80, NONE)
    assert caught.value.code == "url_unresolvable"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://example.com/",
        "ftp://example.com/",
        "http://user:pass@example.com/",
        "http://user@example.com/",
        "http:///path-only",
        "http://example.com:99999/",
        "http://example.com:0/",
        "http://exa mple.com/",
        "//example.com/",
    ],
)
def test_malformed_urls_are_invalid(url: str) -> None:
    """Only absolute http(s) URLs with a host, a valid port and no credentials are accepted."""
    with pytest.raises(BadRequest) as caught:
        check_url(url)
    assert caught.value.code == "invalid_url"


def test_check_url_splits_the_parts_a_pinned_connection_needs() -> None:
    """The target keeps host, port and path+query, and renders the Host header and an IP URL."""
    target = check_url("HTTPS://Bücher.Example:8443/a b?q=1#frag")
    assert (
        target.scheme,
        target.host,
        target.port,
        target.path,
    ) == ("https", "xn--bcher-kva.example", 8443, "/a b?q=1")
    assert target.authority == "xn--bcher-kva.example:8443"
    assert target.url_for("2606:4700::1") == "https://[2606:4700::1]:8443/a b?q=1"
    assert check_url("http://example.com:80").authority == "example.com"
