"""Resize planning (pure arithmetic) and the quality search (pure control flow over an encoder)."""

from __future__ import annotations

import pytest

from mediaforge.imaging.geometry import ResizePlan, plan_resize
from mediaforge.imaging.search import choose


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param((None, None, "pad"), None, id="nothing-asked"),
        pytest.param((200, None, "pad"), ResizePlan(200, 150, 200, 150), id="width-keeps-aspect"),
        pytest.param((None, 60, "pad"), ResizePlan(80, 60, 80, 60), id="height-keeps-aspect"),
        pytest.param((160, 120, "crop"), ResizePlan(160, 120, 160, 120), id="same-aspect-no-crop"),
        pytest.param((200, 200, "pad"), ResizePlan(200, 200, 200, 150), id="pad-fits-inside"),
        pytest.param((100, 300, "pad"), ResizePlan(100, 300, 100, 75), id="pad-tall-box"),
        pytest.param((200, 200, "crop"), ResizePlan(200, 200, 200, 200, crop=True), id="crop-covers"),
        pytest.param((1, None, "pad"), ResizePlan(1, 1, 1, 1), id="never-zero"),
    ],
)
def test_plan_resize(request_: tuple[int | None, int | None, str], expected: ResizePlan | None) -> None:
    """A 400x300 picture: one side keeps the aspect; both sides pad inside or crop to cover."""
    width, height, fit = request_
    assert expected == plan_resize(400, 300, width, height, fit)  # type: ignore[arg-type]


def test_pads_only_when_the_picture_is_smaller_than_the_canvas() -> None:
    """``pads`` is true exactly when letterbox bands are needed."""
    assert (True, False) == (ResizePlan(200, 200, 200, 150).pads, ResizePlan(200, 150, 200, 150).pads)


class Encoder:
    """A stand-in codec whose size and SSIM grow with the level, recording what was asked."""

    def __init__(self, bytes_per_level: int = 100) -> None:
        self.calls: list[tuple[int, bool]] = []
        self.bytes_per_level = bytes_per_level

    def __call__(self, level: int, squeeze: bool) -> bytes:
        self.calls.append((level, squeeze))
        return bytes([level]) * (self.bytes_per_level * level - (50 if squeeze else 0))


def ssim_of(data: bytes) -> float:
    return data[0] / 125


def test_no_target_encodes_once_at_the_quality() -> None:
    """Without targets the asked quality is used, once."""
    encoder = Encoder()
    choice = choose(encoder, quality=80, max_bytes=None, min_ssim=None, measure=None)
    assert ((80, None, None), [(80, False)]) == (
        (choice.level, choice.ssim, choice.target_met),
        encoder.calls,
    )


def test_max_bytes_picks_the_highest_level_that_fits() -> None:
    """4,250 bytes at 100 bytes per level: level 42."""
    choice = choose(Encoder(), quality=80, max_bytes=4_250, min_ssim=None, measure=None)
    assert (42, 4_200, True) == (choice.level, len(choice.data), choice.target_met)


def test_unreachable_max_bytes_squeezes_level_one_and_reports_it() -> None:
    """Level 1 is 100 bytes; squeezed it is 50: a 60-byte target is met that way, a 10-byte one is not."""
    encoder = Encoder()
    met = choose(encoder, quality=80, max_bytes=60, min_ssim=None, measure=None)
    missed = choose(Encoder(), quality=80, max_bytes=10, min_ssim=None, measure=None)
    assert ((1, 50, True), (1, 50, False)) == (
        (met.level, len(met.data), met.target_met),
        (missed.level, len(missed.data), missed.target_met),
    )
    assert (1, True) in encoder.calls


def test_min_ssim_picks_the_lowest_level_that_reaches_it() -> None:
    """SSIM level/125 reaches 0.64 first at level 80."""
    choice = choose(Encoder(), quality=20, max_bytes=None, min_ssim=0.64, measure=ssim_of)
    assert (80, 0.64, True) == (choice.level, choice.ssim, choice.target_met)


def test_min_ssim_out_of_reach_returns_the_best_and_says_so() -> None:
    """SSIM level/125 never reaches 0.9: level 100, not met."""
    choice = choose(Encoder(), quality=80, max_bytes=None, min_ssim=0.9, measure=ssim_of)
    assert (100, False) == (choice.level, choice.target_met)


def test_max_bytes_wins_over_min_ssim() -> None:
    """Both targets: the SSIM choice (level 80, 8,000 bytes) does not fit 5,000, so level 50 and not met."""
    choice = choose(Encoder(), quality=80, max_bytes=5_000, min_ssim=0.64, measure=ssim_of)
    assert (50, False, 0.4) == (choice.level, choice.target_met, choice.ssim)
