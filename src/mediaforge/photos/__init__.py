"""Photo intelligence (the Ifolor actions): per-image analysis, the ``photos`` index, four actions.

See ``service`` for the entry points and ``docs/photos.md`` for the algorithms and results.
"""

from __future__ import annotations

__all__: list[str] = []
