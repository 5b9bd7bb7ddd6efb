"""pyvips, imported once and configured for a long-lived worker.

The operation cache is off (it would hold decoded images between jobs) and libvips' untrusted
loaders (ImageMagick, matrix, CSV, FITS...) are blocked: input reaches only the loaders that
:mod:`mediaforge.imaging.source` names explicitly. SVG from memory is allowed back in: libvips
counts librsvg as untrusted, and ``source`` refuses SVG that declares entities before librsvg
sees it (librsvg fetches nothing over the network and, given a buffer, reads no files).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import pyvips  # type: ignore[import-untyped]  # pyvips ships stubs but no py.typed marker

__all__ = ["VipsError", "VipsImage", "pyvips"]

VipsImage: TypeAlias = Any
"""A ``pyvips.Image``; pyvips is untyped for mypy."""

VipsError: type[Exception] = pyvips.Error

pyvips.cache_set_max(0)
pyvips.block_untrusted_set(True)
pyvips.operation_block_set("VipsForeignLoadSvgBuffer", False)
