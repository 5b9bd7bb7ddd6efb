"""The OpenAI-compatible vision path, against a local fake provider (an outside AI API, mocked)."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image

from mediaforge.tagging import Status, TagOptions, VisionConfig, tag_image
from mediaforge.tagging.vision import VisionError, describe


class FakeProvider:
    """Answers ``POST /v1/chat/completions`` with ``content`` and keeps every request it got."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.content: Any = '```json\n{"alt_text": "A tabby cat asleep on a red blanket.",'
        self.content += ' "keywords": ["Cat", "tabby", "blanket", "sleeping"]}\n```'
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                answer = {"choices": [{"message": {"role": "assistant", "content": provider.content}}]}
                data = json.dumps(answer).encode()
                self.send_response(provider.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def config(self, **overrides: Any) -> VisionConfig:
        values: dict[str, Any] = {
            "base_url": f"http://127.0.0.1:{self.port}/v1",
            "model": "fake-vision-1",
            "api_key": "sk-test",
            "timeout": 5.0,
            "allow_hosts": frozenset({f"127.0.0.1:{self.port}"}),
        }
        return VisionConfig(**{**values, **overrides})


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def photo() -> Image.Image:
    return Image.new("RGB", (1600, 1200), (200, 30, 40))


def test_describe_sends_the_image_and_parses_a_fenced_answer(provider: FakeProvider) -> None:
    """The request carries the model, the bearer key and a JPEG data URL; a fenced JSON answer parses."""
    answer = describe(photo(), provider.config(), hints=["colours: red"])
    keywords = ["Cat", "tabby", "blanket", "sleeping"]
    expected = ("A tabby cat asleep on a red blanket.", keywords, "fake-vision-1")
    assert expected == (answer.alt_text, answer.keywords, answer.model)
    [request] = provider.requests
    content = request["body"]["messages"][1]["content"]
    url = content[1]["image_url"]["url"]
    assert ("/v1/chat/completions", "Bearer sk-test", "fake-vision-1") == (
        request["path"],
        request["headers"]["Authorization"],
        request["body"]["model"],
    )
    assert url.startswith("data:image/jpeg;base64,")
    assert "colours: red" in content[0]["text"]
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert 1024 == max(sent.size)


def test_a_loopback_provider_is_refused_unless_allowed(provider: FakeProvider) -> None:
    """The SSRF guard stops a base URL pointing inside the deployment unless its host is allowed."""
    with pytest.raises(VisionError, match="not a public address"):
        describe(photo(), provider.config(allow_hosts=frozenset()))
    assert [] == provider.requests


@pytest.mark.parametrize(
    ("status", "content", "message"),
    [
        (500, "{}", "answered HTTP 500"),
        (200, "I think it is a cat.", "not JSON"),
        (200, '{"keywords": ["cat"]}', "no alt_text"),
    ],
    ids=["http-error", "prose", "no-alt-text"],
)
def test_unusable_answers_are_errors(provider: FakeProvider, status: int, content: str, message: str) -> None:
    """An HTTP error or an answer without alt text is a ``VisionError``, never a made-up description."""
    provider.status, provider.content = status, content
    with pytest.raises(VisionError, match=message):
        describe(photo(), provider.config())


def test_keywords_may_come_as_a_comma_separated_string(provider: FakeProvider) -> None:
    """Some models answer keywords as one string; it is split on commas."""
    provider.content = json.dumps({"alt_text": "A red square.", "keywords": "red, square , "})
    assert ["red", "square"] == describe(photo(), provider.config()).keywords


def test_tagging_with_vision_leads_with_its_answer_and_merges_local_signals(provider: FakeProvider) -> None:
    """The model's alt text names the file; its keywords lead and the local colour follows."""
    options = TagOptions(signals=frozenset({"colors", "vision"}), extension="jpg", vision=provider.config())
    result = tag_image(photo(), options)
    expected = (
        "vision",
        "A tabby cat asleep on a red blanket.",
        ["cat", "tabby", "blanket", "sleeping", "red"],
        "tabby-cat-asleep-red-blanket.jpg",
        Status.OK,
    )
    actual = (
        result.source,
        result.alt_text,
        result.keywords,
        result.filename,
        result.signals["vision"].status,
    )
    assert expected == actual
    assert "colours: red" in provider.requests[0]["body"]["messages"][1]["content"][0]["text"]


def test_a_failing_provider_falls_back_to_local_alt_text(provider: FakeProvider) -> None:
    """When the model fails, vision is reported failed and the alt text comes from local signals."""
    provider.status = 503
    options = TagOptions(signals=frozenset({"colors", "vision"}), vision=provider.config())
    result = tag_image(photo(), options)
    report = result.signals["vision"]
    assert ("local", "An image in red.", Status.FAILED) == (result.source, result.alt_text, report.status)
    assert "HTTP 503" in (report.reason or "")
