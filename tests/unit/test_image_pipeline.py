"""``image.pipeline`` reports one progress from 0 to 100 across its stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediaforge.processors.builtin.image_pipeline import _Share


class Recorder:
    job_id = "j"
    attempt = 1
    tmp_dir = Path("/tmp")

    def __init__(self) -> None:
        self.seen: list[tuple[float, str | None]] = []

    def progress(self, percent: float, message: str | None = None) -> None:
        self.seen.append((percent, message))

    def check_cancelled(self) -> None:
        pass

    def log(self, event: str, **fields: Any) -> None:
        pass


def test_stage_progress_maps_onto_its_share() -> None:
    whole = Recorder()
    optimize, tag = _Share(whole, 0, 70), _Share(whole, 70, 30)  # type: ignore[arg-type]
    for part in (optimize, tag):
        for percent in (0, 50, 100):
            part.progress(percent, "x")
    assert [p for p, _ in whole.seen] == [0, 35, 70, 70, 85, 100]
    assert (tag.job_id, tag.attempt) == ("j", 1)
