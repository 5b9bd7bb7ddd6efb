"""The guarded fetch downloads from allowed hosts and refuses everything else, over real sockets."""

from __future__ import annotations

import io
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mediaforge.errors import BadRequest, PayloadTooLarge
from mediaforge.net import BlockedAddress, fetch_to_file

BODY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64


class _Handler(BaseHTTPRequestHandler):
    release: threading.Event

    def do_GET(self) -> None:
        route = {
            "/data.png": self._data,
            "/hop": lambda: self._redirect("/data.png"),
            "/loop": lambda: self._redirect("/loop"),
            "/outside": lambda: self._redirect(self.server.outside_url),  # type: ignore[attr-defined]
            "/host": lambda: self._send(self.headers["Host"].encode()),
            "/big-declared": lambda: self._send(b"x" * 5000),
            "/big-streamed": self._big_streamed,
            "/slow": self._slow,
            "/trickle": self._trickle,
            "/missing": lambda: self._send(b"nope", status=404),
        }.get(self.path.split("?")[0])
        (route or (lambda: self._send(b"", status=404)))()

    def _send(self, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _data(self) -> None:
        disposition = "attachment; filename*=UTF-8''na%C3%AFve%20photo.png"
        self._send(BODY, headers={"Content-Type": "image/png", "Content-Disposition": disposition})

    def _redirect(self, location: str) -> None:
        self._send(b"", status=302, headers={"Location": location})

    def _big_streamed(self) -> None:
        self.send_response(200)
        self.end_headers()
        for _ in range(64):
            self.wfile.write(b"x" * 1024)

    def _slow(self) -> None:
        self.release.wait(10)
        self._send(b"late")

    def _trickle(self) -> None:
        self.send_response(200)
        self.end_headers()
        while not self.release.wait(0.05):
            self.wfile.write(b"x")
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    outside_url = ""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up mid-body on purpose here


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[tuple[_Server, threading.Event]] = []

    def start(tls: ssl.SSLContext | None = None) -> _Server:
        release = threading.Event()
        handler = type("Handler", (_Handler,), {"release": release})
        server = _Server(("127.0.0.1", 0), handler)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        servers.append((server, release))
        return server

    yield start
    for server, release in servers:
        release.set()
        server.shutdown()
        server.server_close()


def _fetch(url: str, allow: set[str], **overrides: Any) -> tuple[Any, bytes]:
    dest = io.BytesIO()
    options: dict[str, Any] = {"max_bytes": 1 << 20, "timeout": 5.0, "max_redirects": 3}
    result = fetch_to_file(url, dest, allow_hosts=frozenset(allow), **(options | overrides))
    return result, dest.getvalue()


def test_allowed_local_server_is_downloaded(serve: Any) -> None:
    """With its host:port allowed, a loopback server's body lands in ``dest`` with its metadata."""
    port = serve().server_port
    result, body = _fetch(f"http://127.0.0.1:{port}/data.png?v=1", {f"127.0.0.1:{port}"})
    assert body == BODY
    assert (200, len(BODY), "image/png", "naïve photo.png") == (
        result.status,
        result.size,
        result.content_type,
        result.filename,
    )


def test_local_server_is_blocked_without_allow_list(serve: Any) -> None:
    """The same loopback URL is refused when nothing is allowed."""
    port = serve().server_port
    with pytest.raises(BlockedAddress):
        _fetch(f"http://127.0.0.1:{port}/data.png", set())


def test_connection_goes_to_the_resolved_ip_with_the_original_host_header(serve: Any) -> None:
    """``localhost`` is resolved once and the server still sees ``Host: localhost:<port>``."""
    port = serve().server_port
    _, body = _fetch(f"http://localhost:{port}/host", {f"localhost:{port}"})
    assert f"localhost:{port}".encode() == body


def test_redirects_are_followed_and_reported(serve: Any) -> None:
    """A relative redirect on an allowed host is followed; the final URL and name come from it."""
    port = serve().server_port
    result, body = _fetch(f"http://127.0.0.1:{port}/hop", {f"127.0.0.1:{port}"})
    assert (BODY, f"http://127.0.0.1:{port}/data.png") == (body, result.final_url)


def test_redirect_to_a_blocked_address_is_refused(serve: Any) -> None:
    """An allowed server cannot bounce the fetch to a port that is not allowed."""
    allowed, other = serve(), serve()
    allowed.outside_url = f"http://127.0.0.1:{other.server_port}/data.png"
    with pytest.raises(BlockedAddress):
        _fetch(f"http://127.0.0.1:{allowed.server_port}/outside", {f"127.0.0.1:{allowed.server_port}"})


def test_redirect_loop_stops_at_the_limit(serve: Any) -> None:
    """A server redirecting to itself forever ends in ``too_many_redirects``."""
    port = serve().server_port
    with pytest.raises(BadRequest) as caught:
        _fetch(f"http://127.0.0.1:{port}/loop", {f"127.0.0.1:{port}"})
    assert caught.value.code == "too_many_redirects"


@pytest.mark.parametrize("path", ["/big-declared", "/big-streamed"])
def test_oversize_body_is_refused(serve: Any, path: str) -> None:
    """A body past ``max_bytes`` fails whether Content-Length declares it or the stream reveals it."""
    port = serve().server_port
    with pytest.raises(PayloadTooLarge) as caught:
        _fetch(f"http://127.0.0.1:{port}{path}", {f"127.0.0.1:{port}"}, max_bytes=4096)
    assert (caught.value.status, caught.value.code) == (413, "fetch_too_large")


@pytest.mark.parametrize("path", ["/slow", "/trickle"])
def test_slow_server_hits_the_whole_fetch_deadline(serve: Any, path: str) -> None:
    """Silence and a byte-at-a-time trickle both end in ``fetch_timeout`` near ``timeout``."""
    port = serve().server_port
    with pytest.raises(BadRequest) as caught:
        _fetch(f"http://127.0.0.1:{port}{path}", {f"127.0.0.1:{port}"}, timeout=0.4)
    assert caught.value.code == "fetch_timeout"


def test_upstream_error_status_is_a_fetch_failure(serve: Any) -> None:
    """A non-2xx answer becomes ``fetch_failed`` carrying the upstream status."""
    port = serve().server_port
    with pytest.raises(BadRequest) as caught:
        _fetch(f"http://127.0.0.1:{port}/missing", {f"127.0.0.1:{port}"})
    assert (caught.value.code, caught.value.details) == ("fetch_failed", {"status": 404})


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to mint a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=media.test"
    command += " -addext subjectAltName=DNS:media.test -keyout key.pem -out cert.pem"
    subprocess.run(command.split(), cwd=folder, check=True, capture_output=True)
    return folder


@pytest.mark.parametrize(("name", "ok"), [("media.test", True), ("other.test", False)])
def test_tls_is_verified_against_the_real_host_name(
    serve: Any, certificate: Path, monkeypatch: pytest.MonkeyPatch, name: str, ok: bool
) -> None:
    """Connecting by IP, TLS still checks the certificate against the URL's host name (SNI)."""
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    port = serve(server_tls).server_port
    real = socket.getaddrinfo

    def fake_dns(host: str, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host.endswith(".test") else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    trust = ssl.create_default_context(cafile=certificate / "cert.pem")
    url = f"https://{name}:{port}/host"
    if ok:
        assert f"{name}:{port}".encode() == _fetch(url, {name}, verify=trust)[1]
    else:
        with pytest.raises(BadRequest) as caught:
            _fetch(url, {name}, verify=trust)
        assert caught.value.code == "fetch_failed"
        assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
