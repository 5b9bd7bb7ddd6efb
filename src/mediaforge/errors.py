"""The one error root.

Every expected failure is a ``MediaforgeError`` that knows its HTTP status, a stable machine code
and a public message. One handler per face renders the envelope; nothing expected is ever a 500.

* MediaforgeError
  - BadRequest (400)            - Unauthorized (401)        - PaymentRequired (402)
  - Forbidden (403)
  - NotFound (404)              - Conflict (409)            - PayloadTooLarge (413)
  - UnsupportedMedia (415)      - ValidationFailed (422)    - RateLimited (429)
  - Unavailable (503)
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "MediaforgeError",
    "NotFound",
    "PayloadTooLarge",
    "PaymentRequired",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMedia",
    "ValidationFailed",
]


class MediaforgeError(Exception):
    """Base of every expected error; ``status`` and ``code`` are stable, ``message`` is public."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # instance override of the class default
        self.details = details
        self.headers = headers or {}


class BadRequest(MediaforgeError):
    status = 400
    code = "bad_request"


class Unauthorized(MediaforgeError):
    status = 401
    code = "unauthorized"


class PaymentRequired(MediaforgeError):
    status = 402
    code = "payment_required"


class Forbidden(MediaforgeError):
    status = 403
    code = "forbidden"


class NotFound(MediaforgeError):
    status = 404
    code = "not_found"


class Conflict(MediaforgeError):
    status = 409
    code = "conflict"


class PayloadTooLarge(MediaforgeError):
    status = 413
    code = "payload_too_large"


class UnsupportedMedia(MediaforgeError):
    status = 415
    code = "unsupported_media_type"


class ValidationFailed(MediaforgeError):
    status = 422
    code = "validation_error"


class RateLimited(MediaforgeError):
    status = 429
    code = "rate_limited"


class Unavailable(MediaforgeError):
    status = 503
    code = "unavailable"
