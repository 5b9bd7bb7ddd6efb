"""The one error the image engine raises: the caller's input cannot be processed."""

from __future__ import annotations

__all__ = ["ImagingError"]


class ImagingError(Exception):
    """Bad or refused input; ``type`` is a stable code (``corrupt_image``, ``image_too_large``, ...).

    Raised only for problems with the input itself, never for faults of the engine, so a
    caller may fail the job without retrying or refunding.
    """

    def __init__(self, message: str, *, type: str) -> None:
        super().__init__(message)
        self.type = type
