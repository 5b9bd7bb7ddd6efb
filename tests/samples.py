"""What tests need from the machine: a rule for missing pieces, and real sample photographs.

A test that needs an optional part (a model, a Debian tool, the sample photos) *requires* it: it fails
in CI, where ``make install`` / ``.ci/run`` put everything in place, and is skipped on a machine that
lacks it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import pytest
from PIL import Image

__all__ = ["require", "sample_photo"]


def require(what: str, present: bool) -> None:
    """Fail in CI, skip elsewhere, when ``what`` is not ``present``."""
    if not present:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is required in CI (make install / .ci/run)")
        pytest.skip(f"{what} not installed")


@functools.cache
def _sample_folder() -> Path | None:
    spec = importlib.util.find_spec("skimage")
    return Path(next(iter(spec.submodule_search_locations or []))) / "data" if spec else None


def sample_photo(name: str) -> Image.Image:
    """A photo from the scikit-image wheel's samples (``astronaut.png``, ...) as RGB, read with Pillow
    (scikit-image itself is never imported: it is installed only for these files)."""
    folder = _sample_folder()
    require("scikit-image's sample photos", folder is not None and (folder / name).is_file())
    assert folder is not None
    with Image.open(folder / name) as image:
        return image.convert("RGB")
