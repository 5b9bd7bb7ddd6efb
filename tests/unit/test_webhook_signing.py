"""``mediaforge.webhooks.verify`` and ``sign`` agree with the Standard Webhooks test vectors.

The vectors come from the specification's reference libraries: standard-webhooks/standard-webhooks,
``libraries/python/tests/test_webhooks.py`` (``test_sign_function``, ``test_invalid_signature_raises_error``,
``test_multi_sig_payload_is_valid``; the same constants appear in the JavaScript, Go and Ruby tests), and
``spec/standard-webhooks.md`` (signed content ``{msg_id}.{timestamp}.{payload}``, five-minute tolerance).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import pytest

from mediaforge.webhooks import WebhookVerificationError, new_secret, sign, verify
from mediaforge.webhooks.signing import decode_secret, headers

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = '{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
WRONG_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
TOLERANCE = 5 * 60


def vector_headers(signature: str = SIGNATURE, timestamp: int = TIMESTAMP) -> dict[str, str]:
    return {"webhook-id": MSG_ID, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_sign_reproduces_the_published_signature() -> None:
    """Signing the vector's id, timestamp and payload gives the specification's signature."""
    assert SIGNATURE == sign(SECRET, MSG_ID, TIMESTAMP, PAYLOAD)


def test_the_whsec_prefix_is_optional() -> None:
    """The bare base64 secret signs the same as its ``whsec_`` form."""
    assert SIGNATURE == sign(SECRET.removeprefix("whsec_"), MSG_ID, TIMESTAMP, PAYLOAD)


def test_verify_accepts_the_published_signature_and_returns_the_payload() -> None:
    """The vector verifies at its own time and yields the parsed JSON body."""
    assert {"test": 2432232314} == verify(PAYLOAD, vector_headers(), SECRET, now=TIMESTAMP)


def test_verify_accepts_bytes_and_any_header_case() -> None:
    """Raw body bytes and ``Webhook-Id``-style header names verify too."""
    mixed = {name.title(): value for name, value in vector_headers().items()}
    assert {"test": 2432232314} == verify(PAYLOAD.encode(), mixed, SECRET, now=TIMESTAMP)


def test_verify_rejects_the_published_wrong_signature() -> None:
    """The vector with its last signature character changed does not verify."""
    with pytest.raises(WebhookVerificationError):
        verify(PAYLOAD, vector_headers(WRONG_SIGNATURE), SECRET, now=TIMESTAMP)


def test_verify_finds_the_valid_signature_among_several() -> None:
    """Among other versions and wrong ``v1`` values (a rotation), one valid signature is enough."""
    signatures = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            SIGNATURE,
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        ]
    )
    assert {"test": 2432232314} == verify(PAYLOAD, vector_headers(signatures), SECRET, now=TIMESTAMP)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_requires_every_header(missing: str) -> None:
    """Without any one of the three headers, nothing verifies."""
    partial = {k: v for k, v in vector_headers().items() if k != missing}
    with pytest.raises(WebhookVerificationError):
        verify(PAYLOAD, partial, SECRET, now=TIMESTAMP)


def test_verify_rejects_a_non_numeric_timestamp() -> None:
    """``webhook-timestamp: hello`` is refused before any signature is checked."""
    with pytest.raises(WebhookVerificationError):
        verify(PAYLOAD, {**vector_headers(), "webhook-timestamp": "hello"}, SECRET, now=TIMESTAMP)


@pytest.mark.parametrize(
    ("offset", "ok"), [(-TOLERANCE - 1, False), (-TOLERANCE, True), (TOLERANCE, True), (TOLERANCE + 1, False)]
)
def test_verify_enforces_five_minutes_of_tolerance(offset: int, ok: bool) -> None:
    """A message signed more than five minutes before or after now is refused; at the edge it passes."""
    signed_at = TIMESTAMP + offset
    signed = vector_headers(sign(SECRET, MSG_ID, signed_at, PAYLOAD), signed_at)
    if ok:
        assert {"test": 2432232314} == verify(PAYLOAD, signed, SECRET, now=TIMESTAMP)
    else:
        with pytest.raises(WebhookVerificationError):
            verify(PAYLOAD, signed, SECRET, now=TIMESTAMP)


def test_a_changed_body_does_not_verify() -> None:
    """One byte of difference in the payload breaks the signature."""
    with pytest.raises(WebhookVerificationError):
        verify('{"test": 2432232315}', vector_headers(), SECRET, now=TIMESTAMP)


def test_headers_sign_with_every_secret_newest_first() -> None:
    """During a rotation both secrets sign, and a receiver holding either one verifies."""
    newer = new_secret()
    sent = headers([newer, SECRET], MSG_ID, TIMESTAMP, PAYLOAD)
    assert sent["webhook-signature"].split(" ") == [sign(newer, MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE]
    assert verify(PAYLOAD, sent, SECRET, now=TIMESTAMP) == verify(PAYLOAD, sent, [newer], now=TIMESTAMP)


def test_new_secrets_are_whsec_and_32_random_bytes() -> None:
    """A generated secret decodes to 32 bytes and signs like plain HMAC-SHA256 over the spec's content."""
    secret = new_secret()
    key = decode_secret(secret, strict=True)
    expected = base64.b64encode(
        hmac.new(key, f"{MSG_ID}.{TIMESTAMP}.{PAYLOAD}".encode(), hashlib.sha256).digest()
    )
    assert (True, 32, "v1," + expected.decode()) == (
        secret.startswith("whsec_"),
        len(key),
        sign(secret, MSG_ID, TIMESTAMP, PAYLOAD),
    )


@pytest.mark.parametrize(
    "secret", ["whsec_", "whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()]
)
def test_strict_decoding_refuses_empty_malformed_or_short_secrets(secret: str) -> None:
    """Producers hold 24 to 64 byte keys; anything else is refused when strict."""
    with pytest.raises(ValueError, match="secret"):
        decode_secret(secret, strict=True)


def test_the_receiver_example_in_the_docs_runs() -> None:
    """The ``docs/webhooks.md`` receiver accepts a fresh signed message once and refuses a forged one."""
    text = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    example = (
        text.split("## Verifying on the receiving side", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    )
    seen: set[str] = set()
    processed: list[tuple[str, Any]] = []
    namespace: dict[str, Any] = {
        "already_seen": lambda msg_id: msg_id in seen or seen.add(msg_id),
        "process": lambda type, data: processed.append((type, data)),
    }
    exec(compile(example, "docs/webhooks.md", "exec"), namespace)
    body = b'{"type":"job.completed","data":{"id":"j1"}}'
    signed = headers([SECRET], MSG_ID, int(time.time()), body)
    forged = {**signed, "webhook-signature": WRONG_SIGNATURE}
    answers = [
        namespace["receive"](body, signed),
        namespace["receive"](body, signed),
        namespace["receive"](body, forged),
    ]
    assert ([200, 200, 400], [("job.completed", {"id": "j1"})]) == (answers, processed)
