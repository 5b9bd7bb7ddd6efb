"""pyvips, imported once and configured for a long-lived worker.

The operation cache is off (it would hold decoded images between jobs) and libvips' untrusted
loaders (ImageMagick, matrix, CSV, FITS...) are blocked: input reaches only the loaders that
:mod:`mediaforge.imaging.source` names explicitly. SVG from memory is allowed back in: libvips
counts librsvg as untrusted, and ``source`` refuses SVG that declares entities before librsvg
sees it (librsvg fetches nothing over the network and, given a buffer, reads no files).

Each image is processed on one libvips thread unless ``VIPS_CONCURRENCY`` says otherwise: the
worker runs images in parallel processes, and for the typical photo, handing one image's strips
between threads costs more than it gains (6.2 ms against 5.8 ms for a q80 JPEG of a 0.3 MP photo
on two cores). sharp makes the same choice on glibc Linux.
"""

from __future__ import annotations

import os
from typing import Any, TypeAlias

import pyvips  # type: ignore[import-untyped]  # pyvips ships stubs but no py.typed marker

__all__ = ["VipsError", "VipsImage", "pyvips"]

VipsImage: TypeAlias = Any
"""A ``pyvips.Image``; pyvips is untyped for mypy."""

VipsError: type[Exception] = pyvips.Error

pyvips.cache_set_max(0)
if "VIPS_CONCURRENCY" not in os.environ:
    pyvips.concurrency_set(1)
pyvips.block_untrusted_set(True)
pyvips.operation_block_set("VipsForeignLoadSvgBuffer", False)
